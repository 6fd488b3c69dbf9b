"""Random sky models for the simulator: bright compact, resolved and faint sources."""

from __future__ import annotations

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.skymodel import SkyModel
from lofar_hires.simulation.config import SkyConfig
from lofar_hires.simulation.geometry import lmn_to_radec


def _positions_in_disc(
    rng: np.random.Generator, n: int, radius_rad: float, min_sep_rad: float = 0.0,
    avoid: np.ndarray | None = None, max_tries: int = 10000, min_radius_rad: float = 0.0,
) -> np.ndarray:
    """``(n, 2)`` tangent-plane (l, m) positions uniform in a disc (or the ring outside
    ``min_radius_rad``), at least ``min_sep`` apart."""
    placed: list[np.ndarray] = [] if avoid is None else [p for p in avoid]
    out = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > max_tries:
            raise InputError(
                f"sky: cannot place {n} sources {np.degrees(min_sep_rad):.2f} deg apart within "
                f"{np.degrees(radius_rad):.2f} deg; lower the count or the separation"
            )
        u = rng.uniform()
        r = (radius_rad * np.sqrt(u) if min_radius_rad == 0
             else np.sqrt(min_radius_rad**2 + (radius_rad**2 - min_radius_rad**2) * u))
        phi = rng.uniform(0, 2 * np.pi)
        p = np.array([r * np.sin(phi), r * np.cos(phi)])
        if min_sep_rad > 0 and placed and np.min(np.hypot(*(np.array(placed) - p).T)) < min_sep_rad:
            continue
        placed.append(p)
        out.append(p)
    return np.array(out).reshape(n, 2)


def _powerlaw_fluxes(rng: np.random.Generator, n: int, lo: float, hi: float, slope: float) -> np.ndarray:
    """Fluxes with dN/dS proportional to S**slope between ``lo`` and ``hi`` (inverse CDF)."""
    if n == 0:
        return np.zeros(0)
    u = rng.uniform(size=n)
    if lo == hi:
        return np.full(n, lo)
    g = slope + 1.0
    if abs(g) < 1e-9:
        return lo * (hi / lo) ** u
    return (lo**g + u * (hi**g - lo**g)) ** (1.0 / g)


def _near_bright(config: SkyConfig, bright_lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n_bright * n_faint_near_bright, 2)`` positions at a random distance in
    ``faint_near_bright_deg`` and a random position angle from each bright source."""
    k = config.n_faint_near_bright
    if k == 0 or len(bright_lm) == 0:
        return np.zeros((0, 2))
    lo, hi = np.radians(config.faint_near_bright_deg)
    r = rng.uniform(lo, hi, size=(len(bright_lm), k))
    phi = rng.uniform(0, 2 * np.pi, size=(len(bright_lm), k))
    offsets = np.stack([r * np.sin(phi), r * np.cos(phi)], axis=-1)
    return (bright_lm[:, None, :] + offsets).reshape(-1, 2)


def generate_sky(config: SkyConfig, phase_centre_rad: tuple[float, float], rng: np.random.Generator) -> SkyModel:
    """Draw a sky model around the phase centre according to ``config``.

    Bright sources are compact (points) at least ``bright_min_separation_deg``
    apart; resolved sources are Gaussians; faint sources follow a power-law
    flux distribution. Every source has its own patch named after it.
    """
    radius = np.radians(config.field_radius_deg)
    if config.bright_min_radius_deg >= config.field_radius_deg and config.n_bright:
        raise InputError(f"sky.bright_min_radius_deg ({config.bright_min_radius_deg}) must be smaller "
                         f"than sky.field_radius_deg ({config.field_radius_deg})",
                         setting="sky.bright_min_radius_deg")
    bright_lm = _positions_in_disc(rng, config.n_bright, radius,
                                   np.radians(config.bright_min_separation_deg),
                                   min_radius_rad=np.radians(config.bright_min_radius_deg))
    resolved_lm = _positions_in_disc(rng, config.n_resolved, radius, np.radians(0.05),
                                     avoid=bright_lm)
    faint_lm = _positions_in_disc(rng, config.n_faint, radius)
    lm = np.concatenate([bright_lm, resolved_lm, faint_lm]).reshape(-1, 2)
    n = len(lm)
    lmn = np.concatenate([lm, np.sqrt(1 - (lm**2).sum(axis=1, keepdims=True))], axis=1)
    ra, dec = lmn_to_radec(lmn, phase_centre_rad)
    flux = np.concatenate([
        rng.uniform(*config.bright_flux_jy, size=config.n_bright),
        rng.uniform(*config.resolved_flux_jy, size=config.n_resolved),
        _powerlaw_fluxes(rng, config.n_faint, *config.faint_flux_jy, config.faint_count_slope),
    ])
    names = (
        [f"bright{i + 1:02d}" for i in range(config.n_bright)]
        + [f"resolved{i + 1:02d}" for i in range(config.n_resolved)]
        + [f"faint{i + 1:03d}" for i in range(config.n_faint)]
    )
    types = ["POINT"] * config.n_bright + ["GAUSSIAN"] * config.n_resolved + ["POINT"] * config.n_faint
    major = np.zeros(n)
    minor = np.zeros(n)
    pa = np.zeros(n)
    sl = slice(config.n_bright, config.n_bright + config.n_resolved)
    major[sl] = rng.uniform(*config.resolved_fwhm_arcsec, size=config.n_resolved)
    minor[sl] = major[sl] * rng.uniform(0.5, 1.0, size=config.n_resolved)
    pa[sl] = rng.uniform(0, 180, size=config.n_resolved)
    si = rng.normal(config.spectral_index_mean, config.spectral_index_std, size=n)
    near = _near_bright(config, bright_lm, rng)
    if len(near):
        n_near = len(near)
        near_lmn = np.concatenate([near, np.sqrt(1 - (near**2).sum(axis=1, keepdims=True))], axis=1)
        near_ra, near_dec = lmn_to_radec(near_lmn, phase_centre_rad)
        ra = np.concatenate([np.atleast_1d(ra), np.atleast_1d(near_ra)])
        dec = np.concatenate([np.atleast_1d(dec), np.atleast_1d(near_dec)])
        flux = np.concatenate([flux, _powerlaw_fluxes(rng, n_near, *config.faint_flux_jy,
                                                      config.faint_count_slope)])
        names += [f"faint{config.n_faint + i + 1:03d}" for i in range(n_near)]
        types += ["POINT"] * n_near
        major, minor, pa = (np.concatenate([a, np.zeros(n_near)]) for a in (major, minor, pa))
        si = np.concatenate([si, rng.normal(config.spectral_index_mean, config.spectral_index_std, size=n_near)])
        n += n_near
    return SkyModel(
        names=names,
        types=types,
        patches=list(names),
        ra_rad=np.asarray(ra),
        dec_rad=np.asarray(dec),
        i_jy=flux,
        ref_freq_hz=np.full(n, config.reference_freq_hz),
        spectral_index=si[:, None],
        log_si=np.ones(n, dtype=bool),
        major_arcsec=major,
        minor_arcsec=minor,
        orientation_deg=pa,
    )


def flux_weighted_centre(model: SkyModel, freq_hz: float = 150e6) -> tuple[float, float]:
    """Flux-weighted (RA, Dec) centre of a compact model, radians."""
    w = model.flux_jy(np.array([freq_hz]))[:, 0]
    x = np.cos(model.dec_rad) * np.cos(model.ra_rad)
    y = np.cos(model.dec_rad) * np.sin(model.ra_rad)
    z = np.sin(model.dec_rad)
    v = np.array([np.sum(w * x), np.sum(w * y), np.sum(w * z)])
    v /= np.linalg.norm(v)
    return float(np.mod(np.arctan2(v[1], v[0]), 2 * np.pi)), float(np.arcsin(v[2]))
