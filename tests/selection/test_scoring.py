"""Scoring a candidate table (lofar_hires.selection.scoring) without DP3.

The full loop (DP3 solves on a simulated MS) runs in tests/cli/test_cli_select.py through
``lofar-hires select score``; here the parts around it: choosing the candidates, refusals before
any measurement set is opened, the scored row, same-position warnings, and reading back the
solution interval the scores were measured with.
"""

from __future__ import annotations

import json
import logging

import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.selection.config import load_selection_config
from lofar_hires.selection.score import ScoreResult
from lofar_hires.selection.scoring import (
    classify_tables,
    recorded_solint_min,
    score_table,
    scored_row,
    select_candidates,
    warn_same_positions,
)
from lofar_hires.selection.table import CalibratorRow, details_path, write_table

ROWS = [CalibratorRow("calA", 242.95, 55.30, peak_flux_jy=0.5), CalibratorRow("calB", 242.30, 55.10, peak_flux_jy=0.4),
        CalibratorRow("calC", 243.10, 54.70, peak_flux_jy=0.3)]


def test_select_candidates_keeps_table_order(tmp_path):
    assert select_candidates(ROWS, [], tmp_path / "t.csv") == ROWS
    assert [r.name for r in select_candidates(ROWS, ["calC", "calA"], tmp_path / "t.csv")] == ["calA", "calC"]
    with pytest.raises(InputError, match=r"candidate 'nosuch' is not in the candidate table .*t\.csv"):
        select_candidates(ROWS, ["calA", "nosuch"], tmp_path / "t.csv")


def test_refusals_before_any_measurement_set_is_opened(tmp_path):
    config = load_selection_config()
    missing_ms = [tmp_path / "never_opened.MS"]
    with pytest.raises(MissingInputError, match="candidate table .*missing.csv does not exist"):
        score_table(missing_ms, tmp_path / "missing.csv", tmp_path / "out.csv", config)
    empty = write_table(tmp_path / "empty.csv", [])
    with pytest.raises(InputError, match="is empty; nothing to score"):
        score_table(missing_ms, empty, tmp_path / "out.csv", config)
    table = write_table(tmp_path / "cands.csv", ROWS)
    with pytest.raises(InputError, match="candidate 'calZ' is not in the candidate table"):
        score_table(missing_ms, table, tmp_path / "out.csv", config, names=["calZ"])
    # the measurement sets come next: a missing one is refused before any output is written
    with pytest.raises(MissingInputError, match="never_opened.MS does not exist"):
        score_table(missing_ms, table, tmp_path / "out.csv", config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cands.csv", "empty.csv"]


def test_scored_row_carries_the_score_and_its_noise_level():
    result = ScoreResult("calA", 242.95, 55.30, 0.8, ["DE601HBA", "FR606HBA"], n_values=120, noise_draws=50,
                         noise_median_rad=1.7, noise_threshold_rad=1.2, false_alarm=0.01, note="ok")
    row = scored_row(ROWS[0], result)
    assert (row.name, row.peak_flux_jy, row.score_rad, row.score_stations) == ("calA", 0.5, 0.8,
                                                                                ("DE601HBA", "FR606HBA"))
    assert (row.n_values, row.noise_median_rad, row.noise_threshold_rad, row.false_alarm, row.reason) == (
        120, 1.7, 1.2, 0.01, "ok")
    no_noise = scored_row(ROWS[0], ScoreResult("calA", 242.95, 55.30, None, [], n_values=120, note="no data"))
    assert no_noise.n_values is None and no_noise.score_rad is None and no_noise.reason == "no data"


def test_same_positions_are_reported(caplog):
    twin = CalibratorRow("calA2", 242.95, 55.30 + 0.2 / 3600)
    with caplog.at_level(logging.WARNING, logger="lofar_hires.selection.scoring"):
        warn_same_positions([*ROWS, twin])
        warn_same_positions(ROWS[:1])
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "calA and calA2 are at the same position (0.20 arcsec apart)" in warnings[0]


def test_recorded_solint_min(tmp_path, caplog):
    tables = []
    for name, settings in (("a", {"solint_s": 300.0}), ("b", {"solint_min": 5.0})):  # b: written by an older run
        tables.append(write_table(tmp_path / f"{name}.csv", ROWS[:1]))
        details_path(tables[-1]).write_text(json.dumps({"settings": settings}))
    assert recorded_solint_min(tables, 10.0) == 5.0
    bare = write_table(tmp_path / "bare.csv", ROWS[:1])
    with caplog.at_level(logging.WARNING):
        assert recorded_solint_min([bare], 10.0) == 10.0
    assert "assuming a 10 min score solution interval" in caplog.text
    details_path(tables[1]).write_text(json.dumps({"settings": {"solint_s": 150.0}}))
    with pytest.raises(InputError, match=r"different solution intervals \[2.5, 5.0\] min"):
        recorded_solint_min(tables, 10.0)
    details_path(tables[1]).write_text("[1, 2]")
    with pytest.raises(InputError, match="is not the details file of a scored table"):
        recorded_solint_min(tables, 10.0)


def test_classify_tables_gathers_scored_tables(tmp_path):
    from lofar_hires.selection.table import provenance_path, read_table

    config = load_selection_config()
    first = write_table(tmp_path / "a.csv", [ROWS[0].with_(score_rad=1.0, score_stations=("DE601HBA",))])
    second = write_table(tmp_path / "b.csv", [ROWS[1].with_(score_rad=2.9, score_stations=("DE601HBA",)),
                                              ROWS[2].with_(score_rad=1.2, score_stations=("DE601HBA",))])
    details_path(first).write_text(json.dumps({"settings": {"solint_s": 600.0}}))
    out = tmp_path / "selection.csv"
    manual = CalibratorRow("manual1", 242.5, 55.2, origin="manual", category="weak")
    selected = classify_tables([first, second], out, config, added=[manual], removed=["calC"],
                               parameters={"request": "test"})
    assert [r.name for r in read_table(out)] == [r.name for r in selected]
    categories = {r.name: r.category for r in selected}
    assert categories == {"calA": "main", "manual1": "weak", "calB": "rejected", "calC": "removed"}
    prov = json.loads(provenance_path(out).read_text())
    assert prov["parameters"]["request"] == "test" and prov["parameters"]["ref_solint_min"] == 10.0
    assert len(prov["inputs"]) == 2
    with pytest.raises(InputError, match="is an input"):
        classify_tables([first], first, config, overwrite=True)
