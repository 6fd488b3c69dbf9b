"""``lofar-hires dical predict``: a copy of an MS with a sky model predicted into MODEL_DATA."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lofar_hires.cli.dical import (
    add_logdir_argument,
    add_output_arguments,
    check_logdir,
    check_new_output,
    logdir,
    ms_output,
    new_provenance,
    record_ms_history,
    require_skymodel,
)

HELP = "predict a sky model into MODEL_DATA of a copy of an MS (the input is not modified)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="measurement set (read only)")
    add_output_arguments(parser, "measurement set: a copy of MS with MODEL_DATA")
    parser.add_argument("--skymodel", required=True,
                        help="sky model: 3C196, 3C295 (shipped calibrator models) or a makesourcedb file")
    parser.add_argument("--threads", type=int, default=2, help="DP3 threads (default 2)")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_calibrator_config
    from lofar_hires.calibration.di_calibrator import predict
    from lofar_hires.calibration.model_check import check_calibrator_model
    from lofar_hires.errors import InputError
    from lofar_hires.io.ms import require_ms
    from lofar_hires.simulation.sky import calibrator_model_path

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    require_ms(args.ms, ("DATA",))
    skymodel = require_skymodel(calibrator_model_path(args.skymodel), "--skymodel")
    check_new_output(args.output, args.overwrite, [args.ms, skymodel])
    check_logdir(args)
    prov = new_provenance(args, [args.ms, skymodel])
    with ms_output(args.ms, args.output, args.overwrite) as work:
        predict(work, skymodel, logdir(args, args.output), args.threads, prov)
        # The calibrator pipeline's check: a model that does not match the data is refused.
        cfg = load_calibrator_config()
        check_calibrator_model(work, skymodel, cfg.min_model_coherence, cfg.model_ratio_range)
        record_ms_history(work, prov)
    print(args.output)
    return 0
