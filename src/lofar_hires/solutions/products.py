"""Reading the input and writing the output of one solutions (h5parm) operation.

Each operation reads one solset (default the first), hands it to a pure function of
this package and writes the result atomically with its provenance
(:func:`lofar_hires.solutions.output.save_solset`); the other solsets of the input are
copied unchanged. Inputs are never modified: an output that is the input is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.io.atomic import check_output_path
from lofar_hires.io.h5parm import Solset, read_h5parm, require_values, validate_h5parm
from lofar_hires.provenance import Provenance
from lofar_hires.solutions.output import save_solset

log = logging.getLogger(__name__)


def read_solset(path: Path, solset: str | None, values_required: bool = True) -> Solset:
    """Read one solset with all its soltabs.

    Every solset of the file is validated first: the others are copied into the output unchanged,
    so a damaged one must be refused before any work, not when the output is written. With
    ``values_required`` (operations that write solutions), a soltab without any finite value is refused.
    """
    validate_h5parm(path)
    result = read_h5parm(path, solset)
    if values_required:
        require_values(result, path)
    return result


def check_solset_output(output: Path, overwrite: bool, inputs: Sequence[Path]) -> None:
    """Refuse, before any work, an output h5parm that exists (unless ``overwrite``), is a directory or is an input."""
    for path in inputs:
        if Path(output).resolve() == Path(path).resolve():
            raise InputError(f"output {output} is the input file; write the result to a new file")
    if Path(output).is_dir():
        raise InputError(f"output {output} is a directory; give the name of the h5parm to write")
    check_output_path(Path(output), overwrite)


def save_result(solset: Solset, output: Path, *, task: str, parameters: Mapping[str, object],
                inputs: Sequence[Path], overwrite: bool) -> Path:
    """Save ``solset`` to ``output`` with a provenance record of ``task``, its ``parameters`` and ``inputs``.

    The other solsets of the first input are copied unchanged.
    """
    prov = Provenance(task=task, parameters=dict(parameters))
    for path in inputs:
        prov.add_input(path)
    return save_solset(solset, output, prov, overwrite=overwrite,
                       copy_other_solsets_from=inputs[0] if inputs else None)
