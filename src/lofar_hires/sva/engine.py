"""The streaming average: every visibility of every observation onto the template grid, one pass per input.

The output grid is processed in blocks of time slots. For a block, each observation's rows whose
sidereal time falls in it are read (in chunks of at most ``chunk_rows``), mapped per baseline to
the template slot with the nearest (u,v) among the slot of their sidereal time and its
neighbours (``search_slots``), conjugated where they match the negated point (the baseline in the
other order: data conjugated and the cross-hands XY/YX swapped, ``V_qp = V_pq^H``), and added with
their weights (WEIGHT_SPECTRUM where unflagged and finite, zero elsewhere). Slots next to the
block's end stay in memory until the next block, whose rows may land there. Only one block of the
output and one chunk of one input are in memory at a time; every input row is read once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lofar_hires.sva.grid import TimeGrid, UvwModel
from lofar_hires.sva.inputs import Observation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Baselines:
    """The output baselines: template station indices ``ant1 < ant2`` and a symmetric lookup table."""

    ant1: np.ndarray
    ant2: np.ndarray
    lookup: np.ndarray  # (n_station, n_station) -> baseline index, -1 where none
    itrf_m: np.ndarray  # (n_baseline, 3): position(ant2) - position(ant1)

    @property
    def n(self) -> int:
        return int(self.ant1.size)

    @classmethod
    def of_stations(cls, positions_itrf_m: np.ndarray, present: np.ndarray) -> Baselines:
        """Every pair of template stations that some observation has (``present``: boolean per station)."""
        n_st = positions_itrf_m.shape[0]
        a1, a2 = np.triu_indices(n_st, k=1)
        keep = present[a1] & present[a2]
        a1, a2 = a1[keep], a2[keep]
        lookup = np.full((n_st, n_st), -1, dtype=np.int64)
        lookup[a1, a2] = np.arange(a1.size)
        lookup[a2, a1] = np.arange(a1.size)
        return cls(a1, a2, lookup, positions_itrf_m[a2] - positions_itrf_m[a1])


@dataclass(frozen=True)
class ObservationPlan:
    """Where one observation's unique times land: the slot of each (``slots``, non-decreasing)."""

    observation: Observation
    stations: np.ndarray  # template index of each of its stations (-1: not in the template)
    slots: np.ndarray


@dataclass
class ObservationStats:
    """What the engine did with one observation's rows."""

    rows_read: int = 0
    rows_used: int = 0
    autocorrelation_rows: int = 0
    other_station_rows: int = 0
    conjugated_rows: int = 0
    weight_used: float = 0.0
    max_match_uv_m: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"rows_read": self.rows_read, "rows_used": self.rows_used,
                "autocorrelation_rows": self.autocorrelation_rows, "other_station_rows": self.other_station_rows,
                "conjugated_rows": self.conjugated_rows, "weight_used": self.weight_used,
                "max_match_uv_m": round(self.max_match_uv_m, 6)}


@dataclass
class EngineResult:
    """Per-observation statistics and the output's totals."""

    stats: list[ObservationStats] = field(default_factory=list)
    weight_out: float = 0.0
    rows_out: int = 0
    flagged_rows_out: int = 0


#: ``write(first_slot, times, uvw (slot, baseline, 3), data (slot, baseline, chan, corr), weight)``.
BlockWriter = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def conjugate_permutation(n_corr: int) -> np.ndarray:
    """Correlation order of the baseline taken the other way round: XY and YX swap for four correlations."""
    return np.array([0, 2, 1, 3]) if n_corr == 4 else np.arange(n_corr)


def match_slots(uv_in_m: np.ndarray, first_slot: np.ndarray, baseline: np.ndarray, block_uvw_m: np.ndarray,
                block_lo: int, search_slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest template slot in (u,v), and whether the negated point matched, for each row.

    ``first_slot``: the slot of each row's sidereal time; candidates are it and ``search_slots``
    neighbours each side inside the block ``block_uvw_m`` (slots ``block_lo ...``). Returns the
    slots, the conjugation flags and the (u,v) distances of the matches (m).
    """
    offsets = np.arange(-search_slots, search_slots + 1)
    cands = first_slot[:, None] + offsets[None, :]
    inside = (cands >= block_lo) & (cands < block_lo + block_uvw_m.shape[0])
    idx = np.clip(cands - block_lo, 0, block_uvw_m.shape[0] - 1)
    uv_t = block_uvw_m[idx, baseline[:, None], :2]
    uv = uv_in_m[:, None, :2]
    dist = np.concatenate([np.sum((uv - uv_t) ** 2, axis=-1), np.sum((uv + uv_t) ** 2, axis=-1)], axis=1)
    dist[:, : offsets.size][~inside] = np.inf
    dist[:, offsets.size:][~inside] = np.inf
    best = np.argmin(dist, axis=1)
    rows = np.arange(best.size)
    return cands[rows, best % offsets.size], best >= offsets.size, np.sqrt(dist[rows, best])


def accumulate(acc_data: np.ndarray, acc_weight: np.ndarray, out_rows: np.ndarray, data: np.ndarray,
               weight: np.ndarray) -> None:
    """``acc[out_rows] += weight * data`` and ``acc_weight[out_rows] += weight`` with repeated rows summed."""
    if out_rows.size == 0:
        return
    order = np.argsort(out_rows, kind="stable")
    rows = out_rows[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    w = weight[order]
    acc_data[rows[starts]] += np.add.reduceat(w * data[order], starts, axis=0)
    acc_weight[rows[starts]] += np.add.reduceat(w, starts, axis=0)


def _add_chunk(cols: dict[str, np.ndarray], plan: ObservationPlan, baselines: Baselines, lo: int,
               block_uvw_m: np.ndarray, acc_data: np.ndarray, acc_weight: np.ndarray, perm: np.ndarray,
               search_slots: int, stats: ObservationStats) -> None:
    obs = plan.observation
    a1_in, a2_in = cols["ANTENNA1"], cols["ANTENNA2"]
    auto = a1_in == a2_in
    a1, a2 = plan.stations[a1_in], plan.stations[a2_in]
    known = (a1 >= 0) & (a2 >= 0)
    bl = np.where(known & ~auto, baselines.lookup[np.maximum(a1, 0), np.maximum(a2, 0)], -1)
    use = bl >= 0
    stats.rows_read += int(auto.size)
    stats.autocorrelation_rows += int(auto.sum())
    stats.other_station_rows += int((~known & ~auto).sum())
    if not use.any():
        return
    first = plan.slots[np.searchsorted(obs.times_mjd_s, cols["TIME"][use])]
    slot, conj, dist = match_slots(cols["UVW"][use], first, bl[use], block_uvw_m, lo, search_slots)
    data = cols["DATA"][use]
    weight = np.asarray(cols["WEIGHT_SPECTRUM"][use], dtype=np.float64)
    good = ~cols["FLAG"][use] & np.isfinite(data) & np.isfinite(weight) & (weight > 0)
    weight = np.where(good, weight, 0.0)
    data = np.where(good, data, 0).astype(np.complex128)
    if conj.any():
        data[conj] = np.conj(data[conj][:, :, perm])
        weight[conj] = weight[conj][:, :, perm]
    accumulate(acc_data, acc_weight, (slot - lo) * baselines.n + bl[use], data, weight)
    stats.rows_used += int(use.sum())
    stats.conjugated_rows += int(conj.sum())
    stats.weight_used += float(weight.sum())
    stats.max_match_uv_m = max(stats.max_match_uv_m, float(dist.max(initial=0.0)))


def average(plans: list[ObservationPlan], grid: TimeGrid, baselines: Baselines, model: UvwModel, n_chan: int,
            n_corr: int, write: BlockWriter, *, data_column: str = "DATA", block_slots: int = 64,
            chunk_rows: int = 100_000, search_slots: int = 1) -> EngineResult:
    """Average every observation of ``plans`` onto ``grid`` and hand each finished block to ``write``."""
    from casacore.tables import table

    result = EngineResult(stats=[ObservationStats() for _ in plans])
    perm = conjugate_permutation(n_corr)
    tables = [table(str(p.observation.path), ack=False) for p in plans]
    columns = ("TIME", "ANTENNA1", "ANTENNA2", "UVW", data_column, "FLAG", "WEIGHT_SPECTRUM")
    try:
        done = 0  # slots before this are written
        carry_data = carry_weight = None
        for b0 in range(0, grid.n_slots, block_slots):
            b1 = min(grid.n_slots, b0 + block_slots)
            hi = min(grid.n_slots, b1 + search_slots)
            lo = done
            shape = (hi - lo, baselines.n, n_chan, n_corr)
            acc_data = np.zeros((shape[0] * shape[1], n_chan, n_corr), np.complex128)
            acc_weight = np.zeros((shape[0] * shape[1], n_chan, n_corr), np.float64)
            if carry_data is not None:
                acc_data[: carry_data.shape[0]] = carry_data
                acc_weight[: carry_weight.shape[0]] = carry_weight
            block_uvw = model.uvw_m(grid.centres(lo, hi), baselines.itrf_m)
            for plan, tab, stats in zip(plans, tables, result.stats):
                first = int(np.searchsorted(plan.slots, b0, side="left"))
                stop = int(np.searchsorted(plan.slots, b1, side="left"))
                if stop <= first:
                    continue
                r0, r1 = plan.observation.rows_of_times(first, stop)
                for start in range(r0, r1, chunk_rows):
                    n = min(chunk_rows, r1 - start)
                    cols = {c: tab.getcol(c, startrow=start, nrow=n) for c in columns}
                    cols["DATA"] = cols.pop(data_column) if data_column != "DATA" else cols["DATA"]
                    _add_chunk(cols, plan, baselines, lo, block_uvw, acc_data, acc_weight, perm, search_slots,
                               stats)
            upto = b1 - search_slots if b1 < grid.n_slots else grid.n_slots
            upto = max(upto, lo)
            n_rows = (upto - lo) * baselines.n
            if n_rows:
                weight = acc_weight[:n_rows]
                data = np.divide(acc_data[:n_rows], weight, out=np.zeros_like(acc_data[:n_rows]), where=weight > 0)
                write(lo, grid.centres(lo, upto), block_uvw[: upto - lo], data, weight)
                result.weight_out += float(weight.sum())
                result.rows_out += n_rows
                result.flagged_rows_out += int(np.all(weight <= 0, axis=(1, 2)).sum())
            carry_data, carry_weight = acc_data[n_rows:].copy(), acc_weight[n_rows:].copy()
            done = upto
    finally:
        for tab in tables:
            tab.close()
    return result
