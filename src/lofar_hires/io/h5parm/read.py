"""Reading h5parms: one validation of the structure for every read (one-line errors, never a KeyError)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, LofarHiresError, MissingInputError
from lofar_hires.io.h5parm.model import (
    KNOWN_AXES,
    KNOWN_TYPES,
    Solset,
    Soltab,
    _text,
    direction_name,
    iter_blocks,
    pol_basis,
)

# --------------------------------------------------------------------------- reading
#
# Every read goes through one validation of the file's structure (:func:`_check_solset`):
# a file that is valid HDF5 but not a usable h5parm is refused with an InputError that
# names the file, the solset or soltab and the problem, never with a KeyError.

#: Errors that h5py and numpy raise on a damaged or truncated file, or on objects of the wrong kind.
_READ_ERRORS = (OSError, KeyError, RuntimeError, TypeError, ValueError, AttributeError, IndexError)
#: dtype kinds accepted for values, weights and the time and frequency axes.
_NUMERIC_KINDS = "fiu"
#: dtype kinds of strings (fixed-length bytes, unicode, variable-length objects).
_STRING_KINDS = "SUO"
#: Axes whose values are names (strings); the others are numbers.
_NAME_AXES = ("ant", "dir", "pol")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def _readable(path: Path, where: str = "") -> Iterator[None]:
    """Turn the errors of a damaged file into one InputError naming the file and the object read."""
    try:
        yield
    except LofarHiresError:
        raise
    except _READ_ERRORS as exc:
        place = f" {where}" if where else ""
        raise InputError(f"{path}:{place} cannot be read (corrupt or truncated file?): {_one_line(exc)}") from None


def _open(path: Path):
    import h5py

    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"h5parm {path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an h5parm")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes), not an h5parm")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path} is not a readable h5parm (HDF5): {_one_line(exc)}") from None


def _is_group(obj) -> bool:
    import h5py

    return isinstance(obj, h5py.Group)


def _is_dataset(obj) -> bool:
    import h5py

    return isinstance(obj, h5py.Dataset)


def _solsets(f, path: Path) -> list[str]:
    with _readable(path, "list of solsets"):
        return [k for k in f if _is_group(f[k])]


def solset_names(path: Path) -> list[str]:
    """Names of the solsets in a file (the file is opened, not validated: see :func:`validate_h5parm`)."""
    with _open(path) as f:
        return _solsets(f, Path(path))


def _pick_solset(f, path: Path, solset: str | None) -> str:
    names = _solsets(f, path)
    if not names:
        raise InputError(f"{path} contains no solset (an h5parm holds groups such as sol000)")
    if solset is None:
        return names[0]
    if solset not in names:
        raise InputError(f"{path}: no solset {solset!r} (has {', '.join(names)})")
    return solset


@dataclass(frozen=True)
class SoltabInfo:
    """What a soltab holds, without its values (for streaming reads)."""

    name: str
    soltype: str
    axes: dict[str, np.ndarray]
    shape: tuple[int, ...]


@dataclass(frozen=True)
class SolsetLayout:
    """A solset whose structure has been checked: antennas, directions and soltab descriptions."""

    name: str
    antenna_names: list[str]
    antenna_positions_m: np.ndarray
    directions: dict[str, tuple[float, float]]
    has_source_table: bool
    soltabs: dict[str, SoltabInfo]
    attrs: dict[str, str]


def _check_names(names: Sequence[str], where: str, what: str) -> list[str]:
    """Names that are non-empty, printable and unique."""
    for n in names:
        if not n.strip():
            raise InputError(f"{where}: an empty {what} name")
        if any(not c.isprintable() for c in n):
            raise InputError(f"{where}: {what} name {n!r} holds control characters")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"{where}: {what} {n} is listed twice")
        seen.add(n)
    return list(names)


def _table(ss, key: str, where: str, fields: Mapping[str, tuple[str, tuple[int, ...]]]) -> np.ndarray:
    """A compound table of a solset (``antenna``, ``source``) with the given fields: name -> (kinds, shape)."""
    obj = ss[key]
    if not _is_dataset(obj):
        raise InputError(f"{where}: '{key}' is not a table")
    names = obj.dtype.names or ()
    missing = [k for k in fields if k not in names]
    if missing:
        raise InputError(f"{where}: the {key} table has no field {missing[0]!r} (has {', '.join(names) or 'none'}); "
                         f"it needs {', '.join(fields)}")
    for name, (kinds, shape) in fields.items():
        sub = obj.dtype.fields[name][0]
        base, sub_shape = (sub.subdtype if sub.subdtype is not None else (sub, ()))
        if base.kind not in kinds or tuple(sub_shape) != shape:
            raise InputError(f"{where}: field {name!r} of the {key} table has type {sub}, expected "
                             f"{'strings' if kinds == _STRING_KINDS else f'{shape[0]} numbers'}")
    if obj.ndim != 1:
        raise InputError(f"{where}: the {key} table has {obj.ndim} dimensions, expected a list of rows")
    return obj[()]


def _read_antennas(ss, where: str) -> tuple[list[str], np.ndarray]:
    if "antenna" not in ss:
        raise InputError(f"{where} has no antenna table")
    table = _table(ss, "antenna", where, {"name": (_STRING_KINDS, ()), "position": (_NUMERIC_KINDS, (3,))})
    names = _check_names([_text(n) for n in table["name"]], where, "antenna")
    return names, np.asarray(table["position"], dtype=float).reshape(-1, 3)


def _read_sources(ss, where: str) -> dict[str, tuple[float, float]] | None:
    """The source table (name -> RA, Dec in radians), None when the solset has none."""
    if "source" not in ss:
        return None
    table = _table(ss, "source", where, {"name": (_STRING_KINDS, ()), "dir": (_NUMERIC_KINDS, (2,))})
    names = _check_names([direction_name(_text(n)) for n in table["name"]], where, "direction")
    radec = np.asarray(table["dir"], dtype=float).reshape(-1, 2)
    bad = [n for n, (ra, dec) in zip(names, radec) if not (np.isfinite(ra) and np.isfinite(dec))
           or abs(dec) > np.pi / 2 + 1e-9]
    if bad:
        raise InputError(f"{where}: direction {bad[0]} has no valid position (RA, Dec in radians)")
    return {n: (float(ra), float(dec)) for n, (ra, dec) in zip(names, radec)}


def _axis_values(grp, axis: str, where: str) -> np.ndarray:
    if axis not in grp:
        raise InputError(f"{where} lists axis {axis!r} but has no {axis!r} dataset")
    obj = grp[axis]
    if not _is_dataset(obj) or obj.ndim != 1:
        raise InputError(f"{where}: axis {axis!r} is not a one-dimensional dataset")
    if obj.shape[0] == 0:
        raise InputError(f"{where}: axis {axis!r} is empty (length 0)")
    values = obj[()]
    if axis in _NAME_AXES:
        if values.dtype.kind not in _STRING_KINDS:
            raise InputError(f"{where}: axis {axis!r} holds {values.dtype} values, expected names")
        names = [_text(v) for v in values]
        if axis == "dir":
            names = [direction_name(n) for n in names]
        return np.array(_check_names(names, where, {"ant": "antenna", "dir": "direction"}.get(axis, "polarisation")))
    if values.dtype.kind not in _NUMERIC_KINDS:
        raise InputError(f"{where}: axis {axis!r} holds {values.dtype} values, expected numbers")
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise InputError(f"{where}: axis {axis!r} holds NaN or infinite values")
    return values


def _axes_attribute(grp, where: str) -> list[str]:
    if "AXES" not in grp["val"].attrs:
        raise InputError(f"{where}: 'val' has no AXES attribute (the order of its axes)")
    names = _text(grp["val"].attrs["AXES"]).split(",")
    unknown = [a for a in names if a not in KNOWN_AXES]
    if unknown:
        raise InputError(f"{where} has unknown axes {unknown}; allowed {', '.join(KNOWN_AXES)}")
    if len(set(names)) != len(names):
        raise InputError(f"{where}: AXES {','.join(names)} names an axis twice")
    if "AXES" in grp["weight"].attrs and _text(grp["weight"].attrs["AXES"]).split(",") != names:
        raise InputError(f"{where}: 'weight' has axes {_text(grp['weight'].attrs['AXES'])}, 'val' has "
                         f"{','.join(names)}")
    return names


def _soltab_info(grp, name: str, where: str, antennas: Sequence[str],
                 directions: Mapping[str, tuple[float, float]] | None) -> SoltabInfo:
    if "TITLE" not in grp.attrs:
        raise InputError(f"{where} has no type (TITLE attribute)")
    soltype = _text(grp.attrs["TITLE"])
    if soltype not in KNOWN_TYPES:
        raise InputError(f"{where} has unknown type {soltype!r}; supported: {', '.join(KNOWN_TYPES)}")
    for key in ("val", "weight"):
        if key not in grp:
            raise InputError(f"{where} has no {key!r} dataset")
        if not _is_dataset(grp[key]):
            raise InputError(f"{where}: {key!r} is not a dataset")
        if grp[key].dtype.kind not in _NUMERIC_KINDS:
            raise InputError(f"{where}: {key!r} holds {grp[key].dtype} values, expected numbers")
    axes = {a: _axis_values(grp, a, where) for a in _axes_attribute(grp, where)}
    shape = tuple(len(v) for v in axes.values())
    if grp["val"].shape != shape or grp["weight"].shape != shape:
        raise InputError(f"{where}: values {grp['val'].shape} / weights {grp['weight'].shape} do not match "
                         f"its axes {shape}")
    if "ant" in axes:
        known = set(antennas)
        unknown = [a for a in axes["ant"] if a not in known]
        if unknown:
            raise InputError(f"{where}: stations {', '.join(unknown[:5])} are not in the antenna table")
    if "dir" in axes:
        if directions is None:
            raise InputError(f"{where} has a direction axis but the solset has no source table")
        unknown = [d for d in axes["dir"] if d not in directions]
        if unknown:
            raise InputError(f"{where}: directions {', '.join(unknown[:5])} are not in the source table")
    if "pol" in axes:
        pol_basis(axes["pol"], where)
    return SoltabInfo(name=name, soltype=soltype, axes=axes, shape=shape)


def _check_solset(f, path: Path, solset: str | None) -> SolsetLayout:
    """The structure of one solset (the first when ``solset`` is None), checked completely."""
    name = _pick_solset(f, path, solset)
    where = f"{path}: solset {name}"
    with _readable(path, f"solset {name}"):
        ss = f[name]
        antennas, positions = _read_antennas(ss, where)
        directions = _read_sources(ss, where)
        attrs = {k: _text(v) for k, v in ss.attrs.items()}
        tab_names = [k for k in ss if _is_group(ss[k])]
    infos = {}
    for tab in tab_names:
        tab_where = f"{where}, soltab {tab}"
        with _readable(path, f"solset {name}, soltab {tab}"):
            infos[tab] = _soltab_info(ss[tab], tab, tab_where, antennas, directions)
    return SolsetLayout(name, antennas, positions, directions or {}, directions is not None, infos, attrs)


def validate_h5parm(path: Path) -> list[str]:
    """Check the structure of every solset of an h5parm; returns the solset names.

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Empty, not HDF5, truncated, or any solset that :func:`read_h5parm` would refuse.
    """
    path = Path(path)
    with _open(path) as f:
        _pick_solset(f, path, None)  # refuses a file without solsets
        names = _solsets(f, path)
        for name in names:
            _check_solset(f, path, name)
    return names


def read_h5parm(path: Path, solset: str | None = None, soltabs: Sequence[str] | None = None) -> Solset:
    """Read a solset (default: the first) with all or the named soltabs.

    The whole solset's structure is checked first (every soltab, named or not).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Empty, not an HDF5 file, truncated, no solset; an antenna or source table that is
        missing or has the wrong fields; a soltab without type, values, weights or axis
        order, with unknown types or axes, an axis without its dataset, an empty axis, values
        that are not numbers, shapes that do not match the axes, stations not in the antenna
        table or directions not in the source table. The message names the file, the solset
        or soltab and the problem.
    """
    path = Path(path)
    with _open(path) as f:
        layout = _check_solset(f, path, solset)
        available = list(layout.soltabs)
        wanted = available if soltabs is None else list(soltabs)
        missing = [s for s in wanted if s not in available]
        if missing:
            raise InputError(f"{path}: no soltab {missing[0]!r} in {layout.name} "
                             f"(has {', '.join(available) or 'none'})")
        tabs = {}
        for tab_name in wanted:
            info = layout.soltabs[tab_name]
            with _readable(path, f"solset {layout.name}, soltab {tab_name}"):
                grp = f[layout.name][tab_name]
                val = grp["val"][()]
                weight = grp["weight"][()]
                attrs = {k: _text(v) for k, v in grp.attrs.items() if k != "TITLE"}
            tabs[tab_name] = Soltab(tab_name, info.soltype, info.axes, val, weight, attrs)
    return Solset(name=layout.name, antenna_names=layout.antenna_names,
                  antenna_positions_m=layout.antenna_positions_m, directions=layout.directions, soltabs=tabs,
                  attrs=layout.attrs)


def require_values(solset: Solset, path: Path, soltabs: Sequence[str] | None = None) -> None:
    """Refuse soltabs (all, or the named ones) without a single finite value: no solutions to use.

    DP3 writes NaN for the solutions it could not find; a soltab that is NaN (or infinite)
    everywhere holds nothing a command could apply, merge or convert.

    Raises
    ------
    InputError
        Naming the file, solset and soltab.
    """
    for name in soltabs if soltabs is not None else list(solset.soltabs):
        if not np.isfinite(solset.soltabs[name].val).any():
            raise InputError(f"{path}: solset {solset.name}, soltab {name} holds no finite value (all NaN or "
                             "infinite): there are no solutions to use")


def read_soltab(path: Path, name: str, solset: str = "sol000") -> Soltab:
    """Read one soltab."""
    return read_h5parm(path, solset, [name]).soltabs[name]


class StreamingReader:
    """An open h5parm for reading soltabs in blocks (large files, merging).

    The solset's structure is checked on opening, as by :func:`read_h5parm`. Use as a
    context manager; ``info(name)`` describes a soltab and ``read(name, axis, start, stop)``
    returns values and weights of a block along one axis, in the file's axis order.
    """

    def __init__(self, path: Path, solset: str | None = None) -> None:
        self.path = Path(path)
        self._file = _open(self.path)
        try:
            layout = _check_solset(self._file, self.path, solset)
        except BaseException:
            self._file.close()
            raise
        self.solset = layout.name
        self.antenna_names = layout.antenna_names
        self.antenna_positions_m = layout.antenna_positions_m
        self.directions = layout.directions
        self.soltab_names = list(layout.soltabs)
        self._infos = dict(layout.soltabs)

    def info(self, name: str) -> SoltabInfo:
        if name not in self._infos:
            raise InputError(f"{self.path}: no soltab {name!r} in {self.solset} "
                             f"(has {', '.join(self.soltab_names) or 'none'})")
        return self._infos[name]

    def require_values(self, name: str, block_values: int = 1 << 22) -> None:
        """Refuse a soltab without a single finite value, as :func:`require_values` does.

        Blocks along the first axis are read until a finite value is found (usually the first block).
        """
        info = self.info(name)
        first = next(iter(info.axes))
        per_slot = max(1, int(np.prod(info.shape[1:])))
        for start, stop in iter_blocks(info.shape[0], max(1, block_values // per_slot)):
            if np.isfinite(self.read(name, first, start, stop)[0]).any():
                return
        raise InputError(f"{self.path}: solset {self.solset}, soltab {name} holds no finite value (all NaN or "
                         "infinite): there are no solutions to use")

    def read(self, name: str, axis: str | None = None, start: int = 0, stop: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Values and weights of a block ``start:stop`` along ``axis`` (all when ``axis`` is None)."""
        info = self.info(name)
        index: tuple = ()
        if axis is not None and axis in info.axes:
            pos = list(info.axes).index(axis)
            index = (slice(None),) * pos + (slice(start, stop),)
        with _readable(self.path, f"solset {self.solset}, soltab {name}"):
            grp = self._file[self.solset][name]
            return grp["val"][index], grp["weight"][index]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StreamingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def copy_solsets(source: Path, target: Path, exclude: str) -> list[str]:
    """Copy every solset of ``source`` except ``exclude`` unchanged into the h5parm ``target``.

    The source's solsets are validated first (:func:`validate_h5parm`); returns the names copied.
    """
    import h5py

    names = [n for n in validate_h5parm(source) if n != exclude]
    if not names:
        return []
    with _readable(Path(source), "copy of solsets"), h5py.File(source, "r") as src, \
            h5py.File(target, "a") as dst:
        for name in names:
            src.copy(src[name], dst, name=name)
    return names


