"""The self-calibration stopping rule on constructed cycle histories."""

from __future__ import annotations

import dataclasses

import pytest

from lofar_hires.config_schema import describe, from_mapping
from lofar_hires.errors import InputError
from lofar_hires.selfcal.metrics import CycleMetrics
from lofar_hires.selfcal.stopping import StoppingRule, best_cycle, decide


def row(cycle, rms_mjy=1.0, dr=100.0, phase=None, ratio=0.1, score=None):
    rms = rms_mjy * 1e-3
    return CycleMetrics(cycle=cycle, rms_jy=rms, peak_jy=dr * rms, min_jy=-ratio * dr * rms, dynamic_range=dr,
                        min_max_ratio=ratio, phase_stability_rad=phase, amplitude_stability=None,
                        classifier_score=score)


def history(*specs):
    """Rows from (rms_mjy, dr, phase[, score]) tuples; cycle 0 first."""
    return [row(i, *spec[:3], score=spec[3] if len(spec) > 3 else None) for i, spec in enumerate(specs)]


IMPROVING = [(1.0, 100.0, None), (0.9, 200.0, 0.8), (0.85, 300.0, 0.3), (0.84, 320.0, 0.05), (0.84, 321.0, 0.04)]


def run(rows, rule):
    """The decision after each cycle, stopping at the first stop."""
    decisions = []
    for n in range(1, len(rows) + 1):
        decisions.append(decide(rows[:n], rule))
        if decisions[-1].stop:
            break
    return decisions


def test_converges_exactly_at_the_minimum_cycle():
    rule = StoppingRule(min_cycles=4)
    rows = history(*IMPROVING)
    decisions = run(rows, rule)
    assert len(decisions) == 4  # cycles 0..3: cycle 3 is the first with stable phases and 4 cycles
    last = decisions[-1]
    assert last.stop and last.reason == "converged"
    assert last.criteria == {"classifier": None, "rms": True, "dynamic_range": True, "phase_stability": True}
    assert last.best_cycle == 3
    assert not last.classifier_used
    assert "no classifier model: the rule used rms, dynamic range and phase stability only" in last.message
    assert "0.050 rad < 0.1 rad" in last.message
    assert [d.reason for d in decisions[:-1]] == ["continue"] * 3


def test_criteria_holding_before_the_minimum_do_not_stop():
    rows = history(*IMPROVING)
    rule = StoppingRule(min_cycles=5)
    decision = decide(rows[:4], rule)
    assert not decision.stop and decision.reason == "continue"
    assert all(v in (True, None) for v in decision.criteria.values())
    assert "min_cycles 5" in decision.message
    assert decide(rows, rule).reason == "converged"


def test_unstable_phases_continue_until_max_cycles():
    rule = StoppingRule(min_cycles=2, max_cycles=6)
    rows = history((1.0, 100.0, None), *[(0.9, 200.0 + i, 0.3) for i in range(8)])
    decisions = run(rows, rule)
    assert len(decisions) == 6
    assert [d.reason for d in decisions] == ["continue"] * 5 + ["max_cycles"]
    assert decisions[-1].criteria["phase_stability"] is False
    assert "0.300 rad >= 0.1 rad" in decisions[-1].message
    assert decisions[-1].best_cycle == 5  # highest dynamic range


def test_rms_rise_above_five_percent_blocks_convergence():
    rule = StoppingRule(min_cycles=2)
    rows = history((1.0, 100.0, None), (1.06, 200.0, 0.05))
    decision = decide(rows, rule)
    assert decision.reason == "continue" and decision.criteria["rms"] is False
    assert "+6.0% vs cycle 0 > 5%" in decision.message
    assert decide(history((1.0, 100.0, None), (1.04, 200.0, 0.05)), rule).reason == "converged"


def test_dynamic_range_must_improve_unless_disabled():
    rows = history((1.0, 100.0, None), (0.9, 95.0, 0.05))
    assert decide(rows, StoppingRule(min_cycles=2)).criteria["dynamic_range"] is False
    assert decide(rows, StoppingRule(min_cycles=2)).reason == "continue"
    relaxed = decide(rows, StoppingRule(min_cycles=2, require_dynamic_range_gain=False))
    assert relaxed.reason == "converged" and relaxed.criteria["dynamic_range"] is None
    assert "the rule used rms and phase stability only" in relaxed.message


def test_classifier_score_is_used_when_present():
    rule = StoppingRule(min_cycles=2)
    blocked = decide(history((1.0, 100.0, None, 0.9), (0.9, 200.0, 0.05, 0.7)), rule)
    assert blocked.reason == "continue" and blocked.classifier_used
    assert blocked.criteria["classifier"] is False
    assert "classifier P 0.70 >= 0.5" in blocked.message and "no classifier model" not in blocked.message
    passed = decide(history((1.0, 100.0, None, 0.9), (0.9, 200.0, 0.05, 0.3)), rule)
    assert passed.reason == "converged" and passed.criteria["classifier"] is True


def test_solutions_that_repeat_the_previous_cycle_s_stop_at_a_fixed_point():
    """The solutions repeat the previous cycle's: whatever the classifier says, every further cycle would repeat
    this one (the international DD runs of tests/classifier/test_dd_stopping.py)."""
    rule = StoppingRule(min_cycles=3, max_cycles=20)
    stuck = history((1.0, 10.0, None, 0.9), (0.5, 40.0, 0.02, 0.8), (0.4, 42.0, 6e-8, 0.8), (0.4, 42.0, 3e-8, 0.8))
    decisions = run(stuck, rule)
    assert [d.reason for d in decisions] == ["continue", "continue", "fixed_point"]
    assert decisions[-1].stop and decisions[-1].best_cycle == 2 and "fixed point" in decisions[-1].message
    # the classifier's P >= 0.5 alone kept it going: with P < 0.5 the same cycle converges, which comes first
    assert decide([*stuck[:2], *(dataclasses.replace(r, classifier_score=0.2) for r in stuck[2:])][:3],
                  rule).reason == "converged"
    # not before min_cycles, not while a solve has still to start, not when disabled
    assert run(stuck, StoppingRule(min_cycles=5, max_cycles=20))[-1].reason == "continue"
    assert decide(stuck[:3], rule, last_solve_start_cycle=2).reason == "continue"
    assert decide(stuck, rule, last_solve_start_cycle=2).reason == "fixed_point"
    assert decide(stuck[:3], dataclasses.replace(rule, fixed_point_change=0.0)).reason == "continue"
    # solutions that still move, in phase or in amplitude
    assert decide([*stuck[:2], row(2, 0.4, 42.0, 2e-3, score=0.8)], rule).reason == "continue"
    moving_amplitude = dataclasses.replace(stuck[2], amplitude_stability=1e-3)
    assert decide([*stuck[:2], moving_amplitude], rule).reason == "continue"


def test_divergence_needs_rms_and_ratio_growing_for_several_cycles():
    rule = StoppingRule(min_cycles=2, max_cycles=10, divergence_cycles=3)
    specs = [(1.0, 100.0, None, 0.10), (0.8, 150.0, 0.5, 0.05), (0.9, 140.0, 0.5, 0.06),
             (1.0, 130.0, 0.5, 0.07), (1.2, 120.0, 0.5, 0.08)]
    rows = [row(i, rms, dr, ph, ratio) for i, (rms, dr, ph, ratio) in enumerate(specs)]
    assert decide(rows[:4], rule).reason == "continue"  # only two growing steps so far
    decision = decide(rows, rule)
    assert decision.stop and decision.reason == "diverged"
    assert decision.best_cycle == 1
    assert "diverged" in decision.message
    flat = list(rows)
    flat[3] = row(3, 1.0, 130.0, 0.5, 0.06)  # |min/max| did not grow in one step
    assert decide(flat, rule).reason == "continue"
    # images that repeat each other up to numerical noise (1e-6) do not diverge (the fixed points of
    # tests/classifier/test_dd_stopping.py, run for a fixed number of cycles)
    noise = [row(0, 1.0, 100.0, None, 0.1)] + [row(i, 0.5 * (1 + 1e-6 * i), 150.0, 1e-7, 0.05 * (1 + 1e-6 * i))
                                                 for i in range(1, 7)]
    assert decide(noise, StoppingRule(min_cycles=8, max_cycles=10, divergence_cycles=3)).reason == "continue"
    assert decide(noise, StoppingRule(min_cycles=8, max_cycles=10, divergence_cycles=3,
                                      divergence_min_growth_fraction=0.0)).reason == "diverged"


def test_priority_converged_over_diverged_over_max_cycles():
    rule = StoppingRule(min_cycles=1, max_cycles=4, divergence_cycles=1, max_rms_increase_fraction=1.0)
    rows = [row(0, 1.0, 100.0, None, 0.1), row(1, 1.1, 150.0, 0.05, 0.2)]
    assert decide(rows, rule).reason == "converged"  # also diverging (one growing step)
    rows[1] = row(1, 1.1, 150.0, 0.5, 0.2)
    assert decide(rows, rule).reason == "diverged"
    rows = [row(i, 1.0, 100.0 + i, 0.5, 0.1) for i in range(4)]
    assert decide(rows, rule).reason == "max_cycles"


def test_best_cycle_rules():
    rule = StoppingRule()
    # cycle 2 has the highest dynamic range but its rms rose 10 %: not eligible
    rows = history((1.0, 100.0, None), (1.02, 150.0, 0.2), (1.10, 400.0, 0.1), (0.9, 150.0, 0.1))
    assert best_cycle(rows, rule) == 3  # tie on DR with cycle 1, lower rms wins
    assert best_cycle(rows, StoppingRule(max_rms_increase_fraction=0.2)) == 2
    worse = history((1.0, 100.0, None), (1.5, 120.0, 0.3), (2.0, 110.0, 0.3))
    assert best_cycle(worse, rule) == 0
    worse[0] = row(0, 1.0, 50.0)
    assert best_cycle(worse, rule) == 0  # cycle 0 is the only one within the rms limit
    assert best_cycle(history((1.0, 100.0, None)), rule) == 0


def test_empty_or_misnumbered_history_is_refused():
    with pytest.raises(InputError, match="no cycles"):
        decide([], StoppingRule())
    with pytest.raises(InputError, match="no cycles"):
        best_cycle([], StoppingRule())
    with pytest.raises(InputError, match="numbered 0, 1, 2"):
        decide([row(1), row(2)], StoppingRule())


def test_rule_schema_and_validation():
    rule = from_mapping(StoppingRule, {"min_cycles": 2, "max_cycles": 5, "phase_stability_rad": 0.2})
    assert (rule.min_cycles, rule.max_cycles, rule.phase_stability_rad) == (2, 5, 0.2)
    with pytest.raises(InputError, match="max_cycles .2. is below min_cycles .3."):
        from_mapping(StoppingRule, {"max_cycles": 2})
    with pytest.raises(InputError, match="below the minimum"):
        from_mapping(StoppingRule, {"min_cycles": 0})
    with pytest.raises(InputError, match="above the maximum"):
        from_mapping(StoppingRule, {"classifier_threshold": 1.5})
    with pytest.raises(InputError, match="unknown option"):
        from_mapping(StoppingRule, {"max_cycle": 5})
    keys = {key: help_text for key, _, _, help_text in describe(StoppingRule)}
    assert set(keys) == {"min_cycles", "max_cycles", "phase_stability_rad", "max_rms_increase_fraction",
                         "require_dynamic_range_gain", "classifier_threshold", "classifier_model",
                         "divergence_cycles", "stability_stations", "fixed_point_change",
                         "divergence_min_growth_fraction"}
    assert all(keys.values())
    assert StoppingRule().classifier_model == "none"  # no classifier unless a strategy names one
    with pytest.raises(InputError, match="classifier_model is empty"):
        from_mapping(StoppingRule, {"classifier_model": " "})


def test_decision_to_dict():
    decision = decide(history(*IMPROVING[:4]), StoppingRule(min_cycles=4))
    data = decision.to_dict()
    assert data["reason"] == "converged" and data["stop"] is True
    assert data["criteria"]["classifier"] is None and data["best_cycle"] == 3
