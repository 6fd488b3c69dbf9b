"""Merge semantics on synthetic solutions: grids, weights, antennas, directions, bases, errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from lofar_hires.errors import InputError, OutputExistsError
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.solutions.merge import MergeInput, MergeOptions, merge_h5parms

ANTS = ["CS002HBA0", "RS106HBA", "DE601HBA"]
POS = np.arange(9.0).reshape(3, 3)
T = np.arange(0.0, 90.0, 10.0)
F = np.array([120e6, 130e6, 140e6])


def _h5(path, tabs, ants=ANTS, directions=None):
    return write_h5parm(path, tabs, ants, POS[: len(ants)], directions)


def _phase(values, axes):
    return Soltab("phase000", "phase", axes, values)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_single_input_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    ph = rng.uniform(-np.pi, np.pi, (9, 3, 3, 2))
    amp = rng.uniform(0.5, 1.5, (9, 3, 3, 2))
    axes = {"time": T, "freq": F, "ant": np.array(ANTS), "pol": np.array(["XX", "YY"])}
    a = _h5(tmp_path / "a.h5", [Soltab("amplitude000", "amplitude", axes, amp), Soltab("phase000", "phase", axes, ph)])
    merge_h5parms([MergeInput(a)], tmp_path / "m.h5")
    out = read_h5parm(tmp_path / "m.h5")
    np.testing.assert_allclose(out.soltabs["amplitude000"].val, amp, atol=1e-12)
    np.testing.assert_allclose(np.angle(np.exp(1j * (out.soltabs["phase000"].val - ph))), 0, atol=1e-12)
    assert out.soltabs["phase000"].axis_names == ["time", "freq", "ant", "pol"]


def test_phases_add_amplitudes_multiply_tec_and_clock_become_phase(tmp_path):
    axes = {"time": T, "ant": np.array(ANTS)}
    a = _h5(tmp_path / "a.h5", [_phase(np.full((9, 3), 0.3), axes), Soltab("amplitude000", "amplitude", axes,
                                                                          np.full((9, 3), 2.0))])
    b = _h5(tmp_path / "b.h5", [Soltab("tec000", "tec", axes, np.full((9, 3), 0.01)),
                                Soltab("clock000", "clock", axes, np.full((9, 3), 1e-9)),
                                Soltab("amplitude000", "amplitude", axes, np.full((9, 3), 0.5))])
    c = _h5(tmp_path / "c.h5", [_phase(np.full((9, 3, 3), 0.1), {"time": T, "freq": F, "ant": np.array(ANTS)})])
    summary = merge_h5parms([MergeInput(a), MergeInput(b), MergeInput(c)], tmp_path / "m.h5")
    assert summary.kind == "scalar"
    out = read_h5parm(tmp_path / "m.h5")
    phase = out.soltabs["phase000"]
    assert phase.axis_names == ["time", "freq", "ant"]
    expect = 0.3 + 0.1 - 8.44797245e9 * 0.01 / F + 2 * np.pi * F * 1e-9
    np.testing.assert_allclose(np.exp(1j * phase.val), np.exp(1j * expect)[None, :, None] * np.ones((9, 3, 3)),
                               atol=1e-12)
    np.testing.assert_allclose(out.soltabs["amplitude000"].val, 1.0)


def test_interpolation_onto_a_finer_grid_and_back(tmp_path):
    coarse = np.arange(0.0, 90.0, 30.0)
    fine = np.arange(0.0, 70.0, 10.0)  # contains every coarse point
    vals = np.array([[3.1], [-3.1], [0.5]]) * np.ones((3, 3))  # crosses the +-pi wrap
    a = _h5(tmp_path / "a.h5", [_phase(vals, {"time": coarse, "ant": np.array(ANTS)})])
    grid = _h5(tmp_path / "grid.h5", [_phase(np.zeros((7, 3)), {"time": fine, "ant": np.array(ANTS)})])
    up = tmp_path / "up.h5"
    merge_h5parms([MergeInput(a)], up, MergeOptions(interpolation="linear", time_grid=str(grid)))
    upv = read_h5parm(up).soltabs["phase000"].val
    assert len(upv) == 7
    # Halfway between 3.1 and -3.1 the phase is pi (through the wrap), not 0.
    assert abs(abs(upv[1, 0]) - np.pi) < 0.05 + 1e-9 and abs(abs(upv[2, 0]) - np.pi) < 0.05 + 1e-9
    back = tmp_path / "back.h5"
    merge_h5parms([MergeInput(up)], back, MergeOptions(time_grid=str(a)))
    np.testing.assert_allclose(np.angle(np.exp(1j * (read_h5parm(back).soltabs["phase000"].val - vals))), 0,
                               atol=1e-6)


def test_flagged_input_flags_output(tmp_path):
    axes = {"time": T, "ant": np.array(ANTS)}
    w = np.ones((9, 3))
    w[4, 1] = 0
    a = _h5(tmp_path / "a.h5", [Soltab("phase000", "phase", axes, np.zeros((9, 3)), w)])
    b = _h5(tmp_path / "b.h5", [_phase(np.zeros((9, 3)), axes)])
    summary = merge_h5parms([MergeInput(b), MergeInput(a)], tmp_path / "m.h5")
    out = read_h5parm(tmp_path / "m.h5").soltabs["phase000"]
    assert out.weight[4, 1] == 0 and np.count_nonzero(out.weight == 0) == 1
    assert summary.flagged_fraction == pytest.approx(1 / 27)
    linear = tmp_path / "lin.h5"
    grid = _h5(tmp_path / "g.h5", [_phase(np.zeros((17, 3)), {"time": np.arange(0.0, 85.0, 5.0),
                                                                   "ant": np.array(ANTS)})])
    merge_h5parms([MergeInput(a)], linear, MergeOptions(interpolation="linear", time_grid=str(grid)))
    lw = read_h5parm(linear).soltabs["phase000"].weight
    assert list(np.flatnonzero(lw[:, 1] == 0)) == [7, 8, 9]  # 35, 40, 45 s use the flagged 40 s point


def test_missing_antenna_gets_identity_with_warning(tmp_path, caplog):
    axes2 = {"time": T, "ant": np.array(ANTS[:2])}
    a = _h5(tmp_path / "a.h5", [_phase(np.full((9, 2), 0.2), axes2)], ants=ANTS[:2])
    b = _h5(tmp_path / "b.h5", [_phase(np.full((9, 3), 0.1), {"time": T, "ant": np.array(ANTS)})])
    summary = merge_h5parms([MergeInput(a), MergeInput(b)], tmp_path / "m.h5")
    out = read_h5parm(tmp_path / "m.h5")
    assert out.antenna_names == ANTS
    np.testing.assert_allclose(out.soltabs["phase000"].val[:, :2], 0.3)
    np.testing.assert_allclose(out.soltabs["phase000"].val[:, 2], 0.1)
    assert any("DE601HBA" in w for w in summary.warnings)
    assert "identity used" in caplog.text


def test_directions_matched_by_name_and_di_broadcast(tmp_path):
    dirs = {"s1": (2 * np.pi - 0.5, 0.9), "s2": (1.0, 0.8)}
    ax = {"time": T, "ant": np.array(ANTS)}
    a = _h5(tmp_path / "a.h5", [_phase(np.stack([np.full((9, 3), 0.1), np.full((9, 3), 0.2)], -1),
                                       {**ax, "dir": np.array(["s1", "s2"])})], directions=dirs)
    rev = {"s2": dirs["s2"], "s1": dirs["s1"]}
    b = _h5(tmp_path / "b.h5", [_phase(np.stack([np.full((9, 3), 2.0), np.full((9, 3), 1.0)], -1),
                                       {**ax, "dir": np.array(["s2", "s1"])})], directions=rev)
    c = _h5(tmp_path / "c.h5", [_phase(np.full((9, 3, 1), 0.05), {**ax, "dir": np.array(["pointing"])})],
            directions={"pointing": (0.1, 0.9)})
    merge_h5parms([MergeInput(a), MergeInput(b), MergeInput(c)], tmp_path / "m.h5")
    out = read_h5parm(tmp_path / "m.h5")
    assert list(out.directions) == ["[s1]", "[s2]"]
    assert out.directions["[s1]"][0] == pytest.approx(-0.5)  # RA in (-pi, pi]
    ph = out.soltabs["phase000"]
    np.testing.assert_allclose(ph.val[..., 0], 0.1 + 1.0 + 0.05)
    np.testing.assert_allclose(ph.val[..., 1], 0.2 + 2.0 + 0.05)


@pytest.mark.parametrize("problem", ["clash", "sets", "basis", "axes", "junk", "no-freq", "kind"])
def test_bad_inputs_refused_without_output(tmp_path, problem):
    ax = {"time": T, "ant": np.array(ANTS)}
    a = _h5(tmp_path / "a.h5", [_phase(np.zeros((9, 3, 2)), {**ax, "dir": np.array(["s1", "s2"])})],
            directions={"s1": (0.1, 0.9), "s2": (0.2, 0.9)})
    pol = {**ax, "pol": np.array(["XX", "YY"])}
    if problem == "clash":
        b = _h5(tmp_path / "b.h5", [_phase(np.zeros((9, 3, 2)), {**ax, "dir": np.array(["s1", "s2"])})],
                directions={"s1": (0.1, 0.9), "s2": (0.3, 0.9)})
        message = r"direction \[s2\] is at different positions"
    elif problem == "sets":
        b = _h5(tmp_path / "b.h5", [_phase(np.zeros((9, 3, 2)), {**ax, "dir": np.array(["s1", "s3"])})],
                directions={"s1": (0.1, 0.9), "s3": (0.3, 0.9)})
        message = "different direction sets"
    elif problem == "basis":
        a = _h5(tmp_path / "lin.h5", [_phase(np.zeros((9, 3, 2)), pol)])
        b = _h5(tmp_path / "circ.h5", [_phase(np.zeros((9, 3, 2)), {**ax, "pol": np.array(["RR", "LL"])})])
        message = "lin.h5 .* is linear and .*circ.h5 .* is circular"
    elif problem == "axes":
        import h5py

        b = _h5(tmp_path / "b.h5", [_phase(np.zeros((9, 3)), ax)])
        with h5py.File(b, "a") as f:
            f["sol000/phase000/val"].attrs["AXES"] = np.bytes_(b"time,station")
        message = "unknown axes"
    elif problem == "junk":
        b = tmp_path / "b.h5"
        b.write_bytes(a.read_bytes()[:1000])
        message = "not a readable h5parm"
    elif problem == "no-freq":
        b = _h5(tmp_path / "b.h5", [Soltab("tec000", "tec", ax, np.zeros((9, 3)))])
        message = "need frequencies"
    else:
        b = _h5(tmp_path / "b.h5", [_phase(np.zeros((9, 3, 2)), pol)])
        message = "cannot write them as scalar"
    before = {p: _sha(p) for p in (a, b)}
    out = tmp_path / "m.h5"
    opts = MergeOptions(output_kind="scalar") if problem == "kind" else MergeOptions()
    with pytest.raises(InputError, match=message):
        merge_h5parms([MergeInput(a), MergeInput(b)], out, opts)
    assert not out.exists() and not list(tmp_path.glob(".m.h5.partial*"))
    assert {p: _sha(p) for p in (a, b)} == before


def test_existing_output_and_provenance(tmp_path):
    a = _h5(tmp_path / "a.h5", [_phase(np.zeros((9, 3)), {"time": T, "ant": np.array(ANTS)})])
    out = tmp_path / "m.h5"
    merge_h5parms([MergeInput(a)], out)
    with pytest.raises(OutputExistsError):
        merge_h5parms([MergeInput(a)], out)
    prov = json.loads(read_h5parm(out).attrs["lofar_hires_provenance"])
    assert prov["task"] == "h5 merge" and prov["package_version"]
    assert prov["inputs"][0]["sha256"] == _sha(a)
    merge_h5parms([MergeInput(a)], out, overwrite=True)


def test_soltab_selection_and_spec_parsing(tmp_path):
    spec = MergeInput.parse("x.h5:sol001/phase000,amplitude000")
    assert spec.solset == "sol001" and spec.soltabs == ("phase000", "amplitude000")
    assert MergeInput.parse("x.h5").soltabs is None
    ax = {"time": T, "ant": np.array(ANTS)}
    a = _h5(tmp_path / "a.h5", [_phase(np.full((9, 3), 0.4), ax), Soltab("tec000", "tec", ax, np.ones((9, 3)))])
    merge_h5parms([MergeInput.parse(f"{a}:sol000/phase000")], tmp_path / "m.h5")
    np.testing.assert_allclose(read_h5parm(tmp_path / "m.h5").soltabs["phase000"].val, 0.4)
    with pytest.raises(InputError, match="no soltab 'amplitude001'"):
        merge_h5parms([MergeInput.parse(f"{a}:sol000/amplitude001")], tmp_path / "n.h5")
