"""``lofar-hires select classify``: main and weak calibrators from phasediff scores (de Jong et al. 2025, section 6.3).

Gathers one or more scored tables (``lofar-hires select score``), applies manual
removals and additions, classifies by score, prunes neighbours and computes the
solution-interval metric; writes the selection table and its provenance
(``<stem>.provenance.json``). The reference solution interval of the metric is the
one the scores were measured with, read from the scored tables' ``<stem>.json``.
Library: :func:`lofar_hires.selection.scoring.classify_tables`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

HELP = "classify scored candidates into main and weak calibrators, prune neighbours, solution intervals"


def parse_added(text: str):
    """``NAME,RA,DEC[,main|weak]`` (degrees or sexagesimal) -> a CalibratorRow."""
    from lofar_hires.errors import InputError
    from lofar_hires.io.skymodel import parse_dec, parse_ra
    from lofar_hires.selection.table import CalibratorRow

    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise InputError(f"--add {text!r}: expected NAME,RA,DEC[,main|weak]")
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


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.selection.config import load_selection_config
    from lofar_hires.selection.scoring import classify_tables

    config = load_selection_config(args.config, args.overrides)
    added = [parse_added(text) for text in args.added]
    classify_tables(args.scores, args.output, config, added=added, removed=args.removed, overwrite=args.overwrite,
                    parameters=command_parameters(args))
    print(args.output)
    return 0
