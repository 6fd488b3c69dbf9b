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
