"""When and where each simulated observation is made.

Target observations on successive dates start at the same local sidereal time, so
their baseline tracks repeat (what joint calibration and sidereal visibility
averaging need); each date's calibrator observation ends shortly before the target.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.simulation.config import SimulationConfig
from lofar_hires.simulation.geometry import (
    SIDEREAL_RATE,
    azimuth_elevation_rad,
    itrf_to_geodetic_lonlat,
    local_sidereal_time_rad,
)
from lofar_hires.simulation.stations import StationLayout


@dataclass(frozen=True)
class ObservationPlan:
    """When and where one MS is observed."""

    name: str
    kind: str  # "target" or "calibrator"
    date_index: int
    times_mjd_s: np.ndarray
    pointing_rad: tuple[float, float]
    field_name: str


def _date_midnight_mjd_s(date_text: str, offset_days: int) -> float:
    try:
        date = _dt.date.fromisoformat(date_text)
    except ValueError:
        raise InputError(f"observation.start_date {date_text!r} is not a date (YYYY-MM-DD)") from None
    mjd = (date - _dt.date(1858, 11, 17)).days + offset_days
    return mjd * 86400.0


def _utc_of_lst(midnight_mjd_s: float, lst_rad: float, longitude_rad: float) -> float:
    """First time on the UTC day starting at ``midnight`` when the LST equals ``lst_rad``."""
    lst0 = local_sidereal_time_rad(np.array([midnight_mjd_s]), longitude_rad)[0]
    d_rad = np.mod(lst_rad - lst0, 2 * np.pi)
    return midnight_mjd_s + d_rad / (2 * np.pi) * 86400.0 / SIDEREAL_RATE


def plan_observations(config: SimulationConfig, stations: StationLayout,
                      calibrator_pointing: tuple[float, float] | None) -> list[ObservationPlan]:
    """Times and pointings of all calibrator and target observations."""
    obs = config.observation
    ref = stations.itrf_m[stations.index(config.stations.reference)]
    lon, lat = itrf_to_geodetic_lonlat(ref)
    ra0, dec0 = np.radians(obs.pointing_ra_deg), np.radians(obs.pointing_dec_deg)
    if obs.start_lst_h is None:
        lst_start = ra0 - np.pi * obs.duration_s * SIDEREAL_RATE / 86400.0
    else:
        lst_start = np.radians(obs.start_lst_h * 15.0)
    n_int = int(obs.duration_s // obs.integration_s)
    plans = []
    for k in range(obs.n_observations):
        midnight = _date_midnight_mjd_s(obs.start_date, k * obs.date_step_days)
        lst_k = float(lst_start) + np.radians(15.0 * obs.lst_step_h * k)
        t_start = _utc_of_lst(midnight, lst_k % (2 * np.pi), lon)
        times = t_start + (np.arange(n_int) + 0.5) * obs.integration_s
        _check_elevation(times, (ra0, dec0), lon, lat, obs.min_elevation_deg, obs.field_name)
        if calibrator_pointing is not None:
            cal = config.calibrator
            n_cal = max(1, int(cal.duration_s // obs.integration_s))
            c_start = t_start - cal.gap_s - n_cal * obs.integration_s
            c_times = c_start + (np.arange(n_cal) + 0.5) * obs.integration_s
            _check_elevation(c_times, calibrator_pointing, lon, lat, obs.min_elevation_deg, cal.model)
            plans.append(ObservationPlan(f"calibrator_obs{k + 1:02d}", "calibrator", k, c_times,
                                         calibrator_pointing, cal.model))
        plans.append(ObservationPlan(f"target_obs{k + 1:02d}", "target", k, times, (ra0, dec0),
                                     obs.field_name))
    return plans


def _check_elevation(times, radec, lon, lat, min_deg, what) -> None:
    lst = local_sidereal_time_rad(times, lon)
    _, el = azimuth_elevation_rad(np.array([radec[0]]), np.array([radec[1]]), lst, lat)
    low = float(np.degrees(el.min()))
    if low < min_deg:
        raise InputError(
            f"{what} drops to {low:.1f} deg elevation during the observation (minimum "
            f"{min_deg} deg); choose observation.start_lst_h or a shorter duration"
        )
