"""``lofar-hires dical transfer``: time-independent calibrator solutions for the target.

Library: :func:`lofar_hires.calibration.di_target.transfer_solutions`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import check_new_output, require_soltabs
from lofar_hires.cli.dical.common import add_output_arguments, provenance

HELP = "copy the transferable soltabs of cal_solutions.h5 without their time axis (the clock as its median)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cal_h5", type=Path, help="cal_solutions.h5 of the calibrator (read only)")
    add_output_arguments(parser, "h5parm")
    parser.add_argument("--soltabs", default=None,
                        help="comma-separated soltabs to transfer (default: `corrections` of "
                             "configs/di_target.yaml: polalign,bandpass,clock)")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_target_config
    from lofar_hires.calibration.di_target import transfer_solutions
    from lofar_hires.cli.h5.common import split_list
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import atomic_output

    soltabs = split_list(args.soltabs) if args.soltabs is not None else list(load_target_config().corrections)
    if not soltabs:
        raise InputError("--soltabs names no soltab")
    require_soltabs(args.cal_h5, soltabs, "calibrator solutions", setting="cal_h5")
    check_new_output(args.output, args.overwrite, [args.cal_h5], setting="output")
    prov = provenance(args, [args.cal_h5])
    with atomic_output(args.output, args.overwrite) as tmp:
        transfer_solutions(args.cal_h5, soltabs, tmp, prov)
    print(args.output)
    return 0
