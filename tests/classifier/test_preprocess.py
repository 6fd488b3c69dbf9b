"""The classifier's input (lofar_hires.classifier.preprocess): shapes, stretch, resampling, symmetries, refusals."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from astropy.io import fits

from conftest import sin_wcs
from lofar_hires.classifier.config import PreprocessSpec
from lofar_hires.classifier.preprocess import (
    N_SYMMETRIES,
    central_square,
    prepare_array,
    prepare_fits,
    resample,
    symlog_stretch,
    symmetry,
)
from lofar_hires.errors import InputError

SPEC = PreprocessSpec()


def _field(n: int = 512, rms: float = 1e-3, seed: int = 1) -> np.ndarray:
    img = np.random.default_rng(seed).normal(0.0, rms, (n, n))
    img[n // 2, n // 2 + 20] += 300 * rms  # an off-centre source: the image has no symmetry
    img[n // 3, n // 4] -= 20 * rms  # and a negative artefact
    return img


def _unit(x: np.ndarray) -> np.ndarray:
    """Undo the channel normalisation: the stretched image in [0, 1]."""
    return x * np.asarray(SPEC.channel_std)[:, None, None] + np.asarray(SPEC.channel_mean)[:, None, None]


def test_shipped_settings_fit_a_patch14_backbone():
    SPEC.validate()
    assert SPEC.input_size_pix % SPEC.patch_size_pix == 0 and SPEC.patch_size_pix == 14
    with pytest.raises(InputError, match="multiple of"):
        dataclasses.replace(SPEC, input_size_pix=200).validate()
    with pytest.raises(InputError, match="channel_std"):
        dataclasses.replace(SPEC, channel_std=(0.2, 0.0, 0.2)).validate()


def test_input_is_three_identical_channels_of_the_backbones_size():
    x = prepare_array(_field(), SPEC)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    u = _unit(x)
    np.testing.assert_allclose(u[0], u[1], atol=1e-6)
    np.testing.assert_allclose(u[0], u[2], atol=1e-6)
    assert 0.0 <= u.min() and u.max() <= 1.0


def test_the_stretch_sees_brightness_relative_to_the_noise():
    img = _field()
    np.testing.assert_allclose(prepare_array(img, SPEC), prepare_array(1e4 * img, SPEC), atol=1e-5)
    # same sky, noise ten times lower: the source stands out more
    quiet = _field(rms=1e-4)
    quiet[256, 276] = img[256, 276]
    assert _unit(prepare_array(quiet, SPEC))[0].max() > _unit(prepare_array(img, SPEC))[0].max()


def test_symlog_stretch_values():
    s, d, rms = 1.0, 1e5, 2e-3
    x = np.array([0.0, s * rms, -s * rms, 1e3 * rms, d * rms, 10 * d * rms])
    y = symlog_stretch(x, rms, s, d)
    top = math.log1p(d / s)
    np.testing.assert_allclose(y, [0.0, math.log(2) / top, -math.log(2) / top, math.log1p(1e3) / top, 1.0, 1.0],
                               rtol=1e-6)
    grid = np.linspace(-d * rms, d * rms, 1001)
    out = symlog_stretch(grid, rms, s, d)
    assert np.all(np.diff(out) >= 0) and np.allclose(out, -out[::-1], atol=1e-6)
    with pytest.raises(InputError, match="rms must be positive"):
        symlog_stretch(x, 0.0, s, d)


def test_resampling_keeps_the_mean_brightness_and_the_centre():
    img = np.zeros((1000, 1000))
    img[400:600, 400:600] = 1.0
    out = resample(central_square(img), 224)
    assert out.shape == (224, 224)
    assert out.mean() == pytest.approx(img.mean(), rel=0.03)
    assert out[112, 112] == pytest.approx(1.0) and out[5, 5] == 0.0
    small = resample(np.ones((100, 100)), 224)  # growing: interpolation, values kept
    assert small.shape == (224, 224) and np.allclose(small, 1.0)
    assert central_square(np.zeros((300, 500))).shape == (300, 300)


def test_blank_pixels_are_empty_sky_and_stay_out_of_the_rms():
    img = _field()
    blanked = img.copy()
    blanked[:, :100] = np.nan
    u = _unit(prepare_array(blanked, SPEC))[0]
    assert np.all(np.isfinite(u))
    assert abs(np.median(u[:, :30]) - 0.5) < 1e-6  # zero brightness is the middle of the scale
    np.testing.assert_allclose(u[:, 60:], _unit(prepare_array(img, SPEC))[0][:, 60:], atol=0.02)


@pytest.mark.parametrize("image, message", [
    (np.zeros((2, 64, 64)), "2-D"),
    (np.full((64, 64), np.nan), "no finite pixel"),
    (np.random.default_rng(0).normal(size=(10, 40)), "smaller than one 14-pixel patch"),
    (np.ones((64, 64)), "constant"),
])
def test_unusable_images_are_refused(image, message):
    with pytest.raises(InputError, match=message):
        prepare_array(image, SPEC)


def test_the_eight_symmetries_are_distinct_and_lose_nothing():
    x = prepare_array(_field(), SPEC)
    views = [symmetry(x, k) for k in range(N_SYMMETRIES)]
    np.testing.assert_array_equal(views[0], x)
    flat = {v.tobytes() for v in views}
    assert len(flat) == N_SYMMETRIES
    for v in views:
        assert v.shape == x.shape and v.flags.c_contiguous
        np.testing.assert_array_equal(np.sort(v, axis=None), np.sort(x, axis=None))
    # four quarter turns are the identity; a mirror twice too
    np.testing.assert_array_equal(symmetry(symmetry(symmetry(symmetry(x, 1), 1), 1), 1), x)
    np.testing.assert_array_equal(symmetry(symmetry(x, 4), 4), x)
    with pytest.raises(InputError, match="0..7"):
        symmetry(x, 8)
    with pytest.raises(InputError, match="square"):
        symmetry(np.zeros((3, 4, 5)), 1)


def test_a_wsclean_fits_image_gives_the_same_input_as_its_plane(tmp_path):
    w = sin_wcs((242.75, 55.0), 256, 0.1)
    img = _field(256)
    path = tmp_path / "image-image.fits"
    fits.PrimaryHDU(img[None, None].astype(np.float32), w.to_header()).writeto(path)
    np.testing.assert_allclose(prepare_fits(path, SPEC), prepare_array(img.astype(np.float32), SPEC), atol=1e-6)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((2, 1, 32, 32), np.float32), w.to_header()).writeto(cube)
    with pytest.raises(InputError, match="image planes"):
        prepare_fits(cube, SPEC)
