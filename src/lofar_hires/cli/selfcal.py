"""``lofar-hires selfcal``: self-calibrate one or more observations of a field with a strategy.

The strategy (a shipped name such as ``delay``, or a YAML file; see
``configs/selfcal/``) lists the solves, imaging, data preparation and stopping
rule; ``--set`` overrides single values (``--set solves.0.solint_s=16``). Several
measurement sets are calibrated jointly: one sky model, solutions per observation.
Re-running with the same ``--outdir`` resumes after the last complete cycle; a
second run into an ``--outdir`` that another run is using is refused (exit 2,
naming that run's pid).

``--delay-calibrators`` takes the in-field calibrator from the LOFAR-VLBI pipeline's
``delay_calibrators.csv`` (Morabito et al. 2022, A&A 658, A1; the ``delay_calibrator``
input of VLBI-cwl): the first row (the nearest to the pointing centre) or the one
named by ``--delay-calibrator``. Its position becomes the phase centre and its LoTSS
total flux (the peak where the row has none) the point-source starting model.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lofar_hires.selfcal.engine import SelfcalResult

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
    parser.add_argument("--delay-calibrators", type=Path, default=None, metavar="CSV",
                        help="delay_calibrators.csv of the LOFAR-VLBI pipeline: the calibrator's position is the phase "
                             "centre and its total flux the point starting model (instead of --phase-centre, "
                             "--skymodel, --model-image and --point-model-jy)")
    parser.add_argument("--delay-calibrator", default=None, metavar="NAME",
                        help="with --delay-calibrators: the calibrator's Source_id (default: the table's first row, "
                             "the nearest to the pointing centre)")
    parser.add_argument("--facet-regions", type=Path, default=None, metavar="REG",
                        help="ds9 facet regions (lofar-hires facets): solve towards every facet at once, one direction "
                             "per named polygon placed at its point, and image with WSClean facets applying each "
                             "facet's solutions")
    parser.add_argument("--pre-apply", type=Path, action="append", default=[], metavar="H5PARM",
                        help="solutions applied to the data before self-calibration (repeatable); of solutions "
                             "with several directions the one nearest to --phase-centre is applied")
    parser.add_argument("--pre-apply-missing", choices=["error", "identity"], default="error",
                        help="stations of the data that the pre-applied solutions lack: refuse them (error, the "
                             "default) or leave them uncorrected (identity; e.g. Dutch solutions on data with "
                             "international stations)")
    parser.add_argument("--name", default=None,
                        help="what the run calibrates (e.g. the calibrator's name), recorded in the report "
                             "(default: the output directory's name)")
    parser.add_argument("--failure-ok", action="store_true",
                        help="when the run fails, write selfcal_report.json with status failed and the reason and "
                             "exit 0, so that a workflow calibrating many directions goes on with the others")
    parser.add_argument("--require-improvement", action="store_true",
                        help="fail (exit 4) when the uncalibrated image (cycle 0) stays the best, instead of writing "
                             "identity solutions as the best ones; the run's products are kept for inspection")
    parser.add_argument("--data-column", default="DATA", help="column of the input MSs to calibrate (default DATA)")
    parser.add_argument("--station-groups", type=Path, default=None,
                        help="YAML file with the station groups (default: the shipped station_groups.yaml)")
    parser.add_argument("--threads", type=int, default=2, help="threads of DP3 and WSClean (default 2)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an earlier run in --outdir and start again (a directory that holds anything "
                             "but a self-calibration run is never deleted)")


#: Options that --delay-calibrators replaces: parser dest -> option.
DELAY_CALIBRATOR_REPLACES: dict[str, str] = {"phase_centre_deg": "--phase-centre", "skymodel": "--skymodel",
                                             "model_image": "--model-image", "point_flux_jy": "--point-model-jy"}


def delay_calibrator_start(csv: Path, name: str | None) -> tuple[tuple[float, float], float]:
    """Phase centre (RA, Dec in degrees) and point-model flux (Jy) of a delay calibrator of ``csv``.

    The calibrator is ``name`` or the table's first row; its flux is the LoTSS total flux, or
    the peak brightness where the row has no total flux.

    Raises
    ------
    InputError
        No such calibrator, or a row with neither flux (naming the file and the calibrator).
    """
    from lofar_hires.calibration.step_products import require_file
    from lofar_hires.errors import InputError
    from lofar_hires.io.delay_calibrators import pick_delay_calibrator, read_delay_calibrators

    calibrators = read_delay_calibrators(require_file(csv, "delay-calibrator table", setting="delay_calibrators"))
    try:
        cal = pick_delay_calibrator(calibrators, name)
    except InputError as exc:
        raise InputError(f"{csv}: {exc}", setting="delay_calibrator") from None
    flux_jy = cal.total_flux_jy if cal.total_flux_jy is not None else cal.peak_flux_jy
    if flux_jy is None:
        raise InputError(f"{csv}: delay calibrator {cal.name} has no Total_flux or Peak_flux for the starting model")
    log.info("delay calibrator %s of %s: phase centre RA %.6f, Dec %.6f deg, point model %.4g Jy", cal.name, csv,
             cal.ra_deg % 360.0, cal.dec_deg, flux_jy)
    return (cal.ra_deg % 360.0, cal.dec_deg), flux_jy


def require_improvement(result: SelfcalResult, name: str) -> None:
    """Refuse a run whose best image is the uncalibrated one (its best solutions are the identity).

    Raises
    ------
    QualityError
        The best cycle is 0, naming the run's stopping reason and report.
    """
    from lofar_hires.errors import QualityError

    if result.best_cycle == 0:
        raise QualityError(
            f"self-calibration of {name} did not improve on the uncalibrated image in {result.n_cycles} cycle(s) "
            f"(stopped by {result.decision.reason}): its best solutions would be the identity and leave the data "
            f"uncalibrated; check the calibrator's position and starting model in {result.report}, or leave out "
            "--require-improvement to accept them")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.errors import InputError, LofarHiresError
    from lofar_hires.selfcal.engine import SelfcalRequest, run_selfcal, write_failure_report
    from lofar_hires.selfcal.strategy import load_strategy

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    phase_centre = tuple(args.phase_centre_deg) if args.phase_centre_deg else None
    point_flux_jy = args.point_flux_jy
    if args.delay_calibrators is not None:
        given = [option for dest, option in DELAY_CALIBRATOR_REPLACES.items() if getattr(args, dest) is not None]
        if given:
            raise InputError(f"--delay-calibrators sets the phase centre and the starting model: leave out "
                             f"{' and '.join(given)}", setting="delay_calibrators")
        phase_centre, point_flux_jy = delay_calibrator_start(args.delay_calibrators, args.delay_calibrator)
    elif args.delay_calibrator is not None:
        raise InputError("--delay-calibrator names a calibrator of --delay-calibrators; give the table too",
                         setting="delay_calibrator")
    strategy = load_strategy(args.strategy, args.overrides)
    log.info("strategy %s: %d solve(s), cycles %d..%d", strategy.name, len(strategy.solves),
             strategy.stopping.min_cycles, strategy.stopping.max_cycles)
    request = SelfcalRequest(
        ms_paths=tuple(args.msin),
        phase_centre_deg=phase_centre,
        skymodel=args.skymodel, model_image=args.model_image, point_flux_jy=point_flux_jy,
        pre_apply=tuple(args.pre_apply), pre_apply_missing=args.pre_apply_missing,
        data_column=args.data_column, station_groups=args.station_groups, facet_regions=args.facet_regions,
        name=args.name,
    )
    try:
        result = run_selfcal(request, strategy, args.outdir, threads=args.threads, overwrite=args.overwrite)
        if args.require_improvement:
            require_improvement(result, request.name or args.outdir.name)
    except LofarHiresError as exc:
        if not args.failure_ok:
            raise
        report = write_failure_report(args.outdir, request, exc)
        log.error("self-calibration of %s failed: %s; recorded in %s (--failure-ok: exit 0)",
                  request.name or args.outdir.name, exc, report)
        print(args.outdir)
        return 0
    log.info("stopped by %s after %d cycle(s); best cycle %d; report %s", result.decision.reason, result.n_cycles,
             result.best_cycle, result.report)
    print(result.outdir)
    return 0
