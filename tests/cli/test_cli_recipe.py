"""``lofar-hires recipe``: strategies from the recipes of de Jong et al. 2025, from the command line.

The YAML goes to stdout or to ``--output`` (atomically, never over an existing file without
``--overwrite``) and loads with ``load_strategy``; ``--explain`` prints the table of solves;
``--set`` changes a number of configs/recipes.yaml; bad input gives one line and exit status 2.
Expected values by hand: sigma_c = 0.8 rad gives delta_t = -26.92 ln(1 - (0.8/pi)^2) = 1.805 min,
so step 1 is sqrt(1.805) min = 80.6 s -> 96 s in 32 s integrations, and the uv cut is 25000 lambda.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lofar_hires.cli import main
from lofar_hires.selfcal.strategy import load_strategy


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if " ERROR " in line]


def test_task_is_registered_and_has_help(capsys):
    assert main(["recipe", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: lofar-hires recipe" in out and "--sigma-c RAD" in out and "--peak-flux JY" in out


def test_yaml_to_stdout(capsys):
    assert main(["recipe", "international", "--sigma-c", "0.8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Self-calibration strategy made by `lofar-hires recipe international --sigma-c 0.8`")
    data = yaml.safe_load(out)
    assert [s["solint_s"] for s in data["solves"]] == [96.0, 128.0, 160.0, 2176.0]
    assert data["imaging"]["minuv_lambda"] == 25000.0
    assert data["recipe"]["sigma_c_rad"] == 0.8 and data["recipe"]["dt_formula"] == "paper"


def test_output_file_loads_as_a_strategy_and_explain_prints_the_table(tmp_path: Path, capsys):
    out = tmp_path / "cal1.yaml"
    assert main(["recipe", "international", "--sigma-c", "0.8", "--output", str(out), "--explain"]) == 0
    table = capsys.readouterr().out
    assert "delta_t 1.805 min (from sigma_c 0.8 rad, formula paper)" in table
    assert "name:" not in table  # the YAML went to the file
    rows = [line.split() for line in table.splitlines() if line.startswith(("fastphase", "remotephase", "slowgain"))]
    assert rows[0][:3] == ["fastphase", "scalarphase", "96"] and "dutch_and_closest_german" in rows[0]
    assert rows[1][-3:] == ["core_inner_middle_remote", "25000", "0"]
    assert rows[2][-5:] == ["10", "MHz", "-", "25000", "3"]
    strategy = load_strategy(out)
    assert [s.name for s in strategy.solves] == ["fastphase", "slowphase", "remotephase", "slowgain"]
    assert strategy.prepare.phaseup_core and strategy.stopping.max_cycles == 20
    assert strategy.recipe.kind == "international" and strategy.recipe.integration_s == 32.0
    assert out.read_text().startswith("# ") and not list(tmp_path.glob(".*partial*"))


def test_delta_t_squared_formula_and_integration(tmp_path: Path):
    out = tmp_path / "sq.yaml"
    assert main(["recipe", "international", "--sigma-c", "1.75", "--dt-formula", "squared",
                 "--integration-s", "16", "--output", str(out)]) == 0
    strategy = load_strategy(out)
    # squared: delta_t = 10 min exactly at 1.75 rad; step 1 sqrt(10) min = 189.7 s -> 3 min maximum = 180 s
    # (11.25 x 16 s -> 11 -> 176 s); step 2 sqrt(20) min = 268.3 s (16.8 x 16 s -> 17 -> 272 s); no step 3
    # (delta_t >= 3 min); step 4: 20 x 10 = 200 min (below 4 h) = 12000 s = 750 x 16 s.
    assert strategy.recipe.delta_t_min == pytest.approx(10.0) and strategy.recipe.dt_formula == "squared"
    assert [s.solint_s for s in strategy.solves] == [176.0, 272.0, 12000.0]
    assert main(["recipe", "international", "--delta-t", "0.2", "--output", str(tmp_path / "dt.yaml")]) == 0
    given = load_strategy(tmp_path / "dt.yaml")
    assert given.recipe.delta_t_min == 0.2 and given.recipe.sigma_c_rad is None
    assert {s.minuv_lambda for s in given.solves} == {40000.0} and given.solves[2].reset == "core"


def test_dutch_recipe(tmp_path: Path):
    out = tmp_path / "dutch.yaml"
    assert main(["recipe", "dutch", "--peak-flux", "0.12", "--output", str(out)]) == 0
    strategy = load_strategy(out)
    assert [(s.solint_s, s.smoothness_hz, s.reset, s.start_cycle) for s in strategy.solves] == [
        (32.0, 20e6, "core", 0), (64.0, 40e6, "", 0), (2400.0, 10e6, "", 3)]
    assert {s.minuv_lambda for s in strategy.solves} == {10.0}
    assert strategy.prepare.time_resolution_s == 16.0 and not strategy.prepare.phaseup_core


def test_set_overrides_a_recipe_number(capsys):
    assert main(["recipe", "international", "--delta-t", "2", "--set",
                 "international.delta_t_ranges.moderate.minuv_lambda=30000",
                 "--set", "international.max_cycles=12"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert {s["minuv_lambda"] for s in data["solves"]} == {30000.0} and data["stopping"]["max_cycles"] == 12


def test_an_existing_output_is_not_overwritten(tmp_path: Path, capfd):
    out = tmp_path / "cal.yaml"
    out.write_text("keep me\n")
    assert main(["recipe", "international", "--delta-t", "1", "--output", str(out)]) == 2
    (line,) = error_lines(capfd.readouterr().err)
    assert "already exists" in line and "--overwrite" in line
    assert out.read_text() == "keep me\n"
    assert main(["recipe", "international", "--delta-t", "1", "--output", str(out), "--overwrite"]) == 0
    assert load_strategy(out).recipe.delta_t_min == 1.0


@pytest.mark.parametrize("argv, named", [
    (["international", "--sigma-c", "3.5"], "--sigma-c"),
    (["international", "--sigma-c", "nan"], "--sigma-c"),
    (["international", "--sigma-c", "-0.2"], "--sigma-c"),
    (["international"], "--sigma-c"),
    (["international", "--sigma-c", "1", "--delta-t", "2"], "--delta-t"),
    (["international", "--delta-t", "-1"], "--delta-t"),
    (["international", "--delta-t", "2", "--dt-formula", "squared"], "--dt-formula"),
    (["international", "--delta-t", "2", "--peak-flux", "1"], "--peak-flux"),
    (["international", "--delta-t", "2", "--integration-s", "0"], "--integration-s"),
    (["dutch"], "--peak-flux"),
    (["dutch", "--peak-flux", "0"], "--peak-flux"),
    (["dutch", "--peak-flux", "1", "--sigma-c", "1"], "--sigma-c"),
    (["international", "--delta-t", "2", "--set", "international.typo=1"], "international.typo"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capfd, argv, named):
    out = tmp_path / "never.yaml"
    assert main(["recipe", *argv, "--output", str(out)]) == 2
    (line,) = error_lines(capfd.readouterr().err)
    assert named in line
    assert not out.exists()
