"""Directions of a multi-direction self-calibration: the facets of a ds9 region file.

A direction-dependent run solves towards every facet of a region file (as written by
``lofar-hires facets``): each ``polygon`` labelled ``text={name}`` and followed by a
``point(ra,dec)`` line is one direction, named after its calibrator and placed at the
point. The same file drives WSClean's facet imaging, which picks each facet's
solutions by that point, so the solutions' h5parm directions carry the points'
positions exactly (DDECal takes them from the patch positions of the sky model
written here).

Each cycle's clean model (every non-zero pixel of WSClean's model image, a point
component) becomes a sky model with one patch per direction: a component belongs to
the facet whose polygon holds it, or, outside every polygon, to the nearest direction.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.names import safe_name
from lofar_hires.io.regions import Ds9Polygon, read_ds9_polygons, wrap_ra_deg
from lofar_hires.io.skymodel import SkyModel, write_makesourcedb
from lofar_hires.selection.facets import radec_to_xyz, sky_polygon_contains
from lofar_hires.selection.sky import separation_deg

log = logging.getLogger(__name__)

#: Largest distance (arcsec) between a direction of the solutions and the facet point it must match.
MATCH_TOLERANCE_ARCSEC = 1.0


@dataclass(frozen=True)
class Direction:
    """One solve direction: a name (the h5parm direction is ``[name]``) and its position."""

    name: str
    ra_deg: float
    dec_deg: float


@dataclass(frozen=True)
class DirectionSet:
    """The directions of a run and the region file they come from."""

    regions: Path
    directions: tuple[Direction, ...]
    polygons: tuple[Ds9Polygon, ...]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.directions]

    def solve_directions(self) -> list[list[str]]:
        """DDECal's ``directions``: one patch per direction."""
        return [[d.name] for d in self.directions]


def load_directions(regions: Path) -> DirectionSet:
    """The directions of a facet region file: every polygon must have a name and a point.

    Raises
    ------
    InputError
        No polygon, a polygon without ``text={name}`` or without a ``point`` line, a name
        that is not a safe file name (it goes into DDECal's parset), or a name used twice.
    """
    regions = Path(regions)
    polygons = read_ds9_polygons(regions)
    if not polygons:
        raise InputError(f"facet regions {regions} hold no polygon", setting="facet_regions")
    directions = []
    for k, poly in enumerate(polygons):
        if not poly.name:
            raise InputError(f"facet regions {regions}: polygon {k + 1} has no name (text={{name}}); each facet must "
                             "name its direction", setting="facet_regions")
        if safe_name(poly.name, what="facet") != poly.name:
            raise InputError(f"facet regions {regions}: facet name {poly.name!r} may hold only letters, digits and "
                             "_ + - . (it becomes a DDECal direction and a sky-model patch)", setting="facet_regions")
        if poly.point_deg is None:
            raise InputError(f"facet regions {regions}: facet {poly.name} has no point(ra,dec) line giving its "
                             "direction", setting="facet_regions")
        directions.append(Direction(poly.name, float(poly.point_deg[0]) % 360.0, float(poly.point_deg[1])))
    names = [d.name for d in directions]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"facet regions {regions}: facet name(s) {', '.join(twice)} used more than once",
                         setting="facet_regions")
    return DirectionSet(regions, tuple(directions), tuple(polygons))


def check_solution_directions(dset: DirectionSet, directions: dict[str, tuple[float, float]], what: str,
                              positions: bool = True) -> None:
    """Refuse solutions whose directions are not the facets' (names, and positions within 1 arcsec).

    ``directions`` maps h5parm direction names (``[name]`` or ``name``) to (RA, Dec) in radians;
    ``positions=False`` checks the names only.
    """
    got = {name.strip("[]"): pos for name, pos in directions.items()}
    missing = [d.name for d in dset.directions if d.name not in got]
    extra = sorted(set(got) - set(dset.names))
    if missing or extra:
        raise InputError(f"{what}: the solutions' directions do not match the facets of {dset.regions.name}: "
                         f"facets without solutions: {', '.join(missing) or 'none'}; solutions without a facet: "
                         f"{', '.join(extra) or 'none'}", setting="facet_regions")
    for d in dset.directions if positions else ():
        ra, dec = got[d.name]
        off = 3600.0 * float(separation_deg(d.ra_deg, d.dec_deg, math.degrees(ra), math.degrees(dec)))
        if off > MATCH_TOLERANCE_ARCSEC:
            raise InputError(f"{what}: direction {d.name} is {off:.1f} arcsec from the point of its facet in "
                             f"{dset.regions.name}; WSClean would apply the wrong solutions", setting="facet_regions")


def assign_components(dset: DirectionSet, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Index of the direction of each component: the facet holding it, else the nearest direction."""
    ra_deg, dec_deg = np.asarray(ra_deg, dtype=float) % 360.0, np.asarray(dec_deg, dtype=float)
    owner = np.full(ra_deg.shape, -1, dtype=int)
    for k, poly in enumerate(dset.polygons):
        inside = sky_polygon_contains(poly.vertices_deg, ra_deg, dec_deg) & (owner < 0)
        owner[inside] = k
    outside = owner < 0
    if outside.any():
        xyz = radec_to_xyz(ra_deg[outside], dec_deg[outside])
        centres = radec_to_xyz([d.ra_deg for d in dset.directions], [d.dec_deg for d in dset.directions])
        owner[outside] = np.argmax(xyz @ centres.T, axis=1)
    return owner


def patched_model(model: SkyModel, dset: DirectionSet) -> SkyModel:
    """``model`` with each component in the patch of its direction, placed at the facet point."""
    owner = assign_components(dset, np.degrees(model.ra_rad), np.degrees(model.dec_rad))
    patches = [dset.directions[k].name for k in owner]
    positions = {d.name: (math.radians(wrap_ra_deg(d.ra_deg)), math.radians(d.dec_deg)) for d in dset.directions}
    return replace(model, patches=patches, patch_positions=positions)


def _model_plane(path: Path) -> tuple[np.ndarray, object]:
    """The single plane of a WSClean model image and its header."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        header = hdul[0].header
        data = np.asarray(hdul[0].data, dtype=float)
    if data.ndim > 2 and int(np.prod(data.shape[:-2])) != 1:
        raise QualityError(f"model image {Path(path).name} has more than one plane")
    return (data.reshape(data.shape[-2:]) if data.ndim > 2 else data), header


def _point_components(plane: np.ndarray, header, y: np.ndarray, x: np.ndarray) -> SkyModel:
    from astropy.wcs import WCS

    wcs = WCS(header).celestial
    ra, dec = wcs.pixel_to_world_values(x.astype(float), y.astype(float))
    freq_hz = next((float(header[f"CRVAL{k}"]) for k in range(3, 5) if str(header.get(f"CTYPE{k}", "")).startswith(
        "FREQ")), 150e6)
    n = len(x)
    zeros = np.zeros(n)
    names = [f"c{k:06d}" for k in range(n)]
    return SkyModel(names, ["POINT"] * n, names, np.radians(np.asarray(ra) % 360.0), np.radians(dec), plane[y, x],
                    np.full(n, freq_hz), np.zeros((n, 1)), np.ones(n, bool), zeros, zeros.copy(), zeros.copy())


def components_from_model_image(path: Path) -> SkyModel:
    """Every non-zero finite pixel of a WSClean model image as a flat-spectrum point component."""
    plane, header = _model_plane(path)
    y, x = np.nonzero(np.isfinite(plane) & (plane != 0))
    return _point_components(plane, header, y, x)


def components_in_islands(path: Path, islands: np.ndarray, dset: DirectionSet) -> tuple[SkyModel, SkyModel, list[str]]:
    """The components of a model image inside ``islands`` (a pixel mask on its grid).

    A direction whose facet has components but none inside an island keeps all of its own
    (its solve would otherwise have no model).

    Returns
    -------
    kept, everything, directions
        The components used, all components, and the directions that kept all of theirs.
    """
    plane, header = _model_plane(path)
    if plane.shape != np.shape(islands):
        raise QualityError(f"model image {Path(path).name} {plane.shape} and its island mask {np.shape(islands)} "
                           "are not on the same grid")
    y, x = np.nonzero(np.isfinite(plane) & (plane != 0))
    everything = _point_components(plane, header, y, x)
    inside = np.asarray(islands, dtype=bool)[y, x]
    owner = np.asarray(patched_model(everything, dset).patches, dtype=object)
    unfiltered = sorted(set(owner) - set(owner[inside]))
    return everything.select(inside | np.isin(owner, unfiltered)), everything, unfiltered


def facet_flux_jy(patched: SkyModel, dset: DirectionSet) -> dict[str, float]:
    """Sum of |flux| of the components of each direction of a patched model (Jy at the reference frequency)."""
    flux = {d.name: 0.0 for d in dset.directions}
    ok = np.isfinite(patched.i_jy)
    for patch, i_jy in zip(np.asarray(patched.patches)[ok], patched.i_jy[ok]):
        flux[str(patch)] += abs(float(i_jy))
    return flux


def facets_without_flux(model: SkyModel, dset: DirectionSet) -> list[str]:
    """The directions whose facets hold no component with flux in ``model``."""
    return [name for name, f in facet_flux_jy(patched_model(model, dset), dset).items() if f == 0.0]


def write_direction_model(model: SkyModel, dset: DirectionSet, out: Path, what: str,
                          error: type[InputError] | type[QualityError] = QualityError) -> Path:
    """Patch a model by direction and write it as DDECal's sky model.

    Raises
    ------
    InputError or QualityError (``error``)
        A direction has no component with flux: its solve would have no model (an input
        problem for a starting model, a result problem for a cycle's clean).
    """
    keep = np.isfinite(model.i_jy) & (model.i_jy != 0)
    if not keep.all():
        model = model.select(keep)
    patched = patched_model(model, dset)
    flux = facet_flux_jy(patched, dset)
    empty = [name for name, f in flux.items() if f == 0.0]
    if empty:
        raise error(f"{what}: direction(s) {', '.join(empty)} have no model component in their facet; a solve "
                    "towards them has nothing to solve on (clean deeper, or leave such facets out)")
    log.info("%s: %d components in %d directions (%s)", what, len(patched.names), len(flux),
             ", ".join(f"{n} {1e3 * f:.0f} mJy" for n, f in flux.items()))
    return write_makesourcedb(patched, out, header=[f"{what}: components grouped into one patch per facet of "
                                                    f"{dset.regions.name}"])


def direction_positions_rad(dset: DirectionSet) -> dict[str, tuple[float, float]]:
    """h5parm direction table of the facets: ``[name]`` -> (RA in (-pi, pi], Dec) in radians."""
    return {f"[{d.name}]": (math.radians(wrap_ra_deg(d.ra_deg)), math.radians(d.dec_deg))
            for d in dset.directions}
