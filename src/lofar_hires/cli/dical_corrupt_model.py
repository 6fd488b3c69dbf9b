"""``lofar-hires dical corrupt-model``: MODEL_DATA corrupted by Faraday rotation and the beam, in a copy of the MS."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.dical import (
    add_logdir_argument,
    add_output_arguments,
    check_logdir,
    check_new_output,
    logdir,
    ms_output,
    new_provenance,
    record_ms_history,
    require_ms_column,
    require_soltabs,
)

HELP = ("write MODEL_DATA corrupted by Faraday rotation and the station beam into MODEL_CORRUPTED "
        "of a copy of the MS (the input is not modified)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ms", type=Path, help="measurement set with MODEL_DATA (read only)")
    add_output_arguments(parser, "measurement set: a copy of MS with MODEL_CORRUPTED")
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
    check_new_output(args.output, args.overwrite, [args.ms, args.faraday])
    check_logdir(args)
    prov = new_provenance(args, [args.ms, args.faraday])
    # Innermost effect first: Faraday rotation acts before the beam in J = P.B.C.E.F.
    effects = [Correction(args.faraday, ("faraday",))] + ([] if args.no_beam else [Correction.station_beam()])
    with ms_output(args.ms, args.output, args.overwrite) as work:
        corrupt_model(work, effects, logdir(args, args.output), "corrupt_model", args.threads, prov)
        record_ms_history(work, prov)
    print(args.output)
    return 0
