"""The verdict of the gate on one observation: sub-scores, pass or fail, and the reasons in words.

Each metric maps to a sub-score in [0, 1], ``1 - value / limit`` clipped (1 for a perfect value,
0 at or beyond the limit): the phasediff score against ``phasediff.max_score_rad`` (0 also when the
score is not below its noise threshold: the calibrator is not detected), the flagged fraction
against ``flags.max_flagged_fraction`` and the TEC rate against
``ionosphere.max_dtec_rate_tecu_per_min``. The observation passes when every metric is within its
limit (the phasediff score below it, the others at most at it); its score is the smallest
sub-score, the metric closest to its limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lofar_hires.gate.config import CalibratabilityConfig
from lofar_hires.gate.flags import FlagCount
from lofar_hires.gate.ionosphere import IonosphereMetric
from lofar_hires.gate.phasediff import PhasediffMetric

#: The metrics, in the order of the sub-scores and reasons.
METRICS = ("phasediff", "flags", "ionosphere")


@dataclass
class Verdict:
    """Whether an observation is worth calibrating, and why not."""

    passed: bool
    score: float
    sub_scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def sub_score(value: float, limit: float) -> float:
    """``1 - value / limit`` clipped to [0, 1] (1: perfect, 0: at or beyond the limit)."""
    if limit <= 0:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - value / limit)))


def judge_phasediff(metric: PhasediffMetric, max_score_rad: float) -> tuple[float, str | None]:
    """Sub-score and, when it fails, the reason of the phasediff score."""
    if metric.score_rad is None:
        return 0.0, f"no phasediff score could be measured ({metric.note})"
    name = metric.calibrator
    if metric.score_rad >= max_score_rad:
        return 0.0, (f"phasediff score {metric.score_rad:.2f} rad of calibrator {name} is not below "
                     f"{max_score_rad:.2f} rad")
    if not metric.significant:
        return 0.0, (f"phasediff score {metric.score_rad:.2f} rad of calibrator {name} is not below the noise "
                     f"threshold {metric.noise_threshold_rad:.2f} rad of its {metric.n_values} values (false-alarm "
                     f"probability {metric.false_alarm:g}): the calibrator is not detected on the longest baselines")
    return sub_score(metric.score_rad, max_score_rad), None


def judge_flags(count: FlagCount, max_fraction: float) -> tuple[float, str | None]:
    """Sub-score and, when it fails, the reason of the flagged fraction."""
    fraction = count.fraction
    reason = None
    if fraction > max_fraction:
        reason = (f"{100 * fraction:.1f} % of visibilities flagged ({count.n_flagged} of {count.n_visibilities}), "
                  f"above {100 * max_fraction:g} %")
    return sub_score(fraction, max_fraction), reason


def judge_ionosphere(metric: IonosphereMetric, max_rate: float) -> tuple[float, str | None]:
    """Sub-score and, when it fails, the reason of the TEC rate."""
    rate = metric.dtec_rate_rms_tecu_per_min
    reason = None
    if rate > max_rate:
        reason = (f"ionospheric activity {rate:.3f} TECU/min (rms rate of the differential TEC of "
                  f"{', '.join(metric.stations)}) above {max_rate:g} TECU/min")
    return sub_score(rate, max_rate), reason


def judge(phasediff: PhasediffMetric, flags: FlagCount, ionosphere: IonosphereMetric,
          cfg: CalibratabilityConfig) -> Verdict:
    """The verdict on one observation from its three metrics (pure)."""
    judged = {"phasediff": judge_phasediff(phasediff, cfg.phasediff.max_score_rad),
              "flags": judge_flags(flags, cfg.flags.max_flagged_fraction),
              "ionosphere": judge_ionosphere(ionosphere, cfg.ionosphere.max_dtec_rate_tecu_per_min)}
    subs = {name: judged[name][0] for name in METRICS}
    reasons = [judged[name][1] for name in METRICS if judged[name][1] is not None]
    return Verdict(passed=not reasons, score=min(subs.values()), sub_scores=subs, reasons=reasons)
