"""Clock/TEC separation: station clock delays and first-order ionosphere from phases.

After polarisation alignment, Faraday rotation and bandpass are applied, the phases
of a diagonal solve hold a clock delay (``2 pi nu clock_s``) and the first-order
ionospheric delay (``K tec_tecu / nu``, ``K = -8.44797245e9``) per time and station
(de Gasperin et al. 2019, sect. 2.1, 2.3 and 4.5). Writing ``u = nu / nu0`` the model is
``phase = a u + b / u (+ offset)`` with ``a = 2 pi nu0 clock_s`` and ``b = K tec_tecu / nu0``.

Over a typical HBA band the two terms are nearly degenerate: ``(a, b) -> (a + pi, b + pi)``
changes the phase by an almost constant ``2 pi``, i.e. clock +3.5 ns with TEC -0.054 TECU at
144 MHz. Without an offset term only the small curvature that is left distinguishes such
"aliases", so a fit per time step alone jumps between them when the noise is large. The
algorithm, vectorised over all times and stations:

1. phases relative to the reference station, as phasors;
2. a coarse 2-D grid search of the coherence of the model *with* a free offset (a broad
   maximum, one matrix product for all series), followed by Gauss-Newton on the wrapped
   residuals: this fixes the shape of the phase curve;
3. without offset: the candidate solutions along the degenerate direction, one per
   ``2 pi`` of the fitted offset, each scored by its wrapped misfit (another matrix product);
4. continuity in time: among a few consecutive candidates around each time's best one, a
   dynamic programme (Viterbi, vectorised over stations) picks the track with the least
   misfit plus a penalty ``jump_penalty * (d2TEC / alias)**2`` on the second difference of
   TEC over consecutive valid times, so the track does not jump between aliases while
   smooth TEC trends and clock jumps (GPS corrections) cost nothing;
5. Gauss-Newton on the wrapped residuals from the chosen candidate.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from lofar_hires.calibration.phases import (
    TWO_PI,
    check_freqs,
    check_reference,
    check_values,
    check_weights,
    reference_phases,
    reference_weights,
    weighted_rms,
    wrap,
    wrapped_least_squares,
)
from lofar_hires.errors import InputError, LofarHiresWarning
from lofar_hires.simulation.corruptions import TEC_PHASE_CONSTANT

log = logging.getLogger(__name__)

#: Series per block of the grid search (bounds the memory of the coherence matrix).
_BLOCK = 2048
#: Penalty (in negative log-likelihood) on candidates outside the search ranges.
_OUT_OF_RANGE = 1e6


@dataclass(frozen=True)
class ClockTecFit:
    """Result of :func:`separate_clock_tec` (all relative to the reference station).

    Attributes
    ----------
    clock_s
        ``(time, ant)`` clock delay; NaN where not fitted.
    tec_tecu
        ``(time, ant)`` differential TEC; NaN where not fitted.
    offset_rad
        ``(time, ant)`` constant phase in ``(-pi, pi]`` (0 without ``with_offset``).
    rms_rad
        ``(time, ant)`` weighted rms of the wrapped phase residuals.
    weights
        ``(time, ant)`` 1 where fitted, 0 where there was no (or too little) data.
    ref
        Index of the reference station.
    """

    clock_s: np.ndarray
    tec_tecu: np.ndarray
    offset_rad: np.ndarray
    rms_rad: np.ndarray
    weights: np.ndarray
    ref: int


@dataclass(frozen=True)
class _Band:
    """Frequency basis of the fit: ``u = nu/nu0`` and the alias direction."""

    nu0_hz: float
    u: np.ndarray
    alias: np.ndarray  # (2,): (alpha, beta), least-squares fit of a constant 1 by (u, 1/u)

    @staticmethod
    def from_freqs(freqs_hz: np.ndarray) -> _Band:
        nu0 = float(np.mean(freqs_hz))
        u = freqs_hz / nu0
        basis = np.stack([u, 1.0 / u], axis=-1)
        alias = np.linalg.lstsq(basis, np.ones_like(u), rcond=None)[0]
        return _Band(nu0, u, alias)

    def to_physical(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a / (TWO_PI * self.nu0_hz), b * self.nu0_hz / TEC_PHASE_CONSTANT

    def from_physical(self, clock_s: float, tec_tecu: float) -> tuple[float, float]:
        return TWO_PI * self.nu0_hz * clock_s, TEC_PHASE_CONSTANT * tec_tecu / self.nu0_hz


def separate_clock_tec(phase: np.ndarray, weights: np.ndarray, freqs_hz: np.ndarray, ref: int, *,
                       with_offset: bool = False, clock_range_s: float = 200e-9, tec_range_tecu: float = 3.0,
                       jump_penalty: float = 10.0, n_candidates: int = 9, n_iter: int = 4) -> ClockTecFit:
    """Least-squares clock and TEC per time and station, robust to phase wrapping.

    Model: ``phase - phase[ref] = 2 pi nu clock_s + K tec_tecu / nu (+ offset) (mod 2 pi)``
    with ``K = TEC_PHASE_CONSTANT = -8.44797245e9``.

    Parameters
    ----------
    phase
        Phases (rad) ``(time, freq, ant)`` of one polarisation (or the mean of XX and YY);
        NaN counts as flagged. The time axis must be in time order (for the continuity).
    weights
        Weights ``(time, freq, ant)`` (0 = flagged).
    freqs_hz
        Channel frequencies ``(freq,)``, strictly increasing.
    ref
        Index of the reference station.
    with_offset
        Also fit a constant phase per time and station (clock and TEC are then only
        separated by the curvature of the phase over the band, with much larger errors).
    clock_range_s, tec_range_tecu
        Search ranges (either sign).
    jump_penalty
        Weight of the continuity term: negative log-likelihood per squared second difference
        of TEC over consecutive valid times, in alias steps (about 0.054 TECU at 144 MHz); a
        jump to a neighbouring alias costs about twice this. 0 fits every time independently.
        Only used without ``with_offset``. Assumes that TEC varies smoothly on the time scale
        of the solution interval (its second difference well below one alias step).
    n_candidates
        Alias candidates per time for the continuity step: consecutive aliases centred on
        each time's best one.
    n_iter
        Gauss-Newton iterations in each refinement.

    Returns
    -------
    ClockTecFit
        Clock, TEC, offset, rms and weights per time and station. A (time, station) needs
        at least 3 valid channels (4 with an offset); stations with none at any time get
        NaN and a :class:`LofarHiresWarning`.

    Raises
    ------
    InputError
        On mismatched shapes, a reference index out of range, bad frequencies, weights
        or settings, or when every point is flagged.
    """
    values = check_values("phase", phase, 3, "time, freq, ant")
    n_time, n_freq, n_ant = values.shape
    ref = check_reference(ref, n_ant)
    freqs = check_freqs(freqs_hz, n_freq)
    for name, value in (("clock_range_s", clock_range_s), ("tec_range_tecu", tec_range_tecu)):
        if not value > 0:
            raise InputError(f"{name} must be positive, got {value}")
    for name, value, low in (("jump_penalty", jump_penalty, 0), ("n_candidates", n_candidates, 1),
                             ("n_iter", n_iter, 1)):
        if not value >= low:
            raise InputError(f"{name} must be >= {low}, got {value}")
    if n_freq < 3 + with_offset:
        raise InputError(f"clock/TEC separation needs at least {3 + with_offset} channels, got {n_freq}")
    w = reference_weights(check_weights(weights, values, "phase"), 2, ref)
    if not np.any(w[..., ref] > 0):
        raise InputError(f"the reference station (index {ref}) has no valid solutions: choose another ref")
    band = _Band.from_freqs(freqs)
    a_max, b_max = np.abs(band.from_physical(clock_range_s, tec_range_tecu))
    log.info("clock/TEC separation: %d times x %d channels x %d stations, reference %d, |clock| <= %g ns, "
             "|TEC| <= %g TECU, offset %s, jump penalty %g", n_time, n_freq, n_ant, ref, clock_range_s * 1e9,
             tec_range_tecu, with_offset, jump_penalty)

    # Series (time * ant, freq) of referenced phases.
    data = np.moveaxis(np.nan_to_num(reference_phases(np.nan_to_num(values), 2, ref)), 1, 2).reshape(-1, n_freq)
    wt = np.moveaxis(w, 1, 2).reshape(-1, n_freq)
    n_chan = np.count_nonzero(wt > 0, axis=-1)
    usable = n_chan >= 3 + with_offset

    start = _grid_search(data, wt, band, a_max, b_max)
    design3 = np.stack([band.u, 1.0 / band.u, np.ones(n_freq)], axis=-1)
    params, residual, valid = wrapped_least_squares(data, wt, design3, start, n_iter)
    usable &= valid
    if not with_offset:
        a, b = _choose_alias(data, wt, band, np.nan_to_num(params), usable, (n_time, n_ant), a_max, b_max,
                             jump_penalty, n_candidates)
        params, residual, valid = wrapped_least_squares(data, wt, design3[:, :2], np.stack([a, b], axis=-1),
                                                        n_iter)
        usable &= valid

    clock, tec = band.to_physical(params[:, 0], params[:, 1])
    offset = wrap(params[:, 2]) if with_offset else np.zeros(len(data))
    rms = weighted_rms(residual, wt, axis=-1)

    def grid(x: np.ndarray) -> np.ndarray:
        return np.where(usable, x, np.nan).reshape(n_time, n_ant)

    fitted = usable.reshape(n_time, n_ant)
    none = np.flatnonzero(~np.any(fitted, axis=0))
    if none.size:
        warnings.warn(f"clock/TEC: stations {none.tolist()} have no time with enough valid channels; "
                      "their clock and TEC are NaN", LofarHiresWarning, stacklevel=2)
    return ClockTecFit(clock_s=grid(clock), tec_tecu=grid(tec), offset_rad=grid(offset), rms_rad=grid(rms),
                       weights=fitted.astype(float), ref=ref)


def _grid_search(data: np.ndarray, wt: np.ndarray, band: _Band, a_max: float, b_max: float) -> np.ndarray:
    """Start values ``(n, 3)`` of ``(a, b, offset)`` from the coherence with a free offset.

    The grid is in ``(p, q)`` with ``a = p + q``, ``b = q``: ``p`` sets the slope of the
    phase over the band, ``q`` moves along the nearly degenerate direction, where the
    coherence with a free offset changes only through the curvature, so few ``q`` steps are
    needed. Steps keep the phase error of the nearest grid point below ``pi/6`` at any channel.
    """
    u = band.u
    h = u + 1.0 / u
    step_p = np.pi / (3.0 * max(np.ptp(u), 1e-12))
    step_q = np.pi / (3.0 * max(np.ptp(h), 1e-12))
    q = _symmetric_grid(b_max, step_q)
    p = _symmetric_grid(a_max + b_max, step_p)
    pp, qq = np.meshgrid(p, q, indexing="ij")
    keep = np.abs(pp + qq) <= a_max + step_p
    pp, qq = pp[keep], qq[keep]
    kernel = np.exp(-1j * (np.outer(u, pp) + np.outer(h, qq))).astype(np.complex64)  # (freq, grid)
    phasors = (wt * np.exp(1j * data)).astype(np.complex64)
    best = np.empty(len(data), dtype=int)
    value = np.empty(len(data), dtype=complex)
    for lo in range(0, len(data), _BLOCK):
        score = phasors[lo:lo + _BLOCK] @ kernel
        k = np.argmax(np.abs(score), axis=-1)
        best[lo:lo + _BLOCK] = k
        value[lo:lo + _BLOCK] = score[np.arange(len(k)), k]
    log.debug("clock/TEC grid search: %d trial points per series", len(pp))
    return np.stack([pp[best] + qq[best], qq[best], np.angle(value)], axis=-1)


def _symmetric_grid(limit: float, step: float) -> np.ndarray:
    n = int(np.ceil(limit / step))
    return np.arange(-n, n + 1) * step


def _choose_alias(data: np.ndarray, wt: np.ndarray, band: _Band, params: np.ndarray, usable: np.ndarray,
                  shape: tuple[int, int], a_max: float, b_max: float, jump_penalty: float,
                  n_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """Start values ``(a, b)`` without offset: the chosen alias candidate of each series.

    Candidate ``m`` of a series fitted with offset ``o`` is ``(a, b) + (o + 2 pi m)(alpha, beta)``,
    the least-squares no-offset curve closest to the fitted one shifted by ``2 pi m``. Each
    series keeps the ``n_candidates`` consecutive candidates around its best one (blocks of
    series bound the memory); the continuity step then picks one of them.
    """
    alpha, beta = band.alias
    m_max = int(np.ceil(2.0 * max(a_max / abs(alpha), b_max / abs(beta)) / TWO_PI)) + 1
    m = np.arange(-m_max, m_max + 1)
    half = min(n_candidates // 2, m_max) if jump_penalty > 0 else 0
    n = len(data)
    mean_sq = np.empty((n, 2 * half + 1))
    outside = np.empty((n, 2 * half + 1), dtype=bool)
    cand = np.empty((n, 2 * half + 1, 2))
    best_ms = np.empty(n)
    for lo in range(0, n, _BLOCK):
        sl = slice(lo, lo + _BLOCK)
        ms, out, ab = _alias_candidates(data[sl], wt[sl], band, params[sl], m, a_max, b_max)
        ms = np.where(usable[sl, None], ms, 0.0)
        best = np.argmin(_OUT_OF_RANGE * out + ms, axis=-1)  # in range first, then least misfit
        keep = np.clip(best, half, len(m) - 1 - half)[:, None] + np.arange(-half, half + 1)
        mean_sq[sl] = np.take_along_axis(ms, keep, axis=-1)
        outside[sl] = np.take_along_axis(out, keep, axis=-1)
        cand[sl] = np.take_along_axis(ab, keep[..., None], axis=1)
        best_ms[sl] = np.where(out[np.arange(len(best)), best] | ~usable[sl], np.nan,
                               ms[np.arange(len(best)), best])
    if half == 0:
        return cand[:, 0, 0], cand[:, 0, 1]

    # Negative log-likelihood, with the noise variance of each station from its best candidates.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # stations without any usable time
        noise_var = np.fmax(np.nan_to_num(np.nanmedian(best_ms.reshape(shape), axis=0), nan=1.0), 1e-6)
    n_chan = np.count_nonzero(wt > 0, axis=-1).reshape(shape + (1,))
    nll = 0.5 * n_chan * mean_sq.reshape(shape + (-1,)) / noise_var[None, :, None]
    nll = nll + _OUT_OF_RANGE * outside.reshape(shape + (-1,))
    position = cand[..., 1] / (TWO_PI * beta)  # consecutive candidates are exactly one step apart
    choice = _viterbi(nll, position.reshape(shape + (-1,)), usable.reshape(shape), jump_penalty).reshape(-1)
    chosen = np.take_along_axis(cand, choice[:, None, None], axis=1)[:, 0]
    return chosen[:, 0], chosen[:, 1]


def _alias_candidates(data: np.ndarray, wt: np.ndarray, band: _Band, params: np.ndarray, m: np.ndarray,
                      a_max: float, b_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Misfit of every alias candidate of a block of series.

    Returns the weighted mean square of the wrapped residuals ``(n, cand)`` (from
    ``sum w (1 - cos r) = sum w - Re(sum w exp(i r))``, one matrix product), whether each
    candidate is outside the search ranges, and the candidates ``(n, cand, 2)`` as ``(a, b)``.
    """
    alpha, beta = band.alias
    u = band.u
    g = alpha * u + beta / u
    a, b, o = params[:, 0], params[:, 1], wrap(params[:, 2])
    base = data - (a[:, None] * u + b[:, None] / u) - o[:, None] * g
    score = (wt * np.exp(1j * base)) @ np.exp(-1j * TWO_PI * np.outer(g, m))  # (n, cand)
    total_w = np.sum(wt, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sq = 2.0 * (total_w - score.real) / total_w
    shift = o[:, None] + TWO_PI * m
    cand = np.stack([a[:, None] + alpha * shift, b[:, None] + beta * shift], axis=-1)
    outside = (np.abs(cand[..., 0]) > a_max) | (np.abs(cand[..., 1]) > b_max)
    return mean_sq, outside, cand


def _viterbi(nll: np.ndarray, position: np.ndarray, valid: np.ndarray, penalty: float) -> np.ndarray:
    """Least-cost path through candidates over time (second-order smoothness), vectorised over stations.

    The cost of a path is the sum of the candidates' ``nll`` plus ``penalty`` times the
    squared second difference of ``position`` over consecutive valid times. A smooth
    trend costs nothing; a jump by one alias step costs about ``2 * penalty``.

    Parameters
    ----------
    nll
        ``(time, ant, k)`` cost of each candidate.
    position
        ``(time, ant, k)`` position of each candidate along the alias direction (in alias steps).
    valid
        ``(time, ant)``; invalid times are skipped (the path passes through unchanged).
    penalty
        Cost per squared second difference of ``position``.

    Returns
    -------
    numpy.ndarray
        ``(time, ant)`` index of the chosen candidate (0 at invalid times).
    """
    n_time, n_ant, k = nll.shape
    ant = np.arange(n_ant)
    # State at a valid time: (candidate now, candidate at the previous valid time).
    acc = np.zeros((n_ant, k, k))
    back = np.zeros((n_time, n_ant, k, k), dtype=np.int8 if k < 128 else int)
    pos_prev = np.zeros((n_ant, k))
    pos_prev2 = np.zeros((n_ant, k))
    count = np.zeros(n_ant, dtype=int)
    for t in range(n_time):
        now = position[t]
        second = now[:, :, None, None] - 2.0 * pos_prev[:, None, :, None] + pos_prev2[:, None, None, :]
        trans = np.where((count >= 2)[:, None, None, None], penalty * second**2, 0.0)
        total = acc[:, None, :, :] + trans  # (ant, now, prev, prev2)
        j = np.argmin(total, axis=-1)
        new = np.take_along_axis(total, j[..., None], axis=-1)[..., 0] + nll[t][:, :, None]
        ok = valid[t]
        acc = np.where(ok[:, None, None], new, acc)
        back[t] = j
        pos_prev2 = np.where(ok[:, None], pos_prev, pos_prev2)
        pos_prev = np.where(ok[:, None], now, pos_prev)
        count += ok
    flat = np.argmin(acc.reshape(n_ant, -1), axis=-1)
    s_now, s_prev = flat // k, flat % k
    choice = np.zeros((n_time, n_ant), dtype=int)
    for t in range(n_time - 1, -1, -1):
        ok = valid[t]
        choice[t] = np.where(ok, s_now, 0)
        before = back[t][ant, s_now, s_prev]
        s_now, s_prev = np.where(ok, s_prev, s_now), np.where(ok, before, s_prev)
    return choice
