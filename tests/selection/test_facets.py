"""The facet layout against independent geometry.

Random calibrator sets (seeded) in several fields (a typical one, one near the
celestial pole, one across RA = 0, a circular one, a wide one): every random sky
position inside the clip region lies in exactly one facet polygon, and that is the
facet of the angularly nearest calibrator (brute force with astropy's great-circle
separations); positions outside lie in none; the facet areas add up to the clip
area (numerical integral over the image plane, or the spherical cap); neighbouring
facets list identical vertices along their shared edges; edges are no longer than
asked. Region files round-trip through the reader. Bad input gives clear errors.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from lofar_hires.errors import InputError
from lofar_hires.io.regions import read_ds9_polygons, write_ds9_polygons
from lofar_hires.selection.facets import (
    ClipRegion,
    annotate_facets,
    make_facets,
    radec_to_xyz,
    sky_polygon_contains,
)
from lofar_hires.selection.smearing import DataResolution

#: name -> (field centre (deg), clip shape, clip size (deg), number of calibrators, seed)
FIELDS = {
    "elais": ((242.75, 55.0), "box", 2.5, 6, 1),
    "pole": ((30.0, 85.0), "box", 3.0, 5, 2),
    "ra0": ((0.3, 20.0), "box", 2.5, 5, 3),
    "circle": ((120.0, -30.0), "circle", 1.5, 7, 4),
    "wide": ((200.0, 40.0), "box", 10.0, 12, 5),
}


def sin_wcs(centre_deg: tuple[float, float]) -> WCS:
    """Pixel (0-based) = image-plane offset (l, m) in degrees of direction cosine, SIN projection."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crpix = [1.0, 1.0]
    w.wcs.crval = list(centre_deg)
    w.wcs.cdelt = [1.0, 1.0]
    return w


def lm_to_radec(centre_deg, lm_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ra, dec = sin_wcs(centre_deg).wcs_pix2world(lm_deg[:, 0], lm_deg[:, 1], 0)
    return ra % 360.0, dec


def random_field(name: str):
    """Calibrators (names, RA, Dec) well inside the clip region of a field, and the layout."""
    centre, shape, size, n_cal, seed = FIELDS[name]
    rng = np.random.default_rng(seed)
    if shape == "box":
        lm = rng.uniform(-0.45 * size, 0.45 * size, (n_cal, 2))
    else:
        r = 0.9 * math.degrees(math.sin(math.radians(size))) * np.sqrt(rng.uniform(size=n_cal))
        phi = rng.uniform(0, 2 * np.pi, n_cal)
        lm = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    ra, dec = lm_to_radec(centre, lm)
    names = [f"cal{i:02d}" for i in range(n_cal)]
    max_edge = 0.2 if size > 5 else 0.05
    layout = make_facets(names, ra, dec, centre, ClipRegion(shape, size), max_edge)
    return names, ra, dec, layout


def sky_points(name: str, n: int = 6000, margin_deg: float = 1e-5):
    """Random positions around a field; which are surely inside and surely outside its clip region."""
    centre, shape, size, _, seed = FIELDS[name]
    rng = np.random.default_rng(100 + seed)
    if shape == "box":
        lm = rng.uniform(-0.55 * size, 0.55 * size, (n, 2))
        edge = np.abs(lm).max(axis=1)
        inside, outside = edge < size / 2 - margin_deg, edge > size / 2 + margin_deg
        ra, dec = lm_to_radec(centre, lm)
    else:
        r = 1.1 * math.degrees(math.sin(math.radians(size))) * np.sqrt(rng.uniform(size=n))
        phi = rng.uniform(0, 2 * np.pi, n)
        ra, dec = lm_to_radec(centre, np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1))
        sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(*centre, unit="deg")).deg
        # The circle is a polygon of chords ~0.05 deg long: its sagitta is < 1e-4 deg.
        inside, outside = sep < size - 1e-3, sep > size + margin_deg
    return ra, dec, inside, outside


def clip_area_deg2(shape: str, size: float) -> float:
    """Solid angle of the clip region: integral of dl dm / n over the image square, or the cap."""
    if shape == "circle":
        return 2 * math.pi * (1 - math.cos(math.radians(size))) * (180 / math.pi) ** 2
    h = math.radians(size / 2)
    x, w = np.polynomial.legendre.leggauss(400)
    l, m = np.meshgrid(h * x, h * x)
    return float(np.sum(np.outer(h * w, h * w) / np.sqrt(1 - l**2 - m**2)) * (180 / math.pi) ** 2)


@pytest.mark.parametrize("name", list(FIELDS))
def test_each_point_lies_in_the_facet_of_its_nearest_calibrator(name):
    names, ra, dec, layout = random_field(name)
    assert layout.names == names and not layout.dropped
    pra, pdec, inside, outside = sky_points(name)
    assert inside.sum() > 3000 and outside.sum() > 500

    sep = SkyCoord(pra[:, None] * u.deg, pdec[:, None] * u.deg).separation(
        SkyCoord(ra[None, :] * u.deg, dec[None, :] * u.deg)).deg
    nearest = np.argmin(sep, axis=1)
    two = np.sort(sep, axis=1)[:, :2]
    clear = inside & (two[:, 1] - two[:, 0] > 1e-9)

    index = layout.facet_index(pra, pdec)
    np.testing.assert_array_equal(index[clear], nearest[clear])
    assert (index[inside] >= 0).all() and (index[outside] == -1).all()

    # Each polygon on its own (own tangent plane): exactly one holds a point inside, none one outside.
    holders = np.array([sky_polygon_contains(f.vertices_deg, pra, pdec) for f in layout.facets])
    assert (holders[:, inside].sum(axis=0) == 1).all()
    assert (holders[:, outside].sum(axis=0) == 0).all()
    np.testing.assert_array_equal(np.argmax(holders[:, clear], axis=0), nearest[clear])


@pytest.mark.parametrize("name", list(FIELDS))
def test_facets_tile_the_clip_area_and_describe_themselves(name):
    centre, shape, size, _, _ = FIELDS[name]
    names, ra, dec, layout = random_field(name)
    total = sum(f.area_deg2 for f in layout.facets)
    assert total == pytest.approx(clip_area_deg2(shape, size), rel=5e-3)
    for i, f in enumerate(layout.facets):
        assert (f.cal_ra_deg, f.cal_dec_deg) == pytest.approx((ra[i], dec[i]), abs=1e-9)
        # The calibrator and the facet centre lie in the facet.
        assert layout.facet_index([f.cal_ra_deg, f.centre_ra_deg], [f.cal_dec_deg, f.centre_dec_deg]).tolist() == [i, i]
        centre_sc = SkyCoord(f.centre_ra_deg, f.centre_dec_deg, unit="deg")
        vertex_sep = centre_sc.separation(SkyCoord(f.vertices_deg[:, 0], f.vertices_deg[:, 1], unit="deg")).deg
        assert f.radius_deg == pytest.approx(vertex_sep.max(), abs=1e-9)
        assert 0 < f.width_deg <= 2 * f.radius_deg + 1e-9 and 0 < f.height_deg <= 2 * f.radius_deg + 1e-9
        assert f.area_deg2 < math.pi * f.radius_deg**2
        assert (0 <= f.vertices_deg[:, 0]).all() and (f.vertices_deg[:, 0] < 360).all()


@pytest.mark.parametrize("name", ["elais", "pole", "ra0", "wide"])
def test_neighbours_share_identical_vertices_along_their_edges(name):
    names, ra, dec, layout = random_field(name)
    cal = radec_to_xyz(ra, dec)
    verts = [f.vertices_deg for f in layout.facets]
    rows = [{tuple(v): k for k, v in enumerate(vs)} for vs in verts]
    neighbours = 0
    for i in range(len(verts)):
        xyz_i = radec_to_xyz(verts[i][:, 0], verts[i][:, 1])
        for j in range(len(verts)):
            if i == j:
                continue
            # Vertices of facet i equidistant from calibrators i and j are on their common boundary ...
            on_edge = np.abs(xyz_i @ (cal[i] - cal[j])) < 1e-10
            # ... and must be vertices of facet j, bit for bit (no T-junctions, no gaps).
            missing = [k for k in np.flatnonzero(on_edge) if tuple(verts[i][k]) not in rows[j]]
            assert not missing, f"{names[i]} vertices {missing} on the edge with {names[j]} are not its vertices"
            shared = [k for k in range(len(verts[i])) if tuple(verts[i][k]) in rows[j]]
            if len(shared) < 2:
                continue
            neighbours += 1
            # Contiguous runs, in opposite order in the two facets.
            k0 = next(k for k in shared if (k - 1) % len(verts[i]) not in shared)
            run_i = [(k0 + s) % len(verts[i]) for s in range(len(shared))]
            assert sorted(run_i) == sorted(shared)
            run_j = [rows[j][tuple(verts[i][k])] for k in run_i]
            steps = {(b - a) % len(verts[j]) for a, b in zip(run_j, run_j[1:])}
            assert steps == {len(verts[j]) - 1}, "the shared run is not walked backwards in the neighbour"
            assert on_edge[run_i].all()
    assert neighbours >= 2 * (len(names) - 1)


@pytest.mark.parametrize("max_edge_deg", [0.05, 0.01])
def test_edges_are_no_longer_than_asked(max_edge_deg):
    centre = (242.75, 55.0)
    ra, dec = lm_to_radec(centre, np.array([[0.3, 0.2], [-0.5, 0.1], [0.1, -0.6]]))
    layout = make_facets(["a", "b", "c"], ra, dec, centre, ClipRegion("box", 2.0), max_edge_deg)
    for f in layout.facets:
        v = SkyCoord(f.vertices_deg[:, 0], f.vertices_deg[:, 1], unit="deg")
        step = v.separation(v[np.r_[1:len(v), 0]]).deg
        assert step.max() <= max_edge_deg * (1 + 1e-6) and step.min() > 0
        assert step.mean() > 0.5 * max_edge_deg


def test_single_calibrator_is_the_whole_region():
    centre = (150.0, 30.0)
    layout = make_facets(["only"], [150.4], [30.3], centre, ClipRegion("box", 2.5))
    (facet,) = layout.facets
    assert facet.area_deg2 == pytest.approx(clip_area_deg2("box", 2.5), rel=1e-5)
    clip = {tuple(np.round(v, 9)) for v in layout.clip_vertices_deg}
    assert clip <= {tuple(np.round(v, 9)) for v in facet.vertices_deg}
    lm = np.random.default_rng(0).uniform(-1.2, 1.2, (2000, 2))
    assert (layout.facet_index(*lm_to_radec(centre, lm)) == 0).all()
    circle = make_facets(["only"], [150.4], [30.3], centre, ClipRegion("circle", 1.0))
    assert circle.facets[0].area_deg2 == pytest.approx(clip_area_deg2("circle", 1.0), rel=1e-3)
    assert circle.facets[0].radius_deg == pytest.approx(1.0, abs=1e-3)


def test_calibrators_outside_are_left_out_with_a_warning(caplog):
    centre = (242.75, 55.0)
    ra, dec = lm_to_radec(centre, np.array([[0.2, 0.2], [2.0, 0.0], [-0.3, 0.1], [0.0, -1.3]]))
    with caplog.at_level(logging.WARNING, logger="lofar_hires"):
        layout = make_facets(["in1", "far_east", "in2", "far_south"], ra, dec, centre, ClipRegion("box", 2.5))
    assert layout.names == ["in1", "in2"] and layout.dropped == ("far_east", "far_south")
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == ["2 calibrator(s) outside the clip region (box 2.5 deg wide) left out: far_east, far_south"]
    assert sum(f.area_deg2 for f in layout.facets) == pytest.approx(clip_area_deg2("box", 2.5), rel=1e-5)
    with pytest.raises(InputError, match=r"no main calibrator lies inside the clip region \(box 1 deg wide about "
                                         r"242\.75000, 55\.00000 deg\): far_east, far_south"):
        make_facets(["far_east", "far_south"], ra[[1, 3]], dec[[1, 3]], centre, ClipRegion("box", 1.0))


@pytest.mark.parametrize("names, ra, dec, message", [
    ([], [], [], "no main calibrator: the facet layout needs at least one calibrator of category main"),
    (["a", "b", "c"], [242.0, 242.5, 242.5 + 0.5 / 3600 / math.cos(math.radians(55))], [55.0, 55.0, 55.0],
     r"calibrators b and c are 0\.5 arcsec apart \(less than 1 arcsec\); keep only one of them"),
    (["a", "a"], [242.0, 243.0], [55.0, 55.0], "calibrator name a appears more than once"),
    (["a"], [242.0, 243.0], [55.0], "1 calibrator names but 2 RA and 1 Dec values"),
    (["a"], [242.0], [95.0], r"Dec in \[-90, 90\]"),
])
def test_bad_calibrators_are_refused(names, ra, dec, message):
    with pytest.raises(InputError, match=message):
        make_facets(names, ra, dec, (242.75, 55.0), ClipRegion("box", 2.5))


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match=r"clip box width must be in \(0, 60\] deg, got 0"):
        ClipRegion("box", 0.0)
    with pytest.raises(InputError, match=r"clip circle radius must be in \(0, 60\] deg, got 100"):
        ClipRegion("circle", 100.0)
    with pytest.raises(InputError, match="shape must be box or circle"):
        ClipRegion("hexagon", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"largest edge length must be in \(0, 1\] deg"):
        make_facets(["a"], [242.75], [55.0], (242.75, 55.0), ClipRegion("box", 2.5), max_edge_deg=0.0)
    with pytest.raises(InputError, match="is not a sky position"):
        make_facets(["a"], [242.75], [55.0], (242.75, 91.0), ClipRegion("box", 2.5))


def test_annotation_counts_sources_weak_calibrators_and_suggests_averaging():
    names, ra, dec, layout = random_field("elais")
    pra, pdec, inside, outside = sky_points("elais", n=500)
    weak_ra, weak_dec = pra[inside][:3], pdec[inside][:3]
    data = DataResolution(integration_s=1.0, chan_width_hz=12207.03125, freq_min_hz=120e6, n_chan=64)
    annotated, index = annotate_facets(layout, sources_deg=np.stack([pra, pdec], axis=1),
                                       weak_names=["w1", "w2", "w3"], weak_deg=np.stack([weak_ra, weak_dec], 1),
                                       data=data, resolution_arcsec=6.0, max_loss=0.05)
    assert (index >= 0).sum() == sum(f.n_sources for f in annotated.facets) == inside.sum() + (
        (index >= 0) & ~inside & ~outside).sum()
    weak_at = layout.facet_index(weak_ra, weak_dec)
    for k, w in enumerate(["w1", "w2", "w3"]):
        assert w in annotated.facets[weak_at[k]].weak
    for f in annotated.facets:
        assert f.averaging is not None and f.averaging.distance_deg == f.radius_deg
        assert f.averaging.meets_target and 64 % f.averaging.chan_factor == 0
    bare, none = annotate_facets(layout)
    assert none is None and all(f.n_sources is None and f.averaging is None for f in bare.facets)


def test_region_file_round_trip(tmp_path):
    names, ra, dec, layout = random_field("ra0")
    path = write_ds9_polygons(tmp_path / "facets.reg", [f.vertices_deg.tolist() for f in layout.facets],
                              layout.names, [(f.cal_ra_deg, f.cal_dec_deg) for f in layout.facets])
    text = path.read_text().splitlines()
    assert text[:3] == ["# Region file format: DS9 version 4.1", "global color=green dashlist=8 3 width=1", "fk5"]
    assert text[3].startswith("polygon(") and text[3].endswith(f" # text={{{names[0]}}}")
    # Points carry RA in (-180, 180], the convention WSClean 3.1 compares with h5parm directions.
    points = [line for line in text if line.startswith("point(")]
    assert len(points) == len(names)
    assert all(-180 < float(p[6:].split(",")[0]) <= 180 for p in points)
    back = read_ds9_polygons(path)
    assert [p.name for p in back] == names
    for p, f in zip(back, layout.facets):
        np.testing.assert_allclose(p.vertices_deg, f.vertices_deg, atol=1e-7)
        assert p.point_deg == pytest.approx((f.cal_ra_deg, f.cal_dec_deg), abs=1e-7)

    other = tmp_path / "other.reg"
    other.write_text('# a comment\nglobal color=red\nicrs\npoint(1,2)\npolygon(10,1, 11,1, 11,2) # text="A B"\n'
                     "circle(10,1,0.1)\n-polygon(20,1,21,1,21,2)\npoint(20.5,1.2)\npoint(-159.5,1.3)\n")
    a, b = read_ds9_polygons(other)
    assert (a.name, a.point_deg, b.name, b.point_deg) == ("A B", None, None, (200.5, 1.3))
    bad = tmp_path / "bad.reg"
    bad.write_text("image\npolygon(1,1,2,2,3,1)\n")
    with pytest.raises(InputError, match="coordinate system 'image'; facet regions must be fk5 degrees"):
        read_ds9_polygons(bad)
    bad.write_text("fk5\npolygon(1,1,2,2)\n")
    with pytest.raises(InputError, match="a polygon needs at least 3"):
        read_ds9_polygons(bad)
