"""``lofar-hires dical <op>``: the steps of the direction-independent pipelines, one by one.

``lofar-hires di-calibrator`` and ``di-target`` run whole pipelines; these
commands run one step each, with the same library functions, so that a user can
rerun any step by hand and a CWL workflow can wire them
(``workflows/di_calibrator.cwl``, ``workflows/di_target.cwl``). Each op lives in
its own module (``lofar_hires.cli.dical_<op>``) with ``HELP``,
``add_arguments(parser)`` and ``run(args)``, like the top-level tasks.

Shared rules, implemented by the helpers below: every input is checked before
any work starts (measurement sets with :func:`lofar_hires.io.ms.require_ms`, sky
models with the makesourcedb reader, h5parms with their soltabs); new products
(measurement sets, h5parms, plot directories) are written under a temporary
name and renamed when complete; an existing output is only replaced with
``--overwrite``; an output may not be, contain or lie inside an input; h5parms
carry their provenance in the solset attribute ``lofar_hires_provenance`` and
measurement sets in a row of their HISTORY table. No op modifies its inputs: the
ops that add a column (``predict``, ``corrupt-model``, ``solve``, ``phasecal``)
copy the measurement set to their output and work on the copy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from lofar_hires import __version__
from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.atomic import check_output_path
from lofar_hires.provenance import Provenance
from lofar_hires.solutions.output import PROVENANCE_ATTR

log = logging.getLogger(__name__)

HELP = ("steps of the DI pipelines, one at a time: prepare, predict, corrupt-model, solve, fit, "
        "refine-polalign, collect, transfer, correct, phasecal, plots")

#: Op name -> module implementing it.
COMMANDS: dict[str, str] = {
    "prepare": "lofar_hires.cli.dical_prepare",
    "predict": "lofar_hires.cli.dical_predict",
    "corrupt-model": "lofar_hires.cli.dical_corrupt_model",
    "solve": "lofar_hires.cli.dical_solve",
    "fit": "lofar_hires.cli.dical_fit",
    "refine-polalign": "lofar_hires.cli.dical_refine_polalign",
    "collect": "lofar_hires.cli.dical_collect",
    "transfer": "lofar_hires.cli.dical_transfer",
    "correct": "lofar_hires.cli.dical_correct",
    "phasecal": "lofar_hires.cli.dical_phasecal",
    "plots": "lofar_hires.cli.dical_plots",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli import add_command_group

    add_command_group(parser, COMMANDS, "dical_command", "OP")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import run_command_group

    return run_command_group(args)


# --------------------------------------------------------------------------- shared arguments


def add_config_arguments(parser: argparse.ArgumentParser, pipeline: str) -> None:
    """``--config`` and ``--set`` of the calibrator or target settings (``pipeline``)."""
    shipped = {"calibrator": "configs/di_calibrator.yaml", "target": "configs/di_target.yaml"}[pipeline]
    parser.add_argument("--config", type=Path, default=None, help=f"YAML overriding {shipped}")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. threads=4 (repeatable)")


def add_output_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``-o/--output`` (required) and ``--overwrite``."""
    parser.add_argument("-o", "--output", type=Path, required=True, help=f"output {what} (written atomically)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def add_ms_output_argument(parser: argparse.ArgumentParser) -> None:
    """``--output-ms`` (required): the measurement set of an op whose main product is an h5parm."""
    parser.add_argument("--output-ms", type=Path, required=True,
                        help="output measurement set: a copy of MS with the op's columns (written atomically; "
                             "replaced only with --overwrite)")


def add_logdir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logdir", type=Path, default=None,
                        help="directory for DP3's parsets and logs (default: logs/ next to the product)")


def calibrator_config(args: argparse.Namespace):
    """The calibrator settings: shipped defaults, ``--config``, then ``--set`` (logged by :func:`new_provenance`)."""
    from lofar_hires.calibration.config import load_calibrator_config

    return load_calibrator_config(args.config, args.overrides)


def target_config(args: argparse.Namespace):
    """The target settings: shipped defaults, ``--config``, then ``--set`` (logged by :func:`new_provenance`)."""
    from lofar_hires.calibration.config import load_target_config

    return load_target_config(args.config, args.overrides)


# --------------------------------------------------------------------------- inputs and outputs


def require_file(path: Path, option: str) -> Path:
    """An input file that must exist (``option`` names it in the message)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{option} {path} does not exist")
    if not path.is_file():
        raise InputError(f"{option} {path} is not a file")
    return path


def require_skymodel(path: Path, option: str) -> Path:
    """A makesourcedb sky model that parses, holds components and finite values (``option`` names it)."""
    from lofar_hires.io.skymodel import require_skymodel as check

    return check(path, option)


def require_ms_column(ms: Path, column: str, hint: str) -> Path:
    """An MS that must have ``column`` (made by an earlier op, named in ``hint``)."""
    from lofar_hires.io.ms import require_ms

    require_ms(ms)
    try:
        return require_ms(ms, (column,))
    except InputError as exc:
        raise InputError(f"{exc} ({hint})") from None


def require_soltabs(h5parm: Path, soltabs: list[str] | tuple[str, ...] | None, option: str):
    """Read ``soltabs`` (None: all) of ``h5parm`` (first solset), each with some finite value; one-line
    errors naming ``option``."""
    from lofar_hires.io.h5parm import read_h5parm, require_values

    require_file(h5parm, option)
    try:
        solset = read_h5parm(h5parm, None, None if soltabs is None else list(soltabs))
        require_values(solset, h5parm)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"{option}: {exc}") from None
    return solset


def check_new_output(output: Path, overwrite: bool, inputs: list[Path], option: str = "--output") -> None:
    """Refuse, before any work, an output that exists (without ``--overwrite``), cannot be written, or is,
    contains or lies inside an input (replacing it would destroy the input)."""
    out = Path(output).resolve()
    for path in inputs:
        source = Path(path).resolve()
        if out == source:
            raise InputError(f"{option} {output} is an input; write the result to a new path")
        if source in out.parents:
            raise InputError(f"{option} {output} lies inside the input {path}; write the result elsewhere")
        if out in source.parents:
            raise InputError(f"{option} {output} contains the input {path}; write the result elsewhere")
    check_output_path(Path(output), overwrite)


def check_logdir(args: argparse.Namespace) -> None:
    """Refuse, before any work, a ``--logdir`` that cannot be a directory (a file, or a path under a file)."""
    if args.logdir is None:
        return
    path = Path(args.logdir)
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise InputError(f"--logdir {path}: {candidate} is not a directory")
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise InputError(f"--logdir {path}: {candidate} is not writable")
            return


def copy_ms(source: Path, target: Path) -> Path:
    """Copy the measurement set ``source`` (a directory of tables) to ``target``, writable by its owner.

    Inputs handed over read-only (e.g. staged by a workflow engine) give a copy that DP3 can update.
    """
    try:
        shutil.copytree(source, target)
        for path in (target, *target.rglob("*")):
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR)
    except OSError as exc:
        raise InputError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None
    return target


@contextlib.contextmanager
def ms_output(source: Path, output: Path, overwrite: bool) -> Iterator[Path]:
    """A copy of ``source`` under the temporary name of ``output`` for an op to update.

    The copy becomes ``output`` when the block completes; whatever was written is removed when it
    raises, and ``source`` is never opened for writing.
    """
    from lofar_hires.io.atomic import atomic_output

    with atomic_output(output, overwrite) as tmp:
        log.info("copying %s to %s", source, output)
        copy_ms(Path(source), tmp)
        yield tmp


def logdir(args: argparse.Namespace, product: Path) -> Path:
    """Where DP3's parsets and logs go: ``--logdir``, else ``logs/`` in the product's directory."""
    return Path(args.logdir) if args.logdir is not None else Path(product).resolve().parent / "logs"


def new_provenance(args: argparse.Namespace, inputs: list[Path], settings: object | None = None) -> Provenance:
    """A provenance record of this op, its arguments, resolved ``settings`` and inputs.

    Called once the inputs are checked; logs the resolved settings.
    """
    parameters = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                  if not k.startswith("_")}
    if settings is not None:
        log.info("settings: %r", settings)
        parameters["settings"] = repr(settings)
    prov = Provenance(task=f"dical {args.dical_command}", parameters=json.loads(json.dumps(parameters, default=str)))
    for path in inputs:
        prov.add_input(path)
    return prov


def stamp_h5parm(path: Path, prov: Provenance) -> None:
    """Store ``prov`` in the first solset's attributes of an h5parm that DP3 wrote."""
    import h5py
    import numpy as np

    with h5py.File(path, "a") as f:
        solsets = [k for k in f if isinstance(f[k], h5py.Group)]
        if not solsets:
            raise InputError(f"{path} holds no solset")
        f[solsets[0]].attrs[PROVENANCE_ATTR] = np.bytes_(prov.to_json().encode())


def record_ms_history(ms: Path, prov: Provenance) -> None:
    """Append a row describing this op (its provenance as JSON) to the MS's HISTORY table."""
    from casacore.tables import table

    history = Path(ms) / "HISTORY"
    if not (history / "table.dat").is_file():
        log.warning("%s has no HISTORY table; its provenance is not recorded", ms)
        return
    mjd_s = (time.time() / 86400.0 + 40587.0) * 86400.0
    params = [f"{k}={v}" for k, v in prov.parameters.items()]
    with table(str(history), readonly=False, ack=False) as t:
        row = t.nrows()
        t.addrows(1)
        t.putcell("TIME", row, mjd_s)
        t.putcell("OBSERVATION_ID", row, 0)
        t.putcell("MESSAGE", row, prov.to_json())
        t.putcell("PRIORITY", row, "NORMAL")
        t.putcell("ORIGIN", row, f"lofar-hires {__version__} {prov.task}")
        t.putcell("OBJECT_ID", row, 0)
        t.putcell("APPLICATION", row, "lofar-hires")
        t.putcell("CLI_COMMAND", row, [str(a) for a in sys.argv] or [""])
        t.putcell("APP_PARAMS", row, params or [""])
