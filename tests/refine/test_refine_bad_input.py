"""``lofar-hires refine`` refuses a facet it cannot refine before any self-calibration: a facet without a calibrator
in the table, a weak calibrator named as a facet, a calibrator without a phasediff score; exit 2, one line naming the
problem, nothing written, the inputs untouched."""

from __future__ import annotations

import pytest

from conftest import tree_sha256
from lofar_hires.cli import main
from lofar_hires.selection.table import CalibratorRow, write_table


@pytest.fixture(scope="module")
def tiny(simulated, tmp_path_factory):
    sim = simulated("tiny-refine", preset="tiny")
    table = write_table(tmp_path_factory.mktemp("refine_table") / "calibrators.csv", [
        CalibratorRow(name="main1", ra_deg=243.0, dec_deg=55.0, category="main", score_rad=1.0, peak_flux_jy=0.5),
        CalibratorRow(name="weak1", ra_deg=243.1, dec_deg=55.0, category="weak", score_rad=2.3, peak_flux_jy=0.1),
        CalibratorRow(name="main2", ra_deg=243.2, dec_deg=55.0, category="main", peak_flux_jy=0.4)])
    return sim.targets()[0].ms, table


@pytest.mark.parametrize("facet, message", [
    ("nosuch", "facet nosuch has no calibrator in .* \\(its main calibrators: main1, main2\\)"),
    ("weak1", "weak1 is a weak calibrator .* not a main one"),
    ("main2", "calibrator main2 has no phasediff score"),
])
def test_refused_before_any_self_calibration(tiny, tmp_path, capsys, facet, message):
    import re

    ms, table = tiny
    before = tree_sha256(ms), tree_sha256(table)
    out = tmp_path / "out"
    assert main(["refine", str(ms), "--calibrators", str(table), "--facet", facet, "-o", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert (tree_sha256(ms), tree_sha256(table)) == before
    assert not out.exists() or not any(out.iterdir()), "nothing written"


def test_two_datasets_of_one_name_are_refused(tiny, tmp_path, capsys):
    ms, table = tiny
    copy = tmp_path / "other" / ms.name
    copy.parent.mkdir()
    import shutil

    shutil.copytree(ms, copy)
    assert main(["refine", str(ms), str(copy), "--calibrators", str(table), "--facet", "main1", "-o",
                 str(tmp_path / "out")]) == 2
    assert "have the same names" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def facet_inputs(tiny, tmp_path_factory):
    from lofar_hires.io.h5parm import write_solset
    from lofar_hires.io.regions import write_ds9_polygons
    from lofar_hires.io.skymodel import read_makesourcedb

    ms, _ = tiny
    folder = tmp_path_factory.mktemp("secondary_inputs")
    table = write_table(folder / "calibrators.csv", [
        CalibratorRow(name="main1", ra_deg=243.0, dec_deg=55.0, category="main", score_rad=1.0, peak_flux_jy=0.5),
        CalibratorRow(name="weak_in", ra_deg=243.1, dec_deg=55.05, category="weak", score_rad=2.3, peak_flux_jy=0.2),
        CalibratorRow(name="weak_out", ra_deg=245.0, dec_deg=56.0, category="weak", score_rad=2.3, peak_flux_jy=0.2),
        CalibratorRow(name="main2", ra_deg=243.3, dec_deg=55.3, category="main", score_rad=1.0, peak_flux_jy=0.5)])
    regions = write_ds9_polygons(folder / "facets.reg", [[(242.8, 54.8), (243.2, 54.8), (243.2, 55.2), (242.8, 55.2)],
                                                         [(243.2, 55.2), (243.4, 55.2), (243.4, 55.4), (243.2, 55.4)]],
                                 names=["main1", "main2"], points=[(243.0, 55.0), (243.3, 55.3)])
    from bad_inputs import one_direction_solset

    h5 = write_solset(folder / "main1.refined.h5", one_direction_solset(ms, "main1"))
    return table, regions, h5, read_makesourcedb


@pytest.mark.parametrize("facet, extra, message", [
    ("main1", ("--weak", "weak_out"), "weak calibrator\\(s\\) weak_out lie outside facet main1"),
    ("main1", ("--weak", "main2"), "main2 are not weak calibrators"),
    ("main2", (), "facet main2 holds no weak calibrator"),
    ("nosuch", (), "facet nosuch has no calibrator"),
], ids=["weak-outside-its-facet", "main-named-as-weak", "facet-without-weak", "facet-without-calibrator"])
def test_secondary_refuses_before_any_work(tiny, facet_inputs, tmp_path, capsys, facet, extra, message):
    import re

    ms, _ = tiny
    table, regions, h5, _ = facet_inputs
    sky = tiny_skymodel(tiny)
    out = tmp_path / "out"
    argv = ["secondary", str(ms), "--refined", str(h5), "--calibrators", str(table), "--facet", facet,
            "--facet-regions", str(regions), "--skymodel", str(sky), "-o", str(out), *extra]
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert not out.exists() or not any(out.iterdir()), "nothing written"


def tiny_skymodel(tiny):
    ms, _ = tiny
    return ms.parent / "sky_truth.skymodel"


def test_a_failed_refinement_is_reported_with_failure_ok(tiny, tmp_path, capsys):
    """main1 of the tiny field has too little flux for a model at 6 arcsec: the first cycle fails (exit 4);
    with --failure-ok the summary says so and the command exits 0, so that a workflow's other facets go on."""
    import json

    ms, table = tiny
    out = tmp_path / "out"
    argv = ["refine", str(ms), "--calibrators", str(table), "--facet", "main1", "-o", str(out),
            "--set-dutch", "imaging.size_pix=64"]
    assert main(argv) == 4
    assert main([*argv, "--failure-ok", "--overwrite"]) == 0
    summary = json.loads((out / "main1.refine.json").read_text())
    assert summary["status"] == "failed" and summary["exit_status"] == 4
    assert "model image" in summary["error"] and summary["calibrator"]["facet"] == "main1"
    assert main([*argv, "--failure-ok"]) == 2, "bad input (an earlier product, no --overwrite) is still refused"
