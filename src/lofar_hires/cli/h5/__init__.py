"""``lofar-hires h5 <command>``: tools for calibration solutions (h5parm files).

Each command lives in its own module (``lofar_hires.cli.h5.<command>``) with
``HELP``, ``add_arguments(parser)`` and ``run(args)``, like the top-level tasks;
the work is done by :mod:`lofar_hires.solutions`.
"""

from __future__ import annotations

import argparse

HELP = (
    "calibration solutions (h5parm): merge, merge-dd, reset, expand-core, directions, nearest, lin2circ, circ2lin, "
    "info"
)

#: Command name -> module implementing it.
COMMANDS: dict[str, str] = {
    "merge": "lofar_hires.cli.h5.merge",
    "merge-dd": "lofar_hires.cli.h5.merge_dd",
    "reset": "lofar_hires.cli.h5.reset",
    "expand-core": "lofar_hires.cli.h5.expand_core",
    "directions": "lofar_hires.cli.h5.directions",
    "nearest": "lofar_hires.cli.h5.nearest",
    "lin2circ": "lofar_hires.cli.h5.lin2circ",
    "circ2lin": "lofar_hires.cli.h5.circ2lin",
    "info": "lofar_hires.cli.h5.info",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli import add_command_group

    add_command_group(parser, COMMANDS, "h5_command", "COMMAND")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import run_command_group

    return run_command_group(args)
