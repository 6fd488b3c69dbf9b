"""Writing h5parms in DP3's exact layout (null-terminated strings), whole or in blocks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm.model import (
    ANTENNA_NAME_BYTES,
    H5PARM_VERSION,
    KNOWN_AXES,
    KNOWN_TYPES,
    SOURCE_NAME_BYTES,
    Solset,
    Soltab,
    _text,
    direction_name,
    wrap_ra,
)

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


def _storable_names(names: Sequence[str], width: int, what: str) -> list[str]:
    """Names that fit a null-terminated field of ``width`` bytes (refused, never cut short)."""
    for n in names:
        size = len(n.encode())
        if not n.strip("[]").strip() or not n.isprintable() or size >= width:
            raise InputError(f"{what} name {n!r} cannot be written to an h5parm: it must be non-empty, without NUL "
                             f"or control characters and shorter than {width} bytes")
    if len(set(names)) != len(names):
        raise InputError(f"{what} names are not unique: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return list(names)


def check_group_name(name: str, what: str) -> None:
    """A solset or soltab name is one HDF5 link name: non-empty, printable, without ``/``, not ``.`` or ``..``."""
    if not name or not name.isprintable() or "/" in name or name in (".", ".."):
        raise InputError(f"{what} name {name!r} cannot be written to an h5parm: use letters, digits and _ "
                         "(e.g. sol000, phase000)")


def _check_new_soltab(name: str, soltype: str, axes: Mapping[str, np.ndarray], antennas: Sequence[str],
                      directions: Sequence[str]) -> None:
    check_group_name(name, "soltab")
    if soltype not in KNOWN_TYPES:
        raise InputError(f"soltab {name}: unknown type {soltype!r}")
    for axis, values in axes.items():
        if axis not in KNOWN_AXES:
            raise InputError(f"soltab {name}: unknown axis {axis!r}")
        if len(values) == 0:
            raise InputError(f"soltab {name}: axis {axis!r} is empty")
    if "ant" in axes:
        unknown = sorted(set(str(a) for a in axes["ant"]) - set(antennas))
        if unknown:
            raise InputError(f"soltab {name}: stations {', '.join(unknown[:5])} are not in the antenna table")
    if "dir" in axes:
        unknown = sorted(set(direction_name(d) for d in axes["dir"]) - set(directions))
        if unknown:
            raise InputError(f"soltab {name}: directions {', '.join(unknown[:5])} are not in the source table")


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
        directions = directions or {}
        check_group_name(solset, "solset")
        self._antennas = _storable_names([str(n) for n in antenna_names], ANTENNA_NAME_BYTES, "antenna")
        self._directions = _storable_names([direction_name(n) for n in directions], SOURCE_NAME_BYTES, "direction")
        positions = np.asarray(antenna_positions_m, dtype=float).reshape(-1, 3)
        if len(positions) != len(self._antennas):
            raise InputError(f"{len(self._antennas)} antenna names but {len(positions)} positions")
        self._file = h5py.File(self.path, "w")
        ss = self._file.create_group(solset)
        self._ss = ss
        ss.attrs["h5parm_version"] = H5PARM_VERSION
        for key, value in (attrs or {}).items():
            ss.attrs[key] = _attr(value)
        ant = np.zeros(len(self._antennas), dtype=[("name", f"S{ANTENNA_NAME_BYTES}"), ("position", "<f4", (3,))])
        ant["name"] = [n.encode() for n in self._antennas]
        ant["position"] = positions
        _create_dataset(ss, "antenna", ant)
        src = np.zeros(len(directions), dtype=[("name", f"S{SOURCE_NAME_BYTES}"), ("dir", "<f8", (2,))])
        if directions:
            src["name"] = [n.encode() for n in self._directions]
            src["dir"] = [(wrap_ra(ra), dec) for ra, dec in directions.values()]
        _create_dataset(ss, "source", src)

    def create_soltab(self, name: str, soltype: str, axes: Mapping[str, np.ndarray],
                      attrs: Mapping[str, object] | None = None) -> None:
        """Create an empty soltab (values 0, weights 1) to be filled with :meth:`write_block`.

        Raises
        ------
        InputError
            Unknown type or axis, an empty axis, stations that are not in the antenna table or
            directions that are not in the source table (the file would be unreadable).
        """
        _check_new_soltab(name, soltype, axes, self._antennas, self._directions)
        grp = self._ss.create_group(name)
        grp.attrs["TITLE"] = np.bytes_(soltype.encode())
        grp.attrs["h5parm_version"] = H5PARM_VERSION
        for key, value in (attrs or {}).items():
            grp.attrs[key] = _attr(value)
        for axis, values in axes.items():
            values = np.asarray(values)
            if axis == "dir":
                _create_dataset(grp, axis, _string_array([direction_name(v) for v in values], SOURCE_NAME_BYTES))
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
