"""``lofar-hires h5 circ2lin``: amplitude/phase solutions from the circular to the linear basis."""

from __future__ import annotations

import argparse

from lofar_hires.cli.h5.common import add_input_arguments, add_output_arguments, write_solset
from lofar_hires.solutions.products import check_solset_output, read_solset

HELP = "full-Jones amplitude/phase solutions from circular (RR, RL, LR, LL) to linear (XX, XY, YX, YY)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.solutions.polconv import convert_basis

    check_solset_output(args.output, args.overwrite, [args.h5parm])
    write_solset(convert_basis(read_solset(args.h5parm, args.solset), "linear"), args, [args.h5parm])
    return 0
