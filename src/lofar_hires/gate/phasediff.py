"""The phasediff score of the in-field calibrator on one observation's longest baselines.

The score is measured by :mod:`lofar_hires.selection` exactly as ``lofar-hires select score``
measures a candidate (:func:`~lofar_hires.selection.score.prepare_scoring`, then
:func:`~lofar_hires.selection.score.score_candidate` per calibrator: DP3 phase shift, averaging and
core phase-up, the circular basis, a DDECal RR/LL phase solve, the R-L phase spread over the most
distant stations), with its noise level for the same samples. With several calibrators (a table)
each is scored and the lowest score counts: the delay calibration needs one good calibrator.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.provenance import Provenance
from lofar_hires.selection.config import SelectionConfig
from lofar_hires.selection.score import ScoreResult, ScoreSetup, prepare_scoring, score_candidate
from lofar_hires.selection.sky import separation_deg
from lofar_hires.selection.table import CalibratorRow

log = logging.getLogger(__name__)


@dataclass
class PhasediffMetric:
    """The best phasediff score among the calibrators of one observation, with its noise level.

    ``score_rad`` is ``None`` when no calibrator could be scored (``note`` says why).
    """

    calibrator: str | None
    score_rad: float | None
    noise_median_rad: float | None = None
    noise_threshold_rad: float | None = None
    false_alarm: float | None = None
    n_values: int = 0
    stations: list[str] = field(default_factory=list)
    note: str = ""
    per_calibrator_rad: dict[str, float | None] = field(default_factory=dict)

    @property
    def significant(self) -> bool:
        """Whether the score is below the score pure noise stays below with probability ``false_alarm``."""
        return (self.score_rad is not None and self.noise_threshold_rad is not None
                and self.score_rad < self.noise_threshold_rad)

    def to_dict(self) -> dict:
        return {"calibrator": self.calibrator, "score_rad": self.score_rad, "noise_median_rad": self.noise_median_rad,
                "noise_threshold_rad": self.noise_threshold_rad, "false_alarm": self.false_alarm,
                "n_values": self.n_values, "stations": list(self.stations), "significant": self.significant,
                "note": self.note, "per_calibrator_rad": dict(self.per_calibrator_rad)}


def check_calibrator_distances(calibrators: Sequence[CalibratorRow], phase_centre_deg: tuple[float, float],
                               max_distance_deg: float, ms: Path) -> None:
    """Refuse calibrators farther from the phase centre of ``ms`` than the score reaches (score.max_distance_deg)."""
    for row in calibrators:
        dist = float(separation_deg(phase_centre_deg[0], phase_centre_deg[1], row.ra_deg, row.dec_deg))
        if not math.isfinite(dist) or dist > max_distance_deg:
            raise InputError(f"calibrator {row.name} (RA {row.ra_deg:g}, Dec {row.dec_deg:g} deg) is {dist:.2f} deg "
                             f"from the phase centre of {ms.name}, beyond score.max_distance_deg = "
                             f"{max_distance_deg:g}; give the in-field calibrator of the observation")


def prepare_observation(ms: Path, calibrators: Sequence[CalibratorRow], config: SelectionConfig) -> ScoreSetup:
    """Check one observation's MS for the score and the calibrators' distances; nothing runs.

    The MS needs what ``select score`` needs (:func:`~lofar_hires.selection.score.prepare_scoring`):
    the score's data column, rows, unflagged data, and enough phase values that a main calibrator
    (``classify.main_max_rad``) can be told from noise. The gate's own limit may be higher; a score
    passes only when it is also below its noise threshold, which these values put at or above the
    main calibrators' limit.
    """
    setup = prepare_scoring([ms], config.score, config.classify.main_max_rad)
    centre = tuple(math.degrees(a) for a in setup.info.phase_centre_rad)
    check_calibrator_distances(calibrators, centre, config.score.max_distance_deg, ms)
    return setup


def best_score(results: Sequence[ScoreResult]) -> PhasediffMetric:
    """The metric of the lowest score among ``results`` (pure); ``score_rad`` ``None`` when none was scored."""
    per = {r.name: r.score_rad for r in results}
    scored = [r for r in results if r.score_rad is not None]
    if not scored:
        notes = "; ".join(f"{r.name}: {r.note or 'no score'}" for r in results)
        return PhasediffMetric(None, None, note=notes, per_calibrator_rad=per)
    best = min(scored, key=lambda r: r.score_rad)
    return PhasediffMetric(best.name, best.score_rad, best.noise_median_rad, best.noise_threshold_rad,
                           best.false_alarm, best.n_values, list(best.stations), best.note, per)


def measure_phasediff(setup: ScoreSetup, calibrators: Sequence[CalibratorRow], config: SelectionConfig,
                      stems: dict[str, str], workdir: Path, provenance: Provenance | None = None) -> PhasediffMetric:
    """Score every calibrator on one observation (DP3 runs in ``workdir``) and return the best score.

    Parameters
    ----------
    setup
        The observation's checked MS and score plan (:func:`prepare_observation`).
    calibrators
        The in-field calibrator(s).
    config
        The selection settings (its ``score`` section).
    stems
        File-name stem of each calibrator (:func:`lofar_hires.io.names.safe_names`).
    workdir
        Where the averaged MS, solutions and DP3 logs of each calibrator go.
    provenance
        Record of the DP3 runs.
    """
    results = [score_candidate(setup, row, config.score, workdir, provenance, file_stem=stems[row.name])
               for row in calibrators]
    metric = best_score(results)
    if metric.score_rad is None:
        log.warning("%s: no calibrator could be scored (%s)", setup.ms_paths[0].name, metric.note)
    return metric
