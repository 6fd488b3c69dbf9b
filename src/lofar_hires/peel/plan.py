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
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.ms import MsInfo
from lofar_hires.io.skymodel import SkyModel
from lofar_hires.runners.dp3_steps import freq_channels, time_slots
from lofar_hires.selection.sky import separation_deg
from lofar_hires.selection.smearing import DataResolution, suggest_averaging

#: Scale of the median absolute deviation of a normal distribution to its standard deviation.
MAD_TO_SIGMA = 1.4826
#: Samples farther than this many standard deviations from zero are left out of the noise estimate.
CLIP_SIGMA = 5.0


@dataclass(frozen=True)
class PeelSource:
    """One source of the sky model (a patch, or a component without one): its name, the position of its
    brightest component, its flux at the data's frequency and its components (indices into the model)."""

    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float
    components: tuple[int, ...] = ()


def sources_of(model: SkyModel, freq_hz: float) -> dict[str, PeelSource]:
    """Every source of ``model`` by name: the components of one patch are one source (their fluxes add)."""
    flux = model.flux_jy(np.array([freq_hz]))[:, 0]
    groups: dict[str, list[int]] = {}
    for i, patch in enumerate(model.patches):
        groups.setdefault(patch or model.names[i], []).append(i)
    sources = {}
    for name, idx in groups.items():
        brightest = idx[int(np.argmax(flux[idx]))]
        sources[name] = PeelSource(name, float(np.degrees(model.ra_rad[brightest]) % 360.0),
                                   float(np.degrees(model.dec_rad[brightest])), float(np.sum(flux[idx])), tuple(idx))
    return sources


def peel_order(model: SkyModel, freq_hz: float, *, min_flux_jy: float | None = None,
               names: Sequence[str] = (), given_order: bool = False) -> list[PeelSource]:
    """The sources to peel, brightest first: those named, or every source above ``min_flux_jy``.

    Components of one patch are one source (their fluxes add; the position is the brightest
    component's). Named sources must be patches or components of the model; with ``given_order``
    they are peeled in the order named (for comparisons: brightest first is what works).

    Raises
    ------
    InputError
        A name not in the model, neither names nor a threshold, or nothing above the threshold.
    """
    if not names and min_flux_jy is None:
        raise InputError("give the sources to peel or a flux threshold", setting="min_flux_jy")
    if min_flux_jy is not None and not (math.isfinite(min_flux_jy) and min_flux_jy > 0):
        raise InputError(f"the peeling threshold must be a positive flux, got {min_flux_jy} Jy", setting="min_flux_jy")
    sources = sources_of(model, freq_hz)
    if names:
        by_component = {name: i for i, name in enumerate(model.names)}
        unknown = [n for n in names if n not in sources and n not in by_component]
        if unknown:
            raise InputError(f"source(s) {', '.join(unknown)} are not in the sky model (neither a component nor a "
                             "patch)", setting="names")
        chosen = [sources[n] if n in sources else _component(model, by_component[n], freq_hz)
                  for n in dict.fromkeys(names)]
        return chosen if given_order else sorted(chosen, key=lambda s: -s.flux_jy)
    chosen = [s for s in sources.values() if s.flux_jy >= min_flux_jy]
    if not chosen:
        brightest = max(s.flux_jy for s in sources.values())
        raise InputError(f"no source of the sky model is brighter than {min_flux_jy:g} Jy at "
                         f"{freq_hz / 1e6:.2f} MHz (the brightest has {brightest:.3g} Jy)", setting="min_flux_jy")
    return sorted(chosen, key=lambda s: -s.flux_jy)


def _component(model: SkyModel, i: int, freq_hz: float) -> PeelSource:
    flux = float(model.flux_jy(np.array([freq_hz]))[i, 0])
    return PeelSource(model.names[i], float(np.degrees(model.ra_rad[i]) % 360.0), float(np.degrees(model.dec_rad[i])),
                      flux, (i,))


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


# --------------------------------------------------------------------------- the plan of a peeling run

#: Speed of light (m/s), for the array's resolution.
C_M_S = 299_792_458.0


#: Solve modes peeling can subtract with (scalar or diagonal gains that DP3's h5parmpredict applies).
PEEL_SOLVE_MODES = ("diagonal", "scalar", "diagonalphase", "scalarphase")


@dataclass(frozen=True)
class PeelSettings:
    """How sources are peeled (defaults: ``lofar-hires peel --help``)."""

    solve_mode: str = "diagonal"
    solint_s: float = 60.0
    solint_hz: float = 2.0e6
    uvmin_lambda: float = 0.0
    min_snr: float = 5.0
    max_contaminators: int = 3
    contaminator_fraction: float = 0.1
    max_smearing_loss: float = 0.05
    maxiter: int = 100
    tolerance: float = 1.0e-4
    beam: bool = True
    data_column: str = "DATA"
    threads: int = 2

    def __post_init__(self) -> None:
        if self.solve_mode not in PEEL_SOLVE_MODES:
            raise InputError(f"peeling solves one of {', '.join(PEEL_SOLVE_MODES)}, got {self.solve_mode!r}",
                             setting="solve_mode")
        positive = {"solint_s": self.solint_s, "solint_hz": self.solint_hz, "min_snr": self.min_snr}
        for key, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{key} must be a positive number, got {value}", setting=key)
        if not (math.isfinite(self.uvmin_lambda) and self.uvmin_lambda >= 0):
            raise InputError(f"uvmin_lambda must be >= 0, got {self.uvmin_lambda}", setting="uvmin_lambda")
        if self.max_contaminators < 0:
            raise InputError(f"max_contaminators must be >= 0, got {self.max_contaminators}",
                             setting="max_contaminators")
        if not (0.0 < self.contaminator_fraction <= 1.0):
            raise InputError(f"contaminator_fraction must be in (0, 1], got {self.contaminator_fraction}",
                             setting="contaminator_fraction")
        if not (0.0 < self.max_smearing_loss < 1.0):
            raise InputError(f"max_smearing_loss must be in (0, 1), got {self.max_smearing_loss}",
                             setting="max_smearing_loss")
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {self.threads}", setting="threads")
        if self.maxiter < 1:
            raise InputError(f"maxiter must be at least 1, got {self.maxiter}", setting="maxiter")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise InputError(f"tolerance must be a positive number, got {self.tolerance}", setting="tolerance")


@dataclass(frozen=True)
class PeelStep:
    """One source's peel: what its solve models, how far its data are averaged, its solution cells.

    ``patch`` and the contaminators' patches are the DP3 names of the solve's directions
    (the h5parm's directions are ``[patch]``). ``time_factor x chan_factor`` is the averaging of
    the phase-shifted data the solve runs on; ``solint_slots x nchan`` its solution cell in
    those averaged samples; ``snr`` the estimated signal to noise of one station's solution.
    """

    source: PeelSource
    patch: str
    contaminators: tuple[PeelSource, ...]
    contaminator_patches: tuple[str, ...]
    distance_deg: float
    time_factor: int
    chan_factor: int
    solint_slots: int
    nchan: int
    snr: float

    def describe(self) -> dict[str, object]:
        s = self.source
        return {"name": s.name, "patch": self.patch, "ra_deg": s.ra_deg, "dec_deg": s.dec_deg, "flux_jy": s.flux_jy,
                "distance_deg": self.distance_deg,
                "contaminators": [{"name": c.name, "patch": p, "flux_jy": c.flux_jy}
                                  for c, p in zip(self.contaminators, self.contaminator_patches)],
                "averaging": {"time_factor": self.time_factor, "chan_factor": self.chan_factor},
                "solution_cell": {"time_slots": self.solint_slots, "channels": self.nchan},
                "estimated_snr": self.snr}


def array_resolution_arcsec(station_positions_m: np.ndarray, freq_min_hz: float) -> float:
    """lambda / B_max at the lowest frequency (arcsec): the finest scale the data resolve."""
    pos = np.asarray(station_positions_m, dtype=float)
    if pos.ndim != 2 or pos.shape[0] < 2:
        raise InputError("the array resolution needs at least two station positions")
    longest = float(np.max(np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)))
    if longest <= 0:
        raise InputError("the stations all lie at one position")
    return math.degrees(C_M_S / freq_min_hz / longest) * 3600.0


def contaminators_of(source: PeelSource, candidates: Sequence[PeelSource], fraction: float,
                     max_count: int) -> list[PeelSource]:
    """The sources left in the data that bias ``source``'s solve: the brightest ones of at least ``fraction``
    of its flux (at most ``max_count``), modelled as directions of their own in the solve."""
    taken = set(source.components)
    left = [c for c in candidates if not taken & set(c.components) and c.flux_jy >= fraction * source.flux_jy]
    return sorted(left, key=lambda c: -c.flux_jy)[:max_count]


def dp3_patch_names(names: Sequence[str]) -> dict[str, str]:
    """A distinct DP3 patch name for every source name (letters, digits and ``_`` only)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:40] or "source"
        if base[0].isdigit():
            base = f"s_{base}"
        candidate, k = base, 1
        while candidate in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        out[name] = candidate
    return out


def plan_peel(model: SkyModel, info: MsInfo, sources: Sequence[PeelSource], settings: PeelSettings,
              noise_jy: float) -> list[PeelStep]:
    """Every source's peel, in order; too faint sources are refused (with their estimated signal to noise)."""
    freq_min = float(np.min(info.freqs_hz))
    n_chan = len(info.freqs_hz)
    slots = time_slots(settings.solint_s, info.integration_s)
    chans = freq_channels(settings.solint_hz, info.chan_width_hz, n_chan)
    check_solvable(sources, noise_jy, len(info.station_names), slots, chans, settings.min_snr)
    everything = sources_of(model, float(np.mean(info.freqs_hz)))
    patches = dp3_patch_names(list(everything) + [s.name for s in sources if s.name not in everything])
    resolution = array_resolution_arcsec(info.station_positions_m, freq_min)
    data = DataResolution(integration_s=info.integration_s, chan_width_hz=info.chan_width_hz,
                          freq_min_hz=freq_min, n_chan=n_chan)
    centre = tuple(math.degrees(a) for a in info.phase_centre_rad)
    steps: list[PeelStep] = []
    peeled: set[int] = set()
    for source in sources:
        left = [c for c in everything.values() if not peeled & set(c.components)]
        contaminators = contaminators_of(source, left, settings.contaminator_fraction, settings.max_contaminators)
        time_factor, chan_factor = slots, chans
        if contaminators:  # the contaminators must stay unsmeared in the averaged data the solve models them in
            farthest = float(max(separation_deg(source.ra_deg, source.dec_deg, c.ra_deg, c.dec_deg)
                                 for c in contaminators))
            limit = suggest_averaging(max(farthest, 1e-6), data, resolution, settings.max_smearing_loss)
            time_factor, chan_factor = min(slots, limit.time_factor), min(chans, limit.chan_factor)
        steps.append(PeelStep(
            source=source, patch=patches[source.name], contaminators=tuple(contaminators),
            contaminator_patches=tuple(patches[c.name] for c in contaminators),
            distance_deg=float(separation_deg(centre[0], centre[1], source.ra_deg, source.dec_deg)),
            time_factor=time_factor, chan_factor=chan_factor, solint_slots=math.ceil(slots / time_factor),
            nchan=max(1, round(chans / chan_factor)),
            snr=solution_snr(source.flux_jy, noise_jy, len(info.station_names), slots, chans)))
        peeled |= set(source.components)
    return steps
