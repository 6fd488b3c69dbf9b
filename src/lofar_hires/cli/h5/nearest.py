"""``lofar-hires h5 nearest``: the direction of an h5parm nearest to a position."""

from __future__ import annotations

import argparse
import json

from lofar_hires.cli.h5.common import add_input_arguments
from lofar_hires.solutions.products import read_solset

HELP = "print the direction nearest to a position and its great-circle separation in degrees"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--ra-deg", required=True,
                        help="right ascension in degrees, or sexagesimal (16h11m00s, 16:11:00)")
    parser.add_argument("--dec-deg", required=True,
                        help="declination in degrees, or sexagesimal (+55d00m00s, 55:00:00); "
                             "write negative sexagesimal values as --dec-deg=-30:00:00")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.io.skymodel import parse_dec, parse_ra
    from lofar_hires.solutions.directions import nearest_direction

    ra_rad, dec_rad = parse_ra(args.ra_deg), parse_dec(args.dec_deg)
    name, sep_deg = nearest_direction(read_solset(args.h5parm, args.solset, values_required=False), ra_rad,
                                       dec_rad)
    if args.json:
        print(json.dumps({"name": name, "separation_deg": sep_deg}))
    else:
        print(f"{name}\t{sep_deg:.6f}")
    return 0
