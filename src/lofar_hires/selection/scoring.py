"""Scoring a table of candidate calibrators, and classifying the scored tables.

:func:`score_table` scores every candidate of a calibrator table (or the named ones)
with :func:`lofar_hires.selection.score.score_candidate` (the phasediff score of de Jong
et al. 2024 and its noise level) and writes

* the table with ``score_rad``, ``score_stations`` and the noise level of each score
  (``n_values``, ``noise_median_rad``, ``noise_threshold_rad``, ``false_alarm``) filled in;
* the details (settings, score plan, per-station scores, solution counts, noise
  simulation) as ``<stem>.json`` (:func:`lofar_hires.selection.table.details_path`);
* the provenance as ``<stem>.provenance.json``.

Everything is checked before the first DP3 run: the measurement sets (rows, unflagged
data), the number of phase values the score will pool, the candidate names (each becomes
a file name through :func:`lofar_hires.io.names.safe_names`; names that collide after
conversion are refused) and every output. The input measurement sets are read only.
:func:`classify_tables` gathers scored tables and classifies them
(:func:`lofar_hires.selection.classify.classify`) with the solution interval the scores were
measured with (:func:`recorded_solint_min`), writing the selection table and its provenance.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from lofar_hires.calibration.step_products import check_new_output, require_file
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.names import inside, safe_names
from lofar_hires.provenance import Provenance
from lofar_hires.selection.classify import classify
from lofar_hires.selection.config import SelectionConfig
from lofar_hires.selection.noise import NOISE_SEED
from lofar_hires.selection.score import ScoreResult, ScoreSetup, prepare_scoring, score_candidate
from lofar_hires.selection.sky import pairwise_separation_deg
from lofar_hires.selection.table import (
    CalibratorRow,
    check_unique_names,
    details_path,
    provenance_path,
    read_table,
    write_table,
)

log = logging.getLogger(__name__)

#: Candidates closer than this are reported as one position scored twice.
SAME_POSITION_ARCSEC = 1.0

#: How the noise level of a score is found (recorded in the details).
NOISE_METHOD = ("simulated pure-noise scores through the score's functions with each candidate's weights (median, "
                "effective number of values); threshold from Zar's approximation of the Rayleigh test at the "
                "effective number of values (lofar_hires.selection.noise)")


def select_candidates(rows: Sequence[CalibratorRow], names: Sequence[str], table: Path) -> list[CalibratorRow]:
    """The rows of ``names`` (all rows when ``names`` is empty); a name not in the table is refused."""
    if not names:
        return list(rows)
    known = {r.name for r in rows}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"candidate {unknown[0]!r} is not in the candidate table {table}", setting="names")
    return [r for r in rows if r.name in names]


def warn_same_positions(rows: Sequence[CalibratorRow]) -> None:
    """Log a warning for every pair of candidates at the same position (both are scored)."""
    if len(rows) < 2:
        return
    sep = pairwise_separation_deg([r.ra_deg for r in rows], [r.dec_deg for r in rows])
    for i, j in zip(*((sep < SAME_POSITION_ARCSEC / 3600).nonzero())):
        if i < j:
            log.warning("candidates %s and %s are at the same position (%.2f arcsec apart); both are scored",
                        rows[i].name, rows[j].name, sep[i, j] * 3600)


def scored_row(row: CalibratorRow, result: ScoreResult) -> CalibratorRow:
    """The table row of a candidate with its score and noise level filled in."""
    return row.with_(score_rad=result.score_rad, score_stations=tuple(result.stations), reason=result.note,
                     n_values=result.n_values if result.noise_draws else None,
                     noise_median_rad=result.noise_median_rad, noise_threshold_rad=result.noise_threshold_rad,
                     false_alarm=result.false_alarm)


def score_details(setup: ScoreSetup, config: SelectionConfig, results: Sequence[ScoreResult]) -> dict:
    """The details document of a scored table: settings, plan, noise simulation and every candidate's result."""
    cfg, plan = config.score, setup.plan
    return {"settings": asdict(cfg),
            "plan": {"n_values": plan.n_values, "described": plan.describe_values(),
                     "min_values": setup.min_values, "main_max_rad": config.classify.main_max_rad},
            "noise": {"method": NOISE_METHOD, "seed": NOISE_SEED, "draws": cfg.noise_draws,
                      "false_alarm": cfg.false_alarm},
            "candidates": [r.to_dict() for r in results]}


def _log_result(r: ScoreResult) -> None:
    noise = ("" if r.noise_threshold_rad is None else
             f"  noise median {r.noise_median_rad:4.2f}, {r.noise_threshold_rad:4.2f} at {r.false_alarm:g} "
             f"({r.n_values} values)")
    log.info("%-20s sigma_c %s rad%s%s", r.name, "  n/a" if r.score_rad is None else f"{r.score_rad:5.2f}",
             noise, f" ({r.note})" if r.note else "")


def score_table(msin: Sequence[Path], candidates: Path, output: Path, config: SelectionConfig, *,
                names: Sequence[str] = (), solutions_dir: Path | None = None, overwrite: bool = False,
                parameters: Mapping[str, object] | None = None) -> list[ScoreResult]:
    """Score the candidates of a table on DI-calibrated measurement sets and write the scored table.

    Parameters
    ----------
    msin
        DI-calibrated measurement sets of one observation (subbands, concatenated in frequency); read only.
    candidates
        Calibrator table (:func:`lofar_hires.selection.table.read_table`).
    output
        Scored table (CSV); the details go to ``<stem>.json``, the provenance to ``<stem>.provenance.json``.
    config
        The selection settings (the ``score`` section; ``classify.main_max_rad`` sets the values needed).
    names
        Score only these candidates (default: every row).
    solutions_dir
        Keep the RR/LL phase solutions (``<name>.phasediff.h5``, the name made safe) and DP3 logs here.
    overwrite
        Replace existing outputs.
    parameters
        The request, recorded in the provenance.

    Returns
    -------
    list of ScoreResult
        One per scored candidate, in table order.
    """
    cfg = config.score
    rows = read_table(require_file(candidates, "candidate table", setting="candidates"))
    if not rows:
        raise InputError(f"the candidate table {candidates} is empty; nothing to score", setting="candidates")
    stems = safe_names([r.name for r in rows], what="calibrator")
    rows = select_candidates(rows, names, candidates)
    setup = prepare_scoring(msin, cfg, config.classify.main_max_rad)
    details_file, prov_path = details_path(output), provenance_path(output)
    for path in (output, details_file, prov_path):
        check_new_output(path, overwrite, [*msin, candidates], setting="output")
    if solutions_dir is not None:
        for row in rows:
            check_new_output(inside(solutions_dir, f"{stems[row.name]}.phasediff.h5"), overwrite, [*msin],
                             setting="solutions_dir")
    warn_same_positions(rows)
    log.info("settings: %r", cfg)
    prov = Provenance(task="select score", parameters={**(parameters or {}), "settings": asdict(cfg)})
    for path in (*msin, candidates):
        prov.add_input(path)

    work = Path(tempfile.mkdtemp(prefix=f".{Path(output).stem}.work-", dir=Path(output).resolve().parent))
    results: list[ScoreResult] = []
    start = time.monotonic()
    try:
        for k, row in enumerate(rows, 1):
            log.info("candidate %d/%d: %s (RA %.5f, Dec %.5f deg; %.0f s elapsed)", k, len(rows), row.name,
                     row.ra_deg, row.dec_deg, time.monotonic() - start)
            results.append(score_candidate(setup, row, cfg, solutions_dir or work, prov, file_stem=stems[row.name]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_table(output, [scored_row(row, result) for row, result in zip(rows, results)], overwrite=overwrite)
    with atomic_output(details_file, overwrite=True) as tmp:
        tmp.write_text(json.dumps(score_details(setup, config, results), indent=2) + "\n")
    prov.write(prov_path)
    for result in results:
        _log_result(result)
    return results


def _recorded_solint_min(details: Path) -> float:
    """The solution interval (min) in the settings of a details file (``solint_s``; ``solint_min`` of older runs)."""
    try:
        settings = json.loads(details.read_text())["settings"]
        if "solint_s" in settings:
            return float(settings["solint_s"]) / 60.0
        return float(settings["solint_min"])
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise InputError(f"{details} is not the details file of a scored table") from None


def recorded_solint_min(tables: Sequence[Path], default: float) -> float:
    """The score solution interval (min) recorded in the details next to scored tables (all must agree).

    Tables without details (e.g. edited by hand) give ``default``, with a warning.
    """
    values = set()
    for table in tables:
        details = details_path(table)
        if details.is_file():
            values.add(_recorded_solint_min(details))
    if len(values) > 1:
        raise InputError(f"the scored tables were measured with different solution intervals {sorted(values)} min")
    if not values:
        log.warning("no <stem>.json next to the scored tables; assuming a %g min score solution interval", default)
        return default
    return values.pop()


def classify_tables(scores: Sequence[Path], output: Path, config: SelectionConfig, *,
                    added: Sequence[CalibratorRow] = (), removed: Sequence[str] = (), overwrite: bool = False,
                    parameters: Mapping[str, object] | None = None) -> list[CalibratorRow]:
    """Gather scored tables, classify them into main and weak calibrators and write the selection table.

    Parameters
    ----------
    scores
        Scored tables (:func:`score_table`); their names must be unique together.
    output
        Selection table (CSV); the provenance goes to ``<stem>.provenance.json``.
    config
        The selection settings (the ``classify`` section; ``score.solint_s`` when the tables record no interval).
    added, removed
        Calibrators added by hand (never pruned) and names removed by hand.
    overwrite
        Replace existing outputs.
    parameters
        The request, recorded in the provenance.

    Returns
    -------
    list of CalibratorRow
        The classified rows, as written.
    """
    rows = [row for table in scores for row in read_table(table)]
    check_unique_names(rows, "the gathered scored tables")
    if not rows and not added:
        raise InputError("no candidate in the scored tables and none added; nothing to classify", setting="scores")
    prov_path = provenance_path(output)
    for path in (output, prov_path):
        check_new_output(path, overwrite, list(scores), setting="output")
    solint = recorded_solint_min(list(scores), config.score.solint_s / 60.0)
    log.info("settings: %r (score solution interval %g min)", config.classify, solint)
    selected = classify(rows, config.classify, ref_solint_min=solint, add=added, remove=removed)
    write_table(output, selected, overwrite=overwrite)
    prov = Provenance(task="select classify", parameters={**(parameters or {}), "settings": asdict(config.classify),
                                                          "ref_solint_min": solint})
    for path in scores:
        prov.add_input(path)
    prov.write(prov_path)
    for r in selected:
        log.info("%-20s %-9s sigma_c %s  delta_t %s  %s", r.name, r.category,
                 " n/a" if r.score_rad is None else f"{r.score_rad:4.2f}",
                 "  n/a" if r.solint_min is None else f"{r.solint_min:5.1f} min", r.reason)
    return selected
