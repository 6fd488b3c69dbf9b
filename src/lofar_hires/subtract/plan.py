"""What the facet subtraction will do, decided before any data are touched (pure functions).

A facet job is one facet of the region file with the h5parm direction of the same
name, its centre (the phase centre of its dataset), the sky-model components inside
its polygon and the averaging its size allows: the largest time x frequency averaging
whose bandwidth and time smearing keep the peak loss within the budget at the facet's
farthest vertex at the target resolution (``selection.smearing.suggest_averaging``).

Every check that can refuse the run happens here, so that a refused run has written
nothing: facets without a matching h5parm direction, facets outside the field, a sky
model that misses every facet, solutions without the measurement set's stations or
times, names DP3 cannot carry in a sky model, and too little disk for the outputs.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, direction_name
from lofar_hires.io.ms import MsInfo
from lofar_hires.io.names import safe_name
from lofar_hires.io.regions import Ds9Polygon
from lofar_hires.io.skymodel import SkyModel
from lofar_hires.selection.facets import Facet, facet_from_polygon, sky_polygon_contains
from lofar_hires.selection.sky import angular_distance_deg, radec_to_xyz
from lofar_hires.selection.smearing import AveragingSuggestion, DataResolution, suggest_averaging

log = logging.getLogger(__name__)

#: Facet (patch) names DP3 can carry in a makesourcedb sky model and an h5parm direction.
_DP3_NAME = re.compile(r"^[A-Za-z0-9_+\-.]+$")
#: Bytes per visibility of an output MS: complex64 data (8), float32 weight (4), bool flag (1), per correlation.
BYTES_PER_VISIBILITY = 13
#: Fraction of the free disk the outputs may use; the rest is left for logs, parsets and the system.
DISK_MARGIN = 0.9


@dataclass(frozen=True)
class FacetJob:
    """One facet's dataset: where it is, what it holds and how it is averaged."""

    name: str
    direction: str
    file_stem: str
    facet: Facet
    averaging: AveragingSuggestion
    n_components: int
    flux_jy: float

    @property
    def centre_deg(self) -> tuple[float, float]:
        return self.facet.centre_ra_deg, self.facet.centre_dec_deg

    def describe(self) -> dict[str, object]:
        """The facet's record in the provenance and the run summary."""
        a = self.averaging
        return {
            "facet": self.name, "direction": self.direction,
            "centre_ra_deg": self.facet.centre_ra_deg, "centre_dec_deg": self.facet.centre_dec_deg,
            "radius_deg": self.facet.radius_deg, "n_components": self.n_components, "flux_jy": self.flux_jy,
            "averaging": {"time_factor": a.time_factor, "chan_factor": a.chan_factor, "time_s": a.time_s,
                          "chan_width_hz": a.chan_width_hz, "smearing_reduction": a.reduction,
                          "meets_target": a.meets_target},
        }


@dataclass(frozen=True)
class SubtractPlan:
    """Every facet job of one measurement set, and the sky model split into facet patches."""

    jobs: tuple[FacetJob, ...]
    model: SkyModel
    outside: tuple[str, ...] = ()
    soltabs: tuple[str, ...] = ()
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def directions(self) -> list[str]:
        return [job.name for job in self.jobs]

    def job(self, name: str) -> FacetJob:
        for job in self.jobs:
            if job.name == name:
                return job
        raise InputError(f"no facet {name!r} in the region file (has {', '.join(self.directions)})",
                         setting="facet")


def facets_from_regions(polygons: Sequence[Ds9Polygon], where: Path) -> list[Facet]:
    """One facet per labelled polygon; unlabelled or repeated labels are refused."""
    if not polygons:
        raise InputError(f"region file {where} holds no polygon", setting="facet_regions")
    facets: list[Facet] = []
    for i, poly in enumerate(polygons):
        if not poly.name:
            raise InputError(f"region file {where}: polygon {i + 1} has no text={{name}} label; each facet needs the "
                             "name of its h5parm direction", setting="facet_regions")
        facets.append(facet_from_polygon(poly.name, poly.vertices_deg, poly.point_deg))
    names = [f.name for f in facets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"region file {where}: facet name(s) {', '.join(repeated)} used more than once",
                         setting="facet_regions")
    return facets


def check_directions(facets: Sequence[Facet], solset: Solset, h5parm: Path) -> None:
    """Every facet needs an h5parm direction of its name, and a name DP3 can carry as a patch."""
    have = set(solset.directions)
    missing = [f.name for f in facets if direction_name(f.name) not in have]
    if missing:
        known = ", ".join(d.strip("[]") for d in solset.directions) or "none"
        raise InputError(f"facet(s) {', '.join(missing)} have no matching direction in {h5parm} (has {known}); "
                         "the region file and the solutions must come from the same facet layout",
                         setting="h5parm")
    bad = [f.name for f in facets if not _DP3_NAME.match(f.name)]
    if bad:
        raise InputError(f"facet name(s) {', '.join(repr(b) for b in bad)} hold characters a DP3 sky-model patch "
                         "cannot carry; rename the directions (lofar-hires h5 directions --rename) and facets")


def check_in_field(facets: Sequence[Facet], phase_centre_deg: tuple[float, float], max_distance_deg: float) -> None:
    """Refuse facets whose centre lies farther than ``max_distance_deg`` from the data's phase centre."""
    centre = radec_to_xyz(*phase_centre_deg)
    far = []
    for f in facets:
        dist = float(angular_distance_deg(radec_to_xyz(f.centre_ra_deg, f.centre_dec_deg), centre))
        if dist > max_distance_deg:
            far.append(f"{f.name} ({dist:.2f} deg)")
    if far:
        raise InputError(f"facet(s) {', '.join(far)} lie outside the field: their centres are farther than "
                         f"{max_distance_deg:g} deg from the phase centre "
                         f"({phase_centre_deg[0]:.4f}, {phase_centre_deg[1]:.4f}) deg; is the region file for "
                         "this observation?", setting="max_distance_deg")


def assign_components(model: SkyModel, facets: Sequence[Facet]) -> np.ndarray:
    """Index of the facet holding each component (-1: in none); a component on a shared edge goes to the first."""
    ra, dec = np.degrees(model.ra_rad) % 360.0, np.degrees(model.dec_rad)
    index = np.full(len(model), -1, dtype=np.int64)
    for i, f in enumerate(facets):
        todo = index < 0
        if not todo.any():
            break
        inside = sky_polygon_contains(f.vertices_deg, ra[todo], dec[todo])
        index[np.flatnonzero(todo)[inside]] = i
    return index


def facet_model(model: SkyModel, facets: Sequence[Facet], index: np.ndarray) -> SkyModel:
    """The components inside facets, each in a patch named after its facet (the h5parm direction's name).

    A facet without components gets one of zero flux at its centre, so that every facet has a patch
    to predict (adding nothing) and every facet's DP3 steps are the same.
    """
    keep = index >= 0
    selected = model.select(keep)
    patches = [facets[i].name for i in index[keep]]
    empty = [f for i, f in enumerate(facets) if not np.any(index == i)]
    if empty:
        n = len(empty)
        taken = set(selected.names)
        names = [_unused(f"{PLACEHOLDER_PREFIX}{f.name}", taken) for f in empty]
        placeholder = SkyModel(
            names=names, types=["POINT"] * n, patches=[f.name for f in empty],
            ra_rad=np.radians([f.centre_ra_deg for f in empty]), dec_rad=np.radians([f.centre_dec_deg for f in empty]),
            i_jy=np.zeros(n), ref_freq_hz=np.full(n, 150e6), spectral_index=np.zeros((n, 0)),
            log_si=np.ones(n, bool), major_arcsec=np.zeros(n), minor_arcsec=np.zeros(n), orientation_deg=np.zeros(n))
        selected = _concatenate(selected, placeholder)
        patches += placeholder.patches
    positions = {f.name: (math.radians(f.cal_ra_deg), math.radians(f.cal_dec_deg)) for f in facets}
    used = {p: positions[p] for p in dict.fromkeys(patches)}
    return replace(selected, patches=patches, patch_positions=used)


#: Name prefix of the zero-flux component that stands in for an empty facet's model.
PLACEHOLDER_PREFIX = "empty_facet_"


def _unused(name: str, taken: set[str]) -> str:
    candidate, k = name, 1
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    taken.add(candidate)
    return candidate


def _concatenate(a: SkyModel, b: SkyModel) -> SkyModel:
    """Components of ``a`` then ``b`` (spectral index terms padded with zeros to the longer of the two)."""
    n_si = max(a.spectral_index.shape[1], b.spectral_index.shape[1])

    def si(m: SkyModel) -> np.ndarray:
        return np.pad(m.spectral_index, ((0, 0), (0, n_si - m.spectral_index.shape[1])))

    return SkyModel(
        names=[*a.names, *b.names], types=[*a.types, *b.types], patches=[*a.patches, *b.patches],
        ra_rad=np.concatenate([a.ra_rad, b.ra_rad]), dec_rad=np.concatenate([a.dec_rad, b.dec_rad]),
        i_jy=np.concatenate([a.i_jy, b.i_jy]), ref_freq_hz=np.concatenate([a.ref_freq_hz, b.ref_freq_hz]),
        spectral_index=np.concatenate([si(a), si(b)]), log_si=np.concatenate([a.log_si, b.log_si]),
        major_arcsec=np.concatenate([a.major_arcsec, b.major_arcsec]),
        minor_arcsec=np.concatenate([a.minor_arcsec, b.minor_arcsec]),
        orientation_deg=np.concatenate([a.orientation_deg, b.orientation_deg]))


def data_resolution(info: MsInfo) -> DataResolution:
    """Integration time, channel width, lowest frequency and channel count of a measurement set."""
    if info.freqs_hz.size == 0:
        raise InputError(f"{info.path} has no channels")
    return DataResolution(integration_s=info.integration_s, chan_width_hz=info.chan_width_hz,
                          freq_min_hz=float(np.min(info.freqs_hz) - info.chan_width_hz / 2), n_chan=len(info.freqs_hz))


def plan_subtraction(info: MsInfo, polygons: Sequence[Ds9Polygon], regions: Path, solset: Solset, h5parm: Path,
                     model: SkyModel, *, resolution_arcsec: float, max_smearing_loss: float,
                     max_distance_deg: float, soltabs: Sequence[str]) -> SubtractPlan:
    """Check the inputs against each other and decide every facet job.

    Raises
    ------
    InputError
        A facet without an h5parm direction, outside the field, a model with no component in any
        facet, or averaging settings out of range.
    """
    facets = facets_from_regions(polygons, regions)
    check_directions(facets, solset, h5parm)
    ra0, dec0 = (math.degrees(a) for a in info.phase_centre_rad)
    check_in_field(facets, (ra0 % 360.0, dec0), max_distance_deg)
    index = assign_components(model, facets)
    if not (index >= 0).any():
        raise InputError(f"no component of the sky model lies inside any facet of {regions}: the model does not "
                         "cover the facets (a model of another field?)", setting="skymodel")
    outside = tuple(n for n, i in zip(model.names, index) if i < 0)
    if outside:
        flux = float(np.sum(model.i_jy[index < 0]))
        log.warning("%d component(s) of the sky model (%.3g Jy in all) lie in no facet; they have no "
                    "direction-dependent solutions and are left in the data: %s", len(outside), flux,
                    ", ".join(outside[:10]) + (" ..." if len(outside) > 10 else ""))
    data = data_resolution(info)
    jobs = []
    stems: dict[str, str] = {}
    for i, f in enumerate(facets):
        avg = suggest_averaging(f.radius_deg, data, resolution_arcsec, max_smearing_loss)
        if not avg.meets_target:
            log.warning("facet %s: even unaveraged data lose %.1f %% of the peak at %.3f deg from its centre "
                        "at %.3g arcsec; the data are not averaged", f.name, 100 * (1 - avg.reduction),
                        f.radius_deg, resolution_arcsec)
        stem = safe_name(f.name, what="facet")
        if stem in stems:
            raise InputError(f"facets {stems[stem]!r} and {f.name!r} give the same file name {stem!r}; rename one",
                             setting="facet_regions")
        stems[stem] = f.name
        mine = index == i
        jobs.append(FacetJob(name=f.name, direction=direction_name(f.name), file_stem=stem, facet=f,
                             averaging=avg, n_components=int(mine.sum()), flux_jy=float(np.sum(model.i_jy[mine]))))
        empty = " (no model component: only the residual data)" if not mine.any() else ""
        log.info("facet %s: centre (%.5f, %.5f) deg, radius %.3f deg, %d component(s) %.3g Jy, averaging %d time "
                 "slot(s) x %d channel(s) (%.1f %% peak loss)%s", f.name, f.centre_ra_deg, f.centre_dec_deg,
                 f.radius_deg, mine.sum(), float(np.sum(model.i_jy[mine])), avg.time_factor, avg.chan_factor,
                 100 * (1 - avg.reduction), empty)
    return SubtractPlan(jobs=tuple(jobs), model=facet_model(model, facets, index), outside=outside,
                        soltabs=tuple(soltabs))


def output_bytes(info: MsInfo, job: FacetJob, n_corr: int = 4) -> int:
    """Size of one facet's averaged measurement set (data, weights and flags of every visibility)."""
    n_times = max(1, math.ceil(len(info.times_mjd_s) / job.averaging.time_factor))
    rows_per_time = info.n_rows / max(1, len(info.times_mjd_s))
    n_chan = max(1, len(info.freqs_hz) // job.averaging.chan_factor)
    return int(n_times * rows_per_time * n_chan * n_corr * BYTES_PER_VISIBILITY)


def full_bytes(info: MsInfo, n_corr: int = 4) -> int:
    """Size of a full-resolution copy of the measurement set's visibilities."""
    return int(info.n_rows * len(info.freqs_hz) * n_corr * BYTES_PER_VISIBILITY)


def check_disk(need_bytes: int, free_bytes: int, where: Path, what: str) -> None:
    """Refuse to start when ``need_bytes`` do not fit in :data:`DISK_MARGIN` of the free space."""
    if need_bytes > DISK_MARGIN * free_bytes:
        raise InputError(f"not enough disk in {where}: {what} need about {need_bytes / 1e9:.3g} GB, "
                         f"{free_bytes / 1e9:.3g} GB are free (at most {DISK_MARGIN:.0%} of it is used); free space "
                         "or write elsewhere", setting="outdir")
