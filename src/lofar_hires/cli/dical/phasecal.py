"""``lofar-hires dical phasecal``: self-calibrate a corrected target MS against a sky model, into a copy.

Library: :func:`lofar_hires.calibration.di_target.phase_calibrate`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import (
    check_logdir,
    check_new_output,
    check_separate_outputs,
    logdir_for,
    ms_output,
    record_ms_history,
    stamp_h5parm,
)
from lofar_hires.cli.dical.common import (
    add_config_arguments,
    add_logdir_argument,
    add_ms_output_argument,
    add_msin_argument,
    add_output_arguments,
    provenance,
    target_config,
)
from lofar_hires.io.h5parm.solsets import TARGET_SOLSET

HELP = ("solve phases against a sky model (setting phase_mode) and apply them to DATA of a copy of the MS "
        "(the input is not modified)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_msin_argument(parser, "DI-corrected target MS (from `dical correct`; read only)")
    parser.add_argument("--skymodel", type=Path, required=True, help="makesourcedb sky model of the field")
    add_output_arguments(parser, "h5parm (the phase solutions)")
    add_ms_output_argument(parser)
    parser.add_argument("--solset", default=TARGET_SOLSET, metavar="NAME",
                        help="solset of the phase solutions (default %(default)s, LINC's name)")
    add_config_arguments(parser, "target")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_target import phase_calibrate
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.h5parm import check_group_name
    from lofar_hires.io.ms import require_ms
    from lofar_hires.io.skymodel import require_skymodel

    check_group_name(args.solset, "--solset")  # refused before DP3 runs, not when its solutions are renamed
    cfg = target_config(args)
    require_ms(args.msin, ("DATA",))
    require_skymodel(args.skymodel)
    check_separate_outputs(args.output, args.output_ms, setting="output_ms")
    check_new_output(args.output, args.overwrite, [args.msin, args.skymodel], setting="output")
    check_new_output(args.output_ms, args.overwrite, [args.msin, args.skymodel], "output measurement set",
                     setting="output_ms")
    check_logdir(args.logdir, setting="logdir")
    prov = provenance(args, [args.msin, args.skymodel], cfg)
    with ms_output(args.msin, args.output_ms, args.overwrite) as work, \
            atomic_output(args.output, args.overwrite) as tmp:
        # DP3's parsets and logs are named after the measurement set given, not its temporary copy.
        phase_calibrate(work, args.skymodel, tmp, cfg, logdir_for(args.logdir, args.output), prov,
                        name=args.msin.stem, solset_name=args.solset)
        stamp_h5parm(tmp, prov)
        record_ms_history(work, prov)
    print(args.output)
    print(args.output_ms)
    return 0
