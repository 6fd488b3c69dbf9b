"""Arguments and input/output handling shared by the ``lofar-hires h5`` commands.

Each command reads one solset (``--solset``, default the first), hands it to a
pure function in :mod:`lofar_hires.solutions` and writes the result with
:func:`lofar_hires.solutions.output.save_solset` (atomically, with provenance).
Inputs are never modified: an output path that is the input is refused.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.io.atomic import check_output_path
from lofar_hires.io.h5parm import Solset, read_h5parm, require_values, validate_h5parm
from lofar_hires.provenance import Provenance
from lofar_hires.solutions.output import save_solset

log = logging.getLogger(__name__)


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
    """``"a, b"`` -> ``["a", "b"]``; None stays None."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def read_solset(path: Path, solset: str | None, values_required: bool = True) -> Solset:
    """Read one solset with all its soltabs.

    Every solset of the file is validated first: the others are copied into the output unchanged,
    so a damaged one must be refused before any work, not when the output is written. With
    ``values_required`` (commands that write solutions), a soltab without any finite value is refused.
    """
    validate_h5parm(path)
    result = read_h5parm(path, solset)
    if values_required:
        require_values(result, path)
    return result


def check_output(output: Path, overwrite: bool, inputs: list[Path]) -> None:
    """Refuse, before any work, an output that exists (without ``overwrite``) or is one of the inputs."""
    for path in inputs:
        if Path(output).resolve() == Path(path).resolve():
            raise InputError(f"--output {output} is the input file; write the result to a new file")
    if Path(output).is_dir():
        raise InputError(f"--output {output} is a directory; give the name of the h5parm to write")
    check_output_path(Path(output), overwrite)


def write_solset(solset: Solset, args: argparse.Namespace, inputs: list[Path]) -> Path:
    """Save ``solset`` to ``args.output`` with a provenance record of the command and its inputs."""
    parameters = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                  if not k.startswith("_")}
    prov = Provenance(task=f"h5 {args.h5_command}", parameters=parameters)
    for path in inputs:
        prov.add_input(path)
    return save_solset(solset, args.output, prov, overwrite=args.overwrite,
                       copy_other_solsets_from=inputs[0] if inputs else None)
