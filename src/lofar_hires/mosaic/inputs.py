"""The facet images of a mosaic (and their primary-beam or restored-model images): read, checked against each other and
matched to the facets of the region file.

Every image is one plane of a WSClean FITS file on its own tangent grid. The images of one mosaic
must agree in pixel scale (within :data:`PIXEL_SCALE_TOLERANCE`), frequency
(:data:`FREQ_TOLERANCE`), Stokes parameter, celestial frame and brightness unit, and in restoring
beam (:data:`BEAM_TOLERANCE`; ``allow_beam_mismatch`` accepts larger differences). Each image
belongs to the facet whose polygon holds its centre pixel; an image in no facet, or two images in
one facet, are refused. A primary-beam image, or a restored-model image, must lie on the grid of its
image.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.selection.facets import FacetLayout

log = logging.getLogger(__name__)

#: Largest relative difference between the pixel scales of the images (and between an image's two axes).
PIXEL_SCALE_TOLERANCE = 0.01
#: Largest relative difference between the images' frequencies.
FREQ_TOLERANCE = 1.0e-4
#: Largest relative difference between the images' restoring-beam axes.
BEAM_TOLERANCE = 0.05
#: Largest difference of the beams' position angles (deg), checked where a beam is elongated by more than
#: :data:`BEAM_ELONGATION`.
BPA_TOLERANCE_DEG = 10.0
BEAM_ELONGATION = 1.1
#: Largest offset (pixels) between a primary-beam image's grid and its image's grid.
GRID_TOLERANCE_PIX = 0.01


@dataclass(frozen=True)
class ImageInfo:
    """What a mosaic needs to know about one facet image (or beam image), without its pixels."""

    path: Path
    shape: tuple[int, int]  # (ny, nx)
    wcs: object  # astropy celestial WCS
    pixel_scales_deg: tuple[float, float]
    freq_hz: float | None
    stokes: float | None
    beam_deg: tuple[float, float, float] | None  # BMAJ, BMIN, BPA
    bunit: str
    frame: str
    centre_deg: tuple[float, float]  # RA, Dec of the centre pixel
    extra_axes: tuple[dict[str, object], ...]  # FREQ and STOKES axes (CTYPE, CRVAL, ...), for the mosaic

    @property
    def pixel_deg(self) -> float:
        return min(self.pixel_scales_deg)


def read_image(path: Path, what: str = "image") -> tuple[ImageInfo, np.ndarray]:
    """The description and the pixels (float64, (ny, nx)) of one single-plane FITS image.

    Raises
    ------
    InputError or MissingInputError
        Not a readable FITS image, more than one plane, no finite pixel, no celestial WCS.
    """
    from astropy.io import fits
    from astropy.wcs import FITSFixedWarning
    from astropy.wcs.utils import proj_plane_pixel_scales

    from lofar_hires.imaging.measure import load_image

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory, not a FITS file")
    image = load_image(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        header = fits.getheader(path)
    wcs = image.wcs
    scales = tuple(float(s) for s in np.abs(proj_plane_pixel_scales(wcs)))  # deg (CUNIT deg, as FITS requires)
    if not all(math.isfinite(s) and s > 0 for s in scales):
        raise InputError(f"{what} {path} has no usable pixel scale (CDELT) in its coordinates")
    if abs(scales[0] - scales[1]) > PIXEL_SCALE_TOLERANCE * max(scales):
        raise InputError(f"{what} {path} has pixels of {scales[0] * 3600:.4g} x {scales[1] * 3600:.4g} arcsec; "
                         "the mosaic needs square pixels")
    ny, nx = image.data.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = wcs.all_pix2world([(nx - 1) / 2.0], [(ny - 1) / 2.0], 0)
    if not (np.isfinite(ra).all() and np.isfinite(dec).all()):
        raise InputError(f"{what} {path}: its centre pixel has no sky position in its coordinates")
    stokes = None
    axes: list[dict[str, object]] = []
    for axis in range(3, int(header.get("NAXIS", 0)) + 1):
        ctype = str(header.get(f"CTYPE{axis}", ""))
        if ctype.startswith("STOKES"):
            stokes = float(header.get(f"CRVAL{axis}", 1.0))
        if ctype.startswith(("FREQ", "STOKES")):
            axes.append({key: header[f"{key}{axis}"] for key in ("CTYPE", "CRVAL", "CDELT", "CRPIX", "CUNIT")
                         if f"{key}{axis}" in header})
    frame = f"{wcs.wcs.radesys or 'ICRS'} {wcs.wcs.equinox if np.isfinite(wcs.wcs.equinox) else ''}".strip()
    info = ImageInfo(path=path, shape=(ny, nx), wcs=wcs, pixel_scales_deg=scales, freq_hz=image.freq_hz,
                     stokes=stokes, beam_deg=image.beam_deg, bunit=str(header.get("BUNIT", "")).strip().upper(),
                     frame=frame, centre_deg=(float(ra[0]) % 360.0, float(dec[0])), extra_axes=tuple(axes))
    return info, image.data


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


def restoring_beam(infos: Sequence[ImageInfo], allow_mismatch: bool) -> tuple[float, float, float]:
    """The mosaic's restoring beam: the largest (by area) of the images' beams.

    Raises
    ------
    InputError
        An image without a beam, or the beams differ by more than
        :data:`BEAM_TOLERANCE` (axes) or :data:`BPA_TOLERANCE_DEG` (position angle of an elongated
        beam) and ``allow_mismatch`` is false.
    """
    for info in infos:
        if info.beam_deg is None:
            raise InputError(f"image {info.path} has no restoring beam (BMAJ/BMIN in its header); give restored "
                             "(WSClean -image) facet images")
    largest = max(infos, key=lambda i: i.beam_deg[0] * i.beam_deg[1])
    bmaj, bmin, bpa = largest.beam_deg
    for info in infos:
        maj, mn, pa = info.beam_deg
        dpa = abs((pa - bpa + 90.0) % 180.0 - 90.0)
        elongated = max(maj / mn, bmaj / bmin) > BEAM_ELONGATION
        if (_relative(maj, bmaj) > BEAM_TOLERANCE or _relative(mn, bmin) > BEAM_TOLERANCE
                or (elongated and dpa > BPA_TOLERANCE_DEG)):
            message = (f"images {info.path} ({maj * 3600:.3g} x {mn * 3600:.3g} arcsec, PA {pa:.0f} deg) and "
                       f"{largest.path.name} ({bmaj * 3600:.3g} x {bmin * 3600:.3g} arcsec, PA {bpa:.0f} deg) have "
                       f"restoring beams more than {BEAM_TOLERANCE:.0%} apart")
            if not allow_mismatch:
                raise InputError(message + "; image them with one restoring beam or allow the mismatch",
                                 setting="allow_beam_mismatch")
            log.warning("%s; the mosaic's header carries the largest beam", message)
    return bmaj, bmin, bpa


def check_consistent(infos: Sequence[ImageInfo]) -> None:
    """The images share pixel scale, frequency, Stokes parameter, frame and unit.

    Raises
    ------
    InputError
        Naming the first image that differs from the first one.
    """
    ref = infos[0]
    for info in infos[1:]:
        where = f"image {info.path} and {ref.path.name}"
        if _relative(info.pixel_deg, ref.pixel_deg) > PIXEL_SCALE_TOLERANCE:
            raise InputError(f"{where} have pixels of {info.pixel_deg * 3600:.4g} and {ref.pixel_deg * 3600:.4g} "
                             f"arcsec (more than {PIXEL_SCALE_TOLERANCE:.0%} apart): give the images of one "
                             "resolution")
        if (info.freq_hz is None) != (ref.freq_hz is None) or (
                info.freq_hz is not None and _relative(info.freq_hz, ref.freq_hz) > FREQ_TOLERANCE):
            raise InputError(f"{where} are at different frequencies ({info.freq_hz} and {ref.freq_hz} Hz)")
        if info.stokes != ref.stokes:
            raise InputError(f"{where} hold different Stokes parameters (STOKES {info.stokes} and {ref.stokes})")
        if info.frame != ref.frame:
            raise InputError(f"{where} use different celestial frames ({info.frame} and {ref.frame})")
        if info.bunit != ref.bunit:
            raise InputError(f"{where} have different units (BUNIT {info.bunit!r} and {ref.bunit!r})")


def check_beam_grid(beam: ImageInfo, image: ImageInfo, what: str = "beam image",
                    setting: str = "beam_images") -> None:
    """A primary-beam (or restored-model) image lies on its image's grid (same shape, same pixel positions on
    the sky); ``what`` names it in messages and ``setting`` is the setting at fault.

    Raises
    ------
    InputError
        Shapes differ or the grids are more than :data:`GRID_TOLERANCE_PIX` apart.
    """
    if beam.shape != image.shape:
        raise InputError(f"{what} {beam.path} has {beam.shape[1]} x {beam.shape[0]} pixels but its image "
                         f"{image.path.name} {image.shape[1]} x {image.shape[0]}; give the {what}s in the order "
                         "of the images, each on its image's grid", setting=setting)
    ny, nx = image.shape
    x = np.array([0.0, nx - 1.0, 0.0, nx - 1.0, (nx - 1) / 2.0])
    y = np.array([0.0, 0.0, ny - 1.0, ny - 1.0, (ny - 1) / 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = image.wcs.all_pix2world(x, y, 0)
        bx, by = beam.wcs.all_world2pix(ra, dec, 0)
    offset = float(np.nanmax(np.hypot(bx - x, by - y))) if np.isfinite(bx).any() else math.inf
    if not offset <= GRID_TOLERANCE_PIX:
        raise InputError(f"{what} {beam.path} is not on the grid of its image {image.path.name} (pixels "
                         f"{offset:.3g} apart); give the {what}s in the order of the images", setting=setting)


def match_facets(infos: Sequence[ImageInfo], layout: FacetLayout) -> list[int]:
    """The facet (index into ``layout.facets``) of every image: the one whose polygon holds the image's centre.

    Raises
    ------
    InputError
        An image whose centre lies in no facet, or two images in one facet.
    """
    ra = np.array([i.centre_deg[0] for i in infos])
    dec = np.array([i.centre_deg[1] for i in infos])
    index = layout.facet_index(ra, dec)
    owner: dict[int, ImageInfo] = {}
    for info, i in zip(infos, index):
        if i < 0:
            raise InputError(f"image {info.path} is centred at ({info.centre_deg[0]:.5f}, {info.centre_deg[1]:.5f}) "
                             f"deg, in none of the facets of the region file ({', '.join(layout.names)})")
        if int(i) in owner:
            raise InputError(f"images {owner[int(i)].path.name} and {info.path} both lie in facet "
                             f"{layout.facets[i].name}; give one image per facet")
        owner[int(i)] = info
    return [int(i) for i in index]
