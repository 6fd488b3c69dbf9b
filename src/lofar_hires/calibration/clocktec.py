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
   smooth TEC trends and clock jumps (GPS corrections) cost nothing. Misfits count against
   the station's noise, or against the time's own best misfit where that is larger: a time
   that no candidate describes (e.g. the first slots of a DDECal solve that had not yet
   converged) cannot overrule the continuity with misfit differences far below its misfit;
5. Gauss-Newton on the wrapped residuals from the chosen candidate.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from lofar_hires.calibration.phases import (
    TWO_PI,
    alias_free_delay_s,
    check_freqs,
    check_reference,
    check_values,
    check_weights,
    model_free_noise,
    poorly_fitted,
    reference_phases,
    reference_weights,
    weighted_rms,
    wrap,
    wrapped_least_squares,
)
from lofar_hires.errors import InputError, LofarHiresWarning
from lofar_hires.physics import TEC_PHASE_CONSTANT

log = logging.getLogger(__name__)

#: Series per block of the grid search and the alias candidates.
_BLOCK = 2048
#: Largest number of coherence values (series x grid points) held at once in the grid search.
_GRID_VALUES = 4_000_000
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
    at_bound
        ``(time, ant)`` True where the solution lies within one alias step of the search
        range even after widening it to the largest range allowed: the true value may be
        outside; such values must not be used.
    clock_range_s, tec_range_tecu
        ``(ant,)`` the search ranges finally used per station.
    noise_rad
        ``(ant,)`` phase noise of each station's (referenced) solutions estimated without any
        model, from second differences in time (an upper bound where TEC changes fast).
    poor
        ``(ant,)`` the median rms residual exceeds three times ``noise_rad`` (plus 0.02 rad)
        even with the largest ranges: no value within them describes the data.
    """

    clock_s: np.ndarray
    tec_tecu: np.ndarray
    offset_rad: np.ndarray
    rms_rad: np.ndarray
    weights: np.ndarray
    ref: int
    at_bound: np.ndarray
    clock_range_s: np.ndarray
    tec_range_tecu: np.ndarray
    noise_rad: np.ndarray
    poor: np.ndarray


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
                       max_clock_range_s: float | None = None, max_tec_range_tecu: float | None = None,
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
        Initial search ranges (either sign).
    max_clock_range_s, max_tec_range_tecu
        Largest ranges: a station whose solution ends within one alias step of its range, or
        whose residual is poor (more than three times its model-free noise, see
        ``ClockTecFit.noise_rad``: the best value within the range is not the true one), is
        fitted again with both ranges doubled, up to these (default: the initial ranges, i.e.
        no widening). The clock range is also kept below ``1/(2 * channel spacing)``, beyond
        which a clock aliases. Solutions still at the bound are marked ``at_bound``, stations
        still poor ``poor``.
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
        Clock, TEC, offset, rms, weights, bound flags and final ranges per time and station.
        A (time, station) needs at least 3 valid channels (4 with an offset); stations with
        none at any time get NaN and a :class:`LofarHiresWarning`.

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
    clock_limit = alias_free_delay_s(freqs)
    max_clock = min(max(clock_range_s, max_clock_range_s or clock_range_s), clock_limit)
    max_tec = max(tec_range_tecu, max_tec_range_tecu or tec_range_tecu)
    clock_range_s = min(clock_range_s, max_clock)
    log.info("clock/TEC separation: %d times x %d channels x %d stations, reference %d, |clock| <= %g ns "
             "(up to %g), |TEC| <= %g TECU (up to %g), offset %s, jump penalty %g", n_time, n_freq, n_ant, ref,
             clock_range_s * 1e9, max_clock * 1e9, tec_range_tecu, max_tec, with_offset, jump_penalty)
    phases_ref = np.nan_to_num(reference_phases(np.nan_to_num(values), 2, ref))
    settings = dict(with_offset=with_offset, jump_penalty=jump_penalty, n_candidates=n_candidates, n_iter=n_iter)

    noise = model_free_noise(phases_ref, w)
    out = {k: np.full((n_time, n_ant), np.nan) for k in ("clock", "tec", "offset", "rms")}
    fitted = np.zeros((n_time, n_ant), dtype=bool)
    at_bound = np.zeros((n_time, n_ant), dtype=bool)
    poor = np.zeros(n_ant, dtype=bool)
    ranges = np.tile([clock_range_s, tec_range_tecu], (n_ant, 1))
    todo = np.arange(n_ant)
    while todo.size:
        clock_r, tec_r = ranges[todo].max(axis=0)
        part = _separate(phases_ref[..., todo], w[..., todo], band, clock_r, tec_r, **settings)
        for key, value in zip(("clock", "tec", "offset", "rms"), part[:4]):
            out[key][:, todo] = value
        fitted[:, todo], at_bound[:, todo] = part[4], part[5]
        ranges[todo] = (clock_r, tec_r)
        poor[todo] = poorly_fitted(part[3], noise[todo])
        suspect = todo[np.any(part[5], axis=0) | poor[todo]]
        widen = suspect[(ranges[suspect, 0] < max_clock) | (ranges[suspect, 1] < max_tec)]
        if widen.size:
            ranges[widen] = np.minimum(2.0 * ranges[widen], [max_clock, max_tec])
            log.info("clock/TEC: %d station(s) at the edge of the search range or poorly fitted; widening it to "
                     "|clock| <= %g ns, "
                     "|TEC| <= %g TECU", widen.size, ranges[widen, 0].max() * 1e9, ranges[widen, 1].max())
        todo = widen
    none = np.flatnonzero(~np.any(fitted, axis=0))
    if none.size:
        warnings.warn(f"clock/TEC: stations {none.tolist()} have no time with enough valid channels; "
                      "their clock and TEC are NaN", LofarHiresWarning, stacklevel=2)
    stuck = np.flatnonzero(np.any(at_bound & fitted, axis=0))
    if stuck.size:
        log.warning("clock/TEC: stations %s end on the edge of the largest search range (|clock| <= %g ns, "
                    "|TEC| <= %g TECU)", stuck.tolist(), max_clock * 1e9, max_tec)
    return ClockTecFit(clock_s=out["clock"], tec_tecu=out["tec"], offset_rad=out["offset"], rms_rad=out["rms"],
                       weights=fitted.astype(float), ref=ref, at_bound=at_bound & fitted,
                       clock_range_s=ranges[:, 0], tec_range_tecu=ranges[:, 1], noise_rad=noise,
                       poor=poor & np.any(fitted, axis=0))


def _separate(phases_ref: np.ndarray, w: np.ndarray, band: _Band, clock_range_s: float, tec_range_tecu: float, *,
              with_offset: bool, jump_penalty: float, n_candidates: int, n_iter: int):
    """Clock, TEC, offset, rms, fitted and at-bound ``(time, ant)`` of referenced phases within the ranges."""
    n_time, n_freq, n_ant = phases_ref.shape
    a_max, b_max = np.abs(band.from_physical(clock_range_s, tec_range_tecu))
    # Series (time * ant, freq) of referenced phases.
    data = np.moveaxis(phases_ref, 1, 2).reshape(-1, n_freq)
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
    margin_a, margin_b = np.abs(band.alias) * TWO_PI
    with np.errstate(invalid="ignore"):
        bound = (np.abs(params[:, 0]) > a_max - margin_a) | (np.abs(params[:, 1]) > b_max - margin_b)

    def grid(x: np.ndarray) -> np.ndarray:
        return np.where(usable, x, np.nan).reshape(n_time, n_ant)

    return (grid(clock), grid(tec), grid(offset), grid(rms), usable.reshape(n_time, n_ant),
            (bound & usable).reshape(n_time, n_ant))


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
    block = max(1, min(_BLOCK, _GRID_VALUES // max(1, len(pp))))
    for lo in range(0, len(data), block):
        score = phasors[lo:lo + block] @ kernel
        k = np.argmax(np.abs(score), axis=-1)
        best[lo:lo + block] = k
        value[lo:lo + block] = score[np.arange(len(k)), k]
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

    # Negative log-likelihood. The noise variance of a series is its station's (the median of its best
    # candidates' misfits) or, where larger, the misfit of its own best candidate: a series that no candidate
    # describes (a solve that had not converged yet, a phase error the model lacks) must not decide its alias
    # by misfit differences that are small against that misfit; continuity then decides.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # stations without any usable time
        station_var = np.fmax(np.nan_to_num(np.nanmedian(best_ms.reshape(shape), axis=0), nan=1.0), 1e-6)
    noise_var = np.fmax(station_var[None, :], np.nan_to_num(best_ms.reshape(shape), nan=0.0))
    n_chan = np.count_nonzero(wt > 0, axis=-1).reshape(shape + (1,))
    nll = 0.5 * n_chan * mean_sq.reshape(shape + (-1,)) / noise_var[..., None]
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
