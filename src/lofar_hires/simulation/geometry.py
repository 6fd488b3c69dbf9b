"""Observation geometry: station UVW, source direction cosines, sidereal time, az/el.

UVW follows the MS convention (what DP3 computes): the UVW of a baseline is
``uvw(ANTENNA2) - uvw(ANTENNA1)``, in J2000, from casacore measures. Because
the ITRF -> UVW transformation is a rotation, it is evaluated once per epoch for
the three coordinate axes and applied to all stations with numpy.
"""

from __future__ import annotations

import numpy as np

#: Length of a sidereal day relative to a solar day.
SIDEREAL_RATE = 1.002737909350795


def uvw_rotation_matrices(
    times_mjd_s: np.ndarray, phase_centre_rad: tuple[float, float], reference_itrf_m: np.ndarray
) -> np.ndarray:
    """Matrices ``R[t]`` with ``uvw = R[t] @ itrf_vector`` for J2000 UVW at each epoch."""
    from casacore.measures import measures
    from casacore.quanta import quantity

    dm = measures()
    dm.do_frame(dm.position("ITRF", *[quantity(float(v), "m") for v in reference_itrf_m]))
    dm.do_frame(dm.direction("J2000", quantity(phase_centre_rad[0], "rad"),
                             quantity(phase_centre_rad[1], "rad")))
    scale = 1000.0
    axes = np.eye(3) * scale
    baseline = dm.baseline(
        "ITRF",
        quantity(list(axes[:, 0]), "m"),
        quantity(list(axes[:, 1]), "m"),
        quantity(list(axes[:, 2]), "m"),
    )
    out = np.empty((len(times_mjd_s), 3, 3))
    for i, t in enumerate(times_mjd_s):
        dm.do_frame(dm.epoch("UTC", quantity(float(t), "s")))
        xyz = np.asarray(dm.to_uvw(baseline)["xyz"].get_value("m"), dtype=float).reshape(3, 3)
        # Row j of ``xyz`` is the UVW of the j-th axis vector: columns of R.
        out[i] = xyz.T / scale
    return out


def station_uvw_m(
    times_mjd_s: np.ndarray,
    station_itrf_m: np.ndarray,
    phase_centre_rad: tuple[float, float],
) -> np.ndarray:
    """UVW of every station relative to the first station, shape ``(ntime, nstation, 3)``."""
    ref = station_itrf_m[0]
    rot = uvw_rotation_matrices(times_mjd_s, phase_centre_rad, ref)
    rel = station_itrf_m - ref
    return np.einsum("tij,sj->tsi", rot, rel)


def baseline_uvw_m(station_uvw: np.ndarray, ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """Baseline UVW ``uvw(ANTENNA2) - uvw(ANTENNA1)`` from station UVW ``(ntime, nst, 3)``."""
    return station_uvw[:, ant2, :] - station_uvw[:, ant1, :]


def radec_to_lmn(
    ra_rad: np.ndarray, dec_rad: np.ndarray, phase_centre_rad: tuple[float, float]
) -> np.ndarray:
    """Direction cosines ``(l, m, n)`` of sky positions (SIN projection), shape ``(n, 3)``."""
    ra0, dec0 = phase_centre_rad
    ra = np.atleast_1d(np.asarray(ra_rad, dtype=float))
    dec = np.atleast_1d(np.asarray(dec_rad, dtype=float))
    dra = ra - ra0
    l = np.cos(dec) * np.sin(dra)
    m = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(dra)
    n = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(dra)
    return np.stack([l, m, n], axis=-1)


def lmn_to_radec(lmn: np.ndarray, phase_centre_rad: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`radec_to_lmn` for points in front of the tangent plane."""
    ra0, dec0 = phase_centre_rad
    l, m = lmn[..., 0], lmn[..., 1]
    n = np.sqrt(np.maximum(0.0, 1 - l**2 - m**2))
    dec = np.arcsin(m * np.cos(dec0) + n * np.sin(dec0))
    ra = ra0 + np.arctan2(l, n * np.cos(dec0) - m * np.sin(dec0))
    return np.mod(ra, 2 * np.pi), dec


def local_sidereal_time_rad(times_mjd_s: np.ndarray, longitude_rad: float) -> np.ndarray:
    """Local mean sidereal time (IAU 1982 GMST), radians, for MJD(UTC) seconds.

    Accurate to about a second of time: enough to plan observations and map
    ionospheric pierce points (UVW and beams use casacore / EveryBeam).
    """
    jd = np.asarray(times_mjd_s, dtype=float) / 86400.0 + 2400000.5
    d = jd - 2451545.0
    t = d / 36525.0
    gmst_deg = 280.46061837 + 360.98564736629 * d + 0.000387933 * t**2 - t**3 / 38710000.0
    return np.mod(np.deg2rad(gmst_deg) + longitude_rad, 2 * np.pi)


def itrf_to_geodetic_lonlat(itrf_m: np.ndarray) -> tuple[float, float]:
    """Geocentric longitude and latitude (radians) of an ITRF position."""
    x, y, z = itrf_m
    return float(np.arctan2(y, x)), float(np.arctan2(z, np.hypot(x, y)))


def azimuth_elevation_rad(
    ra_rad: np.ndarray, dec_rad: np.ndarray, lst_rad: np.ndarray, latitude_rad: float
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth (from north through east) and elevation, broadcasting sources against times."""
    ha = np.asarray(lst_rad)[..., None] - np.asarray(ra_rad)
    dec = np.asarray(dec_rad)
    sin_el = np.sin(dec) * np.sin(latitude_rad) + np.cos(dec) * np.cos(latitude_rad) * np.cos(ha)
    el = np.arcsin(np.clip(sin_el, -1, 1))
    az = np.arctan2(
        -np.cos(dec) * np.sin(ha),
        np.sin(dec) * np.cos(latitude_rad) - np.cos(dec) * np.sin(latitude_rad) * np.cos(ha),
    )
    return np.mod(az, 2 * np.pi), el
