"""Polarisation alignment: one XX-YY delay per station from diagonal phase solutions.

The station calibration tables of LOFAR can delay the Y data stream relative to X
(de Gasperin et al. 2019, sect. 2.2 and 4.2). In DP3's convention the Y gain then
carries the extra phase ``-2 pi nu delay_s``, so the XX-YY phase difference of the
solutions is ``+2 pi nu delay_s`` (plus an optional constant ``offset_rad``). The
delay does not change with time: one value per station is fitted over all unflagged
times and channels.

Algorithm: the XX-YY phases are referenced to a reference station (this removes the
per-polarisation phase gauge of the solutions), their phasors are summed over time,
a grid of delays is scanned for the largest phasor coherence (a small DFT, robust to
any wrapping), and the best grid point is refined by Gauss-Newton on the wrapped
residuals of all points.

The reference station's own X-Y phase matters too. For an unpolarised calibrator
the solutions ``J = diag(g_X, g_Y) R(a)`` of every station are only determined up to
one discrete ambiguity shared by all stations: ``g_Y -> -g_Y`` together with
``a -> -a`` (``diag(1, -1) R(a) = R(-a) diag(1, -1)``). A rotation solve starting from
the identity lands on the branch nearer to it, so where the common X-Y phase left in
the data (the reference station's, once the relative alignment is removed) is nearer
to pi than to 0, the Faraday rotation comes out with the wrong sign; near pi/2 the
solver may not converge at all. The doubled X-Y phase is free of the ambiguity, so
:func:`fit_reference_delay` measures the reference station's absolute X-Y delay from it,
assuming that the X-Y phase of the reference station is a pure delay (no constant
offset: a constant of pi cannot be told from a sign of the rotation measure by any
observation of an unpolarised source). Adding it to every station's alignment leaves
data whose X-Y phase is near 0 everywhere, so that the rotation solves that follow
start on the right branch.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from lofar_hires.calibration.phases import (
    N_REFINED_PEAKS,
    TWO_PI,
    PeakFit,
    check_freqs,
    check_reference,
    check_values,
    check_weights,
    grid_peaks,
    reference_phases,
    reference_weights,
    refine_peaks,
    weighted_rms,
    wrap,
    wrapped_least_squares,
)
from lofar_hires.errors import InputError, LofarHiresWarning

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolAlignFit:
    """Result of :func:`fit_polalign` (all relative to the reference station).

    Attributes
    ----------
    delay_s
        ``(ant,)`` XX-YY delay: the XX-YY phase is ``2 pi nu delay_s + offset_rad``.
        NaN for stations without enough valid data.
    offset_rad
        ``(ant,)`` constant XX-YY phase in ``(-pi, pi]`` (0 when not fitted).
    rms_rad
        ``(ant,)`` weighted rms of the wrapped residuals.
    n_points
        ``(ant,)`` number of (time, channel) points used.
    ref
        Index of the reference station.
    """

    delay_s: np.ndarray
    offset_rad: np.ndarray
    rms_rad: np.ndarray
    n_points: np.ndarray
    ref: int


def delay_grid_s(freqs_hz: np.ndarray, delay_range_s: float, with_offset: bool) -> np.ndarray:
    """Trial delays for the coherence search.

    The step keeps the phase error of the nearest trial below ``pi/6`` over the band:
    ``1/(6 * bandwidth)`` with a free offset (only the slope matters), ``1/(6 * nu_max)``
    without one.
    """
    span_hz = (freqs_hz[-1] - freqs_hz[0]) if (with_offset and len(freqs_hz) > 1) else freqs_hz[-1]
    step_s = 1.0 / (6.0 * span_hz)
    n = int(np.ceil(delay_range_s / step_s))
    return np.arange(-n, n + 1) * step_s


def fit_polalign(phase_xx: np.ndarray, phase_yy: np.ndarray, weights: np.ndarray, freqs_hz: np.ndarray,
                 ref: int, *, with_offset: bool = True, delay_range_s: float = 100e-9,
                 n_iter: int = 5) -> PolAlignFit:
    """Fit one time-independent XX-YY delay per station.

    Parameters
    ----------
    phase_xx, phase_yy
        Phases (rad) of the XX and YY diagonal gain solutions, shape ``(time, freq, ant)``;
        NaN counts as flagged.
    weights
        Weights ``(time, freq, ant)`` (0 = flagged), e.g. the product of the XX and YY weights.
    freqs_hz
        Channel frequencies ``(freq,)``, strictly increasing.
    ref
        Index of the reference station (its delay and offset are 0 by definition).
    with_offset
        Also fit a constant XX-YY phase per station.
    delay_range_s
        Largest delay searched (either sign). Must stay below ``1/(2 * channel spacing)``,
        beyond which delays alias.
    n_iter
        Gauss-Newton iterations after the grid search.

    Returns
    -------
    PolAlignFit
        Delays, offsets, rms residuals and point counts per station. Stations without
        valid data (or too few channels) get NaN and a :class:`LofarHiresWarning`.

    Raises
    ------
    InputError
        On mismatched shapes, a reference index out of range, bad frequencies or
        weights, or when every point is flagged.
    """
    xx = check_values("phase_xx", phase_xx, 3, "time, freq, ant")
    yy = check_values("phase_yy", phase_yy, 3, "time, freq, ant")
    if xx.shape != yy.shape:
        raise InputError(f"phase_xx has shape {xx.shape} but phase_yy has shape {yy.shape}; "
                         "both must be (time, freq, ant)")
    n_time, n_freq, n_ant = xx.shape
    ref = check_reference(ref, n_ant)
    freqs = check_freqs(freqs_hz, n_freq)
    if not delay_range_s > 0:
        raise InputError(f"delay_range_s must be positive, got {delay_range_s}")
    diff_raw = xx - yy
    w = check_weights(weights, diff_raw, "phase_xx - phase_yy")
    w = reference_weights(w, 2, ref)
    if not np.any(w[..., ref] > 0):
        raise InputError(f"the reference station (index {ref}) has no valid solutions: choose another ref")
    diff = np.nan_to_num(reference_phases(np.nan_to_num(diff_raw), 2, ref))
    log.info("polalign fit: %d times x %d channels x %d stations, reference %d, offset %s",
             n_time, n_freq, n_ant, ref, with_offset)

    # Coarse: coherence of the time-summed phasors over a grid of delays (one small DFT).
    summed = np.sum(w * np.exp(1j * diff), axis=0)  # (freq, ant)
    trial_s = delay_grid_s(freqs, delay_range_s, with_offset)
    score = np.exp(-1j * TWO_PI * np.outer(trial_s, freqs)) @ summed  # (trial, ant)
    best = np.argmax(np.abs(score) if with_offset else score.real, axis=0)
    nu0 = float(np.mean(freqs))
    start = [TWO_PI * nu0 * trial_s[best]]
    if with_offset:
        start.append(np.angle(score[best, np.arange(n_ant)]))

    # Refinement on every (time, channel) point: columns nu/nu0 (and 1 for the offset).
    columns = [np.tile(freqs / nu0, n_time)]
    if with_offset:
        columns.append(np.ones(n_time * n_freq))
    design = np.stack(columns, axis=-1)
    data = diff.reshape(n_time * n_freq, n_ant).T
    wt = w.reshape(n_time * n_freq, n_ant).T
    params, residual, valid = wrapped_least_squares(data, wt, design, np.stack(start, axis=-1), n_iter)

    n_points = np.count_nonzero(wt > 0, axis=1)
    _warn_unfitted(n_points, valid)
    delay = params[:, 0] / (TWO_PI * nu0)
    offset = wrap(params[:, 1]) if with_offset else np.where(valid, 0.0, np.nan)
    rms = weighted_rms(residual, wt, axis=1)
    return PolAlignFit(delay_s=delay, offset_rad=offset, rms_rad=rms, n_points=n_points, ref=ref)


def _warn_unfitted(n_points: np.ndarray, valid: np.ndarray) -> None:
    empty = np.flatnonzero(n_points == 0)
    if empty.size:
        warnings.warn(f"polalign: stations {empty.tolist()} have no valid data (all flagged, or the reference "
                      "is flagged where they are not); their delay is NaN", LofarHiresWarning, stacklevel=3)
    few = np.flatnonzero((n_points > 0) & ~valid)
    if few.size:
        warnings.warn(f"polalign: stations {few.tolist()} have too few valid channels to fit; their delay is NaN",
                      LofarHiresWarning, stacklevel=3)


def polalign_soltab_values(fit: PolAlignFit, freqs_hz: np.ndarray) -> np.ndarray:
    """Phases of a DP3 ``phase`` soltab that corrects the fitted misalignment.

    Parameters
    ----------
    fit
        Result of :func:`fit_polalign`.
    freqs_hz
        Channel frequencies ``(freq,)`` of the soltab.

    Returns
    -------
    numpy.ndarray
        ``(freq, ant, pol=2)`` phases (rad, wrapped): 0 for XX and
        ``-(2 pi nu delay_s + offset_rad)`` for YY. These are the gains themselves, so
        DP3's applycal (which divides by the gains) removes the misalignment. Stations
        that could not be fitted are NaN (applycal then flags their data).
    """
    freqs = np.asarray(freqs_hz, dtype=float)
    if freqs.ndim != 1 or freqs.size == 0:
        raise InputError(f"freqs_hz must be a non-empty 1-D array, got shape {freqs.shape}")
    yy = -(TWO_PI * freqs[:, None] * fit.delay_s[None, :] + fit.offset_rad[None, :])
    out = np.zeros(yy.shape + (2,))
    out[..., 0] = np.where(np.isfinite(yy), 0.0, np.nan)
    out[..., 1] = wrap(yy)
    return out


@dataclass(frozen=True)
class ReferenceDelayFit:
    """Result of :func:`fit_reference_delay`.

    Attributes
    ----------
    delay_s
        Absolute XX-YY delay of the reference station (the XX-YY phase of its gains is
        ``2 pi nu delay_s``, modulo pi where the solver took the other branch).
    coherence
        Length of the mean phasor of the doubled residual phases after the fit (1: every
        point agrees; near 0: the data do not define the delay).
    flipped_fraction
        Fraction of the (time, channel) points of the solve that sit on the other branch
        (their X-Y phase is nearer ``delay model + pi``).
    alias_delay_s, alias_coherence
        The next best delay (another peak of the coherence) and its coherence, as :attr:`coherence`
        is computed (NaN when there is none). On a narrow band the delays that differ by about
        ``1 / (2 nu)`` (half a turn of X-Y phase at the band centre) come close: the nearer
        ``alias_coherence`` is to ``coherence``, the less sure the choice, and with it the sign of
        the rotation measure.
    """

    delay_s: float
    coherence: float
    flipped_fraction: float
    alias_delay_s: float = float("nan")
    alias_coherence: float = float("nan")


def fit_reference_delay(phase_xx: np.ndarray, phase_yy: np.ndarray, weights: np.ndarray, freqs_hz: np.ndarray,
                        relative: PolAlignFit, *, delay_range_s: float = 100e-9, n_iter: int = 5
                        ) -> ReferenceDelayFit:
    """The absolute XX-YY delay of the reference station, free of the X-Y sign ambiguity.

    Removing the relative alignment ``relative`` (from :func:`fit_polalign`) from each
    station's XX-YY phase leaves the reference station's own XX-YY phase, plus pi at the
    (time, channel) points where the solver took the other branch (see the module
    description). The doubled phase does not see that pi: the pooled phasors of the
    doubled residuals (over times and stations) are fitted by a pure delay, by a grid
    search of their coherence and Gauss-Newton on the wrapped residuals.

    Parameters
    ----------
    phase_xx, phase_yy
        Phases (rad) of the XX and YY gain solutions, ``(time, freq, ant)``.
    weights
        Weights ``(time, freq, ant)``.
    freqs_hz
        Channel frequencies ``(freq,)``.
    relative
        The relative alignment of the same solutions.
    delay_range_s
        Largest absolute delay searched (either sign).
    n_iter
        Gauss-Newton iterations.

    Raises
    ------
    InputError
        On mismatched shapes, or when no station has both data and an alignment.
    """
    xx = check_values("phase_xx", phase_xx, 3, "time, freq, ant")
    yy = check_values("phase_yy", phase_yy, 3, "time, freq, ant")
    if xx.shape != yy.shape or xx.shape[2] != len(relative.delay_s):
        raise InputError(f"phases {xx.shape} / {yy.shape} do not match the {len(relative.delay_s)} stations of the "
                         "relative alignment")
    freqs = check_freqs(freqs_hz, xx.shape[1])
    w = check_weights(weights, xx - yy, "phase_xx - phase_yy")
    known = np.isfinite(relative.delay_s) & np.isfinite(relative.offset_rad)
    w = np.where(known[None, None, :], w, 0.0)
    if not np.any(w > 0):
        raise InputError("no station has both valid solutions and a fitted alignment")
    model = TWO_PI * freqs[:, None] * np.nan_to_num(relative.delay_s)[None, :] + np.nan_to_num(relative.offset_rad)
    residual = np.nan_to_num(xx - yy) - model[None]
    doubled_data = w * np.exp(2j * residual)
    best = _pooled_delay_fit(np.sum(doubled_data, axis=(0, 2)), freqs, delay_range_s, n_iter)
    # A time slot whose solve had not settled (DDECal stopped at maxiter with the common X-Y phase still
    # moving) can pull the pooled phases towards the alias: slots much less coherent with the fit than
    # the typical slot are left out and the delay fitted again.
    slot = _slot_coherence(doubled_data, w, freqs, float(best.params[0]) / (TWO_PI * float(np.mean(freqs))))
    typical = float(np.nanmedian(slot))
    kept = np.nan_to_num(slot, nan=-1.0) >= typical - 3.0 * (1.0 - typical)
    if not np.all(kept | np.isnan(slot)):
        best = _pooled_delay_fit(np.sum(doubled_data[kept], axis=(0, 2)), freqs, delay_range_s, n_iter)
        log.info("reference station X-Y delay: %d of %d time slots left out (their doubled X-Y phases are "
                 "incoherent with the others')", int(np.sum(~kept & np.isfinite(slot))), len(slot))
    nu0 = float(np.mean(freqs))
    w = np.where(kept[:, None, None], w, 0.0)
    delay = float(best.params[0] / (TWO_PI * nu0)) / 2.0
    alias_delay = float(best.alias_params[0] / (TWO_PI * nu0)) / 2.0
    doubled = np.exp(1j * (2.0 * residual - 2.0 * TWO_PI * freqs[None, :, None] * delay))
    coherence = float(np.abs(np.sum(w * doubled)) / np.sum(w))
    alias = np.exp(1j * (2.0 * residual - 2.0 * TWO_PI * freqs[None, :, None] * np.nan_to_num(alias_delay)))
    alias_coherence = float(np.abs(np.sum(w * alias)) / np.sum(w)) if np.isfinite(alias_delay) else float("nan")
    single = wrap(residual - TWO_PI * freqs[None, :, None] * delay)
    flipped = float(np.sum(w * (np.abs(single) > np.pi / 2)) / np.sum(w))
    log.info("reference station X-Y delay %.3f ns (coherence of the doubled phases %.4f; next best %.3f ns with "
             "%.4f; %.0f %% of the solutions on the other X-Y branch)", delay * 1e9, coherence, alias_delay * 1e9,
             alias_coherence, 100 * flipped)
    return ReferenceDelayFit(delay_s=delay, coherence=coherence, flipped_fraction=flipped,
                             alias_delay_s=alias_delay, alias_coherence=alias_coherence)


def _pooled_delay_fit(pooled: np.ndarray, freqs: np.ndarray, delay_range_s: float, n_iter: int) -> PeakFit:
    """Twice the delay (as the phase ``2 pi nu0 * 2 delay`` at the mean frequency ``nu0``) from pooled doubled
    X-Y phasors ``(freq,)``: the best few peaks of a coherence grid, refined (:func:`refine_peaks`)."""
    amp = np.abs(pooled)
    if not np.any(amp > 0):
        raise InputError("the X-Y phases of the solutions are incoherent: cannot fit the reference delay")
    trial = delay_grid_s(freqs, 2.0 * delay_range_s, with_offset=False)  # trial values of 2 * delay
    score = np.real(np.exp(-1j * TWO_PI * np.outer(trial, freqs)) @ pooled)
    # The grid point nearest the true delay can lose more coherence than a peak half a turn of X-Y
    # phase away (at the band centre) has: on a narrow band such an alias is hardly suppressed. The
    # best few peaks of the grid are refined, and the refined coherences decide.
    peaks, found = grid_peaks(score, N_REFINED_PEAKS)
    nu0 = float(np.mean(freqs))
    best = refine_peaks(np.angle(pooled), amp / amp.max(), (freqs / nu0)[:, None],
                        (TWO_PI * nu0 * trial[peaks])[:, None], found, n_iter)
    if not best.valid:
        raise InputError("cannot fit the reference station's X-Y delay (singular fit)")
    return best


def _slot_coherence(doubled: np.ndarray, weights: np.ndarray, freqs: np.ndarray, twice_delay_s: float) -> np.ndarray:
    """``(time,)`` length of the mean doubled X-Y phasor of each slot after removing ``2 pi nu * twice_delay_s``
    (NaN for a slot without data); ``doubled`` holds the weighted phasors ``(time, freq, ant)``."""
    phasor = np.sum(doubled * np.exp(-1j * TWO_PI * freqs * twice_delay_s)[None, :, None], axis=(1, 2))
    total = np.sum(weights, axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.abs(phasor) / total, np.nan)

