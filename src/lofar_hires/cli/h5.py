"""``lofar-hires h5 <command>``: tools for calibration solutions (h5parm files).

Each command lives in its own module (``lofar_hires.cli.h5_<command>``) with
``HELP``, ``add_arguments(parser)`` and ``run(args)``, like the top-level tasks.
"""

from __future__ import annotations

import argparse
import importlib

HELP = "calibration solutions (h5parm): merge, reset, expand-core, directions, nearest, lin2circ, circ2lin, info"

#: Command name -> module implementing it.
COMMANDS: dict[str, str] = {
    "merge": "lofar_hires.cli.h5_merge",
    "reset": "lofar_hires.cli.h5_reset",
    "expand-core": "lofar_hires.cli.h5_expand_core",
    "directions": "lofar_hires.cli.h5_directions",
    "nearest": "lofar_hires.cli.h5_nearest",
    "lin2circ": "lofar_hires.cli.h5_lin2circ",
    "circ2lin": "lofar_hires.cli.h5_circ2lin",
    "info": "lofar_hires.cli.h5_info",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli import task_parents

    sub = parser.add_subparsers(dest="h5_command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=task_parents())
        module.add_arguments(cmd)
        cmd.set_defaults(_h5_module=module)


def run(args: argparse.Namespace) -> int:
    return int(args._h5_module.run(args) or 0)
