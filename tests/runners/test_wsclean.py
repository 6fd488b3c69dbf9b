"""WSClean commands from typed options, and real WSClean runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.errors import InputError, ToolError
from lofar_hires.runners.wsclean import WSCleanOptions, build_wsclean_command, run_wsclean


def test_command_from_options():
    opts = WSCleanOptions(name=Path("img/x"), size_pix=(512, 256), scale_arcsec=1.5, niter=100,
                          weighting="briggs", robust=-1.5, minuv_lambda=80.0, auto_mask_sigma=5.0,
                          multiscale=True, shift_radec_deg=(242.75, -5.5), threads=2, super_weight=2.5)
    args = build_wsclean_command(opts, [Path("a.MS"), Path("b.MS")])
    assert args[:2] == ["-name", "img/x"]
    for group in (["-size", "512", "256"], ["-scale", "1.5asec"], ["-weight", "briggs", "-1.5"],
                  ["-minuv-l", "80.0"], ["-auto-mask", "5.0"], ["-j", "2"], ["-super-weight", "2.5"],
                  ["-shift", "16h11m00.0000s", "-05d30m00.0000s"]):
        i = args.index(group[0])
        assert args[i:i + len(group)] == group
    assert "-multiscale" in args and args[-2:] == ["a.MS", "b.MS"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"baseline_averaging": 10.0}, "needs no_update_model_required"),
        ({"size_pix": (8, 8)}, "image size"),
        ({"scale_arcsec": 0.0}, "pixel scale must be positive"),
        ({"apply_facet_solutions": (Path("s.h5"), ["phase000"])}, "needs facet_regions"),
        ({"super_weight": 0.0}, "super_weight must be positive"),
        ({"super_weight": float("nan")}, "super_weight must be positive"),
    ],
)
def test_invalid_options_refused(kwargs, message):
    base = {"name": Path("x"), "size_pix": (64, 64), "scale_arcsec": 1.0}
    with pytest.raises(InputError, match=message):
        build_wsclean_command(WSCleanOptions(**{**base, **kwargs}), [Path("a.MS")])


def test_wsclean_run_returns_products(simulated, tmp_path):
    ms = simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms
    opts = WSCleanOptions(name=tmp_path / "t", size_pix=(128, 128), scale_arcsec=20.0, niter=10,
                          temp_dir=tmp_path)
    result = run_wsclean(opts, [ms], tmp_path / "t.log")
    kinds = sorted(p.name for p in result.fits)
    assert kinds == ["t-dirty.fits", "t-image.fits", "t-model.fits", "t-psf.fits", "t-residual.fits"]
    assert result.get("image") == tmp_path / "t-image.fits"
    assert result.run.tool == "wsclean" and result.run.exit_status == 0


def test_wsclean_failure_is_reported(tmp_path):
    fake = tmp_path / "not_an.MS"
    fake.mkdir()
    opts = WSCleanOptions(name=tmp_path / "t", size_pix=(64, 64), scale_arcsec=10.0)
    with pytest.raises(ToolError, match="wsclean failed"):
        run_wsclean(opts, [fake], tmp_path / "t.log")


def test_images_that_are_not_finite_fail_their_quality_check(tmp_path):
    """A NaN pixel in an image is a quality failure (exit status 4); NaN outside the beam of a
    primary-beam-corrected image is accepted, an image without any finite pixel never."""
    import numpy as np
    from astropy.io import fits

    from lofar_hires.errors import EXIT_QUALITY, QualityError, exit_status
    from lofar_hires.runners.wsclean import check_fits_image

    data = np.ones((1, 1, 64, 64), dtype=np.float32)
    good = tmp_path / "good-image.fits"
    fits.writeto(good, data)
    check_fits_image(good, rows_per_block=7)
    data[0, 0, 10, 20] = np.nan
    partial = tmp_path / "partial-image.fits"
    fits.writeto(partial, data)
    with pytest.raises(QualityError, match="1 of 4096 pixels NaN or infinite") as info:
        check_fits_image(partial, rows_per_block=7)
    assert exit_status(info.value) == EXIT_QUALITY
    check_fits_image(partial, partial_nan_ok=True)
    nan = tmp_path / "nan-image.fits"
    fits.writeto(nan, np.full((1, 1, 16, 16), np.nan, dtype=np.float32))
    with pytest.raises(QualityError, match="no finite pixel"):
        check_fits_image(nan, partial_nan_ok=True)
    garbage = tmp_path / "garbage-image.fits"
    garbage.write_bytes(b"not a FITS file at all")
    with pytest.raises(ToolError, match="cannot be read"):
        check_fits_image(garbage)
