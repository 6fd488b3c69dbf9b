"""The self-calibration engine on simulated observations, with real DP3 and WSClean.

The simulated field (preset ``selfcal``) has one ~1 Jy compact calibrator 0.3 deg from
the pointing, direction-dependent ionospheric phases of 1-3 rad on the international
stations and slow amplitude errors; the engine phase-shifts to the calibrator, phases
up the core and self-calibrates. Results are checked against the simulator's truth.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.imaging.measure import load_image, measure_source
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.selfcal.engine import SelfcalRequest, run_selfcal
from lofar_hires.selfcal.metrics import read_metrics
from lofar_hires.selfcal.strategy import load_strategy
from lofar_hires.validation.selfcal import phase_errors_vs_truth

pytestmark = pytest.mark.slow

CALIBRATOR = "bright01"
INTERNATIONAL = ("DE601HBA", "DE605HBA", "FR606HBA", "SE607HBA", "UK608HBA", "IE613HBA")

#: A fast strategy for the toy observation: phases every 32 s on the phased-up data, slow gains from cycle 1.
STRATEGY = """\
name: test
prepare: {time_resolution_s: 16.0, freq_resolution_hz: 390625.0, phaseup_core: true}
solves:
  - {name: phase, soltype: scalarphase, solint_s: 32.0, smoothness_hz: 2.0e+6, minuv_lambda: 20000.0%(reset)s}
  - {name: gain, soltype: scalarcomplexgain, solint_s: 600.0, smoothness_hz: 5.0e+6, minuv_lambda: 20000.0,
     start_cycle: 1%(reset)s}
imaging: {size_pix: 256, scale_arcsec: 0.08, niter: 20000, minuv_lambda: 20000.0}
stopping: {min_cycles: 4, max_cycles: 6}
"""


def strategy_file(folder: Path, reset: str = "", name: str = "strategy.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(STRATEGY % {"reset": f", reset: {reset}" if reset else ""})
    return path


@pytest.fixture(scope="module")
def field(simulated):
    result = simulated("selfcal", preset="selfcal")
    targets = result.targets()
    truth = json.loads(targets[0].truth_json.read_text())
    return result, targets, tuple(truth["directions"][CALIBRATOR])


def run_cli(args: list[str]) -> int:
    return main(["--log-level", "WARNING", "selfcal", *map(str, args)])


@pytest.fixture(scope="module")
def converged(field, tmp_path_factory):
    """One observation, started from a 1 Jy point model at the calibrator position."""
    _, targets, radec = field
    root = tmp_path_factory.mktemp("selfcal_converged")
    outdir = root / "run"
    code = run_cli([targets[0].ms, "--strategy", strategy_file(root), "--outdir", outdir, "--phase-centre", *radec,
                    "--point-model-jy", "1.0"])
    assert code == 0
    return root, outdir


def calibrator_flux_jy(skymodel: Path, freq_hz: float) -> float:
    model = read_makesourcedb(skymodel)
    i = model.names.index(CALIBRATOR)
    return float(model.i_jy[i] * (freq_hz / model.ref_freq_hz[i]) ** model.spectral_index[i, 0])


def flux_scale_of_data(truth_h5: Path) -> float:
    """What self-calibration with normalised amplitudes cannot remove: the mean amplitude corruption, squared.

    The engine keeps the geometric mean of the gain amplitudes at 1, so the flux scale
    of the result is that of the data, ``S * c**2`` with ``c`` the geometric mean of the
    injected amplitudes (1.07 for this simulation; a truly unit-mean corruption gives 1).
    """
    amp = read_h5parm(truth_h5).soltabs["scintillation"].val
    return float(np.exp(np.mean(np.log(amp)))) ** 2


def test_converges_before_the_maximum_and_recovers_the_injected_phases(field, converged):
    result, targets, radec = field
    _, outdir = converged
    report = json.loads((outdir / "selfcal_report.json").read_text())
    metrics = read_metrics(outdir / "metrics.json")
    # stopped by the rule, at the minimum (4 cycles), before the maximum (6)
    assert report["stopped_by"] == "converged"
    assert report["n_cycles"] == len(metrics) == 4
    assert "no classifier model" in report["classifier"]
    assert all(m.classifier_score is None for m in metrics)
    assert metrics[-1].phase_stability_rad < 0.1
    # phases towards the calibrator, referenced to CS002HBA0, against the injected ones
    errors = phase_errors_vs_truth(outdir / "best_target_obs01.h5", targets[0].truth_h5, CALIBRATOR, "CS002HBA0")
    for station in INTERNATIONAL:
        assert errors.per_station_rms_rad[station] < 0.15, (station, errors.per_station_rms_rad)
    # dynamic range and flux
    assert report["dynamic_range_gain"] >= 3.0
    best = metrics[report["best_cycle"]]
    assert best.dynamic_range >= 3 * metrics[0].dynamic_range
    image = load_image(outdir / "best_image.fits")
    peak = measure_source(image, *radec).peak_jy_per_beam
    expected = calibrator_flux_jy(result.sky_model, image.freq_hz) * flux_scale_of_data(targets[0].truth_h5)
    assert peak == pytest.approx(expected, rel=0.05)
    before = measure_source(load_image(outdir / "cycle_000" / "image-image.fits"), *radec,
                            search_radius_pix=20).peak_jy_per_beam
    assert before < 0.5 * expected


def test_products_and_provenance(converged):
    _, outdir = converged
    for name in ("best_image.fits", "best_image.png", "montage.png", "metrics.csv", "selfcal.provenance.json",
                 "final_target_obs01.h5", "best_target_obs01.h5"):
        assert (outdir / name).is_file(), name
    for cycle in range(4):
        folder = outdir / f"cycle_{cycle:03d}"
        assert (folder / "image-image.fits").is_file() and (folder / "image.png").is_file()
        assert (folder / "target_obs01.h5").is_file()
    assert not list(outdir.glob("*.partial*"))
    prov = json.loads((outdir / "selfcal.provenance.json").read_text())
    tools = {run["tool"] for run in prov["tool_runs"]}
    assert {"DP3.py", "wsclean"} <= tools
    assert all(run["version"] and run["wall_time_s"] >= 0 for run in prov["tool_runs"])
    # solutions for every station of the input MS: the superstation is expanded back into the core
    solset = read_h5parm(outdir / "best_target_obs01.h5")
    assert "ST001" not in solset.antenna_names
    assert {"CS001HBA0", "CS002HBA0", "CS003HBA0", "CS004HBA0", *INTERNATIONAL} <= set(solset.antenna_names)
    csv_lines = (outdir / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and "phase_stability_rad" in csv_lines[0]


def test_does_not_stop_while_phases_change_more_than_the_threshold(field, tmp_path):
    _, targets, radec = field
    outdir = tmp_path / "run"
    code = run_cli([targets[0].ms, "--strategy", strategy_file(tmp_path), "--outdir", outdir, "--phase-centre",
                    *radec, "--point-model-jy", "1.0", "--set", "stopping.phase_stability_rad=0.001",
                    "--set", "stopping.min_cycles=2", "--set", "stopping.max_cycles=3"])
    assert code == 0
    report = json.loads((outdir / "selfcal_report.json").read_text())
    metrics = read_metrics(outdir / "metrics.json")
    assert report["stopped_by"] == "max_cycles" and len(metrics) == 3
    assert all(m.phase_stability_rad > 0.001 for m in metrics[1:])
    assert report["decision"]["criteria"]["phase_stability"] is False


def test_resume_after_a_kill_gives_the_uninterrupted_result(field, converged, tmp_path):
    _, targets, radec = field
    root, reference = converged
    outdir = tmp_path / "run"
    args = [str(Path(sys.executable).parent / "lofar-hires"), "--log-level", "WARNING", "selfcal", str(targets[0].ms),
            "--strategy", str(strategy_file(root)), "--outdir", str(outdir), "--phase-centre", *map(str, radec),
            "--point-model-jy", "1.0"]
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while not (outdir / "cycle_002").is_dir():
            assert proc.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    state = json.loads((outdir / "state.json").read_text())
    assert len(state["cycles"]) == 3 and not state["finished"]
    assert not (outdir / "selfcal_report.json").exists()
    assert run_cli(args[4:]) == 0
    resumed = read_metrics(outdir / "metrics.json")
    uninterrupted = read_metrics(reference / "metrics.json")
    assert len(resumed) == len(uninterrupted)
    for a, b in zip(resumed, uninterrupted):
        assert a.rms_jy == pytest.approx(b.rms_jy, rel=0.02)
        assert a.dynamic_range == pytest.approx(b.dynamic_range, rel=0.02)
    new = read_h5parm(outdir / "best_target_obs01.h5").soltabs["phase000"]
    old = read_h5parm(reference / "best_target_obs01.h5").soltabs["phase000"]
    difference = np.angle(np.exp(1j * (new.val - old.val)))
    assert np.max(np.abs(difference)) < 0.02


def test_joint_solve_of_two_observations_with_a_station_reset(field, tmp_path):
    result, targets, radec = field
    outdir = tmp_path / "run"
    strategy = strategy_file(tmp_path, reset="core")
    code = run_cli([targets[0].ms, targets[1].ms, "--strategy", strategy, "--outdir", outdir, "--phase-centre",
                    *radec, "--point-model-jy", "1.0", "--set", "stopping.min_cycles=3"])
    assert code == 0
    # one image per cycle from both observations, solutions per observation
    wsclean_log = (outdir / "cycle_000" / "logs" / "wsclean.log").read_text()
    assert "target_obs01" in wsclean_log and "target_obs02" in wsclean_log
    for k, obs in enumerate(targets):
        name = obs.ms.name.removesuffix(".MS")
        best = outdir / f"best_{name}.h5"
        own = phase_errors_vs_truth(best, obs.truth_h5, CALIBRATOR, "CS002HBA0")
        for station in INTERNATIONAL:
            assert own.per_station_rms_rad[station] < 0.15, (name, station, own.per_station_rms_rad)
        # the reset group (the core, i.e. the superstation expanded back) is exactly the identity
        for path in (best, outdir / f"final_{name}.h5"):
            solset = read_h5parm(path)
            core = [i for i, n in enumerate(solset.soltabs["phase000"].axes["ant"]) if str(n).startswith("CS")]
            assert len(core) == 4
            for tab in solset.soltabs.values():
                values = np.take(tab.val, core, axis=tab.axis_names.index("ant"))
                assert np.all(values == (1.0 if tab.soltype == "amplitude" else 0.0)), tab.name
    # each observation has its own ionosphere: the two solutions differ by radians on the internationals
    first, second = (read_h5parm(outdir / f"best_{o.ms.name.removesuffix('.MS')}.h5").soltabs["phase000"]
                     for o in targets)
    ant = list(first.axes["ant"])
    intl = [ant.index(s) for s in INTERNATIONAL]
    spread = np.angle(np.exp(1j * (np.take(first.val, intl, axis=first.axis_names.index("ant"))
                                   - np.take(second.val, intl, axis=second.axis_names.index("ant")))))
    assert np.sqrt(np.mean(spread**2)) > 0.5
    image = load_image(outdir / "best_image.fits")
    assert measure_source(image, *radec).peak_jy_per_beam > 0.9 * calibrator_flux_jy(result.sky_model, image.freq_hz)


def test_a_uv_cut_without_data_is_refused_before_any_work(field, tmp_path, capsys):
    _, targets, radec = field
    outdir = tmp_path / "run"
    code = run_cli([targets[0].ms, "--strategy", strategy_file(tmp_path), "--outdir", outdir, "--phase-centre",
                    *radec, "--point-model-jy", "1.0", "--set", "solves.1.minuv_lambda=1.0e9"])
    assert code == 2
    assert "no data to solve on" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not outdir.exists()


def test_bad_inputs_exit_with_one_line_errors(field, simulated, tmp_path, capsys):
    _, targets, radec = field
    ms = targets[0].ms
    base = ["--outdir", tmp_path / "out", "--phase-centre", *radec]
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n"
                      "  core_stations: {description: core, include: ['CS*']}\n"
                      "  international: {description: international, include: ['*'], exclude: ['CS*', 'RS*', 'ST*']}\n"
                      "  polish: {description: Polish stations, include: ['PL*']}\n")
    cases = [
        ([ms, "--strategy", strategy_file(tmp_path, reset="polish", name="s1.yaml"), "--station-groups", groups],
         "names no station"),
        ([ms, "--strategy", strategy_file(tmp_path, name="s2.yaml"), "--set", "solves.0.soltype=phasediff"],
         "phasediff"),
        ([ms, "--strategy", strategy_file(tmp_path, name="s3.yaml"), "--set", "solves.0.solint_s=-32"],
         "below the minimum"),
        ([tmp_path / "missing.ms", "--strategy", "delay"], "missing.ms"),
        ([ms, simulated("tiny_for_selfcal", preset="tiny").targets()[0].ms, "--strategy",
          strategy_file(tmp_path, name="s4.yaml")], "different frequency grids"),
    ]
    empty = tmp_path / "empty-model.fits"
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((1, 1, 32, 32), dtype=np.float32)).writeto(empty)
    cases.append(([ms, "--strategy", strategy_file(tmp_path, name="s5.yaml"), "--model-image", empty], "is empty"))
    for args, message in cases:
        capsys.readouterr()
        assert run_cli([*args, *base]) == 2, message
        errors = [line for line in capsys.readouterr().err.strip().splitlines() if "ERROR" in line]
        assert len(errors) == 1 and message in errors[0], (message, errors)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("cycle_*"))


def test_an_output_directory_of_another_run_is_not_continued(field, converged, tmp_path):
    _, targets, radec = field
    root, outdir = converged
    request = SelfcalRequest((targets[0].ms,), phase_centre_deg=radec, point_flux_jy=1.0)
    strategy = load_strategy(strategy_file(root), ["stopping.max_cycles=5"])
    from lofar_hires.errors import InputError

    with pytest.raises(InputError, match="strategy differs"):
        run_selfcal(request, strategy, outdir)
    # the same request finds the run finished and returns its products without new cycles
    same = run_selfcal(request, load_strategy(strategy_file(root)), outdir)
    assert same.n_cycles == 4 and same.decision.reason == "converged"
