"""`make demo` (tools/run_demo.sh): the README's main command runs end to end and calibrates.

The demo is ``lofar-hires run``; the suite runs it on the tiny field (``tools/run_demo.sh DIR tiny``: two
observations, each a calibrator and a target scan; ``slow``, about ten minutes on two cores), where ``make demo``
runs the embedded default, the medium field (about 20 minutes). It runs once per session, in the background
from the session's start, and the tests that check it run last (``demo`` in tests/conftest.py;
tests/chain/test_chain_run.py checks its run tree and mosaic, tests/calibration/test_cwl_di.py compares its DI
workflows with the CLIs). Here: the simulated observations are unchanged by the chain, the DI calibrator
solutions of both observations match the injected effects, and the selection finds the bright sources.

Tolerances on every station, the international ones included (the run's largest errors in brackets): clock
0.05 ns (0.017), X-Y delay 0.05 ns (0.015), RM 0.005 rad/m^2 (0.0004), bandpass 0.5 % (0.155 %), TEC 0.002 TECU
(0.0002; the truth's TEC includes the simulated screen towards the calibrator).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import file_checksums
from lofar_hires.validation.di import di_solution_errors

pytestmark = pytest.mark.slow

TOLERANCE = {"clock": 0.05, "polalign_delay": 0.05, "faraday": 0.005, "bandpass": 0.5, "tec": 0.002}


def test_demo_runs_and_leaves_its_inputs_unchanged(demo):
    assert demo.returncode == 0, demo.failure()
    stdout = demo.stdout
    assert "the simulated observations are unchanged" in stdout
    assert "DI calibrator solutions - injected values" in stdout
    assert "Calibratability gate: obs01 passed, obs02 passed" in stdout
    recorded = demo.recorded_checksums()
    assert any(name.startswith("./calibrator_obs02.MS/") for name in recorded), sorted(recorded)
    sim = Path(demo.outputs("simulate")["simulation"]["path"])
    assert file_checksums(sim) == recorded
    # The second command continued the first: the simulation ran once.
    assert "module 1/13 simulate: complete in" in demo.stderr


@pytest.mark.parametrize("obs", ["obs01", "obs02"])
def test_demo_di_solutions_match_the_injected_effects(demo, obs):
    assert demo.returncode == 0, demo.failure()
    sim = Path(demo.outputs("simulate")["simulation"]["path"])
    cal = Path(demo.outputs("di_calibrator")[obs]["cal_solutions"]["path"])
    truth = sim / f"calibrator_{obs}.truth.json"
    errors = di_solution_errors(cal, truth.with_suffix(".h5"), truth)
    for effect, values in errors.errors.items():
        per_station = dict(zip(errors.stations, values))
        assert not errors.unsolved(effect), (effect, errors.unsolved(effect))
        assert max(per_station.values()) < TOLERANCE[effect], (effect, per_station)


def test_demo_selects_the_bright_sources(demo):
    """The bright compact sources are main calibrators, each with its facet, and the layout plot is drawn."""
    from lofar_hires.io.regions import read_ds9_polygons
    from lofar_hires.selection.table import read_table

    assert demo.returncode == 0, demo.failure()
    sel = demo.outputs("select_calibrators")
    rows = {r.name: r for r in read_table(Path(sel["calibrators"]["path"]))}
    mains = {n for n, r in rows.items() if r.category == "main"}
    assert {"bright01", "bright02"} <= mains, rows
    assert all(r.score_rad < 1.0 for n, r in rows.items() if n.startswith("bright")), rows
    assert {p.name for p in read_ds9_polygons(Path(sel["regions"]["path"]))} == mains
    layout = Path(sel["facet_layout"]["path"])
    assert (layout / "facets.png").stat().st_size > 10_000
