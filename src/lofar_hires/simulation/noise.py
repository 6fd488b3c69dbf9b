"""Thermal noise from the radiometer equation."""

from __future__ import annotations

import numpy as np

from lofar_hires.simulation.config import NoiseConfig


def station_sefd_jy(n_tiles: np.ndarray, freqs_hz: np.ndarray, config: NoiseConfig) -> np.ndarray:
    """SEFD per station and channel ``(nst, nf)``: proportional to 1/tiles."""
    scale = (np.asarray(freqs_hz) / config.reference_freq_hz) ** config.sefd_spectral_index
    return config.sefd_48_tiles_jy * (48.0 / np.asarray(n_tiles, dtype=float))[:, None] * scale[None, :]


def baseline_sigma_jy(sefd_jy: np.ndarray, ant1: np.ndarray, ant2: np.ndarray,
                      bandwidth_hz: float, integration_s: float) -> np.ndarray:
    """Noise rms of the real (and of the imaginary) part of one correlation, ``(nbl, nf)``.

    ``sigma_pq = sqrt(SEFD_p * SEFD_q / (2 * bandwidth * integration))``.
    """
    return np.sqrt(sefd_jy[ant1] * sefd_jy[ant2] / (2.0 * bandwidth_hz * integration_s))


def natural_image_noise_jy(sigma_jy: np.ndarray, n_time: int) -> float:
    """Expected Stokes-I image rms with natural weighting (weights 1/sigma^2).

    Stokes I = (XX+YY)/2 has per-part noise sigma/sqrt(2); the weighted mean of
    all samples then has rms ``1/sqrt(2 * n_time * sum(1/sigma^2))``.
    """
    return float(1.0 / np.sqrt(2.0 * n_time * np.sum(1.0 / np.asarray(sigma_jy) ** 2)))
