"""The DI pipelines as CWL workflows do what the whole-pipeline CLIs do.

`make demo` (tools/run_demo.sh: ``lofar-hires run`` on the tiny field, once per session: ``demo`` in
tests/conftest.py) runs ``workflows/di_calibrator.cwl`` (the calibrator pipeline as ``lofar-hires dical``
steps) and ``workflows/di_target.cwl`` with cwltool on each simulated observation. Here ``lofar-hires
di-calibrator`` and ``lofar-hires di-target`` run by hand on the first observation, with the inputs of the
chain's jobs: same steps, same settings, so the solutions must agree within 1e-6 (absolute; phases in rad,
delays in s, RM in rad/m^2, amplitudes) and the corrected visibilities within 1e-6 Jy. The inputs stay
untouched (the demo's checksums of its simulation, written before the calibration ran).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import file_checksums
from lofar_hires.calibration.di_calibrator import CAL_SOLTABS
from lofar_hires.io.h5parm import read_h5parm

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
TOLERANCE = 1e-6


def environment(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    tmp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = str(tmp)
    return env


def check_run(proc: subprocess.CompletedProcess, log: Path, what: str) -> None:
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed with exit status {proc.returncode}; log {log}:\n"
                    + "\n".join((proc.stdout + proc.stderr).splitlines()[-40:]))


def assert_same_solutions(got: Path, want: Path, soltabs: list[str] | None = None) -> None:
    """Same soltabs, axes, weights and flags; values within TOLERANCE."""
    a, b = read_h5parm(got), read_h5parm(want)
    assert sorted(a.soltabs) == sorted(b.soltabs), (got.name, want.name)
    assert a.antenna_names == b.antenna_names
    for name in soltabs or list(b.soltabs):
        x, y = a.soltabs[name].canonical(), b.soltabs[name].canonical()
        assert x.axis_names == y.axis_names, name
        for axis in x.axes:
            np.testing.assert_array_equal(x.axes[axis], y.axes[axis], err_msg=f"{got.name}:{name} {axis}")
        np.testing.assert_array_equal(x.weight, y.weight, err_msg=f"{got.name}:{name} weights")
        np.testing.assert_array_equal(np.isnan(x.val), np.isnan(y.val), err_msg=f"{got.name}:{name} flags")
        np.testing.assert_allclose(x.val, y.val, rtol=0, atol=TOLERANCE, equal_nan=True,
                                   err_msg=f"{got.name}:{name}")


def test_cwl_workflows_match_the_pipeline_clis(demo, tmp_path: Path) -> None:
    assert demo.returncode == 0, demo.failure()
    env = environment(tmp_path / "tmp")
    simulation = demo.outputs("simulate")
    sim = Path(simulation["simulation"]["path"])
    cal_ms, target_ms = sim / "calibrator_obs01.MS", sim / "target_obs01.MS"
    skymodel = sim / "calibrator.skymodel"

    # --- calibrator: the workflow (in the demo) and the CLI on the same data -------------------
    job = demo.job("di_calibrator.obs01")
    assert job["msin"] == [{"class": "Directory", "path": str(cal_ms)}]
    assert job["skymodel"] == {"class": "File", "path": str(skymodel)}
    assert set(job) == {"msin", "skymodel", "cores", "ram_mb"}, job  # the workflow's defaults otherwise
    cli_dir = tmp_path / "cli_calibrator"
    proc = subprocess.run([str(VENV_BIN / "lofar-hires"), "di-calibrator", str(cal_ms), "--skymodel", str(skymodel),
                           "--outdir", str(cli_dir)], env=env, capture_output=True, text=True, timeout=900)
    check_run(proc, tmp_path / "cli_calibrator.log", "lofar-hires di-calibrator")
    out = demo.outputs("di_calibrator")["obs01"]

    cal = Path(out["cal_solutions"]["path"])
    assert cal.name == "cal_solutions.h5" and cal.is_relative_to(demo.out / "solutions")
    assert sorted(read_h5parm(cal).soltabs) == sorted(CAL_SOLTABS)
    assert_same_solutions(cal, cli_dir / "cal_solutions.h5")
    # Every intermediate product too (the CLI's solve3_diagonal.h5 is the repeated solve3b).
    pairs = {out[k]["path"]: k + ".h5" for k in ("polalign", "faraday", "bandpass", "clocktec")}
    pairs[out["polalign_initial"]["path"]] = "polalign_initial.h5"
    solves = {Path(f["path"]).name: f["path"] for f in out["solves"]}
    assert sorted(solves) == ["solve1_rotation_diagonal.h5", "solve2_rotation_diagonal.h5", "solve3_diagonal.h5",
                              "solve3b_diagonal.h5", "solve4_diagonal.h5"]
    pairs.update({solves[n]: n for n in ("solve1_rotation_diagonal.h5", "solve2_rotation_diagonal.h5",
                                         "solve4_diagonal.h5")})
    pairs[solves["solve3b_diagonal.h5"]] = "solve3_diagonal.h5"
    for got, want in pairs.items():
        assert_same_solutions(Path(got), cli_dir / want)

    logs = {Path(f["path"]).name: Path(f["path"]) for f in out["logs"]}
    assert {"prepare.dical_prepare.stderr.log", "solve2.dical_solve.log", "solve2.solve2_rotation_diagonal.parset",
            "refine.dical_refine_polalign.log", "fit_clocktec.dical_fit.log", "collect.dical_collect.log"} <= set(logs)
    assert len(logs) == len(out["logs"])
    fit = json.loads(logs["fit_faraday.dical_fit.log"].read_text())
    assert fit["output"].endswith("faraday.h5") and "rm_mean_rad_m2" in fit["faraday"]

    # --- target: workflow (in the demo) on the workflow's solutions, CLI on the same ----------
    job = demo.job("di_target.obs01")
    truth_sky = sim / "sky_truth.skymodel"
    assert job["msin"] == [{"class": "Directory", "path": str(target_ms)}]
    assert job["cal_solutions"] == {"class": "File", "path": str(cal)}
    assert job["skymodel"] == {"class": "File", "path": str(truth_sky)}
    assert set(job) == {"msin", "cal_solutions", "skymodel", "cores", "ram_mb"}, job
    cli_target = tmp_path / "cli_target"
    proc = subprocess.run([str(VENV_BIN / "lofar-hires"), "di-target", str(target_ms), "--cal-solutions", str(cal),
                           "--skymodel", str(truth_sky), "--set", "phase_calibration=true",
                           "--outdir", str(cli_target)], env=env, capture_output=True, text=True, timeout=600)
    check_run(proc, tmp_path / "cli_target.log", "lofar-hires di-target")
    out = demo.outputs("di_target")["obs01"]
    assert_same_solutions(Path(out["transfer"]["path"]), cli_target / "transfer.h5")
    (phase,) = out["phase_solutions"]
    assert Path(phase["path"]).name == "target_obs01.phase.h5"
    assert_same_solutions(Path(phase["path"]), cli_target / "target_obs01.phase.h5")
    (corrected,) = out["corrected_ms"]
    assert Path(corrected["path"]).name == "target_obs01.MS"

    from casacore.tables import table

    with table(corrected["path"], ack=False) as t, table(str(cli_target / "target_obs01.MS"), ack=False) as ref:
        assert t.nrows() == ref.nrows()
        np.testing.assert_array_equal(t.getcol("FLAG"), ref.getcol("FLAG"))
        np.testing.assert_allclose(t.getcol("DATA"), ref.getcol("DATA"), rtol=0, atol=TOLERANCE)
    assert {Path(f["path"]).name for f in out["logs"]} >= {
        "transfer.dical_transfer.log", "target_obs01.correct.dical_correct.stderr.log",
        "target_obs01.phasecal.dical_phasecal.stderr.log", "target_obs01.phasecal.phasecal_target_obs01.log"}

    assert file_checksums(sim) == demo.recorded_checksums(), "a module or command modified the simulated observations"
