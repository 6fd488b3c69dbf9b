"""``lofar-hires di-target``: transfer calibrator solutions to target observations."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.io.h5parm.solsets import TARGET_SOLSET

HELP = ("target pipeline: apply polalign, bandpass, clock, beam and Faraday rotation; flag; average; optional "
        "self-calibration")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", nargs="+", type=Path, metavar="MSIN", help="target MS(s), read only")
    parser.add_argument("--cal-solutions", type=Path, required=True, help="cal_solutions.h5 of di-calibrator")
    parser.add_argument("--outdir", type=Path, default=Path("di_target"), help="output directory")
    parser.add_argument("--skymodel", type=Path, default=None,
                        help="makesourcedb model for the optional self-calibration (phase_calibration=true)")
    parser.add_argument("--cal-solset", default=None, metavar="NAME",
                        help="solset of --cal-solutions to read (default: calibrator, as LINC writes it, then sol000, "
                             "then the file's only solset)")
    parser.add_argument("--solset", default=TARGET_SOLSET, metavar="NAME",
                        help="solset of the phase solutions of the optional self-calibration (default %(default)s, "
                             "LINC's name)")
    parser.add_argument("--config", type=Path, default=None, help="YAML overriding configs/di_target.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. phase_calibration=true (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_target_config
    from lofar_hires.calibration.di_target import run_di_target
    from lofar_hires.io.h5parm import check_group_name

    check_group_name(args.solset, "--solset")  # refused before any work, not when the solutions are written
    cfg = load_target_config(args.config, args.overrides)
    result = run_di_target(args.msin, args.cal_solutions, args.outdir, cfg, skymodel=args.skymodel,
                           overwrite=args.overwrite, cal_solset=args.cal_solset, solset_name=args.solset)
    for ms in result.corrected:
        print(f"corrected: {ms}")
    for h5 in result.phase_solutions:
        print(f"phase solutions: {h5}")
    return 0
