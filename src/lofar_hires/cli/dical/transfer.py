"""``lofar-hires dical transfer``: time-independent calibrator solutions for the target.

``CAL_H5`` is ours or LINC's ``cal_solutions.h5``: the solset ``calibrator`` (then
``sol000``, then the file's only solset) unless ``--solset`` names one, and each soltab
under its LINC name or a numbered alias (``clock000``); see
:func:`lofar_hires.io.h5parm.read_calibrator_solutions`.

Library: :func:`lofar_hires.calibration.di_target.transfer_solutions`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import check_new_output, require_file
from lofar_hires.cli.dical.common import add_output_arguments, provenance

HELP = "copy the transferable soltabs of cal_solutions.h5 without their time axis (the clock as its median)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cal_h5", type=Path, help="cal_solutions.h5 of the calibrator, ours or LINC's (read only)")
    add_output_arguments(parser, "h5parm")
    parser.add_argument("--soltabs", default=None,
                        help="comma-separated soltabs to transfer (default: `corrections` of "
                             "configs/di_target.yaml: polalign,bandpass,clock,faraday)")
    parser.add_argument("--solset", default=None, metavar="NAME",
                        help="solset of CAL_H5 to read (default: calibrator, as LINC writes it, then sol000, then "
                             "the file's only solset)")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.config import load_target_config
    from lofar_hires.calibration.di_target import transfer_solutions
    from lofar_hires.cli.h5.common import split_list
    from lofar_hires.errors import InputError, MissingInputError
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.h5parm import read_calibrator_solutions, require_values

    soltabs = split_list(args.soltabs) if args.soltabs is not None else list(load_target_config().corrections)
    if not soltabs:
        raise InputError("--soltabs names no soltab")
    what = "--soltabs" if args.soltabs is not None else "the target settings' corrections"
    require_file(args.cal_h5, "calibrator solutions", setting="cal_h5")
    try:
        solset = read_calibrator_solutions(args.cal_h5, soltabs, args.solset, what=what)
        require_values(solset, args.cal_h5)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"calibrator solutions: {exc}", setting="cal_h5") from None
    check_new_output(args.output, args.overwrite, [args.cal_h5], setting="output")
    prov = provenance(args, [args.cal_h5])
    with atomic_output(args.output, args.overwrite) as tmp:
        transfer_solutions(args.cal_h5, soltabs, tmp, prov, solset=args.solset)
    print(args.output)
    return 0
