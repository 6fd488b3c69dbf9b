"""``lofar-hires selfcal``: self-calibrate one or more observations of a field with a strategy.

The strategy (a shipped name such as ``delay``, or a YAML file; see
``configs/selfcal/``) lists the solves, imaging, data preparation and stopping
rule; ``--set`` overrides single values (``--set solves.0.solint_s=16``). Several
measurement sets are calibrated jointly: one sky model, solutions per observation.
Re-running with the same ``--outdir`` resumes after the last complete cycle; a
second run into an ``--outdir`` that another run is using is refused (exit 2,
naming that run's pid).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "self-calibration cycles (image, predict, DDECal solves, reset, merge) until the image has converged"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", type=Path, nargs="+", metavar="MSIN",
                        help="measurement set(s); several observations of one field are calibrated jointly (read only)")
    parser.add_argument("--strategy", required=True,
                        help="shipped strategy name (delay, ...) or a strategy YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one strategy value, e.g. stopping.max_cycles=6 or solves.0.solint_s=16 "
                             "(repeatable)")
    parser.add_argument("--outdir", type=Path, required=True,
                        help="output directory (cycles, metrics, best/final solutions, report); re-using it resumes")
    parser.add_argument("--phase-centre", dest="phase_centre_deg", type=float, nargs=2, default=None,
                        metavar=("RA_DEG", "DEC_DEG"), help="phase-shift the data to this position first (J2000)")
    parser.add_argument("--skymodel", type=Path, default=None,
                        help="starting model of cycle 0 (makesourcedb format) instead of a clean model")
    parser.add_argument("--model-image", type=Path, default=None,
                        help="starting model of cycle 0 as a WSClean model image (FITS)")
    parser.add_argument("--point-model-jy", dest="point_flux_jy", type=float, default=None, metavar="FLUX_JY",
                        help="starting model of cycle 0: a point source of this flux at the (new) phase centre, e.g. "
                             "an in-field calibrator from a catalogue")
    parser.add_argument("--pre-apply", type=Path, action="append", default=[], metavar="H5PARM",
                        help="solutions applied to the data before self-calibration (one direction; repeatable)")
    parser.add_argument("--data-column", default="DATA", help="column of the input MSs to calibrate (default DATA)")
    parser.add_argument("--station-groups", type=Path, default=None,
                        help="YAML file with the station groups (default: the shipped station_groups.yaml)")
    parser.add_argument("--threads", type=int, default=2, help="threads of DP3 and WSClean (default 2)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an earlier run in --outdir and start again (a directory that holds anything "
                             "but a self-calibration run is never deleted)")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.errors import InputError
    from lofar_hires.selfcal.engine import SelfcalRequest, run_selfcal
    from lofar_hires.selfcal.strategy import load_strategy

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    strategy = load_strategy(args.strategy, args.overrides)
    log.info("strategy %s: %d solve(s), cycles %d..%d", strategy.name, len(strategy.solves),
             strategy.stopping.min_cycles, strategy.stopping.max_cycles)
    request = SelfcalRequest(
        ms_paths=tuple(args.msin),
        phase_centre_deg=tuple(args.phase_centre_deg) if args.phase_centre_deg else None,
        skymodel=args.skymodel, model_image=args.model_image, point_flux_jy=args.point_flux_jy,
        pre_apply=tuple(args.pre_apply),
        data_column=args.data_column, station_groups=args.station_groups,
    )
    result = run_selfcal(request, strategy, args.outdir, threads=args.threads, overwrite=args.overwrite)
    log.info("stopped by %s after %d cycle(s); best cycle %d; report %s", result.decision.reason, result.n_cycles,
             result.best_cycle, result.report)
    print(result.outdir)
    return 0
