"""``lofar-hires dical solve``: apply corrections in a given order and solve with DDECal."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.cli.dical import (
    add_config_arguments,
    add_logdir_argument,
    add_ms_output_argument,
    add_output_arguments,
    calibrator_config,
    check_logdir,
    check_new_output,
    logdir,
    ms_output,
    new_provenance,
    record_ms_history,
    require_ms_column,
    require_soltabs,
    stamp_h5parm,
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
    parser.add_argument("ms", type=Path, help="measurement set with the model column (read only)")
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
    from lofar_hires.calibration.dp3ops import Correction

    corrections = []
    for kind, value in items:
        if kind == "beam":
            corrections.append(Correction.station_beam())
            continue
        path, names = parse_apply(value)
        solset = require_soltabs(path, names, "--apply")
        tabs = list(solset.soltabs)
        if not tabs:
            from lofar_hires.errors import InputError

            raise InputError(f"--apply {value}: no soltab to apply")
        # Full-Jones solutions (four correlations) are applied as one matrix: amplitude, then phase.
        fulljones = all(len(solset.soltabs[t].axes.get("pol", ())) == 4 for t in tabs)
        if fulljones:
            tabs = sorted(tabs, key=lambda t: solset.soltabs[t].soltype != "amplitude")
        corrections.append(Correction(path, tuple(tabs), fulljones=fulljones))
    return corrections


def check_separate_outputs(h5parm: Path, ms: Path) -> None:
    """The h5parm and the measurement set must be separate paths, neither inside the other."""
    a, b = Path(h5parm).resolve(), Path(ms).resolve()
    if a == b or b in a.parents or a in b.parents:
        from lofar_hires.errors import InputError

        raise InputError(f"--output {h5parm} and --output-ms {ms} must be separate paths")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.di_calibrator import solve
    from lofar_hires.io.atomic import atomic_output

    cfg = calibrator_config(args)
    require_ms_column(args.ms, args.model_column,
                      "run `lofar-hires dical predict` (MODEL_DATA) or `dical corrupt-model` (MODEL_CORRUPTED) first")
    corrections = corrections_from(args.corrections)
    h5parms = [c.h5parm for c in corrections if c.h5parm is not None]
    check_separate_outputs(args.output, args.output_ms)
    check_new_output(args.output, args.overwrite, [args.ms, *h5parms])
    check_new_output(args.output_ms, args.overwrite, [args.ms, *h5parms], "--output-ms")
    check_logdir(args)
    prov = new_provenance(args, [args.ms, *h5parms], cfg)
    with ms_output(args.ms, args.output_ms, args.overwrite) as work, \
            atomic_output(args.output, args.overwrite) as tmp:
        solve(work, tmp, args.mode, corrections, cfg, logdir(args, args.output), args.output.stem, prov,
              args.model_column)
        stamp_h5parm(tmp, prov)
        record_ms_history(work, prov)
    print(args.output)
    print(args.output_ms)
    return 0
