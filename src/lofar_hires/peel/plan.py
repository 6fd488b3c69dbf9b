"""What peeling will do, decided before any data are touched (Noordam 2005; de Jong et al. 2025, section 6.7).

Sources are peeled brightest first: a bright source's errors contaminate the solves
towards fainter ones, never the other way round. Each source needs enough signal for
its own direction-dependent solve: the signal to noise of one station's gain over a
solution cell is estimated as

    snr = S / sigma_vis * sqrt(2 (N - 1) n_time n_chan)

with ``S`` the source's flux, ``sigma_vis`` the noise of one visibility (one correlation),
``N`` stations, ``n_time x n_chan`` samples per cell and two parallel hands; the phase error
of the solution is about ``1 / snr`` rad. A source below the minimum is refused with its
estimate. The noise is measured from the data themselves (the cross hands of an unpolarised
sky hold only noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.skymodel import SkyModel

#: Scale of the median absolute deviation of a normal distribution to its standard deviation.
MAD_TO_SIGMA = 1.4826
#: Samples farther than this many standard deviations from zero are left out of the noise estimate.
CLIP_SIGMA = 5.0


@dataclass(frozen=True)
class PeelSource:
    """One source to peel: its sky-model name, position and flux at the data's frequency."""

    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float


def peel_order(model: SkyModel, freq_hz: float, *, min_flux_jy: float | None = None,
               names: Sequence[str] = ()) -> list[PeelSource]:
    """The sources to peel, brightest first: those named, or every component above ``min_flux_jy``.

    Components of one patch are one source (their fluxes add; the position is the brightest
    component's). Named sources must be patches or components of the model.

    Raises
    ------
    InputError
        A name not in the model, neither names nor a threshold, or nothing above the threshold.
    """
    if not names and min_flux_jy is None:
        raise InputError("give the sources to peel or a flux threshold", setting="min_flux_jy")
    if min_flux_jy is not None and not (math.isfinite(min_flux_jy) and min_flux_jy > 0):
        raise InputError(f"the peeling threshold must be a positive flux, got {min_flux_jy} Jy", setting="min_flux_jy")
    flux = model.flux_jy(np.array([freq_hz]))[:, 0]
    groups: dict[str, list[int]] = {}
    for i, patch in enumerate(model.patches):
        groups.setdefault(patch or model.names[i], []).append(i)
    by_name = {**{n: [i] for i, n in enumerate(model.names)}, **groups}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InputError(f"source(s) {', '.join(unknown)} are not in the sky model (neither a component nor a "
                             "patch)", setting="names")
        chosen = {n: by_name[n] for n in dict.fromkeys(names)}
    else:
        chosen = {n: idx for n, idx in groups.items() if float(np.sum(flux[idx])) >= min_flux_jy}
        if not chosen:
            raise InputError(f"no source of the sky model is brighter than {min_flux_jy} Jy at "
                             f"{freq_hz / 1e6:.2f} MHz (the brightest has {float(flux.max()):.3g} Jy)",
                             setting="min_flux_jy")
    sources = []
    for name, idx in chosen.items():
        brightest = idx[int(np.argmax(flux[idx]))]
        sources.append(PeelSource(name, float(np.degrees(model.ra_rad[brightest]) % 360.0),
                                  float(np.degrees(model.dec_rad[brightest])), float(np.sum(flux[idx]))))
    return sorted(sources, key=lambda s: -s.flux_jy)


def visibility_noise_jy(data: np.ndarray, flags: np.ndarray | None = None) -> float:
    """Noise of one visibility (Jy, one correlation, real or imaginary part), from the data themselves.

    ``data`` is ``(n_rows, n_chan, n_corr)``; flagged and non-finite samples are left out. With four
    correlations the cross hands (XY, YX) are used: an unpolarised sky leaves only noise (and small
    leakage) in them, however bright and far from the phase centre its sources are. Otherwise the
    differences of neighbouring channels are used (they cancel a sky that varies slowly with frequency).
    The rms of the samples within five standard deviations: baselines of different sensitivity
    (core, remote, international stations) count with their noise, outliers do not.
    """
    data = np.asarray(data)
    if data.ndim != 3 or data.shape[0] < 1:
        raise InputError("the noise estimate needs data of shape (rows, channels, correlations)")
    ok = np.isfinite(data)
    if flags is not None:
        ok &= ~np.asarray(flags, dtype=bool)
    if data.shape[2] == 4:
        values = data[:, :, 1:3][ok[:, :, 1:3]]
        scale = 1.0
    else:
        if data.shape[1] < 2:
            raise InputError("the noise estimate needs four correlations or at least two channels")
        good = ok[:, 1:] & ok[:, :-1]
        values = (data[:, 1:] - data[:, :-1])[good]
        scale = math.sqrt(2.0)
    parts = np.concatenate([values.real, values.imag]).astype(np.float64)
    if parts.size < 10:
        raise InputError("too few unflagged samples to estimate the noise")
    # rms with outliers clipped (RFI, a polarised source): baselines of different sensitivity keep their weight
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(parts - np.median(parts))))
    for _ in range(5):
        kept = parts[np.abs(parts) <= CLIP_SIGMA * sigma] if sigma > 0 else parts
        new = float(np.sqrt(np.mean(kept**2)))
        if sigma > 0 and abs(new - sigma) <= 1e-3 * sigma:
            break
        sigma = new
    return sigma / scale


def solution_snr(flux_jy: float, noise_jy: float, n_stations: int, n_time: int, n_chan: int) -> float:
    """Signal to noise of one station's gain over a cell of ``n_time x n_chan`` samples (see the module)."""
    if noise_jy <= 0 or n_stations < 2 or n_time < 1 or n_chan < 1:
        raise InputError("the signal-to-noise estimate needs a positive noise, two stations and a cell of samples")
    return float(flux_jy / noise_jy * math.sqrt(2.0 * (n_stations - 1) * n_time * n_chan))


def check_solvable(sources: Sequence[PeelSource], noise_jy: float, n_stations: int, n_time: int, n_chan: int,
                   min_snr: float) -> dict[str, float]:
    """Every source's estimated signal to noise per solution; too faint sources are refused with theirs."""
    snr = {s.name: solution_snr(s.flux_jy, noise_jy, n_stations, n_time, n_chan) for s in sources}
    faint = [f"{name} (S/N {value:.1f})" for name, value in snr.items() if value < min_snr]
    if faint:
        raise InputError(f"too faint to solve on: {', '.join(faint)}; the solves need S/N >= {min_snr:g} per station "
                         f"and solution ({n_time} time slot(s) x {n_chan} channel(s), noise {noise_jy:.3g} Jy per "
                         "visibility): lengthen the solution interval or leave the source out", setting="min_snr")
    return snr
