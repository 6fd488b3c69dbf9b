"""``lofar-hires select score``: phasediff scores of candidate calibrators (SPEC section 3).

Scores every candidate of a table (or the named ones) on DI-calibrated data and
writes the table with ``score_rad`` and ``score_stations`` filled in, the details
(settings, per-station scores, solution counts) as ``<stem>.json`` and the
provenance as ``<stem>.provenance.json``. The input measurement sets are read only.
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
                        help="keep the RR/LL phase solutions (<name>.phasediff.h5) and DP3 logs here")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli.dical import check_new_output
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.provenance import Provenance
    from lofar_hires.selection.config import load_selection_config
    from lofar_hires.selection.score import prepare_scoring, score_candidate
    from lofar_hires.selection.sky import pairwise_separation_deg
    from lofar_hires.selection.table import details_path, provenance_path, read_table, write_table

    cfg = load_selection_config(args.config, args.overrides).score
    setup = prepare_scoring(args.ms, cfg)
    rows = read_table(args.candidates)
    if not rows:
        raise InputError(f"the candidate table {args.candidates} is empty; nothing to score")
    if args.names:
        unknown = [n for n in args.names if n not in {r.name for r in rows}]
        if unknown:
            raise InputError(f"--name {unknown[0]}: no such candidate in {args.candidates}")
        rows = [r for r in rows if r.name in args.names]
    details_file, prov_path = details_path(args.output), provenance_path(args.output)
    for path in (args.output, details_file, prov_path):
        check_new_output(path, args.overwrite, [*args.ms, args.candidates])
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

    keep = args.solutions_dir
    work = Path(tempfile.mkdtemp(prefix=f".{args.output.stem}.work-", dir=args.output.resolve().parent))
    results, scored = [], []
    start = time.monotonic()
    try:
        for k, row in enumerate(rows, 1):
            log.info("candidate %d/%d: %s (RA %.5f, Dec %.5f deg; %.0f s elapsed)", k, len(rows), row.name,
                     row.ra_deg, row.dec_deg, time.monotonic() - start)
            result = score_candidate(setup, row, cfg, keep or work, prov)
            results.append(result)
            scored.append(row.with_(score_rad=result.score_rad, score_stations=tuple(result.stations),
                                    reason=result.note))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_table(args.output, scored, overwrite=args.overwrite)
    details = {"settings": asdict(cfg), "candidates": [r.to_dict() for r in results]}
    with atomic_output(details_file, overwrite=True) as tmp:
        tmp.write_text(json.dumps(details, indent=2) + "\n")
    prov.write(prov_path)
    for r in results:
        log.info("%-20s sigma_c %s rad%s", r.name, "  n/a" if r.score_rad is None else f"{r.score_rad:5.2f}",
                 f" ({r.note})" if r.note else "")
    print(args.output)
    return 0
