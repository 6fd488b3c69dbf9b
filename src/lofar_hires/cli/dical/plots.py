"""``lofar-hires dical plots``: the calibrator pipeline's inspection plots from its h5parms.

Library: :func:`lofar_hires.calibration.plots.plot_calibrator_products`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import check_new_output, require_clocktec, require_soltabs
from lofar_hires.cli.dical.common import add_config_arguments, calibrator_config, provenance

HELP = "inspection PNGs of the calibrator pipeline: solve phases, polalign, faraday, bandpass, clock/TEC"

#: Option dest -> (soltabs the h5parm must hold, what the h5parm is).
PRODUCTS: dict[str, tuple[tuple[str, ...], str]] = {
    "polalign_solve": (("phase000",), "the polalign solve"),
    "polalign": (("polalign",), "polalign solutions"),
    "faraday": (("faraday",), "faraday solutions"),
    "bandpass": (("bandpass",), "bandpass solutions"),
    "clocktec": (("clock", "tec"), "clocktec solutions"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solves", type=Path, nargs="+", required=True, metavar="H5",
                        help="DDECal solves whose phases are plotted against time and frequency (read only)")
    parser.add_argument("--polalign-solve", type=Path, required=True,
                        help="the rotation+diagonal solve the alignment was fitted on")
    parser.add_argument("--polalign", type=Path, required=True, help="h5parm with the soltab polalign")
    parser.add_argument("--faraday", type=Path, required=True, help="h5parm with the soltab faraday")
    parser.add_argument("--bandpass", type=Path, required=True, help="h5parm with the soltab bandpass")
    parser.add_argument("--clocktec", type=Path, required=True, help="h5parm with the soltabs clock and tec")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="new directory for the PNGs (written atomically)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    add_config_arguments(parser, "calibrator")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.plots import plot_calibrator_products
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)  # the reference station
    for h5 in args.solves:
        require_soltabs(h5, ["phase000"], "solve", setting="solves")
    for dest, (tabs, what) in PRODUCTS.items():
        if dest == "clocktec":
            require_clocktec(getattr(args, dest), what, setting=dest)
        else:
            require_soltabs(getattr(args, dest), list(tabs), what, setting=dest)
    inputs = [*args.solves, *(getattr(args, dest) for dest in PRODUCTS)]
    check_new_output(args.outdir, args.overwrite, inputs, "output directory", setting="outdir")
    prov = provenance(args, inputs, cfg)
    with atomic_output(args.outdir, args.overwrite) as tmp:
        plots = plot_calibrator_products(args.solves, args.polalign_solve, args.polalign, args.faraday,
                                         args.bandpass, args.clocktec, tmp, cfg.reference_station)
        prov.write(tmp / "provenance.json")
    for png in plots:
        print(args.outdir / png.name)
    return 0
