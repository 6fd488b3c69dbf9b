"""Inputs and products of the single steps of the direction-independent pipelines.

The steps of the calibrator and target pipelines (van Weeren et al. 2016, section 3;
de Gasperin et al. 2019, section 3) can be run one at a time. Each step checks every
input before any work starts (measurement sets with :func:`lofar_hires.io.ms.require_ms`,
h5parms with their soltabs), writes its products under a temporary name and renames
them when complete, and never replaces an existing product unless asked to; an output
may not be, contain or lie inside an input. h5parms carry their provenance in the
solset attribute :data:`~lofar_hires.solutions.output.PROVENANCE_ATTR`, measurement
sets in a row of their HISTORY table. A step that adds columns to a measurement set
works on a copy (:func:`ms_output`); its input is never opened for writing.

Every function takes plain values; ``what`` arguments are the words by which an error
message names an input or output (e.g. ``"transfer solutions"``), and ``setting`` names the
caller's argument for it (:attr:`lofar_hires.errors.InputError.setting`; the command line adds
the option that sets it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from lofar_hires import __version__
from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import Solset
from lofar_hires.provenance import Provenance
from lofar_hires.solutions.output import PROVENANCE_ATTR

log = logging.getLogger(__name__)

#: Seconds between the Unix epoch and MJD 0 (1858-11-17): casacore's TIME origin.
MJD_UNIX_OFFSET_S = 40587.0 * 86400.0

#: Effect fitted by ``dical fit`` -> (soltab of the DDECal solve it reads, the solve that makes that soltab).
FIT_NEEDS: dict[str, tuple[str, str]] = {
    "polalign": ("phase000", "a diagonal or rotation+diagonal solve"),
    "faraday": ("rotation000", "a rotation+diagonal solve"),
    "bandpass": ("amplitude000", "a diagonal or rotation+diagonal solve"),
    "clocktec": ("phase000", "a diagonal solve"),
}


# --------------------------------------------------------------------------- inputs


def require_file(path: Path, what: str, *, setting: str | None = None) -> Path:
    """An input file that must exist; ``what`` names it in the message."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{what} {path} does not exist")
    if not path.is_file():
        raise InputError(f"{what} {path} is not a file", setting=setting)
    return path


def require_ms_column(msin: Path, column: str, hint: str, *, setting: str | None = None) -> Path:
    """A measurement set that must have ``column`` (made by an earlier step, named in ``hint``)."""
    from lofar_hires.io.ms import require_ms

    require_ms(msin)
    try:
        return require_ms(msin, (column,))
    except InputError as exc:
        raise InputError(f"{exc} ({hint})", setting=setting) from None


def require_soltabs(h5parm: Path, soltabs: Sequence[str] | None, what: str, *,
                    setting: str | None = None) -> Solset:
    """The soltabs ``soltabs`` (None: all) of the first solset of ``h5parm``, each with some finite value.

    Errors are one line that starts with ``what`` (e.g. ``"transfer solutions: ... lacks soltab clock"``).
    """
    from lofar_hires.io.h5parm import read_h5parm, require_values

    require_file(h5parm, what, setting=setting)
    try:
        solset = read_h5parm(h5parm, None, None if soltabs is None else list(soltabs))
        require_values(solset, h5parm)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"{what}: {exc}", setting=setting) from None
    return solset


def require_clocktec(h5parm: Path, what: str, *, setting: str | None = None) -> Solset:
    """The clock and tec soltabs of a clock/TEC fit: clock with finite values, tec present (it holds no value when
    the band could not separate them and ``fits.clocktec_mode=combined`` put one combined delay into clock)."""
    from lofar_hires.io.h5parm import read_h5parm

    require_soltabs(h5parm, ["clock"], what, setting=setting)
    solset = read_h5parm(h5parm, None, None)
    if "tec" not in solset.soltabs:
        raise InputError(f"{what}: {h5parm} lacks soltab tec", setting=setting)
    return solset


def soltabs_to_apply(h5parm: Path, soltabs: Sequence[str] | None, what: str, *,
                     setting: str | None = None) -> tuple[tuple[str, ...], bool]:
    """The soltabs of ``h5parm`` to remove from the data, in order, and whether they form one full-Jones matrix.

    ``soltabs`` None means every soltab of the first solset. Full-Jones solutions (four correlations in
    every soltab) are applied as one matrix, amplitude before phase, as DP3's ``applycal`` needs them.
    """
    solset = require_soltabs(h5parm, soltabs, what, setting=setting)
    tabs = list(solset.soltabs)
    if not tabs:
        raise InputError(f"{what} {h5parm}: no soltab to apply", setting=setting)
    fulljones = all(len(solset.soltabs[t].axes.get("pol", ())) == 4 for t in tabs)
    if fulljones:
        tabs = sorted(tabs, key=lambda t: solset.soltabs[t].soltype != "amplitude")
    return tuple(tabs), fulljones


def check_solve_for_fit(path: Path, effect: str, what: str = "the solve", *, setting: str | None = None) -> None:
    """The DDECal solve ``path`` must hold the soltab that the fit of ``effect`` reads (:data:`FIT_NEEDS`),
    per time slot, channel and station, with the polarisations XX and YY where the fit needs them."""
    soltab, made_by = FIT_NEEDS[effect]
    try:
        tab = require_soltabs(path, [soltab], what).soltabs[soltab]
    except InputError as exc:
        raise InputError(f"{exc}; fit {effect} needs {made_by}", setting=setting) from None
    missing = [a for a in ("time", "freq", "ant") if a not in tab.axes]
    if missing:
        raise InputError(f"{what} {path}:{soltab} has no {'/'.join(missing)} axis; fit {effect} needs {made_by}",
                         setting=setting)
    if soltab != "rotation000" and [str(p) for p in tab.axes.get("pol", [])] != ["XX", "YY"]:
        raise InputError(f"{what} {path}:{soltab} is not diagonal (polarisations "
                         f"{list(tab.axes.get('pol', []))}); fit {effect} needs {made_by}", setting=setting)


# --------------------------------------------------------------------------- outputs


def check_new_output(output: Path, overwrite: bool, inputs: Sequence[Path], what: str = "output", *,
                     setting: str | None = None) -> None:
    """Refuse, before any work, an output that exists (unless ``overwrite``), cannot be written, or is,
    contains or lies inside an input (replacing it would destroy the input)."""
    out = Path(output).resolve()
    for path in inputs:
        source = Path(path).resolve()
        if out == source:
            raise InputError(f"{what} {output} is an input; write the result to a new path", setting=setting)
        if source in out.parents:
            raise InputError(f"{what} {output} lies inside the input {path}; write the result elsewhere",
                             setting=setting)
        if out in source.parents:
            raise InputError(f"{what} {output} contains the input {path}; write the result elsewhere",
                             setting=setting)
    check_output_path(Path(output), overwrite)


def check_separate_outputs(h5parm: Path, msout: Path, *, setting: str | None = None) -> None:
    """The solutions and the output measurement set of a step must be separate paths, neither inside the other."""
    a, b = Path(h5parm).resolve(), Path(msout).resolve()
    if a == b or b in a.parents or a in b.parents:
        raise InputError(f"the output h5parm {h5parm} and the output measurement set {msout} must be separate paths",
                         setting=setting)


def check_logdir(path: Path | None, what: str = "log directory", *, setting: str | None = None) -> None:
    """Refuse, before any work, a log directory that cannot be one (a file, a path under a file, not writable)."""
    if path is None:
        return
    path = Path(path)
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise InputError(f"{what} {path}: {candidate} is not a directory", setting=setting)
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise InputError(f"{what} {path}: {candidate} is not writable", setting=setting)
            return


def logdir_for(logdir: Path | None, product: Path) -> Path:
    """Where DP3's parsets and logs go: ``logdir``, else ``logs/`` in the product's directory."""
    return Path(logdir) if logdir is not None else Path(product).resolve().parent / "logs"


def copy_ms(source: Path, target: Path) -> Path:
    """Copy the measurement set ``source`` (a directory of tables) to ``target``, writable by its owner.

    Inputs handed over read-only (e.g. staged by a workflow engine) give a copy that DP3 can update.
    """
    try:
        shutil.copytree(source, target)
        for path in (target, *target.rglob("*")):
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    except OSError as exc:
        raise InputError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None
    return target


@contextlib.contextmanager
def ms_output(source: Path, output: Path, overwrite: bool) -> Iterator[Path]:
    """A copy of ``source`` under the temporary name of ``output`` for a step to update.

    The copy becomes ``output`` when the block completes; whatever was written is removed when it
    raises, and ``source`` is never opened for writing.
    """
    with atomic_output(Path(output), overwrite) as tmp:
        log.info("copying %s to %s", source, output)
        copy_ms(Path(source), tmp)
        yield tmp


# --------------------------------------------------------------------------- provenance


def new_provenance(task: str, parameters: Mapping[str, object], inputs: Sequence[Path],
                   settings: object | None = None) -> Provenance:
    """A provenance record of the step ``task`` with its ``parameters``, resolved ``settings`` and ``inputs``.

    Called once the inputs are checked; logs the resolved settings.
    """
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in parameters.items()}
    if settings is not None:
        log.info("settings: %r", settings)
        record["settings"] = repr(settings)
    prov = Provenance(task=task, parameters=json.loads(json.dumps(record, default=str)))
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


def record_ms_history(msin: Path, prov: Provenance) -> None:
    """Append a row describing this step (its provenance as JSON) to the measurement set's HISTORY table."""
    from casacore.tables import table

    history = Path(msin) / "HISTORY"
    if not (history / "table.dat").is_file():
        log.warning("%s has no HISTORY table; its provenance is not recorded", msin)
        return
    mjd_s = time.time() + MJD_UNIX_OFFSET_S
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
