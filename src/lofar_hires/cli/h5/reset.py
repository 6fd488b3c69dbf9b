"""``lofar-hires h5 reset``: identity solutions for chosen stations."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.h5.common import (
    add_input_arguments,
    add_output_arguments,
    split_list,
    write_solset,
)
from lofar_hires.solutions.products import check_solset_output, read_solset

HELP = "reset the solutions of chosen stations to the identity (phase 0, amplitude 1)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--stations", required=True,
                        help="stations to reset: comma-separated group names (core, remote, dutch, international, "
                             "core_inner_remote, ...), station names or glob patterns; !X excludes X")
    parser.add_argument("--soltabs", default=None,
                        help="comma-separated soltabs to reset (default: every soltab with an antenna axis)")
    parser.add_argument("--station-groups", type=Path, default=None,
                        help="YAML file with the station groups (default: the shipped station_groups.yaml)")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.solutions.reset import reset_stations
    from lofar_hires.solutions.stations import load_station_groups, resolve_stations

    check_solset_output(args.output, args.overwrite, [args.h5parm])
    groups = load_station_groups(args.station_groups)
    solset = read_solset(args.h5parm, args.solset)
    stations = resolve_stations(args.stations, solset.antenna_names, groups)
    result = reset_stations(solset, stations, split_list(args.soltabs))
    inputs = [args.h5parm] + ([args.station_groups] if args.station_groups else [])
    write_solset(result, args, inputs)
    return 0
