"""Physical constants and LOFAR naming conventions, in one place.

* The speed of light (m/s).
* The ionospheric phase constant: a total electron content ``tec_tecu`` (1 TECU =
  1e16 electrons/m^2) delays the phase at frequency ``nu`` by
  ``TEC_PHASE_CONSTANT * tec_tecu / nu`` radians, the convention of DP3, LoSoTo
  and the h5parm ``tec`` soltype (constant -8.44797245e9 rad Hz / TECU).
* Faraday rotation: the polarisation angle turns by ``rm * lambda^2`` radians
  (``rm`` in rad/m^2, ``lambda = C_M_S / nu``); the rotation of the X/Y dipole frame
  is the same angle.
* Station names: ``CS`` core, ``RS`` remote, every other prefix an international
  station; ``ST`` names are phased-up superstations made by DP3's stationadder.
"""

from __future__ import annotations

import numpy as np

#: Speed of light in vacuum (m/s).
C_M_S = 299_792_458.0

#: Ionospheric phase per TECU at 1 Hz (rad Hz / TECU): phase = TEC_PHASE_CONSTANT * tec / nu.
TEC_PHASE_CONSTANT = -8.44797245e9

#: Station name prefixes and the group each means.
STATION_PREFIXES = {"CS": "core", "RS": "remote", "ST": "superstation"}


def wavelength_squared_m2(freq_hz: np.ndarray | float) -> np.ndarray:
    """lambda^2 in m^2 at ``freq_hz``."""
    return (C_M_S / np.asarray(freq_hz, dtype=float)) ** 2


def tec_phase_rad(tec_tecu: np.ndarray | float, freq_hz: np.ndarray | float) -> np.ndarray:
    """Ionospheric phase (rad) of ``tec_tecu`` at ``freq_hz`` (broadcast)."""
    return TEC_PHASE_CONSTANT * np.asarray(tec_tecu, dtype=float) / np.asarray(freq_hz, dtype=float)


def station_kind(name: str) -> str:
    """``core``, ``remote``, ``superstation`` or ``international`` from a LOFAR station name."""
    return STATION_PREFIXES.get(name[:2], "international")


def angular_separation_rad(ra1_rad: np.ndarray | float, dec1_rad: np.ndarray | float, ra2_rad: np.ndarray | float,
                           dec2_rad: np.ndarray | float) -> np.ndarray:
    """Great-circle distance between sky positions (radians; broadcasting), accurate at every separation
    (the Vincenty formula)."""
    dra = np.asarray(ra2_rad, dtype=float) - np.asarray(ra1_rad, dtype=float)
    s1, c1 = np.sin(dec1_rad), np.cos(dec1_rad)
    s2, c2 = np.sin(dec2_rad), np.cos(dec2_rad)
    num = np.hypot(c2 * np.sin(dra), c1 * s2 - s1 * c2 * np.cos(dra))
    return np.arctan2(num, s1 * s2 + c1 * c2 * np.cos(dra))
