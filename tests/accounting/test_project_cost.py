"""Compute accounting (``lofar-hires project-cost``): projections of a synthetic run manifest checked
against numbers computed by hand from the scaling model of ``configs/lofar_dimensions.yaml``."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from lofar_hires.accounting.config import CostModel, Dimensions, load_cost_model
from lofar_hires.accounting.manifest import module_costs, read_run_costs
from lofar_hires.accounting.projection import (
    by_category,
    comparison,
    fit_observation_exponents,
    project,
    project_runs,
)
from lofar_hires.cli import main

#: The toy run: 18 stations (2 international), 90 slots of 20 s, 8 channels of 390.625 kHz, 4 directions.
TOY_DATA = {"n_observations": 2, "n_stations": 18, "n_international": 2, "n_times": 90, "integration_s": 20.0,
            "n_channels": 8, "channel_width_hz": 390625.0, "n_directions": 4}
#: Every module of the chain with 3600 core-seconds (1 core-hour) each.
MODULES = ("simulate", "di_calibrator", "di_target", "delay_calibration", "calibratability", "select_calibrators",
           "dd_dutch", "dd_international", "facet_subtract", "dd_refine", "sva", "final_imaging")


def manifest(data: dict | None = None, core_s: dict | None = None, **changes) -> dict:
    core_s = core_s or {}
    modules = [{"name": m, "status": "done", "workflow": f"workflows/{m}.cwl", "started_utc": "2026-12-07T04:00:00Z",
                "wall_s": 10.0, "core_s": core_s.get(m, 3600.0), "disk_bytes": 1000, "warnings": [],
                "message": None, "outputs": {}} for m in MODULES]
    return {"format": "lofar-hires-run/1", "config": "/x/config.yaml", "runner": "cwltool",
            "started_utc": "2026-12-07T04:00:00.000000Z", "finished_utc": "2026-12-07T05:00:00.000000Z",
            "observations": ["obs01", "obs02"], "data": dict(TOY_DATA if data is None else data),
            "modules": modules, "gate": None, **changes}


def write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def toy() -> Dimensions:
    return Dimensions(**{k: v for k, v in TOY_DATA.items() if k != "n_observations"})


# Hand-computed ratios target / toy (target: 49 stations, 11 international, 28,800 s at 1 s, 3776 channels of
# 12.207 kHz = 46.09 MHz, 24 directions; toy bandwidth 3.125 MHz, 1800 s).
ALL_BASELINES = 1176 / 153  # 49*48/2 over 18*17/2
DUTCH_BASELINES = 703 / 120  # 38*37/2 over 16*15/2
FULL = ALL_BASELINES * (28800 / 90) * (3776 / 8) * (24 / 4)  # at the data's own resolution
AT_32S = ALL_BASELINES * (900 / 56.25) * (118 / 8) * (24 / 4)  # 32 s and 390.625 kHz: 900 vs 56.25 slots
DUTCH_16S = DUTCH_BASELINES * (1800 / 90) * (236 / 8) * (15 / 4)  # 16 s, 195.3 kHz (toy: 20 s, 390 kHz), 15 dirs


def test_projection_of_one_run_is_the_hand_computed_ratio():
    """Exactly linear scaling gives exact ratios: 1 core-hour measured on 2 toy observations becomes
    FULL / 2 on one target observation for the full-resolution modules, and so on."""
    model = CostModel()
    costs = module_costs(manifest())
    assert costs["facet_subtract"] == 1.0 and len(costs) == len(MODULES)
    one = project(costs, toy(), 2, model.target, 1, model)
    assert "simulate" not in one  # excluded
    assert one["facet_subtract"] == pytest.approx(FULL / 2, rel=1e-12)
    assert one["dd_international"] == pytest.approx(AT_32S / 2, rel=1e-12)
    assert one["dd_refine"] == pytest.approx(AT_32S / 2, rel=1e-12)
    assert one["dd_dutch"] == pytest.approx(DUTCH_16S / 2, rel=1e-12)
    assert one["di_target"] == pytest.approx(FULL / 6 / 2, rel=1e-12)  # no directions term
    assert one["select_calibrators"] == pytest.approx(6 / 1, rel=1e-12)  # directions only, not observations
    assert one["final_imaging"] == pytest.approx(FULL * 0.5 ** 0.43, rel=1e-12)
    # 16 observations: linear modules x16; the Dutch DD reuses a deep model after 6 (10 more at 0.333 each)
    sixteen = project(costs, toy(), 2, model.target, 16, model)
    assert sixteen["facet_subtract"] == pytest.approx(FULL * 8, rel=1e-12)
    assert sixteen["dd_dutch"] == pytest.approx(DUTCH_16S * (6 + 10 * 0.333) / 2, rel=1e-12)
    assert sixteen["final_imaging"] == pytest.approx(FULL * 8 ** 0.43, rel=1e-12)
    categories = by_category(one, model)
    assert categories["subtraction"] == pytest.approx(FULL / 2)
    assert categories["dd_calibration"] == pytest.approx(AT_32S + DUTCH_16S / 2)
    assert sum(categories.values()) == pytest.approx(sum(one.values()))


def test_more_observations_cost_less_per_observation_because_of_sva_and_the_model(tmp_path):
    """Per observation, imaging at 16 and 64 observations costs 16**-0.57 and 64**-0.57 of one; the
    subtraction stays the same per observation; the total per observation falls."""
    model = CostModel()
    run = read_run_costs(write(tmp_path / "r.json", manifest()))
    rows = {(r.observations, r.category): r for r in comparison([run], model, [1, 16, 64])}
    for n in (16, 64):
        imaging = (rows[n, "imaging"].projected_core_h_per_observation
                   / rows[1, "imaging"].projected_core_h_per_observation)
        sva = FULL / 2  # the sva module: linear in N, same per observation
        final = FULL * 0.5 ** 0.43
        assert imaging == pytest.approx((sva + final * n ** -0.57) / (sva + final), rel=1e-9)
        assert imaging < 1
        assert rows[n, "subtraction"].projected_core_h_per_observation == pytest.approx(
            rows[1, "subtraction"].projected_core_h_per_observation)
        assert rows[n, "total"].projected_core_h_per_observation < rows[1, "total"].projected_core_h_per_observation
    assert sum(r.percent for (n, c), r in rows.items() if n == 1 and c != "total") == pytest.approx(100.0)
    assert rows[1, "total"].paper_core_h_per_observation == 85000.0
    assert rows[1, "total"].ratio == pytest.approx(rows[1, "total"].projected_core_h_per_observation / 85000.0)
    assert rows[16, "dd_calibration"].paper_core_h_per_observation is None


def test_doubled_exponents_square_every_ratio():
    """With every exponent doubled, each module's projection ratio is the square of the linear one,
    so a scaling applied with a wrong exponent fails here."""
    model = CostModel()
    doubled = dataclasses.replace(model, modules={m: dataclasses.replace(
        s, visibilities_exponent=2 * s.visibilities_exponent, directions_exponent=2 * s.directions_exponent,
        observations_exponent=2 * s.observations_exponent) for m, s in model.modules.items()})
    costs = module_costs(manifest())
    for n in (1, 16):
        linear = project(costs, toy(), 2, model.target, n, model)
        squared = project(costs, toy(), 2, model.target, n, doubled)
        for module, value in linear.items():
            assert squared[module] == pytest.approx(value ** 2, rel=1e-9), module
    assert project(costs, toy(), 2, model.target, 1, doubled)["facet_subtract"] == pytest.approx((FULL / 2) ** 2)


def test_pooled_runs_and_fitted_observation_exponents(tmp_path):
    """Runs of 1 and 2 observations whose costs follow the model (3 and 6 core-hours for linear modules,
    3 x 2**0.43 for final imaging) give back the model's exponents and a pooled projection equal to each run's."""
    core_two = {m: 6 * 3600.0 for m in MODULES} | {"final_imaging": 3 * 2 ** 0.43 * 3600.0}
    one = read_run_costs(write(tmp_path / "one.json", manifest({**TOY_DATA, "n_observations": 1},
                                                               {m: 3 * 3600.0 for m in MODULES})))
    two = read_run_costs(write(tmp_path / "two.json", manifest(core_s=core_two)))
    model = CostModel()
    fitted = fit_observation_exponents([one, two], model)
    assert fitted["facet_subtract"] == pytest.approx(1.0, abs=1e-9)
    assert fitted["final_imaging"] == pytest.approx(0.43, abs=1e-9)
    assert "select_calibrators" in fitted and fitted["select_calibrators"] == pytest.approx(1.0, abs=1e-9)
    pooled = project_runs([one, two], 1, model)
    assert pooled["facet_subtract"] == pytest.approx(project_runs([one], 1, model)["facet_subtract"])
    assert pooled["facet_subtract"] == pytest.approx(3 * FULL, rel=1e-12)
    assert pooled["final_imaging"] == pytest.approx(3 * FULL, rel=1e-12)


def test_dimensions_file_replaces_target_entries(tmp_path):
    """A --dimensions file with 48 directions doubles every directions-linear module's projection."""
    override = tmp_path / "dims.yaml"
    override.write_text("target: {n_directions: 48}\nmodules:\n  dd_dutch: {category: dd_calibration, baselines: "
                        "dutch, average_time_s: 16.0, average_freq_hz: 195312.5, visibilities_exponent: 1.0, "
                        "directions_exponent: 1.0, observations_exponent: 1.0, target_directions: 30, "
                        "model_observations: 6, model_cost_factor: 0.333}\n")
    model = load_cost_model(override)
    assert model.target.n_directions == 48 and model.target.n_stations == 49
    costs = module_costs(manifest())
    base = project(costs, toy(), 2, CostModel().target, 1, CostModel())
    twice = project(costs, toy(), 2, model.target, 1, model)
    for module in ("facet_subtract", "dd_international", "dd_dutch", "calibratability"):
        assert twice[module] == pytest.approx(2 * base[module], rel=1e-12), module
    assert twice["di_target"] == pytest.approx(base["di_target"], rel=1e-12)


def test_cli_writes_the_table_json_csv_and_png(tmp_path, capsys):
    run_json = write(tmp_path / "run.json", manifest())
    out = tmp_path / "cost"
    assert main(["--log-level", "WARNING", "project-cost", str(run_json), "-o", str(out), "--observations",
                 "1", "16"]) == 0
    printed = capsys.readouterr().out
    assert "85,000" in printed and "1.2\" subtraction" in printed
    record = json.loads((out / "project_cost.json").read_text())
    assert record["observations"] == [1, 16]
    assert record["projected_core_h"]["1"]["facet_subtract"] == pytest.approx(FULL / 2)
    with (out / "project_cost.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 5
    sub = next(r for r in rows if r["observations"] == "1" and r["category"] == "subtraction")
    assert float(sub["projected_core_h_per_observation"]) == pytest.approx(FULL / 2)
    assert float(sub["ratio"]) == pytest.approx(FULL / 2 / 32000.0)
    assert float(sub["measured_core_h"]) == 1.0
    png = (out / "project_cost.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(out / "project_cost.png")
    assert image.shape[0] > 200 and image.shape[1] > 200 and image[..., :3].std() > 0.05
    assert main(["--log-level", "WARNING", "project-cost", str(run_json), "-o", str(out)]) == 2  # exists


def _drop_core_s(m):
    del m["modules"][7]["core_s"]
    return m


def _status(m, status):
    m["modules"][8]["status"] = status
    return m


@pytest.mark.parametrize("obj, words", [
    (_drop_core_s(manifest()), ("dd_international", "core_s")),
    (manifest({k: v for k, v in TOY_DATA.items() if k != "n_directions"}), ("lacks", "n_directions")),
    (manifest({**TOY_DATA, "n_times": 0}), ("zero size", "n_times")),
    (manifest({**TOY_DATA, "integration_s": float("nan")}), ("integration_s",)),
    (manifest({**TOY_DATA, "n_international": 17}), ("Dutch",)),
    (_status(manifest(), "failed"), ("facet_subtract", "failed")),
    (manifest(format="something-else/2"), ("format",)),
    ([1, 2], ("list",)),
], ids=["no-core-s", "missing-dimension", "zero-size", "nan", "no-dutch", "failed", "format",
        "not-object"])
def test_bad_manifest_exits_2_with_one_line(tmp_path, capfd, obj, words):
    run_json = write(tmp_path / "run.json", obj)
    assert main(["project-cost", str(run_json), "-o", str(tmp_path / "out")]) == 2
    errors = [line for line in capfd.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and all(w in errors[0] for w in words), errors
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_running_modules_and_other_data_entries_are_left_out(tmp_path):
    """A module still running is not measured; data entries that are no dimension (the phase centre) are not used."""
    obj = manifest({**TOY_DATA, "phase_centre_deg": [242.75, 55.0]})
    obj["modules"][8]["status"] = "running"
    run = read_run_costs(write(tmp_path / "run.json", obj))
    assert run.unmeasured == ("facet_subtract",) and "facet_subtract" not in run.core_h
    assert project_runs([run], 1, CostModel())["dd_international"] == pytest.approx(AT_32S / 2, rel=1e-12)


def test_unknown_module_and_bad_observations_exit_2(tmp_path, capfd):
    obj = manifest()
    obj["modules"].append({**obj["modules"][0], "name": "peel_everything"})
    assert main(["project-cost", str(write(tmp_path / "a.json", obj)), "-o", str(tmp_path / "o")]) == 2
    assert "peel_everything" in capfd.readouterr().err
    good = write(tmp_path / "b.json", manifest())
    assert main(["project-cost", str(good), "-o", str(tmp_path / "o"), "--observations", "0"]) == 2
    assert "--observations" in capfd.readouterr().err
    assert main(["project-cost", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o")]) == 2
    assert "nope.json" in capfd.readouterr().err
    only_simulated = manifest()
    for module in only_simulated["modules"][1:]:
        module["status"] = "pending"
    assert main(["project-cost", str(write(tmp_path / "c.json", only_simulated)), "-o", str(tmp_path / "o")]) == 2
    assert "only simulate finished" in capfd.readouterr().err
