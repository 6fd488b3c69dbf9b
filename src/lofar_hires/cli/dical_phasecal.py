"""``lofar-hires dical phasecal``: self-calibrate a corrected target MS against a sky model (in place)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.dical import (
    add_config_arguments,
    add_logdir_argument,
    add_output_arguments,
    check_new_output,
    logdir,
    new_provenance,
    record_ms_history,
    require_file,
    stamp_h5parm,
    target_config,
)

HELP = ("solve phases against a sky model (setting phase_mode) and apply them to DATA "
        "(modifies the MS it is given)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="DI-corrected target MS (from `dical correct`); DATA is updated in place")
    parser.add_argument("--skymodel", type=Path, required=True, help="makesourcedb sky model of the field")
    add_output_arguments(parser, "h5parm (the phase solutions)")
    add_config_arguments(parser, "target")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_target import phase_calibrate
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.ms import require_ms
    from lofar_hires.io.skymodel import read_makesourcedb

    cfg = target_config(args)
    require_ms(args.ms, ("DATA",))
    read_makesourcedb(require_file(args.skymodel, "--skymodel"))
    check_new_output(args.output, args.overwrite, [args.ms, args.skymodel])
    prov = new_provenance(args, [args.ms, args.skymodel], cfg)
    with atomic_output(args.output, args.overwrite) as tmp:
        phase_calibrate(args.ms, args.skymodel, tmp, cfg, logdir(args, args.output), prov)
        stamp_h5parm(tmp, prov)
    record_ms_history(args.ms, prov)
    print(args.output)
    return 0
