"""The facet layout: Voronoi cells of the main calibrators, clipped to the field (de Jong et al. 2025, section 6.3.1).

Every facet holds one main calibrator and is the part of the field that is closer
(in great-circle distance) to that calibrator than to any other. The cells are
computed exactly on the sphere: in the gnomonic (TAN) tangent plane about the
field centre great circles are straight lines, and the cell of calibrator ``a``
is the intersection of the half-planes ``x . (a - b) >= 0`` for every other
calibrator ``b``, with ``x = e_c + X e_l + Y e_m`` the unnormalised direction of
the plane point ``(X, Y)`` (so each condition is linear in ``X`` and ``Y``).
Each cell is cut out of the clip region (a WSClean image, square in its SIN
l/m plane, or a circle about the field centre) by clipping against these
half-planes one by one (Sutherland-Hodgman; the cells are convex).

Vertices that several cells share are made bit-identical, and every edge is
densified along its great circle in a fixed direction, so that neighbouring
facets list the same vertices along their common edge: the facets tile the
field without gaps or overlaps, also after WSClean rasterises them in pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from lofar_hires.errors import InputError
from lofar_hires.selection.sky import angular_distance_deg, radec_to_xyz, xyz_to_radec
from lofar_hires.selection.smearing import AveragingSuggestion, DataResolution, suggest_averaging

log = logging.getLogger(__name__)

#: Calibrators closer than this are refused as duplicates (arcsec).
MIN_SEPARATION_ARCSEC = 1.0
#: Largest clip box width / circle radius (deg): the tangent plane must hold the whole field.
MAX_CLIP_DEG = 60.0
#: Vertices of different cells closer than this (tangent-plane units, ~rad) are one vertex.
SNAP_TOLERANCE = 1e-9
#: Largest number of sky positions tested against the polygons at once.
_CHUNK = 20000


# --------------------------------------------------------------------------- tangent plane


def tangent_basis(ra0_deg: float, dec0_deg: float) -> np.ndarray:
    """Rows ``e_c`` (towards the centre), ``e_l`` (east) and ``e_m`` (north) at a field centre."""
    ra0, dec0 = math.radians(ra0_deg), math.radians(dec0_deg)
    e_c = [math.cos(dec0) * math.cos(ra0), math.cos(dec0) * math.sin(ra0), math.sin(dec0)]
    e_l = [-math.sin(ra0), math.cos(ra0), 0.0]
    e_m = [-math.sin(dec0) * math.cos(ra0), -math.sin(dec0) * math.sin(ra0), math.cos(dec0)]
    return np.array([e_c, e_l, e_m])


def xyz_to_plane(xyz: ArrayLike, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic coordinates (..., 2) of vectors, and whether each is in front of the plane.

    Points at or behind 90 deg from the centre get NaN coordinates.
    """
    c = np.asarray(xyz, dtype=float) @ basis.T
    front = c[..., 0] > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = c[..., 1:] / np.where(front, c[..., 0], np.nan)[..., None]
    return xy, front


def plane_to_xyz(xy: ArrayLike, basis: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) of gnomonic plane points."""
    xy = np.asarray(xy, dtype=float)
    v = basis[0] + xy[..., :1] * basis[1] + xy[..., 1:2] * basis[2]
    return v / np.linalg.norm(v, axis=-1, keepdims=True)




def sin_offsets_deg(xyz: ArrayLike, ra0_deg: float, dec0_deg: float) -> np.ndarray:
    """SIN-projection (image plane) offsets ``(l, m)`` of vectors about a centre, in degrees of l/m."""
    return np.degrees(np.asarray(xyz, dtype=float) @ tangent_basis(ra0_deg, dec0_deg)[1:].T)


def spherical_polygon_area_deg2(xyz: ArrayLike) -> float:
    """Area (deg^2) of a polygon with great-circle edges, given by its unit-vector vertices (n, 3)."""
    v = np.asarray(xyz, dtype=float)
    c = v.sum(axis=0)
    c /= np.linalg.norm(c)
    w = np.roll(v, -1, axis=0)
    num = np.einsum("ij,ij->i", v, np.cross(w, np.broadcast_to(c, v.shape)))  # c . (v x w)
    den = 1.0 + v @ c + np.einsum("ij,ij->i", v, w) + w @ c
    return float(abs(np.sum(2.0 * np.arctan2(num, den))) * (180.0 / math.pi) ** 2)


# --------------------------------------------------------------------------- clip region


@dataclass(frozen=True)
class ClipRegion:
    """Where the facets end: a square WSClean image of ``size_deg`` width (its SIN l/m plane,
    ``shape="box"``) or a circle of ``size_deg`` radius about the field centre (``shape="circle"``)."""

    shape: Literal["box", "circle"]
    size_deg: float

    def __post_init__(self) -> None:
        if self.shape not in ("box", "circle"):
            raise InputError(f"clip region shape must be box or circle, got {self.shape!r}")
        what = "box width" if self.shape == "box" else "circle radius"
        if not (math.isfinite(self.size_deg) and 0.0 < self.size_deg <= MAX_CLIP_DEG):
            raise InputError(f"the clip {what} must be in (0, {MAX_CLIP_DEG:g}] deg, got {self.size_deg}")

    def describe(self) -> str:
        return f"box {self.size_deg:g} deg wide" if self.shape == "box" else f"circle of radius {self.size_deg:g} deg"

    def plane_polygon(self, max_edge_deg: float) -> np.ndarray:
        """The region as a counter-clockwise polygon (n, 2) in the gnomonic plane (X east, Y north).

        The box's sides (straight in the image's l/m plane) and the circle are
        sampled so that neighbouring vertices are about ``max_edge_deg`` apart.
        """
        if self.shape == "box":
            h = math.radians(self.size_deg / 2.0)
            n_side = max(1, math.ceil(self.size_deg / max_edge_deg))
            t = np.linspace(-h, h, n_side + 1)[:-1]
            ones = np.ones_like(t)
            lm = np.concatenate([np.stack([t, -h * ones], 1), np.stack([h * ones, t], 1),
                                 np.stack([-t, h * ones], 1), np.stack([-h * ones, -t], 1)])
            n = np.sqrt(1.0 - np.sum(lm**2, axis=1))
            return lm / n[:, None]
        radius = math.radians(self.size_deg)
        n_vert = max(16, math.ceil(2 * math.pi * math.sin(radius) / math.radians(max_edge_deg)))
        phi = 2 * math.pi * np.arange(n_vert) / n_vert
        return math.tan(radius) * np.stack([np.cos(phi), np.sin(phi)], axis=1)


# --------------------------------------------------------------------------- planar helpers


def _clip_half_plane(poly: np.ndarray, coeff: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman step: the part of ``poly`` where ``A X + B Y + C >= 0`` (coeff = A, B, C)."""
    s = poly @ coeff[:2] + coeff[2]
    inside = s >= 0.0
    if inside.all() or len(poly) == 0:
        return poly
    if not inside.any():
        return poly[:0]
    s_next = np.roll(s, -1)
    cross = inside != np.roll(inside, -1)
    t = np.where(cross, s / np.where(cross, s - s_next, 1.0), 0.0)
    hits = poly + t[:, None] * (np.roll(poly, -1, axis=0) - poly)
    points = np.stack([poly, hits], axis=1).reshape(-1, 2)
    return points[np.stack([inside, cross], axis=1).reshape(-1)]


def _centroid_2d(xy: np.ndarray) -> np.ndarray:
    """Area centroid of a simple planar polygon (n, 2)."""
    x, y = xy[:, 0], xy[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2.0
    if abs(area) < 1e-300:
        return xy.mean(axis=0)
    return np.array([np.sum((x + xn) * cross), np.sum((y + yn) * cross)]) / (6.0 * area)


def _points_in_plane_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule for points (n, 2) in a polygon (m, 2); each edge is evaluated with its endpoints
    in a fixed order, so two polygons sharing an edge classify points next to it consistently."""
    a, b = poly, np.roll(poly, -1, axis=0)
    swap = (a[:, 1] > b[:, 1]) | ((a[:, 1] == b[:, 1]) & (a[:, 0] > b[:, 0]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    dy = hi[:, 1] - lo[:, 1]
    slope = np.where(dy > 0, (hi[:, 0] - lo[:, 0]) / np.where(dy > 0, dy, 1.0), 0.0)
    inside = np.zeros(len(pts), dtype=bool)
    for start in range(0, len(pts), _CHUNK):
        p = pts[start:start + _CHUNK]
        px, py = p[:, :1], p[:, 1:]
        spans = (lo[:, 1] <= py) & (py < hi[:, 1])
        x_cross = lo[:, 0] + (py - lo[:, 1]) * slope
        inside[start:start + _CHUNK] = np.count_nonzero(spans & (px < x_cross), axis=1) % 2 == 1
    return inside


def _snap_groups(points: np.ndarray, tolerance: float) -> np.ndarray:
    """For each point the index of the first point of its group (points chained within ``tolerance``)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(points).query_pairs(tolerance, output_type="ndarray")
    n = len(points)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1, n)
    np.minimum.at(first, labels, np.arange(n))
    return first[labels]


def _densify(keys: np.ndarray, vectors: np.ndarray, max_edge_rad: float) -> np.ndarray:
    """Unit vectors of a polygon whose edges (between the global vertices ``keys``) are split along
    their great circles into equal parts of at most ``max_edge_rad``.

    Every edge is subdivided from its lower-keyed end to its higher-keyed end, whatever its
    direction in this polygon, and its end points are the global vertices themselves: two
    polygons sharing an edge therefore list bit-identical points along it.
    """
    a, b = keys, np.roll(keys, -1)
    forward = a < b
    p, q = vectors[np.minimum(a, b)], vectors[np.maximum(a, b)]
    theta = np.arctan2(np.linalg.norm(np.cross(p, q), axis=1), np.einsum("ij,ij->i", p, q))
    n_seg = np.maximum(1, np.ceil(theta / max_edge_rad - 1e-9)).astype(np.int64)
    edge = np.repeat(np.arange(len(keys)), n_seg)
    j = np.arange(n_seg.sum()) - np.repeat(np.cumsum(n_seg) - n_seg, n_seg)
    k = np.where(forward[edge], j, n_seg[edge] - j)
    t = k / n_seg[edge]
    th = theta[edge]
    w0 = np.sin((1.0 - t) * th) / np.sin(th)
    w1 = np.sin(t * th) / np.sin(th)
    out = w0[:, None] * p[edge] + w1[:, None] * q[edge]
    out = np.where((k == 0)[:, None], p[edge], out)
    return np.where((k == n_seg[edge])[:, None], q[edge], out)


# --------------------------------------------------------------------------- the layout


@dataclass(frozen=True)
class Facet:
    """One facet: its calibrator, its polygon and what later stages need to know about it.

    ``vertices_deg`` is (n, 2) RA, Dec (RA in [0, 360)), counter-clockwise on the sky
    as seen from inside (east of north). ``centre_*`` is the polygon's centroid
    (computed in the tangent plane of the field). ``radius_deg`` is the largest
    distance from the centre to a vertex; ``width_deg``/``height_deg`` the extent
    in the SIN image plane of a facet image centred on the centre.
    """

    name: str
    cal_ra_deg: float
    cal_dec_deg: float
    centre_ra_deg: float
    centre_dec_deg: float
    radius_deg: float
    area_deg2: float
    width_deg: float
    height_deg: float
    vertices_deg: np.ndarray = field(repr=False)
    n_sources: int | None = None
    weak: tuple[str, ...] = ()
    averaging: AveragingSuggestion | None = None


@dataclass(frozen=True)
class FacetLayout:
    """The facets of a field, in the order of the calibrators given, and the region they tile."""

    centre_ra_deg: float
    centre_dec_deg: float
    clip: ClipRegion
    max_edge_deg: float
    facets: tuple[Facet, ...]
    clip_vertices_deg: np.ndarray = field(repr=False)
    dropped: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.facets]

    def facet_index(self, ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
        """Index of the facet holding each sky position (-1: in none), from the polygons themselves.

        Exact on the sphere: the edges are great circles, straight lines in the gnomonic
        plane used for the test. A position on a shared edge goes to one facet only.
        """
        basis = tangent_basis(self.centre_ra_deg, self.centre_dec_deg)
        pts, front = xyz_to_plane(radec_to_xyz(ra_deg, dec_deg).reshape(-1, 3), basis)
        index = np.full(len(pts), -1, dtype=np.int64)
        pts = np.where(front[:, None], pts, np.inf)
        for i, facet in enumerate(self.facets):
            poly, _ = xyz_to_plane(radec_to_xyz(facet.vertices_deg[:, 0], facet.vertices_deg[:, 1]), basis)
            todo = np.flatnonzero(index < 0)
            index[todo[_points_in_plane_polygon(pts[todo], poly)]] = i
        return index.reshape(np.shape(np.asarray(ra_deg, dtype=float)))


def sky_polygon_contains(vertices_deg: ArrayLike, ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """Whether sky positions lie inside one polygon with great-circle edges (smaller than a hemisphere)."""
    v = np.asarray(vertices_deg, dtype=float)
    xyz = radec_to_xyz(v[:, 0], v[:, 1])
    mean = xyz.sum(axis=0)
    centre_ra, centre_dec = xyz_to_radec(mean)
    basis = tangent_basis(float(centre_ra), float(centre_dec))
    poly, front = xyz_to_plane(xyz, basis)
    if not front.all():
        raise InputError("polygon spans a hemisphere or more; cannot test positions against it")
    pts, pfront = xyz_to_plane(radec_to_xyz(ra_deg, dec_deg).reshape(-1, 3), basis)
    inside = np.zeros(len(pts), dtype=bool)
    inside[pfront] = _points_in_plane_polygon(pts[pfront], poly)
    return inside.reshape(np.shape(np.asarray(ra_deg, dtype=float)))


def check_calibrators(names: Sequence[str], xyz: np.ndarray) -> None:
    """Refuse an empty list, repeated names and calibrators closer than :data:`MIN_SEPARATION_ARCSEC`."""
    if len(names) == 0:
        raise InputError("no main calibrator: the facet layout needs at least one calibrator of category main")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"calibrator name {name} appears more than once")
        seen.add(name)
    if len(names) > 1:
        sep_arcsec = angular_distance_deg(xyz[:, None, :], xyz[None, :, :]) * 3600.0
        sep_arcsec[np.tril_indices(len(names))] = np.inf
        i, j = np.unravel_index(int(np.argmin(sep_arcsec)), sep_arcsec.shape)
        if sep_arcsec[i, j] < MIN_SEPARATION_ARCSEC:
            raise InputError(f"calibrators {names[i]} and {names[j]} are {sep_arcsec[i, j]:.3g} arcsec apart "
                             f"(less than {MIN_SEPARATION_ARCSEC:g} arcsec); keep only one of them")


def make_facets(names: Sequence[str], ra_deg: ArrayLike, dec_deg: ArrayLike, centre_deg: tuple[float, float],
                clip: ClipRegion, max_edge_deg: float = 0.05) -> FacetLayout:
    """Voronoi facets of calibrators, clipped to a region about the field centre.

    Parameters
    ----------
    names
        Calibrator (facet) names, unique; they become the h5parm direction names.
    ra_deg, dec_deg
        Calibrator positions (deg).
    centre_deg
        Field centre (RA, Dec) in degrees: the phase centre of the image the facets tile.
    clip
        The region the facets tile (a square image or a circle about the centre).
    max_edge_deg
        Largest distance between neighbouring vertices of a facet polygon (deg).

    Returns
    -------
    FacetLayout
        One facet per calibrator inside the clip region, in the order given.
        Calibrators outside it are left out with a logged warning.

    Raises
    ------
    InputError
        No calibrator, duplicate names or positions (closer than 1 arcsec), none
        inside the clip region, or bad settings.
    """
    names = [str(n) for n in names]
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float))
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float))
    if ra.shape != (len(names),) or dec.shape != (len(names),):
        raise InputError(f"{len(names)} calibrator names but {ra.size} RA and {dec.size} Dec values")
    if not (np.isfinite(ra).all() and np.isfinite(dec).all() and (np.abs(dec) <= 90).all()):
        raise InputError("calibrator positions must be finite, with Dec in [-90, 90] deg")
    ra0, dec0 = (float(c) for c in centre_deg)
    if not (math.isfinite(ra0) and math.isfinite(dec0) and -90.0 <= dec0 <= 90.0):
        raise InputError(f"field centre ({ra0}, {dec0}) deg is not a sky position")
    ra0 %= 360.0
    if not (math.isfinite(max_edge_deg) and 0.0 < max_edge_deg <= 1.0):
        raise InputError(f"the largest edge length must be in (0, 1] deg, got {max_edge_deg}")
    xyz = radec_to_xyz(ra, dec)
    check_calibrators(names, xyz)

    basis = tangent_basis(ra0, dec0)
    region = clip.plane_polygon(max_edge_deg)
    cal_xy, front = xyz_to_plane(xyz, basis)
    inside = np.zeros(len(names), dtype=bool)
    inside[front] = _points_in_plane_polygon(cal_xy[front], region)
    if not inside.any():
        raise InputError(f"no main calibrator lies inside the clip region ({clip.describe()} about "
                         f"{ra0:.5f}, {dec0:.5f} deg): {', '.join(names)}")
    outside = [n for n, ok in zip(names, inside) if not ok]
    if outside:
        log.warning("%d calibrator(s) outside the clip region (%s) left out: %s", len(outside), clip.describe(),
                    ", ".join(outside))
    keep = np.flatnonzero(inside)

    # Cells in the tangent plane: the region clipped by the bisector half-planes, nearest neighbours first.
    cells = []
    for a in keep:
        poly = region
        others = keep[keep != a]
        order = others[np.argsort(-(xyz[others] @ xyz[a]))]
        for b in order:
            d = xyz[a] - xyz[b]
            poly = _clip_half_plane(poly, np.array([d @ basis[1], d @ basis[2], d @ basis[0]]))
        cells.append(poly)

    # One global vertex list: vertices of different cells that coincide become one, bit-identical.
    counts = [len(c) for c in cells]
    points = np.concatenate(cells)
    rep = _snap_groups(points, SNAP_TOLERANCE)
    vectors = plane_to_xyz(points, basis)
    max_edge_rad = math.radians(max_edge_deg)
    facets = []
    lost = []
    for a, cell_keys in zip(keep, np.split(rep, np.cumsum(counts)[:-1])):
        distinct = cell_keys[cell_keys != np.roll(cell_keys, 1)] if len(cell_keys) > 1 else cell_keys
        if len(np.unique(distinct)) < 3:
            lost.append(names[a])
            continue
        polygon = _densify(distinct, vectors, max_edge_rad)
        facets.append(_describe(names[a], ra[a], dec[a], polygon, basis))
    if lost:
        log.warning("calibrator(s) on the edge of the clip region left out (no area): %s", ", ".join(lost))
        if not facets:
            raise InputError(f"no main calibrator lies inside the clip region ({clip.describe()}): "
                             f"{', '.join(names)}")
    clip_ra, clip_dec = xyz_to_radec(plane_to_xyz(region, basis))
    return FacetLayout(centre_ra_deg=ra0, centre_dec_deg=dec0, clip=clip, max_edge_deg=float(max_edge_deg),
                       facets=tuple(facets), clip_vertices_deg=np.stack([clip_ra, clip_dec], axis=1),
                       dropped=tuple(outside + lost))


def _describe(name: str, cal_ra: float, cal_dec: float, polygon_xyz: np.ndarray, basis: np.ndarray) -> Facet:
    """The facet record of a densified polygon (unit vectors)."""
    xy, _ = xyz_to_plane(polygon_xyz, basis)
    centre_xyz = plane_to_xyz(_centroid_2d(xy), basis)
    c_ra, c_dec = (float(v) for v in xyz_to_radec(centre_xyz))
    lm = sin_offsets_deg(polygon_xyz, c_ra, c_dec)
    v_ra, v_dec = xyz_to_radec(polygon_xyz)
    return Facet(
        name=name, cal_ra_deg=float(cal_ra) % 360.0, cal_dec_deg=float(cal_dec),
        centre_ra_deg=c_ra, centre_dec_deg=c_dec,
        radius_deg=float(angular_distance_deg(polygon_xyz, centre_xyz).max()),
        area_deg2=spherical_polygon_area_deg2(polygon_xyz),
        width_deg=float(np.ptp(lm[:, 0])), height_deg=float(np.ptp(lm[:, 1])),
        vertices_deg=np.stack([v_ra, v_dec], axis=1))


def facet_from_polygon(name: str, vertices_deg: ArrayLike, direction_deg: tuple[float, float] | None = None) -> Facet:
    """The facet record (centre, radius, size) of one polygon read back from a region file.

    ``direction_deg`` is the facet's direction (its calibrator; the centroid when not given).

    Raises
    ------
    InputError
        Fewer than three vertices, or a polygon spanning a hemisphere or more.
    """
    v = np.asarray(vertices_deg, dtype=float).reshape(-1, 2)
    if len(v) < 3:
        raise InputError(f"facet {name}: a polygon needs at least 3 vertices, got {len(v)}")
    xyz = radec_to_xyz(v[:, 0], v[:, 1])
    mean_ra, mean_dec = (float(x) for x in xyz_to_radec(xyz.sum(axis=0)))
    basis = tangent_basis(mean_ra, mean_dec)
    _, front = xyz_to_plane(xyz, basis)
    if not front.all():
        raise InputError(f"facet {name}: the polygon spans a hemisphere or more")
    facet = _describe(name, mean_ra, mean_dec, xyz, basis)
    cal = direction_deg if direction_deg is not None else (facet.centre_ra_deg, facet.centre_dec_deg)
    return replace(facet, cal_ra_deg=float(cal[0]) % 360.0, cal_dec_deg=float(cal[1]),
                               vertices_deg=v.copy())


def split_facet(vertices_deg: ArrayLike, names: Sequence[str], ra_deg: ArrayLike, dec_deg: ArrayLike) -> list[Facet]:
    """A facet's polygon split by Voronoi between calibrators inside it (its main and weak calibrators):
    one sub-facet per calibrator, the part of the polygon nearer to it than to the others (de Jong et al.
    2025, section 6.4.4), in the order given.

    Raises
    ------
    InputError
        Fewer than two calibrators, duplicate names or positions, or a calibrator outside the polygon.
    """
    names = [str(n) for n in names]
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float))
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float))
    if len(names) < 2 or ra.shape != (len(names),) or dec.shape != (len(names),):
        raise InputError(f"a facet is split between at least two calibrators with one position each, got "
                         f"{len(names)} name(s), {ra.size} RA and {dec.size} Dec value(s)")
    xyz = radec_to_xyz(ra, dec)
    check_calibrators(names, xyz)
    v = np.asarray(vertices_deg, dtype=float).reshape(-1, 2)
    outside = [n for n, ok in zip(names, sky_polygon_contains(v, ra, dec)) if not ok]
    if outside:
        raise InputError(f"calibrator(s) {', '.join(outside)} lie outside the facet; a facet is split only "
                         "between calibrators inside it")
    vxyz = radec_to_xyz(v[:, 0], v[:, 1])
    centre_ra, centre_dec = (float(x) for x in xyz_to_radec(vxyz.sum(axis=0)))
    basis = tangent_basis(centre_ra, centre_dec)
    region, _ = xyz_to_plane(vxyz, basis)
    subfacets = []
    for a in range(len(names)):
        poly = region
        for b in range(len(names)):
            if b != a:
                d = xyz[a] - xyz[b]
                poly = _clip_half_plane(poly, np.array([d @ basis[1], d @ basis[2], d @ basis[0]]))
        if len(poly) < 3:
            raise InputError(f"calibrator {names[a]} gets no part of the facet")
        polygon = plane_to_xyz(poly, basis)
        polygon /= np.linalg.norm(polygon, axis=1, keepdims=True)
        subfacets.append(_describe(names[a], ra[a], dec[a], polygon, basis))
    return subfacets


def annotate_facets(layout: FacetLayout, *, sources_deg: np.ndarray | None = None,
                    weak_names: Sequence[str] = (), weak_deg: np.ndarray | None = None,
                    data: DataResolution | None = None, resolution_arcsec: float = 0.3,
                    max_loss: float = 0.05) -> tuple[FacetLayout, np.ndarray | None]:
    """Add source counts, weak-calibrator membership and averaging suggestions to the facets.

    Parameters
    ----------
    layout
        The facets.
    sources_deg
        (n, 2) RA, Dec of catalogue sources to count per facet (None: not counted).
    weak_names, weak_deg
        Weak calibrators and their (n, 2) positions; each is listed in the facet holding it.
    data
        Resolution of the data; None leaves out the averaging suggestion.
    resolution_arcsec, max_loss
        Target resolution and largest smearing loss for the suggestion
        (evaluated at each facet's farthest vertex from its centre).

    Returns
    -------
    tuple
        The annotated layout, and the facet index of every source (-1: in no facet; None
        without sources).
    """
    source_index = None
    counts = [None] * len(layout.facets)
    if sources_deg is not None:
        src = np.asarray(sources_deg, dtype=float).reshape(-1, 2)
        source_index = layout.facet_index(src[:, 0], src[:, 1])
        counts = np.bincount(source_index[source_index >= 0], minlength=len(layout.facets)).tolist()
    members: list[list[str]] = [[] for _ in layout.facets]
    if len(weak_names):
        w = np.asarray(weak_deg, dtype=float).reshape(-1, 2)
        for name, i in zip(weak_names, layout.facet_index(w[:, 0], w[:, 1])):
            if i >= 0:
                members[i].append(str(name))
    facets = []
    for facet, count, weak in zip(layout.facets, counts, members):
        averaging = (suggest_averaging(facet.radius_deg, data, resolution_arcsec, max_loss)
                     if data is not None else None)
        facets.append(replace(facet, n_sources=count, weak=tuple(weak), averaging=averaging))
    return replace(layout, facets=tuple(facets)), source_index


#: Columns of the facet table (``facets.csv``), in order.
FACET_COLUMNS = ("name", "cal_ra_deg", "cal_dec_deg", "centre_ra_deg", "centre_dec_deg", "radius_deg", "area_deg2",
                 "width_deg", "height_deg", "n_vertices", "n_sources", "weak_calibrators", "avg_time_factor",
                 "avg_time_s", "avg_chan_factor", "avg_chan_width_hz", "smearing_reduction", "smearing_ok")


def facet_row(facet: Facet) -> dict[str, object]:
    """The facet as one flat row of :data:`FACET_COLUMNS` (None where not known)."""
    avg = facet.averaging
    return {
        "name": facet.name, "cal_ra_deg": facet.cal_ra_deg, "cal_dec_deg": facet.cal_dec_deg,
        "centre_ra_deg": facet.centre_ra_deg, "centre_dec_deg": facet.centre_dec_deg,
        "radius_deg": facet.radius_deg, "area_deg2": facet.area_deg2, "width_deg": facet.width_deg,
        "height_deg": facet.height_deg, "n_vertices": len(facet.vertices_deg), "n_sources": facet.n_sources,
        "weak_calibrators": ";".join(facet.weak),
        "avg_time_factor": None if avg is None else avg.time_factor,
        "avg_time_s": None if avg is None else avg.time_s,
        "avg_chan_factor": None if avg is None else avg.chan_factor,
        "avg_chan_width_hz": None if avg is None else avg.chan_width_hz,
        "smearing_reduction": None if avg is None else avg.reduction,
        "smearing_ok": None if avg is None else avg.meets_target,
    }
