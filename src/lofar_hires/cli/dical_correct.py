"""``lofar-hires dical correct``: transferred solutions and the beam removed from a target MS."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from lofar_hires.cli.dical import (
    add_config_arguments,
    add_logdir_argument,
    add_output_arguments,
    check_logdir,
    check_new_output,
    logdir,
    new_provenance,
    record_ms_history,
    require_soltabs,
    target_config,
)

HELP = "flag, remove the transferred solutions and the beam, and average a target MS into a new MS"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="target measurement set (read only)")
    parser.add_argument("--transfer", type=Path, required=True,
                        help="h5parm from `dical transfer` with the soltabs named by the setting corrections")
    add_output_arguments(parser, "measurement set")
    add_config_arguments(parser, "target")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_target import check_target_inputs, correct_target
    from lofar_hires.io.atomic import atomic_output

    cfg = target_config(args)
    solset = require_soltabs(args.transfer, list(cfg.corrections), "--transfer")
    # The MS (require_ms: rows, DATA, some unflagged data), station and frequency checks of the target
    # pipeline (phase calibration is a separate op).
    check_target_inputs([args.ms], args.transfer, dataclasses.replace(cfg, phase_calibration=False), None)
    timed = [name for name in cfg.corrections if "time" in solset.soltabs[name].axes]
    if timed:
        log.warning("--transfer %s: soltab(s) %s have a time axis (calibrator times); make a time-independent "
                    "h5parm with `lofar-hires dical transfer` first", args.transfer, ", ".join(timed))
    check_new_output(args.output, args.overwrite, [args.ms, args.transfer])
    check_logdir(args)
    prov = new_provenance(args, [args.ms, args.transfer], cfg)
    with atomic_output(args.output, args.overwrite) as tmp:
        correct_target(args.ms, tmp, args.transfer, cfg, logdir(args, args.output), prov)
        record_ms_history(tmp, prov)
    print(args.output)
    return 0
