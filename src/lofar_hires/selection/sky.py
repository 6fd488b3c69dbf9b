"""Angles on the sky (vectorised, exact on the sphere)."""

from __future__ import annotations

import numpy as np


def separation_deg(ra1_deg, dec1_deg, ra2_deg, dec2_deg) -> np.ndarray:
    """Great-circle distance (degrees) between positions in degrees (broadcasting; Vincenty's formula)."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(a, dtype=float)) for a in (ra1_deg, dec1_deg, ra2_deg, dec2_deg))
    dra = ra2 - ra1
    num = np.hypot(np.cos(dec2) * np.sin(dra), np.cos(dec1) * np.sin(dec2) - np.sin(dec1) * np.cos(dec2) * np.cos(dra))
    den = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(dra)
    return np.degrees(np.arctan2(num, den))


def pairwise_separation_deg(ra_deg, dec_deg) -> np.ndarray:
    """Matrix of great-circle distances (degrees) between all positions."""
    ra, dec = np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float)
    return separation_deg(ra[:, None], dec[:, None], ra[None, :], dec[None, :])
