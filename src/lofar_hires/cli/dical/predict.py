"""``lofar-hires dical predict``: a copy of an MS with a sky model predicted into MODEL_DATA.

Library: :func:`lofar_hires.calibration.di_calibrator.predict`, then the model check of
:func:`lofar_hires.calibration.model_check.check_calibrator_model`.
"""

from __future__ import annotations

import argparse

from lofar_hires.calibration.step_products import (
    check_logdir,
    check_new_output,
    logdir_for,
    ms_output,
    record_ms_history,
)
from lofar_hires.cli.dical.common import (
    add_logdir_argument,
    add_msin_argument,
    add_output_arguments,
    add_threads_argument,
    check_threads,
    provenance,
)

HELP = "predict a sky model into MODEL_DATA of a copy of an MS (the input is not modified)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_msin_argument(parser, "measurement set (read only)")
    add_output_arguments(parser, "measurement set: a copy of MSIN with MODEL_DATA")
    parser.add_argument("--skymodel", required=True,
                        help="sky model: 3C196, 3C295 (shipped calibrator models) or a makesourcedb file")
    add_threads_argument(parser)
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_calibrator_config
    from lofar_hires.calibration.di_calibrator import predict
    from lofar_hires.calibration.model_check import check_calibrator_model
    from lofar_hires.io.calibrator_models import calibrator_model_path
    from lofar_hires.io.ms import require_ms
    from lofar_hires.io.skymodel import require_skymodel

    check_threads(args.threads)
    require_ms(args.msin, ("DATA",))
    skymodel = require_skymodel(calibrator_model_path(args.skymodel))
    check_new_output(args.output, args.overwrite, [args.msin, skymodel], setting="output")
    check_logdir(args.logdir, setting="logdir")
    prov = provenance(args, [args.msin, skymodel])
    with ms_output(args.msin, args.output, args.overwrite) as work:
        predict(work, skymodel, logdir_for(args.logdir, args.output), args.threads, prov)
        # The calibrator pipeline's check: a model that does not match the data is refused.
        cfg = load_calibrator_config()
        check_calibrator_model(work, skymodel, cfg.min_model_coherence, cfg.model_ratio_range)
        record_ms_history(work, prov)
    print(args.output)
    return 0
