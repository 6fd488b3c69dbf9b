"""How well a band separates clock from TEC, and the combined delay fit for bands that cannot.

Clock (phase proportional to frequency) and first-order ionosphere (inversely
proportional) are nearly degenerate over a narrow band. :func:`clocktec_separability`
gives the errors a separation would have, from the Fisher information of the model for
the channels used and the phase noise, and how far the nearest alias is; where they are
too large, :func:`fit_combined_delay` fits one delay that holds both (a
quantity the data cannot determine is reported as such, never as a value).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from lofar_hires.calibration.clocktec import ClockTecFit, _Band, _symmetric_grid
from lofar_hires.calibration.phases import (
    TWO_PI,
    alias_free_delay_s,
    check_freqs,
    check_reference,
    check_values,
    check_weights,
    model_free_noise,
    reference_phases,
    reference_weights,
    weighted_rms,
    wrap,
    wrapped_least_squares,
)
from lofar_hires.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Separability:
    """How well a band separates clock from TEC, per series (:func:`clocktec_separability`).

    Attributes
    ----------
    sigma_clock_s, sigma_tec_tecu
        Expected (1 sigma) errors of one fit without offset, from the Fisher information of
        the model for the channels and phase noise given.
    correlation
        Correlation coefficient of the two errors (near -1: nearly degenerate).
    alias_chi2
        Chi-square distance of the nearest alias (clock and TEC shifted together so that the
        phase changes by about ``2 pi`` at every channel): below ~25 (summed over the times
        of a track) the fit cannot tell the aliases apart.
    """

    sigma_clock_s: np.ndarray
    sigma_tec_tecu: np.ndarray
    correlation: np.ndarray
    alias_chi2: np.ndarray


def clocktec_separability(freqs_hz: np.ndarray, weights: np.ndarray, noise_rad: np.ndarray | float) -> Separability:
    """Expected clock and TEC errors of the fit of :func:`separate_clock_tec` (without offset).

    Parameters
    ----------
    freqs_hz
        Channel frequencies ``(freq,)``.
    weights
        ``(..., freq)`` 1 where a channel is used, 0 where flagged.
    noise_rad
        ``(...)`` rms phase noise of one (referenced) solution.

    Returns
    -------
    Separability
        Arrays of shape ``(...)``; NaN where fewer than 2 channels are used.
    """
    freqs = np.asarray(freqs_hz, dtype=float)
    band = _Band.from_freqs(freqs)
    w = (np.asarray(weights, dtype=float) > 0).astype(float)
    basis = np.stack([band.u, 1.0 / band.u], axis=-1)  # (freq, 2)
    normal = np.einsum("...n,np,nq->...pq", w, basis, basis)
    det = normal[..., 0, 0] * normal[..., 1, 1] - normal[..., 0, 1] ** 2
    ok = (np.sum(w, axis=-1) >= 2) & (det > 1e-12 * np.maximum(normal[..., 0, 0] * normal[..., 1, 1], 1e-300))
    det = np.where(ok, det, np.nan)
    noise = np.asarray(noise_rad, dtype=float)
    var_a = noise**2 * normal[..., 1, 1] / det
    var_b = noise**2 * normal[..., 0, 0] / det
    cov = -noise**2 * normal[..., 0, 1] / det
    misfit = TWO_PI * (basis @ band.alias - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        alias_chi2 = np.where(ok, np.sum(w * misfit**2, axis=-1) / noise**2, np.nan)
        corr = cov / np.sqrt(var_a * var_b)
    clock, tec = band.to_physical(np.sqrt(var_a), np.sqrt(var_b))
    return Separability(sigma_clock_s=clock, sigma_tec_tecu=np.abs(tec), correlation=corr, alias_chi2=alias_chi2)


def fit_combined_delay(phase: np.ndarray, weights: np.ndarray, freqs_hz: np.ndarray, ref: int, *,
                       clock_range_s: float = 200e-9, n_iter: int = 4) -> ClockTecFit:
    """One delay plus a phase offset per time and station, for bands that cannot separate clock and TEC.

    Model: ``phase - phase[ref] = 2 pi nu delay_s + offset (mod 2 pi)``: the delay holds the
    clock and the slope of the ionospheric phase over the band together. Returned as a
    :class:`ClockTecFit` whose ``clock_s`` is that combined delay and whose ``tec_tecu`` is NaN.
    """
    values = check_values("phase", phase, 3, "time, freq, ant")
    n_time, n_freq, n_ant = values.shape
    ref = check_reference(ref, n_ant)
    freqs = check_freqs(freqs_hz, n_freq)
    if n_freq < 3:
        raise InputError(f"a delay and a phase offset need at least 3 channels, got {n_freq}")
    w = reference_weights(check_weights(weights, values, "phase"), 2, ref)
    clock_range_s = min(clock_range_s, alias_free_delay_s(freqs))
    data = np.moveaxis(np.nan_to_num(reference_phases(np.nan_to_num(values), 2, ref)), 1, 2).reshape(-1, n_freq)
    wt = np.moveaxis(w, 1, 2).reshape(-1, n_freq)
    nu0 = float(np.mean(freqs))
    step = 1.0 / (6.0 * max(freqs[-1] - freqs[0], 1.0))
    trial = _symmetric_grid(clock_range_s, step)
    score = (wt * np.exp(1j * data)) @ np.exp(-1j * TWO_PI * np.outer(freqs, trial))
    best = np.argmax(np.abs(score), axis=-1)
    start = np.stack([TWO_PI * nu0 * trial[best], np.angle(score[np.arange(len(best)), best])], axis=-1)
    design = np.stack([freqs / nu0, np.ones(n_freq)], axis=-1)
    params, residual, valid = wrapped_least_squares(data, wt, design, start, n_iter)
    usable = valid & (np.count_nonzero(wt > 0, axis=-1) >= 3)
    delay = params[:, 0] / (TWO_PI * nu0)
    bound = np.abs(delay) > clock_range_s - 2 * step

    def grid(x: np.ndarray) -> np.ndarray:
        return np.where(usable, x, np.nan).reshape(n_time, n_ant)

    log.info("combined delay fit: %d times x %d channels x %d stations (clock and TEC not separated)",
             n_time, n_freq, n_ant)
    return ClockTecFit(clock_s=grid(delay), tec_tecu=np.full((n_time, n_ant), np.nan),
                       offset_rad=grid(wrap(params[:, 1])), rms_rad=grid(weighted_rms(residual, wt, axis=-1)),
                       weights=usable.reshape(n_time, n_ant).astype(float), ref=ref,
                       at_bound=(bound & usable).reshape(n_time, n_ant),
                       clock_range_s=np.full(n_ant, clock_range_s), tec_range_tecu=np.full(n_ant, np.nan),
                       noise_rad=model_free_noise(np.moveaxis(data.reshape(n_time, n_ant, n_freq), 2, 1),
                                                  np.moveaxis(wt.reshape(n_time, n_ant, n_freq), 2, 1)),
                       poor=np.zeros(n_ant, dtype=bool))
