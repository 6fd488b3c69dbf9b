"""``lofar-hires dical fit``: one of the calibrator pipeline's fits, from a DDECal solve."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lofar_hires.cli.dical import (
    add_config_arguments,
    add_output_arguments,
    calibrator_config,
    check_new_output,
    new_provenance,
    require_soltabs,
)

HELP = "fit polarisation alignment, Faraday rotation, bandpass or clock/TEC from a DDECal solve"

#: Effect -> (soltab of the solve it needs, the solve that makes it).
NEEDS: dict[str, tuple[str, str]] = {
    "polalign": ("phase000", "a diagonal or rotation+diagonal solve"),
    "faraday": ("rotation000", "a rotation+diagonal solve"),
    "bandpass": ("amplitude000", "a diagonal or rotation+diagonal solve"),
    "clocktec": ("phase000", "a diagonal solve"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("effect", choices=list(NEEDS),
                        help="what to fit: polalign (XX-YY delay), faraday (rotation measure), bandpass "
                             "(time-median amplitudes), clocktec (clock and TEC)")
    parser.add_argument("solve_h5", type=Path, help="h5parm of the DDECal solve (read only)")
    add_output_arguments(parser, "h5parm")
    add_config_arguments(parser, "calibrator")


def check_solve(path: Path, effect: str) -> None:
    """The solve must hold the soltab the fit reads, per time slot and channel, diagonal where needed."""
    from lofar_hires.errors import InputError

    soltab, made_by = NEEDS[effect]
    try:
        tab = require_soltabs(path, [soltab], "SOLVE_H5").soltabs[soltab]
    except InputError as exc:
        raise InputError(f"{exc}; fit {effect} needs {made_by}") from None
    missing = [a for a in ("time", "freq", "ant") if a not in tab.axes]
    if missing:
        raise InputError(f"{path}:{soltab} has no {'/'.join(missing)} axis; fit {effect} needs {made_by}")
    if soltab != "rotation000" and [str(p) for p in tab.axes.get("pol", [])] != ["XX", "YY"]:
        raise InputError(f"{path}:{soltab} is not diagonal (polarisations {list(tab.axes.get('pol', []))}); "
                         f"fit {effect} needs {made_by}")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration import effects as dc
    from lofar_hires.errors import QualityError
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)
    check_solve(args.solve_h5, args.effect)
    check_new_output(args.output, args.overwrite, [args.solve_h5])
    prov = new_provenance(args, [args.solve_h5], cfg)
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
