"""`lofar-hires subtract` refuses inputs that do not belong together, before anything is written: a facet
without an h5parm direction, a facet outside the field, a sky model that covers no facet, solutions without
directions, a facet name DP3 cannot carry, too little disk; inputs stay byte for byte unchanged."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from lofar_hires.cli import main
from lofar_hires.io.h5parm import read_h5parm, write_solset
from lofar_hires.io.regions import read_ds9_polygons, write_ds9_polygons
from subtract_field import make_subtract_field

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def field(simulated, tmp_path_factory):
    return make_subtract_field(simulated, tmp_path_factory.mktemp("subtract_bad") / "field", 31)


def refuse(field, tmp_path: Path, capfd, *, regions: Path | None = None, skymodel: Path | None = None,
           h5parm: Path | None = None, extra: tuple[str, ...] = ()) -> str:
    """Run subtract, expect exit 2 with one ERROR line, untouched inputs and no output; return the line."""
    regions = regions or field.regions
    skymodel = skymodel or field.skymodel
    h5parm = h5parm or field.h5parm
    inputs = [field.ms, regions, skymodel, h5parm]
    before = [tree_sha256(p) for p in inputs]
    out = tmp_path / "out"
    capfd.readouterr()
    code = main(["subtract", str(field.ms), "--skymodel", str(skymodel), "--h5parm", str(h5parm), "--facet-regions",
                 str(regions), "-o", str(out), "--no-beam", "--resolution-arcsec", "20", *extra])
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert code == 2, err[-2000:]
    assert len(errors) == 1, errors
    assert [tree_sha256(p) for p in inputs] == before
    assert not out.exists(), "nothing is written before the inputs are checked"
    assert "running DP3" not in err
    return errors[0]


def renamed_regions(field, tmp_path: Path, rename: dict[str, str], shift_deg: float = 0.0) -> Path:
    polygons = read_ds9_polygons(field.regions)
    verts = [[(ra + shift_deg, dec) for ra, dec in p.vertices_deg] for p in polygons]
    return write_ds9_polygons(tmp_path / "facets.reg", verts, [rename.get(p.name, p.name) for p in polygons])


def test_facet_without_a_direction(field, tmp_path, capfd):
    regions = renamed_regions(field, tmp_path, {field.facets[1]: "nosuchfacet"})
    line = refuse(field, tmp_path, capfd, regions=regions)
    assert "nosuchfacet" in line and "no matching direction" in line and str(field.h5parm) in line


def test_region_outside_the_field(field, tmp_path, capfd):
    regions = renamed_regions(field, tmp_path, {}, shift_deg=20.0)
    line = refuse(field, tmp_path, capfd, regions=regions)
    assert "outside the field" in line and "--max-distance-deg" in line


def test_sky_model_that_covers_no_facet(field, tmp_path, capfd):
    text = field.skymodel.read_text().replace("+55.", "+45.").replace("+54.", "+44.")
    far = tmp_path / "elsewhere.skymodel"
    far.write_text(text)
    line = refuse(field, tmp_path, capfd, skymodel=far)
    assert "does not cover the facets" in line and "--skymodel" in line


def test_direction_independent_solutions(field, tmp_path, capfd):
    solset = read_h5parm(field.h5parm)
    tabs = {}
    for name, tab in solset.soltabs.items():  # the first direction's solutions, without a direction axis
        k = list(tab.axes).index("dir")
        axes = {a: v for a, v in tab.axes.items() if a != "dir"}
        tabs[name] = dataclasses.replace(tab, axes=axes, val=np.take(tab.val, 0, axis=k),
                                         weight=np.take(tab.weight, 0, axis=k))
    di = write_solset(tmp_path / "di.h5", dataclasses.replace(solset, soltabs=tabs))
    line = refuse(field, tmp_path, capfd, h5parm=di)
    assert "direction" in line


def test_facet_name_dp3_cannot_carry(field, tmp_path, capfd):
    bad = "a b,c"
    regions = renamed_regions(field, tmp_path, {field.facets[0]: bad})
    solset = read_h5parm(field.h5parm)
    old = f"[{field.facets[0]}]"
    directions = {(f"[{bad}]" if k == old else k): v for k, v in solset.directions.items()}
    tabs = {}
    for name, tab in solset.soltabs.items():
        axes = dict(tab.axes)
        axes["dir"] = np.array([f"[{bad}]" if d == old else d for d in axes["dir"]])
        tabs[name] = dataclasses.replace(tab, axes=axes)
    h5 = write_solset(tmp_path / "renamed.h5", dataclasses.replace(solset, directions=directions, soltabs=tabs))
    line = refuse(field, tmp_path, capfd, regions=regions, h5parm=h5)
    assert repr(bad) in line


def test_unknown_facet_to_rerun(field, tmp_path, capfd):
    line = refuse(field, tmp_path, capfd, extra=("--facet", "nosuchfacet"))
    assert "nosuchfacet" in line and "--facet" in line


def test_not_enough_disk(field, tmp_path, capfd, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1_000_000))
    line = refuse(field, tmp_path, capfd)
    assert "not enough disk" in line and "GB" in line and "--outdir" in line
