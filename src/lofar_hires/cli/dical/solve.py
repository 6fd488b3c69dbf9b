"""``lofar-hires dical solve``: apply corrections in a given order and solve with DDECal.

Library: :func:`lofar_hires.calibration.di_calibrator.solve`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import (
    check_logdir,
    check_new_output,
    check_separate_outputs,
    logdir_for,
    ms_output,
    record_ms_history,
    require_ms_column,
    soltabs_to_apply,
    stamp_h5parm,
)
from lofar_hires.cli.dical.common import (
    add_config_arguments,
    add_logdir_argument,
    add_ms_output_argument,
    add_msin_argument,
    add_output_arguments,
    calibrator_config,
    provenance,
)

HELP = ("apply corrections (in the order given) to DATA, write CORRECTED_DATA and solve against a model "
        "column with DDECal (into a copy of the MS; the input is not modified)")

#: DDECal modes of the calibrator pipeline's solves (and the target's scalar phases).
MODES = ("rotation+diagonal", "diagonal", "fulljones", "scalarphase")


class ApplyAction(argparse._AppendAction):
    """``--apply H5[:SOLTAB[,SOLTAB]]``: appended, in command-line order, to ``corrections``.

    An append action (argparse's own class) so that tools reading the parser see a repeatable option.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(("h5parm", values))
        setattr(namespace, self.dest, items)


class ApplyBeamAction(argparse.Action):
    """``--apply-beam``: the station beam, at this place in ``corrections``."""

    def __init__(self, option_strings, dest, default=None, required=False, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, required=required, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(("beam", None))
        setattr(namespace, self.dest, items)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_msin_argument(parser, "measurement set with the model column (read only)")
    add_output_arguments(parser, "h5parm")
    add_ms_output_argument(parser)
    parser.add_argument("--mode", required=True, choices=MODES, help="DDECal solution type")
    parser.add_argument("--apply", dest="corrections", action=ApplyAction, default=[], metavar="H5[:SOLTAB,...]",
                        help="remove these soltabs (default: all of the file's first solset) from DATA before "
                             "solving; repeatable, outermost effect first")
    parser.add_argument("--apply-beam", dest="corrections", action=ApplyBeamAction,
                        help="remove the station beam (DP3 applybeam) at this place in the order of --apply")
    parser.add_argument("--model-column", default="MODEL_DATA",
                        help="model column to solve against (default MODEL_DATA; MODEL_CORRUPTED from "
                             "`dical corrupt-model`)")
    add_config_arguments(parser, "calibrator")
    add_logdir_argument(parser)


def parse_apply(value: str) -> tuple[Path, list[str] | None]:
    """``H5`` or ``H5:SOLTAB,SOLTAB`` -> (path, soltabs or None for all)."""
    if ":" in value and not Path(value).exists():
        path, _, tabs = value.rpartition(":")
        names = [t.strip() for t in tabs.split(",") if t.strip()]
        return Path(path), names or None
    return Path(value), None


def corrections_from(items: list[tuple[str, str | None]]) -> list:
    """The ``--apply``/``--apply-beam`` items as :class:`Correction` objects (checked, in order)."""
    from lofar_hires.runners.dp3_steps import Correction

    corrections = []
    for kind, value in items:
        if kind == "beam":
            corrections.append(Correction.station_beam())
            continue
        path, names = parse_apply(value)
        tabs, fulljones = soltabs_to_apply(path, names, "solutions to apply", setting="corrections")
        corrections.append(Correction(path, tabs, fulljones=fulljones))
    return corrections


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import solve
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)
    require_ms_column(args.msin, args.model_column,
                      "run `lofar-hires dical predict` (MODEL_DATA) or `dical corrupt-model` (MODEL_CORRUPTED) first",
                      setting="model_column")
    corrections = corrections_from(args.corrections)
    h5parms = [c.h5parm for c in corrections if c.h5parm is not None]
    check_separate_outputs(args.output, args.output_ms, setting="output_ms")
    check_new_output(args.output, args.overwrite, [args.msin, *h5parms], setting="output")
    check_new_output(args.output_ms, args.overwrite, [args.msin, *h5parms], "output measurement set",
                     setting="output_ms")
    check_logdir(args.logdir, setting="logdir")
    prov = provenance(args, [args.msin, *h5parms], cfg)
    with ms_output(args.msin, args.output_ms, args.overwrite) as work, \
            atomic_output(args.output, args.overwrite) as tmp:
        solve(work, tmp, args.mode, corrections, cfg, logdir_for(args.logdir, args.output), args.output.stem, prov,
              args.model_column)
        stamp_h5parm(tmp, prov)
        record_ms_history(work, prov)
    print(args.output)
    print(args.output_ms)
    return 0
