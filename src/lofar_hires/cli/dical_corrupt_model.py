"""``lofar-hires dical corrupt-model``: MODEL_DATA corrupted by Faraday rotation and the beam (in place)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.dical import (
    add_logdir_argument,
    logdir,
    new_provenance,
    record_ms_history,
    require_ms_column,
    require_soltabs,
)

HELP = ("write MODEL_DATA corrupted by Faraday rotation and the station beam into MODEL_CORRUPTED "
        "(modifies the MS it is given)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="measurement set with MODEL_DATA; MODEL_CORRUPTED is written into it")
    parser.add_argument("--faraday", type=Path, required=True,
                        help="h5parm with the soltab faraday (from `dical fit faraday`)")
    parser.add_argument("--no-beam", action="store_true",
                        help="corrupt with Faraday rotation only (default: Faraday rotation, then the beam)")
    parser.add_argument("--threads", type=int, default=2, help="DP3 threads (default 2)")
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import corrupt_model
    from lofar_hires.calibration.dp3ops import Correction
    from lofar_hires.errors import InputError

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    require_ms_column(args.ms, "MODEL_DATA", "run `lofar-hires dical predict` first")
    require_soltabs(args.faraday, ["faraday"], "--faraday")
    prov = new_provenance(args, [args.ms, args.faraday])
    # Innermost effect first: Faraday rotation acts before the beam in J = P.B.C.E.F.
    effects = [Correction(args.faraday, ("faraday",))] + ([] if args.no_beam else [Correction.station_beam()])
    corrupt_model(args.ms, effects, logdir(args, args.ms), "corrupt_model", args.threads, prov)
    record_ms_history(args.ms, prov)
    print(args.ms)
    return 0
