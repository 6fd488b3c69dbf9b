"""Self-calibration solutions against the simulator's ground truth.

``lofar-hires simulate`` writes the injected corruptions of every observation to
``<obs>.truth.h5``. The phase a direction-dependent solve towards a direction
should find is the total injected phase towards it::

    phase = TEC_PHASE_CONSTANT * (tec + tecscreen[direction]) / nu + 2 pi nu clock

and the amplitude is the scintillation. A solution over an interval of several
truth time slots represents the phasor (or amplitude) average over those slots,
so the truth is averaged the same way before the comparison. Both solutions and
truth are referenced to a station (phases are differential), and the per-station
error is the rms over time and frequency of the wrapped phase difference, or of
the fractional amplitude difference after the overall flux scale (which a
self-calibration model can shift) is divided out.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab, direction_name, read_h5parm
from lofar_hires.simulation.corruptions import clock_phase_rad, tec_phase_rad

log = logging.getLogger(__name__)

#: Diagonal correlations, per polarisation basis: their mean phasor is the scalar solution.
DIAGONAL_POLS = ("XX", "YY", "RR", "LL")
#: Soltab types that hold phases / amplitudes.
PHASE_TYPES = ("phase", "scalarphase")
AMPLITUDE_TYPES = ("amplitude", "scalaramplitude")


@dataclass(frozen=True)
class PhaseErrors:
    """Per-station rms phase error of solutions against the truth (NaN: no valid value).

    Attributes
    ----------
    per_station_rms_rad
        Station -> rms over time and frequency of the wrapped phase difference.
    reference
        Station the solutions were referenced to.
    direction
        Direction compared (as given by the caller).
    n_values
        Number of (time, frequency, station) values compared.
    """

    per_station_rms_rad: dict[str, float]
    reference: str
    direction: str
    n_values: int

    def worst(self) -> tuple[str, float]:
        """(station, error) of the largest finite error; ``("", nan)`` when there is none."""
        return _worst(self.per_station_rms_rad)


@dataclass(frozen=True)
class AmplitudeErrors:
    """Per-station rms fractional amplitude error against the truth (NaN: no valid value).

    Attributes
    ----------
    per_station_rms_fraction
        Station -> rms over time and frequency of ``ratio / median_over_stations(ratio) - 1``
        with ``ratio = solution / truth``.
    direction
        Direction compared (as given by the caller).
    n_values
        Number of (time, frequency, station) values compared.
    """

    per_station_rms_fraction: dict[str, float]
    direction: str
    n_values: int

    def worst(self) -> tuple[str, float]:
        """(station, error) of the largest finite error; ``("", nan)`` when there is none."""
        return _worst(self.per_station_rms_fraction)


def _worst(errors: dict[str, float]) -> tuple[str, float]:
    finite = {k: v for k, v in errors.items() if np.isfinite(v)}
    if not finite:
        return "", float("nan")
    name = max(finite, key=finite.__getitem__)
    return name, float(finite[name])


# --------------------------------------------------------------------------- truth


def _truth_solset(truth_h5: Path, soltabs: Sequence[str]) -> Solset:
    return read_h5parm(Path(truth_h5), None, list(soltabs))


def _station_index(names: Sequence[str], wanted: Sequence[str], what: str) -> np.ndarray:
    have = [str(n) for n in names]
    missing = [s for s in wanted if s not in have]
    if missing:
        raise InputError(f"{what} has no station(s) {', '.join(missing)}; it has {', '.join(have)}")
    return np.array([have.index(s) for s in wanted], dtype=int)


def _time_station(tab: Soltab, stations: Sequence[str], what: str) -> np.ndarray:
    """Values ``(time, station)`` of a truth soltab with axes time and ant (any order)."""
    tab = tab.transposed(["time", "ant"])
    return tab.val[:, _station_index(tab.axes["ant"], stations, what)]


def _screen_towards(tab: Soltab, direction: str, stations: Sequence[str], truth_h5: Path) -> np.ndarray:
    """The screen TEC ``(time, station)`` towards ``direction``."""
    tab = tab.transposed(["time", "ant", "dir"])
    dirs = [str(d) for d in tab.axes["dir"]]
    wanted = direction_name(direction)
    if wanted not in dirs:
        raise InputError(f"{truth_h5}: no direction {direction!r} in the truth; available: "
                         f"{', '.join(d.strip('[]') for d in dirs)}")
    return tab.val[:, _station_index(tab.axes["ant"], stations, f"{truth_h5}"), dirs.index(wanted)]


def _windows(truth_times_s: np.ndarray, times_s: np.ndarray, solint_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges ``[lo, hi)`` of the truth slots within +-solint/2 of each time.

    A slot exactly on a boundary is left out of both neighbours' windows (the
    boundary is shrunk by a millionth of the interval); a window with no slot
    falls back to the nearest slot.
    """
    half = 0.5 * solint_s * (1.0 - 1e-6)
    lo = np.searchsorted(truth_times_s, times_s - half, side="left")
    hi = np.searchsorted(truth_times_s, times_s + half, side="right")
    empty = hi <= lo
    if np.any(empty):
        t = times_s[empty]
        pos = np.searchsorted(truth_times_s, t)
        left = np.clip(pos - 1, 0, len(truth_times_s) - 1)
        right = np.clip(pos, 0, len(truth_times_s) - 1)
        nearest = np.where(np.abs(t - truth_times_s[left]) <= np.abs(truth_times_s[right] - t), left, right)
        lo[empty] = nearest
        hi[empty] = nearest + 1
    return lo, hi


def _window_mean(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (time first) over the slots ``[lo, hi)`` of each window (cumulative sums)."""
    csum = np.concatenate([np.zeros((1,) + values.shape[1:], values.dtype), np.cumsum(values, axis=0)])
    count = (hi - lo).reshape((-1,) + (1,) * (values.ndim - 1))
    return (csum[hi] - csum[lo]) / count


def _check_overlap(truth_times_s: np.ndarray, times_s: np.ndarray, truth_h5: Path) -> None:
    step = float(np.median(np.diff(truth_times_s))) if len(truth_times_s) > 1 else 0.0
    if times_s.min() < truth_times_s[0] - step or times_s.max() > truth_times_s[-1] + step:
        raise InputError(
            f"solution times {times_s.min():.1f}-{times_s.max():.1f} s (MJD) lie outside the truth "
            f"{truth_h5} ({truth_times_s[0]:.1f}-{truth_times_s[-1]:.1f} s); compare with the same observation"
        )


def _validated_times(times_s: np.ndarray, solint_s: float | None) -> np.ndarray:
    times_s = np.atleast_1d(np.asarray(times_s, dtype=float))
    if times_s.ndim != 1 or len(times_s) == 0:
        raise InputError("times_s must be a non-empty one-dimensional array of MJD seconds")
    if solint_s is not None and not solint_s > 0:
        raise InputError(f"solint_s must be positive, got {solint_s}")
    return times_s


def truth_phases_rad(truth_h5: Path, direction: str, times_s: np.ndarray, freqs_hz: np.ndarray,
                     stations: Sequence[str], solint_s: float | None = None) -> np.ndarray:
    """Total injected phase towards a direction at the given times and frequencies.

    Parameters
    ----------
    truth_h5
        The simulator's ``<obs>.truth.h5`` (soltabs ``tec``, ``tecscreen``, ``clock``).
    direction
        Sky-model patch name (``name`` or ``[name]``) of the ``tecscreen`` directions.
    times_s
        Solution times (MJD seconds).
    freqs_hz
        Solution frequencies.
    stations
        Station names, in the order wanted on the last axis.
    solint_s
        Solution interval. When given, the truth is the phasor average over the truth
        slots within +-solint_s/2 of each time (a window without slots takes the
        nearest slot); otherwise TEC and clock are interpolated linearly in time.

    Returns
    -------
    numpy.ndarray
        Phases ``(time, freq, station)`` in radians, not referenced to any station and
        continuous in time (not wrapped).

    Raises
    ------
    InputError
        Unknown direction or station, times outside the truth's time range.
    """
    truth_h5 = Path(truth_h5)
    times_s = _validated_times(times_s, solint_s)
    freqs_hz = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    stations = [str(s) for s in stations]
    ss = _truth_solset(truth_h5, ["tec", "tecscreen", "clock"])
    truth_times_s = ss.soltabs["tec"].axes["time"]
    _check_overlap(truth_times_s, times_s, truth_h5)
    tec_tecu = (_time_station(ss.soltabs["tec"], stations, str(truth_h5))
                + _screen_towards(ss.soltabs["tecscreen"], direction, stations, truth_h5))
    clock_s = _time_station(ss.soltabs["clock"], stations, str(truth_h5))
    if solint_s is None:
        tec_at = _interp_columns(times_s, truth_times_s, tec_tecu)
        clock_at = _interp_columns(times_s, truth_times_s, clock_s)
        return _phase_tfs(tec_at, clock_at, freqs_hz)
    lo, hi = _windows(truth_times_s, times_s, solint_s)
    first, last = int(lo.min()), int(hi.max())  # only the slots some window uses
    phase = _phase_tfs(tec_tecu[first:last], clock_s[first:last], freqs_hz)  # (truth time, freq, station)
    lo, hi = lo - first, hi - first
    mean_phasor = _window_mean(np.exp(1j * phase), lo, hi)
    # Keep the result continuous: add the phasor mean's offset to the phase of a slot in the window.
    anchor = phase[(lo + hi - 1) // 2]
    return anchor + np.angle(mean_phasor * np.exp(-1j * anchor))


def _interp_columns(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Linear interpolation of every column of ``fp`` (time first) at ``x`` (clamped at the ends)."""
    if len(xp) == 1:
        return np.repeat(fp, len(x), axis=0)
    i = np.clip(np.searchsorted(xp, x) - 1, 0, len(xp) - 2)
    w = np.clip((x - xp[i]) / (xp[i + 1] - xp[i]), 0.0, 1.0)[:, None]
    return (1 - w) * fp[i] + w * fp[i + 1]


def _phase_tfs(tec_tecu: np.ndarray, clock_s: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Phase ``(time, freq, station)`` of ``(time, station)`` TEC and clock values."""
    phase = tec_phase_rad(tec_tecu, freqs_hz) + clock_phase_rad(clock_s, freqs_hz)  # (t, st, f)
    return np.transpose(phase, (0, 2, 1))


def truth_amplitudes(truth_h5: Path, times_s: np.ndarray, stations: Sequence[str],
                     solint_s: float | None = None) -> np.ndarray:
    """Injected amplitude (scintillation) at the given times.

    Parameters
    ----------
    truth_h5
        The simulator's ``<obs>.truth.h5`` (soltab ``scintillation``).
    times_s
        Solution times (MJD seconds).
    stations
        Station names, in the order wanted on the last axis.
    solint_s
        Solution interval: when given, the mean over the truth slots within
        +-solint_s/2 of each time; otherwise linear interpolation in time.

    Returns
    -------
    numpy.ndarray
        Amplitudes ``(time, station)``.

    Raises
    ------
    InputError
        Unknown station, times outside the truth's time range.
    """
    truth_h5 = Path(truth_h5)
    times_s = _validated_times(times_s, solint_s)
    stations = [str(s) for s in stations]
    tab = _truth_solset(truth_h5, ["scintillation"]).soltabs["scintillation"]
    truth_times_s = tab.axes["time"]
    _check_overlap(truth_times_s, times_s, truth_h5)
    amp = _time_station(tab, stations, str(truth_h5))
    if solint_s is None:
        return _interp_columns(times_s, truth_times_s, amp)
    lo, hi = _windows(truth_times_s, times_s, solint_s)
    return _window_mean(amp, lo, hi)


# --------------------------------------------------------------------------- solutions


@dataclass(frozen=True)
class _Scalar:
    """A solution soltab reduced to one direction and a scalar: ``(time, freq, ant)``."""

    times_s: np.ndarray
    freqs_hz: np.ndarray
    stations: list[str]
    phasor: np.ndarray  # complex, amplitude = value for amplitude soltabs
    valid: np.ndarray  # bool

    @property
    def solint_s(self) -> float | None:
        return float(np.median(np.diff(self.times_s))) if len(self.times_s) > 1 else None


def _pick_direction(tab: Soltab, direction: str, path: Path) -> int:
    dirs = [str(d) for d in tab.axes["dir"]]
    if len(dirs) == 1:
        return 0
    wanted = direction_name(direction)
    if wanted not in dirs:
        raise InputError(f"{path}: soltab {tab.name} has no direction {direction!r}; available: "
                         f"{', '.join(d.strip('[]') for d in dirs)}")
    return dirs.index(wanted)


def _read_scalar(path: Path, soltab: str, direction: str, types: Sequence[str]) -> _Scalar:
    """Read a phase or amplitude soltab as one scalar per (time, freq, ant) for ``direction``."""
    path = Path(path)
    tab = read_h5parm(path, None, [soltab]).soltabs[soltab]
    if tab.soltype not in types:
        raise InputError(f"{path}: soltab {soltab} holds {tab.soltype!r} values; expected one of {', '.join(types)}")
    for axis in ("time", "freq", "ant"):
        if axis not in tab.axes:
            raise InputError(f"{path}: soltab {soltab} has no {axis!r} axis (axes {', '.join(tab.axes)})")
    tab = tab.canonical()
    val = tab.val.astype(float)
    phasor = np.exp(1j * val) if tab.soltype in PHASE_TYPES else val.astype(complex)
    valid = (tab.weight > 0) & np.isfinite(val)
    if "dir" in tab.axes:
        ax = tab.axis_names.index("dir")
        i = _pick_direction(tab, direction, path)
        phasor, valid = np.take(phasor, i, axis=ax), np.take(valid, i, axis=ax)
    if "pol" in tab.axes:
        pols = [str(p) for p in tab.axes["pol"]]
        diag = [i for i, p in enumerate(pols) if p in DIAGONAL_POLS]
        if not diag:
            raise InputError(f"{path}: soltab {soltab} has no diagonal polarisation (XX/YY or RR/LL) among {pols}")
        ph, ok = phasor[..., diag], valid[..., diag]
        n_ok = ok.sum(axis=-1)
        phasor = np.where(ok, ph, 0).sum(axis=-1) / np.maximum(n_ok, 1)
        valid = n_ok > 0
    return _Scalar(times_s=tab.axes["time"].astype(float), freqs_hz=tab.axes["freq"].astype(float),
                   stations=[str(a) for a in tab.axes["ant"]], phasor=phasor, valid=valid)


def _select_stations(sol: _Scalar, truth_stations: Sequence[str], stations: Sequence[str] | None,
                     exclude: Sequence[str], where: str) -> list[str]:
    common = [s for s in sol.stations if s in set(truth_stations)]
    if stations is None:
        chosen = [s for s in common if s not in exclude]
    else:
        chosen = [str(s) for s in stations]
        missing = [s for s in chosen if s not in common]
        if missing:
            raise InputError(f"{where}: station(s) {', '.join(missing)} are not in both the solutions and the truth")
    if not chosen:
        raise InputError(f"{where}: the solutions and the truth have no station in common to compare")
    return chosen


def _truth_station_names(truth_h5: Path) -> list[str]:
    return [str(a) for a in _truth_solset(truth_h5, ["tec"]).soltabs["tec"].axes["ant"]]


def phase_errors_vs_truth(solutions_h5: Path, truth_h5: Path, direction: str, reference: str,
                          stations: Sequence[str] | None = None, soltab: str = "phase000",
                          truth_reference: str | None = None) -> PhaseErrors:
    """Per-station rms phase error of a solution soltab against the simulator's truth.

    Parameters
    ----------
    solutions_h5
        h5parm with the solutions (DP3 conventions, ``V = g_p conj(g_q) V_model``).
    truth_h5
        The simulator's ``<obs>.truth.h5`` of the same observation.
    direction
        Patch name the solutions are towards. A soltab with several directions must
        have it (``name`` or ``[name]``); a single-direction soltab is used as it is.
    reference
        Station the solutions are referenced to.
    stations
        Stations to report; default all stations in both files except ``reference``.
    soltab
        Phase soltab of the solutions. A polarisation axis is reduced to the mean
        phasor of the diagonal correlations.
    truth_reference
        Station the truth is referenced to (default ``reference``).

    Returns
    -------
    PhaseErrors
        rms over time and frequency of ``wrap(solution - truth)`` per station, both
        referenced, using only values with weight > 0 (also at the reference). The
        truth is averaged over the solution interval (the solution time spacing).

    Raises
    ------
    InputError
        Unknown direction, reference station missing, no common station, solutions
        and truth from different observations.
    """
    solutions_h5, truth_h5 = Path(solutions_h5), Path(truth_h5)
    truth_reference = truth_reference or reference
    sol = _read_scalar(solutions_h5, soltab, direction, PHASE_TYPES)
    if reference not in sol.stations:
        raise InputError(f"{solutions_h5}: reference station {reference} is not among its stations")
    truth_names = _truth_station_names(truth_h5)
    if truth_reference not in truth_names:
        raise InputError(f"{truth_h5}: reference station {truth_reference} is not among its stations")
    chosen = _select_stations(sol, truth_names, stations, [reference], str(solutions_h5))
    solint_s = sol.solint_s if sol.solint_s is not None else _full_span_s(truth_h5)
    truth = truth_phases_rad(truth_h5, direction, sol.times_s, sol.freqs_hz, [*chosen, truth_reference], solint_s)
    d_truth = truth[..., :-1] - truth[..., -1:]
    idx = np.array([sol.stations.index(s) for s in chosen])
    ref = sol.stations.index(reference)
    d_sol = sol.phasor[..., idx] * np.conj(sol.phasor[..., ref:ref + 1])
    valid = sol.valid[..., idx] & sol.valid[..., ref:ref + 1]
    err = np.angle(d_sol * np.exp(-1j * d_truth))
    rms = _rms_per_station(err, valid)
    result = PhaseErrors(per_station_rms_rad=dict(zip(chosen, rms)), reference=reference,
                         direction=direction, n_values=int(valid.sum()))
    log.info("phase errors towards %s (reference %s, solint %.1f s): worst %s %.3f rad", direction, reference,
             solint_s, *result.worst())
    return result


def _full_span_s(truth_h5: Path) -> float:
    """An interval that covers the whole truth from any time inside it (one solution for everything)."""
    times = _truth_solset(truth_h5, ["tec"]).soltabs["tec"].axes["time"]
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    return 2.0 * float(times[-1] - times[0] + step)


def _rms_per_station(values: np.ndarray, valid: np.ndarray) -> list[float]:
    """rms over all axes but the last of the valid values; NaN where none is valid."""
    n = valid.reshape(-1, valid.shape[-1]).sum(axis=0)
    sq = np.where(valid, values, 0.0).reshape(-1, values.shape[-1]) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(sq.sum(axis=0) / n)
    return [float(v) for v in np.where(n > 0, rms, np.nan)]


def amplitude_errors_vs_truth(solutions_h5: Path, truth_h5: Path, direction: str,
                              stations: Sequence[str] | None = None,
                              soltab: str = "amplitude000") -> AmplitudeErrors:
    """Per-station rms fractional amplitude error of a solution soltab against the scintillation truth.

    Parameters
    ----------
    solutions_h5
        h5parm with the solutions.
    truth_h5
        The simulator's ``<obs>.truth.h5`` of the same observation.
    direction
        Patch name the solutions are towards (chooses among several directions; a
        single-direction soltab is used as it is).
    stations
        Stations to report; default all stations in both files.
    soltab
        Amplitude soltab; a polarisation axis is reduced to the mean of the diagonal
        correlations.

    Returns
    -------
    AmplitudeErrors
        Per station the rms over time and frequency of ``r / median(r) - 1`` where
        ``r = solution / truth`` and the median is over all common stations at each
        time and frequency (this divides out the overall flux scale). The truth is
        averaged over the solution interval; values with weight 0 are left out.

    Raises
    ------
    InputError
        Unknown direction, no common station, solutions and truth from different
        observations.
    """
    solutions_h5, truth_h5 = Path(solutions_h5), Path(truth_h5)
    sol = _read_scalar(solutions_h5, soltab, direction, AMPLITUDE_TYPES)
    truth_names = _truth_station_names(truth_h5)
    common = _select_stations(sol, truth_names, None, [], str(solutions_h5))
    chosen = _select_stations(sol, truth_names, stations, [], str(solutions_h5))
    solint_s = sol.solint_s if sol.solint_s is not None else _full_span_s(truth_h5)
    truth = truth_amplitudes(truth_h5, sol.times_s, common, solint_s)[:, None, :]  # (time, 1, station)
    idx = np.array([sol.stations.index(s) for s in common])
    amp = np.abs(sol.phasor[..., idx])
    valid = sol.valid[..., idx] & (amp > 0)
    ratio = np.where(valid, amp / truth, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (fully flagged) give NaN
        scale = np.nanmedian(ratio, axis=-1, keepdims=True)
    frac = ratio / scale - 1.0
    pick = np.array([common.index(s) for s in chosen])
    frac, valid = frac[..., pick], valid[..., pick] & np.isfinite(frac[..., pick])
    rms = _rms_per_station(np.nan_to_num(frac), valid)
    result = AmplitudeErrors(per_station_rms_fraction=dict(zip(chosen, rms)), direction=direction,
                             n_values=int(valid.sum()))
    log.info("amplitude errors towards %s (solint %.1f s): worst %s %.3f", direction, solint_s, *result.worst())
    return result

