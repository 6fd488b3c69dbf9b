"""The DP3 step builders, the solve-mode table, interval rounding, and the rule that no other
module writes a DP3 parset key."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lofar_hires.errors import InputError
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3 import Dp3Run, build_parset
from lofar_hires.runners.dp3_steps import Correction

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "lofar_hires"
BUILDERS = {PACKAGE / "runners" / "dp3.py", PACKAGE / "runners" / "dp3_steps.py"}

#: Parset keys that mean DP3 and nothing else in this code base.
DP3_KEYS = {"solint", "nchan", "parmdb", "phasecenter", "modeldatacolumns", "sourcedb", "uvlambdamin",
            "smoothnessconstraint", "smoothnessreffrequency", "antennaconstraint", "timestep", "freqstep",
            "datacolumn", "beammode", "propagatesolutions", "maxiter", "numthreads", "msin", "msout"}


#: Modules that write CWL job files, whose input names (``msin``) coincide with DP3 keys; no DP3 parset is made there.
CWL_JOB_BUILDERS = {PACKAGE / "chain" / "modules.py"}


def dp3_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every Dp3Step/Dp3Run construction and DP3 key written in a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("Dp3Step", "Dp3Run"):
                found.append((node.lineno, f"{name}(...)"))
            if name == "dict":
                found += [(node.lineno, k.arg) for k in node.keywords if k.arg in DP3_KEYS]
        keys = []
        if isinstance(node, ast.Dict):
            keys = [k for k in node.keys if isinstance(k, ast.Constant)]
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys = [node.slice]
        found += [(k.lineno, k.value) for k in keys if isinstance(k.value, str) and k.value in DP3_KEYS]
    return found


def test_only_the_builder_module_writes_dp3_keys() -> None:
    offenders = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module in BUILDERS or module in CWL_JOB_BUILDERS or "__pycache__" in module.parts:
            continue
        offenders += [f"{module.relative_to(PACKAGE)}:{line} {what}"
                      for line, what in dp3_writes(ast.parse(module.read_text()))]
    assert not offenders, "DP3 steps built outside runners/dp3_steps.py:\n" + "\n".join(offenders)


def test_the_scan_sees_a_hand_written_step() -> None:
    source = ('from lofar_hires.runners.dp3 import Dp3Step\n'
              'options = {"solint": 4}\noptions["nchan"] = 1\nstep = Dp3Step("s", "ddecal", dict(maxiter=5))\n')
    assert sorted(what for _, what in dp3_writes(ast.parse(source))) == ["Dp3Step(...)", "maxiter", "nchan", "solint"]


@pytest.mark.parametrize(("interval_s", "integration_s", "slots"),
                         [(60.0, 8.0, 8), (64.0, 8.0, 8), (68.0, 8.0, 9), (3.0, 8.0, 1), (10.0, 0.0, 1),
                          (120.0, 1.001, 120)])
def test_time_slots_round_to_the_nearest_whole_integration(interval_s, integration_s, slots) -> None:
    assert dp3_steps.time_slots(interval_s, integration_s) == slots


@pytest.mark.parametrize(("interval_hz", "width_hz", "n_chan", "min_out", "step"),
                         [(195312.5, 48828.125, 16, 1, 4), (195312.5, 48828.125, 6, 1, 3),
                          (1e6, 48828.125, 8, 2, 4), (1e6, 48828.125, 7, 1, 7), (1e6, 48828.125, 7, 2, 1),
                          (10.0, 48828.125, 8, 1, 1), (1e6, 0.0, 8, 1, 1)])
def test_freq_channels_divide_the_band(interval_hz, width_hz, n_chan, min_out, step) -> None:
    got = dp3_steps.freq_channels(interval_hz, width_hz, n_chan, min_out=min_out)
    assert got == step
    assert n_chan % got == 0 and n_chan // got >= min(min_out, n_chan)


def parset_of(*steps) -> str:
    return build_parset(Dp3Run(msin=Path("in.ms"), msout=None, steps=list(steps)))


def test_ddecal_against_a_model_column() -> None:
    step = dp3_steps.ddecal("diagonal", Path("s.h5"), solint_slots=4, nchan=2, minuv_lambda=300.0, maxiter=50,
                            tolerance=1e-4, model_columns=["MODEL_DATA"], smoothness_hz=2e6,
                            smoothness_ref_hz=1.5e8, antenna_constraint=[["CS001HBA0", "CS002HBA0"]])
    text = parset_of(step)
    for line in ("solve.type=ddecal", "solve.mode=diagonal", "solve.h5parm=s.h5", "solve.solint=4",
                 "solve.nchan=2", "solve.modeldatacolumns=[MODEL_DATA]", "solve.smoothnessconstraint=2000000.0",
                 "solve.smoothnessreffrequency=150000000.0", "solve.antennaconstraint=[[CS001HBA0,CS002HBA0]]",
                 "solve.maxiter=50", "solve.tolerance=0.0001"):
        assert line in text.splitlines(), line


def test_ddecal_against_a_sky_model_with_directions() -> None:
    step = dp3_steps.ddecal("scalarphase", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                            sourcedb=Path("m.skymodel"), directions=[["p1", "p2"], ["p3"]],
                            propagate_solutions=False)
    text = parset_of(step).splitlines()
    assert "solve.sourcedb=m.skymodel" in text and "solve.directions=[[p1,p2],[p3]]" in text
    assert "solve.propagatesolutions=false" in text and not any("modeldatacolumns" in t for t in text)


def test_ddecal_refuses_bad_requests() -> None:
    with pytest.raises(InputError, match="unknown solve mode 'phaseonly'"):
        dp3_steps.ddecal("phaseonly", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                         model_columns=["MODEL_DATA"])
    with pytest.raises(InputError, match="either model columns or a sky model"):
        dp3_steps.ddecal("scalarphase", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0)
    with pytest.raises(InputError, match="solint >= 1"):
        dp3_steps.ddecal("scalarphase", Path("s.h5"), solint_slots=0, nchan=1, minuv_lambda=0.0,
                         model_columns=["MODEL_DATA"])


def test_smoothness_only_where_ddecal_applies_it() -> None:
    step = dp3_steps.ddecal("tec", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                            model_columns=["MODEL_DATA"], smoothness_hz=1e6)
    assert "smoothnessconstraint" not in step.options


def test_solve_mode_table_is_consistent() -> None:
    for name, mode in dp3_steps.SOLVE_MODES.items():
        assert mode.dp3_mode == name
        assert mode.n_pol in (1, 2, 4) and mode.soltabs
        assert mode.fulljones == (mode.n_pol == 4)
        assert mode.amplitude == any(t.startswith("amplitude") for t in mode.soltabs)


def test_corrections_remove_outermost_first_and_corrupt_with_setbeam() -> None:
    corrections = [Correction(Path("a.h5"), ("polalign",)), Correction.station_beam(),
                   Correction(Path("b.h5"), ("amplitude000", "phase000"), fulljones=True, solset="target",
                              direction="[dir1]")]
    text = parset_of(*dp3_steps.correction_steps(corrections)).splitlines()
    assert "steps=[cal0,beam1,cal2]" in text
    assert "cal0.steps=[s0]" in text and "cal0.s0.correction=polalign" in text
    assert "cal2.correction=fulljones" in text and "cal2.soltab=[amplitude000,phase000]" in text
    assert "cal2.solset=target" in text and "cal2.direction=[dir1]" in text
    assert not any(t.startswith("cal0.invert") for t in text)
    corrupt = parset_of(*dp3_steps.correction_steps([Correction.station_beam(),
                                                     Correction(Path("f.h5"), ("faraday",))], corrupt=True))
    lines = corrupt.splitlines()
    assert "steps=[setbeam0,beam0,cal1]" in lines
    assert "setbeam0.beammode=full" in lines and "beam0.invert=false" in lines and "cal1.invert=false" in lines


def test_averaging_phaseshift_phaseup() -> None:
    timestep, freqstep, steps = dp3_steps.averaging(2.0, 48828.125, 8, 8.0, 195312.5)
    assert (timestep, freqstep) == (4, 4) and steps[0].options == {"timestep": 4, "freqstep": 4}
    assert dp3_steps.averaging(8.0, 195312.5, 8, 8.0, 195312.5)[2] == []
    shift = dp3_steps.phaseshift(123.4, 56.7)
    assert shift.options["phasecenter"] == ["123.4000000000deg", "56.7000000000deg"]
    adder, drop = dp3_steps.phaseup(["CS001HBA0", "CS002HBA0"], "ST001")
    assert adder.options["stations"] == "{ST001:[CS001HBA0,CS002HBA0]}"
    assert drop.options == {"baseline": "!CS001HBA0,CS002HBA0&&*", "remove": True}
    assert dp3_steps.phaseup([], "ST001") == []


def test_predict_needs_an_existing_model(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        dp3_steps.predict(tmp_path / "none.skymodel")


def test_ddecal_step_size() -> None:
    step = dp3_steps.ddecal("diagonal", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                            model_columns=["MODEL_DATA"], step_size=0.5)
    assert "solve.stepsize=0.5" in parset_of(step).splitlines()
    default = dp3_steps.ddecal("diagonal", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                               model_columns=["MODEL_DATA"])
    assert "stepsize" not in parset_of(default)
    with pytest.raises(InputError, match=r"step size must be in \(0, 1\], got 1.5"):
        dp3_steps.ddecal("diagonal", Path("s.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                         model_columns=["MODEL_DATA"], step_size=1.5)
