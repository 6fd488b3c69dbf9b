"""The pure parts of the phasediff score (``lofar_hires.selection.score``): planning and DP3 steps.

A hand-built :class:`~lofar_hires.io.ms.MsInfo` of a LOFAR HBA observation (core, remote,
German and other international stations) goes through :func:`plan_score` with the shipped
settings and overrides; the DP3 steps are checked as steps and as parset text
(:func:`lofar_hires.runners.dp3.build_parset`). No DP3 runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.ms import MsInfo
from lofar_hires.runners.dp3 import Dp3Run, build_parset
from lofar_hires.selection.config import load_selection_config
from lofar_hires.selection.score import plan_score, prepare_steps, require_enough_values, solve_step

CORE = ("CS001HBA0", "CS001HBA1", "CS002HBA0", "CS002HBA1")
REMOTE = ("RS106HBA", "RS205HBA")
GERMAN = ("DE601HBA", "DE605HBA")
DISTANT = ("FR606HBA", "SE607HBA", "UK608HBA", "PL610HBA", "IE613HBA", "LV614HBA")
STATIONS = CORE[:2] + REMOTE[:1] + GERMAN[:1] + DISTANT[:3] + CORE[2:] + REMOTE[1:] + GERMAN[1:] + DISTANT[3:]


def ms_info(names=STATIONS, n_chan: int = 20, chan_width_hz: float = 195312.5, integration_s: float = 8.0,
            name: str = "obs.ms") -> MsInfo:
    rng = np.random.default_rng(5)
    return MsInfo(
        path=Path("/data") / name,
        station_names=tuple(names),
        station_positions_m=rng.normal(0.0, 1e5, (len(names), 3)),
        freqs_hz=120e6 + chan_width_hz * np.arange(n_chan),
        chan_width_hz=chan_width_hz,
        times_mjd_s=4.9e9 + integration_s * np.arange(100),
        integration_s=integration_s,
        phase_centre_rad=(np.radians(242.75), np.radians(55.0)),
        n_rows=100 * len(names) * (len(names) - 1) // 2,
        columns=("UVW", "TIME", "ANTENNA1", "ANTENNA2", "FLAG", "DATA"),
    )


def score_cfg(*overrides: str):
    return load_selection_config(overrides=list(overrides)).score


def in_ms_order(subset) -> list[str]:
    return [n for n in STATIONS if n in subset]


# ---------------------------------------------------------------------------------------------- plan_score


def test_default_plan_phases_up_the_core_and_scores_distant_internationals():
    plan = plan_score(ms_info(), score_cfg())
    assert plan.core == in_ms_order(CORE)
    assert plan.stations_after == [n for n in STATIONS if n not in CORE] + ["ST001"]
    assert plan.score_stations == in_ms_order(DISTANT)
    assert plan.reference == "ST001"
    assert (plan.timestep, plan.freqstep, plan.n_channels_out) == (8, 2, 10)


def test_without_phase_up_there_is_no_superstation_and_no_reference(caplog):
    with caplog.at_level(logging.WARNING, logger="lofar_hires.selection.score"):
        plan = plan_score(ms_info(), score_cfg("score.phaseup_core=false"))
    assert plan.core == []
    assert plan.stations_after == list(STATIONS)
    assert plan.score_stations == in_ms_order(DISTANT)
    assert plan.reference is None
    assert "not referenced" in caplog.text


def test_single_core_station_is_not_phased_up(caplog):
    names = [n for n in STATIONS if n != "CS001HBA1" and n not in CORE[2:]]
    with caplog.at_level(logging.WARNING, logger="lofar_hires.selection.score"):
        plan = plan_score(ms_info(names), score_cfg())
    assert plan.core == []
    assert "ST001" not in plan.stations_after
    assert plan.reference is None
    assert "core is not phased up" in caplog.text


def test_reference_a_named_station():
    plan = plan_score(ms_info(), score_cfg("score.reference=RS106HBA"))
    assert plan.reference == "RS106HBA"
    assert plan.score_stations == in_ms_order(DISTANT)


def test_reference_among_the_score_stations_is_left_out_of_them():
    plan = plan_score(ms_info(), score_cfg("score.reference=UK608HBA"))
    assert plan.reference == "UK608HBA"
    assert plan.score_stations == in_ms_order(set(DISTANT) - {"UK608HBA"})
    with pytest.raises(InputError, match="only the reference station"):
        plan_score(ms_info(), score_cfg("score.reference=UK608HBA", "score.stations=UK608HBA"))


def test_reference_none():
    assert plan_score(ms_info(), score_cfg("score.reference=none")).reference is None


@pytest.mark.parametrize("reference", ["XX999HBA", "CS001HBA0"], ids=["unknown", "phased_up_core"])
def test_unknown_reference_is_an_error(reference):
    with pytest.raises(InputError, match=f"score.reference '{reference}' is not a station after phase-up"):
        plan_score(ms_info(), score_cfg(f"score.reference={reference}"))


def test_ms_without_international_stations():
    names = CORE + REMOTE + GERMAN
    with pytest.raises(InputError, match="score.stations") as info:
        plan_score(ms_info(names), score_cfg())
    assert "obs.ms has no station matching" in str(info.value)


def test_score_stations_from_the_config():
    plan = plan_score(ms_info(), score_cfg("score.stations=international"))
    assert plan.score_stations == in_ms_order(GERMAN + DISTANT)
    plan = plan_score(ms_info(), score_cfg("score.stations=UK*,IE613HBA"))
    assert plan.score_stations == ["UK608HBA", "IE613HBA"]


def test_superstation_name_already_in_the_ms():
    with pytest.raises(InputError, match="score.superstation ST001 is already a station of obs.ms"):
        plan_score(ms_info(STATIONS + ("ST001",)), score_cfg())
    plan = plan_score(ms_info(STATIONS + ("ST001",)), score_cfg("score.superstation=ST002"))
    assert plan.stations_after[-1] == "ST002" and plan.reference == "ST002"


@pytest.mark.parametrize(
    "overrides, integration_s, chan_width_hz, n_chan, expected",
    [
        ((), 8.0, 195312.5, 20, (8, 2, 10)),
        ((), 1.0, 195312.5, 20, (60, 2, 10)),
        ((), 60.0, 390625.0, 20, (1, 1, 20)),
        (("score.time_resolution_s=0", "score.freq_resolution_hz=0"), 8.0, 195312.5, 20, (1, 1, 20)),
        ((), 8.0, 195312.5, 15, (8, 1, 15)),  # 15 channels: no factor 2, keep every channel
        ((), 8.0, 48828.125, 9, (8, 3, 3)),  # factor 8 capped to 4 (two channels out), then 3 divides 9
        ((), 8.0, 48828.125, 64, (8, 8, 8)),
        ((), 8.0, 97656.25, 2, (8, 1, 2)),  # factor 4 capped to keep two channels
    ],
    ids=["lofar", "1s", "no_avg", "zero_resolution", "indivisible", "capped", "eight", "two_channels"],
)
def test_averaging_factors(overrides, integration_s, chan_width_hz, n_chan, expected):
    plan = plan_score(ms_info(n_chan=n_chan, chan_width_hz=chan_width_hz, integration_s=integration_s),
                      score_cfg(*overrides))
    assert (plan.timestep, plan.freqstep, plan.n_channels_out) == expected
    assert plan.freqstep * plan.n_channels_out == n_chan  # every channel is used


def test_single_channel_is_an_error():
    with pytest.raises(InputError, match="obs.ms has 1 channel"):
        plan_score(ms_info(n_chan=1), score_cfg())


# ------------------------------------------------------------------------------------------------- DP3 steps


def parset_lines(steps) -> list[str]:
    return build_parset(Dp3Run(Path("in.ms"), Path("out.ms"), steps)).splitlines()


def test_prepare_steps_with_averaging_and_phase_up():
    cfg = score_cfg()
    plan = plan_score(ms_info(), cfg)
    steps = prepare_steps(242.75, 55.0, plan, cfg)
    assert [(s.name, s.type) for s in steps] == [("shift", "phaseshift"), ("avg", "averager"),
                                                 ("phaseup", "stationadder"), ("dropcore", "filter")]
    core = "CS001HBA0,CS001HBA1,CS002HBA0,CS002HBA1"
    lines = parset_lines(steps)
    for expected in [
        "steps=[shift,avg,phaseup,dropcore]",
        "shift.type=phaseshift",
        "shift.phasecenter=[242.7500000000deg,55.0000000000deg]",
        "avg.type=averager",
        "avg.timestep=8",
        "avg.freqstep=2",
        "phaseup.type=stationadder",
        f"phaseup.stations={{ST001:[{core}]}}",
        "dropcore.type=filter",
        f"dropcore.baseline=!{core}&&*",
        "dropcore.remove=true",
    ]:
        assert expected in lines, expected


def test_prepare_steps_phase_centre_in_degrees():
    cfg = score_cfg()
    plan = plan_score(ms_info(), cfg)
    (shift, *_) = prepare_steps(3.5, -12.25, plan, cfg)
    assert shift.options["phasecenter"] == ["3.5000000000deg", "-12.2500000000deg"]


def test_prepare_steps_without_averaging_or_core():
    cfg = score_cfg("score.phaseup_core=false")
    plan = plan_score(ms_info(integration_s=60.0, chan_width_hz=390625.0), cfg)
    steps = prepare_steps(242.75, 55.0, plan, cfg)
    assert [s.type for s in steps] == ["phaseshift"]
    lines = parset_lines(steps)
    assert "steps=[shift]" in lines
    assert not any(line.startswith(("avg.", "phaseup.", "dropcore.")) for line in lines)


def test_prepare_steps_averaging_without_core():
    names = [n for n in STATIONS if n not in CORE]
    cfg = score_cfg()
    steps = prepare_steps(242.75, 55.0, plan_score(ms_info(names), cfg), cfg)
    assert [s.type for s in steps] == ["phaseshift", "averager"]


def test_prepare_steps_use_the_configured_superstation():
    cfg = score_cfg("score.superstation=ST007", "score.core_stations=CS001*")
    steps = prepare_steps(242.75, 55.0, plan_score(ms_info(), cfg), cfg)
    lines = parset_lines(steps)
    assert "phaseup.stations={ST007:[CS001HBA0,CS001HBA1]}" in lines
    assert "dropcore.baseline=!CS001HBA0,CS001HBA1&&*" in lines


def test_solve_step_options():
    cfg = score_cfg("score.minuv_lambda=15000", "score.maxiter=50", "score.tolerance=1e-4")
    step = solve_step(Path("/w/a.phasediff.h5"), Path("/w/a.point.skymodel"), 75, cfg)
    assert (step.name, step.type) == ("solve", "ddecal")
    assert step.options["mode"] == "diagonalphase"
    assert step.options["nchan"] == 1
    assert step.options["solint"] == 75
    assert step.options["uvlambdamin"] == 15000.0
    lines = parset_lines([step])
    for expected in [
        "solve.type=ddecal",
        "solve.mode=diagonalphase",
        "solve.h5parm=/w/a.phasediff.h5",
        "solve.sourcedb=/w/a.point.skymodel",
        "solve.solint=75",
        "solve.nchan=1",
        "solve.uvlambdamin=15000.0",
        "solve.maxiter=50",
        "solve.tolerance=0.0001",
        "solve.propagatesolutions=false",
    ]:
        assert expected in lines, expected


def test_solve_step_default_baseline_cut():
    step = solve_step(Path("a.h5"), Path("a.skymodel"), 10, score_cfg())
    assert "solve.uvlambdamin=20000.0" in parset_lines([step])


# ----------------------------------------------------------------------------------- how many values


def test_the_plan_counts_the_phase_values():
    plan = plan_score(ms_info(), score_cfg())  # 100 x 8 s, 20 channels, six distant stations
    assert (plan.n_intervals, plan.solint_slots, plan.interval_s) == (2, 9, 9 * 64.0)  # 13 slots of 64 s
    assert (plan.n_channel_pairs, plan.n_values) == (9, 2 * 9 * 6)
    assert plan.describe_values() == "2 solution intervals of 9.6 min x 9 channel pairs x 6 score stations"
    three = plan_score(ms_info(), score_cfg(), n_subbands=3)  # subbands concatenated in frequency
    assert (three.n_channel_pairs, three.n_values) == (29, 2 * 29 * 6)


def test_too_few_values_is_refused_with_the_minimum_in_user_terms():
    plan = plan_score(ms_info(), score_cfg("score.stations=UK608HBA"))
    with pytest.raises(InputError) as info:
        require_enough_values(plan, score_cfg())
    assert str(info.value) == (
        "the phasediff score needs at least 376 phase values to tell a main calibrator (sigma_c < 2 rad) from noise "
        "at false-alarm probability 0.001 (now 18: 2 solution intervals of 9.6 min x 9 channel pairs x 1 score "
        "station); use longer data, more channels (score.freq_resolution_hz) or more stations (score.stations), or a "
        "shorter score.solint_s")


def test_the_minimum_follows_the_main_threshold_and_the_false_alarm_probability():
    long = ms_info(integration_s=8.0, n_chan=64, chan_width_hz=195312.5)
    long = MsInfo(**{**long.__dict__, "times_mjd_s": 4.9e9 + 8.0 * np.arange(900)})  # 2 h: 13 intervals
    plan = plan_score(long, score_cfg())
    assert plan.n_values == 13 * 31 * 6 == 2418
    assert require_enough_values(plan, score_cfg()) == 376
    assert require_enough_values(plan, score_cfg(), main_max_rad=2.3) == 1369
    with pytest.raises(InputError, match=r"needs at least 3578 phase values .* \(sigma_c < 2.5 rad\)"):
        require_enough_values(plan, score_cfg(), main_max_rad=2.5)
    with pytest.raises(InputError, match="needs at least 2738 .* at false-alarm probability 1e-06 .now 2418"):
        require_enough_values(plan, score_cfg("score.false_alarm=1e-6"), main_max_rad=2.3)
