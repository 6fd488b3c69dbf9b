"""Applying solutions to a measurement set (``lofar-hires apply-solutions``).

The checks and the DP3 step are pure functions, tested on small solsets; then DP3
applies known solutions (diagonal amplitude and phase, one direction of several,
full-Jones) to a noiseless simulated MS, and the corrected visibilities are
compared with ``V / (g_p conj(g_q))`` (``J_p^-1 V J_q^-H`` for full Jones)
computed here. The input MS is never modified.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from merge_helpers import grid, soltab, write

from conftest import ALL_CORRUPTIONS_OFF, example_solset, tree_sha256
from lofar_hires.cli import main
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab
from lofar_hires.runners.dp3 import Dp3Run, build_parset
from lofar_hires.solutions.apply import (
    apply_solutions,
    applycal_step,
    check_direction,
    check_fulljones,
    check_stations,
    check_times,
    parse_soltabs,
    plan_apply,
    select_soltabs,
)

#: Visibilities agree to single precision (DP3 computes in complex64).
RTOL = 2e-5


# --------------------------------------------------------------------------- pure functions


def _tab(name: str, soltype: str, pols: list[str] | None = None, dirs: list[str] | None = None,
         stations: tuple[str, ...] = ("CS001HBA0", "RS106HBA"), times: np.ndarray | None = None) -> Soltab:
    axes: dict[str, np.ndarray] = {"time": np.arange(3.0) * 10 if times is None else times,
                                   "freq": np.array([1.4e8, 1.5e8]), "ant": np.array(stations)}
    if dirs is not None:
        axes["dir"] = np.array(dirs)
    if pols is not None:
        axes["pol"] = np.array(pols)
    shape = tuple(len(v) for v in axes.values())
    return Soltab(name, soltype, axes, np.ones(shape) if soltype == "amplitude" else np.zeros(shape))


@pytest.mark.parametrize("text, expected", [(None, None), ("", None), (" ", None), ("phase000", ("phase000",)),
                                            ("amplitude000, phase000", ("amplitude000", "phase000"))],
                         ids=["none", "empty", "blank", "one", "two"])
def test_parse_soltabs(text, expected):
    assert parse_soltabs(text) == expected


def test_parse_soltabs_refuses_repeats():
    with pytest.raises(InputError, match="phase000 more than once"):
        parse_soltabs("phase000,amplitude000,phase000")


def test_select_soltabs_keeps_the_requested_order_and_names_missing_ones():
    solset = example_solset(n_dir=1)
    assert [t.name for t in select_soltabs(solset, None)] == ["phase000", "amplitude000"]
    assert [t.name for t in select_soltabs(solset, ["amplitude000", "phase000"])] == ["amplitude000", "phase000"]
    with pytest.raises(InputError, match=r"no soltab tec000 in solution set sol000 \(has phase000, amplitude000\)"):
        select_soltabs(solset, ["phase000", "tec000"])


def test_check_stations_names_the_missing_stations():
    tabs = [_tab("phase000", "phase", stations=("CS001HBA0", "RS106HBA", "DE601HBA"))]
    check_stations(["CS001HBA0", "DE601HBA"], tabs)
    with pytest.raises(InputError, match=r"phase000 has no solutions for 2 station\(s\).*: CS002HBA0, FR606HBA$"):
        check_stations(["CS001HBA0", "CS002HBA0", "FR606HBA"], tabs)


def test_check_times_refuses_solutions_of_another_observation():
    tabs = [_tab("phase000", "phase", times=1000.0 + 10 * np.arange(6))]
    check_times(np.arange(995.0, 1060.0, 5.0), tabs)  # overlaps
    check_times(np.array([1060.0]), tabs)  # within one solution interval of the last
    with pytest.raises(InputError, match="another observation"):
        check_times(np.arange(2000.0, 2100.0, 10.0), tabs)
    # Time-independent solutions (no axis or one slot) apply anywhere.
    check_times(np.array([9e9]), [_tab("phase000", "phase", times=np.array([1000.0]))])


def test_check_fulljones():
    diag = [_tab("amplitude000", "amplitude", ["XX", "YY"]), _tab("phase000", "phase", ["XX", "YY"])]
    assert check_fulljones(diag) is False
    full = [_tab("amplitude000", "amplitude", ["XX", "XY", "YX", "YY"]),
            _tab("phase000", "phase", ["XX", "XY", "YX", "YY"])]
    assert check_fulljones(full) is True
    with pytest.raises(InputError, match="exactly one amplitude and one phase"):
        check_fulljones(full[:1])
    with pytest.raises(InputError, match="cannot be applied together with others"):
        check_fulljones([*full, _tab("tec000", "tec")])


def test_check_direction():
    one = [_tab("phase000", "phase", dirs=["[MODEL_DATA]"])]
    two = [_tab("phase000", "phase", dirs=["[bright01]", "[faint001]"])]
    assert check_direction(one, None) is None
    assert check_direction(one, "MODEL_DATA") == "[MODEL_DATA]"
    assert check_direction(two, "faint001") == "[faint001]"
    assert check_direction(two, "[bright01]") == "[bright01]"
    with pytest.raises(InputError, match=r"2 directions \(bright01, faint001\); give the direction to apply"):
        check_direction(two, None)
    with pytest.raises(InputError, match=r"no such direction \(has bright01, faint001\)"):
        check_direction(two, "faint002")
    with pytest.raises(InputError, match="no direction axis"):
        check_direction([_tab("phase000", "phase")], "bright01")


def test_applycal_step_per_soltab_fulljones_and_direction(tmp_path):
    h5 = tmp_path / "sol.h5"
    step = applycal_step(h5, ["amplitude000", "phase000"], False, None)
    parset = build_parset(Dp3Run(msin=Path("in.MS"), msout=Path("out.MS"), steps=[step]))
    assert f"applycal.parmdb={h5}\n" in parset
    assert "applycal.steps=[s0,s1]\napplycal.s0.correction=amplitude000\napplycal.s1.correction=phase000\n" in parset
    assert "direction" not in parset
    full = applycal_step(h5, ["amplitude000", "phase000"], True, "bright01")
    assert dict(full.options) == {"parmdb": h5, "correction": "fulljones", "soltab": ["amplitude000", "phase000"],
                                  "direction": "[bright01]"}
    with pytest.raises(InputError):
        applycal_step(h5, [], False, None)


def test_plan_apply_on_an_example_solset(tmp_path):
    solset = example_solset(n_dir=2)
    stations = solset.antenna_names[:4]
    times = solset.soltabs["phase000"].axes["time"]
    plan = plan_apply(stations, times, tmp_path / "x.h5", solset, None, "dir1")
    assert plan.soltabs == ("phase000", "amplitude000") and not plan.fulljones and plan.direction == "[dir1]"
    assert plan.step.options["direction"] == "[dir1]"
    with pytest.raises(InputError, match="give the direction to apply"):
        plan_apply(stations, times, tmp_path / "x.h5", solset)
    with pytest.raises(InputError, match="no solutions for 1 station.*: ST001"):
        plan_apply([*stations, "ST001"], times, tmp_path / "x.h5", solset, None, "dir0")


# --------------------------------------------------------------------------- DP3 on a simulated MS


@pytest.fixture(scope="module")
def ms(simulated) -> Path:
    """A noiseless tiny observation: the corrected data are an exact function of the solutions."""
    return simulated("apply_data", overrides=(*ALL_CORRUPTIONS_OFF, "calibrator.enabled=false")).targets()[0].ms



def read_main(ms: Path) -> dict[str, np.ndarray]:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        cols = {c: t.getcol(c) for c in ("DATA", "FLAG", "TIME", "ANTENNA1", "ANTENNA2")}
    with table(str(ms / "ANTENNA"), ack=False) as t:
        cols["names"] = np.array(t.getcol("NAME"))
    return cols


def row_index(values: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Index of each value on a solution axis (the solutions are on the MS grid)."""
    index = np.searchsorted(axis, values)
    assert np.allclose(axis[index], values)
    return index


def jones(g: dict, ms_cols: dict, rows_t: np.ndarray) -> np.ndarray:
    """Per row, channel and station of the baseline: the 2x2 Jones matrices ``(row, chan, 2, 2)`` of ant1, ant2."""
    ant_index = [list(g["ant"]).index(n) for n in ms_cols["names"]]
    a1 = np.array(ant_index)[ms_cols["ANTENNA1"]]
    a2 = np.array(ant_index)[ms_cols["ANTENNA2"]]
    return g["J"][rows_t, :, a1], g["J"][rows_t, :, a2]


def corrected(data: np.ndarray, j1: np.ndarray, j2: np.ndarray) -> np.ndarray:
    """``J1^-1 V J2^-H`` per row and channel; ``data`` has correlations XX, XY, YX, YY."""
    v = data.reshape(*data.shape[:2], 2, 2)
    out = np.linalg.inv(j1) @ v @ np.linalg.inv(np.conj(np.swapaxes(j2, -1, -2)))
    return out.reshape(data.shape)


def diagonal_solutions(ms: Path, rng: np.random.Generator) -> dict:
    g = grid(ms)
    nt, nf, na = len(g["time"]), len(g["freq"]), len(g["ant"])
    g["amp"] = 1 + 0.3 * rng.uniform(-1, 1, (nt, nf, na, 2))
    g["phase"] = rng.uniform(-np.pi, np.pi, (nt, nf, na, 2))
    gain = g["amp"] * np.exp(1j * g["phase"])
    g["J"] = np.zeros((nt, nf, na, 2, 2), complex)
    g["J"][..., 0, 0], g["J"][..., 1, 1] = gain[..., 0], gain[..., 1]
    return g


def test_diagonal_solutions_are_removed_exactly(ms, tmp_path):
    rng = np.random.default_rng(1)
    g = diagonal_solutions(ms, rng)
    h5 = write(tmp_path / "diag.h5", g, [
        soltab("amplitude000", "amplitude", g, ["time", "freq", "ant", "pol2"], g["amp"]),
        soltab("phase000", "phase", g, ["time", "freq", "ant", "pol2"], g["phase"])])
    before = tree_sha256(ms)
    out = tmp_path / "out" / "corrected.MS"
    plan = apply_solutions(ms, h5, out, threads=2)
    assert plan.soltabs == ("amplitude000", "phase000") and not plan.fulljones
    assert tree_sha256(ms) == before, "the input MS was modified"

    src, got = read_main(ms), read_main(out)
    np.testing.assert_array_equal(got["TIME"], src["TIME"])
    rows_t = row_index(src["TIME"], g["time"])
    want = corrected(src["DATA"], *jones(g, src, rows_t))
    assert not np.allclose(want, src["DATA"], rtol=0.1)  # the solutions change the data a lot
    np.testing.assert_allclose(got["DATA"], want, rtol=RTOL, atol=RTOL * np.abs(want).max())
    assert (out.parent / "logs" / "apply_corrected.MS.parset").is_file()


def test_one_direction_of_several_and_a_soltab_selection(ms, tmp_path):
    rng = np.random.default_rng(2)
    g = diagonal_solutions(ms, rng)
    nt, nf, na = len(g["time"]), len(g["freq"]), len(g["ant"])
    other = rng.uniform(-np.pi, np.pi, (nt, nf, na, 2, 2))  # direction dir0, must not be applied
    phases = np.stack([other[..., 0], g["phase"]], axis=3)  # (time, freq, ant, dir, pol)
    g["dir"] = np.array(["dir0", "dir1"])
    h5 = write(tmp_path / "multi.h5", g, [
        soltab("phase000", "phase", g, ["time", "freq", "ant", "dir", "pol2"], phases),
        soltab("amplitude000", "amplitude", g, ["time", "freq", "ant", "dir", "pol2"],
               np.stack([g["amp"], g["amp"]], axis=3))],
        directions={"dir0": (4.2, 0.96), "dir1": (4.24, 0.96)})
    with pytest.raises(InputError, match="give the direction to apply"):
        apply_solutions(ms, h5, tmp_path / "x.MS")
    out = tmp_path / "dir1.MS"
    plan = apply_solutions(ms, h5, out, soltabs=["phase000"], direction="dir1", threads=2)
    assert plan.direction == "[dir1]" and plan.soltabs == ("phase000",)
    src, got = read_main(ms), read_main(out)
    g["J"] = np.zeros((nt, nf, na, 2, 2), complex)
    g["J"][..., 0, 0], g["J"][..., 1, 1] = np.exp(1j * g["phase"][..., 0]), np.exp(1j * g["phase"][..., 1])
    want = corrected(src["DATA"], *jones(g, src, row_index(src["TIME"], g["time"])))
    np.testing.assert_allclose(got["DATA"], want, rtol=RTOL, atol=RTOL * np.abs(want).max())


def test_fulljones_solutions_are_removed_as_matrices(ms, tmp_path):
    rng = np.random.default_rng(3)
    g = grid(ms)
    nt, nf, na = len(g["time"]), len(g["freq"]), len(g["ant"])
    amp = np.abs(rng.normal(0, 0.2, (nt, nf, na, 4))) + np.array([1.0, 0, 0, 1.0])
    phase = rng.uniform(-np.pi, np.pi, (nt, nf, na, 4))
    g["J"] = (amp * np.exp(1j * phase)).reshape(nt, nf, na, 2, 2)
    h5 = write(tmp_path / "full.h5", g, [
        soltab("amplitude000", "amplitude", g, ["time", "freq", "ant", "pol4"], amp),
        soltab("phase000", "phase", g, ["time", "freq", "ant", "pol4"], phase)])
    out = tmp_path / "full.MS"
    plan = apply_solutions(ms, h5, out, threads=2)
    assert plan.fulljones and plan.step.options["correction"] == "fulljones"
    src, got = read_main(ms), read_main(out)
    want = corrected(src["DATA"], *jones(g, src, row_index(src["TIME"], g["time"])))
    np.testing.assert_allclose(got["DATA"], want, rtol=RTOL, atol=RTOL * np.abs(want).max())


# --------------------------------------------------------------------------- the CLI


def test_cli_writes_the_ms_with_provenance_and_history(ms, tmp_path, capsys):
    from casacore.tables import table

    g = diagonal_solutions(ms, np.random.default_rng(4))
    h5 = write(tmp_path / "sol.h5", g, [soltab("phase000", "phase", g, ["time", "freq", "ant", "pol2"],
                                               g["phase"])])
    out = tmp_path / "cal.MS"
    assert main(["apply-solutions", str(ms), "--solutions", str(h5), "-o", str(out), "--threads", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    prov = json.loads((tmp_path / "cal.MS.provenance.json").read_text())
    assert prov["task"] == "apply-solutions"
    assert prov["parameters"]["applied"] == {"soltabs": ["phase000"], "fulljones": False, "direction": None}
    assert [Path(i["path"]).name for i in prov["inputs"]] == [ms.name, "sol.h5"]
    assert prov["tool_runs"] and prov["tool_runs"][0]["exit_status"] == 0
    with table(str(out / "HISTORY"), ack=False) as t:
        assert "apply-solutions" in t.getcell("ORIGIN", t.nrows() - 1)
    # An existing output is kept unless --overwrite is given.
    assert main(["apply-solutions", str(ms), "--solutions", str(h5), "-o", str(out)]) == 2
    assert main(["apply-solutions", str(ms), "--solutions", str(h5), "-o", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize("case", ["missing_station", "missing_soltab", "missing_column", "missing_h5parm",
                                  "output_is_input"])
def test_cli_refuses_bad_inputs_with_one_line(ms, tmp_path, capsys, case):
    g = diagonal_solutions(ms, np.random.default_rng(5))
    keep = slice(None)
    if case == "missing_station":
        keep = [i for i, n in enumerate(g["ant"]) if n not in ("RS106HBA", "FR606HBA")]
    sub = dict(g, ant=g["ant"][keep], positions=g["positions"][keep])
    h5 = write(tmp_path / "sol.h5", sub, [soltab("phase000", "phase", sub, ["time", "freq", "ant", "pol2"],
                                                 g["phase"][:, :, keep])])
    args = ["apply-solutions", str(ms), "--solutions", str(h5), "-o", str(tmp_path / "out.MS")]
    expected = {"missing_station": "has no solutions for 2 station(s) of the measurement set: RS106HBA, FR606HBA",
                "missing_soltab": "no soltab amplitude000 in solution set sol000 (has phase000)",
                "missing_column": "lacks column(s) CORRECTED_DATA",
                "missing_h5parm": "does not exist",
                "output_is_input": "is the input measurement set"}[case]
    if case == "missing_soltab":
        args += ["--soltabs", "amplitude000,phase000"]
    elif case == "missing_column":
        args += ["--data-column", "CORRECTED_DATA"]
    elif case == "missing_h5parm":
        args[3] = str(tmp_path / "nothing.h5")
    elif case == "output_is_input":
        args[-1] = str(ms)
    before = tree_sha256(ms)
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and expected in errors[0], errors
    assert not (tmp_path / "out.MS").exists()
    assert tree_sha256(ms) == before
