"""Arguments shared by the ``lofar-hires h5`` commands.

Each command reads one solset (``--solset``, default the first) with
:func:`lofar_hires.solutions.products.read_solset`, hands it to a pure function
in :mod:`lofar_hires.solutions` and writes the result with :func:`write_solset`
(atomically, with provenance). Inputs are never modified.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.io.h5parm import Solset
from lofar_hires.solutions.products import save_result


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The input h5parm (positional) and ``--solset``."""
    parser.add_argument("h5parm", type=Path, help="input h5parm (read only)")
    parser.add_argument("--solset", default=None,
                        help="solset to process (default: the first); other solsets are copied unchanged")


def add_output_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``-o/--output`` and ``--overwrite``."""
    parser.add_argument("-o", "--output", type=Path, required=required, default=None,
                        help="output h5parm (a new file; the input is never modified)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def split_list(text: str | None) -> list[str] | None:
    """A comma-separated option value: ``"a, b"`` -> ``["a", "b"]``; None stays None."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def write_solset(solset: Solset, args: argparse.Namespace, inputs: list[Path]) -> Path:
    """Save ``solset`` to ``--output`` with a provenance record of the command and its inputs."""
    from lofar_hires.cli import command_parameters

    return save_result(solset, args.output, task=f"h5 {args.h5_command}", parameters=command_parameters(args),
                       inputs=inputs, overwrite=args.overwrite)
