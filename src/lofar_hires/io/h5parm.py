"""Minimal h5parm writing and reading in the standard LoSoTo layout.

A file holds solsets (``sol000``) with ``antenna`` and ``source`` tables and
soltabs (``phase000``, ``tec000``, ...). Each soltab has one array per axis
(``time``, ``freq``, ``ant``, ``dir``, ``pol``), a ``val`` array whose ``AXES``
attribute lists the axis order, and a ``weight`` array (0 = flagged). The
soltab type (``phase``, ``amplitude``, ``tec``, ``clock``, ``rotationmeasure``,
``rotation``) is the group title, which is what DP3 and LoSoTo read.

Direction names are written as ``[name]`` and RA is wrapped into [0, 2 pi):
WSClean 3.1 assigns the wrong facet solutions when RA is negative.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

log = logging.getLogger(__name__)

#: Axis names allowed in a soltab.
KNOWN_AXES = ("time", "freq", "ant", "dir", "pol")
#: Soltab types that DP3's applycal understands.
KNOWN_TYPES = ("phase", "amplitude", "tec", "clock", "rotationmeasure", "rotation", "scalarphase",
               "scalaramplitude")


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
        shape = tuple(len(v) for v in self.axes.values())
        if self.val.shape != shape:
            raise InputError(f"soltab {self.name}: values have shape {self.val.shape}, axes give {shape}")
        if self.weight is None:
            self.weight = np.ones(shape)
        elif self.weight.shape != shape:
            raise InputError(f"soltab {self.name}: weights have shape {self.weight.shape}, axes give {shape}")


def direction_name(name: str) -> str:
    """The bracketed direction name DP3 uses (``[name]``)."""
    return name if name.startswith("[") and name.endswith("]") else f"[{name}]"


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
    """Write a new h5parm with one solset (the file must not exist).

    Parameters
    ----------
    path
        Output file.
    soltabs
        Solution tables; ``dir`` axis values are bracketed automatically.
    antenna_names, antenna_positions_m
        The antenna table.
    directions
        ``name -> (ra_rad, dec_rad)`` for the source table.
    solset
        Solset name.
    attrs
        Extra solset attributes (e.g. provenance); non-strings are JSON-encoded.
    """
    import tables

    path = Path(path)
    if path.exists():
        raise InputError(f"h5parm {path} already exists")
    logging.getLogger("LoSoTo").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # PyTables warns about LoSoTo's unicode table columns and its own keyword names.
        warnings.simplefilter("ignore", tables.FlavorWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        _write(path, soltabs, antenna_names, antenna_positions_m, directions, solset, attrs)
    return path


def _write(path, soltabs, antenna_names, antenna_positions_m, directions, solset, attrs) -> None:
    from losoto.h5parm import h5parm as H5parm

    h5 = H5parm(str(path), readonly=False)
    try:
        ss = h5.makeSolset(solset)
        ant_rows = [(n, np.asarray(p, dtype=np.float32)) for n, p in zip(antenna_names, antenna_positions_m)]
        ss.obj.antenna.append(ant_rows)
        if directions:
            src_rows = [
                (direction_name(n), np.array([np.mod(ra, 2 * np.pi), dec], dtype=np.float32))
                for n, (ra, dec) in directions.items()
            ]
            ss.obj.source.append(src_rows)
        for st in soltabs:
            axes = dict(st.axes)
            if "dir" in axes:
                axes["dir"] = np.array([direction_name(str(d)) for d in axes["dir"]])
            # String axes as bytes: PyTables stores numpy unicode poorly.
            axes = {k: (np.char.encode(v.astype(str), "ascii") if np.asarray(v).dtype.kind in "US" else v)
                    for k, v in axes.items()}
            tab = ss.makeSoltab(
                st.soltype, st.name, axesNames=list(axes), axesVals=list(axes.values()),
                vals=np.asarray(st.val, dtype=np.float64), weights=np.asarray(st.weight, dtype=np.float64),
            )
            for key, value in st.attrs.items():
                tab.obj._v_attrs[key] = value
        for key, value in (attrs or {}).items():
            ss.obj._v_attrs[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    finally:
        h5.close()


def read_soltab(path: Path, name: str, solset: str = "sol000") -> Soltab:
    """Read one soltab (values, weights and axes) with h5py."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"h5parm {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            if solset not in f:
                raise InputError(f"{path}: no solset {solset!r} (has {list(f)})")
            if name not in f[solset]:
                raise InputError(f"{path}: no soltab {name!r} in {solset} (has {list(f[solset])})")
            grp = f[solset][name]
            axes_attr = grp["val"].attrs["AXES"]
            axes_names = (axes_attr.decode() if isinstance(axes_attr, bytes) else str(axes_attr)).split(",")
            axes = {}
            for a in axes_names:
                values = grp[a][()]
                if values.dtype.kind == "S":
                    values = values.astype(str)
                axes[a] = values
            title = grp.attrs.get("TITLE", b"")
            soltype = title.decode() if isinstance(title, bytes) else str(title)
            return Soltab(name=name, soltype=soltype, axes=axes, val=grp["val"][()],
                          weight=grp["weight"][()].astype(float))
    except OSError as exc:
        raise InputError(f"{path} is not a readable h5parm: {exc}") from None
