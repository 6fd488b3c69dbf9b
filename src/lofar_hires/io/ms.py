"""Measurement-set metadata access and validation (python-casacore, read only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

#: Columns every MS handed to lofar-hires must have.
REQUIRED_COLUMNS = ("UVW", "TIME", "ANTENNA1", "ANTENNA2", "FLAG")
#: Rows of FLAG read at a time when looking for unflagged data.
FLAG_CHUNK_ROWS = 20000
#: Rows of the TIME column read at a time (8 MB): an 8-hour observation holds tens of millions of rows.
TIME_CHUNK_ROWS = 1 << 20


def require_ms(path: Path, columns: tuple[str, ...] = (), *, unflagged: bool = True) -> Path:
    """Check that ``path`` is a readable measurement set with rows (and ``columns``); return it.

    Parameters
    ----------
    path
        The measurement set.
    columns
        Columns it must have besides :data:`REQUIRED_COLUMNS`.
    unflagged
        Also refuse an MS whose data are all flagged (FLAG is read in chunks until the
        first unflagged value, so a normal MS costs one chunk).

    Raises
    ------
    MissingInputError
        It does not exist.
    InputError
        Not a measurement set, unreadable, a missing column, no rows, or all data flagged.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"measurement set {path} does not exist")
    if not (path / "table.dat").is_file() or not (path / "SPECTRAL_WINDOW").is_dir():
        raise InputError(f"{path} is not a measurement set (no table.dat / SPECTRAL_WINDOW)")
    from casacore.tables import table

    try:
        t = table(str(path), ack=False)
    except RuntimeError as exc:
        raise InputError(f"measurement set {path} cannot be opened: {str(exc).splitlines()[0]}") from None
    with t:
        missing = [c for c in (*REQUIRED_COLUMNS, *columns) if c not in t.colnames()]
        if missing:
            raise InputError(f"measurement set {path} lacks column(s) {', '.join(missing)}")
        n_rows = t.nrows()
        if n_rows == 0:
            raise InputError(f"measurement set {path} has no rows (no data to work on)")
        if unflagged and not _has_unflagged(t, n_rows):
            raise InputError(f"measurement set {path}: all data are flagged (nothing to work on)")
    return path


def _has_unflagged(t, n_rows: int) -> bool:
    """Whether any value of FLAG is False (chunked; stops at the first chunk that has one)."""
    for start in range(0, n_rows, FLAG_CHUNK_ROWS):
        nrow = min(FLAG_CHUNK_ROWS, n_rows - start)
        try:
            flags = t.getcol("FLAG", startrow=start, nrow=nrow)
        except RuntimeError as exc:
            raise InputError(f"cannot read FLAG of {t.name()}: {str(exc).splitlines()[0]}") from None
        if not np.all(flags):
            return True
    return False


def read_antennas(path: Path) -> tuple[list[str], np.ndarray]:
    """Station names and ITRF positions (metres, shape ``(n, 3)``) of an MS's ANTENNA table."""
    from casacore.tables import table

    path = require_ms(path, unflagged=False)
    with table(str(path / "ANTENNA"), ack=False) as t:
        return [str(n) for n in t.getcol("NAME")], np.asarray(t.getcol("POSITION"), dtype=float).reshape(-1, 3)


@dataclass(frozen=True)
class MsInfo:
    """The metadata of an MS that steps need."""

    path: Path
    station_names: tuple[str, ...]
    station_positions_m: np.ndarray
    freqs_hz: np.ndarray
    chan_width_hz: float
    times_mjd_s: np.ndarray
    integration_s: float
    phase_centre_rad: tuple[float, float]
    n_rows: int
    columns: tuple[str, ...]


def unique_times(t, n_rows: int) -> np.ndarray:
    """The distinct values of an open table's TIME column, sorted, read in chunks of ``TIME_CHUNK_ROWS`` rows."""
    times = np.zeros(0)
    for start in range(0, n_rows, TIME_CHUNK_ROWS):
        chunk = t.getcol("TIME", startrow=start, nrow=min(TIME_CHUNK_ROWS, n_rows - start))
        times = np.union1d(times, chunk)
    return times


def read_ms_info(path: Path) -> MsInfo:
    """Read stations, frequencies, time slots and phase centre of an MS."""
    from casacore.tables import table

    path = require_ms(path, unflagged=False)
    with table(str(path), ack=False) as t:
        columns = tuple(t.colnames())
        n_rows = t.nrows()
        times = unique_times(t, n_rows)
        interval = float(t.getcell("INTERVAL", 0)) if n_rows else 0.0
    with table(str(path / "ANTENNA"), ack=False) as t:
        names = tuple(t.getcol("NAME"))
        positions = t.getcol("POSITION")
    with table(str(path / "SPECTRAL_WINDOW"), ack=False) as t:
        if t.nrows() != 1:
            raise InputError(f"{path} has {t.nrows()} spectral windows; lofar-hires expects one per MS")
        freqs = t.getcol("CHAN_FREQ")[0]
        width = float(t.getcol("CHAN_WIDTH")[0][0])
    with table(str(path / "FIELD"), ack=False) as t:
        direction = t.getcol("PHASE_DIR")[0, 0]
    return MsInfo(
        path=path, station_names=names, station_positions_m=positions, freqs_hz=freqs,
        chan_width_hz=width, times_mjd_s=times, integration_s=interval,
        phase_centre_rad=(float(np.mod(direction[0], 2 * np.pi)), float(direction[1])),
        n_rows=n_rows, columns=columns,
    )


@dataclass(frozen=True)
class AppliedBeam:
    """The station beam DP3's applybeam already removed from a data column: its mode (``None`` when none) and the
    direction it was evaluated towards (RA, Dec in degrees)."""

    mode: str | None
    direction_deg: tuple[float, float] | None


def applied_beam(path: Path, column: str = "DATA") -> AppliedBeam:
    """What the ``LOFAR_APPLIED_BEAM_MODE``/``LOFAR_APPLIED_BEAM_DIR`` keywords of ``column`` say (DP3 writes them
    when applybeam corrects the data; absent or ``None``: the data carry the full beam)."""
    import math

    from casacore.tables import table

    with table(str(path), ack=False) as t:
        keywords = t.getcolkeywords(column) if column in t.colnames() else {}
    mode = keywords.get("LOFAR_APPLIED_BEAM_MODE")
    if not mode or str(mode) == "None":
        return AppliedBeam(None, None)
    direction = keywords.get("LOFAR_APPLIED_BEAM_DIR")
    if not isinstance(direction, dict) or "m0" not in direction or "m1" not in direction:
        return AppliedBeam(str(mode), None)
    ra = math.degrees(float(direction["m0"]["value"])) % 360.0
    dec = math.degrees(float(direction["m1"]["value"]))
    return AppliedBeam(str(mode), (ra, dec))
