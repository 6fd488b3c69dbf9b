"""``lofar-hires classifier dataset``: simulated calibrator fields, self-calibrated, each cycle's image labelled."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("simulate calibrator fields, self-calibrate each for a fixed number of cycles and label every cycle's "
        "image continue/stop from the simulation's truth")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outdir", type=Path, required=True,
                        help="dataset directory (fields/, images/, dataset.json); a partly made one is continued")
    parser.add_argument("--fields", type=int, required=True, help="number of simulated fields")
    parser.add_argument("--first-seed", type=int, required=True,
                        help="seed of the first field; field i has seed first-seed + i (keep the seed ranges of "
                             "training and evaluation sets apart)")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML overriding configs/classifier.yaml (dataset and labels sections)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. labels.phase_error_rad=0.6 (repeatable)")
    parser.add_argument("--workers", type=int, default=1, help="fields made at the same time (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="DP3/WSClean threads per field (default 1)")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.provenance import Provenance
    from lofar_hires.validation.classifier_dataset import make_dataset

    index = make_dataset(args.outdir, args.fields, args.first_seed, config_file=args.config,
                         overrides=args.overrides, workers=args.workers, threads=args.threads)
    Provenance(task="classifier dataset", parameters=command_parameters(args)).write(
        Path(args.outdir) / "dataset.provenance.json")
    print(f"{args.outdir}: {index['n_fields']} fields, {index['n_images']} images "
          f"({index['n_continue']} continue, {index['n_stop']} stop)")
    return 0
