"""The direction-independent calibrator and target pipelines against the simulator's truth.

One simulated date (preset ``dical``: 14 stations, 24 channels over 120-168 MHz,
ten minutes of 3C295 and of the target, every instrumental and DI ionospheric
effect, thermal noise) is calibrated with the real DP3: the calibrator once per session
(``dical_calibration`` in tests/conftest.py: ``lofar-hires di-calibrator``), since the target's
sky model leaves the calibrator observation as it is. Every separated effect is compared with the
injected one, referenced to CS002HBA0.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import replace

import numpy as np
import pytest

from conftest import image, on_grid_skymodel, table_differences
from lofar_hires.calibration.config import load_calibrator_config, load_target_config
from lofar_hires.calibration.di_calibrator import (
    check_calibrator_inputs,
    predict,
    prepare,
    run_di_calibrator,
)
from lofar_hires.calibration.di_target import run_di_target
from lofar_hires.errors import InputError, LofarHiresWarning, OutputExistsError
from lofar_hires.imaging.compare import compare_with_skymodel
from lofar_hires.io.calibrator_models import calibrator_model_path
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.io.skymodel import read_makesourcedb, write_makesourcedb
from lofar_hires.physics import TEC_PHASE_CONSTANT

REF = "CS002HBA0"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def field(simulated, tmp_path_factory):
    """The dical simulation with two bright sources on pixel centres of the test image."""
    tmp = tmp_path_factory.mktemp("di_sky")
    sky = on_grid_skymodel(tmp / "grid.skymodel", (242.75, 55.0), 1024, 4.0, [(662, 552), (392, 412)], [1.0, 0.8])
    return simulated("dical_grid", preset="dical", overrides=[f"sky.skymodel={sky}"])


@pytest.fixture(scope="module")
def calibrated(field, dical_calibration):
    """The calibrator pipeline with its default settings on field's calibrator observation: the
    session's run on the ``dical`` preset, whose calibrator data are the same (checked here, to
    float32 rounding: field is simulated in this process after other simulations)."""
    assert table_differences(field.calibrators()[0].ms, dical_calibration.ms, rtol=1e-6) == []
    assert dical_calibration.skymodel.read_text() == field.calibrator_model.read_text()
    return dical_calibration.result


def _rel(values: np.ndarray, names: list[str]) -> np.ndarray:
    i = names.index(REF)
    return values - values[:, i:i + 1]


def test_calibrator_recovers_each_effect(field, calibrated):
    """clock <= 0.2 ns rms (core <= 0.02 ns); delay <= 0.4 ns; RM <= 0.01 rad/m^2 rms;
    bandpass <= 1.5 % (median over channels); TEC <= 0.003 TECU rms."""
    truth = read_h5parm(field.calibrators()[0].truth_h5).soltabs
    truth_json = json.loads(field.calibrators()[0].truth_json.read_text())
    cal = read_h5parm(calibrated.cal_solutions)
    names = cal.antenna_names
    report = json.loads(calibrated.report.read_text())
    errors = {}

    clock = cal.soltabs["clock"].canonical().val
    clock_true = _rel(truth["clock"].canonical().val, names)
    errors["clock_ns"] = np.sqrt(np.mean((clock - clock_true) ** 2, axis=0)) * 1e9
    core = [i for i, n in enumerate(names) if n.startswith("CS")]
    assert np.all(np.abs(clock[:, core]) < 0.02e-9)  # core stations share the reference's clock
    assert np.all(errors["clock_ns"] < 0.2), errors["clock_ns"]

    delay = np.array([report["polalign_refined"]["delay_ns"][n] for n in names])
    delay_true = np.array([s["polalign_delay_ns_vs_reference"] for s in truth_json["stations"]])
    errors["delay_ns"] = np.abs(delay - delay_true)
    assert np.all(errors["delay_ns"] < 0.4), errors["delay_ns"]

    rm = cal.soltabs["faraday"].canonical().val
    rm_true = _rel(truth["faraday"].canonical().val, names)
    errors["rm"] = np.sqrt(np.mean((rm - rm_true) ** 2, axis=0))
    assert np.all(errors["rm"] < 0.01), errors["rm"]

    # The scintillation averaged over the calibrator scan cannot be told from the bandpass:
    # the observable time-independent amplitude is bandpass x median(scintillation).
    bandpass = cal.soltabs["bandpass"].canonical().val
    scint = np.median(truth["scintillation"].canonical().val, axis=0)
    bandpass_true = truth["bandpass"].canonical().val * scint[None, :, None]
    errors["bandpass_pct"] = 100 * np.median(np.abs(bandpass / bandpass_true - 1), axis=(0, 2))
    assert np.all(errors["bandpass_pct"] < 1.5), errors["bandpass_pct"]

    tec = cal.soltabs["tec"].canonical().val
    tec_true = _rel(truth["tec"].canonical().val, names)
    errors["tec"] = np.sqrt(np.mean((tec - tec_true) ** 2, axis=0))
    assert np.all(errors["tec"] < 0.003), errors["tec"]
    assert report["flagged_stations"] == [] and report["failed_stations"] == {}
    assert report["model"]["coherence_core"] > 0.99 and 0.8 < report["model"]["amplitude_ratio_short_noncore"] < 1.25
    assert [entry["status"] for entry in report["stations"].values()] == ["ok"] * len(names)
    assert {p.name for p in calibrated.plots} >= {"polalign.png", "faraday.png", "bandpass.png", "clocktec.png"}


def test_target_residual_phase_is_ionosphere_and_clock_drift(field, calibrated, tmp_path):
    """Self-calibrating the corrected target leaves phases = ionosphere + clock drift since the
    calibrator (the transferred terms leave <= 0.3 rad rms on Dutch stations)."""
    target = field.targets()[0]
    cfg = load_target_config(overrides=["phase_calibration=true", "phase_solint_hz=8.0e+6", "phase_solint_s=16"])
    result = run_di_target([target.ms], calibrated.cal_solutions, tmp_path / "tgt", cfg, skymodel=field.sky_model)
    sol = read_h5parm(result.phase_solutions[0]).soltabs["phase000"].canonical()
    names = list(sol.axes["ant"])
    phase = np.take(sol.val, 0, axis=sol.axis_names.index("dir")) if "dir" in sol.axes else sol.val
    ref = names.index(REF)
    phase = phase - phase[:, :, ref:ref + 1]
    truth = read_h5parm(target.truth_h5).soltabs
    idx = np.array([np.argmin(np.abs(truth["tec"].axes["time"] - t)) for t in sol.axes["time"]])
    tec = _rel(truth["tec"].canonical().val[idx], names)
    clock = _rel(truth["clock"].canonical().val[idx], names)
    transferred = read_h5parm(result.outdir / "transfer.h5").soltabs["clock"].canonical().val
    f = sol.axes["freq"][None, :, None]
    ionosphere = TEC_PHASE_CONSTANT * tec[:, None, :] / f
    drift = 2 * np.pi * f * (clock[:, None, :] - transferred[None, None, :])

    def rms(x):
        return np.sqrt(np.mean(np.angle(np.exp(1j * x)) ** 2, axis=(0, 1)))

    dutch = [i for i, n in enumerate(names) if n[:2] in ("CS", "RS")]
    total, remaining = rms(phase), rms(phase - ionosphere - drift)
    assert np.all(remaining[dutch] < 0.3), remaining
    assert np.mean(total[dutch]) > 3 * np.mean(remaining[dutch])


def test_target_image_recovers_fluxes(field, calibrated, tmp_path):
    """Transferred terms + beam + DI rotation+diagonal self-calibration: bright sources within 5 %."""
    target = field.targets()[0]
    cfg = load_target_config(overrides=["phase_calibration=true", "phase_solint_hz=8.0e+6", "phase_solint_s=16",
                                        "phase_mode=rotation+diagonal"])
    result = run_di_target([target.ms], calibrated.cal_solutions, tmp_path / "tgt", cfg, skymodel=field.sky_model)
    fits = image(result.corrected[0], tmp_path, "target", size_pix=1024, scale_arcsec=4.0, niter=5000,
                 maxuv_lambda=20000, restoring_beam_arcsec=20.0)
    rows, _ = compare_with_skymodel(fits["image"], field.sky_model, min_flux_jy=0.5)
    assert len(rows) == 2
    for r in rows:
        assert abs(r.peak_ratio - 1) < 0.05, r
    report = json.loads(result.report.read_text())
    assert report["outputs"][0]["output"] == target.ms.name
    # the report holds the phase solve's convergence, read from DP3's log (here rotation+diagonal on a 16 s x 8 MHz
    # grid: every interval reaches DP3's 50 iterations, which the report and the log say)
    convergence = report["outputs"][0]["phase_convergence"]
    assert convergence["intervals"] > 0 and convergence["maxiter"] == cfg.phase_maxiter
    assert report.get("unconverged_solves", {}).get(target.ms.name, 0.0) == convergence["fraction_at_maxiter"]


def test_target_phase_solve_that_stops_at_maxiter_is_reported(field, calibrated, tmp_path, caplog):
    """A phase solve cut at one iteration: every interval counts as unconverged, in the log and the report."""
    target = field.targets()[0]
    cfg = load_target_config(overrides=["phase_calibration=true", "phase_solint_hz=8.0e+6", "phase_solint_s=16",
                                        "phase_maxiter=1"])
    with caplog.at_level(logging.WARNING):
        result = run_di_target([target.ms], calibrated.cal_solutions, tmp_path / "tgt", cfg,
                               skymodel=field.sky_model, make_plots=False)
    report = json.loads(result.report.read_text())
    entry = report["outputs"][0]["phase_convergence"]
    assert entry["maxiter"] == 1 and entry["at_maxiter"] == entry["intervals"] > 0
    assert report["unconverged_solves"] == {target.ms.name: 1.0}
    assert any("stopped at maxiter=1 without converging" in r.getMessage() and "raise phase_maxiter" in r.getMessage()
               for r in caplog.records)


def test_model_that_does_not_match_the_data_is_refused(field, tmp_path):
    """3C196's model for 3C295's data (coherence ~0) and 3C295's model in mJy (amplitude ratio ~1000) are
    refused with the model named; the right model passes with coherence ~1 and ratio ~1."""
    from lofar_hires.calibration.model_check import check_calibrator_model

    cal = field.calibrators()[0]
    cfg = load_calibrator_config()
    ms = prepare([cal.ms], tmp_path / "avg.MS", cfg, tmp_path)
    predict(ms, field.calibrator_model, tmp_path, cfg.threads, name="right")
    good = check_calibrator_model(ms, field.calibrator_model, cfg.min_model_coherence, cfg.model_ratio_range)
    assert good.coherence > 0.99 and 0.8 < good.amplitude_ratio < 1.25
    wrong = calibrator_model_path("3C196")
    predict(ms, wrong, tmp_path, cfg.threads, name="wrong")
    with pytest.raises(InputError, match=r"calibrator model .*3C196.skymodel does not match the data: coherence"):
        check_calibrator_model(ms, wrong, cfg.min_model_coherence, cfg.model_ratio_range)
    model = read_makesourcedb(field.calibrator_model)
    mjy = write_makesourcedb(replace(model, i_jy=model.i_jy * 1000.0), tmp_path / "3C295_mJy.skymodel")
    predict(ms, mjy, tmp_path, cfg.threads, name="mjy")
    with pytest.raises(InputError, match=r"amplitude ratio data/model 0.00\d+ outside \[0.5, 2\]"):
        check_calibrator_model(ms, mjy, cfg.min_model_coherence, cfg.model_ratio_range)


def test_bad_calibrator_inputs(field, tmp_path):
    from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3

    cal = field.calibrators()[0]
    with pytest.raises(InputError, match="calibrator sky model .* does not exist"):
        check_calibrator_inputs([cal.ms], tmp_path / "absent.skymodel")
    low, high = tmp_path / "sb1.MS", tmp_path / "sb2.MS"
    run_dp3(Dp3Run(msin=cal.ms, msout=low, msin_options={"startchan": 0, "nchan": 12}), tmp_path, "sb1")
    run_dp3(Dp3Run(msin=cal.ms, msout=high, msin_options={"startchan": 12, "nchan": 12},
                   steps=[Dp3Step("avg", "averager", {"freqstep": 2})]), tmp_path, "sb2")
    with pytest.raises(InputError, match="channel widths differ between subbands"):
        check_calibrator_inputs([low, high], field.calibrator_model)
    out = tmp_path / "out"
    with pytest.raises(InputError):
        run_di_calibrator([low, high], field.calibrator_model, out, load_calibrator_config())
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError):
        run_di_calibrator([cal.ms], field.calibrator_model, existing, load_calibrator_config())


def test_fully_flagged_station_is_reported_not_fatal(field, tmp_path):
    """A station flagged on request has weight 0 everywhere and is not a failure (exit 0); the others are solved.
    (32 s solution intervals: accuracy is not what this test is about.)"""
    cal = field.calibrators()[0]
    cfg = load_calibrator_config(overrides=["flagging.flag_stations=[RS509HBA]", "apply_beam=true",
                                            "averaging.time_resolution_s=32"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LofarHiresWarning)
        result = run_di_calibrator([cal.ms], field.calibrator_model, tmp_path / "cal", cfg, make_plots=False)
    report = json.loads(result.report.read_text())
    assert report["flagged_stations"] == ["RS509HBA"]
    sols = read_h5parm(result.cal_solutions)
    i = sols.antenna_names.index("RS509HBA")
    for tab in sols.soltabs.values():
        tab = tab.canonical()
        assert np.all(np.take(tab.weight, i, axis=tab.axis_names.index("ant")) == 0), tab.name
    others = [n for n in sols.antenna_names if n != "RS509HBA"]
    assert all(report["clocktec"]["clock_mean_ns"][n] is not None for n in others)
    assert report["flagged_by_request"] == ["RS509HBA"] and report["failed_stations"] == {}
    assert report["stations"]["RS509HBA"]["status"] == "flagged"
    assert {report["stations"][n]["status"] for n in others} == {"ok"}
