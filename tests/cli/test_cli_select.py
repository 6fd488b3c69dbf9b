"""``lofar-hires select score`` and ``select classify`` from the command line, with bad input.

Runs on the tiny simulation (real DP3): products, provenance, a candidate outside the
field, and one-line errors with exit status 2 and no output for an empty table, an MS
without the score's stations, unknown names and inconsistent inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.selection.table import CalibratorRow, read_table, write_table


@pytest.fixture(scope="module")
def tiny(simulated):
    return simulated("tiny_select", preset="tiny", overrides=["calibrator.enabled=false"])


@pytest.fixture()
def candidates(tiny, tmp_path) -> Path:
    sky = read_makesourcedb(tiny.sky_model)
    i = int(np.argmax(sky.i_jy))
    rows = [CalibratorRow(sky.names[i], float(np.degrees(sky.ra_rad[i]) % 360), float(np.degrees(sky.dec_rad[i]))),
            CalibratorRow("far_away", 250.0, 55.0)]
    return write_table(tmp_path / "candidates.csv", rows)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "ERROR" in line]
    assert len(errors) == 1, err
    return errors[0]


def test_score_writes_table_details_and_provenance(tiny, candidates, tmp_path):
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(tiny.observations[0].ms), "--candidates", str(candidates), "-o", str(out),
                 "--set", "score.stations=international", "--solutions-dir", str(tmp_path / "sol")]) == 0
    rows = {r.name: r for r in read_table(out)}
    bright = next(n for n in rows if n != "far_away")
    assert rows[bright].score_rad is not None and 0 <= rows[bright].score_rad < np.pi
    assert rows[bright].score_stations == ("DE601HBA", "FR606HBA")
    assert rows["far_away"].score_rad is None and "from the phase centre" in rows["far_away"].reason
    details = json.loads(out.with_suffix(".json").read_text())
    assert details["settings"]["stations"] == "international"
    prov = json.loads(out.with_suffix(".provenance.json").read_text())
    assert [r["tool"] for r in prov["tool_runs"]] == ["DP3.py", "DP3.py"]
    assert (tmp_path / "sol" / f"{bright}.phasediff.h5").is_file()
    # Unscored candidates are rejected by classify, with the reason kept.
    sel = tmp_path / "sel.csv"
    assert main(["select", "classify", str(out), "-o", str(sel), "--add", "manual1,16:11:00,+55.10.00,weak",
                 "--remove", bright]) == 0
    rows = {r.name: r for r in read_table(sel)}
    assert rows[bright].category == "removed"
    assert rows["far_away"].category == "rejected" and "phase centre" in rows["far_away"].reason
    assert rows["manual1"].category == "weak" and rows["manual1"].origin == "manual"


def test_score_refuses_an_empty_table(tiny, tmp_path, capsys):
    empty = write_table(tmp_path / "empty.csv", [])
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(tiny.observations[0].ms), "--candidates", str(empty), "-o", str(out)]) == 2
    assert "is empty" in one_error_line(capsys)
    assert not out.exists()


def test_score_refuses_an_ms_without_international_stations(simulated, candidates, tmp_path, capsys):
    dutch = simulated("tiny_dutch", preset="tiny", overrides=["calibrator.enabled=false",
                                                               "stations.international=[]"])
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(dutch.observations[0].ms), "--candidates", str(candidates),
                 "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert "score.stations" in line and "international" in line
    assert not out.exists() and not list(tmp_path.glob(".scores*"))


def test_score_refuses_an_unknown_name(tiny, candidates, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(tiny.observations[0].ms), "--candidates", str(candidates), "--name", "nope",
                 "-o", str(out)]) == 2
    assert "nope" in one_error_line(capsys)


def test_classify_refuses_bad_input(tmp_path, capsys):
    table = write_table(tmp_path / "s.csv", [CalibratorRow("a", 10.0, 50.0, score_rad=1.0)])
    out = tmp_path / "sel.csv"
    assert main(["select", "classify", str(table), "-o", str(out), "--remove", "b"]) == 2
    assert "no candidate named b" in one_error_line(capsys)
    assert main(["select", "classify", str(table), "-o", str(out), "--add", "a,10,50"]) == 2
    assert "already exists" in one_error_line(capsys)
    assert main(["select", "classify", str(table), "-o", str(out), "--add", "x,10"]) == 2
    assert "NAME,RA,DEC" in one_error_line(capsys)
    # Scores measured with different solution intervals cannot be classified together.
    other = write_table(tmp_path / "t.csv", [CalibratorRow("b", 11.0, 50.0, score_rad=1.0)])
    table.with_suffix(".json").write_text(json.dumps({"settings": {"solint_min": 10.0}}))
    other.with_suffix(".json").write_text(json.dumps({"settings": {"solint_min": 5.0}}))
    assert main(["select", "classify", str(table), str(other), "-o", str(out)]) == 2
    assert "different solution intervals" in one_error_line(capsys)
    assert not out.exists()


def test_classify_uses_the_recorded_solution_interval(tmp_path):
    table = write_table(tmp_path / "s.csv", [CalibratorRow("a", 10.0, 50.0, score_rad=1.75)])
    table.with_suffix(".json").write_text(json.dumps({"settings": {"solint_min": 5.0}}))
    out = tmp_path / "sel.csv"
    assert main(["select", "classify", str(table), "-o", str(out)]) == 0
    assert read_table(out)[0].solint_min == pytest.approx(5.0)
