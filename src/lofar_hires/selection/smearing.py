"""Bandwidth and time-average smearing, and the largest averaging a facet can take.

A source at distance ``r`` from the phase centre loses peak brightness when the
visibilities are averaged in frequency (bandwidth smearing) or in time
(time-average smearing). For a Gaussian restoring beam of FWHM ``theta`` the
reductions of the peak, ``I / I0``, are (Bridle & Schwab 1999, eqs. 18-24 and
18-43):

* bandwidth, square bandpass of fractional width ``beta = dnu / nu``::

      I/I0 = sqrt(pi) / (2 sqrt(ln 2)) * theta / (beta r) * erf(sqrt(ln 2) beta r / theta)

* time, averaging time ``dt`` in seconds, declination 90 deg (the worst case)::

      I/I0 ~ 1 - 1.2288710615e-9 * (dt r / theta)^2

  The coefficient is ``(ln 2 / 3) omega_e^2`` with ``omega_e`` the Earth's
  rotation rate (rad/s).

:func:`suggest_averaging` picks the largest averaging (whole integration times,
whole channels) whose combined reduction stays above ``1 - max_loss`` at a
given distance, for a target resolution and the lowest frequency of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf

from lofar_hires.errors import InputError

#: Time-smearing coefficient of Bridle & Schwab (1999), eq. 18-43, per s^2.
TIME_SMEARING_COEFF_PER_S2 = 1.2288710615e-9
#: Arguments below this use the series of the bandwidth formula (avoids 0/0).
_SMALL_ARGUMENT = 1e-4
#: Largest averaging factor looked at when the channel count is unknown.
MAX_FACTOR = 1_000_000


def bandwidth_smearing_factor(distance_deg: ArrayLike, resolution_arcsec: float, chan_width_hz: ArrayLike,
                              freq_hz: ArrayLike) -> np.ndarray:
    """Peak-brightness reduction ``I/I0`` by bandwidth smearing (square bandpass, Gaussian beam).

    Parameters
    ----------
    distance_deg
        Distance of the source from the phase centre (deg).
    resolution_arcsec
        FWHM of the restoring beam (arcsec).
    chan_width_hz
        Width of the averaged channel (Hz); 0 means no averaging.
    freq_hz
        Observing frequency (Hz); use the lowest frequency for the worst case.

    Returns
    -------
    numpy.ndarray
        ``I/I0`` in (0, 1]; 1 for no averaging or a source at the phase centre.
    """
    r = np.asarray(distance_deg, dtype=float) * 3600.0
    beta = np.asarray(chan_width_hz, dtype=float) / np.asarray(freq_hz, dtype=float)
    x = math.sqrt(math.log(2.0)) * beta * r / float(resolution_arcsec)
    safe = np.where(x < _SMALL_ARGUMENT, 1.0, x)
    exact = math.sqrt(math.pi) / (2.0 * safe) * erf(safe)
    return np.where(x < _SMALL_ARGUMENT, 1.0 - x**2 / 3.0, exact)


def time_smearing_factor(distance_deg: ArrayLike, resolution_arcsec: float, averaging_s: ArrayLike) -> np.ndarray:
    """Peak-brightness reduction ``I/I0`` by time-average smearing at declination 90 deg (worst case).

    Parameters
    ----------
    distance_deg
        Distance of the source from the phase centre (deg).
    resolution_arcsec
        FWHM of the restoring beam (arcsec).
    averaging_s
        Averaging time (s); 0 means no averaging.

    Returns
    -------
    numpy.ndarray
        ``I/I0`` in [0, 1] (the quadratic approximation, floored at 0).
    """
    ratio = np.asarray(distance_deg, dtype=float) * 3600.0 / float(resolution_arcsec)
    arg = np.asarray(averaging_s, dtype=float) * ratio
    return np.clip(1.0 - TIME_SMEARING_COEFF_PER_S2 * arg**2, 0.0, 1.0)


@dataclass(frozen=True)
class DataResolution:
    """Time and frequency resolution of the data to be averaged.

    ``n_chan`` is the number of channels when known (then the channel averaging
    factor divides it); ``freq_min_hz`` is the lowest channel frequency.
    """

    integration_s: float
    chan_width_hz: float
    freq_min_hz: float
    n_chan: int | None = None

    def __post_init__(self) -> None:
        for key in ("integration_s", "chan_width_hz", "freq_min_hz"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{key} must be a positive number, got {value}")
        if self.n_chan is not None and self.n_chan < 1:
            raise InputError(f"n_chan must be >= 1, got {self.n_chan}")


@dataclass(frozen=True)
class AveragingSuggestion:
    """The largest averaging that keeps the smearing loss within bounds at ``distance_deg``.

    ``meets_target`` is false when even the unaveraged data lose more than the
    allowed fraction (the factors are then 1).
    """

    time_factor: int
    chan_factor: int
    time_s: float
    chan_width_hz: float
    bandwidth_reduction: float
    time_reduction: float
    reduction: float
    distance_deg: float
    meets_target: bool


def _divisors(n: int) -> np.ndarray:
    small = np.arange(1, math.isqrt(n) + 1)
    small = small[n % small == 0]
    return np.unique(np.concatenate([small, n // small]))


def _max_chan_factor(distance_deg: float, resolution_arcsec: float, data: DataResolution, target: float) -> int:
    """The largest channel factor whose bandwidth reduction alone is >= target (by doubling, then bisection)."""
    def ok(c: int) -> bool:
        return bool(bandwidth_smearing_factor(distance_deg, resolution_arcsec, c * data.chan_width_hz,
                                              data.freq_min_hz) >= target)

    if not ok(1):
        return 1
    lo, hi = 1, 2
    while hi < MAX_FACTOR and ok(hi):
        lo, hi = hi, hi * 2
    if ok(hi):
        return min(hi, MAX_FACTOR)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def suggest_averaging(distance_deg: float, data: DataResolution, resolution_arcsec: float = 0.3,
                      max_loss: float = 0.05) -> AveragingSuggestion:
    """The largest time x frequency averaging with ``I/I0 >= 1 - max_loss`` at ``distance_deg``.

    Candidates are whole numbers of integration times and whole numbers of
    channels (divisors of ``data.n_chan`` when it is known). For each channel
    factor the largest time factor follows from the time-smearing formula; the
    pair with the largest data reduction (time factor x channel factor) wins,
    ties going to the smaller loss.

    Parameters
    ----------
    distance_deg
        Distance from the phase centre to the farthest point that must be
        imaged (a facet's farthest vertex from its centre), deg.
    data
        Resolution of the data (the lowest frequency gives the worst case).
    resolution_arcsec
        Target resolution (restoring-beam FWHM), arcsec.
    max_loss
        Largest acceptable fractional peak-brightness loss, in (0, 1).

    Returns
    -------
    AveragingSuggestion
    """
    if not (math.isfinite(distance_deg) and distance_deg > 0):
        raise InputError(f"distance must be a positive number of degrees, got {distance_deg}")
    if not (math.isfinite(resolution_arcsec) and resolution_arcsec > 0):
        raise InputError(f"resolution must be a positive number of arcsec, got {resolution_arcsec}")
    if not (0.0 < max_loss < 1.0):
        raise InputError(f"the maximum smearing loss is a fraction in (0, 1), got {max_loss}")
    target = 1.0 - max_loss
    if data.n_chan is not None:
        chans = _divisors(data.n_chan)
    else:
        chans = np.arange(1, _max_chan_factor(distance_deg, resolution_arcsec, data, target) + 1)
    bw = bandwidth_smearing_factor(distance_deg, resolution_arcsec, chans * data.chan_width_hz, data.freq_min_hz)
    # Largest t with bw * (1 - C (t dt r/theta)^2) >= target.
    ratio = distance_deg * 3600.0 / resolution_arcsec
    headroom = np.clip(1.0 - target / bw, 0.0, None)
    t_max = np.floor(np.sqrt(headroom / TIME_SMEARING_COEFF_PER_S2) / (data.integration_s * ratio) + 1e-9)
    t_max = np.minimum(t_max, MAX_FACTOR).astype(np.int64)
    times = np.maximum(t_max, 1)
    total = bw * time_smearing_factor(distance_deg, resolution_arcsec, times * data.integration_s)
    feasible = (t_max >= 1) & (total >= target)
    if not feasible.any():
        t, c = 1, 1
    else:
        size = np.where(feasible, times * chans, -1)
        best = np.flatnonzero(size == size.max())
        pick = best[np.argmax(total[best])]
        t, c = int(times[pick]), int(chans[pick])
    bw_c = float(bandwidth_smearing_factor(distance_deg, resolution_arcsec, c * data.chan_width_hz,
                                           data.freq_min_hz))
    time_c = float(time_smearing_factor(distance_deg, resolution_arcsec, t * data.integration_s))
    return AveragingSuggestion(
        time_factor=t, chan_factor=c, time_s=t * data.integration_s, chan_width_hz=c * data.chan_width_hz,
        bandwidth_reduction=bw_c, time_reduction=time_c, reduction=bw_c * time_c, distance_deg=float(distance_deg),
        meets_target=bool(bw_c * time_c >= target))
