"""``lofar-hires calibratability``: is each observation worth calibrating (de Jong et al. 2025, section 6.7.2.1)?

Library: :mod:`lofar_hires.gate` (:func:`~lofar_hires.gate.run.plan_gate` checks everything before
the first DP3 run, :func:`~lofar_hires.gate.run.run_gate` measures and judges). Per observation (one
measurement set each, after the delay calibration, with its direction-independent solutions in the
same order): the phasediff score of the in-field calibrator, the flagged fraction and the rate of
change of the differential TEC, each against its limit (``configs/calibratability.yaml``). Writes
one JSON (``-o``) with every observation's metrics, sub-scores, verdict and reasons, and
``<stem>.provenance.json``; prints one line per observation. An observation that fails the gate is
a result (exit status 0), not an error.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "score each observation's calibratability (calibrator phasediff, flags, ionosphere) and say which to stop"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--msin", type=Path, nargs="+", required=True, metavar="MS",
                        help="one measurement set per observation, after the delay calibration (read only)")
    parser.add_argument("--di-solutions", type=Path, nargs="+", required=True, metavar="H5",
                        help="the direction-independent solutions of each observation, in the order of --msin: the "
                             "target's phase solutions (<obs>.phase.h5 of di-target) or an h5parm with a tec soltab "
                             "(cal_solutions.h5)")
    parser.add_argument("--observation-names", nargs="+", default=None, metavar="NAME",
                        help="the observations' names, in the order of --msin (default: the measurement sets' names "
                             "without .ms); they key the result")
    parser.add_argument("--di-solset", default=None,
                        help="solset of the solutions (default: target, then calibrator, then sol000, then any)")
    parser.add_argument("--di-soltab", default=None,
                        help="soltab of the solutions, of type tec or phase (default: the first direction-"
                             "independent tec soltab, else the first phase soltab)")
    parser.add_argument("--calibrators", type=Path, default=None,
                        help="calibrator table (lofar-hires select): every row is scored and the lowest score "
                             "counts; or give --calibrator-ra-deg and --calibrator-dec-deg")
    parser.add_argument("--calibrator-ra-deg", type=float, default=None,
                        help="right ascension of the in-field calibrator (deg, J2000)")
    parser.add_argument("--calibrator-dec-deg", type=float, default=None,
                        help="declination of the in-field calibrator (deg, J2000)")
    parser.add_argument("--calibrator-name", default="delay_calibrator",
                        help="name of the calibrator given by position (default delay_calibrator)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="the result (JSON); the provenance goes to <stem>.provenance.json")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML overriding configs/calibratability.yaml (the limits)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one limit, e.g. flags.max_flagged_fraction=0.6 (repeatable)")
    parser.add_argument("--selection-config", type=Path, default=None,
                        help="YAML overriding configs/select_calibrators.yaml (its score section measures the "
                             "phasediff score)")
    parser.add_argument("--set-selection", dest="selection_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one score setting, e.g. score.solint_s=300 (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.gate.config import load_calibratability_config, require_settings_file
    from lofar_hires.gate.run import calibrators_from, plan_gate, run_gate, verdict_line, write_result
    from lofar_hires.selection.config import load_selection_config

    require_settings_file(args.config, "config")
    require_settings_file(args.selection_config, "selection_config")
    config = load_calibratability_config(args.config, args.overrides)
    selection = load_selection_config(args.selection_config, args.selection_overrides)
    calibrators = calibrators_from(args.calibrators, args.calibrator_ra_deg, args.calibrator_dec_deg,
                                   args.calibrator_name)
    extra = [p for p in (args.calibrators, args.config, args.selection_config) if p is not None]
    plan = plan_gate(args.msin, args.di_solutions, calibrators, config, selection, args.output,
                     overwrite=args.overwrite, di_solset=args.di_solset, di_soltab=args.di_soltab,
                     observation_names=args.observation_names, extra_inputs=extra)
    log.info("score settings: %r", selection.score)
    prov = new_provenance("calibratability", command_parameters(args),
                          [*args.msin, *args.di_solutions, *extra], config)
    results = run_gate(plan, config, selection, prov)
    write_result(results, plan, config, selection, prov, overwrite=args.overwrite)
    log.info("wrote %s and %s", plan.output, plan.provenance_path)
    for result in results:
        print(verdict_line(result))
    return 0
