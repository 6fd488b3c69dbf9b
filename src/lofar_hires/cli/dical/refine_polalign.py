"""``lofar-hires dical refine-polalign``: add the XX-YY delay left in a later solve to a polalign h5parm.

Library: :func:`lofar_hires.calibration.di_calibrator.refine_polalign_step`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lofar_hires.calibration.step_products import check_new_output, check_solve_for_fit, require_soltabs
from lofar_hires.cli.dical.common import add_config_arguments, add_output_arguments, calibrator_config, provenance

HELP = ("refine the polarisation alignment with the XX-YY delay left in a diagonal solve made after "
        "Faraday rotation and the beam are taken into account")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("initial_h5", type=Path, help="h5parm with the soltab polalign (from `dical fit polalign`)")
    parser.add_argument("solve_h5", type=Path,
                        help="h5parm of a diagonal solve that applied INITIAL_H5 (against MODEL_CORRUPTED)")
    add_output_arguments(parser, "h5parm")
    add_config_arguments(parser, "calibrator")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import refine_polalign_step
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)
    require_soltabs(args.initial_h5, ["polalign"], "initial alignment", setting="initial_h5")
    check_solve_for_fit(args.solve_h5, "polalign", "the solve", setting="solve_h5")
    check_new_output(args.output, args.overwrite, [args.initial_h5, args.solve_h5], setting="output")
    prov = provenance(args, [args.initial_h5, args.solve_h5], cfg)
    with atomic_output(args.output, args.overwrite) as tmp:
        summary = refine_polalign_step(args.initial_h5, args.solve_h5, tmp, cfg, prov)
    print(json.dumps({"output": str(args.output), "polalign_refined": summary}, indent=2))
    return 0
