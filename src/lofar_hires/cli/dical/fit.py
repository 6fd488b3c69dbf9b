"""``lofar-hires dical fit``: one of the calibrator pipeline's fits, from a DDECal solve.

Library: :func:`lofar_hires.calibration.effects.fit_polalign_step` (and the ``faraday``,
``bandpass`` and ``clocktec`` fits beside it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lofar_hires.calibration.step_products import FIT_NEEDS, check_new_output, check_solve_for_fit
from lofar_hires.cli.dical.common import add_config_arguments, add_output_arguments, calibrator_config, provenance

HELP = "fit polarisation alignment, Faraday rotation, bandpass or clock/TEC from a DDECal solve"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("effect", choices=list(FIT_NEEDS),
                        help="what to fit: polalign (XX-YY delay), faraday (rotation measure), bandpass "
                             "(time-median amplitudes), clocktec (clock and TEC)")
    parser.add_argument("solve_h5", type=Path, help="h5parm of the DDECal solve (read only)")
    add_output_arguments(parser, "h5parm")
    add_config_arguments(parser, "calibrator")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration import effects as dc
    from lofar_hires.errors import QualityError
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)
    check_solve_for_fit(args.solve_h5, args.effect, "the solve", setting="solve_h5")
    check_new_output(args.output, args.overwrite, [args.solve_h5], setting="output")
    prov = provenance(args, [args.solve_h5], cfg)
    step = {"polalign": dc.fit_polalign_step, "faraday": dc.fit_faraday_step,
            "bandpass": dc.fit_bandpass_step, "clocktec": dc.fit_clocktec_step}[args.effect]
    with atomic_output(args.output, args.overwrite) as tmp:
        summary = step(args.solve_h5, tmp, cfg, prov)
    print(json.dumps({"output": str(args.output), args.effect: summary}, indent=2))
    failed = summary.get("failed", {})
    if failed and not cfg.allow_failed_stations:
        raise QualityError(f"{len(failed)} station(s) failed and are flagged in {args.output}: "
                           + "; ".join(f"{name} ({reason})" for name, reason in failed.items())
                           + "; --set allow_failed_stations=true accepts the solutions without them")
    return 0
