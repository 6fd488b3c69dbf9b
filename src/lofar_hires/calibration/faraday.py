"""Differential Faraday rotation from rotation(+diagonal) solutions.

Faraday rotation (the second-order ionospheric term, de Gasperin et al. 2019,
sect. 2.3 and 4.3) is a rotation matrix ``R(a) = [[cos a, -sin a], [sin a, cos a]]``
of angle ``a = rm_rad_m2 * (c/nu)**2``. DP3's ``rotation+diagonal`` solve gives
``J = diag(g0, g1) . R(a)`` per station, time and channel; :func:`rotation_from_fulljones`
recovers ``a`` from any full-Jones solution of that form and
:func:`fit_rotation_measure` fits one RM per time and station.

A rotation angle is only defined modulo ``pi`` (``R(a + pi) = -R(a)``, and the sign
goes into the diagonal gains), so the fit works on the phasors ``exp(2 i a)``: a grid
search of their coherence over RM, then Gauss-Newton on the wrapped residuals.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from lofar_hires.calibration.phases import (
    N_REFINED_PEAKS,
    check_freqs,
    check_reference,
    check_values,
    check_weights,
    grid_peaks,
    reference_weights,
    refine_peaks,
    weighted_rms,
    wrap,
    wrap_half,
)
from lofar_hires.errors import InputError, LofarHiresWarning
from lofar_hires.physics import C_M_S

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaradayFit:
    """Result of :func:`fit_rotation_measure` (all relative to the reference station).

    Attributes
    ----------
    rm_rad_m2
        ``(time, ant)`` rotation measure; NaN where there were too few valid channels.
    offset_rad
        ``(time, ant)`` constant rotation angle in ``(-pi/2, pi/2]`` (0 when not fitted).
    rms_rad
        ``(time, ant)`` weighted rms of the wrapped angle residuals.
    weights
        ``(time, ant)`` 1 where fitted, 0 where there was no (or too little) data.
    ref
        Index of the reference station.
    """

    rm_rad_m2: np.ndarray
    offset_rad: np.ndarray
    rms_rad: np.ndarray
    weights: np.ndarray
    ref: int


def rotation_from_fulljones(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decompose full-Jones gains as ``J = diag(g0, g1) . R(angle)`` (least squares).

    For a given angle the best ``g0`` and ``g1`` are the projections of the rows of
    ``J`` on the rows of ``R``; the angle that maximises the captured power has the
    closed form ``2 angle = atan2(2 C, A - B)`` with ``A = |J00|^2 + |J11|^2``,
    ``B = |J01|^2 + |J10|^2`` and ``C = Re(J10 J11*) - Re(J00 J01*)``.

    Parameters
    ----------
    j
        Complex gains of shape ``(..., 2, 2)``.

    Returns
    -------
    angle
        ``(...)`` rotation angle (rad) in ``(-pi/2, pi/2]``; 0 for a zero matrix.
    g0, g1
        ``(...)`` complex diagonal gains (``angle + pi`` with ``-g0, -g1`` is the same matrix).
    """
    j = np.asarray(j)
    if j.ndim < 2 or j.shape[-2:] != (2, 2):
        raise InputError(f"full-Jones gains must have shape (..., 2, 2), got {j.shape}")
    j00, j01, j10, j11 = j[..., 0, 0], j[..., 0, 1], j[..., 1, 0], j[..., 1, 1]
    a = np.abs(j00) ** 2 + np.abs(j11) ** 2
    b = np.abs(j01) ** 2 + np.abs(j10) ** 2
    c = np.real(j10 * np.conj(j11)) - np.real(j00 * np.conj(j01))
    angle = wrap_half(0.5 * np.arctan2(2.0 * c, a - b))
    cos, sin = np.cos(angle), np.sin(angle)
    return angle, j00 * cos - j01 * sin, j10 * sin + j11 * cos


def alias_free_rm_rad_m2(freqs_hz: np.ndarray) -> float:
    """Largest |RM| that does not alias on these channels.

    The fit works on ``exp(2 i RM lambda^2)``; beyond ``pi / (2 * largest lambda^2 step)`` that
    phasor turns by more than pi from one channel to the next.
    """
    lambda2 = np.sort((C_M_S / np.asarray(freqs_hz, dtype=float)) ** 2)
    step = float(np.max(np.diff(lambda2))) if lambda2.size > 1 else float(lambda2[0])
    return np.pi / (2.0 * step)


def rm_grid_rad_m2(lambda2_m2: np.ndarray, rm_range_rad_m2: float, with_offset: bool) -> np.ndarray:
    """Trial RMs: the phase ``2 RM lambda^2`` of neighbours differs by at most ``pi/3`` over the band."""
    span = (lambda2_m2.max() - lambda2_m2.min()) if (with_offset and len(lambda2_m2) > 1) else lambda2_m2.max()
    step = np.pi / (6.0 * span)
    n = int(np.ceil(rm_range_rad_m2 / step))
    return np.arange(-n, n + 1) * step


def fit_rotation_measure(angle_rad: np.ndarray, weights: np.ndarray, freqs_hz: np.ndarray, ref: int, *,
                         with_offset: bool = False, rm_range_rad_m2: float = 5.0,
                         n_iter: int = 4) -> FaradayFit:
    """Fit a differential rotation measure per time and station from rotation angles.

    Model: ``angle - angle[ref] = rm_rad_m2 * (c/nu)**2 (+ offset) (mod pi)``.

    Parameters
    ----------
    angle_rad
        Rotation angles ``(time, freq, ant)`` (any branch modulo ``pi``; NaN = flagged).
    weights
        Weights ``(time, freq, ant)`` (0 = flagged).
    freqs_hz
        Channel frequencies ``(freq,)``, strictly increasing.
    ref
        Index of the reference station.
    with_offset
        Also fit a constant angle per time and station.
    rm_range_rad_m2
        Largest |RM| searched.
    n_iter
        Gauss-Newton iterations after the grid search.

    Returns
    -------
    FaradayFit
        RM, offset, rms and weights per time and station. A (time, station) needs at
        least 2 valid channels (3 with an offset); stations with none at any time get
        NaN and a :class:`LofarHiresWarning`.

    Raises
    ------
    InputError
        On mismatched shapes, a reference index out of range, bad frequencies or
        weights, or when every point is flagged.
    """
    angle = check_values("angle_rad", angle_rad, 3, "time, freq, ant")
    n_time, n_freq, n_ant = angle.shape
    ref = check_reference(ref, n_ant)
    freqs = check_freqs(freqs_hz, n_freq)
    if not rm_range_rad_m2 > 0:
        raise InputError(f"rm_range_rad_m2 must be positive, got {rm_range_rad_m2}")
    w = reference_weights(check_weights(weights, angle, "angle_rad"), 2, ref)
    if not np.any(w[..., ref] > 0):
        raise InputError(f"the reference station (index {ref}) has no valid solutions: choose another ref")
    angle = np.nan_to_num(angle)
    # Phases of exp(2 i (a - a_ref)) as series (time, ant, freq).
    data = np.moveaxis(wrap(2.0 * (angle - angle[..., [ref]])), 1, 2)
    wt = np.moveaxis(w, 1, 2)
    lambda2 = (C_M_S / freqs) ** 2
    log.info("Faraday fit: %d times x %d channels x %d stations, reference %d, |RM| <= %g rad/m^2, offset %s",
             n_time, n_freq, n_ant, ref, rm_range_rad_m2, with_offset)

    trial = rm_grid_rad_m2(lambda2, rm_range_rad_m2, with_offset)
    score = (wt * np.exp(1j * data)) @ np.exp(-2j * np.outer(lambda2, trial))  # (time, ant, trial)
    # Several peaks are refined: the alias RM + pi / lambda^2 (one turn of 2 RM lambda^2 at the band
    # centre) can beat the grid point next to the true RM on a narrow band or where a few channels
    # carry most of the weight.
    peaks, found = grid_peaks(np.abs(score) if with_offset else score.real, N_REFINED_PEAKS)
    lambda2_0 = float(np.mean(lambda2))
    start = [trial[peaks] * lambda2_0]
    columns = [2.0 * lambda2 / lambda2_0]
    if with_offset:
        start.append(np.angle(np.take_along_axis(score, peaks, axis=-1)) / 2.0)
        columns.append(np.full(n_freq, 2.0))
    best = refine_peaks(data, wt, np.stack(columns, axis=-1), np.stack(start, axis=-1), found, n_iter)
    params, residual, valid = best.params, best.residual, best.valid

    n_chan = np.count_nonzero(wt > 0, axis=-1)
    fitted = valid & (n_chan >= len(columns) + 1)
    _warn_unfitted(fitted)
    rm = np.where(fitted, params[..., 0] / lambda2_0, np.nan)
    offset = wrap_half(params[..., 1]) if with_offset else np.zeros_like(rm)
    offset = np.where(fitted, offset, np.nan)
    rms = np.where(fitted, weighted_rms(residual / 2.0, wt, axis=-1), np.nan)
    return FaradayFit(rm_rad_m2=rm, offset_rad=offset, rms_rad=rms, weights=fitted.astype(float), ref=ref)


def _warn_unfitted(fitted: np.ndarray) -> None:
    none = np.flatnonzero(~np.any(fitted, axis=0))
    if none.size:
        warnings.warn(f"Faraday: stations {none.tolist()} have no time with enough valid channels; "
                      "their RM is NaN", LofarHiresWarning, stacklevel=3)
