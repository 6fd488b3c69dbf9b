"""Multi-direction self-calibration (``lofar-hires selfcal --facet-regions``): its parts and its refusals.

The science (phases towards every facet against the truth, the facet image) is
checked on the Dutch DD workflow in ``test_dd_dutch_workflow.py``, which runs the
engine through ``workflows/dd_dutch.cwl``. Here: directions from facet regions,
components grouped by facet, the DDECal and WSClean options of a multi-direction
cycle, and the inputs a multi-direction run refuses (on the simulated ``dd`` field,
before any solve).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from dd_field import dd_strategy, make_dd_field
from lofar_hires.cli import main
from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.skymodel import SkyModel, read_makesourcedb, write_makesourcedb
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.wsclean import WSCleanOptions, build_wsclean_command
from lofar_hires.selfcal import directions as dirs


@pytest.fixture(scope="module")
def field(simulated, tmp_path_factory):
    return make_dd_field(simulated, tmp_path_factory.mktemp("dd_selfcal"))


# --------------------------------------------------------------------------- bad input


@pytest.mark.slow
def test_a_starting_model_without_flux_in_a_facet_is_refused(field, tmp_path, capsys):
    model = read_makesourcedb(field.start_model)
    partial = write_makesourcedb(model.select(np.array([n != field.calibrators[0] for n in model.names])),
                                 tmp_path / "three.skymodel")
    before = {p: tree_sha256(p) for p in (*field.ms, partial, field.regions)}
    code = main(["selfcal", *map(str, field.ms), "--strategy", str(dd_strategy(tmp_path)), "--outdir",
                 str(tmp_path / "out"), "--facet-regions", str(field.regions), "--skymodel", str(partial)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and field.calibrators[0] in err[-1] and "--skymodel" in err[-1], err
    assert {p: tree_sha256(p) for p in before} == before
    assert not (tmp_path / "out" / "cycle_000").exists()


@pytest.mark.slow
def test_a_model_image_or_point_model_cannot_start_a_multi_direction_run(field, tmp_path, capsys):
    code = main(["selfcal", str(field.ms[0]), "--strategy", str(dd_strategy(tmp_path)), "--outdir",
                 str(tmp_path / "out"), "--facet-regions", str(field.regions), "--point-model-jy", "1"])
    assert code == 2 and "--facet-regions" in capsys.readouterr().err


def _square(ra: float, dec: float, half: float) -> list[tuple[float, float]]:
    return [(ra - half, dec - half), (ra + half, dec - half), (ra + half, dec + half), (ra - half, dec + half)]


def _regions(path: Path, text: str) -> Path:
    path.write_text("# Region file format: DS9 version 4.1\nfk5\n" + text)
    return path


@pytest.mark.parametrize("body, message", [
    ("", "no polygon"),
    ("polygon(10,10,11,10,11,11,10,11)\npoint(10.5,10.5)\n", "no name"),
    ("polygon(10,10,11,10,11,11,10,11) # text={a}\n", "no point"),
    ("polygon(10,10,11,10,11,11,10,11) # text={a],[b}\npoint(10.5,10.5)\n", "may hold only"),
    ("polygon(10,10,11,10,11,11,10,11) # text={a}\npoint(10.5,10.5)\n"
     "polygon(11,10,12,10,12,11,11,11) # text={a}\npoint(11.5,10.5)\n", "more than once"),
])
def test_facet_regions_must_name_and_place_every_direction(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        dirs.load_directions(_regions(tmp_path / "f.reg", body))


def _two_facets(tmp_path: Path) -> dirs.DirectionSet:
    return dirs.load_directions(_regions(tmp_path / "two.reg",
                                         "polygon(10,10,11,10,11,11,10,11) # text={west}\npoint(10.5,10.5)\n"
                                         "polygon(11,10,12,10,12,11,11,11) # text={east}\npoint(11.5,10.5)\n"))


def _points(ra, dec, flux) -> SkyModel:
    n = len(ra)
    names = [f"s{i}" for i in range(n)]
    z = np.zeros(n)
    return SkyModel(names, ["POINT"] * n, names, np.radians(ra), np.radians(dec), np.asarray(flux, float),
                    np.full(n, 150e6), np.zeros((n, 1)), np.ones(n, bool), z, z.copy(), z.copy())


def test_components_go_to_the_facet_that_holds_them_else_the_nearest(tmp_path):
    dset = _two_facets(tmp_path)
    owner = dirs.assign_components(dset, np.array([10.2, 11.8, 9.0, 13.0, 11.4]), np.array([10.5, 10.9, 10.5, 10.5,
                                                                                             12.0]))
    np.testing.assert_array_equal(owner, [0, 1, 0, 1, 1])
    patched = dirs.patched_model(_points([10.2, 11.8], [10.5, 10.5], [1.0, 2.0]), dset)
    assert patched.patches == ["west", "east"]
    assert patched.patch_positions["east"] == pytest.approx((math.radians(11.5), math.radians(10.5)))


def test_a_direction_with_an_empty_model_is_an_error_naming_it(tmp_path):
    dset = _two_facets(tmp_path)
    model = _points([10.2, 10.4, 11.3], [10.5, 10.6, 10.5], [1.0, 0.5, 0.0])  # east only has a zero component
    assert dirs.facets_without_flux(model, dset) == ["east"]
    with pytest.raises(QualityError, match="east"):
        dirs.write_direction_model(model, dset, tmp_path / "m.skymodel", "cycle 3")
    with pytest.raises(InputError, match="east"):
        dirs.write_direction_model(model, dset, tmp_path / "m.skymodel", "start", error=InputError)
    model = _points([10.2, 11.3], [10.5, 10.5], [1.0, 0.4])
    written = read_makesourcedb(dirs.write_direction_model(model, dset, tmp_path / "m.skymodel", "cycle 3"))
    assert written.patches == ["west", "east"]
    assert written.patch_positions["east"] == pytest.approx((math.radians(11.5), math.radians(10.5)))


def test_a_model_image_becomes_point_components_at_its_pixels(tmp_path):
    from astropy.io import fits
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crpix = [17, 17]
    w.wcs.crval = [242.75, 55.0]
    w.wcs.cdelt = [-2 / 3600, 2 / 3600]
    data = np.zeros((1, 1, 32, 32), dtype=np.float32)
    data[0, 0, 5, 7], data[0, 0, 20, 30] = 0.5, -0.1
    header = w.to_header()
    header.update({"CTYPE3": "FREQ", "CRVAL3": 141e6, "CRPIX3": 1, "CDELT3": 1e6, "CTYPE4": "STOKES", "CRVAL4": 1,
                   "CRPIX4": 1, "CDELT4": 1})
    path = tmp_path / "model.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    model = dirs.components_from_model_image(path)
    assert sorted(model.i_jy.tolist()) == pytest.approx([-0.1, 0.5])
    ra, dec = w.pixel_to_world_values(np.array([7.0, 30.0]), np.array([5.0, 20.0]))
    order = np.argsort(-model.i_jy)
    np.testing.assert_allclose(np.degrees(model.ra_rad[order]), ra, atol=1e-9)
    np.testing.assert_allclose(np.degrees(model.dec_rad[order]), dec, atol=1e-9)
    assert model.ref_freq_hz[0] == 141e6


def test_only_components_in_islands_reach_the_solves_unless_a_facet_would_lose_them_all(tmp_path):
    from astropy.io import fits

    from conftest import sin_wcs

    dset = _two_facets(tmp_path)
    w = sin_wcs((11.0, 10.5), 64, 60.0)  # 1 arcmin pixels: the image spans both facets
    data = np.zeros((1, 1, 64, 64), dtype=np.float32)
    west = [(32, 50), (20, 55)]  # (y, x): west is at larger x (RA grows to the left)
    east = [(30, 10), (40, 12)]
    for (y, x), f in zip(west + east, [1.0, -0.02, 0.3, 0.01]):
        data[0, 0, y, x] = f
    path = tmp_path / "image-model.fits"
    fits.PrimaryHDU(data, w.to_header()).writeto(path)
    mask = np.zeros((64, 64), bool)
    mask[31:34, 49:52] = True  # the island of the west source only
    kept, everything, unfiltered = dirs.components_in_islands(path, mask, dset)
    assert len(everything) == 4
    owner = dirs.patched_model(kept, dset).patches
    assert sorted(zip(owner, kept.i_jy.round(3).tolist())) == [("east", 0.01), ("east", 0.3), ("west", 1.0)]
    assert unfiltered == ["east"]  # east has no island: it keeps both of its components
    mask[29:32, 9:12] = True
    kept, _, unfiltered = dirs.components_in_islands(path, mask, dset)
    assert sorted(kept.i_jy.round(3).tolist()) == [0.3, 1.0] and unfiltered == []
    with pytest.raises(QualityError, match="same grid"):
        dirs.components_in_islands(path, mask[:10], dset)


def test_solution_directions_must_be_the_facets(tmp_path):
    dset = _two_facets(tmp_path)
    good = dirs.direction_positions_rad(dset)
    dirs.check_solution_directions(dset, good, "merged")
    with pytest.raises(InputError, match="facets without solutions: east"):
        dirs.check_solution_directions(dset, {"[west]": good["[west]"]}, "merged")
    with pytest.raises(InputError, match="solutions without a facet: north"):
        dirs.check_solution_directions(dset, {**good, "[north]": (0.2, 0.2)}, "merged")
    moved = {**good, "[east]": (good["[east]"][0] + math.radians(2 / 3600), good["[east]"][1])}
    with pytest.raises(InputError, match=r"east is [0-9.]+ arcsec from the point"):
        dirs.check_solution_directions(dset, moved, "merged")


def test_earlier_solves_are_applied_to_each_directions_model():
    step = dp3_steps.ddecal("scalaramplitude", Path("a.h5"), solint_slots=2, nchan=1, minuv_lambda=0.0,
                            sourcedb=Path("m.skymodel"), directions=[["west"], ["east"]],
                            model_corrections=[dp3_steps.Correction(Path("p.h5"), ("phase000",)),
                                               dp3_steps.Correction(Path("g.h5"), ("amplitude000", "phase000"))])
    assert step.options["applycal.steps"] == ["c0", "c1", "c2"]
    assert [step.options[f"applycal.c{k}.correction"] for k in range(3)] == ["phase000", "amplitude000", "phase000"]
    assert [step.options[f"applycal.c{k}.parmdb"] for k in range(3)] == [Path("p.h5"), Path("g.h5"), Path("g.h5")]
    with pytest.raises(InputError, match="scalar or diagonal"):
        dp3_steps.ddecal("scalarphase", Path("a.h5"), solint_slots=1, nchan=1, minuv_lambda=0.0,
                         sourcedb=Path("m.skymodel"),
                         model_corrections=[dp3_steps.Correction(Path("f.h5"), ("fulljones",), fulljones=True)])


def test_wsclean_applies_one_solution_file_per_measurement_set(tmp_path):
    opts = WSCleanOptions(name=tmp_path / "img", size_pix=(64, 64), scale_arcsec=2.0, facet_regions=Path("f.reg"),
                          apply_facet_solutions=([Path("a.h5"), Path("b.h5")], ["amplitude000", "phase000"]))
    args = build_wsclean_command(opts, [Path("a.ms"), Path("b.ms")])
    i = args.index("-apply-facet-solutions")
    assert args[i + 1:i + 3] == ["a.h5,b.h5", "amplitude000,phase000"]
    with pytest.raises(InputError, match="2 h5parms for 3 measurement sets"):
        build_wsclean_command(opts, [Path("a.ms"), Path("b.ms"), Path("c.ms")])


def test_the_island_filter_reads_the_restored_image_that_belongs_to_the_model():
    from lofar_hires.selfcal.cycle import restored_image_of

    assert restored_image_of(Path("c/image-model-pb.fits")) == Path("c/image-image-pb.fits")
    assert restored_image_of(Path("c/image-model.fits")) == Path("c/image-image.fits")
    with pytest.raises(QualityError, match="not named like a WSClean model image"):
        restored_image_of(Path("c/image-residual.fits"))
