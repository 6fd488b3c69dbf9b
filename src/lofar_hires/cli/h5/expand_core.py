"""``lofar-hires h5 expand-core``: superstation solutions copied to every core station, or back."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.h5.common import add_input_arguments, add_output_arguments, write_solset
from lofar_hires.errors import InputError
from lofar_hires.solutions.products import check_solset_output, read_solset

HELP = "copy the superstation's (ST001) solutions to every core station of an MS, or --collapse them back"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--msin", type=Path, default=None, metavar="MSIN",
                        help="measurement set whose ANTENNA table gives the core stations' names and positions "
                             "(required unless --collapse)")
    parser.add_argument("--superstation", default="ST001", help="name of the superstation (default ST001)")
    parser.add_argument("--core-stations", default="core_stations",
                        help="which stations are the core stations: group names or patterns "
                             "(default core_stations, i.e. CS*)")
    parser.add_argument("--collapse", action="store_true",
                        help="the reverse: replace the core stations by one superstation at their mean position, "
                             "with the first core station's solutions")
    parser.add_argument("--station-groups", type=Path, default=None,
                        help="YAML file with the station groups (default: the shipped station_groups.yaml)")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.io.ms import read_antennas, require_ms
    from lofar_hires.solutions.stations import load_station_groups, resolve_stations
    from lofar_hires.solutions.superstation import collapse_to_superstation, expand_superstation

    if args.collapse and args.msin is not None:
        raise InputError("--msin is not used with --collapse (the core stations come from the h5parm); leave it out")
    if not args.collapse and args.msin is None:
        raise InputError("--msin is required: the measurement set gives the core stations to expand into")
    if args.msin is not None:
        require_ms(args.msin)  # refuses a missing, zero-row or all-flagged measurement set before any work
    check_solset_output(args.output, args.overwrite, [args.h5parm])
    groups = load_station_groups(args.station_groups)
    solset = read_solset(args.h5parm, args.solset)
    inputs = [args.h5parm] + ([args.station_groups] if args.station_groups else [])
    if args.collapse:
        core = resolve_stations(args.core_stations, solset.antenna_names, groups, where="core_stations")
        result = collapse_to_superstation(solset, args.superstation, core)
    else:
        names, positions = read_antennas(args.msin)
        core = resolve_stations(args.core_stations, names, groups, where="core_stations")
        index = [names.index(n) for n in core]
        result = expand_superstation(solset, args.superstation, core, positions[index])
        inputs.append(args.msin)
    write_solset(result, args, inputs)
    return 0
