"""Factories of bad inputs for the bad-input battery (``tests/cli/test_bad_input_battery.py``).

Each factory writes one kind of bad input (a missing path, an empty or garbage file, a
truncated or structurally wrong h5parm, a directory that looks like a measurement set,
a measurement set without rows or with every sample flagged, a file whose names would
leave the output directory, ...) and returns its path. They are plain functions so that
other tests can use them too. :func:`tree_snapshot` records a directory tree (sha256 of
every file) so that a test can show that a command changed nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

#: Marker text of files and directories that stand for an earlier product.
EARLIER_PRODUCT = "earlier product\n"

#: A prefix of every hostile name, so that a file made from one can be found in a directory listing.
ESCAPE = "ESC"


# --------------------------------------------------------------------------- snapshots


def tree_snapshot(root: Path, exclude: Iterable[str] = ()) -> dict[str, str]:
    """Every entry below ``root``: relative path -> sha256 of a file, ``dir`` or ``link:<target>``.

    Parameters
    ----------
    root
        Directory to record (its own entry is not included).
    exclude
        Relative paths (and everything below them) to leave out.
    """
    root = Path(root)
    skip = tuple(exclude)
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        if path.is_symlink():
            out[rel] = f"link:{path.readlink()}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            try:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:  # unreadable: record why, so that a change is still seen
                out[rel] = f"unreadable:{exc.strerror}"
    return out


# --------------------------------------------------------------------------- files and directories


def missing_path(folder: Path, name: str) -> Path:
    """A path that does not exist (its directory does)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert not path.exists()
    return path


def empty_file(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"")
    return path


def empty_dir(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir(parents=True)
    return path


def dir_with_file(folder: Path, name: str) -> Path:
    """A directory (holding one small file) where a file is expected."""
    path = folder / name
    path.mkdir(parents=True)
    (path / "inside.txt").write_text("a file inside a directory\n")
    return path


def text_file(folder: Path, name: str, text: str = "this is a text file, not the expected input\n") -> Path:
    """A small text file (a file where a measurement set directory is expected)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def garbage_file(folder: Path, name: str, size_bytes: int = 4096, seed: int = 0) -> Path:
    """Random bytes (seeded), with a NUL byte and no structure of any format."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    data = bytearray(np.random.default_rng(seed).integers(0, 256, size_bytes, dtype=np.uint8).tobytes())
    data[:4] = b"\x00\xffGA"  # neither an HDF5, FITS, YAML nor CSV start
    path.write_bytes(bytes(data))
    return path


def truncated_copy(source: Path, folder: Path, name: str, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of the bytes of ``source`` (an interrupted copy or download)."""
    data = Path(source).read_bytes()
    path = folder / name
    path.write_bytes(data[: max(1, int(len(data) * fraction))])
    return path


def copy_input(source: Path, folder: Path, name: str) -> Path:
    """A copy of a file or directory (measurement set) under a new name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if Path(source).is_dir():
        shutil.copytree(source, path, symlinks=True)
    else:
        shutil.copyfile(source, path)
    return path


def under_a_file(folder: Path, name: str, blocker: str = "afile") -> Path:
    """An output path whose directory is a regular file (ENOTDIR, even for root).

    ``folder/blocker`` is created as a regular file; the returned path is ``folder/blocker/name``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    block = folder / blocker
    if not block.exists():
        block.write_text("a regular file where the output directory should be\n")
    return block / name


def earlier_product(path: Path, kind: str) -> Path:
    """An existing product at ``path``: a file, or a directory holding a file (``kind`` file or dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "dir":
        path.mkdir()
        (path / "earlier.txt").write_text(EARLIER_PRODUCT)
    else:
        path.write_text(EARLIER_PRODUCT)
    return path


# --------------------------------------------------------------------------- measurement sets


def not_a_table(folder: Path, name: str) -> Path:
    """A directory that looks like a measurement set (table.dat, table.info, SPECTRAL_WINDOW/) but is not a
    casacore table."""
    path = folder / name
    (path / "SPECTRAL_WINDOW").mkdir(parents=True)
    garbage_file(path, "table.dat", 512, seed=1)
    (path / "table.info").write_text("Type = Measurement Set\n")
    garbage_file(path / "SPECTRAL_WINDOW", "table.dat", 256, seed=2)
    return path


def zero_row_ms(source: Path, folder: Path, name: str) -> Path:
    """A deep copy of ``source`` without rows (columns, keywords and sub-tables kept).

    Made from an empty selection: tiled storage managers cannot remove rows in place.
    """
    from casacore.tables import table

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with table(str(source), ack=False) as t:
        selection = t.query("FALSE")
        selection.copy(str(path), deep=True).close()
        selection.close()
    return path


def all_flagged_ms(source: Path, folder: Path, name: str) -> Path:
    """A copy of ``source`` with FLAG and FLAG_ROW set everywhere."""
    from casacore.tables import table

    path = copy_input(source, folder, name)
    with table(str(path), readonly=False, ack=False) as t:
        flag = t.getcol("FLAG")
        t.putcol("FLAG", np.ones_like(flag, dtype=bool))
        if "FLAG_ROW" in t.colnames():
            t.putcol("FLAG_ROW", np.ones(t.nrows(), dtype=bool))
    return path


def add_model_column(ms: Path, column: str = "MODEL_DATA") -> Path:
    """Add ``column`` to ``ms`` (in place) as a copy of DATA, like a predict would."""
    from casacore.tables import table

    with table(str(ms), readonly=False, ack=False) as t:
        desc = t.getcoldesc("DATA")
        desc["name"] = column
        t.addcols(desc)
        t.putcol(column, t.getcol("DATA"))
    return ms


# --------------------------------------------------------------------------- h5parms


def wrong_structure_h5parm(source: Path, folder: Path, name: str) -> Path:
    """Valid HDF5, and an h5parm at first sight (solset, soltabs with TITLE), but without the antenna and
    source tables, the weights, and the AXES attribute of one soltab's values."""
    import h5py

    path = copy_input(source, folder, name)
    with h5py.File(path, "a") as f:
        for solset in [k for k in f if isinstance(f[k], h5py.Group)]:
            ss = f[solset]
            for table_name in ("antenna", "source"):
                if table_name in ss:
                    del ss[table_name]
            tabs = [k for k in ss if isinstance(ss[k], h5py.Group)]
            for tab in tabs:
                if "weight" in ss[tab]:
                    del ss[tab]["weight"]
            if tabs and "val" in ss[tabs[0]] and "AXES" in ss[tabs[0]]["val"].attrs:
                del ss[tabs[0]]["val"].attrs["AXES"]
    return path


def hdf5_not_h5parm(folder: Path, name: str) -> Path:
    """A valid HDF5 file with no solset (a plain data file)."""
    import h5py

    path = folder / name
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.arange(10.0))
        f.attrs["what"] = "not an h5parm"
    return path


def all_nan_h5parm(source: Path, folder: Path, name: str) -> Path:
    """A copy of ``source`` whose solution values are all NaN (weights unchanged)."""
    import h5py

    path = copy_input(source, folder, name)
    with h5py.File(path, "a") as f:
        def nan_values(obj_name, obj):
            if isinstance(obj, h5py.Dataset) and obj_name.endswith("/val"):
                obj[...] = np.nan
        f.visititems(nan_values)
    return path


# --------------------------------------------------------------------------- text formats


def bad_yaml(folder: Path, name: str) -> Path:
    """YAML that does not parse (an unclosed flow sequence)."""
    return text_file(folder, name, "threads: [1, 2\nname: {unclosed\n")


def yaml_list(folder: Path, name: str) -> Path:
    """Valid YAML that is a list where a mapping is expected."""
    return text_file(folder, name, "- one\n- two\n")


def yaml_unknown_key(folder: Path, name: str, key: str = "no_such_setting") -> Path:
    """A YAML mapping with a key no schema knows."""
    return text_file(folder, name, f"{key}: 1\n")


def skymodel_without_format(folder: Path, name: str) -> Path:
    """Text that looks like a makesourcedb file but has no FORMAT line and unparsable fields."""
    return text_file(folder, name, "# a sky model\nsrc1, POINT, 16:14:25.4, +55.02.52, one Jy\nsrc2, , , ,\n")


def csv_wrong_columns(folder: Path, name: str) -> Path:
    """A CSV table with a header row but none of the expected columns."""
    return text_file(folder, name, "alpha,beta,gamma\n1,2,3\n4,5,6\n")


def all_nan_fits(source: Path, folder: Path, name: str) -> Path:
    """A copy of the FITS image ``source`` whose pixels are all NaN (header unchanged)."""
    from astropy.io import fits

    path = folder / name
    with fits.open(source) as hdul:
        hdul[0].data = np.full_like(hdul[0].data, np.nan)
        hdul.writeto(path)
    return path


# --------------------------------------------------------------------------- hostile names


def hostile_names(escape_root: Path) -> dict[str, list[str]]:
    """Names that must never become paths as they are, by variant.

    ``escape_root`` is where an absolute name points (a directory the test watches).
    Every variant holds one name, except ``collide`` (two names that become the same
    file name after conversion to a safe name).
    """
    return {
        "dotdot": [f"../{ESCAPE}dotdot"],
        "dotdot-deep": [f"../../../../../{ESCAPE}deep"],
        "absolute": [str(Path(escape_root) / f"{ESCAPE}abs")],
        "slash": [f"{ESCAPE}sub/{ESCAPE}leaf"],
        "empty": [""],
        "long": [f"{ESCAPE}" + "L" * 297],
        "nul": [f"{ESCAPE}nul\x00byte"],
        "collide": [f"{ESCAPE}c/x", f"{ESCAPE}c_x"],
    }


def skymodel_with_names(folder: Path, name: str, names: Sequence[str], ra_deg: float, dec_deg: float) -> Path:
    """A makesourcedb file with one 1 Jy point source (its own patch) per name, near ``ra_deg``/``dec_deg``."""
    from lofar_hires.io.skymodel import format_dec, format_ra

    lines = ["FORMAT = Name, Type, Patch, Ra, Dec, I, ReferenceFrequency='150e6', SpectralIndex='[]'", ""]
    for k, src in enumerate(names):
        ra, dec = format_ra(np.radians(ra_deg + 0.05 * k)), format_dec(np.radians(dec_deg + 0.02 * k))
        lines.append(f", , {src}, {ra}, {dec}")
        lines.append(f"{src}, POINT, {src}, {ra}, {dec}, 1.0, 150000000, [-0.7]")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def calibrator_table_with_names(folder: Path, name: str, names: Sequence[str], ra_deg: float, dec_deg: float,
                                columns: Sequence[str], **extra: str) -> Path:
    """A calibrator table (CSV with ``columns``) with one candidate per name, written as raw CSV (no checks)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for k, src in enumerate(names):
            row = {c: "" for c in columns}
            row.update(name=src, ra_deg=f"{ra_deg + 0.05 * k:.6f}", dec_deg=f"{dec_deg + 0.02 * k:.6f}",
                       peak_flux_jy="1.0", total_flux_jy="1.0", origin="skymodel", category="candidate", **extra)
            writer.writerow(row)
    return path


def yaml_string(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (JSON escapes are YAML escapes, NUL included)."""
    return json.dumps(text)


def one_direction_solset(ms: Path, direction: str):
    """Scalar phase and amplitude solutions of every station of ``ms`` on its own time grid, in one direction."""
    from lofar_hires.io.h5parm import Solset, Soltab
    from lofar_hires.io.ms import read_ms_info

    info = read_ms_info(ms)
    rng = np.random.default_rng(3)
    axes = {"time": info.times_mjd_s, "freq": info.freqs_hz, "ant": np.array(info.station_names),
            "dir": np.array([direction])}
    shape = tuple(len(v) for v in axes.values())
    tabs = {"phase000": Soltab("phase000", "phase", axes, rng.uniform(-0.3, 0.3, shape), np.ones(shape)),
            "amplitude000": Soltab("amplitude000", "amplitude", axes, 1 + 0.05 * rng.standard_normal(shape),
                                   np.ones(shape))}
    return Solset("sol000", list(info.station_names), info.station_positions_m,
                  {direction: (np.radians(242.75), np.radians(55.0))}, tabs)
