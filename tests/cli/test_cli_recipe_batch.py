"""``lofar-hires recipe international --calibrators TABLE --outdir DIR``: one strategy per main calibrator.

Expected values by hand: sigma_c = 0.8 rad gives delta_t = -26.92 ln(1 - (0.8/pi)^2) = 1.805 min (step 1:
sqrt(1.805) min = 80.6 s -> 96 s in 32 s integrations); sigma_c = 0.25 rad gives delta_t =
-26.92 ln(1 - (0.25/pi)^2) = 0.1710 min, below 0.3 min: the 40,000 lambda uv cut, and step 1 at its
32 s minimum.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lofar_hires.cli import main
from lofar_hires.selection.table import CalibratorRow, write_table
from lofar_hires.selfcal.strategy import load_strategy


def _table(path: Path, rows: list[CalibratorRow]) -> Path:
    return write_table(path, rows)


def _row(name: str, score: float | None, category: str = "main", **kw) -> CalibratorRow:
    return CalibratorRow(name=name, ra_deg=150.0, dec_deg=50.0, category=category, score_rad=score,
                         peak_flux_jy=0.3, **kw)


def test_one_strategy_per_main_calibrator_and_an_index(tmp_path: Path, capsys):
    table = _table(tmp_path / "cal.csv", [_row("calA", 0.8, total_flux_jy=0.5), _row("weak", 0.1, "weak"),
                                          _row("calB", 0.25)])
    out = tmp_path / "strategies"
    assert main(["recipe", "international", "--calibrators", str(table), "--outdir", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "calibrators.json")
    index = json.loads((out / "calibrators.json").read_text())
    assert [c["name"] for c in index] == ["calA", "calB"]  # main calibrators only, in table order
    assert index[0]["flux_jy"] == 0.5 and index[1]["flux_jy"] == 0.3  # total flux, else the peak
    assert index[0]["delta_t_min"] == pytest.approx(-26.92 * math.log(1 - (0.8 / math.pi) ** 2))
    assert index[1]["delta_t_min"] == pytest.approx(0.1710, abs=1e-4)
    a, b = (load_strategy(out / c["strategy"]) for c in index)
    assert [s.solint_s for s in a.solves][0] == 96.0 and a.imaging.minuv_lambda == 25000.0
    assert [s.solint_s for s in b.solves][0] == 32.0 and b.imaging.minuv_lambda == 40000.0
    assert a.recipe.sigma_c_rad == 0.8 and b.recipe.sigma_c_rad == 0.25
    assert a.name != b.name


def test_names_from_the_table_stay_inside_the_outdir(tmp_path: Path):
    table = _table(tmp_path / "cal.csv", [_row("../../evil", 0.8), _row("ok", 0.5)])
    out = tmp_path / "deep" / "strategies"
    assert main(["recipe", "international", "--calibrators", str(table), "--outdir", str(out)]) == 0
    index = json.loads((out / "calibrators.json").read_text())
    assert index[0]["name"] == "../../evil"
    assert "/" not in index[0]["strategy"] and (out / index[0]["strategy"]).is_file()
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["cal.csv", "deep"]


@pytest.mark.parametrize("rows, named", [
    ([_row("weak1", 0.5, "weak")], "no main calibrator"),
    ([_row("calA", None)], "calA"),
    ([_row("calA", -0.2)], "calA"),
    ([_row("calA", 3.5)], "calA"),
], ids=["no-main", "no-score", "negative-score", "score-above-pi"])
def test_bad_tables_are_one_line_and_exit_2(tmp_path: Path, capfd, rows, named):
    table = _table(tmp_path / "cal.csv", rows)
    out = tmp_path / "strategies"
    assert main(["recipe", "international", "--calibrators", str(table), "--outdir", str(out)]) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if " ERROR " in line]
    assert len(lines) == 1 and named in lines[0]
    assert not out.exists()


def test_nan_score_in_the_csv_is_refused(tmp_path: Path, capfd):
    table = _table(tmp_path / "cal.csv", [_row("calA", 0.5)])
    table.write_text(table.read_text().replace(",0.5,", ",nan,"))
    assert main(["recipe", "international", "--calibrators", str(table), "--outdir", str(tmp_path / "s")]) == 2
    assert "finite" in capfd.readouterr().err


@pytest.mark.parametrize("extra, named", [
    ([], "--outdir"),
    (["--outdir", "X", "--sigma-c", "0.5"], "--sigma-c"),
    (["--outdir", "X", "--output", "y.yaml"], "--output"),
], ids=["no-outdir", "with-sigma-c", "with-output"])
def test_option_conflicts(tmp_path: Path, capfd, extra, named):
    table = _table(tmp_path / "cal.csv", [_row("calA", 0.5)])
    extra = [str(tmp_path / e) if e in ("X", "y.yaml") else e for e in extra]
    assert main(["recipe", "international", "--calibrators", str(table), *extra]) == 2
    assert named in capfd.readouterr().err
