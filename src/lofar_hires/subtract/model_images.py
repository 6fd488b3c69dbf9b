"""WSClean per-channel model images as a sky model: one point component per model pixel.

A WSClean model image holds the clean components of one output channel, in Jy per
pixel, at the channel's central frequency. Every pixel that is non-zero in any channel
becomes a POINT component at the pixel's centre. Its spectrum is the polynomial through
the channels' values in ``nu / nu_0 - 1`` (DP3's and WSClean's ordinary polynomial,
``LogarithmicSI=false``), of degree ``min(n_channels - 1, MAX_DEGREE)``, fitted by least
squares with ``nu_0`` the mean channel frequency: with two channels it is the straight
line through both values. The images must share one geometry and must cover the
measurement set's band (channels of another frequency grid are refused rather than
extrapolated) and every facet.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.skymodel import SkyModel
from lofar_hires.selection.facets import Facet

log = logging.getLogger(__name__)

#: Highest polynomial degree of a component's spectrum.
MAX_DEGREE = 3


@dataclass(frozen=True)
class ModelPlane:
    """One channel's model image: its path, frequency and bandwidth (Hz)."""

    path: Path
    freq_hz: float
    width_hz: float


def _plane(path: Path):
    """The image plane, celestial WCS, frequency and bandwidth of one model FITS file."""
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"model image {path} does not exist")
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            data = hdul[0].data
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a readable FITS image: {str(exc).splitlines()[0]}") from None
    if data is None or data.ndim < 2:
        raise InputError(f"model image {path} holds no image")
    if int(np.prod(data.shape[:-2])) != 1:
        raise InputError(f"model image {path} holds {int(np.prod(data.shape[:-2]))} planes; give one file per "
                         "channel (WSClean -channels-out writes <name>-<channel>-model.fits)")
    freq = width = None
    for axis in range(1, header.get("NAXIS", 0) + 1):
        if str(header.get(f"CTYPE{axis}", "")).startswith("FREQ"):
            freq, width = float(header[f"CRVAL{axis}"]), abs(float(header.get(f"CDELT{axis}", 0.0)))
    if freq is None or not (freq > 0 and math.isfinite(freq)):
        raise InputError(f"model image {path} has no frequency axis (FREQ); cannot tell which channel it models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header).celestial
    if wcs.naxis != 2:
        raise InputError(f"model image {path} has no celestial coordinates")
    plane = np.asarray(data, dtype=np.float64).reshape(data.shape[-2:])
    if not np.isfinite(plane).all():
        raise InputError(f"model image {path} has non-finite pixels; a model holds finite fluxes only")
    return plane, wcs, ModelPlane(path, freq, width)


def check_band(planes: Sequence[ModelPlane], ms_freqs_hz: np.ndarray, ms_chan_width_hz: float) -> None:
    """The images' channels must cover the measurement set's band (within half a channel at each end)."""
    lo = min(p.freq_hz - p.width_hz / 2 for p in planes)
    hi = max(p.freq_hz + p.width_hz / 2 for p in planes)
    ms_lo = float(np.min(ms_freqs_hz) - ms_chan_width_hz / 2)
    ms_hi = float(np.max(ms_freqs_hz) + ms_chan_width_hz / 2)
    slack = max(ms_chan_width_hz / 2, 1.0)
    if ms_lo < lo - slack or ms_hi > hi + slack:
        raise InputError(f"the model images cover {lo / 1e6:.4f}-{hi / 1e6:.4f} MHz, the measurement set "
                         f"{ms_lo / 1e6:.4f}-{ms_hi / 1e6:.4f} MHz: model images of another frequency grid "
                         "(image the same band with -channels-out)", setting="model_images")


def check_coverage(wcs, shape: tuple[int, int], facets: Sequence[Facet]) -> None:
    """Every facet's polygon must lie inside the model images."""
    ny, nx = shape
    outside = []
    for f in facets:
        x, y = wcs.world_to_pixel_values(f.vertices_deg[:, 0], f.vertices_deg[:, 1])
        x, y = np.asarray(x), np.asarray(y)
        if not (np.all(np.isfinite(x)) and np.all((x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5))):
            outside.append(f.name)
    if outside:
        raise InputError(f"the model images ({nx} x {ny} pixels) do not cover facet(s) {', '.join(outside)}; "
                         "image the whole facet layout", setting="model_images")


def model_from_images(paths: Sequence[Path], ms_freqs_hz: np.ndarray, ms_chan_width_hz: float,
                      facets: Sequence[Facet]) -> SkyModel:
    """The components of WSClean per-channel model images (see the module's description)."""
    if not paths:
        raise InputError("no model image given", setting="model_images")
    planes, values, geometry = [], [], None
    for path in paths:
        data, wcs, plane = _plane(path)
        key = (data.shape, tuple(np.round(wcs.wcs.crval, 9)), tuple(np.round(wcs.wcs.cdelt, 12)),
               tuple(np.round(wcs.wcs.crpix, 6)), tuple(wcs.wcs.ctype))
        if geometry is None:
            geometry, first_wcs = key, wcs
        elif key != geometry:
            raise InputError(f"model image {path} has another size or sky grid than {paths[0]}; give the channel "
                             "images of one WSClean run", setting="model_images")
        planes.append(plane)
        values.append(data)
    order = np.argsort([p.freq_hz for p in planes])
    planes = [planes[i] for i in order]
    freqs = np.array([p.freq_hz for p in planes])
    if len(np.unique(freqs)) != len(freqs):
        raise InputError("two model images have the same frequency; give each channel once", setting="model_images")
    check_band(planes, ms_freqs_hz, ms_chan_width_hz)
    check_coverage(first_wcs, values[0].shape, facets)
    cube = np.stack([values[i] for i in order])  # (n_chan, ny, nx)
    ys, xs = np.nonzero(np.any(cube != 0.0, axis=0))
    if xs.size == 0:
        raise InputError("the model images hold no component (all pixels are zero)", setting="model_images")
    fluxes = cube[:, ys, xs].T  # (n_comp, n_chan)
    ref = float(np.mean(freqs))
    degree = min(len(freqs) - 1, MAX_DEGREE)
    x = freqs / ref - 1.0
    design = np.vander(x, degree + 1, increasing=True)  # (n_chan, degree + 1)
    coeff = np.linalg.lstsq(design, fluxes.T, rcond=None)[0].T  # (n_comp, degree + 1)
    ra, dec = first_wcs.wcs_pix2world(xs.astype(float), ys.astype(float), 0)
    n = xs.size
    names = [f"px{int(xx)}_{int(yy)}" for xx, yy in zip(xs, ys)]
    log.info("model images: %d channel(s) %.4f-%.4f MHz, %d component(s) (%.3g Jy at %.4f MHz), spectra of degree %d",
             len(freqs), freqs.min() / 1e6, freqs.max() / 1e6, n, float(coeff[:, 0].sum()), ref / 1e6, degree)
    return SkyModel(names=names, types=["POINT"] * n, patches=names, ra_rad=np.radians(np.mod(ra, 360.0)),
                    dec_rad=np.radians(dec), i_jy=coeff[:, 0], ref_freq_hz=np.full(n, ref),
                    spectral_index=coeff[:, 1:], log_si=np.zeros(n, bool), major_arcsec=np.zeros(n),
                    minor_arcsec=np.zeros(n), orientation_deg=np.zeros(n))
