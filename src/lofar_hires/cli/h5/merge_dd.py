"""``lofar-hires h5 merge-dd``: Dutch DD solutions followed by each facet's international solutions."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.solutions.dd_merge import DEFAULT_MATCH_DEG

HELP = ("merge the Dutch direction-dependent solutions with the international self-calibration solutions of "
        "each direction's calibrator")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dutch_solutions", type=Path, metavar="DUTCH_H5",
                        help="the Dutch direction-dependent solutions of one observation (one direction per facet)")
    parser.add_argument("--international", type=Path, action="append", required=True, metavar="SELFCAL_DIR",
                        help="output directory of a 'lofar-hires selfcal' run on a calibrator (its "
                             "selfcal_report.json and best solutions); repeat for every calibrator, failed runs "
                             "included")
    parser.add_argument("--observation", default=None,
                        help="observation whose best solutions to take from runs of several observations "
                             "(default: the only one)")
    parser.add_argument("--facet-regions", type=Path, default=None,
                        help="ds9 facet regions to check the Dutch directions against (names and points)")
    parser.add_argument("--match-deg", type=float, default=DEFAULT_MATCH_DEG,
                        help="largest separation in degrees between a direction and its own calibrator; farther "
                             f"directions take the nearest working calibrator (default {DEFAULT_MATCH_DEG:.6g})")
    parser.add_argument("--international-stations", default=None, metavar="STATIONS",
                        help="stations whose international solutions are used (groups, names, patterns, e.g. "
                             "'international'); the others keep their Dutch solutions alone (default: every "
                             "station, the international runs' re-solves of the Dutch stations included)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="merged h5parm; the direction table <stem>.directions.csv is written next to it")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.provenance import Provenance
    from lofar_hires.solutions.dd_merge import merge_dd, read_dutch_directions, read_selfcal_run
    from lofar_hires.solutions.stations import check_station_spec

    if args.international_stations is not None:
        check_station_spec(args.international_stations, where="--international-stations")
    read_dutch_directions(args.dutch_solutions)  # refuse bad solutions before reading the runs
    runs = [read_selfcal_run(path, args.observation) for path in args.international]
    prov = Provenance(task="h5 merge-dd", parameters=command_parameters(args))
    for path in args.international:
        prov.add_input(Path(path) / "selfcal_report.json")
    summary = merge_dd(args.dutch_solutions, runs, args.output, facet_regions=args.facet_regions,
                       match_deg=args.match_deg, international_stations=args.international_stations,
                       overwrite=args.overwrite, provenance=prov)
    n_cal = len({a.calibrator for a in summary.assignments})
    n_fallback = sum(a.fallback for a in summary.assignments)
    print(f"{summary.output}: {len(summary.assignments)} directions, {n_cal} international calibrators, "
          f"{n_fallback} fallback(s)")
    return 0
