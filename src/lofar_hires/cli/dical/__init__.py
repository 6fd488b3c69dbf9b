"""``lofar-hires dical <op>``: the steps of the direction-independent pipelines, one by one.

``lofar-hires di-calibrator`` and ``di-target`` run whole pipelines; these
commands run one step each, with the same library functions, so that a user can
rerun any step by hand and a CWL workflow can wire them
(``workflows/di_calibrator.cwl``, ``workflows/di_target.cwl``). Each op lives in
its own module (``lofar_hires.cli.dical.<op>``) with ``HELP``,
``add_arguments(parser)`` and ``run(args)``; their shared options are in
:mod:`lofar_hires.cli.dical.common`, and the rules every step follows (inputs
checked before any work, atomic products, provenance, inputs never modified) in
:mod:`lofar_hires.calibration.step_products`.
"""

from __future__ import annotations

import argparse

HELP = ("steps of the DI pipelines, one at a time: prepare, predict, corrupt-model, solve, fit, "
        "refine-polalign, collect, transfer, correct, phasecal, plots")

#: Op name -> module implementing it.
COMMANDS: dict[str, str] = {
    "prepare": "lofar_hires.cli.dical.prepare",
    "predict": "lofar_hires.cli.dical.predict",
    "corrupt-model": "lofar_hires.cli.dical.corrupt_model",
    "solve": "lofar_hires.cli.dical.solve",
    "fit": "lofar_hires.cli.dical.fit",
    "refine-polalign": "lofar_hires.cli.dical.refine_polalign",
    "collect": "lofar_hires.cli.dical.collect",
    "transfer": "lofar_hires.cli.dical.transfer",
    "correct": "lofar_hires.cli.dical.correct",
    "phasecal": "lofar_hires.cli.dical.phasecal",
    "plots": "lofar_hires.cli.dical.plots",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli import add_command_group

    add_command_group(parser, COMMANDS, "dical_command", "OP")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import run_command_group

    return run_command_group(args)
