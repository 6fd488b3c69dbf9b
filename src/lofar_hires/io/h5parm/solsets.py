"""Solution-set names shared with LINC, and the calibrator solutions of LINC's ``cal_solutions.h5``.

LINC's calibrator pipeline (de Gasperin et al. 2019, section 4; the LINC documentation,
"calibrator pipeline") writes ``cal_solutions.h5`` with the solset ``calibrator`` holding
the soltabs ``polalign`` (phase), ``bandpass`` (amplitude), ``faraday`` (rotation
measure), ``clock`` and ``tec``, made by the LoSoTo operations POLALIGN, FARADAY,
SMOOTH/INTERPOLATE and CLOCKTEC; LINC's target pipeline adds the solset ``target``
(``RMextract``, the phase solutions of the sky-model calibration) to the same file.
LoSoTo keeps the axes of the solve it starts from, so these soltabs may still have a
time axis (``polalign``, ``bandpass``), a direction axis of length one (from DDECal),
a polarisation axis (``clock`` and ``tec`` fitted per polarisation) or an axis order
other than DP3's (``faraday``: ``ant, time``).

DP3's DDECal writes ``sol000``. DP3's applycal reads an h5parm with a single solset of
any name, and needs ``<step>.solset=<name>`` when the file holds more than one (it
stops with "contains more than one SolSet, please specify which one to use").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm.model import Solset, Soltab
from lofar_hires.io.h5parm.read import StreamingReader, read_h5parm, solset_names
from lofar_hires.io.h5parm.write import check_group_name

#: Solset of the calibrator solutions (LINC's ``cal_solutions.h5``).
CALIBRATOR_SOLSET = "calibrator"
#: Solset of the target's direction-independent self-calibration solutions (LINC's target pipeline).
TARGET_SOLSET = "target"
#: Solset that DP3's DDECal and gaincal write.
DP3_SOLSET = "sol000"
#: Solsets searched, in order, for calibrator solutions when none is named: LINC's, then DP3's
#: (files of lofar-hires before it used LINC's names).
CALIBRATOR_SOLSET_ORDER = (CALIBRATOR_SOLSET, DP3_SOLSET)

#: The calibrator soltabs (LINC's names) and their types.
CALIBRATOR_SOLTAB_TYPES: dict[str, str] = {"polalign": "phase", "bandpass": "amplitude",
                                           "faraday": "rotationmeasure", "clock": "clock", "tec": "tec"}
#: Other names a calibrator soltab may have in a file (LoSoTo's and DP3's numbered defaults), tried in order
#: after the soltab's own name.
SOLTAB_ALIASES: dict[str, tuple[str, ...]] = {"polalign": ("polalign000",), "bandpass": ("bandpass000",),
                                              "faraday": ("faraday000", "rotationmeasure000"),
                                              "clock": ("clock000",), "tec": ("tec000",)}


def calibrator_solset(path: Path, solset: str | None = None) -> str:
    """The solset of ``path`` that holds calibrator solutions.

    ``solset`` names it; otherwise the first of :data:`CALIBRATOR_SOLSET_ORDER` present,
    otherwise the file's only solset.

    Raises
    ------
    InputError
        The named solset is missing, or none is named and the file has several solsets
        but neither ``calibrator`` nor ``sol000``; the message names the file and its solsets.
    """
    names = solset_names(Path(path))
    if not names:
        raise InputError(f"{path} contains no solset (LINC's calibrator solutions are in the solset "
                         f"{CALIBRATOR_SOLSET!r})")
    if solset is not None:
        if solset not in names:
            raise InputError(f"{path}: no solset {solset!r} (has {', '.join(names)})")
        return solset
    for name in CALIBRATOR_SOLSET_ORDER:
        if name in names:
            return name
    if len(names) == 1:
        return names[0]
    raise InputError(f"{path}: no solset {CALIBRATOR_SOLSET!r} or {DP3_SOLSET!r} among {', '.join(names)}; "
                     "name the solset of the calibrator solutions")


def soltab_names_in(available: Sequence[str], wanted: Sequence[str], where: str,
                    what: str = "") -> dict[str, str]:
    """For each ``wanted`` soltab, its name among ``available`` (its own name, else a :data:`SOLTAB_ALIASES` name).

    Raises
    ------
    InputError
        Naming ``where`` (file and solset), every soltab found under none of its names and
        ``what`` (the setting that asked for them).
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in wanted:
        match = next((n for n in (name, *SOLTAB_ALIASES.get(name, ())) if n in available), None)
        if match is None:
            missing.append(name)
        else:
            found[name] = match
    if missing:
        reason = f" ({what})" if what else ""
        raise InputError(f"{where} has no soltab(s) {', '.join(missing)}{reason}; it has "
                         f"{', '.join(available) or 'none'}")
    return found


def read_calibrator_solutions(path: Path, soltabs: Sequence[str], solset: str | None = None,
                              what: str = "") -> Solset:
    """The named calibrator soltabs of ``path`` (ours or LINC's ``cal_solutions.h5``) under LINC's names.

    The solset is found with :func:`calibrator_solset`; each soltab by its name or an alias,
    then renamed to the name asked for. A soltab of one of LINC's names must have its type
    (``polalign`` phase, ``bandpass`` amplitude, ``faraday`` rotation measure, ``clock``, ``tec``).

    Raises
    ------
    InputError
        No such solset, a soltab missing or of another type; the one-line message names the
        file, the solset and the soltab (and ``what`` asked for it).
    """
    path = Path(path)
    name = calibrator_solset(path, solset)
    where = f"{path}: solset {name}"
    with StreamingReader(path, name) as reader:
        available = list(reader.soltab_names)
    mapping = soltab_names_in(available, list(soltabs), where, what)
    ss = read_h5parm(path, name, list(dict.fromkeys(mapping.values())))
    tabs = {}
    for wanted, found in mapping.items():
        tab = ss.soltabs[found]
        expected = CALIBRATOR_SOLTAB_TYPES.get(wanted)
        if expected is not None and tab.soltype != expected:
            raise InputError(f"{where}: soltab {found!r} has type {tab.soltype!r}; {wanted} must be of type "
                             f"{expected!r}")
        tabs[wanted] = Soltab(wanted, tab.soltype, tab.axes, tab.val, tab.weight, dict(tab.attrs))
    return Solset(name=ss.name, antenna_names=ss.antenna_names, antenna_positions_m=ss.antenna_positions_m,
                  directions=ss.directions, soltabs=tabs, attrs=ss.attrs)


def rename_solset(path: Path, old: str, new: str) -> None:
    """Rename the solset ``old`` of ``path`` to ``new``, in place (HDF5 link rename; nothing else changes).

    Use it on a product that is not yet published (e.g. the temporary file of
    :func:`lofar_hires.io.atomic.atomic_output`), so that nobody sees the file half renamed.

    Raises
    ------
    InputError
        ``old`` is missing, ``new`` exists already or is not a valid group name.
    """
    import h5py

    check_group_name(new, "solset")
    if old == new:
        return
    with h5py.File(path, "r+") as f:
        if old not in f:
            raise InputError(f"{path}: no solset {old!r} to rename (has {', '.join(f) or 'none'})")
        if new in f:
            raise InputError(f"{path}: cannot rename solset {old!r} to {new!r}: {new!r} exists")
        f.move(old, new)

