"""h5parms that are broken in one way each: valid HDF5 with a wrong structure, or not HDF5 at all.

:func:`broken_h5parms` writes one file per entry of :data:`DAMAGES` next to a good one
(``good.h5``, from ``conftest.example_solset``: sol000 with phase000 and amplitude000 on
axes time, freq, ant, dir, pol). Each damage is what a user has met or could meet: a file
written by another program, cut short by a full disk, edited by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from conftest import example_solset
from lofar_hires.io.h5parm import write_solset

TAB = "sol000/phase000"


def _replace(group, name: str, data) -> None:
    attrs = dict(group[name].attrs) if name in group else {}
    del group[name]
    group.create_dataset(name, data=data)
    for key, value in attrs.items():
        group[name].attrs[key] = value


def _table(f, name: str, dtype, rows) -> None:
    del f[f"sol000/{name}"]
    f["sol000"].create_dataset(name, data=np.array(rows, dtype=dtype))


def _no_solset(f) -> None:
    for key in list(f):
        del f[key]
    f.attrs["note"] = b"an HDF5 file without any group"


def _antenna_fields(f) -> None:
    _table(f, "antenna", [("station", "S16"), ("xyz", "<f4", (3,))], [(b"CS001HBA0", (0, 0, 0))])


def _antenna_position_shape(f) -> None:
    names = [n for n in f["sol000/antenna"]["name"]]
    _table(f, "antenna", [("name", "S16"), ("position", "<f4", (2,))], [(n, (0, 0)) for n in names])


def _source_fields(f) -> None:
    _table(f, "source", [("name", "S128"), ("ra", "<f8")], [(b"[dir0]", 1.0), (b"[dir1]", 1.1)])


def _val_shape(f) -> None:
    shape = f[f"{TAB}/val"].shape
    _replace(f[TAB], "val", np.zeros(shape[:-1] + (shape[-1] + 1,)))


def _val_strings(f) -> None:
    shape = f[f"{TAB}/val"].shape
    _replace(f[TAB], "val", np.full(shape, b"0.0", dtype="S3"))


def _unknown_station(f) -> None:
    ants = f[f"{TAB}/ant"][()]
    ants[-1] = b"XX999HBA"
    _replace(f[TAB], "ant", ants)


def _unknown_direction(f) -> None:
    _replace(f[TAB], "dir", np.array([b"[dir0]", b"[elsewhere]"]))


def _empty_axis(f) -> None:
    axes = f[f"{TAB}/val"].attrs["AXES"]
    shape = list(f[f"{TAB}/val"].shape)
    shape[0] = 0
    _replace(f[TAB], "time", np.zeros(0))
    for name in ("val", "weight"):
        del f[TAB][name]
        f[TAB].create_dataset(name, shape=tuple(shape), dtype="f8")
        f[TAB][name].attrs["AXES"] = axes


def _axis_is_a_group(f) -> None:
    del f[f"{TAB}/freq"]
    f[TAB].create_group("freq")


def _external_values(f) -> None:
    """Values kept in an external file that is gone: the structure is right, reading the values fails."""
    val = f[f"{TAB}/val"]
    shape, axes = val.shape, val.attrs["AXES"]
    del f[TAB]["val"]
    size = int(np.prod(shape)) * 8
    f[TAB].create_dataset("val", shape=shape, dtype="f8", external=[("/nonexistent-h5parm-data/val.bin", 0, size)])
    f[f"{TAB}/val"].attrs["AXES"] = axes


def _control_character(f) -> None:
    ants = f[f"{TAB}/ant"][()].astype("S16")
    ants[0] = b"CS001\nHBA0"
    _replace(f[TAB], "ant", ants)


#: Damage name -> (what it does to an open h5py.File, or None for the byte-level ones; words the error must hold).
DAMAGES: dict[str, tuple[Callable | None, str]] = {
    "no-solset": (_no_solset, "contains no solset"),
    "no-antenna-table": (lambda f: f["sol000"].__delitem__("antenna"), "solset sol000 has no antenna table"),
    "antenna-fields": (_antenna_fields, "the antenna table has no field 'name'"),
    "antenna-position-shape": (_antenna_position_shape, "field 'position' of the antenna table"),
    "source-fields": (_source_fields, "the source table has no field 'dir'"),
    "no-source-table": (lambda f: f["sol000"].__delitem__("source"),
                        "soltab amplitude000 has a direction axis but the solset has no source table"),
    "no-title": (lambda f: f[TAB].attrs.__delitem__("TITLE"), "soltab phase000 has no type (TITLE"),
    "unknown-type": (lambda f: f[TAB].attrs.__setitem__("TITLE", b"gainz"), "unknown type 'gainz'"),
    "no-val": (lambda f: f[TAB].__delitem__("val"), "soltab phase000 has no 'val' dataset"),
    "no-weight": (lambda f: f[TAB].__delitem__("weight"), "soltab phase000 has no 'weight' dataset"),
    "no-axes": (lambda f: f[f"{TAB}/val"].attrs.__delitem__("AXES"), "'val' has no AXES attribute"),
    "unknown-axis": (lambda f: f[f"{TAB}/val"].attrs.__setitem__("AXES", b"time,freq,ant,direction,pol"),
                     "unknown axes ['direction']"),
    "axis-without-dataset": (lambda f: f[TAB].__delitem__("freq"), "lists axis 'freq' but has no 'freq' dataset"),
    "axis-is-a-group": (_axis_is_a_group, "axis 'freq' is not a one-dimensional dataset"),
    "shape-mismatch": (_val_shape, "do not match its axes"),
    "val-strings": (_val_strings, "'val' holds |S3 values, expected numbers"),
    "unknown-station": (_unknown_station, "stations XX999HBA are not in the antenna table"),
    "unknown-direction": (_unknown_direction, "directions [elsewhere] are not in the source table"),
    "empty-axis": (_empty_axis, "axis 'time' is empty (length 0)"),
    "control-character": (_control_character, "holds control characters"),
    "values-unreadable": (_external_values, "soltab phase000 cannot be read (corrupt or truncated file?)"),
    "truncated": (None, "not a readable h5parm"),
    "not-hdf5": (None, "not a readable h5parm"),
    "empty-file": (None, "is empty (0 bytes)"),
}


def good_h5parm(folder: Path) -> Path:
    """The undamaged file the broken ones are made from."""
    path = folder / "good.h5"
    if not path.exists():
        write_solset(path, example_solset(pols=("XX", "YY")))
    return path


def broken_h5parm(folder: Path, damage: str) -> Path:
    """``folder/<damage>.h5``: the good file with one damage of :data:`DAMAGES`."""
    import h5py

    good = good_h5parm(folder)
    path = folder / f"{damage}.h5"
    action = DAMAGES[damage][0]
    if damage == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "not-hdf5":
        path.write_text("station,phase\nCS001HBA0,0.1\n")
    elif damage == "empty-file":
        path.write_bytes(b"")
    else:
        path.write_bytes(good.read_bytes())
        with h5py.File(path, "a") as f:
            action(f)
    return path


def broken_h5parms(folder: Path) -> dict[str, Path]:
    """Every damage of :data:`DAMAGES` as a file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {damage: broken_h5parm(folder, damage) for damage in DAMAGES}
