"""Classification of scored candidates into main and weak calibrators (de Jong et al. 2025, section 6.3.1).

1. Manual removals (``removed``) and additions (kept whatever their score).
2. Significance: a score that is not below its noise threshold (the score pure noise
   stays below with the table's ``false_alarm`` probability for the same samples,
   :mod:`lofar_hires.selection.noise`) is ``rejected`` as not significant, whatever its
   value. A row without a noise level (a table written before the significance test,
   or by hand) is classified by the thresholds alone, with a warning.
3. By score: main below ``main_max_rad``, weak from there up to ``weak_max_rad``,
   rejected above (and candidates without a score).
4. Neighbour pruning, best score first: a main calibrator within ``prune_main_deg``
   of an already kept main calibrator is pruned; then a weak calibrator within
   ``prune_weak_deg`` of any kept (main or weak) calibrator is pruned. So of a
   group of neighbours only the lowest score survives (de Jong et al. 2025,
   section 6.3.1).
5. The solution-interval metric delta_t of every scored row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.selection.config import ClassifyConfig
from lofar_hires.selection.phasediff import solint_from_score
from lofar_hires.selection.sky import separation_deg
from lofar_hires.selection.table import CalibratorRow, sort_rows

log = logging.getLogger(__name__)


def not_significant(row: CalibratorRow) -> str | None:
    """Why a scored row is not significantly below its noise level, or None (significant, or no noise level)."""
    if row.score_rad is None or row.noise_threshold_rad is None or row.score_rad < row.noise_threshold_rad:
        return None
    fa = "?" if row.false_alarm is None else f"{row.false_alarm:g}"
    n = "?" if row.n_values is None else f"{row.n_values}"
    return (f"not significant: sigma_c {row.score_rad:.2f} >= noise level {row.noise_threshold_rad:.2f} at "
            f"false-alarm {fa} for {n} values")


def category_by_score(score_rad: float | None, cfg: ClassifyConfig) -> tuple[str, str]:
    """(category, reason) of a score alone."""
    if score_rad is None:
        return "rejected", "no phasediff score"
    if score_rad < cfg.main_max_rad:
        return "main", f"sigma_c {score_rad:.2f} < {cfg.main_max_rad:g} rad"
    if score_rad < cfg.weak_max_rad:
        return "weak", f"{cfg.main_max_rad:g} <= sigma_c {score_rad:.2f} < {cfg.weak_max_rad:g} rad"
    return "rejected", f"sigma_c {score_rad:.2f} >= {cfg.weak_max_rad:g} rad"


def _prune(rows: list[CalibratorRow], candidates: list[int], kept: list[int], radius_deg: float,
           protected: set[int]) -> tuple[list[int], dict[int, str]]:
    """Greedy pruning of ``candidates`` (best score first) against ``kept`` and each other."""
    pruned: dict[int, str] = {}
    order = sorted(candidates, key=lambda i: (i not in protected, rows[i].score_rad if rows[i].score_rad is not None
                                              else math.inf, rows[i].name))
    kept = list(kept)
    for i in order:
        if kept and i not in protected:
            sep = separation_deg(rows[i].ra_deg, rows[i].dec_deg, [rows[k].ra_deg for k in kept],
                                 [rows[k].dec_deg for k in kept])
            near = int(np.argmin(sep))
            if sep[near] < radius_deg:
                other = rows[kept[near]]
                other_score = "added by hand" if other.score_rad is None else f"sigma_c {other.score_rad:.2f}"
                pruned[i] = f"{sep[near]:.3f} deg from {other.name} ({other_score}) < {radius_deg:g} deg"
                continue
        kept.append(i)
    return kept, pruned


def classify(rows: Sequence[CalibratorRow], cfg: ClassifyConfig, *, ref_solint_min: float = 10.0,
             add: Sequence[CalibratorRow] = (), remove: Sequence[str] = ()) -> list[CalibratorRow]:
    """Classify scored candidates.

    Parameters
    ----------
    rows
        Candidates with ``score_rad`` (None: not scored).
    cfg
        Thresholds, pruning distances and the solution-interval formula.
    ref_solint_min
        The solution interval the scores were measured with (the metric's reference).
    add
        Calibrators added by hand; their ``category`` (main or weak) is kept and they are never pruned.
    remove
        Names of candidates to drop by hand.

    Returns
    -------
    list of CalibratorRow
        Every input row with category, reason and solint_min filled, sorted (main first).
    """
    names = {r.name for r in rows}
    unknown = [n for n in remove if n not in names]
    if unknown:
        raise InputError(f"remove: no candidate named {', '.join(unknown)} (candidates: {', '.join(sorted(names))})",
                         setting="remove")
    clash = [r.name for r in add if r.name in names]
    if clash:
        raise InputError(f"add: a candidate named {clash[0]} already exists; remove it first or choose another name",
                         setting="add")
    for r in add:
        if r.category not in ("main", "weak"):
            raise InputError(f"add {r.name}: category must be main or weak, not {r.category}", setting="add")
    out: list[CalibratorRow] = []
    untested: list[str] = []
    for row in rows:
        if row.name in remove:
            out.append(row.with_(category="removed", reason="removed by hand"))
            continue
        category, reason = category_by_score(row.score_rad, cfg)
        if row.score_rad is None and row.reason:
            reason = row.reason
        why = not_significant(row)
        if why is not None:
            category, reason = "rejected", why
        elif row.score_rad is not None and row.noise_threshold_rad is None:
            untested.append(row.name)
        out.append(row.with_(category=category, reason=reason))
    if untested:
        log.warning("%d scored candidate(s) have no noise level in the table (scored before the significance test, "
                    "or edited by hand), so their significance is not tested: %s; score them again with "
                    "lofar-hires select score", len(untested), ", ".join(untested[:10]) +
                    (" ..." if len(untested) > 10 else ""))
    out += [r.with_(origin="manual", reason=f"added by hand as {r.category}") for r in add]
    protected = set(range(len(out) - len(add), len(out)))
    main = [i for i, r in enumerate(out) if r.category == "main"]
    kept_main, pruned_main = _prune(out, main, [], cfg.prune_main_deg, protected)
    weak = [i for i, r in enumerate(out) if r.category == "weak"]
    _, pruned_weak = _prune(out, weak, kept_main, cfg.prune_weak_deg, protected)
    for i, why in {**pruned_main, **pruned_weak}.items():
        out[i] = out[i].with_(category="pruned", reason=f"{out[i].category}, pruned: {why}")
    final = []
    for row in out:
        solint = None
        if row.score_rad is not None:
            value = solint_from_score(row.score_rad, cfg.solint_formula, ref_solint_min, cfg.optimal_score_rad)
            solint = value if math.isfinite(value) else None
        final.append(row.with_(solint_min=solint))
    counts = {c: sum(r.category == c for r in final) for c in ("main", "weak", "rejected", "pruned", "removed")}
    log.info("classified %d candidates: %s", len(final), ", ".join(f"{v} {k}" for k, v in counts.items()))
    return sort_rows(final)
