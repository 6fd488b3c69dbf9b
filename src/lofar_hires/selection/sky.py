"""Positions on the sky: unit vectors and great-circle distances (vectorised, exact on the sphere)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def radec_to_xyz(ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """Unit vectors (..., 3) of sky positions given in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def xyz_to_radec(xyz: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """RA in [0, 360) and Dec (deg) of (not necessarily unit) vectors (..., 3)."""
    v = np.asarray(xyz, dtype=float)
    ra = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    dec = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return np.where(ra >= 360.0, 0.0, ra), dec


def angular_distance_deg(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Great-circle distance (deg) between unit vectors, accurate at all separations."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def separation_deg(ra1_deg: ArrayLike, dec1_deg: ArrayLike, ra2_deg: ArrayLike, dec2_deg: ArrayLike) -> np.ndarray:
    """Great-circle distance (degrees) between positions in degrees (broadcasting)."""
    return angular_distance_deg(radec_to_xyz(ra1_deg, dec1_deg), radec_to_xyz(ra2_deg, dec2_deg))


def pairwise_separation_deg(ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """Matrix of great-circle distances (degrees) between all positions."""
    xyz = radec_to_xyz(ra_deg, dec_deg)
    return angular_distance_deg(xyz[:, None, :], xyz[None, :, :])
