"""``lofar-hires dical collect``: the fitted parts into cal_solutions.h5.

Library: :func:`lofar_hires.calibration.di_calibrator.collect`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import check_new_output, require_clocktec, require_soltabs
from lofar_hires.cli.dical.common import add_output_arguments, provenance
from lofar_hires.io.h5parm.solsets import CALIBRATOR_SOLSET

HELP = "collect the polalign, bandpass, faraday and clock/TEC h5parms into cal_solutions.h5"

#: Option (and part name) -> soltabs the part must hold.
PARTS: dict[str, tuple[str, ...]] = {
    "polalign": ("polalign",),
    "bandpass": ("bandpass",),
    "faraday": ("faraday",),
    "clocktec": ("clock", "tec"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, tabs in PARTS.items():
        parser.add_argument(f"--{name}", type=Path, required=True,
                            help=f"h5parm with the soltab(s) {', '.join(tabs)} (from `dical fit` or "
                                 f"`dical refine-polalign`)")
    add_output_arguments(parser, "h5parm (cal_solutions.h5)")
    parser.add_argument("--solset", default=CALIBRATOR_SOLSET, metavar="NAME",
                        help="solset of the output (default %(default)s, LINC's name)")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import collect
    from lofar_hires.io.h5parm import check_group_name

    check_group_name(args.solset, "--solset")
    parts = {name: getattr(args, name) for name in PARTS}
    for name, tabs in PARTS.items():
        if name == "clocktec":
            require_clocktec(parts[name], f"{name} solutions", setting=name)
        else:
            require_soltabs(parts[name], list(tabs), f"{name} solutions", setting=name)
    check_new_output(args.output, args.overwrite, list(parts.values()), setting="output")
    prov = provenance(args, list(parts.values()))
    # collect() writes atomically; the output was checked above.
    collect(parts, args.output, prov, solset=args.solset)
    print(args.output)
    return 0
