"""A synthetic field of facet images for the mosaic tests (made in a second, seeded).

Four Voronoi facets (``lofar-hires facets`` geometry, a 2 x 2 layout in a 0.18 deg box about
(242.75, 55.0) deg: RA > 180 deg, where RA conventions bite) and one WSClean-like FITS image per
facet: 200 x 200 pixels of 2 arcsec on the facet's own SIN grid, centred on the facet centre, so
every image reaches about 19 pixels beyond its facet and neighbouring images overlap. The
restoring beam is circular, 8 arcsec FWHM (4 pixels). Each image holds every true point source on
its grid (also those of its neighbours' facets, as real facet images do) and its own noise: white
noise convolved with the restoring beam and scaled to ``NOISE_RMS`` (independent between images).
With ``pb=True`` each image is divided by a Gaussian primary beam (FWHM ``PB_FWHM_DEG``, centred on
the image, the noise before the correction stays ``NOISE_RMS``) and the beam image is written too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.io.regions import write_ds9_polygons
from lofar_hires.selection.facets import ClipRegion, FacetLayout, make_facets

CENTRE_DEG = (242.75, 55.0)
BOX_DEG = 0.18
N_PIX = 200
PIXEL_ARCSEC = 2.0
BEAM_ARCSEC = 8.0
FREQ_HZ = 144.0e6
NOISE_RMS = 1.0e-3
PB_FWHM_DEG = 0.3
#: (l, m) offsets (deg, SIN about the field centre) of the calibrators: one per quadrant.
CALIBRATOR_LM_DEG = ((0.045, 0.045), (-0.045, 0.045), (-0.045, -0.045), (0.045, -0.045))


@dataclass(frozen=True)
class Source:
    ra_deg: float
    dec_deg: float
    flux_jy: float
    near_edge: bool


@dataclass(frozen=True)
class Field:
    layout: FacetLayout
    regions: Path
    images: list[Path]
    beams: list[Path]
    sources: list[Source]


def lm_to_radec(l_deg: float, m_deg: float, centre: tuple[float, float] = CENTRE_DEG) -> tuple[float, float]:
    """Sky position of a SIN offset about ``centre``."""
    l, m = math.radians(l_deg), math.radians(m_deg)
    ra0, dec0 = (math.radians(v) for v in centre)
    n = math.sqrt(1.0 - l * l - m * m)
    dec = math.asin(m * math.cos(dec0) + n * math.sin(dec0))
    ra = ra0 + math.atan2(l, n * math.cos(dec0) - m * math.sin(dec0))
    return math.degrees(ra) % 360.0, math.degrees(dec)


def facet_wcs(centre: tuple[float, float], n_pix: int = N_PIX, pixel_arcsec: float = PIXEL_ARCSEC):
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = list(centre)
    w.wcs.crpix = [n_pix // 2 + 1.0, n_pix // 2 + 1.0]
    w.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    return w


def write_image(path: Path, data: np.ndarray, centre: tuple[float, float], *, pixel_arcsec: float = PIXEL_ARCSEC,
                freq_hz: float = FREQ_HZ, stokes: float = 1.0, beam_arcsec: float | None = BEAM_ARCSEC,
                bunit: str = "JY/BEAM") -> Path:
    """A WSClean-like 4-axis FITS image (RA, Dec, FREQ, STOKES) of one plane."""
    from astropy.io import fits

    header = facet_wcs(centre, data.shape[0], pixel_arcsec).to_header()
    header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"], header["CUNIT3"] = (
        "FREQ", freq_hz, 1.0e6, 1.0, "Hz")
    header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"], header["CUNIT4"] = (
        "STOKES", stokes, 1.0, 1.0, "")
    if beam_arcsec is not None:
        header["BMAJ"] = header["BMIN"] = beam_arcsec / 3600.0
        header["BPA"] = 0.0
    header["BUNIT"] = bunit
    fits.PrimaryHDU(data.reshape(1, 1, *data.shape).astype(np.float32), header=header).writeto(path)
    return path


def correlated_noise(rng: np.random.Generator, n_pix: int, rms: float, beam_pix: float) -> np.ndarray:
    """White noise convolved with the restoring beam, scaled to ``rms``."""
    from scipy import ndimage

    sigma = beam_pix / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    noise = ndimage.gaussian_filter(rng.standard_normal((n_pix, n_pix)), sigma, mode="wrap")
    return noise * rms / noise.std()


def render(wcs, shape: tuple[int, int], sources: list[Source], beam_pix: float) -> np.ndarray:
    """Point sources convolved with the circular restoring beam (peak = flux, Jy/beam)."""
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    sky = np.zeros(shape)
    s2 = (beam_pix / (2.0 * math.sqrt(2.0 * math.log(2.0)))) ** 2
    for s in sources:
        px, py = (float(v[0]) for v in wcs.all_world2pix([s.ra_deg], [s.dec_deg], 0))
        if -10 < px < nx + 10 and -10 < py < ny + 10:
            sky += s.flux_jy * np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2.0 * s2))
    return sky


def field_sources() -> list[Source]:
    """Interior sources (one per facet, off-centre) and sources 1-3 pixels from the facet boundaries."""
    p = PIXEL_ARCSEC / 3600.0
    positions = [((0.06, 0.03), False), ((-0.03, 0.065), False), ((-0.055, -0.04), False), ((0.03, -0.06), False),
                 ((1.3 * p, 0.05), True), ((-2.6 * p, -0.03), True), ((0.02, 1.7 * p), True), ((-0.07, -2.2 * p), True),
                 ((0.8 * p, -0.6 * p), True)]  # the last one close to the corner shared by all four facets
    fluxes = [1.0, 0.5, 0.8, 0.3, 1.0, 0.6, 0.4, 0.7, 0.9]
    return [Source(*lm_to_radec(l, m), flux, edge) for ((l, m), edge), flux in zip(positions, fluxes)]


def field_facets(folder: Path) -> tuple[FacetLayout, Path]:
    """The four facets and their region file ``folder/facets.reg``."""
    folder.mkdir(parents=True, exist_ok=True)
    cals = [lm_to_radec(l, m) for l, m in CALIBRATOR_LM_DEG]
    layout = make_facets([f"f{i}" for i in range(len(cals))], [c[0] for c in cals], [c[1] for c in cals],
                         CENTRE_DEG, ClipRegion("box", BOX_DEG), max_edge_deg=0.02)
    regions = write_ds9_polygons(folder / "facets.reg", [f.vertices_deg.tolist() for f in layout.facets],
                                 names=layout.names, points=[(f.cal_ra_deg, f.cal_dec_deg) for f in layout.facets])
    return layout, regions


def make_field(folder: Path, *, pb: bool = False, seed: int = 1) -> Field:
    layout, regions = field_facets(folder)
    sources = field_sources()
    rng = np.random.default_rng(seed)
    beam_pix = BEAM_ARCSEC / PIXEL_ARCSEC
    images, beams = [], []
    for facet in layout.facets:
        centre = (facet.centre_ra_deg, facet.centre_dec_deg)
        wcs = facet_wcs(centre)
        noise = correlated_noise(rng, N_PIX, NOISE_RMS, beam_pix)
        if pb:  # corrected: (beam * sky + noise) / beam; the noise before the correction is NOISE_RMS
            beam = primary_beam((N_PIX, N_PIX))
            noise = noise / beam
            beams.append(write_image(folder / f"{facet.name}-beam.fits", beam, centre, beam_arcsec=None, bunit=""))
        data = render(wcs, (N_PIX, N_PIX), sources, beam_pix) + noise
        images.append(write_image(folder / f"{facet.name}-image{'-pb' if pb else ''}.fits", data, centre))
    return Field(layout, regions, images, beams, sources)


def primary_beam(shape: tuple[int, int]) -> np.ndarray:
    """A Gaussian primary beam of FWHM ``PB_FWHM_DEG`` about the image centre (small-angle, in pixels)."""
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    r_deg = np.hypot(x - nx // 2, y - ny // 2) * PIXEL_ARCSEC / 3600.0
    return np.exp(-4.0 * math.log(2.0) * (r_deg / PB_FWHM_DEG) ** 2)


def fit_source(image: np.ndarray, x0: float, y0: float, half: int = 6) -> tuple[float, float, float]:
    """Peak and position (x, y, 0-based) of a circular Gaussian fitted around pixel (x0, y0)."""
    from scipy.optimize import curve_fit

    cx, cy = int(round(x0)), int(round(y0))
    cut = image[cy - half:cy + half + 1, cx - half:cx + half + 1].astype(float)
    y, x = np.mgrid[cy - half:cy + half + 1, cx - half:cx + half + 1]

    def model(xy, amp, xc, yc, sigma):
        return amp * np.exp(-((xy[0] - xc) ** 2 + (xy[1] - yc) ** 2) / (2 * sigma**2))

    ok = np.isfinite(cut)
    (amp, xc, yc, _), _ = curve_fit(model, (x[ok], y[ok]), cut[ok], p0=(np.nanmax(cut), x0, y0, 1.7))
    return float(amp), float(xc), float(yc)
