"""Phase helpers and input checks shared by the calibrator-pipeline fits.

Solutions found by DP3 have an arbitrary common phase per time, frequency and
polarisation (the gauge), so every fit works on phases relative to a reference
station. Phases are only defined modulo ``2 pi``: sums of phasors (``w exp(i phi)``)
replace sums of phases wherever wrapping matters.

The checks at the end validate the arrays a fit receives and raise
:class:`~lofar_hires.errors.InputError` with a message that names the argument.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

TWO_PI = 2.0 * np.pi


def wrap(phase: np.ndarray | float) -> np.ndarray:
    """Wrap phases into ``(-pi, pi]``.

    Parameters
    ----------
    phase
        Phases (rad), any shape.

    Returns
    -------
    numpy.ndarray
        ``phase`` shifted by multiples of ``2 pi`` into ``(-pi, pi]`` (NaN stays NaN).
    """
    return np.pi - np.mod(np.pi - np.asarray(phase, dtype=float), TWO_PI)


def wrap_half(angle: np.ndarray | float) -> np.ndarray:
    """Wrap angles defined modulo ``pi`` (rotation angles) into ``(-pi/2, pi/2]``."""
    return 0.5 * wrap(2.0 * np.asarray(angle, dtype=float))


def reference_phases(phase: np.ndarray, ant_axis: int, ref: int) -> np.ndarray:
    """Phases relative to a reference station, wrapped into ``(-pi, pi]``.

    Parameters
    ----------
    phase
        Phases (rad) with a station axis.
    ant_axis
        Index of the station axis of ``phase``.
    ref
        Index of the reference station along ``ant_axis``.

    Returns
    -------
    numpy.ndarray
        ``wrap(phase - phase[ref])``, same shape as ``phase``; the reference station is 0.
    """
    phase = np.asarray(phase, dtype=float)
    axis = check_axis(ant_axis, phase.ndim, "ant_axis")
    check_reference(ref, phase.shape[axis])
    return wrap(phase - np.take(phase, [ref], axis=axis))


def reference_phases_to_group(phase: np.ndarray, weights: np.ndarray, ant_axis: int,
                              group: Sequence[int]) -> np.ndarray:
    """Phases relative to the circular mean of a group of stations, wrapped into ``(-pi, pi]``.

    The mean is the angle of the weighted sum of the group's unit phasors at each point of the
    other axes (flagged or NaN values left out). Where no member of the group is usable, the
    result is NaN. Unlike a single reference station, the mean does not carry that station's own
    fast phase fluctuations into every referenced phase.

    Raises
    ------
    InputError
        An empty group, an index outside the station axis, or weights of another shape.
    """
    phase = np.asarray(phase, dtype=float)
    weights = np.asarray(weights, dtype=float)
    axis = check_axis(ant_axis, phase.ndim, "ant_axis")
    if weights.shape != phase.shape:
        raise InputError(f"weights {weights.shape} and phases {phase.shape} differ in shape")
    group = list(group)
    if not group:
        raise InputError("the reference group has no station")
    for ref in group:
        check_reference(ref, phase.shape[axis])
    total = np.expand_dims(phasor_sum(np.take(phase, group, axis=axis), np.take(weights, group, axis=axis),
                                      axis=axis), axis)
    with np.errstate(invalid="ignore"):
        mean = np.where(np.abs(total) > 0, np.angle(total), np.nan)
    return wrap(phase - mean)


def reference_weights(weights: np.ndarray, ant_axis: int, ref: int) -> np.ndarray:
    """Weights of referenced values: a point is usable only where the reference is too.

    Parameters
    ----------
    weights
        Non-negative weights (0 = flagged) with a station axis.
    ant_axis
        Index of the station axis.
    ref
        Index of the reference station.

    Returns
    -------
    numpy.ndarray
        ``weights`` set to 0 wherever the reference station's weight is 0.
    """
    weights = np.asarray(weights, dtype=float)
    axis = check_axis(ant_axis, weights.ndim, "ant_axis")
    check_reference(ref, weights.shape[axis])
    return np.where(np.take(weights, [ref], axis=axis) > 0, weights, 0.0)


def phasor_sum(phase: np.ndarray, weights: np.ndarray | None = None,
               axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Weighted sum of unit phasors ``sum(w exp(i phase))``.

    Parameters
    ----------
    phase
        Phases (rad).
    weights
        Weights broadcastable to ``phase`` (``None``: all 1). NaN phases count as flagged.
    axis
        Axis or axes to sum over (``None``: all).

    Returns
    -------
    numpy.ndarray
        Complex sums; their modulus measures coherence, their angle the mean phase.
    """
    phase = np.asarray(phase, dtype=float)
    w = np.ones_like(phase) if weights is None else np.broadcast_to(np.asarray(weights, float), phase.shape)
    good = np.isfinite(phase) & (w > 0)
    return np.sum(np.where(good, w * np.exp(1j * np.where(good, phase, 0.0)), 0.0), axis=axis)


def circular_mean(phase: np.ndarray, weights: np.ndarray | None = None,
                  axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Weighted circular mean of phases (rad), in ``(-pi, pi]``; NaN where nothing is valid.

    Parameters
    ----------
    phase
        Phases (rad).
    weights
        Weights broadcastable to ``phase`` (``None``: all 1).
    axis
        Axis or axes to average over (``None``: all).
    """
    total = phasor_sum(phase, weights, axis)
    return np.where(np.abs(total) > 0, wrap(np.angle(total)), np.nan)


def coherence(phase: np.ndarray, weights: np.ndarray | None = None,
              axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Length of the mean phasor, 1 for identical phases and ~0 for random ones (NaN: no data)."""
    phase = np.asarray(phase, dtype=float)
    w = np.ones_like(phase) if weights is None else np.broadcast_to(np.asarray(weights, float), phase.shape)
    total_w = np.sum(np.where(np.isfinite(phase) & (w > 0), w, 0.0), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total_w > 0, np.abs(phasor_sum(phase, w, axis)) / total_w, np.nan)


def wrapped_least_squares(data: np.ndarray, weights: np.ndarray, design: np.ndarray,
                          params: np.ndarray, n_iter: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of a linear phase model, Gauss-Newton on wrapped residuals.

    Minimises ``sum_n w_n wrap(data_n - design_n . params)**2`` for every leading index
    at once, starting from ``params`` (which must be within about 1 rad of the solution
    at every point, e.g. from a coherence search, so that the wrapped residuals are the
    true ones).

    Parameters
    ----------
    data
        Phases (rad), shape ``(..., n)``.
    weights
        Weights, shape ``(..., n)`` (0 = flagged).
    design
        Model basis, shape ``(n, p)``, shared by all leading indices.
    params
        Starting parameters, shape ``(..., p)``.
    n_iter
        Gauss-Newton iterations (the model is linear: each one re-wraps the residuals).

    Returns
    -------
    params
        Fitted parameters ``(..., p)``, NaN where the problem is singular.
    residual
        Wrapped residuals ``(..., n)`` of the fit (NaN where singular).
    valid
        ``(...)`` boolean: the normal equations had full rank.
    """
    design = np.asarray(design, dtype=float)
    w = np.asarray(weights, dtype=float)
    normal = np.einsum("...n,np,nq->...pq", w, design, design)
    scale = np.trace(normal, axis1=-2, axis2=-1)[..., None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        eig = np.linalg.eigvalsh(np.where(scale > 0, normal / scale, 0.0))
    valid = (eig[..., 0] > 1e-13) & (scale[..., 0, 0] > 0)
    eye = np.eye(design.shape[1])
    normal = np.where(valid[..., None, None], normal, eye)
    params = np.where(valid[..., None], np.asarray(params, dtype=float), 0.0)
    for _ in range(n_iter):
        residual = wrap(data - params @ design.T)
        rhs = np.einsum("...n,np->...p", w * residual, design)
        params = params + np.linalg.solve(normal, rhs[..., None])[..., 0]
    residual = wrap(data - params @ design.T)
    params = np.where(valid[..., None], params, np.nan)
    residual = np.where(valid[..., None], residual, np.nan)
    return params, residual, valid


def grid_peaks(score: np.ndarray, n_peaks: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_peaks`` highest local maxima of a grid score along its last axis.

    Returns
    -------
    index
        ``(..., n_peaks)`` grid indices, highest first.
    found
        ``(..., n_peaks)`` boolean: the index is a local maximum (False where a series has fewer).
    """
    score = np.asarray(score, dtype=float)
    left = np.concatenate((np.full(score.shape[:-1] + (1,), -np.inf), score[..., :-1]), axis=-1)
    right = np.concatenate((score[..., 1:], np.full(score.shape[:-1] + (1,), -np.inf)), axis=-1)
    local = (score > left) & (score >= right)
    index = np.argsort(np.where(local, score, -np.inf), axis=-1)[..., ::-1][..., :n_peaks]
    return index, np.take_along_axis(local, index, axis=-1)


@dataclass(frozen=True)
class PeakFit:
    """Result of :func:`refine_peaks`: the best refined peak of each series and the runner-up."""

    params: np.ndarray  # (..., p)
    residual: np.ndarray  # (..., n)
    valid: np.ndarray  # (...)
    coherence: np.ndarray  # (...) real part of the mean residual phasor of the best peak
    alias_params: np.ndarray  # (..., p) the runner-up (another peak), NaN where there is none
    alias_coherence: np.ndarray  # (...) its coherence, NaN where there is none


#: Peaks of a coherence grid that :func:`refine_peaks` refines.
N_REFINED_PEAKS = 4


def refine_peaks(data: np.ndarray, weights: np.ndarray, design: np.ndarray, starts: np.ndarray, found: np.ndarray,
                 n_iter: int = 4) -> PeakFit:
    """Gauss-Newton (:func:`wrapped_least_squares`) from several peaks of a coherence grid; the refined fit whose
    residual phasors are the most coherent wins.

    A grid point next to the true peak can lose more coherence than an alias peak that happens to sit on a
    grid point has (on a narrow band, or where the weights leave few channels, aliases are hardly
    suppressed): only refined peaks can be compared.

    Parameters
    ----------
    data, weights
        Phases (rad) and weights, ``(..., n)``.
    design
        Model basis ``(n, p)``.
    starts
        ``(..., k, p)``: starting parameters at ``k`` peaks of the grid.
    found
        ``(..., k)``: which starts are peaks (from :func:`grid_peaks`).
    n_iter
        Gauss-Newton iterations.
    """
    data = np.asarray(data, dtype=float)
    weights = np.asarray(weights, dtype=float)
    k = starts.shape[-2]
    shape = data.shape[:-1] + (k, data.shape[-1])
    params, residual, valid = wrapped_least_squares(np.broadcast_to(data[..., None, :], shape),
                                                    np.broadcast_to(weights[..., None, :], shape), design, starts,
                                                    n_iter)
    total = np.sum(weights, axis=-1)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = np.sum(weights[..., None, :] * np.cos(np.nan_to_num(residual)), axis=-1) / total
    coh = np.where(valid & found & (total > 0), coh, -np.inf)
    order = np.argsort(coh, axis=-1)[..., ::-1]
    best = order[..., :1]
    p_best = np.take_along_axis(params, best[..., None], axis=-2)[..., 0, :]
    # The runner-up: the best other refined peak that did not end at the same parameters.
    same = np.all(np.isclose(params, p_best[..., None, :], rtol=1e-6, atol=1e-6), axis=-1)
    other = np.where(same, -np.inf, coh)
    second = np.argmax(other, axis=-1)[..., None]
    has_second = np.isfinite(np.take_along_axis(other, second, axis=-1)[..., 0])
    best_coh = np.take_along_axis(coh, best, axis=-1)[..., 0]
    ok = np.isfinite(best_coh)
    return PeakFit(params=np.where(ok[..., None], p_best, np.nan),
                   residual=np.where(ok[..., None], np.take_along_axis(residual, best[..., None], axis=-2)[..., 0, :],
                                     np.nan),
                   valid=ok,
                   coherence=np.where(ok, best_coh, np.nan),
                   alias_params=np.where(has_second[..., None],
                                         np.take_along_axis(params, second[..., None], axis=-2)[..., 0, :], np.nan),
                   alias_coherence=np.where(has_second, np.take_along_axis(coh, second, axis=-1)[..., 0], np.nan))


def alias_free_delay_s(freqs_hz: np.ndarray) -> float:
    """Largest |delay| that does not alias on these channels: ``1/(2 * largest channel spacing)``.

    A delay of ``1/spacing`` changes the phase by exactly ``2 pi`` from one channel to the
    next, so clock and X-Y delays are only defined within plus or minus this value.
    """
    freqs = np.sort(np.asarray(freqs_hz, dtype=float))
    spacing = float(np.max(np.diff(freqs))) if freqs.size > 1 else float(freqs[0])
    return 0.5 / spacing


def model_free_noise(phases_ref: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Phase noise per station from wrapped second differences in time (robust: 1.4826 x MAD / sqrt(6)).

    Clock and TEC that change smoothly over three solution intervals cancel; what is left is
    the noise (plus the curvature of fast TEC changes, so this is an upper bound). NaN for a
    station with fewer than three valid consecutive times.

    Parameters
    ----------
    phases_ref
        Referenced phases ``(time, freq, ant)``.
    weights
        ``(time, freq, ant)``.
    """
    n_ant = phases_ref.shape[2]
    if phases_ref.shape[0] < 3:
        return np.full(n_ant, np.nan)
    second = wrap(phases_ref[2:] - 2.0 * phases_ref[1:-1] + phases_ref[:-2])
    valid = (weights[2:] > 0) & (weights[1:-1] > 0) & (weights[:-2] > 0)
    noise = np.full(n_ant, np.nan)
    for i in range(n_ant):
        values = np.abs(second[..., i][valid[..., i]])
        if values.size:
            noise[i] = 1.4826 * np.median(values) / np.sqrt(6.0)
    return noise


#: A fit whose median rms residual exceeds POOR_RATIO x the model-free noise + POOR_FLOOR_RAD does not describe
#: the data (a value outside the search range, a wrong alias).
POOR_RATIO = 3.0
POOR_FLOOR_RAD = 0.02


def poorly_fitted(rms_rad: np.ndarray, noise_rad: np.ndarray) -> np.ndarray:
    """``(ant,)`` True where the median over time of the rms residual ``(time, ant)`` exceeds
    ``POOR_RATIO * noise_rad + POOR_FLOOR_RAD`` (False where either is unknown)."""
    rms = np.asarray(rms_rad, dtype=float)
    valid = np.isfinite(rms)
    median = np.array([np.median(rms[valid[:, i], i]) if np.any(valid[:, i]) else np.nan
                       for i in range(rms.shape[1])])
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(median, nan=0.0) > POOR_RATIO * np.nan_to_num(noise_rad, nan=np.inf) + POOR_FLOOR_RAD


def weighted_rms(residual: np.ndarray, weights: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """Weighted rms ``sqrt(sum w r^2 / sum w)`` over ``axis``; NaN where no weight."""
    w = np.where(np.isfinite(residual), weights, 0.0)
    total = np.sum(w, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.sqrt(np.sum(w * np.nan_to_num(residual) ** 2, axis=axis) / total),
                        np.nan)


# ---------------------------------------------------------------------------------------------
# Input checks shared by the fits
# ---------------------------------------------------------------------------------------------

def check_axis(axis: int, ndim: int, name: str) -> int:
    """A valid (non-negative) axis index of an ``ndim``-dimensional array."""
    if not -ndim <= int(axis) < ndim:
        raise InputError(f"{name}={axis} is not an axis of a {ndim}-dimensional array")
    return int(axis) % ndim


def check_reference(ref: int, n_ant: int) -> int:
    """The reference station index, checked against the number of stations."""
    if isinstance(ref, bool) or not isinstance(ref, (int, np.integer)):
        raise InputError(f"ref must be a station index (an integer), got {ref!r}")
    if not 0 <= int(ref) < n_ant:
        raise InputError(f"ref={ref} is out of range: the solutions have {n_ant} stations "
                         f"(valid indices 0..{n_ant - 1})")
    return int(ref)


def check_freqs(freqs_hz: np.ndarray, n_freq: int) -> np.ndarray:
    """Channel frequencies (Hz): 1-D, finite, positive, strictly increasing, one per channel."""
    freqs = np.asarray(freqs_hz, dtype=float)
    if freqs.ndim != 1 or len(freqs) != n_freq:
        raise InputError(f"freqs_hz has shape {freqs.shape} but the solutions have {n_freq} channels "
                         "on their freq axis")
    if not np.all(np.isfinite(freqs)) or np.any(freqs <= 0):
        raise InputError("freqs_hz must be finite and positive (frequencies in Hz)")
    if np.any(np.diff(freqs) <= 0):
        raise InputError("freqs_hz must be strictly increasing (sort the channels first)")
    return freqs


def check_values(name: str, values: np.ndarray, ndim: int, axes: str) -> np.ndarray:
    """A float array with ``ndim`` dimensions named ``axes`` (for the message)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != ndim:
        raise InputError(f"{name} must have {ndim} axes ({axes}), got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    return arr


def check_weights(weights: np.ndarray, values: np.ndarray, values_name: str) -> np.ndarray:
    """Weights of the same shape as the values, finite and non-negative; 0 where values are NaN.

    Raises
    ------
    InputError
        On a shape mismatch, negative or non-finite weights, or when every point is flagged.
    """
    w = np.asarray(weights, dtype=float)
    if w.shape != values.shape:
        raise InputError(f"weights have shape {w.shape} but {values_name} has shape {values.shape}; "
                         "give one weight per solution")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("weights must be finite and non-negative (0 = flagged)")
    w = np.where(np.isfinite(values), w, 0.0)
    if not np.any(w > 0):
        raise InputError(f"all {values_name} are flagged (every weight is 0 or every value NaN): "
                         "nothing to fit")
    return w
