"""The calibrator pipeline on the tiny field's calibrator (48 channels of 0.5 MHz from 120 MHz, nine stations,
seed 11: the settings of the tiny chain run's simulation), with the real DP3.

* A DDECal solve whose solution intervals stop at ``solve.maxiter`` is a warning that names the solve and
  the fraction of its intervals, in the library, in ``dical solve``'s log (which the chain's manifest
  collects) and in calibrator_report.json.
* The rotation measures come out with the right sign: the reference station's X-Y delay (0.253 ns) had been
  taken for its alias -3.47 ns, half a turn of X-Y phase away at the band centre, which put the rotation
  solves on the other X-Y branch: RM errors of 0.68 rad/m^2 (FR606HBA, the RM's sign flipped).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.calibration.config import load_calibrator_config
from lofar_hires.calibration.di_calibrator import predict, prepare, run_di_calibrator, solve
from lofar_hires.validation.di import di_solution_errors


@pytest.fixture(scope="module")
def tiny_calibrator(simulated):
    return simulated("tiny_chain_field", preset="tiny", overrides=[
        "seed=11", "observation.n_observations=2", "observation.freq_min_hz=1.2e+8", "observation.n_chan=48",
        "observation.chan_width_hz=5.0e+5", "sky.bright_flux_jy=[2.0,4.0]"])


@pytest.fixture(scope="module")
def predicted(tiny_calibrator, tmp_path_factory) -> Path:
    """The tiny calibrator averaged, with the model in MODEL_DATA."""
    work = tmp_path_factory.mktemp("di_convergence")
    cfg = load_calibrator_config()
    ms = prepare([tiny_calibrator.calibrators()[0].ms], work / "cal.MS", cfg, work / "logs")
    predict(ms, tiny_calibrator.calibrator_model, work / "logs", cfg.threads)
    return ms


def test_solve_stopped_at_maxiter_is_a_warning(predicted, tmp_path, caplog):
    cfg = load_calibrator_config(overrides=["solve.maxiter=3"])
    with caplog.at_level(logging.INFO, logger="lofar_hires.calibration.di_calibrator"):
        result = solve(predicted, tmp_path / "s.h5", "diagonal", [], cfg, tmp_path / "logs", "solve4")
    assert result.h5parm.is_file()
    assert result.convergence.iterations == (4,) * 30 and result.convergence.fraction_at_maxiter == 1.0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["DDECal solve solve4: 30 of 30 solution intervals (100 %) stopped at maxiter=3 without "
                      "converging (tolerance not reached; raise solve.maxiter)"]


def test_converged_solve_is_no_warning(predicted, tmp_path, caplog):
    cfg = load_calibrator_config(overrides=["solve.maxiter=1000", "solve.step_size=0.5"])
    with caplog.at_level(logging.INFO, logger="lofar_hires.calibration.di_calibrator"):
        result = solve(predicted, tmp_path / "s.h5", "diagonal", [], cfg, tmp_path / "logs", "solve3")
    assert result.convergence.n_at_maxiter == 0 and max(result.convergence.iterations) < 1000
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_dical_solve_logs_the_warning_that_the_manifest_collects(predicted, tmp_path):
    """The chain's manifest takes the lines with " WARNING " from a step's logs."""
    cli = Path(sys.executable).parent / "lofar-hires"
    proc = subprocess.run([str(cli), "dical", "solve", str(predicted), "-o",
                           str(tmp_path / "solve1_rotation_diagonal.h5"),
                           "--output-ms", str(tmp_path / "out.MS"), "--mode", "rotation+diagonal", "--set",
                           "solve.maxiter=2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if " WARNING " in ln]
    assert len(lines) == 1 and "DDECal solve solve1_rotation_diagonal: 30 of 30 solution intervals (100 %)" in lines[0]


@pytest.mark.slow
def test_tiny_calibrator_rm_has_the_right_sign_and_solves_are_reported(tiny_calibrator, tmp_path):
    """Default settings. Required: RM within 0.01 rad/m^2 rms of the truth for every station (measured
    0.0015; 0.68 before), the reference X-Y delay within 0.05 ns of the truth's 0.253 ns, and every solve
    in the report with the fraction of its intervals at maxiter."""
    cal = tiny_calibrator.calibrators()[0]
    result = run_di_calibrator([cal.ms], tiny_calibrator.calibrator_model, tmp_path / "cal",
                               load_calibrator_config(), make_plots=False)
    report = json.loads(result.report.read_text())
    truth = json.loads(cal.truth_json.read_text())
    ref = next(s for s in truth["stations"] if s["name"] == truth["reference_station"])
    assert report["polalign"]["reference_delay_ns"] == pytest.approx(ref["polalign_delay_ns"], abs=0.05)
    assert report["polalign"]["reference_delay_alias_coherence"] < report["polalign"]["reference_delay_coherence"]
    errors = di_solution_errors(result.cal_solutions, cal.truth_h5, cal.truth_json)
    assert np.nanmax(errors.errors["faraday"]) < 0.01, errors.to_dict()["errors"]["faraday"]
    assert list(report["solves"]) == ["solve1", "solve2", "solve3", "solve3b", "solve4"]
    for entry in report["solves"].values():
        assert entry["intervals"] == 30 and 0.0 <= entry["fraction_at_maxiter"] <= 1.0
    assert report["unconverged_solves"] == {name: entry["fraction_at_maxiter"]
                                            for name, entry in report["solves"].items() if entry["at_maxiter"]}
