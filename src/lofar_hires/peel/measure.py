"""What peeling measures in the data: the noise of one visibility, and the flux at a sky position.

The noise comes from :func:`lofar_hires.peel.plan.visibility_noise_jy` on rows sampled
evenly through the measurement set. The flux at a position is the dirty image's value
there, without imaging.

For a direction (l, m, n) relative to the phase centre, every visibility is rotated to
that direction,

    V'(u, v, w) = V(u, v, w) exp(+2 pi i (u l + v m + w (n - 1)) nu / c),

and the Stokes I value is the weighted mean of Re[(XX + YY) / 2] over unflagged
cross-correlations: a point source of flux S there gives S (its gains permitting), and
what peeling leaves of it gives the residual. It is the natural-weighted dirty image at
that pixel, so other sources add their sidelobes. The data are read in chunks of rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError

#: Speed of light (m/s).
C_M_S = 299_792_458.0
#: Rows read at a time.
CHUNK_ROWS = 20_000


def direction_cosines(ra_deg: float, dec_deg: float, centre_rad: tuple[float, float]) -> tuple[float, float, float]:
    """(l, m, n) of a direction relative to a phase centre (SIN projection)."""
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    ra0, dec0 = centre_rad
    d_ra = ra - ra0
    l = math.cos(dec) * math.sin(d_ra)
    m = math.sin(dec) * math.cos(dec0) - math.cos(dec) * math.sin(dec0) * math.cos(d_ra)
    n = math.sqrt(max(0.0, 1.0 - l * l - m * m))
    return l, m, n


def flux_at_positions(ms: Path, positions_deg: Sequence[tuple[float, float]], *, column: str = "DATA",
                      chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Stokes I (Jy) the data hold at each (RA, Dec): the natural-weighted dirty image there (see the module)."""
    from casacore.tables import table

    from lofar_hires.io.ms import read_ms_info

    info = read_ms_info(ms)
    if column not in info.columns:
        raise InputError(f"{ms} has no column {column}")
    lmn = np.array([direction_cosines(ra, dec, info.phase_centre_rad) for ra, dec in positions_deg]).reshape(-1, 3)
    lmn[:, 2] -= 1.0
    scale = np.asarray(info.freqs_hz, dtype=float) / C_M_S  # wavelengths per metre, per channel
    total = np.zeros(len(lmn))
    weight_sum = 0.0
    with table(str(ms), ack=False) as t:
        has_spectrum = "WEIGHT_SPECTRUM" in t.colnames()
        for start in range(0, t.nrows(), chunk_rows):
            n = min(chunk_rows, t.nrows() - start)
            cross = t.getcol("ANTENNA1", start, n) != t.getcol("ANTENNA2", start, n)
            if not cross.any():
                continue
            data = t.getcol(column, start, n)[cross]
            flags = t.getcol("FLAG", start, n)[cross]
            uvw = t.getcol("UVW", start, n)[cross]
            weights = (t.getcol("WEIGHT_SPECTRUM", start, n)[cross] if has_spectrum
                       else np.broadcast_to(t.getcol("WEIGHT", start, n)[cross][:, None, :], data.shape))
            parallel = [0, -1]
            ok = ~flags[:, :, parallel].any(axis=2) & np.isfinite(data[:, :, parallel]).all(axis=2)
            w = np.where(ok, weights[:, :, parallel].mean(axis=2), 0.0)
            stokes_i = np.where(ok, 0.5 * (data[:, :, 0] + data[:, :, -1]), 0.0)
            delay = uvw @ lmn.T  # (rows, directions), metres
            phase = -2.0 * np.pi * delay[:, :, None] * scale[None, None, :]  # (rows, directions, channels)
            total += np.einsum("rc,rdc->d", (w * stokes_i).real, np.cos(phase)) - np.einsum(
                "rc,rdc->d", (w * stokes_i).imag, np.sin(phase))
            weight_sum += float(w.sum())
    if weight_sum <= 0:
        raise InputError(f"{ms} has no unflagged cross-correlation data in {column}")
    return total / weight_sum


#: Rows the noise estimate reads at most (in blocks spread evenly through the measurement set).
NOISE_ROWS = 50_000
NOISE_BLOCKS = 10


def sample_noise_jy(ms: Path, *, column: str = "DATA", max_rows: int = NOISE_ROWS) -> float:
    """Noise of one visibility (Jy), from at most ``max_rows`` cross-correlation rows spread through ``ms``."""
    from casacore.tables import table

    from lofar_hires.peel.plan import visibility_noise_jy

    with table(str(ms), ack=False) as t:
        if column not in t.colnames():
            raise InputError(f"{ms} has no column {column}")
        n_rows = t.nrows()
        block = max(1, min(n_rows, max_rows) // NOISE_BLOCKS)
        starts = np.unique(np.linspace(0, max(0, n_rows - block), NOISE_BLOCKS).astype(int))
        data, flags = [], []
        for start in starts:
            cross = t.getcol("ANTENNA1", int(start), block) != t.getcol("ANTENNA2", int(start), block)
            data.append(t.getcol(column, int(start), block)[cross])
            flags.append(t.getcol("FLAG", int(start), block)[cross])
    return visibility_noise_jy(np.concatenate(data), np.concatenate(flags))
