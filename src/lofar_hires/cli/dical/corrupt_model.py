"""``lofar-hires dical corrupt-model``: MODEL_DATA corrupted by Faraday rotation and the beam, in a copy of the MS.

Library: :func:`lofar_hires.calibration.di_calibrator.corrupt_model`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import (
    check_logdir,
    check_new_output,
    logdir_for,
    ms_output,
    record_ms_history,
    require_ms_column,
    require_soltabs,
)
from lofar_hires.cli.dical.common import (
    add_logdir_argument,
    add_msin_argument,
    add_output_arguments,
    add_threads_argument,
    check_threads,
    provenance,
)

HELP = ("write MODEL_DATA corrupted by Faraday rotation and the station beam into MODEL_CORRUPTED "
        "of a copy of the MS (the input is not modified)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_msin_argument(parser, "measurement set with MODEL_DATA (read only)")
    add_output_arguments(parser, "measurement set: a copy of MSIN with MODEL_CORRUPTED")
    parser.add_argument("--faraday", type=Path, required=True,
                        help="h5parm with the soltab faraday (from `dical fit faraday`)")
    parser.add_argument("--no-beam", action="store_true",
                        help="corrupt with Faraday rotation only (default: Faraday rotation, then the beam)")
    add_threads_argument(parser)
    add_logdir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import corrupt_model
    from lofar_hires.runners.dp3_steps import Correction

    check_threads(args.threads)
    require_ms_column(args.msin, "MODEL_DATA", "run `lofar-hires dical predict` first", setting="msin")
    require_soltabs(args.faraday, ["faraday"], "faraday solutions", setting="faraday")
    check_new_output(args.output, args.overwrite, [args.msin, args.faraday], setting="output")
    check_logdir(args.logdir, setting="logdir")
    prov = provenance(args, [args.msin, args.faraday])
    # Innermost effect first: Faraday rotation acts before the beam in J = P.B.C.E.F.
    effects = [Correction(args.faraday, ("faraday",))] + ([] if args.no_beam else [Correction.station_beam()])
    with ms_output(args.msin, args.output, args.overwrite) as work:
        corrupt_model(work, effects, logdir_for(args.logdir, args.output), "corrupt_model", args.threads, prov)
        record_ms_history(work, prov)
    print(args.output)
    return 0
