"""``lofar-hires select score``: phasediff scores of candidate calibrators (de Jong et al. 2025, section 6.3).

Library: :func:`lofar_hires.selection.scoring.score_table` (what is written, and what is
checked before the first DP3 run, is described there).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "phasediff score (sigma_c) of candidate calibrators on DI-calibrated measurement sets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", type=Path, nargs="+", metavar="MSIN",
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
                        help="override one setting, e.g. score.solint_s=300 (repeatable)")
    parser.add_argument("--solutions-dir", type=Path, default=None,
                        help="keep the RR/LL phase solutions (<name>.phasediff.h5, the name made safe as a file "
                             "name) and DP3 logs here")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.selection.config import load_selection_config
    from lofar_hires.selection.scoring import score_table

    config = load_selection_config(args.config, args.overrides)
    score_table(args.msin, args.candidates, args.output, config, names=args.names, solutions_dir=args.solutions_dir,
                overwrite=args.overwrite, parameters=command_parameters(args))
    print(args.output)
    return 0
