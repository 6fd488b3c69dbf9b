"""``lofar-hires dical phasecal``: self-calibrate a corrected target MS against a sky model, into a copy."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.dical import (
    add_config_arguments,
    add_logdir_argument,
    add_ms_output_argument,
    add_output_arguments,
    check_logdir,
    check_new_output,
    logdir,
    ms_output,
    new_provenance,
    record_ms_history,
    require_skymodel,
    stamp_h5parm,
    target_config,
)

HELP = ("solve phases against a sky model (setting phase_mode) and apply them to DATA of a copy of the MS "
        "(the input is not modified)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="DI-corrected target MS (from `dical correct`; read only)")
    parser.add_argument("--skymodel", type=Path, required=True, help="makesourcedb sky model of the field")
    add_output_arguments(parser, "h5parm (the phase solutions)")
    add_ms_output_argument(parser)
    add_config_arguments(parser, "target")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_target import phase_calibrate
    from lofar_hires.cli.dical_solve import check_separate_outputs
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.ms import require_ms

    cfg = target_config(args)
    require_ms(args.ms, ("DATA",))
    require_skymodel(args.skymodel, "--skymodel")
    check_separate_outputs(args.output, args.output_ms)
    check_new_output(args.output, args.overwrite, [args.ms, args.skymodel])
    check_new_output(args.output_ms, args.overwrite, [args.ms, args.skymodel], "--output-ms")
    check_logdir(args)
    prov = new_provenance(args, [args.ms, args.skymodel], cfg)
    with ms_output(args.ms, args.output_ms, args.overwrite) as work, \
            atomic_output(args.output, args.overwrite) as tmp:
        # DP3's parsets and logs are named after the measurement set given, not its temporary copy.
        phase_calibrate(work, args.skymodel, tmp, cfg, logdir(args, args.output), prov, name=args.ms.stem)
        stamp_h5parm(tmp, prov)
        record_ms_history(work, prov)
    print(args.output)
    print(args.output_ms)
    return 0
