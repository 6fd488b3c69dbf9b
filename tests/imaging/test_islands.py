"""Local rms and significant islands (lofar_hires.imaging.islands), on synthetic images with known noise."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from conftest import sin_wcs
from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.imaging.islands import island_mask, local_rms, robust_rms, significant_islands


def _noise(shape=(400, 400), sigma=1.0, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, shape).astype(np.float32)


def _blob(image: np.ndarray, y: int, x: int, peak: float, fwhm_pix: float = 3.0) -> None:
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    s = fwhm_pix / 2.3548
    image += (peak * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))).astype(image.dtype)


def test_robust_rms_of_normal_noise_ignores_a_bright_source():
    v = _noise((200, 200), 2.0).ravel()
    assert robust_rms(v) == pytest.approx(2.0, rel=0.03)
    v[:50] = 1e4  # a bright source in the sample moves a plain rms by a factor of 35, the robust one by < 1 %
    assert robust_rms(v) == pytest.approx(2.0, rel=0.03)
    assert np.isnan(robust_rms(np.array([np.nan])))


def test_local_rms_follows_the_noise_of_each_region_and_ignores_blank_pixels():
    img = _noise((400, 400), 1.0)
    img[:200, :200] *= 3.0  # a noisier quadrant
    img[300:, 300:] = 0.0  # blank (outside the facets)
    rms = local_rms(img, 50)
    assert np.median(rms[20:180, 20:180]) == pytest.approx(3.0, rel=0.06)
    assert np.median(rms[220:380, 220:290]) == pytest.approx(1.0, rel=0.06)
    # blank boxes take the rms of the whole image, not zero
    assert np.all(rms[330:, 330:] > 0.9)
    assert np.all(np.isfinite(rms))


def test_islands_are_kept_by_their_peak_and_grown_to_the_boundary():
    img = _noise()
    _blob(img, 100, 100, 20.0)  # kept: peak 20 sigma
    _blob(img, 300, 300, 7.0)  # dropped: above the 5-sigma boundary but below the 10-sigma threshold
    islands = island_mask(img, local_rms(img, 100), 10.0, 5.0)
    assert islands.mask[100, 100] and not islands.mask[300, 300]
    assert islands.n_kept == 1 and islands.n_islands >= 2
    # the kept island reaches down to the boundary: 5/20 of the peak at 1.18 x FWHM/2.35... on a 3-pixel FWHM
    ys, xs = np.nonzero(islands.mask)
    assert 0 < len(ys) < 60 and abs(ys.mean() - 100) < 1 and abs(xs.mean() - 100) < 1
    # pure noise never reaches 10 sigma: nothing else is kept
    assert not island_mask(_noise(seed=2), np.ones((400, 400)), 10.0, 5.0).mask.any()


def test_artefacts_around_a_bright_source_rise_the_local_rms_and_stay_out():
    img = _noise()
    _blob(img, 200, 200, 3000.0)
    rng = np.random.default_rng(5)
    ring = rng.normal(0.0, 8.0, (160, 160)).astype(np.float32)  # errors 8 x the noise, wider than a box
    ring[70:90, 70:90] = 0.0
    img[120:280, 120:280] += ring
    _blob(img, 320, 80, 60.0)  # a faint real source far from it
    global_only = island_mask(img, np.full(img.shape, robust_rms(img)), 10.0, 5.0)
    local = island_mask(img, local_rms(img, 50), 10.0, 5.0)
    artefacts = np.zeros(img.shape, bool)
    artefacts[120:280, 120:280] = True
    artefacts[190:210, 190:210] = False  # the source itself
    assert global_only.mask[artefacts].sum() > 1000 > 20 * local.mask[artefacts].sum()
    assert local.mask[200, 200] and local.mask[320, 80]


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_bad_settings_and_images_are_refused(tmp_path):
    img = _noise((64, 64))
    with pytest.raises(InputError, match="boundary"):
        island_mask(img, np.ones_like(img), 5.0, 6.0)
    with pytest.raises(InputError, match="boundary"):
        island_mask(img, np.ones_like(img), 5.0, 0.0)
    with pytest.raises(InputError, match="shape"):
        island_mask(img, np.ones((10, 10)), 10.0, 5.0)
    with pytest.raises(InputError, match="2-D"):
        local_rms(img[None], 16)
    with pytest.raises(InputError, match="at least 2"):
        local_rms(img, 1)
    with pytest.raises(InputError, match="no pixel"):
        local_rms(np.zeros((64, 64)), 16)
    with pytest.raises(MissingInputError, match="does not exist"):
        significant_islands(tmp_path / "missing.fits", 10.0, 5.0, 16)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((2, 16, 16), np.float32)).writeto(cube)
    with pytest.raises(InputError, match="image planes"):
        significant_islands(cube, 10.0, 5.0, 8)
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    with pytest.raises(InputError, match="not a readable FITS image"):
        significant_islands(broken, 10.0, 5.0, 8)


def test_significant_islands_reads_a_wsclean_shaped_image(tmp_path):
    img = _noise((128, 128))
    _blob(img, 40, 90, 50.0)
    w = sin_wcs((242.75, 55.0), 128, 1.5)
    path = tmp_path / "image-image.fits"
    fits.PrimaryHDU(img[None, None], w.to_header()).writeto(path)
    islands = significant_islands(path, 10.0, 5.0, 32)
    assert islands.mask.shape == (128, 128) and islands.mask[40, 90] and islands.n_kept == 1
