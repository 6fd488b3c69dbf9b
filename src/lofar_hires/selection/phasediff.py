"""The phasediff score: how well a candidate calibrates the longest baselines (de Jong et al. 2025, section 6.3.1).

The data, phase-shifted to the candidate, are converted to the circular basis and
solved for one phase per station, polarisation (R, L), solution interval and
channel against a point source at the phase centre. Circular polarisation is
rare at low frequencies, so the difference of the R and L phases of a station is
zero up to differential Faraday rotation and noise; its spread over the most
distant stations measures the candidate's signal-to-noise ratio on the longest
baselines (de Jong et al. 2024, section 3.3.1; de Jong et al. 2025, section 6.3.1).

The score sigma_c is the circular standard deviation ``sqrt(-2 ln R)`` (R the mean
resultant length, Mardia 1972) of the R-L phase differences after differencing
adjacent channels, which removes the slowly varying Faraday term, pooled over the
chosen stations, solution intervals and channel pairs. A bright compact source tends
to 0; pure noise scores about ``sqrt(ln N)`` for N pooled values, so a score is judged
against the noise level for its own samples (:mod:`lofar_hires.selection.noise`).

The solution-interval metric (eq. 6.2 of de Jong et al. 2025) turns sigma_c,
measured with a ``ref_solint_min`` (10 min) solution interval, into the interval
at which the phases would reach the ``optimal_score_rad`` (1.75 rad) spread.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError

SolintFormula = Literal["paper", "squared"]
SOLINT_FORMULAS: tuple[str, ...] = ("paper", "squared")

#: ``T`` of ``E_circ = T E_lin`` (R = (X + iY)/sqrt(2), L = (X - iY)/sqrt(2)); the same basis change as
#: :func:`lofar_hires.solutions.jones.lin_to_circ` applies to gains.
LIN_TO_CIRC = np.array([[1.0, 1.0j], [1.0, -1.0j]]) / np.sqrt(2.0)


def circular_std(angles_rad: np.ndarray, weights: np.ndarray | None = None, axis: int | None = None) -> np.ndarray:
    """Circular standard deviation ``sqrt(-2 ln R)`` of angles (radians), ignoring NaNs and zero weights.

    Parameters
    ----------
    angles_rad
        Angles in radians (any wrapping).
    weights
        Optional non-negative weights of the same shape; zero excludes a value.
    axis
        Axis to reduce (``None``: all values).

    Returns
    -------
    numpy.ndarray
        The circular standard deviation in radians (``inf`` when the resultant vanishes,
        NaN when there is no valid value).
    """
    angles = np.asarray(angles_rad, dtype=float)
    w = np.ones_like(angles) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), angles.shape)
    if np.any(w < 0):
        raise InputError("circular_std: weights must be non-negative")
    valid = np.isfinite(angles) & (w > 0)
    w = np.where(valid, w, 0.0)
    angles = np.where(valid, angles, 0.0)
    total = np.sum(w, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        resultant = np.hypot(np.sum(w * np.cos(angles), axis=axis), np.sum(w * np.sin(angles), axis=axis)) / total
        result = np.sqrt(-2.0 * np.log(np.minimum(resultant, 1.0)))
    return np.where(total > 0, result, np.nan)


def wrap_rad(angles_rad: np.ndarray) -> np.ndarray:
    """Angles wrapped to (-pi, pi]."""
    return math.pi - np.mod(math.pi - np.asarray(angles_rad, dtype=float), 2.0 * math.pi)


def lin_to_circ_visibilities(data: np.ndarray) -> np.ndarray:
    """Visibilities (..., 4) in XX, XY, YX, YY order to RR, RL, LR, LL: ``V_circ = T V_lin T^H``."""
    data = np.asarray(data)
    if data.shape[-1] != 4:
        raise InputError(f"expected 4 correlations in the last axis, got {data.shape[-1]}")
    v = data.reshape(*data.shape[:-1], 2, 2)
    out = LIN_TO_CIRC @ v @ LIN_TO_CIRC.conj().T
    return out.reshape(data.shape).astype(np.result_type(data.dtype, np.complex64), copy=False)


def phase_differences(phase_rad: np.ndarray, weight: np.ndarray,
                      reference: int | None) -> tuple[np.ndarray, np.ndarray]:
    """R minus L phase per (time, freq, ant), optionally relative to a reference station.

    Parameters
    ----------
    phase_rad, weight
        Diagonal phase solutions and weights with axes (..., time, freq, ant, pol); pol 0 is R (RR),
        1 is L (LL). Leading axes (e.g. Monte Carlo draws) are kept; the weights broadcast against
        the phases.
    reference
        Index of the reference station on the ``ant`` axis, or ``None`` for no referencing.

    Returns
    -------
    (diff_rad, weight)
        Wrapped to (-pi, pi]; the weight is zero where either polarisation (or the reference) is flagged.
    """
    phase_rad, weight = np.asarray(phase_rad), np.asarray(weight)
    if phase_rad.ndim < 4 or phase_rad.shape[-1] != 2 or weight.shape[-1] != 2:
        raise InputError(f"phasediff: expected phases with axes (time, freq, ant, pol=2), got shape {phase_rad.shape}")
    diff = phase_rad[..., 0] - phase_rad[..., 1]
    w = np.minimum(weight[..., 0], weight[..., 1])
    if reference is not None:
        diff = diff - diff[..., reference:reference + 1]
        w = np.minimum(w, w[..., reference:reference + 1])
    return wrap_rad(diff), w


def channel_differences(diff_rad: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Differences of adjacent channels of R-L phases (..., time, freq, ant) and their weights.

    The weight of a difference is the smaller weight of its two channels, so a flagged channel
    removes both differences it takes part in.
    """
    if diff_rad.shape[-2] < 2:
        raise InputError("phasediff: at least two channels (solution cells in frequency) are needed to "
                         "difference adjacent channels; average less in frequency")
    weight = np.broadcast_to(weight, diff_rad.shape)
    return np.diff(diff_rad, axis=-2), np.minimum(weight[..., 1:, :], weight[..., :-1, :])


def pooled_score(dphase_rad: np.ndarray, dweight: np.ndarray, station_mask: np.ndarray) -> np.ndarray:
    """sigma_c of channel differences (..., time, freq pair, ant) pooled over the masked stations.

    Returns one value per leading index (a 0-d array without leading axes).
    """
    station_mask = np.asarray(station_mask, dtype=bool)
    dweight = np.broadcast_to(dweight, dphase_rad.shape)
    return circular_std(dphase_rad[..., station_mask], dweight[..., station_mask], axis=(-3, -2, -1))


def phasediff_score(diff_rad: np.ndarray, weight: np.ndarray,
                    station_mask: np.ndarray) -> tuple[float, np.ndarray, int]:
    """sigma_c of R-L phase differences (time, freq, ant), channel-differenced, pooled over masked stations.

    Returns
    -------
    (score_rad, per_station_rad, n_values)
        The pooled score, the score of each station (NaN for stations outside the mask or without
        data) and the number of channel-pair values pooled (those with a non-zero weight).
    """
    station_mask = np.asarray(station_mask, dtype=bool)
    if not station_mask.any():
        raise InputError("phasediff: the station selection is empty")
    dphase, dweight = channel_differences(diff_rad, weight)
    n_ant = diff_rad.shape[2]
    per_station = circular_std(np.moveaxis(dphase, 2, 0).reshape(n_ant, -1),
                               np.moveaxis(dweight, 2, 0).reshape(n_ant, -1), axis=1)
    per_station = np.where(station_mask, per_station, np.nan)
    n_values = count_values(dweight, station_mask)
    if n_values == 0:
        raise InputError("phasediff: every solution of the selected stations is flagged")
    return float(pooled_score(dphase, dweight, station_mask)), per_station, n_values


def count_values(dweight: np.ndarray, station_mask: np.ndarray) -> int:
    """Number of channel-difference values (time, freq pair, ant) of the masked stations with a non-zero weight."""
    return int(np.count_nonzero(dweight[..., np.asarray(station_mask, dtype=bool)] > 0))


def solint_from_score(score_rad: float, formula: SolintFormula = "paper", ref_solint_min: float = 10.0,
                      optimal_score_rad: float = 1.75) -> float:
    """The solution-interval metric delta_t (minutes) of a phasediff score measured at ``ref_solint_min``.

    ``paper`` (de Jong et al. 2025, eq. 6.2): ``delta_t = ref * ln(1-(s/pi)^2) / ln(1-(s_opt/pi)^2)``,
    i.e. ``-26.92 ln(1-(s/pi)^2)`` min for the defaults. ``squared``: the later public variant,
    ``ref * [ln(1-(s/pi)^2) / ln(1-(s_opt/pi)^2)]^2``. Both give ``ref`` at ``s = s_opt``.
    Scores at or above pi (pure noise) give ``inf``.
    """
    if formula not in SOLINT_FORMULAS:
        raise InputError(f"unknown solution-interval formula {formula!r}; use one of {', '.join(SOLINT_FORMULAS)}")
    if not (0.0 < optimal_score_rad < math.pi):
        raise InputError(f"optimal_score_rad {optimal_score_rad} must be in (0, pi)")
    if ref_solint_min <= 0:
        raise InputError(f"ref_solint_min {ref_solint_min} must be positive")
    if not math.isfinite(score_rad) or score_rad < 0:
        raise InputError(f"phasediff score {score_rad} must be a non-negative number")
    if score_rad >= math.pi:
        return math.inf
    ratio = math.log1p(-(score_rad / math.pi) ** 2) / math.log1p(-(optimal_score_rad / math.pi) ** 2)
    return ref_solint_min * (ratio if formula == "paper" else ratio ** 2)
