"""Direct Fourier transform of a sky model through per-station Jones chains.

For station p and source s the Jones chain is (signal path from right to left)::

    J_ps = G_p . E_ps . F_p . c_ps

with ``G_p`` a diagonal instrumental term (polarisation alignment, bandpass),
``E_ps`` the station beam, ``F_p`` the Faraday rotation matrix and ``c_ps`` a
scalar (geometric phase, clock, TEC, scintillation). Visibilities are
``V_pq = sum_s J_ps B_s J_qs^H`` with ``B_s = I_s * identity`` (unpolarised).

The geometric phase of a station is ``-2 pi nu/c * uvw_p . (l, m, n-1)``, so that
with baseline UVW ``uvw_q - uvw_p`` the visibility of a source is
``I exp(+2 pi i (u l + v m + w (n-1)) / lambda)`` (the convention of DP3).

Point sources are summed with one matrix product per time and channel over all
stations (the station-factorised DFT); Gaussians, whose envelope depends on the
baseline, are added baseline by baseline.

With :class:`Smearing`, each visibility is the average over its channel and
integration: a source's term on a baseline with geometric delay ``tau`` and
delay rate ``dtau/dt`` is multiplied by ``sinc(dnu tau) sinc(dt nu dtau/dt)``
(square bandpass, phase linear in time; ``sinc(x) = sin(pi x)/(pi x)``).
Smearing depends on the baseline, so every source is then summed baseline by
baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lofar_hires.physics import C_M_S
from lofar_hires.simulation.geometry import baseline_uvw_m

_FWHM_TO_ENVELOPE = np.pi**2 / (4 * np.log(2))
_ARCSEC = np.pi / (180 * 3600)


@dataclass(frozen=True)
class Components:
    """Sky components prepared for prediction."""

    lmn: np.ndarray  # (ns, 3)
    flux_jy: np.ndarray  # (ns, nf)
    gaussian: np.ndarray  # (ns,) bool
    major_rad: np.ndarray  # (ns,)
    minor_rad: np.ndarray  # (ns,)
    pa_rad: np.ndarray  # (ns,)

    @staticmethod
    def from_arrays(lmn, flux_jy, gaussian=None, major_arcsec=None, minor_arcsec=None,
                    orientation_deg=None) -> Components:
        ns = len(lmn)
        zeros = np.zeros(ns)
        return Components(
            lmn=np.asarray(lmn, dtype=float),
            flux_jy=np.asarray(flux_jy, dtype=float),
            gaussian=np.zeros(ns, bool) if gaussian is None else np.asarray(gaussian, bool),
            major_rad=zeros if major_arcsec is None else np.asarray(major_arcsec) * _ARCSEC,
            minor_rad=zeros if minor_arcsec is None else np.asarray(minor_arcsec) * _ARCSEC,
            pa_rad=zeros if orientation_deg is None else np.radians(orientation_deg),
        )


@dataclass(frozen=True)
class Smearing:
    """What bandwidth and time smearing need: the averaging cell and the UVW rate of each station."""

    chan_width_hz: float
    integration_s: float
    station_uvw_rate_m_s: np.ndarray  # (nt, nst, 3)


#: Sources per block in the baseline-by-baseline sum (bounds the memory of the smeared predict).
SMEAR_SOURCE_BLOCK = 16


def smearing_factors(station_uvw_m: np.ndarray, smearing: Smearing, lmn: np.ndarray, freqs_hz: np.ndarray,
                     ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """Amplitude factors ``(nt, nbl, ns, nf)`` of bandwidth and time smearing (1 at the phase centre)."""
    offs = lmn.copy()
    offs[:, 2] -= 1.0
    delay_s = np.einsum("tpi,si->tps", station_uvw_m, offs) / C_M_S
    rate = np.einsum("tpi,si->tps", smearing.station_uvw_rate_m_s, offs) / C_M_S
    d_delay = delay_s[:, ant2] - delay_s[:, ant1]  # (nt, nbl, ns)
    d_rate = rate[:, ant2] - rate[:, ant1]
    bandwidth = np.sinc(smearing.chan_width_hz * d_delay)[..., None]
    timeavg = np.sinc(smearing.integration_s * d_rate[..., None] * np.asarray(freqs_hz))
    return bandwidth * timeavg


def geometric_phase_rad(station_uvw_m: np.ndarray, lmn: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Per-station geometric phase ``(nt, nst, ns, nf)``."""
    offs = lmn.copy()
    offs[:, 2] -= 1.0
    delay_m = np.einsum("tpi,si->tps", station_uvw_m, offs)
    return (-2 * np.pi / C_M_S) * delay_m[..., None] * np.asarray(freqs_hz)


def gaussian_envelope(uvw_m: np.ndarray, freqs_hz: np.ndarray, major_rad: float, minor_rad: float,
                      pa_rad: float) -> np.ndarray:
    """Visibility envelope ``(nt, nbl, nf)`` of a unit-flux elliptical Gaussian."""
    e_maj = np.array([np.sin(pa_rad), np.cos(pa_rad)])
    e_min = np.array([np.cos(pa_rad), -np.sin(pa_rad)])
    scale = np.asarray(freqs_hz) / C_M_S
    u_maj = (uvw_m[..., :2] @ e_maj)[..., None] * scale
    u_min = (uvw_m[..., :2] @ e_min)[..., None] * scale
    return np.exp(-_FWHM_TO_ENVELOPE * ((major_rad * u_maj) ** 2 + (minor_rad * u_min) ** 2))


def rotation_matrices(angle_rad: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[[cos, -sin], [sin, cos]]`` with shape ``angle.shape + (2, 2)``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def predict_visibilities(
    station_uvw_m: np.ndarray,
    freqs_hz: np.ndarray,
    comps: Components,
    ant1: np.ndarray,
    ant2: np.ndarray,
    *,
    extra_phase_rad: np.ndarray | None = None,
    amplitude: np.ndarray | None = None,
    diagonal: np.ndarray | None = None,
    faraday_rad: np.ndarray | None = None,
    beam: np.ndarray | None = None,
    smearing: Smearing | None = None,
) -> np.ndarray:
    """Corrupted model visibilities ``(nt, nbl, nf, 4)`` (XX, XY, YX, YY).

    Parameters
    ----------
    station_uvw_m
        ``(nt, nst, 3)`` station UVW relative to a common origin.
    freqs_hz
        ``(nf,)`` channel frequencies.
    comps
        Sky components.
    ant1, ant2
        Baseline station indices.
    extra_phase_rad
        ``(nt, nst, ns, nf)`` scalar phases added to the geometric phase
        (clock, TEC; direction dependent allowed) or ``None``.
    amplitude
        ``(nt, nst)`` scalar amplitude (scintillation) or ``None``.
    diagonal
        ``(nf, nst, 2)`` complex diagonal instrumental gains or ``None``.
    faraday_rad
        ``(nt, nst, nf)`` Faraday rotation angles or ``None``.
    beam
        ``(nt, nst, ns, nf, 2, 2)`` station responses or ``None``.
    smearing
        Average over each channel and integration (bandwidth and time smearing), or ``None``.
    """
    nt, nst, _ = station_uvw_m.shape
    nf = len(freqs_hz)
    nbl = len(ant1)
    phase = geometric_phase_rad(station_uvw_m, comps.lmn, freqs_hz)
    if extra_phase_rad is not None:
        phase = phase + extra_phase_rad
    scalar = np.exp(1j * phase)  # (nt, nst, ns, nf)
    if amplitude is not None:
        scalar *= amplitude[:, :, None, None]
    points = ~comps.gaussian
    rot = None if faraday_rad is None else rotation_matrices(faraday_rad)  # (nt, nst, nf, 2, 2)
    vis = np.zeros((nt, nbl, nf, 2, 2), dtype=complex)
    if smearing is not None:
        vis += _smeared_sum(station_uvw_m, freqs_hz, comps, ant1, ant2, scalar, rot, beam, smearing)
    elif beam is None:
        # Scalar sum over point sources, then the (source-independent) matrices per baseline.
        c = np.transpose(scalar[:, :, points, :], (0, 3, 1, 2))  # (nt, nf, nst, nsp)
        weighted = c * comps.flux_jy[points].T[None, :, None, :]
        s = weighted @ np.conj(np.swapaxes(c, -1, -2))  # (nt, nf, nst, nst)
        s_bl = np.transpose(s[:, :, ant1, ant2], (0, 2, 1))  # (nt, nbl, nf)
        vis += s_bl[..., None, None] * _baseline_rotation(rot, ant1, ant2, nt, nf)
        for g in np.flatnonzero(comps.gaussian):
            env = gaussian_envelope(baseline_uvw_m(station_uvw_m, ant1, ant2), freqs_hz,
                                    comps.major_rad[g], comps.minor_rad[g], comps.pa_rad[g])
            sg = comps.flux_jy[g][None, None, :] * env * scalar[:, ant1, g, :] * np.conj(scalar[:, ant2, g, :])
            vis += sg[..., None, None] * _baseline_rotation(rot, ant1, ant2, nt, nf)
    else:
        # Full Jones per station and source: M = E . F, summed with one matrix product.
        m = beam if rot is None else beam @ rot[:, :, None]  # (nt, nst, ns, nf, 2, 2)
        x = scalar[..., None, None] * m  # (nt, nst, ns, nf, 2, 2)
        xp = x[:, :, points] * np.sqrt(comps.flux_jy[points])[None, None, :, :, None, None]
        nsp = xp.shape[2]
        # (nt, nf, nst, i, nsp, k) -> (nt, nf, 2 nst, 2 nsp)
        y = np.transpose(xp, (0, 3, 1, 4, 2, 5)).reshape(nt, nf, 2 * nst, 2 * nsp)
        full = y @ np.conj(np.swapaxes(y, -1, -2))  # (nt, nf, 2nst, 2nst)
        full = full.reshape(nt, nf, nst, 2, nst, 2)
        vis += _extract_baselines(full, ant1, ant2)
        for g in np.flatnonzero(comps.gaussian):
            env = gaussian_envelope(baseline_uvw_m(station_uvw_m, ant1, ant2), freqs_hz,
                                    comps.major_rad[g], comps.minor_rad[g], comps.pa_rad[g])
            jp = x[:, ant1, g]  # (nt, nbl, nf, 2, 2)
            jq = x[:, ant2, g]
            term = jp @ np.conj(np.swapaxes(jq, -1, -2))
            vis += (comps.flux_jy[g][None, None, :] * env)[..., None, None] * term
    if diagonal is not None:
        gp = np.transpose(diagonal[:, ant1, :], (1, 0, 2))[None]  # (1, nbl, nf, 2)
        gq = np.transpose(diagonal[:, ant2, :], (1, 0, 2))[None]
        vis *= gp[..., :, None] * np.conj(gq[..., None, :])
    return vis.reshape(nt, nbl, nf, 4)


def _smeared_sum(station_uvw_m, freqs_hz, comps: Components, ant1, ant2, scalar, rot, beam,
                 smearing: Smearing) -> np.ndarray:
    """All sources summed baseline by baseline with their smearing factors ``(nt, nbl, nf, 2, 2)``."""
    nt, nf, nbl = scalar.shape[0], len(freqs_hz), len(ant1)
    out = np.zeros((nt, nbl, nf, 2, 2), dtype=complex)
    uvw_bl = baseline_uvw_m(station_uvw_m, ant1, ant2) if comps.gaussian.any() else None
    for start in range(0, len(comps.lmn), SMEAR_SOURCE_BLOCK):
        block = np.arange(start, min(len(comps.lmn), start + SMEAR_SOURCE_BLOCK))
        factor = smearing_factors(station_uvw_m, smearing, comps.lmn[block], freqs_hz, ant1, ant2)
        amp = factor * comps.flux_jy[block][None, None, :, :]  # (nt, nbl, nsb, nf)
        for k, g in enumerate(block):
            if comps.gaussian[g]:
                amp[:, :, k] *= gaussian_envelope(uvw_bl, freqs_hz, comps.major_rad[g], comps.minor_rad[g],
                                                  comps.pa_rad[g])
        if beam is None:
            s_bl = np.einsum("tbsf,tbsf,tbsf->tbf", amp, scalar[:, ant1][:, :, block],
                             np.conj(scalar[:, ant2][:, :, block]))
            out += s_bl[..., None, None] * _baseline_rotation(rot, ant1, ant2, nt, nf)
            continue
        for k, g in enumerate(block):
            m = beam[:, :, g] if rot is None else beam[:, :, g] @ rot  # (nt, nst, nf, 2, 2)
            x = scalar[:, :, g, :, None, None] * m
            term = x[:, ant1] @ np.conj(np.swapaxes(x[:, ant2], -1, -2))
            out += amp[:, :, k, :, None, None] * term
    return out


def _baseline_rotation(rot: np.ndarray | None, ant1, ant2, nt: int, nf: int) -> np.ndarray:
    """``F_p F_q^T`` per baseline ``(nt, nbl, nf, 2, 2)``, identity without Faraday rotation."""
    if rot is None:
        return np.broadcast_to(np.eye(2), (nt, len(ant1), nf, 2, 2))
    return rot[:, ant1] @ np.swapaxes(rot[:, ant2], -1, -2)


def _extract_baselines(full: np.ndarray, ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """From ``(nt, nf, nst, 2, nst, 2)`` to baselines ``(nt, nbl, nf, 2, 2)``."""
    sel = full[:, :, ant1, :, ant2, :]  # advanced indices first: (nbl, nt, nf, 2, 2)
    return np.transpose(sel, (1, 0, 2, 3, 4))
