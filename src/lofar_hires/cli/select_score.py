"""``lofar-hires select score``: phasediff scores of candidate calibrators (SPEC section 3).

Scores every candidate of a table (or the named ones) on DI-calibrated data and
writes the table with ``score_rad``, ``score_stations`` and the noise level of each
score (``n_values``, ``noise_median_rad``, ``noise_threshold_rad``, ``false_alarm``)
filled in, the details (settings, per-station scores, solution counts, noise
simulation) as ``<stem>.json`` and the provenance as ``<stem>.provenance.json``.

Everything is checked before the first DP3 run: the measurement sets (rows, unflagged
data), the number of phase values the score will pool (too few to tell a main
calibrator from noise is an error naming the minimum), the candidate names (each
becomes a file name through :func:`lofar_hires.io.names.safe_names`; names that
collide after conversion are refused) and every output. The input measurement sets
are read only.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "phasediff score (sigma_c) of candidate calibrators on DI-calibrated measurement sets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, nargs="+",
                        help="DI-calibrated measurement set(s) of one observation (subbands are concatenated in "
                             "frequency); read only")
    parser.add_argument("--candidates", type=Path, required=True,
                        help="calibrator table (lofar-hires select candidates); every row is scored")
    parser.add_argument("--name", dest="names", action="append", default=[], metavar="NAME",
                        help="score only this candidate (repeatable)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="scored table, CSV (details in <stem>.json, provenance in <stem>.provenance.json)")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML overriding configs/select_calibrators.yaml (the score section is used)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. score.solint_min=5 (repeatable)")
    parser.add_argument("--solutions-dir", type=Path, default=None,
                        help="keep the RR/LL phase solutions (<name>.phasediff.h5, the name made safe as a file "
                             "name) and DP3 logs here")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli.dical import check_new_output, require_file
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.names import inside, safe_names
    from lofar_hires.provenance import Provenance
    from lofar_hires.selection.config import load_selection_config
    from lofar_hires.selection.noise import NOISE_SEED
    from lofar_hires.selection.score import prepare_scoring, score_candidate
    from lofar_hires.selection.sky import pairwise_separation_deg
    from lofar_hires.selection.table import details_path, provenance_path, read_table, write_table

    config = load_selection_config(args.config, args.overrides)
    cfg = config.score
    rows = read_table(require_file(args.candidates, "--candidates"))
    if not rows:
        raise InputError(f"the candidate table {args.candidates} is empty; nothing to score")
    stems = safe_names([r.name for r in rows], what="calibrator")
    if args.names:
        unknown = [n for n in args.names if n not in stems]
        if unknown:
            raise InputError(f"--name {unknown[0]!r}: no such candidate in {args.candidates}")
        rows = [r for r in rows if r.name in args.names]
    setup = prepare_scoring(args.ms, cfg, config.classify.main_max_rad)
    details_file, prov_path = details_path(args.output), provenance_path(args.output)
    for path in (args.output, details_file, prov_path):
        check_new_output(path, args.overwrite, [*args.ms, args.candidates])
    keep = args.solutions_dir
    if keep is not None:
        for row in rows:
            check_new_output(inside(keep, f"{stems[row.name]}.phasediff.h5"), args.overwrite, [*args.ms])
    if len(rows) > 1:
        sep = pairwise_separation_deg([r.ra_deg for r in rows], [r.dec_deg for r in rows])
        for i, j in zip(*((sep < 1.0 / 3600).nonzero())):
            if i < j:
                log.warning("candidates %s and %s are at the same position (%.2f arcsec apart); both are scored",
                            rows[i].name, rows[j].name, sep[i, j] * 3600)
    log.info("settings: %r", cfg)
    parameters = json.loads(json.dumps({k: v for k, v in vars(args).items() if not k.startswith("_")}, default=str))
    prov = Provenance(task="select score", parameters={**parameters, "settings": asdict(cfg)})
    for path in (*args.ms, args.candidates):
        prov.add_input(path)

    work = Path(tempfile.mkdtemp(prefix=f".{args.output.stem}.work-", dir=args.output.resolve().parent))
    results, scored = [], []
    start = time.monotonic()
    try:
        for k, row in enumerate(rows, 1):
            log.info("candidate %d/%d: %s (RA %.5f, Dec %.5f deg; %.0f s elapsed)", k, len(rows), row.name,
                     row.ra_deg, row.dec_deg, time.monotonic() - start)
            result = score_candidate(setup, row, cfg, keep or work, prov, file_stem=stems[row.name])
            results.append(result)
            scored.append(row.with_(score_rad=result.score_rad, score_stations=tuple(result.stations),
                                    reason=result.note, n_values=result.n_values if result.noise_draws else None,
                                    noise_median_rad=result.noise_median_rad,
                                    noise_threshold_rad=result.noise_threshold_rad, false_alarm=result.false_alarm))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_table(args.output, scored, overwrite=args.overwrite)
    plan = setup.plan
    details = {"settings": asdict(cfg),
               "plan": {"n_values": plan.n_values, "described": plan.describe_values(),
                        "min_values": setup.min_values, "main_max_rad": config.classify.main_max_rad},
               "noise": {"method": "simulated pure-noise scores through the score's functions with each "
                                   "candidate's weights (median, effective number of values); threshold from "
                                   "Zar's approximation of the Rayleigh test at the effective number of values "
                                   "(lofar_hires.selection.noise)", "seed": NOISE_SEED,
                         "draws": cfg.noise_draws, "false_alarm": cfg.false_alarm},
               "candidates": [r.to_dict() for r in results]}
    with atomic_output(details_file, overwrite=True) as tmp:
        tmp.write_text(json.dumps(details, indent=2) + "\n")
    prov.write(prov_path)
    for r in results:
        noise = ("" if r.noise_threshold_rad is None else
                 f"  noise median {r.noise_median_rad:4.2f}, {r.noise_threshold_rad:4.2f} at {r.false_alarm:g} "
                 f"({r.n_values} values)")
        log.info("%-20s sigma_c %s rad%s%s", r.name, "  n/a" if r.score_rad is None else f"{r.score_rad:5.2f}",
                 noise, f" ({r.note})" if r.note else "")
    print(args.output)
    return 0
