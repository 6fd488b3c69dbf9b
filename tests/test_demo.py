"""`make demo` (tools/run_demo.sh): the README's main command runs end to end and calibrates.

The demo simulates the ``dical`` observation and runs workflows/simulate.cwl,
di_calibrator.cwl, di_target.cwl, the imaging steps and the calibrator selection with
cwltool (``slow``, about five minutes on two cores, mostly on one). It runs once per session, in
the background from the session's start, and the tests that check it run last (``demo`` in
tests/conftest.py; tests/calibration/test_cwl_di.py compares its DI workflows with the CLIs).
The calibrator's solutions must match the injected effects and the corrected target's image
must recover the brightest source, which the uncorrected image does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import file_checksums
from lofar_hires.validation.di import di_solution_errors

pytestmark = pytest.mark.slow


def test_demo_runs_and_calibrates(demo):
    out = demo.out
    assert demo.returncode == 0, demo.failure()
    stdout = demo.stdout
    assert "calibrator solutions - injected values" in stdout
    assert "largest: clock" in stdout
    # The workflows left the simulated observations as stage 1 wrote them.
    assert "the simulated observations are unchanged" in stdout
    recorded = demo.recorded_checksums()
    assert any(name.startswith("./calibrator_obs01.MS/") for name in recorded), sorted(recorded)
    assert file_checksums(out / "simulation" / "simulation") == recorded

    sim = json.loads((out / "simulation.json").read_text())
    cal = json.loads((out / "di_calibrator.json").read_text())
    truth = {json.loads(Path(f["path"]).read_text())["kind"]: Path(f["path"]) for f in sim["truth_json"]}
    errors = di_solution_errors(Path(cal["cal_solutions"]["path"]), truth["calibrator"].with_suffix(".h5"),
                                truth["calibrator"])
    worst = errors.worst()
    assert worst["clock"][1] < 0.2 and worst["polalign_delay"][1] < 0.4 and worst["tec"][1] < 0.003, worst
    assert len(list(Path(cal["plots"]["path"]).glob("*.png"))) >= 8

    def peaks(path: Path) -> dict[str, float]:
        return {s["name"]: s["peak_ratio"] for s in json.loads(path.read_text())["sources"]}

    before = peaks(Path(sim["comparison"]["path"]))
    after = peaks(out / "compare" / "comparison_corrected.json")
    assert sorted(after) == ["bright01", "bright02"], after  # the seed of workflows/jobs/simulate_dical.yml
    assert all(v < 0.3 for v in before.values()), before
    # bright02 (0.2 deg from the pointing) is within 5 % of the truth; bright01 (0.5 deg) keeps the
    # beam attenuation that DI calibration does not correct.
    assert abs(after["bright02"] - 1) < 0.05 and after["bright01"] > 0.8, after

    # Stages 5-6: calibrator selection on the "select" field; the bright compact sources are main
    # calibrators (the brightest of neighbours closer than the scaled pruning distance), the
    # resolved one is rejected, and every main calibrator has a facet.
    from lofar_hires.io.regions import read_ds9_polygons
    from lofar_hires.selection.table import read_table

    assert "calibrator selection" in stdout
    sel = json.loads((out / "select.json").read_text())
    rows = {r.name: r for r in read_table(Path(sel["calibrators"]["path"]))}
    mains = {n for n, r in rows.items() if r.category == "main"}
    assert "bright02" in mains and rows["resolved01"].category == "rejected", rows
    assert all(r.score_rad < 0.5 for n, r in rows.items() if n.startswith("bright"))
    assert {p.name for p in read_ds9_polygons(Path(sel["regions"]["path"]))} == mains
    assert (Path(sel["facet_layout"]["path"]) / "facets.png").stat().st_size > 10_000
