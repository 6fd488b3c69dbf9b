"""Strategies generated from the recipes of de Jong et al. 2025 (sections 6.3.2, 6.4.1, 6.4.2).

Every expected value is computed here by hand from the paper's formulas, independently of
``lofar_hires.selfcal.recipes``:

* delta_t (eq. 6.2): ``-26.92 ln(1 - (s/pi)^2)`` min; the squared variant
  ``10 [ln(1 - (s/pi)^2) / ln(1 - (1.75/pi)^2)]^2`` min;
* international (section 6.4.2): step 1 ``sqrt(dt)`` min in [32 s, 3 min], 8 MHz, reset
  dutch_and_closest_german; step 2 ``sqrt(2 dt)`` in [32 s, 5 min], 10 MHz, reset dutch; step 3
  only for dt < 3: ``2 sqrt(dt)``, 15 MHz, reset core (dt < 0.3), core_inner_remote (< 1),
  core_inner_middle_remote (< 3); step 4 from cycle 3: ``20 dt``, at least 18 min, left out when
  ``20 dt > 4 h``, 8 MHz (dt < 1), 10 MHz (< 3), 12 MHz otherwise, reset
  core_inner_middle_remote only for dt >= 3; uv cut 40000 / 35000 / 25000 / 20000 lambda;
* Dutch (section 6.4.1): 32 s / 16 s (peak below / at or above 0.3 Jy), 20 MHz, reset core;
  64 s, 40 MHz; from cycle 3, 40 min / 20 min, 10 MHz; uv cut 10 lambda.

Rounding rule of the intervals: clip to the step's limits, round to the nearest whole number of
integrations (halves up, at least one), then one integration less if that is above the maximum,
one more if below the minimum.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lofar_hires.config_schema import from_mapping, to_mapping
from lofar_hires.errors import InputError
from lofar_hires.selfcal.recipes import (
    RecipeConfig,
    delta_t_min,
    dutch_strategy,
    explain,
    international_strategy,
    load_recipe_config,
    refine_dutch_needed,
    refine_dutch_strategy,
    refine_final_strategy,
    round_solint_s,
    strategy_yaml,
)
from lofar_hires.selfcal.strategy import RecipeRecord, Strategy, load_strategy

SIGMAS_RAD = [0.3, 0.8, 1.2, 1.5, 1.8, 1.95, 2.3]
#: delta_t values on both sides of 0.3, 1 and 3 min, at the 4 h limit of step 4 (20 x 12 min) and above it.
DELTAS_MIN = [0.0, 0.1, 0.29, 0.3, 0.5, 0.99, 1.0, 1.69, 2.99, 3.0, 5.0, 12.0, 12.01, 30.0]


# --------------------------------------------------------------------------- the paper's numbers, by hand


def paper_dt(sigma: float) -> float:
    return -26.92 * math.log(1.0 - (sigma / math.pi) ** 2)


def squared_dt(sigma: float) -> float:
    return 10.0 * (math.log(1.0 - (sigma / math.pi) ** 2) / math.log(1.0 - (1.75 / math.pi) ** 2)) ** 2


def whole(interval_s: float, integration_s: float, lo: float = 0.0, hi: float | None = None) -> float:
    """The rounding rule of the module docstring, written out."""
    interval_s = max(interval_s, lo)
    if hi is not None:
        interval_s = min(interval_s, hi)
    n = max(1, math.floor(interval_s / integration_s + 0.5))
    if hi is not None and n * integration_s > hi:
        n = max(1, n - 1)
    elif n * integration_s < lo:
        n += 1
    return n * integration_s


def expected_international(dt: float, integration_s: float = 32.0) -> list[tuple]:
    """(name, soltype, solint_s, kernel_hz, reset, uv cut, start cycle) of each solve, by section 6.4.2."""
    uv = 40000.0 if dt < 0.3 else 35000.0 if dt < 1 else 25000.0 if dt < 3 else 20000.0
    solves = [
        ("fastphase", "scalarphase", whole(60 * math.sqrt(dt), integration_s, 32, 180), 8e6,
         "dutch_and_closest_german", uv, 0),
        ("slowphase", "scalarphase", whole(60 * math.sqrt(2 * dt), integration_s, 32, 300), 10e6, "dutch", uv, 0),
    ]
    if dt < 3:
        reset = "core" if dt < 0.3 else "core_inner_remote" if dt < 1 else "core_inner_middle_remote"
        solves.append(("remotephase", "scalarphase", whole(60 * 2 * math.sqrt(dt), integration_s), 15e6, reset,
                       uv, 0))
    if 20 * dt <= 4 * 60:
        kernel = 8e6 if dt < 1 else 10e6 if dt < 3 else 12e6
        reset = "core_inner_middle_remote" if dt >= 3 else ""
        solves.append(("slowgain", "scalarcomplexgain", whole(60 * 20 * dt, integration_s, 18 * 60), kernel, reset,
                       uv, 3))
    return solves


def solves_of(mapping: dict) -> list[tuple]:
    return [(s["name"], s["soltype"], s["solint_s"], s["smoothness_hz"], s["reset"], s["minuv_lambda"],
             s["start_cycle"]) for s in mapping["solves"]]


# --------------------------------------------------------------------------- delta_t


@pytest.mark.parametrize("sigma", SIGMAS_RAD)
def test_delta_t_of_eq_6_2_and_of_the_squared_variant(sigma):
    assert delta_t_min(sigma, "paper") == pytest.approx(paper_dt(sigma), rel=1e-12)
    assert delta_t_min(sigma, "squared") == pytest.approx(squared_dt(sigma), rel=1e-12)


def test_delta_t_reference_points():
    """Both formulas give about 10 min at sigma_c = 1.75 rad (the squared one exactly), 0 at sigma_c = 0."""
    assert delta_t_min(1.75, "squared") == pytest.approx(10.0, rel=1e-12)
    assert delta_t_min(1.75, "paper") == pytest.approx(10.0, rel=1e-3)
    assert delta_t_min(0.0, "paper") == 0.0 and delta_t_min(0.0, "squared") == 0.0
    # e.g. sigma_c = 0.8 rad: (0.8/pi)^2 = 0.064846, ln(1 - 0.064846) = -0.067045, x -26.92 = 1.8049 min
    assert delta_t_min(0.8, "paper") == pytest.approx(1.8049, abs=1e-4)


@pytest.mark.parametrize("sigma", [float("nan"), float("inf"), -0.1, math.pi, 3.5], ids=str)
def test_bad_sigma_c_is_refused_naming_the_setting(sigma):
    with pytest.raises(InputError, match="sigma_c_rad") as info:
        delta_t_min(sigma, "paper")
    assert info.value.setting == "sigma_c_rad"


def test_an_unknown_formula_is_refused():
    with pytest.raises(InputError, match="formula") as info:
        delta_t_min(1.0, "cubic")
    assert info.value.setting == "dt_formula"


# --------------------------------------------------------------------------- international recipe


@pytest.mark.parametrize("sigma", SIGMAS_RAD)
@pytest.mark.parametrize("formula, by_hand", [("paper", paper_dt), ("squared", squared_dt)], ids=["paper", "squared"])
def test_international_strategy_from_sigma_c(sigma, formula, by_hand):
    dt = by_hand(sigma)
    mapping = international_strategy(delta_t_min(sigma, formula), 32.0, sigma_c_rad=sigma, dt_formula=formula)
    assert solves_of(mapping) == expected_international(dt)
    assert mapping["imaging"]["minuv_lambda"] == expected_international(dt)[0][5]
    assert mapping["recipe"] == {"kind": "international", "sigma_c_rad": sigma, "delta_t_min": pytest.approx(dt),
                                 "dt_formula": formula, "peak_flux_jy": None, "integration_s": 32.0}


@pytest.mark.parametrize("dt", DELTAS_MIN)
def test_international_strategy_from_delta_t(dt):
    mapping = international_strategy(dt, 32.0)
    expected = expected_international(dt)
    assert solves_of(mapping) == expected
    names = [s[0] for s in expected]
    assert ("remotephase" in names) == (dt < 3) and ("slowgain" in names) == (20 * dt <= 240)
    assert mapping["prepare"] == {"time_resolution_s": 32.0, "freq_resolution_hz": 390625.0, "phaseup_core": True}
    assert mapping["stopping"] == {"min_cycles": 3, "max_cycles": 20, "classifier_model": "shipped"}
    assert mapping["recipe"]["sigma_c_rad"] is None and mapping["recipe"]["dt_formula"] == ""
    limits = {s["name"]: (s["min_solint_s"], s["max_solint_s"]) for s in mapping["solves"]}
    assert limits["fastphase"] == (32.0, 180.0) and limits["slowphase"] == (32.0, 300.0)
    if "slowgain" in limits:
        assert limits["slowgain"] == (1080.0, None)


def test_international_strategy_written_out_for_one_calibrator():
    """sigma_c = 0.8 rad: delta_t = 1.8049 min (1 <= dt < 3), 32 s integrations.

    step 1: sqrt(1.8049) = 1.3435 min = 80.6 s = 2.52 x 32 s -> 3 -> 96 s;
    step 2: sqrt(3.6098) = 1.9 min = 114 s = 3.56 x 32 s -> 4 -> 128 s;
    step 3: 2 x 1.3435 = 2.687 min = 161.2 s = 5.04 x 32 s -> 5 -> 160 s, reset core_inner_middle_remote;
    step 4: 20 x 1.8049 = 36.1 min = 2165.9 s = 67.7 x 32 s -> 68 -> 2176 s, 10 MHz, no reset; uv cut 25000.
    """
    mapping = international_strategy(delta_t_min(0.8, "paper"), 32.0)
    assert solves_of(mapping) == [
        ("fastphase", "scalarphase", 96.0, 8e6, "dutch_and_closest_german", 25000.0, 0),
        ("slowphase", "scalarphase", 128.0, 10e6, "dutch", 25000.0, 0),
        ("remotephase", "scalarphase", 160.0, 15e6, "core_inner_middle_remote", 25000.0, 0),
        ("slowgain", "scalarcomplexgain", 2176.0, 10e6, "", 25000.0, 3),
    ]


@pytest.mark.parametrize("dt, integration_s, step, solint_s", [
    (1.69, 32.0, "fastphase", 64.0),    # sqrt(dt) = 1.3 min = 78 s = 2.44 x 32 s -> 2 -> 64 s
    (1.69, 24.0, "fastphase", 72.0),    # 78 s = 3.25 x 24 s -> 3 -> 72 s
    (1.8225, 32.0, "fastphase", 96.0),  # sqrt(dt) = 1.35 min = 81 s = 2.53 x 32 s -> 3 -> 96 s
    (9.0, 40.0, "fastphase", 160.0),    # 3 min = 180 s = 4.5 x 40 s -> 5 (200 s > 3 min) -> 4 -> 160 s
    (0.1, 24.0, "fastphase", 48.0),     # 19 s -> 32 s minimum = 1.33 x 24 s -> 1 (24 s < 32 s) -> 2 -> 48 s
    (0.1, 32.0, "slowgain", 1088.0),    # 2 min -> 18 min minimum = 1080 s = 33.75 x 32 s -> 34 -> 1088 s
    (0.1, 7.0, "slowgain", 1085.0),     # 1080 s = 154.3 x 7 s -> 154 (1078 s < 1080 s) -> 155 -> 1085 s
], ids=["down", "other-integration", "up", "max-kept", "min-kept", "gain-min", "gain-min-up"])
def test_intervals_are_whole_integrations_within_the_limits(dt, integration_s, step, solint_s):
    mapping = international_strategy(dt, integration_s)
    solints = {s["name"]: s["solint_s"] for s in mapping["solves"]}
    assert solints[step] == solint_s
    for s in mapping["solves"]:
        n = s["solint_s"] / integration_s
        assert n == pytest.approx(round(n)) and n >= 1
        assert s["solint_s"] >= s["min_solint_s"]
        assert s["max_solint_s"] is None or s["solint_s"] <= s["max_solint_s"]


def test_rounding_keeps_one_integration_when_none_fits():
    assert round_solint_s(10.0, 32.0) == 32.0  # at least one integration
    assert round_solint_s(100.0, 200.0, 32.0, 180.0) == 200.0  # no whole integration fits below 3 min


@pytest.mark.parametrize("dt, integration_s, setting", [
    (float("nan"), 32.0, "delta_t_min"), (-1.0, 32.0, "delta_t_min"), (float("inf"), 32.0, "delta_t_min"),
    (1.0, 0.0, "integration_s"), (1.0, -32.0, "integration_s"), (1.0, float("nan"), "integration_s"),
])
def test_bad_international_input_is_refused(dt, integration_s, setting):
    with pytest.raises(InputError) as info:
        international_strategy(dt, integration_s)
    assert info.value.setting == setting


# --------------------------------------------------------------------------- Dutch recipe


@pytest.mark.parametrize("peak_jy, fast_s, gain_s", [
    (0.085, 32.0, 2400.0), (0.2999, 32.0, 2400.0), (0.3, 16.0, 1200.0), (2.5, 16.0, 1200.0)])
def test_dutch_strategy(peak_jy, fast_s, gain_s):
    mapping = dutch_strategy(peak_jy, 16.0)
    assert solves_of(mapping) == [
        ("remotephase", "scalarphase", fast_s, 20e6, "core", 10.0, 0),
        ("corephase", "scalarphase", 64.0, 40e6, "", 10.0, 0),
        ("slowgain", "scalarcomplexgain", gain_s, 10e6, "", 10.0, 3),
    ]
    assert mapping["prepare"] == {"time_resolution_s": 16.0, "freq_resolution_hz": 195312.5, "phaseup_core": False,
                                  "remove_stations": "international"}
    assert mapping["recipe"]["kind"] == "dutch" and mapping["recipe"]["peak_flux_jy"] == peak_jy


def test_dutch_intervals_are_whole_integrations():
    """32 s at 10 s integrations: 3.2 -> 3 -> 30 s; 64 s -> 6.4 -> 6 -> 60 s; 40 min -> 240 -> 2400 s."""
    assert [s["solint_s"] for s in dutch_strategy(0.1, 10.0)["solves"]] == [30.0, 60.0, 2400.0]


@pytest.mark.parametrize("peak", [0.0, -0.5, float("nan"), float("inf")], ids=str)
def test_bad_peak_flux_is_refused(peak):
    with pytest.raises(InputError, match="peak_flux_jy") as info:
        dutch_strategy(peak, 16.0)
    assert info.value.setting == "peak_flux_jy"


# --------------------------------------------------------------------------- strategies, configuration, tables


@pytest.mark.parametrize("make", [
    lambda: international_strategy(delta_t_min(0.3, "paper"), 32.0, sigma_c_rad=0.3, dt_formula="paper"),
    lambda: international_strategy(4.0, 32.0),
    lambda: international_strategy(20.0, 32.0),
    lambda: dutch_strategy(0.5, 16.0),
], ids=["bright", "no-step-3", "no-step-4", "dutch"])
def test_generated_strategies_load_through_load_strategy(tmp_path: Path, make):
    mapping = make()
    path = tmp_path / "generated.yaml"
    path.write_text(strategy_yaml(mapping, ["made by a test"]))
    strategy = load_strategy(path)
    assert to_mapping(strategy) == to_mapping(from_mapping(Strategy, mapping))
    assert [s.solint_s for s in strategy.solves] == [s["solint_s"] for s in mapping["solves"]]
    assert strategy.recipe == RecipeRecord(**mapping["recipe"])
    assert path.read_text().startswith("# made by a test\n")


def test_the_digest_of_a_strategy_without_recipe_is_unchanged_and_a_recipe_counts():
    import hashlib
    import json

    delay = load_strategy("delay")
    settings = to_mapping(delay)
    del settings["recipe"]
    assert delay.digest() == hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    a = from_mapping(Strategy, international_strategy(1.0, 32.0))
    b = from_mapping(Strategy, {**international_strategy(1.0, 32.0), "recipe": {"kind": "international"}})
    assert a.digest() != b.digest()


def test_explain_lists_every_solve_for_checking_against_the_paper():
    table = explain(international_strategy(delta_t_min(0.8, "paper"), 32.0, sigma_c_rad=0.8, dt_formula="paper"))
    assert "delta_t 1.805 min (from sigma_c 0.8 rad, formula paper)" in table
    rows = {line.split()[0]: line.split() for line in table.splitlines()
            if line.split() and line.split()[0] in ("fastphase", "slowphase", "remotephase", "slowgain")}
    assert rows["fastphase"][:6] == ["fastphase", "scalarphase", "96", "s", "(1.6", "min)"]
    assert rows["remotephase"][-5:] == ["15", "MHz", "core_inner_middle_remote", "25000", "0"]
    assert rows["slowgain"][-5:] == ["10", "MHz", "-", "25000", "3"]
    dutch = explain(dutch_strategy(0.5, 16.0))
    assert "peak brightness 0.5 Jy/beam" in dutch and "corephase" in dutch


def test_the_shipped_recipe_settings_and_overrides():
    assert load_recipe_config() == RecipeConfig()
    config = load_recipe_config(["international.delta_t_ranges.moderate.minuv_lambda=30000",
                                 "international.max_cycles=12", "dutch.bright_peak_jy=0.5"])
    mapping = international_strategy(2.0, 32.0, config.international)
    assert {s["minuv_lambda"] for s in mapping["solves"]} == {30000.0}
    assert mapping["stopping"]["max_cycles"] == 12
    assert dutch_strategy(0.4, 16.0, config.dutch)["solves"][0]["solint_s"] == 32.0  # 0.4 Jy is below 0.5 now
    with pytest.raises(InputError, match="increasing") as info:
        load_recipe_config(["international.delta_t_ranges.bright.below_min=0.2"])
    assert info.value.setting == "international.delta_t_ranges.bright.below_min"
    with pytest.raises(InputError, match="no delta_t range gives it"):
        load_recipe_config(["international.fast_phase.reset=null"])
    with pytest.raises(InputError, match="unknown option"):
        load_recipe_config(["international.typo=1"])


# --------------------------------------------------------------------------- the DD refinement (section 6.4.4)

#: refine-final by hand: (delta_t min) -> [(solve, interval s at 32 s, kernel MHz, reset, start cycle)].
#: Step 1 sqrt(dt) in [32 s, 3 min], 5 MHz, reset dutch; step 2 2 sqrt(dt) in [64 s, 10 min], 20 MHz;
#: step 3 from cycle 2, 20 dt at least 18 min, left out above 4 h, 5 / 10 / 15 MHz (dt < 1 / < 3 / otherwise).
FINAL_BY_HAND = {
    0.1: [("fastphase", 32.0, 5, "dutch", 0), ("slowphase", 64.0, 20, "", 0), ("slowgain", 1088.0, 5, "", 2)],
    0.99: [("fastphase", 64.0, 5, "dutch", 0), ("slowphase", 128.0, 20, "", 0), ("slowgain", 1184.0, 5, "", 2)],
    1.0: [("fastphase", 64.0, 5, "dutch", 0), ("slowphase", 128.0, 20, "", 0), ("slowgain", 1216.0, 10, "", 2)],
    2.99: [("fastphase", 96.0, 5, "dutch", 0), ("slowphase", 192.0, 20, "", 0), ("slowgain", 3584.0, 10, "", 2)],
    3.0: [("fastphase", 96.0, 5, "dutch", 0), ("slowphase", 192.0, 20, "", 0), ("slowgain", 3616.0, 15, "", 2)],
    12.0: [("fastphase", 160.0, 5, "dutch", 0), ("slowphase", 416.0, 20, "", 0), ("slowgain", 14400.0, 15, "", 2)],
    12.01: [("fastphase", 160.0, 5, "dutch", 0), ("slowphase", 416.0, 20, "", 0)],
    30.0: [("fastphase", 160.0, 5, "dutch", 0), ("slowphase", 576.0, 20, "", 0)],
}


@pytest.mark.parametrize("dt", sorted(FINAL_BY_HAND))
def test_refine_final_strategy(dt):
    mapping = international_like(refine_final_strategy(dt, 32.0))
    assert mapping == FINAL_BY_HAND[dt]
    for name, solint, *_ in FINAL_BY_HAND[dt]:
        assert solint == whole(60.0 * {"fastphase": math.sqrt(dt), "slowphase": 2 * math.sqrt(dt),
                                       "slowgain": 20 * dt}[name], 32.0,
                               *{"fastphase": (32.0, 180.0), "slowphase": (64.0, 600.0),
                                 "slowgain": (1080.0, None)}[name])
    strategy = refine_final_strategy(dt, 32.0)
    assert strategy["imaging"]["minuv_lambda"] == 20000.0
    assert all(s["minuv_lambda"] == 20000.0 for s in strategy["solves"])
    assert (strategy["stopping"]["min_cycles"], strategy["stopping"]["max_cycles"]) == (5, 20)
    assert strategy["prepare"]["time_resolution_s"] == 32.0 and strategy["prepare"]["freq_resolution_hz"] == 390625.0
    assert strategy["recipe"]["kind"] == "refine-final"


def international_like(mapping):
    return [(s["name"], s["solint_s"], s["smoothness_hz"] / 1e6, s["reset"], s["start_cycle"])
            for s in mapping["solves"]]


def test_refine_dutch_strategy():
    # facet data at 8 s and 97.66 kHz, averaged by 8: 64 s and 781.25 kHz; 1 min -> 64 s, 5 min -> 320 s,
    # 30 min -> 1792 s (28 integrations; 28.125 rounds down)
    mapping = refine_dutch_strategy(2.0, 8.0, 97656.25)
    assert international_like(mapping) == [("fastphase", 64.0, 10, "core", 0), ("slowphase", 320.0, 20, "", 0),
                                           ("slowgain", 1792.0, 15, "", 2)]
    assert mapping["prepare"] == {"time_resolution_s": 64.0, "freq_resolution_hz": 781250.0, "phaseup_core": False,
                                  "remove_stations": "international"}
    assert all(s["minuv_lambda"] == 750.0 for s in mapping["solves"])
    assert mapping["imaging"]["minuv_lambda"] == 750.0 and mapping["imaging"]["taper_gaussian_arcsec"] == 6.0
    assert refine_dutch_needed(3.0) and not refine_dutch_needed(3.01)
    with pytest.raises(InputError, match="skips the 6 arcsec Dutch refinement"):
        refine_dutch_strategy(3.5, 8.0, 97656.25)
    with pytest.raises(InputError, match="chan_width_hz"):
        refine_dutch_strategy(1.0, 8.0, 0.0)


def test_refine_recipes_from_the_command_line(tmp_path, capsys):
    from lofar_hires.cli import main

    out = tmp_path / "final.yaml"
    assert main(["recipe", "refine-final", "--sigma-c", "1.5", "--output", str(out)]) == 0
    strategy = load_strategy(out)
    assert strategy.recipe.kind == "refine-final"
    assert strategy.recipe.delta_t_min == pytest.approx(paper_dt(1.5))
    assert "section 6.4.4" in out.read_text()
    skipped = tmp_path / "dutch.yaml"
    assert main(["recipe", "refine-dutch", "--delta-t", "4", "--integration-s", "8", "--chan-width-hz", "97656.25",
                 "--output", str(skipped)]) == 0
    assert not skipped.exists(), "a facet with delta_t > 3 min skips the Dutch refinement"
    assert "skips the 6 arcsec Dutch refinement" in capsys.readouterr().err
    assert main(["recipe", "refine-dutch", "--delta-t", "1"]) == 2, "the facet data's resolution is needed"
    assert main(["recipe", "refine-final", "--peak-flux", "0.5", "--delta-t", "1"]) == 2
