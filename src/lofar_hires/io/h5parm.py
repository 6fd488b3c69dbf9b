"""h5parm files (calibration solutions) in the standard layout, read and written with h5py.

A file holds solsets (``sol000``) with an ``antenna`` table (``name``,
``position``), a ``source`` table (``name``, ``dir`` = RA, Dec in radians) and
soltabs (``phase000``, ``amplitude000``, ``tec000``, ...). A soltab is a group
whose ``TITLE`` attribute is its type, with one dataset per axis (``time``,
``freq``, ``ant``, ``dir``, ``pol``), a ``val`` dataset whose ``AXES`` attribute
lists the axis order, and a ``weight`` dataset of the same shape (0 = flagged).
This is what DP3 writes and what DP3, WSClean and LoSoTo read.

Direction names are written as ``[name]`` and RA is written in (-pi, pi], as DP3
writes it. WSClean 3.1 matches facets to h5parm directions by comparing RA values
in (-pi, pi] without wrapping: an h5parm with RA in [0, 2 pi) makes it apply one
direction's solutions to every facet of a field at RA > 180 deg (shown by
``tests/solutions/test_merge_wsclean.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

log = logging.getLogger(__name__)

#: Axis names allowed in a soltab, in the canonical (DP3) order.
KNOWN_AXES = ("time", "freq", "ant", "dir", "pol")
#: Soltab types understood by DP3's applycal (and by this package).
KNOWN_TYPES = ("phase", "amplitude", "tec", "clock", "rotation", "rotationmeasure", "scalarphase",
               "scalaramplitude")
LINEAR_POLS = ("XX", "XY", "YX", "YY")
CIRCULAR_POLS = ("RR", "RL", "LR", "LL")
#: Attributes are fixed-length byte strings, as DP3 writes them.
H5PARM_VERSION = np.bytes_(b"1.0")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def wrap_ra(ra_rad: float) -> float:
    """RA in (-pi, pi], the convention of DP3 and of WSClean's facet matching."""
    wrapped = float(np.mod(ra_rad + np.pi, 2 * np.pi) - np.pi)
    return np.pi if wrapped == -np.pi else wrapped


def direction_name(name: str) -> str:
    """The bracketed direction name DP3 uses (``[name]``)."""
    name = str(name)
    return name if name.startswith("[") and name.endswith("]") else f"[{name}]"


@dataclass
class Soltab:
    """One solution table: named axes with values, a value array and weights."""

    name: str
    soltype: str
    axes: dict[str, np.ndarray]
    val: np.ndarray
    weight: np.ndarray | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.soltype not in KNOWN_TYPES:
            raise InputError(f"soltab {self.name}: unknown type {self.soltype!r}; use one of {KNOWN_TYPES}")
        unknown = [a for a in self.axes if a not in KNOWN_AXES]
        if unknown:
            raise InputError(f"soltab {self.name}: unknown axes {unknown}; allowed {KNOWN_AXES}")
        self.axes = {k: np.asarray(v) for k, v in self.axes.items()}
        for key in ("ant", "dir", "pol"):
            if key in self.axes:
                self.axes[key] = self.axes[key].astype(str)
        if "dir" in self.axes:
            self.axes["dir"] = np.array([direction_name(d) for d in self.axes["dir"]])
        shape = tuple(len(v) for v in self.axes.values())
        self.val = np.asarray(self.val)
        if self.val.shape != shape:
            raise InputError(f"soltab {self.name}: values have shape {self.val.shape}, axes give {shape}")
        if self.weight is None:
            self.weight = np.ones(shape)
        else:
            self.weight = np.asarray(self.weight)
            if self.weight.shape != shape:
                raise InputError(f"soltab {self.name}: weights have shape {self.weight.shape}, axes give {shape}")
        if "pol" in self.axes:
            pol_basis(self.axes["pol"], f"soltab {self.name}")

    @property
    def axis_names(self) -> list[str]:
        return list(self.axes)

    @property
    def basis(self) -> str | None:
        """``linear``, ``circular`` or ``None`` (no polarisation axis)."""
        return pol_basis(self.axes["pol"], self.name) if "pol" in self.axes else None

    def transposed(self, order: Sequence[str]) -> Soltab:
        """The same soltab with its axes in ``order`` (a permutation of its axes)."""
        if sorted(order) != sorted(self.axes):
            raise InputError(f"soltab {self.name}: cannot order axes {list(self.axes)} as {list(order)}")
        perm = [self.axis_names.index(a) for a in order]
        return Soltab(self.name, self.soltype, {a: self.axes[a] for a in order},
                      np.transpose(self.val, perm), np.transpose(self.weight, perm), dict(self.attrs))

    def canonical(self) -> Soltab:
        """The soltab with its axes in DP3's order (time, freq, ant, dir, pol)."""
        return self.transposed([a for a in KNOWN_AXES if a in self.axes])


def pol_basis(pols: Sequence[str], where: str) -> str:
    """``linear`` or ``circular`` for a polarisation axis; refuses mixtures and unknown labels."""
    labels = [_text(p) for p in pols]
    if all(p in LINEAR_POLS for p in labels):
        return "linear"
    if all(p in CIRCULAR_POLS for p in labels):
        return "circular"
    raise InputError(f"{where}: polarisation axis {labels} is neither linear (XX, XY, YX, YY) "
                     "nor circular (RR, RL, LR, LL)")


@dataclass
class Solset:
    """A solution set: antennas, directions and soltabs."""

    name: str
    antenna_names: list[str]
    antenna_positions_m: np.ndarray
    directions: dict[str, tuple[float, float]] = field(default_factory=dict)
    soltabs: dict[str, Soltab] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.antenna_names = [str(a) for a in self.antenna_names]
        self.antenna_positions_m = np.asarray(self.antenna_positions_m, dtype=float).reshape(-1, 3)
        if len(self.antenna_names) != len(self.antenna_positions_m):
            raise InputError(f"solset {self.name}: {len(self.antenna_names)} antenna names but "
                             f"{len(self.antenna_positions_m)} positions")
        self.directions = {direction_name(k): (wrap_ra(v[0]), float(v[1]))
                           for k, v in self.directions.items()}

    def antenna_position(self, name: str) -> np.ndarray:
        return self.antenna_positions_m[self.antenna_names.index(name)]


# --------------------------------------------------------------------------- reading


def _open(path: Path):
    import h5py

    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"h5parm {path} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path} is not a readable h5parm (HDF5): {exc}") from None


def solset_names(path: Path) -> list[str]:
    """Names of the solsets in a file."""
    with _open(path) as f:
        return [k for k in f if _is_group(f[k])]


def _is_group(obj) -> bool:
    import h5py

    return isinstance(obj, h5py.Group)


def _pick_solset(f, path: Path, solset: str | None) -> str:
    names = [k for k in f if _is_group(f[k])]
    if not names:
        raise InputError(f"{path} contains no solset")
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


def _soltab_info(grp, path: Path, name: str) -> SoltabInfo:
    where = f"{path}: soltab {grp.name.lstrip('/')}"
    if "TITLE" not in grp.attrs:
        raise InputError(f"{where} has no type (TITLE attribute)")
    soltype = _text(grp.attrs["TITLE"])
    if soltype not in KNOWN_TYPES:
        raise InputError(f"{where} has unknown type {soltype!r}; supported: {', '.join(KNOWN_TYPES)}")
    for key in ("val", "weight"):
        if key not in grp:
            raise InputError(f"{where} has no {key!r} dataset")
    if "AXES" not in grp["val"].attrs:
        raise InputError(f"{where}: 'val' has no AXES attribute")
    names = _text(grp["val"].attrs["AXES"]).split(",")
    unknown = [a for a in names if a not in KNOWN_AXES]
    if unknown:
        raise InputError(f"{where} has unknown axes {unknown}; allowed {', '.join(KNOWN_AXES)}")
    axes = {}
    for a in names:
        if a not in grp:
            raise InputError(f"{where} lists axis {a!r} but has no {a!r} dataset")
        values = grp[a][()]
        axes[a] = values.astype(str) if values.dtype.kind in "SUO" else np.asarray(values, dtype=float)
    shape = tuple(len(v) for v in axes.values())
    if grp["val"].shape != shape or grp["weight"].shape != shape:
        raise InputError(f"{where}: values {grp['val'].shape} / weights {grp['weight'].shape} do not match "
                         f"its axes {shape}")
    if "dir" in axes:
        axes["dir"] = np.array([direction_name(d) for d in axes["dir"]])
    if "pol" in axes:
        pol_basis(axes["pol"], where)
    return SoltabInfo(name=name, soltype=soltype, axes=axes, shape=shape)


def _soltab_names(ss) -> list[str]:
    return [k for k in ss if _is_group(ss[k])]


def read_h5parm(path: Path, solset: str | None = None, soltabs: Sequence[str] | None = None) -> Solset:
    """Read a solset (default: the first) with all or the named soltabs.

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Not an HDF5 file, truncated, no solset, unknown soltab types or axes,
        shapes that do not match the axes.
    """
    path = Path(path)
    with _open(path) as f:
        name = _pick_solset(f, path, solset)
        ss = f[name]
        ant_names, ant_pos = _read_antennas(ss, path)
        directions = _read_sources(ss)
        available = _soltab_names(ss)
        wanted = available if soltabs is None else list(soltabs)
        missing = [s for s in wanted if s not in available]
        if missing:
            raise InputError(f"{path}: no soltab {missing[0]!r} in {name} (has {', '.join(available) or 'none'})")
        tabs = {}
        for tab_name in wanted:
            grp = ss[tab_name]
            info = _soltab_info(grp, path, tab_name)
            try:
                val = grp["val"][()]
                weight = grp["weight"][()]
            except OSError as exc:
                raise InputError(f"{path}: cannot read soltab {tab_name} (truncated file?): {exc}") from None
            tabs[tab_name] = Soltab(tab_name, info.soltype, info.axes, val, weight,
                                    {k: _text(v) for k, v in grp.attrs.items() if k not in ("TITLE",)})
        attrs = {k: _text(v) for k, v in ss.attrs.items()}
    return Solset(name=name, antenna_names=ant_names, antenna_positions_m=ant_pos, directions=directions,
                  soltabs=tabs, attrs=attrs)


def read_soltab(path: Path, name: str, solset: str = "sol000") -> Soltab:
    """Read one soltab."""
    return read_h5parm(path, solset, [name]).soltabs[name]


def _read_antennas(ss, path: Path) -> tuple[list[str], np.ndarray]:
    if "antenna" not in ss:
        raise InputError(f"{path}: solset {ss.name.lstrip('/')} has no antenna table")
    table = ss["antenna"][()]
    try:
        names = [_text(n) for n in table["name"]]
        positions = np.asarray(table["position"], dtype=float).reshape(-1, 3)
    except (ValueError, KeyError) as exc:
        raise InputError(f"{path}: malformed antenna table: {exc}") from None
    return names, positions


def _read_sources(ss) -> dict[str, tuple[float, float]]:
    if "source" not in ss:
        return {}
    table = ss["source"][()]
    return {direction_name(_text(row["name"])): (float(row["dir"][0]), float(row["dir"][1])) for row in table}


class StreamingReader:
    """An open h5parm for reading soltabs in blocks (large files, merging).

    Use as a context manager; ``info(name)`` describes a soltab and
    ``read(name, axis, start, stop)`` returns values and weights of a block along
    one axis, in the file's axis order.
    """

    def __init__(self, path: Path, solset: str | None = None) -> None:
        self.path = Path(path)
        self._file = _open(self.path)
        try:
            self.solset = _pick_solset(self._file, self.path, solset)
            ss = self._file[self.solset]
            self.antenna_names, self.antenna_positions_m = _read_antennas(ss, self.path)
            self.directions = _read_sources(ss)
            self.soltab_names = _soltab_names(ss)
            self._infos = {n: _soltab_info(ss[n], self.path, n) for n in self.soltab_names}
        except BaseException:
            self._file.close()
            raise

    def info(self, name: str) -> SoltabInfo:
        return self._infos[name]

    def read(self, name: str, axis: str | None = None, start: int = 0, stop: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Values and weights of a block ``start:stop`` along ``axis`` (all when ``axis`` is None)."""
        grp = self._file[self.solset][name]
        info = self._infos[name]
        index: tuple = ()
        if axis is not None and axis in info.axes:
            pos = list(info.axes).index(axis)
            index = (slice(None),) * pos + (slice(start, stop),)
        try:
            return grp["val"][index], grp["weight"][index]
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read soltab {name} (truncated file?): {exc}") from None

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StreamingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- writing


def _string_array(values: Sequence[str], width: int | None = None) -> np.ndarray:
    values = [str(v) for v in values]
    width = width or max([len(v.encode()) for v in values] + [1])
    return np.array([v.encode() for v in values], dtype=f"S{width}")


def _nullterm_type(size: int):
    """A fixed-length, null-terminated string type: what DP3 writes and what its reader expects."""
    import h5py

    tid = h5py.h5t.C_S1.copy()
    tid.set_size(size)
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    return tid


def _create_dataset(group, name: str, data: np.ndarray) -> None:
    """Create a dataset whose strings (also inside compounds) are null-terminated, like DP3's."""
    import h5py

    def file_type(dtype: np.dtype):
        if dtype.kind == "S":
            return _nullterm_type(dtype.itemsize)
        if dtype.names:
            ct = h5py.h5t.create(h5py.h5t.COMPOUND, dtype.itemsize)
            for fname in dtype.names:
                sub, offset = dtype.fields[fname][:2]
                ct.insert(fname.encode(), offset, file_type(sub))
            return ct
        if dtype.subdtype is not None:
            base, shape = dtype.subdtype
            return h5py.h5t.array_create(file_type(base), shape)
        return h5py.h5t.py_create(dtype)

    data = np.ascontiguousarray(data)
    space = h5py.h5s.create_simple(data.shape) if data.shape else h5py.h5s.create(h5py.h5s.SCALAR)
    ftype = file_type(data.dtype)
    dsid = h5py.h5d.create(group.id, name.encode(), ftype, space)
    if data.size:
        # Write the bytes as they are (no padding conversion, which would cut the last character).
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data, mtype=ftype)


def _attr(value) -> np.bytes_:
    return np.bytes_((value if isinstance(value, str) else json.dumps(value, default=str)).encode())


class H5parmWriter:
    """Write a new h5parm (one solset) in DP3's layout; soltabs can be filled in blocks.

    The file must not exist; callers wanting atomic products write to a temporary
    name (``lofar_hires.io.atomic.atomic_output``).
    """

    def __init__(self, path: Path, solset: str, antenna_names: Sequence[str], antenna_positions_m: np.ndarray,
                 directions: Mapping[str, tuple[float, float]] | None = None,
                 attrs: Mapping[str, object] | None = None) -> None:
        import h5py

        self.path = Path(path)
        if self.path.exists():
            raise InputError(f"h5parm {self.path} already exists")
        self._file = h5py.File(self.path, "w")
        ss = self._file.create_group(solset)
        self._ss = ss
        ss.attrs["h5parm_version"] = H5PARM_VERSION
        for key, value in (attrs or {}).items():
            ss.attrs[key] = _attr(value)
        ant = np.zeros(len(antenna_names), dtype=[("name", "S16"), ("position", "<f4", (3,))])
        ant["name"] = [str(n).encode() for n in antenna_names]
        ant["position"] = np.asarray(antenna_positions_m, dtype=float).reshape(-1, 3)
        _create_dataset(ss, "antenna", ant)
        directions = directions or {}
        src = np.zeros(len(directions), dtype=[("name", "S128"), ("dir", "<f8", (2,))])
        if directions:
            src["name"] = [direction_name(n).encode() for n in directions]
            src["dir"] = [(wrap_ra(ra), dec) for ra, dec in directions.values()]
        _create_dataset(ss, "source", src)

    def create_soltab(self, name: str, soltype: str, axes: Mapping[str, np.ndarray],
                      attrs: Mapping[str, object] | None = None) -> None:
        """Create an empty soltab (values 0, weights 1) to be filled with :meth:`write_block`."""
        if soltype not in KNOWN_TYPES:
            raise InputError(f"soltab {name}: unknown type {soltype!r}")
        grp = self._ss.create_group(name)
        grp.attrs["TITLE"] = np.bytes_(soltype.encode())
        grp.attrs["h5parm_version"] = H5PARM_VERSION
        for key, value in (attrs or {}).items():
            grp.attrs[key] = _attr(value)
        for axis, values in axes.items():
            if axis not in KNOWN_AXES:
                raise InputError(f"soltab {name}: unknown axis {axis!r}")
            values = np.asarray(values)
            if axis == "dir":
                _create_dataset(grp, axis, _string_array([direction_name(v) for v in values], 128))
            elif values.dtype.kind in "SUO":
                _create_dataset(grp, axis, _string_array(values.astype(str)))
            else:
                grp.create_dataset(axis, data=values.astype(float))
        shape = tuple(len(v) for v in axes.values())
        order = np.bytes_(",".join(axes).encode())
        val = grp.create_dataset("val", shape=shape, dtype="f8")
        weight = grp.create_dataset("weight", shape=shape, dtype="f4", fillvalue=1.0)
        val.attrs["AXES"] = order
        weight.attrs["AXES"] = order

    def write_block(self, name: str, val: np.ndarray, weight: np.ndarray, axis: str | None = None,
                    start: int = 0) -> None:
        """Write values and weights of a soltab (a block along ``axis`` starting at ``start``)."""
        grp = self._ss[name]
        if axis is None:
            grp["val"][...] = val
            grp["weight"][...] = weight
            return
        order = _text(grp["val"].attrs["AXES"]).split(",")
        pos = order.index(axis)
        index = (slice(None),) * pos + (slice(start, start + val.shape[pos]),)
        grp["val"][index] = val
        grp["weight"][index] = weight

    def set_solset_attrs(self, attrs: Mapping[str, object]) -> None:
        """Set solset attributes (strings, or JSON for other values)."""
        for key, value in attrs.items():
            self._ss.attrs[key] = _attr(value)

    def write_soltab(self, tab: Soltab) -> None:
        """Write a complete soltab."""
        self.create_soltab(tab.name, tab.soltype, tab.axes, tab.attrs)
        self.write_block(tab.name, tab.val, tab.weight)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> H5parmWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_solset(path: Path, solset: Solset) -> Path:
    """Write a :class:`Solset` to a new file."""
    with H5parmWriter(path, solset.name, solset.antenna_names, solset.antenna_positions_m,
                      solset.directions, solset.attrs) as writer:
        for tab in solset.soltabs.values():
            writer.write_soltab(tab)
    return Path(path)


def write_h5parm(
    path: Path,
    soltabs: Sequence[Soltab],
    antenna_names: Sequence[str],
    antenna_positions_m: np.ndarray,
    directions: Mapping[str, tuple[float, float]] | None = None,
    *,
    solset: str = "sol000",
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write a new h5parm with one solset from soltabs, antennas and directions."""
    ss = Solset(name=solset, antenna_names=list(antenna_names), antenna_positions_m=antenna_positions_m,
                directions=dict(directions or {}), soltabs={t.name: t for t in soltabs},
                attrs={k: (v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in (attrs or {}).items()})
    return write_solset(path, ss)


def iter_blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in blocks of ``block``."""
    for start in range(0, n, max(1, block)):
        yield start, min(n, start + max(1, block))
