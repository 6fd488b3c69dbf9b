"""``lofar-hires select classify``: main and weak calibrators from phasediff scores (SPEC section 3).

Gathers one or more scored tables (``lofar-hires select score``), applies manual
removals and additions, classifies by score, prunes neighbours and computes the
solution-interval metric; writes the selection table and its provenance
(``<stem>.provenance.json``). The reference solution interval of the metric is the
one the scores were measured with, read from the scored tables' ``<stem>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "classify scored candidates into main and weak calibrators, prune neighbours, solution intervals"


def parse_added(text: str):
    """``NAME,RA,DEC[,main|weak]`` (degrees or sexagesimal) -> a CalibratorRow."""
    from lofar_hires.errors import InputError
    from lofar_hires.io.skymodel import parse_dec, parse_ra
    from lofar_hires.selection.table import CalibratorRow

    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise InputError(f"--add {text!r}: expected NAME,RA,DEC[,main|weak]")
    import math

    category = parts[3] if len(parts) == 4 else "main"
    return CalibratorRow(parts[0], math.degrees(parse_ra(parts[1])), math.degrees(parse_dec(parts[2])),
                         origin="manual", category=category)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scores", type=Path, nargs="+", help="scored tables (lofar-hires select score), gathered")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="selection table, CSV (provenance in <stem>.provenance.json)")
    parser.add_argument("--add", dest="added", action="append", default=[], metavar="NAME,RA,DEC[,main|weak]",
                        help="add a calibrator by hand (RA/Dec in degrees or hh:mm:ss/+dd.mm.ss; default main); "
                             "never pruned (repeatable)")
    parser.add_argument("--remove", dest="removed", action="append", default=[], metavar="NAME",
                        help="drop a candidate by hand (repeatable)")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML overriding configs/select_calibrators.yaml (the classify section is used)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. classify.main_max_rad=2.3 (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def reference_solint_min(tables: list[Path], default: float) -> float:
    """The score solution interval recorded next to the scored tables (all must agree)."""
    from lofar_hires.errors import InputError
    from lofar_hires.selection.table import details_path

    values = set()
    for table in tables:
        details = details_path(table)
        if details.is_file():
            try:
                values.add(float(json.loads(details.read_text())["settings"]["solint_min"]))
            except (KeyError, TypeError, ValueError, json.JSONDecodeError):
                raise InputError(f"{details} is not the details file of a scored table") from None
    if len(values) > 1:
        raise InputError(f"the scored tables were measured with different solution intervals {sorted(values)} min")
    if not values:
        log.warning("no <stem>.json next to the scored tables; assuming a %g min score solution interval", default)
        return default
    return values.pop()


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli.dical import check_new_output
    from lofar_hires.errors import InputError
    from lofar_hires.provenance import Provenance
    from lofar_hires.selection.classify import classify
    from lofar_hires.selection.config import load_selection_config
    from lofar_hires.selection.table import check_unique_names, provenance_path, read_table, write_table

    cfg = load_selection_config(args.config, args.overrides)
    rows = [row for table in args.scores for row in read_table(table)]
    check_unique_names(rows, "the gathered scored tables")
    added = [parse_added(text) for text in args.added]
    if not rows and not added:
        raise InputError("no candidate in the scored tables and none added; nothing to classify")
    prov_path = provenance_path(args.output)
    for path in (args.output, prov_path):
        check_new_output(path, args.overwrite, list(args.scores))
    solint = reference_solint_min(list(args.scores), cfg.score.solint_min)
    log.info("settings: %r (score solution interval %g min)", cfg.classify, solint)
    selected = classify(rows, cfg.classify, ref_solint_min=solint, add=added, remove=args.removed)
    write_table(args.output, selected, overwrite=args.overwrite)
    parameters = json.loads(json.dumps({k: v for k, v in vars(args).items() if not k.startswith("_")}, default=str))
    prov = Provenance(task="select classify", parameters={**parameters, "settings": asdict(cfg.classify),
                                                          "ref_solint_min": solint})
    for path in args.scores:
        prov.add_input(path)
    prov.write(prov_path)
    for r in selected:
        log.info("%-20s %-9s sigma_c %s  delta_t %s  %s", r.name, r.category,
                 " n/a" if r.score_rad is None else f"{r.score_rad:4.2f}",
                 "  n/a" if r.solint_min is None else f"{r.solint_min:5.1f} min", r.reason)
    print(args.output)
    return 0
