"""Putting solutions onto another time/frequency grid: nearest or linear, phase-aware.

Interpolation is done on physical quantities: phases (and rotation angles) as
unit phasors, so that wrapping at +-pi is handled; amplitudes, TEC, clock and
rotation measure linearly. Outside the source grid the edge values are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError

Method = Literal["nearest", "linear"]
#: Soltab types whose values are angles (interpolated as phasors).
ANGULAR_TYPES = ("phase", "scalarphase", "rotation")


@dataclass(frozen=True)
class AxisMap:
    """How to take a target axis from a source axis: indices and linear weights.

    ``lo``/``hi`` index the source for every target point; the value is
    ``(1 - w) * source[lo] + w * source[hi]`` (``w`` is 0 for nearest).
    """

    lo: np.ndarray
    hi: np.ndarray
    w: np.ndarray

    @property
    def span(self) -> tuple[int, int]:
        """The source index range ``[start, stop)`` the map needs."""
        return int(min(self.lo.min(), self.hi.min())), int(max(self.lo.max(), self.hi.max())) + 1

    def shifted(self, offset: int) -> AxisMap:
        return AxisMap(self.lo - offset, self.hi - offset, self.w)

    def is_identity(self, n_source: int) -> bool:
        """True when the map takes a source axis of ``n_source`` points as it is."""
        return (len(self.lo) == n_source and not np.any(self.w)
                and bool(np.array_equal(self.lo, np.arange(n_source))))


def axis_map(source: np.ndarray, target: np.ndarray, method: Method) -> AxisMap:
    """Map from a (strictly increasing) source axis onto target points."""
    source = np.asarray(source, dtype=float)
    target = np.asarray(target, dtype=float)
    if source.ndim != 1 or len(source) == 0:
        raise InputError("an axis to interpolate from must be a non-empty list of values")
    if len(source) > 1 and np.any(np.diff(source) <= 0):
        raise InputError("axis values must be strictly increasing to interpolate")
    n = len(source)
    if n == 1:
        zeros = np.zeros(len(target), dtype=int)
        return AxisMap(zeros, zeros, np.zeros(len(target)))
    hi = np.clip(np.searchsorted(source, target), 1, n - 1)
    lo = hi - 1
    frac = np.clip((target - source[lo]) / (source[hi] - source[lo]), 0.0, 1.0)
    if method == "nearest":
        idx = np.where(frac > 0.5, hi, lo)
        return AxisMap(idx, idx, np.zeros(len(target)))
    if method != "linear":
        raise InputError(f"interpolation must be 'nearest' or 'linear', got {method!r}")
    return AxisMap(lo, hi, frac)


def _neighbours(values: np.ndarray, amap: AxisMap, axis: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The lower and (when interpolating) upper source values, and the weights shaped to broadcast."""
    lo = np.take(values, amap.lo, axis=axis)
    shape = [1] * values.ndim
    shape[axis] = len(amap.w)
    if not np.any(amap.w):
        return lo, None, amap.w.reshape(shape)
    return lo, np.take(values, amap.hi, axis=axis), amap.w.reshape(shape)


def apply_map(values: np.ndarray, amap: AxisMap, axis: int, angular: bool) -> np.ndarray:
    """Interpolate ``values`` along ``axis`` with ``amap`` (phasor interpolation when ``angular``)."""
    lo, hi, w = _neighbours(values, amap, axis)
    if hi is None:
        return lo
    if angular:
        return np.angle((1 - w) * np.exp(1j * lo) + w * np.exp(1j * hi))
    return (1 - w) * lo + w * hi


def apply_map_weights(weights: np.ndarray, amap: AxisMap, axis: int) -> np.ndarray:
    """Weights on the target grid: a point is flagged when any source point it uses is flagged."""
    lo, hi, w = _neighbours(weights, amap, axis)
    if hi is None:
        return lo
    big = np.asarray(np.inf, dtype=lo.dtype)
    return np.minimum(np.where(w < 1, lo, big), np.where(w > 0, hi, big))
