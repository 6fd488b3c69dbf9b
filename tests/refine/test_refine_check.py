"""The check that a refinement does not make its facet worse (:mod:`lofar_hires.refine.check`).

* the verdict on synthetic numbers: within a factor 1 + max_peak_change_fraction either way it is
  accepted; the drift measured on the tiny field (the calibrator's peak raised by 34 %) is rejected,
  as is a peak that could not be measured; with max_peak_rise_fraction the upper side has its own
  limit (the medium runs: drops beyond 2 % rejected, rises up to 20 % accepted);
* the calibrator's peak is read from a synthetic image at the calibrator's position;
* the summary of a rejected refinement holds the check's numbers and exit status 4;
* slow: ``lofar-hires refine --failure-ok`` with a check that no refinement passes exits 0, writes
  no refined solutions and says why in its summary, with a WARNING.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from lofar_hires.errors import InputError, QualityError
from lofar_hires.refine.check import FluxCheck, RefinementRejected, calibrator_peak_jy, judge_flux
from lofar_hires.refine.plan import FacetCalibrator
from lofar_hires.refine.run import write_failure
from lofar_hires.selfcal.recipes import load_recipe_config

CALIBRATOR = FacetCalibrator(facet="bright02", ra_deg=242.75, dec_deg=55.0, flux_jy=2.0, sigma_c_rad=0.96,
                             delta_t_min=2.66, dt_formula="paper")


@pytest.mark.parametrize("before, after, accepted", [
    pytest.param(2.0, 2.0, True, id="unchanged"),
    pytest.param(2.0, 2.3, True, id="15-percent-up"),
    pytest.param(2.0, 1.7, True, id="15-percent-down"),
    pytest.param(2.0, 2.4, True, id="at-the-upper-limit"),
    pytest.param(2.0, 2.0 / 1.2, True, id="at-the-lower-limit"),
    pytest.param(2.045, 2.776, False, id="tiny-field-drift-34-percent"),
    pytest.param(2.0, 2.8, False, id="40-percent-up"),
    pytest.param(2.0, 1.6, False, id="25-percent-down"),
    pytest.param(2.0, None, False, id="after-not-measured"),
    pytest.param(None, 2.0, False, id="before-not-measured"),
    pytest.param(2.0, -0.1, False, id="after-negative"),
    pytest.param(0.0, 2.0, False, id="before-zero"),
    pytest.param(2.0, math.nan, False, id="after-nan"),
    pytest.param(math.inf, 2.0, False, id="before-inf"),
])
def test_the_peak_must_stay_within_the_allowed_change(before, after, accepted):
    check = judge_flux(before, after, 0.2)
    assert check.accepted is accepted, check.reason
    assert ("within" in check.reason) is accepted


def test_the_verdict_names_the_numbers():
    check = judge_flux(2.045, 2.776, 0.2)
    assert check.ratio == pytest.approx(1.3575, abs=1e-3)
    assert check.reason == ("calibrator peak 2.776 Jy/beam after / 2.045 Jy/beam before = 1.357, outside "
                            "[0.833, 1.200]")
    assert check.describe() == {"before_peak_jy": 2.045, "after_peak_jy": 2.776, "ratio": check.ratio,
                                "max_change_fraction": 0.2, "max_rise_fraction": None, "accepted": False,
                                "reason": check.reason}
    assert judge_flux(2.0, None, 0.2).ratio is None


@pytest.mark.parametrize("fraction", [-0.1, math.nan, math.inf])
def test_a_bad_allowed_change_is_refused(fraction):
    with pytest.raises(InputError, match="refine_check.max_peak_change_fraction"):
        judge_flux(2.0, 2.0, fraction)


@pytest.mark.parametrize("fraction", [-0.1, math.nan, math.inf])
def test_a_bad_allowed_rise_is_refused(fraction):
    with pytest.raises(InputError, match="refine_check.max_peak_rise_fraction"):
        judge_flux(2.0, 2.0, 0.02, fraction)


@pytest.mark.parametrize("before, after, accepted", [
    # the hard case (configs/run/medium_disturbed.yaml), seed 11: refinements lowered bright01's and bright02's
    # peaks by 2.8 and 4.3 %; seed 12: bright01's refinement raised its peak towards the truth (1.906 to 2.083 Jy)
    pytest.param(1.0, 0.972, False, id="seed-11-bright01-down-2.8-percent"),
    pytest.param(1.0, 0.957, False, id="seed-11-bright02-down-4.3-percent"),
    pytest.param(1.906, 2.083, True, id="seed-12-bright01-up-9.3-percent"),
    pytest.param(1.0, 0.995, True, id="quiet-medium-down-0.5-percent"),
    pytest.param(1.0, 1.0 / 1.02, True, id="at-the-lower-limit"),
    pytest.param(1.0, 1.2, True, id="at-the-upper-limit"),
    pytest.param(2.045, 2.776, False, id="tiny-field-drift-34-percent"),
    pytest.param(1.0, 1.25, False, id="25-percent-up"),
])
def test_the_rise_has_its_own_limit(before, after, accepted):
    check = judge_flux(before, after, 0.02, 0.2)
    assert check.accepted is accepted, check.reason
    assert check.reason.endswith("[0.980, 1.200]")
    assert check.describe()["max_rise_fraction"] == 0.2


def test_the_medium_runs_allow_a_rise_more_than_a_drop():
    from lofar_hires.chain.config import load_run_config, resolve_config_path

    overrides = load_run_config(resolve_config_path("medium")).modules["dd_refine"]["recipe_overrides"]
    check = load_recipe_config(overrides).refine_check
    assert (check.max_peak_change_fraction, check.max_peak_rise_fraction) == (0.02, 0.2)
    assert load_recipe_config().refine_check.max_peak_rise_fraction is None


def test_the_shipped_threshold_rejects_the_tiny_drift_and_can_be_overridden():
    shipped = load_recipe_config().refine_check
    assert not judge_flux(2.045, 2.776, shipped.max_peak_change_fraction).accepted
    # the final mosaic without refinement had its bright sources at 1.03 and 0.94 of the truth
    assert all(judge_flux(1.0, r, shipped.max_peak_change_fraction).accepted for r in (1.03, 0.94))
    loose = load_recipe_config(["refine_check.max_peak_change_fraction=0.5"]).refine_check
    assert judge_flux(2.045, 2.776, loose.max_peak_change_fraction).accepted


def _write_image(path, peak_jy: float, at_pix: tuple[int, int], n: int = 64, scale_arcsec: float = 1.5,
                 beam_pix: float = 4.0):
    from astropy.io import fits

    yy, xx = np.mgrid[:n, :n]
    sigma = beam_pix / (2 * np.sqrt(2 * np.log(2)))
    rng = np.random.default_rng(3)
    data = rng.normal(0, 0.01, (n, n)) + peak_jy * np.exp(-((xx - at_pix[0]) ** 2 + (yy - at_pix[1]) ** 2)
                                                          / (2 * sigma**2))
    h = fits.Header()
    for k, v in {"CTYPE1": "RA---SIN", "CRPIX1": n / 2 + 1, "CRVAL1": CALIBRATOR.ra_deg, "CDELT1": -scale_arcsec / 3600,
                 "CTYPE2": "DEC--SIN", "CRPIX2": n / 2 + 1, "CRVAL2": CALIBRATOR.dec_deg, "CDELT2": scale_arcsec / 3600,
                 "CTYPE3": "FREQ", "CRPIX3": 1, "CRVAL3": 1.5e8, "CDELT3": 1e6, "CTYPE4": "STOKES", "CRPIX4": 1,
                 "CRVAL4": 1, "CDELT4": 1, "BMAJ": beam_pix * scale_arcsec / 3600,
                 "BMIN": beam_pix * scale_arcsec / 3600, "BPA": 0.0}.items():
        h[k] = v
    fits.PrimaryHDU(data[None, None].astype(np.float32), h).writeto(path)
    return path


def test_the_peak_is_read_at_the_calibrator(tmp_path):
    centre = (32, 32)  # CRPIX n/2 + 1 is 1-based: pixel 32 (0-based) is the calibrator
    assert calibrator_peak_jy(_write_image(tmp_path / "a.fits", 2.5, centre), CALIBRATOR) == pytest.approx(2.5,
                                                                                                         abs=0.03)
    # a brighter source far from the calibrator does not count
    far = _write_image(tmp_path / "b.fits", 9.0, (5, 5))
    assert calibrator_peak_jy(far, CALIBRATOR) < 0.1


def test_an_image_that_misses_the_calibrator_gives_no_peak(tmp_path, caplog):
    elsewhere = FacetCalibrator(facet="x", ra_deg=245.0, dec_deg=50.0, flux_jy=1.0, sigma_c_rad=1.0, delta_t_min=3.0,
                                dt_formula="paper")
    with caplog.at_level(logging.WARNING):
        assert calibrator_peak_jy(_write_image(tmp_path / "a.fits", 2.5, (32, 32)), elsewhere) is None
    assert "cannot be measured" in caplog.text
    assert not judge_flux(2.0, None, 0.2).accepted


def test_a_rejected_refinement_is_recorded_with_its_numbers(tmp_path):
    check = judge_flux(2.045, 2.776, 0.2)
    exc = RefinementRejected(f"facet bright02: refinement rejected ({check.reason})", check)
    assert isinstance(exc, QualityError)
    summary = json.loads(write_failure(tmp_path / "bright02.refine.json", CALIBRATOR, exc).read_text())
    assert summary["status"] == "failed" and summary["exit_status"] == 4
    assert summary["error_type"] == "RefinementRejected"
    assert summary["check"]["accepted"] is False and summary["check"]["ratio"] == pytest.approx(1.3575, abs=1e-3)
    other = json.loads(write_failure(tmp_path / "other.refine.json", CALIBRATOR, QualityError("no model")).read_text())
    assert other["check"] is None


def test_flux_check_is_a_plain_record():
    check = FluxCheck(1.0, 1.1, 0.2, True, "ok")
    assert check.ratio == pytest.approx(1.1)
    assert FluxCheck(0.0, 1.1, 0.2, False, "no").ratio is None


@pytest.mark.slow
def test_a_rejected_refinement_leaves_no_solutions(simulated, tmp_path, capsys):
    """The whole task on the uncalibrated tiny field with a check no change passes (max_peak_change_fraction 0):
    self-calibration changes the calibrator's peak, the refinement is rejected, exit 0 with --failure-ok."""
    from lofar_hires.cli import main
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.selection.table import CalibratorRow, write_table

    sim = simulated("tiny-refine", preset="tiny")
    sky = read_makesourcedb(sim.sky_model)
    i = int(np.argmax(sky.i_jy))
    # a phasediff score of 0.5 rad: delta_t 0.7 min, both steps
    table = write_table(tmp_path / "calibrators.csv", [CalibratorRow(
        name="cal", ra_deg=float(np.degrees(sky.ra_rad[i])) % 360.0, dec_deg=float(np.degrees(sky.dec_rad[i])),
        category="main", score_rad=0.5, peak_flux_jy=float(sky.i_jy[i]))])
    out = tmp_path / "out"
    # two cycles per step at 15 arcsec without uv cut (the uncalibrated tiny field has no model at 0.1 arcsec)
    strategy = ("imaging.size_pix=256", "imaging.scale_arcsec=15.0", "imaging.niter=200",
                "stopping.stability_stations=remote")
    args = ["refine", str(sim.targets()[0].ms), "--calibrators", str(table), "--facet", "cal", "-o", str(out),
            *(x for key in ("refine_dutch", "refine_final") for item in ("min_cycles=2", "max_cycles=2",
                                                                         "gain.start_cycle=0")
              for x in ("--set-recipe", f"{key}.{item}")),
            "--set-recipe", "refine_final.classifier_model=none", "--set-recipe", "refine_final.minuv_lambda=0",
            "--set-recipe", "refine_check.max_peak_change_fraction=0",
            *(x for item in strategy for x in ("--set-dutch", item)), "--set-dutch", "imaging.taper_gaussian_arcsec=0",
            *(x for item in strategy for x in ("--set-final", item)),
            "--image-size-pix", "64", "--image-scale-arcsec", "15", "--image-niter", "100", "--image-taper-arcsec",
            "0", "--failure-ok"]
    assert main(args) == 0
    err = capsys.readouterr().err
    summary = json.loads((out / "cal.refine.json").read_text())
    assert summary["status"] == "failed" and summary["error_type"] == "RefinementRejected", summary
    check = summary["check"]
    assert check["accepted"] is False and check["before_peak_jy"] > 0 and check["ratio"] != 1.0, check
    assert not list(out.glob("*.refined.h5")), "a rejected refinement leaves no refined solutions"
    assert (out / "check" / "cal.check-before-dirty.fits").is_file()
    assert (out / "check" / "cal.check-after-dirty.fits").is_file()
    rejected = [line for line in err.splitlines() if "refinement rejected" in line]
    assert rejected and all(" WARNING " in line for line in rejected), rejected
    assert not [line for line in err.splitlines() if " ERROR " in line]
