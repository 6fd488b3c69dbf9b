"""Measurement-set metadata access and validation (python-casacore, read only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

#: Columns every MS handed to lofar-hires must have.
REQUIRED_COLUMNS = ("UVW", "TIME", "ANTENNA1", "ANTENNA2", "FLAG")


def require_ms(path: Path, columns: tuple[str, ...] = ()) -> Path:
    """Check that ``path`` is a measurement set (with ``columns``); return it."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"measurement set {path} does not exist")
    if not (path / "table.dat").is_file() or not (path / "SPECTRAL_WINDOW").is_dir():
        raise InputError(f"{path} is not a measurement set (no table.dat / SPECTRAL_WINDOW)")
    if columns:
        from casacore.tables import table

        with table(str(path), ack=False) as t:
            missing = [c for c in (*REQUIRED_COLUMNS, *columns) if c not in t.colnames()]
        if missing:
            raise InputError(f"measurement set {path} lacks column(s) {', '.join(missing)}")
    return path


def read_antennas(path: Path) -> tuple[list[str], np.ndarray]:
    """Station names and ITRF positions (metres, shape ``(n, 3)``) of an MS's ANTENNA table."""
    from casacore.tables import table

    path = require_ms(path)
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


def read_ms_info(path: Path) -> MsInfo:
    """Read stations, frequencies, time slots and phase centre of an MS."""
    from casacore.tables import table

    path = require_ms(path)
    with table(str(path), ack=False) as t:
        columns = tuple(t.colnames())
        n_rows = t.nrows()
        times = np.unique(t.getcol("TIME")) if n_rows else np.zeros(0)
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
