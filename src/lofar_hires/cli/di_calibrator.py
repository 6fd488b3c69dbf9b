"""``lofar-hires di-calibrator``: separate LOFAR's systematic effects on a calibrator observation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lofar_hires.io.h5parm.solsets import CALIBRATOR_SOLSET

HELP = "calibrator pipeline: polarisation alignment, Faraday rotation, bandpass, clock/TEC -> cal_solutions.h5"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", nargs="+", type=Path, metavar="MSIN",
                        help="calibrator MS(s): one per subband or one joined MS")
    parser.add_argument("--skymodel", required=True,
                        help="calibrator model: 3C196, 3C295 (shipped) or a makesourcedb file")
    parser.add_argument("--outdir", type=Path, default=Path("di_calibrator"), help="output directory")
    parser.add_argument("--config", type=Path, default=None, help="YAML overriding configs/di_calibrator.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. solve.minuv_lambda=500 (repeatable)")
    parser.add_argument("--solset", default=CALIBRATOR_SOLSET, metavar="NAME",
                        help="solset of cal_solutions.h5 (default %(default)s, LINC's name)")
    parser.add_argument("--keep-working-ms", action="store_true", help="keep the averaged working MS")
    parser.add_argument("--no-plots", action="store_true", help="skip the inspection plots")
    parser.add_argument("--allow-failed-stations", action="store_true",
                        help="exit 0 even when stations failed their fits (they are flagged in cal_solutions.h5 "
                             "and listed in the report); the same as --set allow_failed_stations=true")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_calibrator_config
    from lofar_hires.calibration.di_calibrator import run_di_calibrator
    from lofar_hires.io.calibrator_models import calibrator_model_path
    from lofar_hires.io.h5parm import check_group_name

    check_group_name(args.solset, "--solset")  # refused before any work, not when cal_solutions.h5 is written
    overrides = [*args.overrides, *(["allow_failed_stations=true"] if args.allow_failed_stations else [])]
    cfg = load_calibrator_config(args.config, overrides)
    result = run_di_calibrator(args.msin, calibrator_model_path(args.skymodel), args.outdir, cfg,
                               overwrite=args.overwrite, keep_working_ms=args.keep_working_ms,
                               make_plots=not args.no_plots, solset_name=args.solset)
    report = json.loads(result.report.read_text())
    print(f"cal_solutions: {result.cal_solutions}")
    print(f"report:        {result.report}")
    print(f"plots:         {len(result.plots)} in {result.outdir / 'plots'}")
    if report.get("failed_stations"):
        print(f"failed stations (flagged): {', '.join(report['failed_stations'])}")
    if report.get("flagged_by_request"):
        print(f"stations flagged on request: {', '.join(report['flagged_by_request'])}")
    return 0
