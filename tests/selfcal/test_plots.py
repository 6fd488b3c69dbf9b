"""Self-calibration plots: valid PNGs, written atomically."""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.selfcal.metrics import CycleMetrics, image_metrics
from lofar_hires.selfcal.plots import _reduce, cycle_montage_png, image_preview_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_image(path, data, scale_arcsec=1.0, beam_arcsec=5.0):
    """A WSClean-like FITS image (RA/Dec SIN, FREQ and STOKES axes, restoring beam)."""
    from astropy.io import fits

    n_y, n_x = data.shape
    header = fits.Header()
    for key, value in {"CTYPE1": "RA---SIN", "CRPIX1": n_x / 2 + 1, "CRVAL1": 242.75, "CDELT1": -scale_arcsec / 3600,
                       "CTYPE2": "DEC--SIN", "CRPIX2": n_y / 2 + 1, "CRVAL2": 55.0, "CDELT2": scale_arcsec / 3600,
                       "CTYPE3": "FREQ", "CRPIX3": 1, "CRVAL3": 144e6, "CDELT3": 48e6, "CTYPE4": "STOKES",
                       "CRPIX4": 1, "CRVAL4": 1, "CDELT4": 1, "BMAJ": beam_arcsec / 3600, "BMIN": beam_arcsec / 3600,
                       "BPA": 0.0}.items():
        header[key] = value
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32)[None, None], header).writeto(path)
    return path


def cycle_image(path, noise_jy, seed, n=96):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    data = rng.normal(0, noise_jy, (n, n)) + 0.2 * np.exp(-((xx - 40) ** 2 + (yy - 50) ** 2) / 4.0)
    return write_image(path, data)


def check_png(path, size_px=None):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = imread(path)
    if size_px is not None:
        assert pixels.shape[1::-1] == size_px  # (width, height)
    assert pixels[..., :3].std() > 0.05  # not a blank canvas
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".")]
    assert not leftovers
    return pixels


def test_image_preview(tmp_path):
    fits_path = cycle_image(tmp_path / "img.fits", 1e-3, 0)
    out = image_preview_png(fits_path, tmp_path / "img.png", title="cycle 0")
    assert out == tmp_path / "img.png"
    check_png(out, (640, 540))
    again = image_preview_png(fits_path, out, rms_jy=2e-3)  # replaces the existing PNG
    check_png(again, (640, 540))


def test_image_preview_of_blank_image_fails_without_output(tmp_path):
    fits_path = write_image(tmp_path / "blank.fits", np.full((16, 16), np.nan))
    with pytest.raises(InputError):
        image_preview_png(fits_path, tmp_path / "blank.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.fits"]


def test_reduce_keeps_extreme_pixels():
    data = np.zeros((10, 10))
    data[3, 4] = 5.0
    data[8, 8] = -7.0
    small, factor = _reduce(data, 4)
    assert factor == 3 and small.shape == (3, 3)
    assert small[1, 1] == 5.0 and small[2, 2] == -7.0
    assert _reduce(data, 10)[1] == 1


@pytest.mark.parametrize("n_cycles", [3, 7], ids=["one-row", "two-rows"])
def test_cycle_montage(tmp_path, n_cycles):
    images, rows = [], []
    for i in range(n_cycles):
        path = cycle_image(tmp_path / f"cycle{i}.fits", 2e-3 / (1 + i), seed=i)
        m = image_metrics(path)
        images.append(path)
        rows.append(CycleMetrics(cycle=i, rms_jy=m.rms_jy, peak_jy=m.peak_jy, min_jy=m.min_jy,
                                 dynamic_range=m.dynamic_range, min_max_ratio=m.min_max_ratio,
                                 phase_stability_rad=None if i == 0 else 0.5 / i, amplitude_stability=None))
    out = cycle_montage_png(images, rows, tmp_path / "montage.png", best_cycle=n_cycles - 1,
                            phase_threshold_rad=0.1)
    pixels = check_png(out)
    height, width = pixels.shape[:2]
    assert width >= 900 and height > 500
    if n_cycles == 7:
        assert height > 800  # two rows of panels above the metric plots


def test_cycle_montage_refuses_mismatched_inputs(tmp_path):
    path = cycle_image(tmp_path / "c0.fits", 1e-3, 0)
    with pytest.raises(InputError, match="1 images but 0 metrics rows"):
        cycle_montage_png([path], [], tmp_path / "m.png")
    with pytest.raises(InputError, match="no images"):
        cycle_montage_png([], [], tmp_path / "m.png")
