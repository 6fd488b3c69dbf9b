"""``lofar-hires calibratability`` on simulated observations, closed loop against the simulator's truth.

Three tiny observations (32 channels, a 1.7 Jy calibrator, real DP3 for the phasediff score), judged
in one run of the command:

* ``quiet``: the default corruptions; its solutions are the truth h5parm (a ``tec`` soltab, the layout
  of ``cal_solutions.h5``). It passes.
* ``disturbed``: a TEC fifteen times stronger and three times faster than the default
  (``corruptions.tec.rms_at_100km_tecu=3.0``, ``corruptions.tec.timescale_s=300``); its solutions are
  phases in the layout of the direction-independent target solve (solset ``target``, soltab ``phase000``
  with a direction axis of one), made from the injected TEC and clock with 0.1 rad of noise and a
  random phase common to all stations. It fails for its ionosphere: the TEC rate agrees with the rms
  time derivative of the injected TEC (relative to the core, of the remote stations) within 5 %
  (the clock drift left in the phases adds about 2 %).
* ``flagged``: a copy of ``quiet`` with FLAG set on 70 % of its rows (seeded); it fails for its flags,
  and the flagged fraction is exactly that of the rows.

The quiet observation's TEC rate, read from the truth's ``tec`` soltab, agrees with the derivative
within 2 %. Bad input (a soltab the solutions do not have, a name too many, two observations of one
name) exits with status 2 and one error line.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.gate.config import CalibratabilityConfig
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.physics import TEC_PHASE_CONSTANT
from lofar_hires.selection.table import CalibratorRow, write_table

#: 32 channels (enough phase values for the score at 1 min), no calibrator scan, a brighter in-field calibrator.
BASE = ("calibrator.enabled=false", "observation.n_chan=32", "sky.bright_flux_jy=[1.5,2.0]")
#: The ionosphere limit of the shipped configuration (TECU/min).
LIMIT = CalibratabilityConfig().ionosphere.max_dtec_rate_tecu_per_min
DISTURBED = (*BASE, "corruptions.tec.rms_at_100km_tecu=3.0", "corruptions.tec.timescale_s=300")
#: The score at the tiny field's size: both international stations, one-minute intervals (620 phase values).
SCORE = ("--set-selection", "score.stations=international", "--set-selection", "score.solint_s=60")
FLAGGED_FRACTION = 0.7


def brightest(sky_model: Path) -> CalibratorRow:
    sky = read_makesourcedb(sky_model)
    i = int(np.argmax(sky.i_jy))
    return CalibratorRow(sky.names[i], float(np.degrees(sky.ra_rad[i])), float(np.degrees(sky.dec_rad[i])))


def flag_rows(ms: Path, fraction: float, seed: int = 7) -> int:
    """Set FLAG on ``fraction`` of the rows of ``ms`` (seeded); the number of rows flagged."""
    from casacore.tables import table

    with table(str(ms), readonly=False, ack=False) as t:
        n = t.nrows()
        rows = np.random.default_rng(seed).choice(n, int(round(fraction * n)), replace=False)
        flag = t.getcol("FLAG")
        flag[rows] = True
        t.putcol("FLAG", flag)
    return len(rows)


def di_target_phases(truth_h5: Path, out: Path, n_freq: int = 8, seed: int = 3) -> Path:
    """Phase solutions in the layout of the DI target solve, from the injected TEC and clock of a truth h5parm."""
    ss = read_h5parm(truth_h5)
    tec, clock = ss.soltabs["tec"], ss.soltabs["clock"]
    times = tec.axes["time"]
    freqs = 140e6 + 4 * 390625.0 * np.arange(n_freq) + 1.5 * 390625.0
    rng = np.random.default_rng(seed)
    phase = (TEC_PHASE_CONSTANT * tec.val[:, None, :] / freqs[None, :, None]
             + 2 * np.pi * freqs[None, :, None] * clock.val[:, None, :]
             + rng.normal(0.0, 0.1, (len(times), n_freq, len(ss.antenna_names)))
             + rng.uniform(-np.pi, np.pi, (len(times), 1, 1)))
    tab = Soltab("phase000", "phase", {"time": times, "freq": freqs, "ant": np.array(ss.antenna_names),
                                        "dir": np.array(["pointing"])}, np.angle(np.exp(1j * phase))[..., None])
    return write_h5parm(out, [tab], ss.antenna_names, ss.antenna_positions_m, {"pointing": (4.237, 0.960)},
                        solset="target")


def truth_rate_tecu_per_min(truth_h5: Path) -> float:
    """rms over the remote stations and time of d/dt of the injected TEC relative to the mean of the core."""
    ss = read_h5parm(truth_h5)
    tec = ss.soltabs["tec"]
    names = list(tec.axes["ant"])
    core = [i for i, n in enumerate(names) if n.startswith("CS")]
    remote = [i for i, n in enumerate(names) if n.startswith("RS")]
    relative = tec.val - tec.val[:, core].mean(axis=1, keepdims=True)
    rate = np.gradient(relative[:, remote], tec.axes["time"], axis=0) * 60.0
    return float(np.sqrt(np.mean(rate ** 2)))


@pytest.fixture(scope="module")
def gate(simulated, tmp_path_factory):
    """One run of the command on the three observations: its exit status, printed lines, result and inputs."""
    quiet = simulated("gate_quiet", preset="tiny", overrides=BASE)
    disturbed = simulated("gate_disturbed", preset="tiny", overrides=DISTURBED)
    root = tmp_path_factory.mktemp("gate")
    shutil.copytree(quiet.targets()[0].ms, root / "flagged.MS")
    n_flagged_rows = flag_rows(root / "flagged.MS", FLAGGED_FRACTION)
    phases = di_target_phases(disturbed.targets()[0].truth_h5, root / "disturbed.phase.h5")
    table = write_table(root / "calibrators.csv", [brightest(quiet.sky_model)])
    out = root / "result" / "calibratability.json"
    out.parent.mkdir()
    quiet_h5 = quiet.targets()[0].truth_h5
    # both simulated measurement sets are called target_obs01.MS: the observations are named on the command line
    argv = ["calibratability", "--msin", str(quiet.targets()[0].ms), str(disturbed.targets()[0].ms),
            str(root / "flagged.MS"), "--observation-names", "quiet", "disturbed", "flagged",
            "--di-solutions", str(quiet_h5), str(phases), str(quiet_h5), "--calibrators", str(table),
            "-o", str(out), *SCORE]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    return {"code": code, "lines": stdout.getvalue().splitlines(), "out": out,
            "result": json.loads(out.read_text()) if out.is_file() else None, "n_flagged_rows": n_flagged_rows,
            "quiet": quiet, "disturbed": disturbed, "root": root}


def test_a_failed_gate_is_a_result_not_an_error(gate):
    assert gate["code"] == 0
    result = gate["result"]
    assert result["format"] == "lofar-hires-calibratability/1"
    assert list(result["observations"]) == ["quiet", "disturbed", "flagged"]
    assert (result["n_observations"], result["n_passed"]) == (3, 1)
    assert gate["lines"][0].startswith("quiet: passed (score ")
    assert gate["lines"][1].startswith("disturbed: failed: ionospheric activity ")
    assert gate["lines"][2] == "flagged: failed: 70.0 % of visibilities flagged (48384 of 69120), above 50 %"
    prov = json.loads((gate["out"].parent / "calibratability.provenance.json").read_text())
    assert prov["task"] == "calibratability" and len(prov["tool_runs"]) == 6  # prepare + solve per observation
    assert sorted(p.name for p in gate["out"].parent.iterdir()) == ["calibratability.json",
                                                                  "calibratability.provenance.json"]


def test_the_quiet_observation_passes_with_the_true_tec_rate(gate):
    """The TEC rate from the truth's tec soltab agrees with the derivative of the injected TEC within 2 %."""
    obs = gate["result"]["observations"]["quiet"]
    assert obs["passed"] and obs["reasons"] == []
    metrics = obs["metrics"]
    assert metrics["flags"]["flagged_fraction"] == 0.0
    phasediff = metrics["phasediff"]
    assert phasediff["significant"] and phasediff["score_rad"] < 1.6 and phasediff["n_values"] == 620
    assert phasediff["calibrator"] == "bright02"
    iono = metrics["ionosphere"]
    assert iono["stations"] == ["RS106HBA", "RS305HBA", "RS509HBA"]
    assert "soltab tec (tec)" in iono["source"]
    truth = truth_rate_tecu_per_min(gate["quiet"].targets()[0].truth_h5)
    assert iono["dtec_rate_rms_tecu_per_min"] == pytest.approx(truth, rel=0.02)
    assert truth < 0.2 * LIMIT  # well inside the limit
    subs = obs["sub_scores"]
    assert subs["flags"] == 1.0 and subs["phasediff"] == pytest.approx(1 - phasediff["score_rad"] / 2.3)
    assert obs["score"] == min(subs.values()) > 0


def test_the_disturbed_observation_fails_for_its_ionosphere(gate):
    """The rate from phases in the DI target layout agrees with the injected TEC's derivative within 5 %."""
    obs = gate["result"]["observations"]["disturbed"]
    assert not obs["passed"] and len(obs["reasons"]) == 1
    iono = obs["metrics"]["ionosphere"]
    assert "solset target, soltab phase000 (phase)" in iono["source"]
    truth = truth_rate_tecu_per_min(gate["disturbed"].targets()[0].truth_h5)
    assert truth > 1.5 * LIMIT
    assert iono["dtec_rate_rms_tecu_per_min"] == pytest.approx(truth, rel=0.05)
    assert obs["reasons"][0] == (f"ionospheric activity {iono['dtec_rate_rms_tecu_per_min']:.3f} TECU/min (rms rate "
                                 f"of the differential TEC of RS106HBA, RS305HBA, RS509HBA) above {LIMIT:g} TECU/min")
    assert obs["sub_scores"]["ionosphere"] == 0.0 == obs["score"]
    assert obs["metrics"]["phasediff"]["significant"] and obs["metrics"]["flags"]["flagged_fraction"] == 0.0


def test_the_flagged_observation_fails_for_its_flags(gate):
    obs = gate["result"]["observations"]["flagged"]
    flags = obs["metrics"]["flags"]
    assert flags["n_visibilities"] == 2160 * 32
    assert flags["n_flagged"] == gate["n_flagged_rows"] * 32
    assert flags["flagged_fraction"] == gate["n_flagged_rows"] / 2160 == pytest.approx(FLAGGED_FRACTION, abs=1e-3)
    assert not obs["passed"] and obs["reasons"] == [obs["reasons"][0]]
    assert obs["reasons"][0].startswith("70.0 % of visibilities flagged")
    assert obs["metrics"]["phasediff"]["significant"]  # 30 % of the data still detect the calibrator


@pytest.mark.parametrize("extra, message", [
    (("--di-soltab", "nosuchtab"), "no soltab 'nosuchtab'"),
    (("--observation-names", "a", "b"), "1 measurement set(s) but 2 observation name(s) (--observation-names)"),
], ids=["unknown-soltab", "names-count"])
def test_bad_input_is_one_line_and_exit_status_2(gate, tmp_path, capsys, extra, message):
    out = tmp_path / "gate.json"
    quiet = gate["quiet"].targets()[0]
    code = main(["calibratability", "--msin", str(quiet.ms), "--di-solutions", str(quiet.truth_h5), *extra,
                 "--calibrator-ra-deg", "242.99", "--calibrator-dec-deg", "54.86", "-o", str(out), *SCORE])
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0]
    assert list(tmp_path.iterdir()) == []


def test_two_observations_of_one_name_are_refused(gate, tmp_path, capsys):
    quiet, disturbed = gate["quiet"].targets()[0], gate["disturbed"].targets()[0]
    code = main(["calibratability", "--msin", str(quiet.ms), str(disturbed.ms), "--di-solutions",
                 str(quiet.truth_h5), str(disturbed.truth_h5), "--calibrator-ra-deg", "242.99",
                 "--calibrator-dec-deg", "54.86", "-o", str(tmp_path / "gate.json"), *SCORE])
    assert code == 2 and "two observations have the same name" in capsys.readouterr().err
