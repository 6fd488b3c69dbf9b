"""Ionospheric activity from the direction-independent solutions: the rms rate of the differential TEC.

The quantity the solutions determine is the change of the differential TEC of a station between
consecutive solutions, relative to the mean of the reference stations (default: the core):

* from a ``tec`` soltab (the TEC fitted to the calibrator, ``tec`` of ``cal_solutions.h5``, or any
  TEC solve) directly;
* from a ``phase`` or ``scalarphase`` soltab (the phase solutions of the direction-independent
  target solve, ``<obs>.phase.h5``, solset ``target``): the phase change of each channel between
  consecutive solutions, wrapped to (-pi, pi], is ``TEC_PHASE_CONSTANT * dTEC / nu``
  (:mod:`lofar_hires.physics`), and dTEC is the least-squares fit over the channels. The phases
  determine a change of at most ``pi nu / |K|`` per solution interval (0.052 TECU at 140 MHz): a
  faster change aliases to a smaller one, which the result reports as ``max_measurable`` and with
  the fraction of phase steps near pi. A residual clock drift also enters the phases; 15 ns/h
  (the simulator's rms drift) looks like 0.004 TECU/min at 140 MHz.

The rate of each station is the TEC change over windows of ``window_s`` (the sum of the valid
steps in the window over their duration; steps across gaps in time are not used), so the phase
noise of single solutions enters only through the window's end points. The metric is the rms of
these rates over the measured stations and windows, in TECU per minute.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.gate.config import IonosphereGateConfig
from lofar_hires.io.h5parm import (
    CALIBRATOR_SOLSET,
    DP3_SOLSET,
    TARGET_SOLSET,
    StreamingReader,
    read_h5parm,
    require_values,
    solset_names,
)
from lofar_hires.physics import TEC_PHASE_CONSTANT
from lofar_hires.solutions.stations import resolve_stations

log = logging.getLogger(__name__)

#: Soltab types that hold TEC, and phases that convert to it.
TEC_TYPES = ("tec",)
PHASE_TYPES = ("phase", "scalarphase")
#: Solsets searched, in order, when none is named: the target's own solutions (LINC's name), the calibrator's,
#: then DP3's; a file's other solsets after these.
SOLSET_ORDER = (TARGET_SOLSET, CALIBRATOR_SOLSET, DP3_SOLSET)
#: Phase steps larger than this between consecutive solutions may be aliased (reported as a fraction).
NEAR_WRAP_RAD = 0.8 * math.pi
#: Steps over a gap longer than this many median solution intervals are not used.
MAX_GAP_INTERVALS = 1.5
#: A window's rate is used when its valid steps cover at least this fraction of it.
MIN_WINDOW_COVERAGE = 0.5
#: Above this fraction of phase steps near pi a warning says the rate may be underestimated.
WARN_NEAR_WRAP_FRACTION = 0.01


@dataclass(frozen=True)
class DiSoltab:
    """The soltab of direction-independent solutions that the activity is measured from."""

    path: Path
    solset: str
    soltab: str
    soltype: str

    def describe(self) -> str:
        return f"{self.path.name}: solset {self.solset}, soltab {self.soltab} ({self.soltype})"


@dataclass(frozen=True)
class TecSteps:
    """Changes of the differential TEC between consecutive solutions.

    Attributes
    ----------
    times_s
        Solution times (MJD seconds), shape (n_time,).
    step_tecu
        TEC change from each solution to the next, shape (n_time - 1, n_station).
    valid
        Whether a step is measured (both solutions and the reference unflagged), same shape.
    max_step_tecu
        Largest change the phases determine per step (``pi nu_min / |K|``); ``None`` for TEC soltabs.
    near_wrap
        Per step and station, the fraction of the channels' phase steps larger than
        :data:`NEAR_WRAP_RAD` (``None`` for TEC soltabs).
    """

    times_s: np.ndarray
    step_tecu: np.ndarray
    valid: np.ndarray
    max_step_tecu: float | None = None
    near_wrap: np.ndarray | None = None


@dataclass
class IonosphereMetric:
    """The rms rate of change of the differential TEC of one observation's solutions."""

    dtec_rate_rms_tecu_per_min: float
    n_values: int
    stations: list[str]
    reference_stations: list[str]
    source: str
    window_s: float
    per_station_tecu_per_min: dict[str, float | None] = field(default_factory=dict)
    max_measurable_tecu_per_min: float | None = None
    near_wrap_fraction: float = 0.0
    time_range_mjd_s: tuple[float, float] = (0.0, 0.0)

    def to_dict(self) -> dict:
        return {"dtec_rate_rms_tecu_per_min": self.dtec_rate_rms_tecu_per_min, "n_values": self.n_values,
                "stations": list(self.stations), "reference_stations": list(self.reference_stations),
                "source": self.source, "window_s": self.window_s,
                "per_station_tecu_per_min": dict(self.per_station_tecu_per_min),
                "max_measurable_tecu_per_min": self.max_measurable_tecu_per_min,
                "near_wrap_fraction": self.near_wrap_fraction,
                "time_range_mjd_s": list(self.time_range_mjd_s)}


# --------------------------------------------------------------------------- finding the soltab


def _usable(soltype: str, axes: dict[str, np.ndarray]) -> bool:
    """A TEC or phase soltab with a time axis and at most one direction."""
    return (soltype in TEC_TYPES + PHASE_TYPES and "time" in axes and "ant" in axes
            and ("dir" not in axes or len(axes["dir"]) == 1))


def find_di_soltab(path: Path, solset: str | None = None, soltab: str | None = None) -> DiSoltab:
    """The soltab of ``path`` to measure the ionosphere from.

    Without ``soltab``: in the named solset, or in the first of :data:`SOLSET_ORDER` (then the
    file's other solsets) that has one, the first direction-independent TEC soltab, else the
    first direction-independent phase soltab.

    Raises
    ------
    InputError
        No such solset or soltab, a soltab of another type or with several directions, or none
        usable; the message names the file, its solsets and soltabs.
    """
    path = Path(path)
    names = solset_names(path)
    if not names:
        raise InputError(f"{path} holds no solset: not an h5parm of solutions", setting="di_solutions")
    if solset is not None and solset not in names:
        raise InputError(f"{path}: no solset {solset!r} (has {', '.join(names)})", setting="di_solset")
    order = [solset] if solset is not None else [*(s for s in SOLSET_ORDER if s in names),
                                                  *(s for s in names if s not in SOLSET_ORDER)]
    seen: list[str] = []
    for name in order:
        with StreamingReader(path, name) as reader:
            infos = {tab: reader.info(tab) for tab in reader.soltab_names}
        seen.append(f"{name}: {', '.join(infos) or 'no soltab'}")
        if soltab is not None:
            if soltab not in infos:
                continue
            info = infos[soltab]
            if not _usable(info.soltype, info.axes):
                n_dir = len(info.axes.get("dir", ())) or 1
                raise InputError(f"{path}: solset {name}, soltab {soltab} is of type {info.soltype} with axes "
                                 f"{', '.join(info.axes)} ({n_dir} direction(s)); the ionospheric activity needs "
                                 "direction-independent tec or phase solutions with time and antenna axes",
                                 setting="di_soltab")
            return DiSoltab(path, name, soltab, info.soltype)
        for types in (TEC_TYPES, PHASE_TYPES):
            for tab, info in infos.items():
                if info.soltype in types and _usable(info.soltype, info.axes):
                    return DiSoltab(path, name, tab, info.soltype)
    if soltab is not None:
        raise InputError(f"{path} has no soltab {soltab!r} ({'; '.join(seen)})", setting="di_soltab")
    raise InputError(f"{path} has no direction-independent tec or phase soltab with a time axis "
                     f"({'; '.join(seen)}); name one", setting="di_soltab")


# --------------------------------------------------------------------------- TEC changes


def _without_direction(val: np.ndarray, weight: np.ndarray, axes: list[str]) -> tuple[np.ndarray, np.ndarray,
                                                                                       list[str]]:
    if "dir" not in axes:
        return val, weight, axes
    pos = axes.index("dir")
    return np.take(val, 0, axis=pos), np.take(weight, 0, axis=pos), [a for a in axes if a != "dir"]


def tec_per_time(val: np.ndarray, weight: np.ndarray, axes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """TEC (time, ant) of a tec soltab in canonical axis order, averaged over frequency and polarisation.

    Returns the weighted mean and whether any value of the (time, ant) cell was valid.
    """
    axes = list(axes)
    ok = (np.asarray(weight) > 0) & np.isfinite(val)
    w = ok.astype(float)
    v = np.where(ok, val, 0.0)
    extra = tuple(i for i, a in enumerate(axes) if a not in ("time", "ant"))
    total = w.sum(axis=extra) if extra else w
    mean = (v * w).sum(axis=extra) / np.where(total > 0, total, 1.0) if extra else v
    return mean, total > 0


def phasors_per_channel(val: np.ndarray, weight: np.ndarray, axes: Sequence[str]) -> np.ndarray:
    """Unit phasors (time, freq, ant) of a phase soltab in canonical axis order (0 where flagged).

    The polarisations of a diagonal solve are averaged as phasors (the TEC is the same in both).
    """
    ok = (np.asarray(weight) > 0) & np.isfinite(val)
    z = np.where(ok, np.exp(1j * np.where(ok, val, 0.0)), 0.0)
    if "pol" in axes:
        z = z.sum(axis=list(axes).index("pol"))
    mag = np.abs(z)
    return np.where(mag > 0, z / np.where(mag > 0, mag, 1.0), 0.0)


def referenced_tec(tec: np.ndarray, valid: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TEC (time, ant) minus the mean over the ``reference`` stations (a mask) of each time."""
    w = (valid & reference[None, :]).astype(float)
    n = w.sum(axis=1, keepdims=True)
    ref = (np.where(valid, tec, 0.0) * w).sum(axis=1, keepdims=True) / np.where(n > 0, n, 1.0)
    return tec - ref, valid & (n > 0)


def referenced_phasors(z: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Phasors (time, freq, ant) relative to the circular mean of the ``reference`` stations (0 where undefined)."""
    ref = z[..., reference].sum(axis=-1, keepdims=True)
    mag = np.abs(ref)
    unit = np.where(mag > 0, ref / np.where(mag > 0, mag, 1.0), 0.0)
    return z * np.conj(unit)


def phase_steps_to_tec(z: np.ndarray, freqs_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TEC changes (time - 1, ant) from the wrapped phase steps of phasors (time, freq, ant).

    Per station and step, the least-squares TEC change over the valid channels of
    ``dphi_f = K dTEC / nu_f``. Returns the changes, their validity and, per step and station,
    the fraction of the valid channels whose phase step is larger than :data:`NEAR_WRAP_RAD`.
    """
    freqs_hz = np.asarray(freqs_hz, dtype=float)
    step = z[1:] * np.conj(z[:-1])
    ok = np.abs(step) > 0
    dphi = np.angle(step)
    a = (TEC_PHASE_CONSTANT / freqs_hz)[None, :, None]
    w = ok.astype(float)
    num = (np.where(ok, dphi, 0.0) * a * w).sum(axis=1)
    den = (a * a * w).sum(axis=1)
    valid = den > 0
    near = np.count_nonzero(ok & (np.abs(dphi) > NEAR_WRAP_RAD), axis=1) / np.maximum(1, np.count_nonzero(ok, axis=1))
    return num / np.where(valid, den, 1.0), valid, near


def tec_steps(path: Path, which: DiSoltab, reference: Sequence[str]) -> tuple[TecSteps, list[str]]:
    """The TEC changes between consecutive solutions of every antenna of ``which``, relative to ``reference``.

    Returns the steps and the antenna names (the columns of the steps).

    Raises
    ------
    InputError
        Unreadable or all-NaN solutions, fewer than two solution times, or a phase soltab without
        a frequency axis.
    """
    solset = read_h5parm(path, which.solset, [which.soltab])
    require_values(solset, path, [which.soltab])
    tab = solset.soltabs[which.soltab].canonical()
    where = which.describe()
    val, weight, axes = _without_direction(tab.val, tab.weight, list(tab.axes))
    times = np.asarray(tab.axes["time"], dtype=float)
    if len(times) < 2:
        raise InputError(f"{where} has {len(times)} solution time(s); a rate needs at least two")
    if np.any(np.diff(times) <= 0):
        raise InputError(f"{where}: the solution times do not increase")
    ants = [str(a) for a in tab.axes["ant"]]
    ref_mask = np.isin(ants, list(reference))
    if which.soltype in TEC_TYPES:
        tec, valid = tec_per_time(val, weight, axes)
        tec, valid = referenced_tec(tec, valid, ref_mask)
        steps = np.diff(tec, axis=0)
        return TecSteps(times, steps, valid[1:] & valid[:-1]), ants
    if "freq" not in axes:
        raise InputError(f"{where} has no frequency axis; phases convert to TEC only with their frequencies")
    freqs = np.asarray(tab.axes["freq"], dtype=float)
    if np.any(~np.isfinite(freqs)) or np.any(freqs <= 0):
        raise InputError(f"{where}: the frequencies must be positive")
    z = referenced_phasors(phasors_per_channel(val, weight, axes), ref_mask)
    steps, valid, near = phase_steps_to_tec(z, freqs)
    max_step = math.pi * float(freqs.min()) / abs(TEC_PHASE_CONSTANT)
    return TecSteps(times, steps, valid, max_step, near), ants


# --------------------------------------------------------------------------- rates


def window_rates(times_s: np.ndarray, step_tecu: np.ndarray, valid: np.ndarray,
                 window_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    """TEC rates (TECU/min) per window and station from the changes between consecutive solutions.

    Each step belongs to the window of its start time; a window's rate is the sum of its valid
    steps over their summed duration, used when that covers :data:`MIN_WINDOW_COVERAGE` of the
    window. The window is at least the median solution interval; steps across gaps longer than
    :data:`MAX_GAP_INTERVALS` median intervals are not used.

    Returns
    -------
    (rates, rate_valid, window_s)
        Shape (n_window, n_station) each, and the window used (s).
    """
    times_s = np.asarray(times_s, dtype=float)
    dt = np.diff(times_s)
    median = float(np.median(dt))
    window = max(float(window_s), median)
    usable = np.asarray(valid, dtype=bool) & (dt <= MAX_GAP_INTERVALS * median)[:, None]
    index = np.floor((times_s[:-1] - times_s[0]) / window + 1e-9).astype(int)
    n_window = int(index.max()) + 1
    sum_step = np.zeros((n_window, step_tecu.shape[1]))
    sum_dt = np.zeros_like(sum_step)
    np.add.at(sum_step, index, np.where(usable, step_tecu, 0.0))
    np.add.at(sum_dt, index, np.where(usable, dt[:, None], 0.0))
    ok = sum_dt >= MIN_WINDOW_COVERAGE * window - 1e-9
    rates = 60.0 * sum_step / np.where(ok, sum_dt, 1.0)
    return np.where(ok, rates, np.nan), ok, window


def measure_ionosphere(which: DiSoltab, cfg: IonosphereGateConfig) -> IonosphereMetric:
    """The rms rate of change of the differential TEC (TECU/min) of the measured stations.

    Parameters
    ----------
    which
        The soltab (:func:`find_di_soltab`).
    cfg
        Stations, reference stations and window.

    Raises
    ------
    InputError
        No measured or reference station among the solutions' antennas, or no valid rate.
    """
    names = _antenna_names(which)
    measured, reference = select_stations(names, cfg, which.describe())
    steps, ants = tec_steps(which.path, which, reference)
    columns = [ants.index(s) for s in measured]
    rates, ok, window = window_rates(steps.times_s, steps.step_tecu[:, columns], steps.valid[:, columns],
                                     cfg.window_s)
    n_values = int(np.count_nonzero(ok))
    if n_values == 0:
        raise InputError(f"{which.describe()}: no valid TEC rate of the stations {', '.join(measured)} (solutions "
                         f"flagged, or shorter than half a {window:g} s window)", setting="ionosphere.stations")
    rms = float(np.sqrt(np.mean(rates[ok] ** 2)))
    per_station = {}
    for k, name in enumerate(measured):
        col = rates[ok[:, k], k]
        per_station[name] = float(np.sqrt(np.mean(col ** 2))) if col.size else None
    interval = float(np.median(np.diff(steps.times_s)))
    max_rate = None if steps.max_step_tecu is None else steps.max_step_tecu * 60.0 / interval
    near = 0.0
    if steps.near_wrap is not None:
        measured_steps = steps.valid[:, columns]
        near = float(steps.near_wrap[:, columns][measured_steps].mean()) if measured_steps.any() else 0.0
    if near > WARN_NEAR_WRAP_FRACTION:
        log.warning("%s: %.1f %% of the phase steps between solutions of %s exceed %.1f rad; the TEC rate may be "
                    "underestimated (the phases determine at most %.3f TECU/min)", which.describe(), 100 * near,
                    ", ".join(measured), NEAR_WRAP_RAD, max_rate)
    return IonosphereMetric(rms, n_values, measured, reference, which.describe(), window, per_station, max_rate,
                            near, (float(steps.times_s[0]), float(steps.times_s[-1])))


def _antenna_names(which: DiSoltab) -> list[str]:
    with StreamingReader(which.path, which.solset) as reader:
        return [str(a) for a in reader.info(which.soltab).axes["ant"]]


def select_stations(names: Sequence[str], cfg: IonosphereGateConfig, where: str) -> tuple[list[str], list[str]]:
    """The measured stations (not among the reference) and the reference stations of ``names``.

    Raises
    ------
    InputError
        Either selection is empty; the message names the setting and the antennas.
    """
    reference = resolve_stations(cfg.reference_stations, names, where="ionosphere.reference_stations")
    if not reference:
        raise InputError(f"{where}: no antenna matches ionosphere.reference_stations={cfg.reference_stations!r} "
                         f"(antennas: {', '.join(names)})", setting="ionosphere.reference_stations")
    measured = [s for s in resolve_stations(cfg.stations, names, where="ionosphere.stations") if s not in reference]
    if not measured:
        raise InputError(f"{where}: no antenna outside the reference matches ionosphere.stations={cfg.stations!r} "
                         f"(antennas: {', '.join(names)})", setting="ionosphere.stations")
    return measured, reference
