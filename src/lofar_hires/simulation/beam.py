"""Station beams from EveryBeam, evaluated on a coarse grid and interpolated.

The beam varies slowly in time and frequency, so the full Jones response of
each station towards each source is evaluated every ``time_step_s`` and
``freq_step_hz`` with the everybeam Python API (the same library DP3's applybeam
uses) and interpolated linearly onto the data grid.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from lofar_hires.environment import everybeam_data_dir

log = logging.getLogger(__name__)


def coarse_grid(values: np.ndarray, step: float) -> np.ndarray:
    """Evenly spaced points covering ``values`` with at most ``step`` spacing (>= 2 points)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi - lo < 1e-9:
        return np.array([lo])
    n = max(2, int(np.ceil((hi - lo) / step)) + 1)
    return np.linspace(lo, hi, n)


def _itrf_directions(times_mjd_s: np.ndarray, ra_rad: np.ndarray, dec_rad: np.ndarray,
                     reference_itrf_m: np.ndarray) -> np.ndarray:
    """Unit ITRF direction vectors ``(ntime, ndir, 3)`` of J2000 positions."""
    from casacore.measures import measures
    from casacore.quanta import quantity

    dm = measures()
    dm.do_frame(dm.position("ITRF", *[quantity(float(v), "m") for v in reference_itrf_m]))
    out = np.empty((len(times_mjd_s), len(ra_rad), 3))
    for i, t in enumerate(times_mjd_s):
        dm.do_frame(dm.epoch("UTC", quantity(float(t), "s")))
        for j, (ra, dec) in enumerate(zip(ra_rad, dec_rad)):
            itrf = dm.measure(dm.direction("J2000", quantity(float(ra), "rad"),
                                           quantity(float(dec), "rad")), "ITRF")
            lon = itrf["m0"]["value"]
            lat = itrf["m1"]["value"]
            out[i, j] = [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
    return out


def _interp_axis(coarse_x: np.ndarray, values: np.ndarray, fine_x: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of complex ``values`` along ``axis`` (constant outside)."""
    if len(coarse_x) == 1:
        reps = [1] * values.ndim
        reps[axis] = len(fine_x)
        return np.tile(values, reps)
    idx = np.clip(np.searchsorted(coarse_x, fine_x) - 1, 0, len(coarse_x) - 2)
    w = np.clip((fine_x - coarse_x[idx]) / (coarse_x[idx + 1] - coarse_x[idx]), 0.0, 1.0)
    shape = [1] * values.ndim
    shape[axis] = len(fine_x)
    w = w.reshape(shape)
    lo = np.take(values, idx, axis=axis)
    hi = np.take(values, idx + 1, axis=axis)
    return lo * (1 - w) + hi * w


class BeamModel:
    """Full-Jones station responses towards a set of directions.

    Parameters
    ----------
    ms_path
        An MS with the LOFAR subtables (stations, pointing, frequencies).
    ra_rad, dec_rad
        Source directions.
    pointing_rad
        Station (and tile) beam pointing, J2000.
    reference_itrf_m
        Position used for the J2000 -> ITRF conversion of directions.
    """

    def __init__(self, ms_path: Path, ra_rad: np.ndarray, dec_rad: np.ndarray,
                 pointing_rad: tuple[float, float], reference_itrf_m: np.ndarray) -> None:
        os.environ.setdefault("EVERYBEAM_DATADIR", str(everybeam_data_dir()))
        import everybeam

        self.telescope = everybeam.load_telescope(str(ms_path))
        self.ra_rad = np.asarray(ra_rad, dtype=float)
        self.dec_rad = np.asarray(dec_rad, dtype=float)
        self.pointing_rad = pointing_rad
        self.reference_itrf_m = reference_itrf_m

    def evaluate(self, times_mjd_s: np.ndarray, freqs_hz: np.ndarray, n_stations: int) -> np.ndarray:
        """Responses ``(ntime, nst, ndir, nfreq, 2, 2)`` exactly at the given times and frequencies."""
        dirs = _itrf_directions(times_mjd_s, self.ra_rad, self.dec_rad, self.reference_itrf_m)
        pointing = _itrf_directions(times_mjd_s, np.array([self.pointing_rad[0]]),
                                    np.array([self.pointing_rad[1]]), self.reference_itrf_m)[:, 0]
        stations = np.arange(n_stations, dtype=np.uint64)
        freqs = np.asarray(freqs_hz, dtype=float)
        out = np.empty((len(times_mjd_s), n_stations, len(self.ra_rad), len(freqs), 2, 2), complex)
        for i, t in enumerate(times_mjd_s):
            for j in range(len(self.ra_rad)):
                resp = self.telescope.station_response(
                    np.array([t]), stations, freqs, dirs[i, j], pointing[i], pointing[i]
                )
                out[i, :, j] = resp[0]
        return out

    def gridded(self, times_mjd_s: np.ndarray, freqs_hz: np.ndarray, n_stations: int,
                time_step_s: float, freq_step_hz: float) -> GriddedBeam:
        """Evaluate on a coarse grid covering the data; interpolate later chunk by chunk."""
        t_coarse = coarse_grid(times_mjd_s, time_step_s)
        f_coarse = coarse_grid(freqs_hz, freq_step_hz)
        log.info("evaluating the station beam on %d times x %d frequencies x %d directions",
                 len(t_coarse), len(f_coarse), len(self.ra_rad))
        return GriddedBeam(t_coarse, f_coarse, self.evaluate(t_coarse, f_coarse, n_stations),
                           np.asarray(freqs_hz, dtype=float))


class GriddedBeam:
    """Coarse beam grid with linear interpolation onto data time slots and channels."""

    def __init__(self, times_mjd_s: np.ndarray, freqs_hz: np.ndarray, values: np.ndarray,
                 data_freqs_hz: np.ndarray) -> None:
        self.times_mjd_s = times_mjd_s
        self.freqs_hz = freqs_hz
        self.values = values
        self.data_freqs_hz = data_freqs_hz

    def __call__(self, times_mjd_s: np.ndarray) -> np.ndarray:
        """Responses ``(ntime, nst, ndir, nfreq, 2, 2)`` at the data channels."""
        in_time = _interp_axis(self.times_mjd_s, self.values, np.asarray(times_mjd_s, dtype=float), axis=0)
        return _interp_axis(self.freqs_hz, in_time, self.data_freqs_hz, axis=3)
