"""Physical models of LOFAR's systematic effects, per station (and per direction).

Conventions (those of DP3's applycal, so that applying the truth h5parm with DP3
removes the corruption):

* clock: scalar phase ``2*pi*nu*clock_s``; core stations share one clock (zero).
* TEC: scalar phase ``TEC_PHASE_CONSTANT * tec_tecu / nu`` (negative constant).
* Faraday rotation: rotation matrix ``[[cos, -sin], [sin, cos]]`` of angle
  ``rm * (c/nu)**2``.
* polarisation alignment: diagonal phase, 0 on X and ``-2*pi*nu*delay_s`` on Y.
* bandpass: real diagonal amplitude per channel; scintillation: real scalar.

All stochastic terms are drawn from explicit ``numpy.random.Generator`` streams so
that a seed reproduces every value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import j0

from lofar_hires.physics import C_M_S, TEC_PHASE_CONSTANT
from lofar_hires.simulation.config import (
    BandpassConfig,
    ClockConfig,
    CorruptionsConfig,
    FaradayConfig,
    PolAlignConfig,
    ScintillationConfig,
    TecConfig,
    TecScreenConfig,
)
from lofar_hires.simulation.geometry import (
    azimuth_elevation_rad,
    itrf_to_geodetic_lonlat,
    local_sidereal_time_rad,
)
from lofar_hires.simulation.stations import StationLayout, enu_offsets_m

#: Phase (rad) per TECU at 1 Hz, as used by DP3 and LoSoTo: phase = K * dTEC / nu.
#: Mean Earth radius used for the thin-shell obliquity (m).
EARTH_RADIUS_M = 6_371_000.0


class SmoothProcess:
    """Stationary Gaussian processes with unit variance and Gaussian correlation.

    Random Fourier features: ``x(t) = sqrt(2/K) * sum_k cos(w_k t + phi_k)`` with
    ``w_k ~ N(0, 1/timescale^2)``; evaluable at any time, continuous, seeded.
    """

    def __init__(self, rng: np.random.Generator, n_series: int, timescale_s: float,
                 n_features: int = 64) -> None:
        self.omega = rng.normal(0.0, 1.0 / timescale_s, size=(n_series, n_features))
        self.phase = rng.uniform(0, 2 * np.pi, size=(n_series, n_features))
        self.norm = np.sqrt(2.0 / n_features)

    def __call__(self, times_s: np.ndarray) -> np.ndarray:
        """Values ``(ntime, n_series)``."""
        t = np.asarray(times_s, dtype=float)[:, None, None]
        return self.norm * np.cos(self.omega[None] * t + self.phase[None]).sum(axis=-1)


def distance_scaling(distance_m: np.ndarray, ref_m: float = 100e3) -> np.ndarray:
    """Kolmogorov scaling ``(d / 100 km)**(5/6)`` of differential ionospheric quantities."""
    return (np.asarray(distance_m) / ref_m) ** (5.0 / 6.0)


@dataclass(frozen=True)
class InstrumentTruth:
    """Time-independent instrumental terms, shared by all observations."""

    polalign_delay_s: np.ndarray  # (nst,)
    bandpass_gain: np.ndarray  # (nst, 2)
    bandpass_ripple_phase: np.ndarray  # (nst, 2)
    bandpass_ripple_amp: np.ndarray  # (nst, 2)


def draw_instrument(config: CorruptionsConfig, stations: StationLayout,
                    rng: np.random.Generator) -> InstrumentTruth:
    """Draw polarisation delays and bandpass parameters per station."""
    n = stations.n_stations
    pa: PolAlignConfig = config.polalign
    bp: BandpassConfig = config.bandpass
    delay = rng.normal(0.0, pa.delay_rms_ns * 1e-9, size=n) if pa.enabled else np.zeros(n)
    gain = 1.0 + rng.normal(0, bp.gain_rms, size=(n, 1)) + rng.normal(0, bp.xy_difference_rms, size=(n, 2))
    return InstrumentTruth(
        polalign_delay_s=delay,
        bandpass_gain=np.clip(gain, 0.2, None),
        bandpass_ripple_phase=rng.uniform(0, 2 * np.pi, size=(n, 2)),
        bandpass_ripple_amp=bp.ripple_fraction * rng.uniform(0.5, 1.5, size=(n, 2)),
    )


def bandpass_amplitude(inst: InstrumentTruth, config: BandpassConfig, freqs_hz: np.ndarray) -> np.ndarray:
    """Bandpass amplitudes ``(nfreq, nst, 2)``; ones when disabled."""
    nst = inst.bandpass_gain.shape[0]
    if not config.enabled:
        return np.ones((len(freqs_hz), nst, 2))
    x = (np.asarray(freqs_hz) - 150e6) / 40e6
    shape = 1.0 - config.curvature * x**2
    ripple = 1.0 + inst.bandpass_ripple_amp[None] * np.sin(
        2 * np.pi * np.asarray(freqs_hz)[:, None, None] / config.ripple_period_hz
        + inst.bandpass_ripple_phase[None]
    )
    return shape[:, None, None] * inst.bandpass_gain[None] * ripple


def polalign_phase(inst: InstrumentTruth, freqs_hz: np.ndarray) -> np.ndarray:
    """Polarisation-alignment phases ``(nfreq, nst, 2)``: 0 on X, ``-2 pi nu tau`` on Y."""
    out = np.zeros((len(freqs_hz), len(inst.polalign_delay_s), 2))
    out[..., 1] = -2 * np.pi * np.asarray(freqs_hz)[:, None] * inst.polalign_delay_s[None, :]
    return out


class ClockModel:
    """Clock delays: offset plus a drift that GPS corrections reset periodically."""

    def __init__(self, config: ClockConfig, stations: StationLayout, rng: np.random.Generator,
                 t_origin_s: float) -> None:
        n = stations.n_stations
        self.enabled = config.enabled
        self.interval_s = config.gps_correction_interval_s
        self.t_origin_s = t_origin_s
        independent = np.array([g != "core" for g in stations.groups])
        self.offset_s = rng.normal(0, config.offset_rms_ns * 1e-9, size=n) * independent
        self.rate = rng.normal(0, config.drift_rms_ns_per_hour * 1e-9 / 3600.0, size=n) * independent
        self.phase_s = rng.uniform(0, self.interval_s, size=n)

    def __call__(self, times_s: np.ndarray) -> np.ndarray:
        """Clock delays ``(ntime, nst)`` in seconds."""
        n = len(self.offset_s)
        if not self.enabled:
            return np.zeros((len(times_s), n))
        t = np.asarray(times_s)[:, None] - self.t_origin_s + self.phase_s[None]
        saw = np.mod(t, self.interval_s) - self.interval_s / 2
        return self.offset_s[None] + self.rate[None] * saw


class ScalarIonosphere:
    """Direction-independent TEC and Faraday rotation, scaled with distance from the reference."""

    def __init__(self, tec: TecConfig, faraday: FaradayConfig, stations: StationLayout,
                 reference: int, rng: np.random.Generator) -> None:
        n = stations.n_stations
        dist = np.linalg.norm(stations.itrf_m - stations.itrf_m[reference], axis=1)
        scale = distance_scaling(dist)
        self.tec_enabled = tec.enabled
        self.rm_enabled = faraday.enabled
        self.tec_sigma = tec.rms_at_100km_tecu * scale
        self.tec_process = SmoothProcess(rng, n, tec.timescale_s)
        self.rm_sigma = faraday.rm_rms_at_100km_rad_m2 * scale
        self.rm_mean = rng.normal(0, 1, size=n)
        self.rm_variation = faraday.variation_fraction
        self.rm_process = SmoothProcess(rng, n, faraday.timescale_s)

    def tec_tecu(self, times_s: np.ndarray) -> np.ndarray:
        """Differential TEC ``(ntime, nst)``."""
        if not self.tec_enabled:
            return np.zeros((len(times_s), len(self.tec_sigma)))
        return self.tec_sigma[None] * self.tec_process(times_s)

    def rm_rad_m2(self, times_s: np.ndarray) -> np.ndarray:
        """Differential rotation measure ``(ntime, nst)``."""
        if not self.rm_enabled:
            return np.zeros((len(times_s), len(self.rm_sigma)))
        return self.rm_sigma[None] * (self.rm_mean[None] + self.rm_variation * self.rm_process(times_s))


class Scintillation:
    """Scalar amplitude scintillation ``exp(sigma * x(t))`` per station."""

    def __init__(self, config: ScintillationConfig, stations: StationLayout, rng: np.random.Generator) -> None:
        by_group = {"core": config.rms_core, "remote": config.rms_remote,
                    "international": config.rms_international}
        self.enabled = config.enabled
        self.sigma = np.array([by_group[g] for g in stations.groups])
        self.process = SmoothProcess(rng, stations.n_stations, config.timescale_s)

    def __call__(self, times_s: np.ndarray) -> np.ndarray:
        """Amplitudes ``(ntime, nst)``."""
        if not self.enabled:
            return np.ones((len(times_s), len(self.sigma)))
        return np.exp(self.sigma[None] * self.process(times_s))


class PhaseScreen:
    """A frozen-flow Kolmogorov TEC screen at a single height (random Fourier modes).

    The screen is normalised so that its phase structure function at 150 MHz
    equals 1 rad^2 at the diffractive scale; phase differences between stations
    therefore grow with baseline length as ``(r / r_diff)**(5/3)`` up to the outer
    scale. The TEC seen by a station towards a source is the screen value at the
    ionospheric pierce point, multiplied by the thin-shell obliquity factor.
    """

    def __init__(self, config: TecScreenConfig, stations: StationLayout, reference: int,
                 rng: np.random.Generator) -> None:
        self.config = config
        n = config.n_modes
        k_min = 2 * np.pi / (config.outer_scale_km * 1e3)
        k_max = 2 * np.pi / (config.inner_scale_km * 1e3)
        lnk = np.linspace(np.log(k_min), np.log(k_max), n)
        dlnk = lnk[1] - lnk[0] if n > 1 else 1.0
        k = np.exp(lnk)
        theta = rng.uniform(0, 2 * np.pi, size=n)
        self.kx = k * np.sin(theta)
        self.ky = k * np.cos(theta)
        self.phase = rng.uniform(0, 2 * np.pi, size=n)
        weights = k ** (-5.0 / 3.0) * dlnk
        r_diff = config.diffractive_scale_km * 1e3
        target_tecu2 = (150e6 / TEC_PHASE_CONSTANT) ** 2  # 1 rad^2 at 150 MHz
        norm = target_tecu2 / np.sum(weights * (1 - j0(k * r_diff)))
        self.amplitude = np.sqrt(norm * weights)
        ref = stations.itrf_m[reference]
        self.enu_m = enu_offsets_m(stations.itrf_m, ref)
        lonlat = [itrf_to_geodetic_lonlat(p) for p in stations.itrf_m]
        self.lon_rad = np.array([ll[0] for ll in lonlat])
        self.lat_rad = np.array([ll[1] for ll in lonlat])
        speed = config.velocity_m_s
        heading = np.radians(config.direction_deg)
        self.velocity = np.array([speed * np.sin(heading), speed * np.cos(heading)])

    def pierce_points_m(self, times_s: np.ndarray, ra_rad: np.ndarray, dec_rad: np.ndarray,
                        times_mjd_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pierce points ``(nt, nst, ndir, 2)`` (east, north) and obliquity factors ``(nt, nst, ndir)``."""
        h = self.config.height_km * 1e3
        nt, nst = len(times_s), len(self.lon_rad)
        xy = np.empty((nt, nst, len(ra_rad), 2))
        oblq = np.empty((nt, nst, len(ra_rad)))
        for s in range(nst):
            lst = local_sidereal_time_rad(times_mjd_s, self.lon_rad[s])
            az, el = azimuth_elevation_rad(ra_rad, dec_rad, lst, self.lat_rad[s])
            zen = np.pi / 2 - np.clip(el, np.radians(1.0), None)
            xy[:, s, :, 0] = self.enu_m[s, 0] + h * np.tan(zen) * np.sin(az)
            xy[:, s, :, 1] = self.enu_m[s, 1] + h * np.tan(zen) * np.cos(az)
            sin_zp = EARTH_RADIUS_M / (EARTH_RADIUS_M + h) * np.sin(zen)
            oblq[:, s, :] = 1.0 / np.sqrt(1 - sin_zp**2)
        return xy, oblq

    def tec_tecu(self, times_s: np.ndarray, times_mjd_s: np.ndarray, ra_rad: np.ndarray,
                 dec_rad: np.ndarray) -> np.ndarray:
        """Slant TEC ``(ntime, nst, ndir)`` towards each direction."""
        xy, oblq = self.pierce_points_m(times_s, ra_rad, dec_rad, times_mjd_s)
        shift = np.asarray(times_s)[:, None] * self.velocity[None, :]  # (nt, 2)
        x = xy[..., 0] - shift[:, None, None, 0]
        y = xy[..., 1] - shift[:, None, None, 1]
        arg = x[..., None] * self.kx + y[..., None] * self.ky + self.phase
        return oblq * np.einsum("...k,k->...", np.cos(arg), self.amplitude)


def tec_phase_rad(tec_tecu: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Phase of a TEC value at each frequency (last axis is frequency)."""
    return TEC_PHASE_CONSTANT * np.asarray(tec_tecu)[..., None] / np.asarray(freqs_hz)


def clock_phase_rad(clock_s: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Phase of a clock delay at each frequency (last axis is frequency)."""
    return 2 * np.pi * np.asarray(clock_s)[..., None] * np.asarray(freqs_hz)


def faraday_angle_rad(rm_rad_m2: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Faraday rotation angle ``rm * lambda**2`` (last axis is frequency)."""
    return np.asarray(rm_rad_m2)[..., None] * (C_M_S / np.asarray(freqs_hz)) ** 2
