"""When to stop self-calibration, and which cycle to keep.

Stop at the first cycle (from ``min_cycles`` on) where all of these hold:

* classifier: the image classifier's 'continue' probability P < ``classifier_threshold``
  (only when the cycle has a score; without a model the rule runs on the other
  criteria and says so);
* rms: the image rms grew by at most ``max_rms_increase_fraction`` over the
  uncalibrated image (cycle 0);
* dynamic range: higher than that of cycle 0 (when ``require_dynamic_range_gain``);
* phase stability: the circular standard deviation of this cycle's phases minus
  the previous cycle's is below ``phase_stability_rad`` (unknown counts as not
  stable).

Self-calibration also stops at a fixed point (from ``min_cycles`` on): this cycle's solutions
repeat the previous cycle's (phase change and amplitude change below ``fixed_point_change``)
and both cycles made every solve of the strategy. The next cycle would correct the data with the
same solutions as this one, image the same data, and repeat this cycle, whatever the criteria
say. It also stops when it diverges (rms and |min/max| both grew by more than
``divergence_min_growth_fraction`` in each of the last ``divergence_cycles`` cycles) or at
``max_cycles``. The cycle kept is the one with the highest dynamic range whose rms is within the
allowed increase.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lofar_hires.config_schema import option, shipped_defaults
from lofar_hires.errors import InputError
from lofar_hires.selfcal.metrics import CycleMetrics

log = logging.getLogger(__name__)

#: Decision reasons, in priority order.
REASONS = ("converged", "fixed_point", "diverged", "max_cycles", "continue")
#: Criterion names of :attr:`Decision.criteria`.
CRITERIA = ("classifier", "rms", "dynamic_range", "phase_stability")


@dataclass(frozen=True)
@shipped_defaults("selfcal_defaults.yaml", "strategy.stopping")
class StoppingRule:
    """Settings of the stopping rule (cycle 0 is the image before self-calibration)."""

    min_cycles: int = option(help="self-calibration may stop once this many cycles (cycle 0, the "
                             "uncalibrated image, included) exist", min=1)
    max_cycles: int = option(help="stop once this many cycles (cycle 0 included) exist", min=1)
    phase_stability_rad: float = option(help="phases are stable when the circular standard deviation of "
                                        "this cycle's minus the previous cycle's phases is below this",
                                        unit="rad", min=0.0)
    max_rms_increase_fraction: float = option(help="largest allowed increase of the image rms over the "
                                              "uncalibrated image (0.05 = 5 %)", min=0.0)
    require_dynamic_range_gain: bool = option(help="converge only when the dynamic range is higher than "
                                              "that of the uncalibrated image")
    classifier_threshold: float = option(help="converge only when the image classifier's 'continue' "
                                         "probability is below this (ignored without a classifier model)",
                                         min=0.0, max=1.0)
    classifier_model: str = option(help="the image classifier that gives P: 'none', 'shipped' (the small model "
                                   "shipped with lofar-hires, trained on simulated international calibrator images) "
                                   "or a directory holding backbone.safetensors and head.safetensors")
    divergence_cycles: int = option(help="diverged when rms and |min/max| both grew in each of this many "
                                    "consecutive cycles", min=1)
    divergence_min_growth_fraction: float = option(help="a cycle counts as growing when rms and |min/max| grew "
                                                   "by more than this fraction (smaller changes are numerical "
                                                   "noise)", min=0.0)
    fixed_point_change: float = option(help="a fixed point when this cycle's solutions repeat the previous "
                                       "cycle's: phase change (rad) and amplitude change (ln ratio) below this "
                                       "(0: never)", min=0.0)
    stability_stations: str = option(help="stations whose phases measure the stability "
                                     "(station groups, names or patterns)")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the settings together.

        Raises
        ------
        InputError
            ``max_cycles`` below ``min_cycles``.
        """
        if not self.classifier_model.strip():
            raise InputError("stopping.classifier_model is empty; use none, shipped or a model directory",
                             setting="stopping.classifier_model")
        if self.max_cycles < self.min_cycles:
            raise InputError(f"stopping: max_cycles ({self.max_cycles}) is below min_cycles ({self.min_cycles}); "
                             "raise max_cycles or lower min_cycles")


@dataclass
class Decision:
    """The outcome of the stopping rule after one cycle."""

    stop: bool
    reason: str  # one of REASONS
    criteria: dict[str, bool | None]  # CRITERIA -> held / failed / not evaluated (None)
    best_cycle: int
    classifier_used: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_history(history: Sequence[CycleMetrics]) -> None:
    if not history:
        raise InputError("stopping rule: no cycles yet; image cycle 0 (before self-calibration) first")
    cycles = [row.cycle for row in history]
    if cycles != list(range(len(history))):
        raise InputError(f"stopping rule: cycles must be numbered 0, 1, 2, ... in order, got {cycles}")
    if not history[0].rms_jy > 0:
        raise InputError(f"stopping rule: cycle 0 has rms {history[0].rms_jy} Jy/beam; it must be positive")


def best_cycle(history: Sequence[CycleMetrics], rule: StoppingRule) -> int:
    """The cycle to keep: highest dynamic range among those with an acceptable rms.

    Acceptable: rms at most ``(1 + max_rms_increase_fraction)`` times that of cycle 0
    (when no cycle qualifies, all are considered). Ties go to the lower rms, then
    the earlier cycle.
    """
    _check_history(history)
    limit = (1.0 + rule.max_rms_increase_fraction) * history[0].rms_jy
    pool = [row for row in history if row.rms_jy <= limit] or list(history)
    return min(pool, key=lambda row: (-row.dynamic_range, row.rms_jy, row.cycle)).cycle


def diverging(history: Sequence[CycleMetrics], n_cycles: int, min_growth_fraction: float = 0.0) -> bool:
    """True when rms and |min/max| both grew by more than ``min_growth_fraction`` (relative) in each of the
    last ``n_cycles`` steps; smaller changes are the numerical noise of images that repeat each other."""
    if len(history) < n_cycles + 1:
        return False
    tail = history[-(n_cycles + 1):]
    g = 1.0 + min_growth_fraction
    return all(b.rms_jy > g * a.rms_jy and b.min_max_ratio > g * a.min_max_ratio for a, b in zip(tail[:-1], tail[1:]))


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def at_fixed_point(history: Sequence[CycleMetrics], rule: StoppingRule, last_solve_start_cycle: int = 0) -> bool:
    """True when the last cycle's solutions repeat the previous cycle's and every solve was made in both.

    Cycle n + 1 images the data corrected with the solutions of cycle n. When those equal the
    solutions of cycle n - 1 (phase change and amplitude change below ``fixed_point_change``)
    and cycle n - 1 already made every solve of the strategy (``last_solve_start_cycle <= n - 1``),
    cycle n + 1 images what cycle n imaged and repeats it.
    """
    if rule.fixed_point_change <= 0 or len(history) < 2:
        return False
    last = history[-1]
    if last.cycle - 1 < last_solve_start_cycle or last.phase_stability_rad is None:
        return False
    if abs(last.phase_stability_rad) >= rule.fixed_point_change:
        return False
    return last.amplitude_stability is None or abs(last.amplitude_stability) < rule.fixed_point_change


def decide(history: Sequence[CycleMetrics], rule: StoppingRule, last_solve_start_cycle: int = 0) -> Decision:
    """Apply the stopping rule to the last cycle of ``history``.

    Parameters
    ----------
    history
        One row per cycle, ``history[n]`` being cycle n (cycle 0: before self-calibration).
    rule
        Thresholds and cycle limits.
    last_solve_start_cycle
        The latest ``start_cycle`` of the strategy's solves (a fixed point needs every solve made).

    Returns
    -------
    Decision
        ``reason`` by priority: converged, diverged, max_cycles, continue.
    """
    _check_history(history)
    first, last = history[0], history[-1]
    n = last.cycle
    criteria: dict[str, bool | None] = dict.fromkeys(CRITERIA)
    notes: list[str] = []

    classifier_used = last.classifier_score is not None
    if classifier_used:
        criteria["classifier"] = last.classifier_score < rule.classifier_threshold
        notes.append(f"classifier P {last.classifier_score:.2f} {'<' if criteria['classifier'] else '>='} "
                     f"{rule.classifier_threshold:g}")

    increase = last.rms_jy / first.rms_jy - 1.0
    criteria["rms"] = increase <= rule.max_rms_increase_fraction
    notes.append(f"rms {last.rms_jy * 1e3:.3g} mJy/beam, {increase:+.1%} vs cycle 0 "
                 f"{'<=' if criteria['rms'] else '>'} {rule.max_rms_increase_fraction:.0%}")

    if rule.require_dynamic_range_gain:
        criteria["dynamic_range"] = last.dynamic_range > first.dynamic_range
        notes.append(f"dynamic range {last.dynamic_range:.1f} {'>' if criteria['dynamic_range'] else '<='} "
                     f"{first.dynamic_range:.1f} (cycle 0)")

    if last.phase_stability_rad is None:
        criteria["phase_stability"] = False
        notes.append("phase stability unknown (no previous solutions)")
    else:
        criteria["phase_stability"] = last.phase_stability_rad < rule.phase_stability_rad
        notes.append(f"phase stability {last.phase_stability_rad:.3f} rad "
                     f"{'<' if criteria['phase_stability'] else '>='} {rule.phase_stability_rad:g} rad")

    all_hold = all(v for v in criteria.values() if v is not None)
    best = best_cycle(history, rule)
    if len(history) >= rule.min_cycles and all_hold:
        reason = "converged"
    elif len(history) >= rule.min_cycles and at_fixed_point(history, rule, last_solve_start_cycle):
        reason = "fixed_point"
    elif diverging(history, rule.divergence_cycles, rule.divergence_min_growth_fraction):
        reason = "diverged"
    elif len(history) >= rule.max_cycles:
        reason = "max_cycles"
    else:
        reason = "continue"

    head = {
        "converged": "converged",
        "fixed_point": "stopped at a fixed point (the solutions repeat the previous cycle's: every further cycle "
                       "would repeat this one)",
        "diverged": f"diverged (rms and |min/max| grew in each of the last {rule.divergence_cycles} cycles)",
        "max_cycles": f"stopped at max_cycles ({rule.max_cycles} cycles)",
        "continue": "continue",
    }[reason]
    if reason == "continue" and all_hold:
        head += f" (criteria hold but {len(history)} cycles < min_cycles {rule.min_cycles})"
    parts = [f"cycle {n}: {head}", "; ".join(notes), f"best cycle {best}"]
    if not classifier_used:
        used = ["rms"] + (["dynamic range"] if rule.require_dynamic_range_gain else []) + ["phase stability"]
        parts.append(f"no classifier model: the rule used {_join(used)} only")
    message = "; ".join(parts)
    log.info("%s", message)
    return Decision(stop=reason != "continue", reason=reason, criteria=criteria, best_cycle=best,
                    classifier_used=classifier_used, message=message)
