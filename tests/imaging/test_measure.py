"""Image measurements on synthetic FITS images with known sources and noise."""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.imaging.compare import compare_with_skymodel
from lofar_hires.imaging.measure import load_image, measure_source, sigma_clipped_rms
from lofar_hires.io.skymodel import SkyModel, write_makesourcedb


def _write_image(path, data, beam_arcsec=10.0, scale_arcsec=2.0, centre=(242.75, 55.0), freq=150e6):
    from astropy.io import fits

    h = fits.Header()
    n = data.shape[0]
    for k, v in {"CTYPE1": "RA---SIN", "CRPIX1": n / 2 + 1, "CRVAL1": centre[0] - 360, "CDELT1": -scale_arcsec / 3600,
                 "CTYPE2": "DEC--SIN", "CRPIX2": n / 2 + 1, "CRVAL2": centre[1], "CDELT2": scale_arcsec / 3600,
                 "CTYPE3": "FREQ", "CRPIX3": 1, "CRVAL3": freq, "CDELT3": 1e6, "CTYPE4": "STOKES", "CRPIX4": 1,
                 "CRVAL4": 1, "CDELT4": 1, "BMAJ": beam_arcsec / 3600, "BMIN": beam_arcsec / 3600, "BPA": 0.0}.items():
        h[k] = v
    fits.PrimaryHDU(data[None, None], h).writeto(path)
    return path


def _gaussian_image(n, sources, beam_pix, noise, rng):
    yy, xx = np.mgrid[:n, :n]
    img = rng.normal(0, noise, (n, n))
    sigma = beam_pix / (2 * np.sqrt(2 * np.log(2)))
    for x, y, flux in sources:
        img += flux * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return img


def test_sigma_clipped_rms_ignores_sources():
    rng = np.random.default_rng(0)
    img = _gaussian_image(256, [(100, 100, 50.0), (30, 200, 20.0)], 5.0, 1.0, rng)
    assert sigma_clipped_rms(img) == pytest.approx(1.0, rel=0.03)
    with pytest.raises(InputError):
        sigma_clipped_rms(np.full((4, 4), np.nan))


def test_measure_subpixel_position_and_fluxes(tmp_path):
    rng = np.random.default_rng(1)
    img = _gaussian_image(256, [(120.3, 140.6, 2.0)], 5.0, 1e-4, rng)
    path = _write_image(tmp_path / "img.fits", img, beam_arcsec=10.0, scale_arcsec=2.0)
    image = load_image(path)
    ra, dec = (float(v) for v in image.wcs.pixel_to_world_values(120.3, 140.6))
    m = measure_source(image, ra % 360, dec)
    assert m.offset_arcsec < 0.3  # 0.15 pixel
    assert m.peak_jy_per_beam == pytest.approx(2.0, rel=0.05)
    assert m.integrated_jy == pytest.approx(2.0, rel=0.01)
    with pytest.raises(InputError, match="outside the image"):
        measure_source(image, (ra + 5) % 360, dec)


def test_interpolated_peak_between_pixels(tmp_path):
    """A beam of 2.6 pixels with the source half a pixel off in x and y: the brightest pixel loses
    ~10 %, the interpolated peak (Gaussian through the neighbours) recovers the true peak."""
    rng = np.random.default_rng(2)
    img = _gaussian_image(128, [(60.5, 70.5, 1.0)], 2.6, 1e-5, rng)
    image = load_image(_write_image(tmp_path / "img.fits", img, beam_arcsec=5.2, scale_arcsec=2.0))
    ra, dec = (float(v) for v in image.wcs.pixel_to_world_values(60.5, 70.5))
    m = measure_source(image, ra % 360, dec)
    assert m.peak_jy_per_beam < 0.9
    assert m.peak_interpolated_jy_per_beam == pytest.approx(1.0, rel=0.005)
    negative = _write_image(tmp_path / "neg.fits", img - img[70, 59] - 1e-3, beam_arcsec=5.2, scale_arcsec=2.0)
    m = measure_source(load_image(negative), ra % 360, dec)  # a neighbour <= 0: no interpolation
    assert m.peak_interpolated_jy_per_beam == m.peak_jy_per_beam


def test_compare_with_skymodel(tmp_path):
    rng = np.random.default_rng(2)
    n = 256
    img = _gaussian_image(n, [(100, 100, 1.0), (160, 90, 0.5)], 5.0, 1e-4, rng)
    path = _write_image(tmp_path / "img.fits", img)
    image = load_image(path)
    ra, dec = image.wcs.pixel_to_world_values(np.array([100.0, 160.0, 10.0]), np.array([100.0, 90.0, 500.0]))
    model = SkyModel(["a", "b", "outside"], ["POINT"] * 3, ["a", "b", "outside"], np.radians(ra % 360),
                     np.radians(dec), np.array([1.0, 0.5, 3.0]), np.full(3, 150e6), np.zeros((3, 1)),
                     np.ones(3, bool), np.zeros(3), np.zeros(3), np.zeros(3))
    sky = write_makesourcedb(model, tmp_path / "m.skymodel")
    rows, rms = compare_with_skymodel(path, sky, min_flux_jy=0.1)
    assert [r.name for r in rows] == ["a", "b"]
    assert all(abs(r.integrated_ratio - 1) < 0.02 and r.offset_beams < 0.05 for r in rows)
    assert rms == pytest.approx(1e-4, rel=0.1)


def test_bad_images(tmp_path):
    with pytest.raises(MissingInputError):
        load_image(tmp_path / "absent.fits")
    junk = tmp_path / "junk.fits"
    junk.write_text("not fits")
    with pytest.raises(InputError, match="not a readable FITS image"):
        load_image(junk)
