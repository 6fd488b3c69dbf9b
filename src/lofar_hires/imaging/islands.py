"""Islands of significant emission in a restored image, and the clean model restricted to them.

A clean model holds, besides the sources, components on noise peaks and on the artefacts that
calibration errors leave around bright sources (WSClean's auto-mask admits them once they are a few
times the global noise). Solving against such a model pulls the solutions towards the errors that
made the artefacts. Restricting the model to islands that stand out from the *local* noise, as
source finders do (a robust rms per box of pixels, islands grown down to a boundary and kept when
their peak reaches a detection threshold), leaves the sources and drops most of the rest.

Pure numpy/scipy on arrays; :func:`significant_islands` reads the image from FITS.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

#: sigma of a normal distribution per median absolute deviation
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class IslandMask:
    """Pixels of the kept islands and how many there were."""

    mask: np.ndarray  # bool, the image's shape
    n_islands: int  # islands above the boundary
    n_kept: int  # of those, the ones whose peak reaches the threshold


def robust_rms(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (NaN when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v))))


def local_rms(image: np.ndarray, box_pix: int) -> np.ndarray:
    """Robust rms of ``image`` in boxes of ``box_pix`` x ``box_pix`` pixels, interpolated to every pixel.

    NaN and exactly-zero pixels (outside the facets, blanked) are ignored. A box without usable
    pixels, or with zero spread, takes the rms of the whole image.

    Raises
    ------
    InputError
        Not a 2-D image, ``box_pix`` < 2, or no usable pixel at all.
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise InputError(f"local rms: expected a 2-D image, got shape {img.shape}")
    if box_pix < 2:
        raise InputError(f"local rms: the box must be at least 2 pixels, got {box_pix}")
    usable = np.where(np.isfinite(img) & (img != 0), img, np.nan)
    overall = robust_rms(usable)
    if not np.isfinite(overall) or overall <= 0:
        raise InputError("local rms: the image has no pixel with a usable value (all zero or not finite)")
    ny, nx = img.shape
    by, bx = -(-ny // box_pix), -(-nx // box_pix)
    padded = np.full((by * box_pix, bx * box_pix), np.nan, dtype=np.float32)
    padded[:ny, :nx] = usable
    blocks = padded.reshape(by, box_pix, bx, box_pix).transpose(0, 2, 1, 3).reshape(by, bx, -1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN boxes outside the facets
        med = np.nanmedian(blocks, axis=-1)
        rms = MAD_TO_SIGMA * np.nanmedian(np.abs(blocks - med[..., None]), axis=-1)
    rms = np.where(np.isfinite(rms) & (rms > 0), rms, overall)
    # Block centres -> pixels (bilinear; edges held).
    full = ndimage.zoom(rms, box_pix, order=1, mode="nearest", grid_mode=True)
    return np.asarray(full[:ny, :nx], dtype=np.float32)


def island_mask(image: np.ndarray, rms: np.ndarray, threshold_sigma: float, boundary_sigma: float) -> IslandMask:
    """Islands of ``image / rms > boundary_sigma`` whose peak reaches ``threshold_sigma``.

    Raises
    ------
    InputError
        Shapes differ, or ``boundary_sigma`` is not positive or above ``threshold_sigma``.
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float32)
    if img.shape != np.shape(rms):
        raise InputError(f"island mask: image {img.shape} and rms map {np.shape(rms)} differ in shape")
    if not 0 < boundary_sigma <= threshold_sigma:
        raise InputError(f"island mask: the boundary ({boundary_sigma:g} sigma) must be positive and at most the "
                         f"detection threshold ({threshold_sigma:g} sigma)")
    with np.errstate(all="ignore"):
        snr = np.where(np.isfinite(img), img / rms, 0.0)
    labels, n = ndimage.label(snr > boundary_sigma)
    if n == 0:
        return IslandMask(np.zeros(img.shape, bool), 0, 0)
    peaks = ndimage.maximum(snr, labels, index=np.arange(1, n + 1))
    keep = np.concatenate([[False], np.asarray(peaks) >= threshold_sigma])
    return IslandMask(keep[labels], int(n), int(keep.sum()))


def significant_islands(image_fits: Path, threshold_sigma: float, boundary_sigma: float,
                        box_pix: int) -> IslandMask:
    """:func:`island_mask` of a restored FITS image against its :func:`local_rms`.

    Raises
    ------
    InputError or MissingInputError
        The file is missing, unreadable or not a single plane (:func:`~lofar_hires.imaging.measure.load_image`),
        or a setting is out of range.
    """
    from lofar_hires.imaging.measure import load_image

    image_fits = Path(image_fits)
    image = load_image(image_fits).data.astype(np.float32)
    islands = island_mask(image, local_rms(image, box_pix), threshold_sigma, boundary_sigma)
    log.debug("%s: %d of %d islands reach %g sigma (boundary %g, box %d px)", image_fits.name, islands.n_kept,
              islands.n_islands, threshold_sigma, boundary_sigma, box_pix)
    return islands
