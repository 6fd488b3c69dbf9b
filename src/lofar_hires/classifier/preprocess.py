"""A self-calibration image as the classifier's input: one function for training and inference.

FITS plane -> central square -> resampled to the backbone's input size -> symmetric-log stretch
relative to the image rms -> three identical channels, normalised per channel. The eight
symmetries of the square (rotations by 90 degrees and mirroring) are the training augmentation;
a sky image has no preferred orientation, so they add examples without adding false ones.

Pure numpy/scipy; no deep-learning framework is needed to prepare inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lofar_hires.classifier.config import PreprocessSpec
from lofar_hires.errors import InputError
from lofar_hires.imaging.islands import robust_rms

#: The symmetries of the square: rotations by k x 90 degrees, then mirrored for k >= 4.
N_SYMMETRIES = 8


def central_square(image: np.ndarray) -> np.ndarray:
    """The largest square centred on the image (self-calibration images usually are square already)."""
    ny, nx = image.shape
    n = min(ny, nx)
    y0, x0 = (ny - n) // 2, (nx - n) // 2
    return image[y0:y0 + n, x0:x0 + n]


def resample(square: np.ndarray, size_pix: int) -> np.ndarray:
    """A square image resampled to ``size_pix`` x ``size_pix``.

    Shrinking by two or more first averages blocks of whole pixels (no aliasing of noise
    and of compact sources), then interpolates bilinearly to the exact size; growing
    interpolates bilinearly.
    """
    from scipy import ndimage

    n = square.shape[0]
    factor = n // size_pix
    if factor >= 2:
        m = (n // factor) * factor
        start = (n - m) // 2
        block = square[start:start + m, start:start + m]
        square = block.reshape(m // factor, factor, m // factor, factor).mean(axis=(1, 3))
        n = square.shape[0]
    if n == size_pix:
        return square.astype(np.float32)
    zoom = size_pix / n
    out = ndimage.zoom(square.astype(np.float64), zoom, order=1, mode="nearest", grid_mode=True)
    return out[:size_pix, :size_pix].astype(np.float32)


def symlog_stretch(image: np.ndarray, rms: float, stretch_sigma: float, reference_dynamic_range: float) -> np.ndarray:
    """``sign(x) log(1 + |x| / (s rms)) / log(1 + D / s)``, clipped to [-1, 1].

    Linear (slope ``1 / (s rms log(1 + D / s))``) below ``s`` times the rms, logarithmic above;
    a pixel at ``D`` times the rms maps to 1. The same image at another flux scale and with the
    same signal-to-noise gives the same result: the stretch sees brightness relative to the noise.
    """
    if not np.isfinite(rms) or rms <= 0:
        raise InputError(f"symmetric-log stretch: the image rms must be positive and finite, got {rms}")
    scale = stretch_sigma * rms
    top = np.log1p(reference_dynamic_range / stretch_sigma)
    out = np.sign(image) * np.log1p(np.abs(image) / scale) / top
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def crop_pixels(n_pix: int, pixel_arcsec: float, crop_arcsec: float) -> int:
    """Side in pixels of the central ``crop_arcsec`` square (``n_pix``, the whole image, when 0 or larger)."""
    if crop_arcsec <= 0:
        return n_pix
    if not pixel_arcsec > 0:
        raise InputError(f"cropping to {crop_arcsec:g} arcsec needs a positive pixel size, got {pixel_arcsec}")
    return int(min(n_pix, max(1, round(crop_arcsec / pixel_arcsec))))


def prepare_array(image: np.ndarray, spec: PreprocessSpec, what: str = "image", crop_pix: int | None = None
                  ) -> np.ndarray:
    """The network input ``(3, N, N)`` (float32) of a 2-D image; see the module docstring.

    NaN and inf pixels (blanked outside a facet or a primary beam) are left out of the rms and
    become zero, the stretched value of an empty sky.

    Raises
    ------
    InputError
        Not 2-D, no finite pixel, smaller than one patch, or no noise to measure (constant image).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise InputError(f"{what}: expected a 2-D image, got shape {img.shape}")
    finite = np.isfinite(img)
    if not finite.any():
        raise InputError(f"{what}: no finite pixel (all NaN or inf)")
    if min(img.shape) < spec.patch_size_pix:
        raise InputError(f"{what}: {img.shape[1]} x {img.shape[0]} pixels is smaller than one "
                         f"{spec.patch_size_pix}-pixel patch of the backbone")
    rms = robust_rms(img[finite])
    if not rms > 0:
        rms = float(np.std(img[finite]))
    if not rms > 0:
        raise InputError(f"{what}: the image is constant; there is no noise to scale the stretch to")
    square = central_square(np.where(finite, img, 0.0))
    if crop_pix is not None and crop_pix < square.shape[0]:
        if crop_pix < spec.patch_size_pix:
            raise InputError(f"{what}: the central {crop_pix} pixels (preprocess.crop_arcsec) are smaller than one "
                             f"{spec.patch_size_pix}-pixel patch")
        start = (square.shape[0] - crop_pix) // 2
        square = square[start:start + crop_pix, start:start + crop_pix]
    stretched = symlog_stretch(resample(square, spec.input_size_pix), rms, spec.stretch_sigma,
                               spec.reference_dynamic_range)
    unit = 0.5 * (stretched + 1.0)  # [-1, 1] -> [0, 1], the range the channel statistics refer to
    mean = np.asarray(spec.channel_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.channel_std, dtype=np.float32)[:, None, None]
    return ((unit[None] - mean) / std).astype(np.float32)


def prepare_fits(path: Path, spec: PreprocessSpec) -> np.ndarray:
    """:func:`prepare_array` of the first image plane of a FITS file, cropped to the central
    ``spec.crop_arcsec`` when that is set (the image's pixel size from its header).

    Raises
    ------
    InputError
        Unreadable, several planes, or any refusal of :func:`prepare_array`.
    """
    from lofar_hires.imaging.measure import load_image

    image = load_image(Path(path))
    data = image.data
    crop = None
    if spec.crop_arcsec > 0 and data.ndim == 2:
        crop = crop_pixels(min(data.shape), 3600.0 * image.pixel_deg, spec.crop_arcsec)
    return prepare_array(data, spec, what=str(path), crop_pix=crop)


def symmetry(images: np.ndarray, k: int) -> np.ndarray:
    """Symmetry ``k`` (0..7) of the square applied to the last two axes: ``k % 4`` quarter turns, mirrored
    left-right when ``k >= 4``. ``k = 0`` is the identity.

    Raises
    ------
    InputError
        ``k`` outside 0..7, or the last two axes are not square.
    """
    if not 0 <= k < N_SYMMETRIES:
        raise InputError(f"symmetry index must be 0..{N_SYMMETRIES - 1}, got {k}")
    if images.shape[-1] != images.shape[-2]:
        raise InputError(f"symmetries need square images, got {images.shape[-2]} x {images.shape[-1]}")
    out = np.rot90(images, k % 4, axes=(-2, -1))
    if k >= 4:
        out = np.flip(out, axis=-1)
    return np.ascontiguousarray(out)
