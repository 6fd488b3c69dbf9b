"""``lofar-hires dical prepare``: flag, average and join calibrator subbands into a working MS.

Library: :func:`lofar_hires.calibration.di_calibrator.prepare`.
"""

from __future__ import annotations

import argparse

from lofar_hires.calibration.step_products import check_logdir, check_new_output, logdir_for, record_ms_history
from lofar_hires.cli.dical.common import (
    add_config_arguments,
    add_logdir_argument,
    add_msin_argument,
    add_output_arguments,
    calibrator_config,
    provenance,
)

HELP = "flag and average calibrator MS(s), joined in frequency, into a new working MS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_msin_argument(parser, "calibrator MS(s), read only: one per subband (same stations and times) or one MS",
                      nargs="+")
    add_output_arguments(parser, "measurement set")
    add_config_arguments(parser, "calibrator")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import check_subbands, prepare
    from lofar_hires.calibration.di_target import check_usable_product
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)
    infos = check_subbands(args.msin)  # every MS through require_ms: rows, DATA, some unflagged data
    check_new_output(args.output, args.overwrite, list(args.msin), setting="output")
    check_logdir(args.logdir, setting="logdir")
    prov = provenance(args, [i.path for i in infos], cfg)
    with atomic_output(args.output, args.overwrite) as tmp:
        prepare([i.path for i in infos], tmp, cfg, logdir_for(args.logdir, args.output), prov)
        check_usable_product(tmp, "the prepared measurement set", "does flagging.flag_stations name every station?")
        record_ms_history(tmp, prov)
    print(args.output)
    return 0
