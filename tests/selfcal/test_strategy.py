"""Strategy schema, solution intervals, DP3 step builders and solve post-processing (no external tools)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.errors import InputError, QualityError, exit_status
from lofar_hires.io.h5parm import Solset, Soltab
from lofar_hires.io.ms import MsInfo
from lofar_hires.selfcal.engine import effective_rule
from lofar_hires.selfcal.solves import ddecal_step, finish_solution, normalise_amplitudes, plan_prepare
from lofar_hires.selfcal.strategy import (
    ImagingSpec,
    PrepareSpec,
    SolveSpec,
    Strategy,
    load_strategy,
    shipped_strategies,
    solint_channels,
    solint_slots,
)
from lofar_hires.solutions.stations import load_station_groups

STATIONS = ("CS001HBA0", "CS002HBA0", "CS003HBA0", "RS106HBA", "RS509HBA", "DE601HBA", "IE613HBA")


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "strategy.yaml"
    path.write_text(text)
    return path


def ms_info(integration_s: float = 8.0, n_chan: int = 20, width_hz: float = 195312.5) -> MsInfo:
    return MsInfo(path=Path("obs.ms"), station_names=STATIONS, station_positions_m=np.zeros((len(STATIONS), 3)),
                  freqs_hz=140e6 + width_hz * np.arange(n_chan), chan_width_hz=width_hz,
                  times_mjd_s=np.arange(450) * integration_s, integration_s=integration_s,
                  phase_centre_rad=(1.0, 0.9), n_rows=0, columns=("DATA",))


def test_shipped_delay_strategy_loads_with_the_documented_recipe():
    assert "delay" in shipped_strategies()
    strategy = load_strategy("delay")
    assert [s.soltype for s in strategy.solves] == ["scalarphase", "scalarphase", "scalarphase", "scalarcomplexgain"]
    assert strategy.solves[0].reset == "dutch" and strategy.solves[1].reset == "core"
    assert strategy.solves[3].start_cycle == 2
    assert strategy.prepare.phaseup_core and strategy.stopping.phase_stability_rad == 0.1


def test_overrides_reach_list_items():
    strategy = load_strategy("delay", ["solves.0.solint_s=16", "stopping.max_cycles=6", "imaging.size_pix=128"])
    assert strategy.solves[0].solint_s == 16.0 and strategy.solves[1].solint_s == 32.0
    assert strategy.stopping.max_cycles == 6 and strategy.imaging.size_pix == 128
    with pytest.raises(InputError, match="not an index"):
        load_strategy("delay", ["solves.9.solint_s=16"])


@pytest.mark.parametrize("text, message", [
    ("solves: [{soltype: phasediffx}]", "phasediffx"),
    ("solves: [{soltype: scalarphase, solint_s: -8}]", "below the minimum"),
    ("solves: [{soltype: scalarphase, solint_s: 0}]", "must be positive"),
    ("solves: [{soltype: scalarphase, solint_s: 8, solint_min: 1}]", "unknown option solves.0.solint_min"),
    ("solves: [{soltype: scalarphase, min_solint_s: 60, max_solint_s: 30}]", r"solves.0.max_solint_s \(solve1\)"),
    ("solves: []", "no solves"),
    ("solves: [{soltype: scalarphase, start_cycle: 1}]", "no solve starts in cycle 0"),
    ("solves: [{soltype: scalarphase}, {soltype: scalar, start_cycle: 5}]\nstopping: {max_cycles: 6}",
     "at least 7 cycles"),
    ("solves: [{soltype: scalarphase, solnt: 3}]", "unknown option"),
    ("solves: [{soltype: scalarphase}]\nstopping: {min_cycles: 5, max_cycles: 3}", "max_cycles"),
    ("solves: [{soltype: scalarphase\n", "invalid YAML"),
    ("solves: [{soltype: scalarphase}]\nimaging: {model_filter_sigma: 8, model_filter_boundary_sigma: 9}",
     r"imaging.model_filter_boundary_sigma is 9: it must be positive and at most imaging.model_filter_sigma \(8\)"),
    ("solves: [{soltype: scalarphase}]\nimaging: {model_filter_sigma: 8, model_filter_boundary_sigma: 0}",
     "model_filter_boundary_sigma is 0"),
    ("solves: [{soltype: scalarphase}]\nimaging: {model_filter_box_pix: 1}", "model_filter_box_pix"),
])
def test_bad_strategies_are_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_strategy(write_yaml(tmp_path, text))


def test_unknown_strategy_name_lists_the_shipped_ones():
    with pytest.raises(InputError, match="delay"):
        load_strategy("no_such_strategy")


@pytest.mark.parametrize("spec, integration_s, n_times, slots", [
    (SolveSpec(soltype="scalarphase", solint_s=32.0), 8.0, 100, 4),
    (SolveSpec(soltype="scalarphase", solint_s=30.0), 8.0, 100, 4),   # 3.75 -> 4
    (SolveSpec(soltype="scalarphase", solint_s=27.0), 8.0, 100, 3),   # 3.375 -> 3
    (SolveSpec(soltype="scalarphase", solint_s=120.0), 16.0, 100, 8),
    (SolveSpec(soltype="scalarphase", solint_s=4.0), 8.0, 100, 1),    # never below one integration
    (SolveSpec(soltype="scalarphase"), 8.0, 100, 1),
    (SolveSpec(soltype="scalarphase", solint_s=10.0, min_solint_s=32.0), 8.0, 100, 4),
    (SolveSpec(soltype="scalarphase", solint_s=10.0, min_solint_s=28.0), 8.0, 100, 4),  # 3.5 -> 4
    (SolveSpec(soltype="scalarphase", solint_s=10.0, min_solint_s=27.0), 8.0, 100, 4),  # 3.375 -> 3 < min -> 4
    (SolveSpec(soltype="scalarphase", solint_s=1800.0, max_solint_s=180.0), 8.0, 100, 22),  # 22.5 -> 23 > max
    (SolveSpec(soltype="scalarphase", solint_s=36000.0), 8.0, 100, 100),  # at most the whole observation
])
def test_solution_interval_is_clipped_and_rounded_to_integrations(spec, integration_s, n_times, slots):
    assert solint_slots(spec, integration_s, n_times) == slots


def test_soltype_aliases_and_combined_types_map_to_ddecal_modes():
    assert SolveSpec(soltype="scalar").modes == ("scalar",)
    assert SolveSpec(soltype="scalarcomplexgain").modes == ("scalar",)
    assert SolveSpec(soltype="diagonal").modes == ("diagonal",)
    assert SolveSpec(soltype="rotation+diagonal").modes == ("rotation", "diagonal")


@pytest.mark.parametrize("solint_hz, chan_width_hz, n_chan, channels", [
    (None, 195312.5, 20, 1),          # null: one channel
    (390625.0, 195312.5, 20, 2),
    (300000.0, 195312.5, 20, 2),      # 1.54 -> 2 (and 2 divides 20)
    (1.0e9, 195312.5, 20, 20),        # more than the band: one solution over the band
    (50000.0, 195312.5, 20, 1),       # never below one channel
])
def test_frequency_interval_is_rounded_to_channels(solint_hz, chan_width_hz, n_chan, channels):
    spec = SolveSpec(soltype="scalarphase", solint_hz=solint_hz)
    assert solint_channels(spec, chan_width_hz, n_chan) == channels


def test_ddecal_step_options():
    spec = SolveSpec(soltype="scalarphase", smoothness_hz=1.25e6, smoothness_ref_hz=120.0e6, minuv_lambda=20000.0,
                     solint_hz=390625.0)
    step = ddecal_step("scalarphase", Path("s.h5"), spec, 4, 2, [["RS106HBA", "RS509HBA"]])
    assert step.type == "ddecal"
    opts = step.options
    assert opts["mode"] == "scalarphase" and opts["solint"] == 4 and opts["nchan"] == 2
    assert opts["smoothnessconstraint"] == pytest.approx(1.25e6)
    assert opts["smoothnessreffrequency"] == pytest.approx(120e6)
    assert opts["uvlambdamin"] == 20000.0 and opts["modeldatacolumns"] == ["MODEL_DATA"]
    assert opts["antennaconstraint"] == [["RS106HBA", "RS509HBA"]]
    plain = ddecal_step("scalar", Path("s.h5"), SolveSpec(soltype="scalar"), 1, 1).options
    assert "smoothnessconstraint" not in plain and "antennaconstraint" not in plain


def test_prepare_plan_shifts_averages_and_phases_up_the_core():
    groups = load_station_groups()
    prepare = PrepareSpec(time_resolution_s=16.0, freq_resolution_hz=390625.0, phaseup_core=True)
    plan = plan_prepare(ms_info(), prepare, groups, (243.2, 55.0))
    assert [s.type for s in plan.steps] == ["phaseshift", "averager", "stationadder", "filter"]
    assert plan.timestep == 2 and plan.freqstep == 2
    assert plan.core == ("CS001HBA0", "CS002HBA0", "CS003HBA0")
    assert plan.stations_after == ("RS106HBA", "RS509HBA", "DE601HBA", "IE613HBA", "ST001")
    assert plan.steps[2].options["stations"] == "{ST001:[CS001HBA0,CS002HBA0,CS003HBA0]}"
    plain = plan_prepare(ms_info(), PrepareSpec(), groups)
    assert plain.steps == () and plain.stations_after == STATIONS
    # 20 channels cannot be averaged by 3: the step falls back to a divisor (2)
    odd = plan_prepare(ms_info(), PrepareSpec(freq_resolution_hz=3 * 195312.5), groups)
    assert odd.freqstep == 2


def test_prepare_refuses_a_core_of_one_station():
    info = ms_info()
    one_core = MsInfo(**{**info.__dict__, "station_names": ("CS001HBA0", "RS106HBA", "DE601HBA")})
    with pytest.raises(InputError, match="at least two"):
        plan_prepare(one_core, PrepareSpec(phaseup_core=True), load_station_groups())


def _solset(values: np.ndarray, weights: np.ndarray | None = None, soltype: str = "phase") -> Solset:
    ants = np.array(STATIONS)
    axes = {"time": np.arange(values.shape[0], dtype=float), "freq": np.array([1.4e8, 1.5e8]), "ant": ants}
    weights = np.ones_like(values) if weights is None else weights
    name = "phase000" if soltype == "phase" else "amplitude000"
    tab = Soltab(name, soltype, axes, values, weights)
    return Solset("sol000", list(ants), np.zeros((len(ants), 3)), {}, {name: tab})


def test_finish_solution_resets_groups_to_exact_identity():
    rng = np.random.default_rng(1)
    phases = rng.normal(0, 1, (5, 2, len(STATIONS)))
    out = finish_solution(_solset(phases), "scalarphase", SolveSpec(soltype="scalarphase"),
                          ["CS001HBA0", "CS002HBA0", "CS003HBA0"], "test")
    val = out.soltabs["phase000"].val
    assert np.all(val[:, :, :3] == 0.0)
    # the others are made relative to the reset group's circular mean first (DDECal's common phase offset is
    # arbitrary; one station of the group would pass its own fluctuations on)
    group_mean = np.angle(np.exp(1j * phases[:, :, :3]).sum(axis=-1, keepdims=True))
    expected = np.angle(np.exp(1j * (phases[:, :, 3:] - group_mean)))
    np.testing.assert_allclose(val[:, :, 3:], expected, atol=1e-12)


def test_amplitudes_are_normalised_before_the_reset():
    amps = np.full((4, 2, len(STATIONS)), 2.0)
    amps[:, :, -1] = 8.0
    out = finish_solution(_solset(amps, soltype="amplitude"), "scalar", SolveSpec(soltype="scalar"), ["CS001HBA0"],
                          "test")
    val = out.soltabs["amplitude000"].val
    assert np.all(val[:, :, 0] == 1.0)  # reset after normalising: exactly one
    geometric_mean = np.exp(np.mean(np.log(amps)))
    np.testing.assert_allclose(val[:, :, 1:], amps[:, :, 1:] / geometric_mean)
    kept = finish_solution(_solset(amps, soltype="amplitude"), "scalar",
                           SolveSpec(soltype="scalar", normalize_amplitudes=False), [], "test")
    np.testing.assert_array_equal(kept.soltabs["amplitude000"].val, amps)
    assert normalise_amplitudes(_solset(np.zeros((2, 2, 7)), soltype="amplitude").soltabs["amplitude000"])[1] == 1.0


def test_each_direction_has_its_own_amplitude_scale():
    """A direction whose amplitudes ran off (3 towards a poorly modelled calibrator) must not rescale the others."""
    rng = np.random.default_rng(3)
    shape = (4, 2, len(STATIONS), 2)
    amps = np.exp(rng.normal(0, 0.05, shape))
    amps[..., 1] *= 3.0
    axes = {"time": np.arange(4.0), "freq": np.array([1.4e8, 1.5e8]), "ant": np.array(STATIONS),
            "dir": np.array(["[good]", "[poor]"])}
    weights = np.ones(shape)
    weights[0, 0, 0, 0] = 0.0  # a flagged value does not count
    tab, worst = normalise_amplitudes(Soltab("amplitude000", "amplitude", axes, amps, weights))
    for d in range(2):
        good = weights[..., d] > 0
        np.testing.assert_allclose(np.exp(np.mean(np.log(tab.val[..., d][good]))), 1.0, rtol=1e-12)
    np.testing.assert_allclose(tab.val[..., 0] / amps[..., 0], tab.val[0, 0, 1, 0] / amps[0, 0, 1, 0])
    assert worst == pytest.approx(3.0, rel=0.05)


def test_a_solve_without_any_usable_solution_fails_the_cycle_as_a_quality_failure():
    phases = np.full((3, 2, len(STATIONS)), np.nan)
    with pytest.raises(QualityError, match="no usable solution"):
        finish_solution(_solset(phases), "scalarphase", SolveSpec(soltype="scalarphase", minuv_lambda=1e9), [],
                        "cycle 1, phase")
    # finite values that are all flagged: DP3's output check passes them, this one does not
    flagged = _solset(np.zeros((3, 2, len(STATIONS))), weights=np.zeros((3, 2, len(STATIONS))))
    with pytest.raises(QualityError, match="minuv_lambda") as info:
        finish_solution(flagged, "scalarphase", SolveSpec(soltype="scalarphase"), [], "cycle 1, phase")
    assert exit_status(info.value) == 4


def test_stopping_waits_until_the_last_solve_type_was_judged_by_an_image():
    strategy = Strategy(solves=[SolveSpec(soltype="scalarphase"), SolveSpec(soltype="scalar", start_cycle=3)],
                        imaging=ImagingSpec())
    assert effective_rule(strategy).min_cycles == 5
    early = Strategy(solves=[SolveSpec(soltype="scalarphase")])
    assert effective_rule(early).min_cycles == early.stopping.min_cycles


# --------------------------------------------------------------------------- names that become file names

#: Hostile solve names -> the file-name component they become.
HOSTILE_SOLVE_NAMES = {
    "../x": "x",
    "/abs": "abs",
    "/etc/passwd": "etc_passwd",
    "a/b": "a_b",
    "..\\\\..\\\\win": "win",
    "nul\\0byte": "nul_byte",
    "y" * 300: None,  # shortened to 80 characters with a hash of the full name
}


def _yaml_solves(names: list[str]) -> str:
    import json

    solves = ", ".join(f"{{name: {json.dumps(n)}, soltype: scalarphase}}" for n in names)
    return f"solves: [{solves}]\n"


def test_hostile_solve_names_become_safe_file_names_inside_the_cycle_folder(tmp_path):
    from lofar_hires.selfcal.cycle import solve_h5parm_path
    from lofar_hires.selfcal.strategy import solve_name

    names = [n.replace("\\\\", "\\").replace("\\0", "\0") for n in HOSTILE_SOLVE_NAMES]
    strategy = load_strategy(write_yaml(tmp_path, _yaml_solves(names)))
    folder = tmp_path / "cycle_000.partial"
    for i, (raw, expected) in enumerate(zip(names, HOSTILE_SOLVE_NAMES.values())):
        assert strategy.solves[i].name == raw
        safe = solve_name(strategy.solves[i], i)
        assert safe == expected if expected else (len(safe) == 80 and safe.startswith("y" * 70))
        path = solve_h5parm_path(folder, safe, "obs")
        assert path.parent == (folder / "solves").resolve() and path.name == f"{safe}_obs.h5"
    with pytest.raises(InputError, match="outside the output directory"):
        solve_h5parm_path(folder, "../../escape", "obs")  # the last guard, should a name slip through


@pytest.mark.parametrize("names, message", [
    (["/", "ok"], "solve name '/' has no character usable in a file name"),
    (["..", "ok"], "solve name '..' has no character usable in a file name"),
    (["   ", "ok"], "has no character usable in a file name"),
    (["a/b", "a_b"], "solve names 'a/b' and 'a_b' both become the file name 'a_b'"),
    (["Phase", "phase"], "both become the file name"),
    (["", "solve1"], "solve name 'solve1' is given twice"),  # the first one's default name is solve1
    (["same", "same"], "solve name 'same' is given twice"),
], ids=["slash", "dotdot", "blank", "collision", "case-collision", "default-collision", "duplicate"])
def test_unusable_or_colliding_solve_names_are_refused_when_the_strategy_is_loaded(tmp_path, names, message):
    with pytest.raises(InputError, match="^strategy: .*" + re.escape(message)):
        load_strategy(write_yaml(tmp_path, _yaml_solves(names)))


def test_observation_names_are_safe_unique_file_names(tmp_path):
    from lofar_hires.selfcal.cycle import observation_names

    assert observation_names([Path("/data/L1.MS"), Path("/data/L2.ms")]) == ["L1", "L2"]
    assert observation_names([Path("/data/my obs (1).MS")]) == ["my_obs_1_"]
    assert observation_names([Path("/a/x.ms"), Path("/b/x.ms")]) == ["00_x", "01_x"]
    assert observation_names([Path("/a/X.ms"), Path("/b/x.ms")]) == ["00_X", "01_x"]  # equal ignoring case
    assert observation_names([Path("/data/sub/../..ms")]) == ["obs01"]  # nothing usable left
    assert observation_names([Path("/data/.hidden.ms")]) == ["hidden"]
    assert len(observation_names([Path("/data/" + "o" * 200 + ".ms")])[0]) == 80
