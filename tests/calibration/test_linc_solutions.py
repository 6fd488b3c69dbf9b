"""LINC's ``cal_solutions.h5`` in di-target, and our solutions under LINC's solset names.

The LINC-style file is written with LoSoTo's own h5parm API, as LINC's pipelines write
theirs: solset ``calibrator`` with ``polalign`` (phase; time, freq, ant, dir of length
one, pol), ``bandpass`` (amplitude; time, freq, ant, pol), ``faraday`` (rotation measure;
ant, time: LoSoTo FARADAY's order), ``clock`` and ``tec`` (time, ant, pol: LoSoTo
CLOCKTEC per polarisation), and solset ``target`` (``RMextract``, ``TGSSphase``). The
same numbers in our own layout must give the same transferred solutions, and DP3 must
apply them.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.calibration.config import load_target_config
from lofar_hires.calibration.di_calibrator import CAL_SOLTABS, collect
from lofar_hires.calibration.di_target import check_target_inputs, correct_target, phase_calibrate, transfer_solutions
from lofar_hires.errors import InputError, ToolError
from lofar_hires.io.h5parm import Soltab, read_h5parm, solset_names, write_h5parm
from lofar_hires.io.ms import read_ms_info
from lofar_hires.provenance import Provenance

N_TIME = 6


@pytest.fixture(scope="module")
def target(simulated):
    """A tiny target MS without corruptions, and its metadata."""
    ms = simulated("linc_target", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms
    return ms, read_ms_info(ms)


def effects(info, seed: int = 3) -> dict[str, np.ndarray]:
    """Calibrator effects per time, channel, station and polarisation (seeded); station 2 flagged at t=0."""
    rng = np.random.default_rng(seed)
    n_f, n_a = len(info.freqs_hz), len(info.station_names)
    delay_s = rng.normal(0, 2e-9, n_a)
    return {
        "polalign": np.stack([np.zeros((n_f, n_a)), 2 * np.pi * info.freqs_hz[:, None] * delay_s], -1),
        "bandpass": 1 + 0.2 * rng.uniform(size=(n_f, n_a, 2)),
        "faraday": rng.normal(0, 0.05, (N_TIME, n_a)),
        "clock": rng.normal(0, 5e-9, n_a)[None, :, None] + rng.normal(0, 1e-10, (N_TIME, n_a, 2)),
        "tec": rng.normal(0, 0.1, (N_TIME, n_a, 2)),
    }


def write_linc(path, info, fx, drop: tuple[str, ...] = (), clock_type: str = "clock"):
    """A LINC-style cal_solutions.h5 written with LoSoTo (see the module description)."""
    from losoto.h5parm import h5parm

    times = info.times_mjd_s[0] + 60.0 * np.arange(N_TIME)
    ants = list(info.station_names)
    h5 = h5parm(str(path), readonly=False)
    try:
        for name in ("calibrator", "target"):
            ss = h5.makeSolset(name)
            ss.obj._f_get_child("antenna").append(list(zip(ants, info.station_positions_m)))
            ss.obj._f_get_child("source").append([("pointing", [0.5, 0.9])])
        cal = h5.getSolset("calibrator")
        weights = np.ones((N_TIME, len(ants), 2))
        weights[0, 2] = 0.0
        flagged = np.where(weights > 0, fx["clock"], 12345.0)  # a flagged value far off: must not count
        polalign = np.broadcast_to(fx["polalign"][None, :, :, None, :], (N_TIME, *fx["polalign"].shape[:2], 1, 2))
        tabs = {
            "polalign": ("phase", ["time", "freq", "ant", "dir", "pol"],
                         [times, info.freqs_hz, ants, ["pointing"], ["XX", "YY"]], polalign),
            "bandpass": ("amplitude", ["time", "freq", "ant", "pol"], [times, info.freqs_hz, ants, ["XX", "YY"]],
                         np.broadcast_to(fx["bandpass"][None], (N_TIME, *fx["bandpass"].shape))),
            "faraday": ("rotationmeasure", ["ant", "time"], [ants, times], fx["faraday"].T),
            "clock": (clock_type, ["time", "ant", "pol"], [times, ants, ["XX", "YY"]], flagged),
            "tec": ("tec", ["time", "ant", "pol"], [times, ants, ["XX", "YY"]], fx["tec"]),
        }
        for name, (soltype, axes, values, val) in tabs.items():
            if name in drop:
                continue
            w = weights if name == "clock" else np.ones(np.shape(val))
            cal.makeSoltab(soltype, name, axesNames=axes, axesVals=values, vals=np.array(val), weights=w)
        tgt = h5.getSolset("target")
        tgt.makeSoltab("rotationmeasure", "RMextract", axesNames=["time", "ant"], axesVals=[times, ants],
                       vals=np.zeros((N_TIME, len(ants))), weights=np.ones((N_TIME, len(ants))))
        tgt.makeSoltab("phase", "TGSSphase", axesNames=["time", "freq", "ant", "pol"],
                       axesVals=[times, info.freqs_hz, ants, ["XX", "YY"]],
                       vals=np.zeros((N_TIME, len(info.freqs_hz), len(ants), 2)),
                       weights=np.ones((N_TIME, len(info.freqs_hz), len(ants), 2)))
    finally:
        h5.close()
    return path


def write_ours(path, info, fx, solset: str = "calibrator"):
    """The same effects in our layout (DP3's axis order, no direction axis)."""
    times = info.times_mjd_s[0] + 60.0 * np.arange(N_TIME)
    ants = np.array(info.station_names)
    pol = np.array(["XX", "YY"])
    weights = np.ones((N_TIME, len(ants), 2))
    weights[0, 2] = 0.0
    tabs = [Soltab("polalign", "phase", {"freq": info.freqs_hz, "ant": ants, "pol": pol}, fx["polalign"]),
            Soltab("bandpass", "amplitude", {"freq": info.freqs_hz, "ant": ants, "pol": pol}, fx["bandpass"]),
            Soltab("faraday", "rotationmeasure", {"time": times, "ant": ants}, fx["faraday"]),
            Soltab("clock", "clock", {"time": times, "ant": ants, "pol": pol}, np.where(weights > 0, fx["clock"], 0.0),
                   weights),
            Soltab("tec", "tec", {"time": times, "ant": ants, "pol": pol}, fx["tec"])]
    return write_h5parm(path, tabs, list(ants), info.station_positions_m, solset=solset)


def test_linc_and_our_files_give_the_same_transfer(target, tmp_path):
    _, info = target
    fx = effects(info)
    linc = write_linc(tmp_path / "linc.h5", info, fx)
    ours = write_ours(tmp_path / "ours.h5", info, fx)
    assert solset_names(linc) == ["calibrator", "target"]
    prov = Provenance(task="test")
    wanted = ["polalign", "bandpass", "clock", "faraday", "tec"]
    a = read_h5parm(transfer_solutions(linc, wanted, tmp_path / "t_linc.h5", prov))
    b = read_h5parm(transfer_solutions(ours, wanted, tmp_path / "t_ours.h5", prov))
    assert a.name == b.name == "calibrator" and solset_names(tmp_path / "t_linc.h5") == ["calibrator"]
    assert sorted(a.soltabs) == sorted(wanted)
    for name in wanted:
        ta, tb = a.soltabs[name], b.soltabs[name]
        assert ta.axis_names == tb.axis_names and "time" not in ta.axes and "dir" not in ta.axes, name
        np.testing.assert_allclose(ta.val, tb.val, rtol=1e-12, atol=1e-15, err_msg=name)
        np.testing.assert_array_equal(ta.weight, tb.weight, err_msg=name)
    # The clock is the median of the unflagged times: the flagged value 12345 s plays no part.
    np.testing.assert_allclose(a.soltabs["clock"].val[2], np.median(fx["clock"][1:, 2], axis=0), rtol=1e-12)
    np.testing.assert_allclose(a.soltabs["clock"].val[3], np.median(fx["clock"][:, 3], axis=0), rtol=1e-12)


def test_dp3_applies_the_transferred_linc_solutions(target, tmp_path):
    from casacore.tables import table

    ms, info = target
    fx = effects(info)
    fx["clock"][...] = 0.0  # amplitudes only: |corrected| = |data| / (B_p B_q)
    fx["polalign"][...] = 0.0
    fx["faraday"][...] = 0.0
    linc = write_linc(tmp_path / "linc.h5", info, fx)
    cfg = load_target_config(overrides=["apply_beam=false", "averaging.time_resolution_s=0",
                                        "averaging.freq_resolution_hz=0"])
    check_target_inputs([ms], linc, cfg, None)
    transfer = transfer_solutions(linc, cfg.corrections, tmp_path / "transfer.h5", Provenance(task="test"))
    out = correct_target(ms, tmp_path / "out.MS", transfer, cfg, tmp_path / "logs", Provenance(task="test"))
    with table(str(ms), ack=False) as t_in, table(str(out), ack=False) as t_out:
        raw, corrected = t_in.getcol("DATA"), t_out.getcol("DATA")
        a1, a2 = t_in.getcol("ANTENNA1"), t_in.getcol("ANTENNA2")
    gains = fx["bandpass"]  # (freq, ant, pol)
    expected_xx = np.abs(raw[..., 0]) / (gains[:, a1, 0].T * gains[:, a2, 0].T)
    expected_yy = np.abs(raw[..., 3]) / (gains[:, a1, 1].T * gains[:, a2, 1].T)
    np.testing.assert_allclose(np.abs(corrected[..., 0]), expected_xx, rtol=1e-4)
    np.testing.assert_allclose(np.abs(corrected[..., 3]), expected_yy, rtol=1e-4)


def test_missing_soltab_named_in_one_line(target, tmp_path):
    from lofar_hires.cli import main

    ms, info = target
    linc = write_linc(tmp_path / "no_clock.h5", info, effects(info), drop=("clock",))
    cfg = load_target_config()
    with pytest.raises(InputError) as exc:
        check_target_inputs([ms], linc, cfg, None)
    text = str(exc.value)
    assert text.startswith(f"calibrator solutions: {linc}: solset calibrator has no soltab(s) clock "
                           "(setting corrections)")
    assert "it has bandpass, faraday, polalign, tec" in text and "\n" not in text
    with pytest.raises(InputError, match="no_clock.h5: solset calibrator has no soltab.s. clock"):
        transfer_solutions(linc, ["clock"], tmp_path / "t.h5", Provenance(task="test"))
    assert main(["di-target", str(ms), "--cal-solutions", str(linc), "--outdir", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_solset_choice_types_and_directions(target, tmp_path):
    from lofar_hires.io.h5parm import calibrator_solset, read_calibrator_solutions

    _, info = target
    fx = effects(info)
    old = write_ours(tmp_path / "old.h5", info, fx, solset="sol000")  # written before LINC's names were used
    assert read_calibrator_solutions(old, ["clock"]).name == "sol000"
    other = write_ours(tmp_path / "other.h5", info, fx, solset="mysols")
    assert calibrator_solset(other) == "mysols"  # a file's only solset
    with pytest.raises(InputError, match=r"other.h5: no solset 'calibrator' \(has mysols\)"):
        read_calibrator_solutions(other, ["clock"], solset="calibrator")
    linc = write_linc(tmp_path / "linc.h5", info, fx)
    assert read_calibrator_solutions(linc, ["clock"]).name == "calibrator"
    with pytest.raises(InputError, match="solset target has no soltab.s. clock"):
        read_calibrator_solutions(linc, ["clock"], solset="target")
    wrong = write_linc(tmp_path / "wrong.h5", info, fx, clock_type="phase")
    with pytest.raises(InputError, match="soltab 'clock' has type 'phase'; clock must be of type 'clock'"):
        transfer_solutions(wrong, ["clock"], tmp_path / "t.h5", Provenance(task="test"))
    # Soltabs under LoSoTo's numbered default names are found too.
    renamed = write_ours(tmp_path / "numbered.h5", info, fx)
    import h5py

    with h5py.File(renamed, "r+") as f:
        f.move("calibrator/clock", "calibrator/clock000")
    assert list(read_calibrator_solutions(renamed, ["clock"]).soltabs) == ["clock"]


def test_several_directions_are_refused(target, tmp_path):
    _, info = target
    ants = np.array(info.station_names)
    tab = Soltab("polalign", "phase", {"freq": info.freqs_hz, "ant": ants, "dir": np.array(["a", "b"]),
                                       "pol": np.array(["XX", "YY"])},
                 np.zeros((len(info.freqs_hz), len(ants), 2, 2)))
    path = write_h5parm(tmp_path / "dd.h5", [tab], list(ants), info.station_positions_m,
                        {"a": (0.1, 0.9), "b": (0.2, 0.9)}, solset="calibrator")
    with pytest.raises(InputError, match="soltab polalign has 2 directions"):
        transfer_solutions(path, ["polalign"], tmp_path / "t.h5", Provenance(task="test"))


def test_dp3_needs_the_solset_key_for_linc_files(target, tmp_path):
    """LINC's file holds two solsets: DP3's applycal reads it only with ``<step>.solset``."""
    from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3

    ms, info = target
    linc = write_linc(tmp_path / "linc.h5", info, effects(info))
    step = {"parmdb": linc, "correction": "bandpass"}
    run_dp3(Dp3Run(ms, tmp_path / "a.MS", [Dp3Step("cal", "applycal", {**step, "solset": "calibrator"})]),
            tmp_path / "logs", "with_solset")
    with pytest.raises(ToolError, match="more than one SolSet"):
        run_dp3(Dp3Run(ms, tmp_path / "b.MS", [Dp3Step("cal", "applycal", step)]), tmp_path / "logs", "without")
    with pytest.raises(InputError, match="has 2 solsets"):
        correct_target(ms, tmp_path / "c.MS", linc, load_target_config(), tmp_path / "logs", Provenance(task="t"))


def test_cal_solutions_use_the_solset_calibrator_and_losoto_reads_them(target, tmp_path):
    from losoto.h5parm import h5parm

    _, info = target
    fx = effects(info)
    ours = read_h5parm(write_ours(tmp_path / "parts.h5", info, fx, solset="sol000"))
    parts = {}
    for name in CAL_SOLTABS:  # one part file per fit, as the fits write them (solset sol000)
        parts[name] = write_h5parm(tmp_path / f"{name}.h5", [ours.soltabs[name]], ours.antenna_names,
                                   ours.antenna_positions_m)
    cal = collect(parts, tmp_path / "cal_solutions.h5", Provenance(task="test"))
    assert solset_names(cal) == ["calibrator"]
    h5 = h5parm(str(cal))
    try:
        clock = h5.getSolset("calibrator").getSoltab("clock")
        assert clock.getType() == "clock" and clock.getAxesNames() == ["time", "ant", "pol"]
        np.testing.assert_allclose(clock.getValues(retAxesVals=False), ours.soltabs["clock"].val)
    finally:
        h5.close()


def test_phase_solutions_in_the_solset_target(simulated, tmp_path):
    """DDECal writes sol000; the published solutions are in ``target``, applied by DP3 and read by LoSoTo."""
    import shutil

    from losoto.h5parm import h5parm

    sim = simulated("linc_target", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",))
    ms = tmp_path / "work.MS"
    shutil.copytree(sim.targets()[0].ms, ms)
    cfg = load_target_config(overrides=["phase_calibration=true"])
    sol = tmp_path / "work.phase.h5"
    convergence = phase_calibrate(ms, sim.sky_model, sol, cfg, tmp_path / "logs", Provenance(task="test"))
    # read from DP3's log: one count per solution interval, every one below maxiter on uncorrupted data
    assert convergence.n_intervals >= 1 and convergence.maxiter == cfg.phase_maxiter
    assert convergence.n_at_maxiter == 0
    assert solset_names(sol) == ["target"]
    assert list(read_h5parm(sol).soltabs) == ["phase000"]
    h5 = h5parm(str(sol))
    try:
        assert h5.getSolset("target").getSoltab("phase000").getType() == "phase"
    finally:
        h5.close()
