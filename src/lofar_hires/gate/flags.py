"""The fraction of flagged visibilities of a measurement set, with FLAG streamed in chunks of rows.

A visibility (one row and channel) counts as flagged when any of its correlations is flagged,
as DP3 and the phasediff score treat it, or when its row is flagged (``FLAG_ROW``, where the MS
has that column). The MS is opened through :func:`lofar_hires.io.ms.require_ms` (a zero-row or
all-flagged MS is refused as bad input); at most ``chunk_rows`` rows of FLAG are in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.ms import FLAG_CHUNK_ROWS, require_ms


@dataclass(frozen=True)
class FlagCount:
    """Flagged and all visibilities (rows x channels) of a measurement set."""

    n_flagged: int
    n_visibilities: int

    @property
    def fraction(self) -> float:
        """The flagged fraction (0 for an MS without visibilities)."""
        return self.n_flagged / self.n_visibilities if self.n_visibilities else 0.0


def flagged_visibilities(flag: np.ndarray, flag_row: np.ndarray | None = None) -> int:
    """Number of flagged visibilities of a block of FLAG (rows, channels, correlations).

    Parameters
    ----------
    flag
        FLAG values of some rows, shape (rows, channels, correlations).
    flag_row
        FLAG_ROW of the same rows (shape (rows,)), or ``None``.

    Returns
    -------
    int
        Rows x channels with any correlation (or the row) flagged.
    """
    flag = np.asarray(flag, dtype=bool)
    if flag.ndim != 3:
        raise InputError(f"FLAG values must have axes (row, channel, correlation), got shape {flag.shape}")
    per_visibility = np.any(flag, axis=2)
    if flag_row is not None:
        per_visibility |= np.asarray(flag_row, dtype=bool)[:, None]
    return int(np.count_nonzero(per_visibility))


def count_flags(ms: Path, chunk_rows: int = FLAG_CHUNK_ROWS) -> FlagCount:
    """Count the flagged visibilities of ``ms``, reading FLAG (and FLAG_ROW) ``chunk_rows`` rows at a time.

    Raises
    ------
    InputError
        Not a measurement set, no rows, all data flagged, or FLAG cannot be read.
    """
    from casacore.tables import table

    ms = require_ms(Path(ms))
    n_flagged = n_vis = 0
    with table(str(ms), ack=False) as t:
        n_rows = t.nrows()
        has_flag_row = "FLAG_ROW" in t.colnames()
        for start in range(0, n_rows, max(1, int(chunk_rows))):
            nrow = min(chunk_rows, n_rows - start)
            try:
                flag = t.getcol("FLAG", startrow=start, nrow=nrow)
                flag_row = t.getcol("FLAG_ROW", startrow=start, nrow=nrow) if has_flag_row else None
            except RuntimeError as exc:
                raise InputError(f"cannot read FLAG of {ms}: {str(exc).splitlines()[0]}") from None
            n_flagged += flagged_visibilities(flag, flag_row)
            n_vis += flag.shape[0] * flag.shape[1]
    return FlagCount(n_flagged, n_vis)
