"""``lofar-hires dical correct``: transferred solutions and the beam removed from a target MS.

Library: :func:`lofar_hires.calibration.di_target.correct_target`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from lofar_hires.calibration.step_products import (
    check_logdir,
    check_new_output,
    logdir_for,
    record_ms_history,
    require_soltabs,
)
from lofar_hires.cli.dical.common import (
    add_config_arguments,
    add_logdir_argument,
    add_msin_argument,
    add_output_arguments,
    provenance,
    target_config,
)

HELP = "flag, remove the transferred solutions and the beam, and average a target MS into a new MS"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_msin_argument(parser, "target measurement set (read only)")
    parser.add_argument("--transfer", type=Path, required=True,
                        help="h5parm from `dical transfer` with the soltabs named by the setting corrections")
    add_output_arguments(parser, "measurement set")
    add_config_arguments(parser, "target")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_target import check_target_inputs, correct_target
    from lofar_hires.io.atomic import atomic_output

    cfg = target_config(args)
    solset = require_soltabs(args.transfer, list(cfg.corrections), "transfer solutions", setting="transfer")
    # The MS (require_ms: rows, DATA, some unflagged data), station and frequency checks of the target
    # pipeline (phase calibration is a separate op).
    check_target_inputs([args.msin], args.transfer, dataclasses.replace(cfg, phase_calibration=False), None)
    timed = [name for name in cfg.corrections if "time" in solset.soltabs[name].axes]
    if timed:
        log.warning("--transfer %s: soltab(s) %s have a time axis (calibrator times); make a time-independent "
                    "h5parm with `lofar-hires dical transfer` first", args.transfer, ", ".join(timed))
    check_new_output(args.output, args.overwrite, [args.msin, args.transfer], setting="output")
    check_logdir(args.logdir, setting="logdir")
    prov = provenance(args, [args.msin, args.transfer], cfg)
    with atomic_output(args.output, args.overwrite) as tmp:
        correct_target(args.msin, tmp, args.transfer, cfg, logdir_for(args.logdir, args.output), prov)
        record_ms_history(tmp, prov)
    print(args.output)
    return 0
