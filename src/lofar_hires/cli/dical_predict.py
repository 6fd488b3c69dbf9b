"""``lofar-hires dical predict``: a sky model into MODEL_DATA (updates the MS in place)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lofar_hires.cli.dical import add_logdir_argument, logdir, new_provenance, record_ms_history

HELP = "predict a sky model into MODEL_DATA of an MS (modifies the MS it is given)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="measurement set; MODEL_DATA is written into it (in place)")
    parser.add_argument("--skymodel", required=True,
                        help="sky model: 3C196, 3C295 (shipped calibrator models) or a makesourcedb file")
    parser.add_argument("--threads", type=int, default=2, help="DP3 threads (default 2)")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_calibrator_config
    from lofar_hires.calibration.di_calibrator import check_model_coherence, predict
    from lofar_hires.errors import InputError
    from lofar_hires.io.ms import require_ms
    from lofar_hires.simulation.sky import calibrator_model_path

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    require_ms(args.ms, ("DATA",))
    skymodel = calibrator_model_path(args.skymodel)
    prov = new_provenance(args, [args.ms, skymodel])
    predict(args.ms, skymodel, logdir(args, args.ms), args.threads, prov)
    # A warning when the data do not look like the model (the calibrator pipeline's check).
    coherence = check_model_coherence(args.ms, skymodel, load_calibrator_config().min_model_coherence)
    log.info("coherence of DATA with MODEL_DATA on core baselines: %.3f", coherence)
    record_ms_history(args.ms, prov)
    print(args.ms)
    return 0
