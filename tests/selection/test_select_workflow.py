"""workflows/select_calibrators.cwl on a simulated field, against the sky the simulator was given.

The field (preset ``select``: data after DI and delay calibration, beam and noise, smeared at
8 s and 195 kHz) holds compact sources from 1 Jy to 3 mJy, a Gaussian of the same total
flux as a compact one, and a close pair. The workflow runs with cwltool: candidates from the
sky model, one scoring step per candidate (real DP3), classification and the facet layout.

The phasediff solve averages to ~60 s after the phase shift, which smears every other source;
candidates that must keep their flux have to lie within ~0.05 deg of the phase centre
(docs/workflows/select_calibrators.md). The field is therefore ten times smaller than a
real one, and the neighbour-pruning distances are scaled with it for the selection proof
(0.012 and 0.016 deg instead of 0.15 and 0.2); the paper's distances are checked on the same
scores afterwards.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import make_config
from lofar_hires.cli import main
from lofar_hires.io.regions import read_ds9_polygons
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.selection.facets import sky_polygon_contains
from lofar_hires.selection.table import CalibratorRow, read_table, write_table
from lofar_hires.simulation.simulate import run_simulation

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "select_calibrators.cwl"

FIELD = """\
FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, ReferenceFrequency='150e6', SpectralIndex='[]', LogarithmicSI='true', MajorAxis, MinorAxis, Orientation
c1000, POINT, c1000, 16:11:07.0, +55.01.30, 1.0, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
c0300, POINT, c0300, 16:10:49.5, +55.01.30, 0.3, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
c0100, POINT, c0100, 16:11:10.5, +54.59.00, 0.1, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
c0060, POINT, c0060, 16:10:49.5, +54.58.30, 0.06, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
g0300, GAUSSIAN, g0300, 16:11:17.4, +55.00.00, 0.3, 0, 0, 0, 150e6, [-0.7], true, 5.0, 5.0, 0
pairA, POINT, pairA, 16:10:42.6, +55.00.00, 0.5, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
pairB, POINT, pairB, 16:10:42.6, +55.00.30, 0.15, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
f0010, POINT, f0010, 16:11:00.0, +54.35.00, 0.01, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
f0003, POINT, f0003, 16:13:00.0, +55.20.00, 0.003, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0
"""
#: Compact sources bright enough to be detected, brightest first.
DETECTED = ["c1000", "pairA", "c0300", "pairB", "c0100", "c0060"]
#: Sources at the noise level: 10 and 3 mJy (0.3 deg and more away: their neighbours are smeared out).
FAINT = ["f0010", "f0003"]
SCALED_PRUNING = ["classify.prune_main_deg=0.012", "classify.prune_weak_deg=0.016"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("select_workflow")
    sky = tmp / "field.skymodel"
    sky.write_text(FIELD)
    sim = run_simulation(make_config("select", [f"sky.skymodel={sky}"]), tmp / "sim")
    ms = sim.observations[0].ms
    job = {"msin": [{"class": "Directory", "path": str(ms)}], "skymodel": {"class": "File", "path": str(sky)},
           "min_peak_flux_jy": 0.0, "box_deg": 0.5, "overrides": SCALED_PRUNING}
    (tmp / "job.yml").write_text(yaml.safe_dump(job))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               TMPDIR=str(tmp / "cwltmp"))
    (tmp / "cwltmp").mkdir()
    proc = subprocess.run([str(Path(sys.executable).parent / "cwltool"), "--no-container", "--outdir",
                           str(tmp / "out"), str(WORKFLOW), str(tmp / "job.yml")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = json.loads(proc.stdout)
    rows = {r.name: r for r in read_table(Path(outputs["calibrators"]["path"]))}
    return {"tmp": tmp, "sky": sky, "ms": ms, "outputs": outputs, "rows": rows}


def test_scores_increase_as_the_long_baseline_flux_decreases(run):
    scores = [run["rows"][n].score_rad for n in DETECTED]
    assert all(s is not None for s in scores)
    assert np.all(np.diff(scores) > 0), dict(zip(DETECTED, scores))
    assert scores[0] < 0.15 and scores[-1] < 2.0
    # Sources at the noise level score like noise, above every detected source and the rejection threshold.
    for name in FAINT:
        assert run["rows"][name].score_rad > max(2.6, scores[-1])


def test_a_resolved_source_scores_worse_than_a_compact_one_of_equal_flux(run):
    compact, resolved = run["rows"]["c0300"], run["rows"]["g0300"]
    assert compact.total_flux_jy == resolved.total_flux_jy == 0.3
    assert resolved.score_rad > compact.score_rad + 2.0
    assert resolved.category == "rejected"


def test_bright_compact_sources_are_main_calibrators_and_faint_ones_rejected(run):
    rows = run["rows"]
    assert {n for n, r in rows.items() if r.category == "main"} == {"c1000", "pairA", "c0300", "c0100", "c0060"}
    for name in FAINT:
        assert rows[name].category == "rejected"
    # Of the close pair (0.008 deg) the better score is kept.
    assert rows["pairA"].score_rad < rows["pairB"].score_rad
    assert rows["pairB"].category == "pruned" and "from pairA" in rows["pairB"].reason
    # The solution-interval metric grows with the score (eq. 6.2).
    mains = sorted((r for r in rows.values() if r.category == "main"), key=lambda r: r.score_rad)
    assert np.all(np.diff([r.solint_min for r in mains]) > 0)


def test_every_setting_and_the_station_set_are_recorded(run):
    score_files = [Path(s["path"]) for s in run["outputs"]["scores"]]
    assert len(score_files) == 9
    details = json.loads(score_files[0].with_suffix(".json").read_text())
    assert details["settings"]["solint_s"] == 600.0 and details["settings"]["minuv_lambda"] == 20000.0
    result = details["candidates"][0]
    assert result["stations"] == ["FR606HBA", "SE607HBA", "UK608HBA", "PL610HBA", "PL611HBA", "PL612HBA",
                                  "IE613HBA", "LV614HBA"]
    assert result["reference"] == "ST001"
    assert result["n_solution_intervals"] == 13 and result["n_channels"] == 32
    # The noise level of the score: 13 intervals x 31 channel pairs x 8 stations.
    assert details["plan"]["n_values"] == result["n_values"] == 3224 and details["plan"]["min_values"] == 376
    assert result["noise_median_rad"] == pytest.approx(2.906, abs=0.02)
    assert result["noise_threshold_rad"] == pytest.approx(2.479, abs=0.01)
    for row in run["rows"].values():
        assert (row.n_values, row.false_alarm) == (3224, 1e-3)
        assert row.noise_threshold_rad == pytest.approx(2.479, abs=0.01)


def test_facets_hold_one_main_calibrator_each_and_every_source_once(run):
    regions = read_ds9_polygons(Path(run["outputs"]["regions"]["path"]))
    mains = {n for n, r in run["rows"].items() if r.category == "main"}
    assert {p.name for p in regions} == mains
    sky = read_makesourcedb(run["sky"])
    ra, dec = np.degrees(sky.ra_rad) % 360, np.degrees(sky.dec_rad)
    inside = np.array([sky_polygon_contains(p.vertices_deg, ra, dec) for p in regions])  # (facet, source)
    in_box = np.abs(dec - 55.0) < 0.25
    assert np.all(inside.sum(axis=0)[in_box] == 1)
    for p, row in zip(regions, inside):
        assert row[sky.names.index(p.name)], f"facet {p.name} does not hold its calibrator"
    table = list(csv.DictReader((Path(run["outputs"]["facet_layout"]["path"]) / "facets.csv").open()))
    assert len(table) == len(mains)


def test_the_papers_pruning_distances_keep_the_best_of_neighbours(run, tmp_path):
    """With 0.15 deg (main) and 0.2 deg (weak), the whole 0.05 deg cluster is one group: c1000 stays."""
    scores = [s["path"] for s in run["outputs"]["scores"]]
    out = tmp_path / "paper.csv"
    assert main(["select", "classify", *scores, "-o", str(out)]) == 0
    rows = {r.name: r for r in read_table(out)}
    assert [n for n, r in rows.items() if r.category == "main"] == ["c1000"]
    for name in DETECTED[1:]:
        assert rows[name].category == "pruned" and "from c1000" in rows[name].reason


def test_positions_without_a_source_are_not_main_calibrators(run, tmp_path):
    """A position without a source 0.3 deg from the cluster scores like noise: not significant, not main."""
    table = write_table(tmp_path / "empty.csv", [CalibratorRow("empty_n", 242.75, 55.3)])
    out, sel = tmp_path / "scores.csv", tmp_path / "sel.csv"
    assert main(["select", "score", str(run["ms"]), "--candidates", str(table), "-o", str(out)]) == 0
    assert main(["select", "classify", str(out), "-o", str(sel)]) == 0
    for row in read_table(sel):
        assert row.n_values == 3224 and row.category == "rejected", row
        assert row.reason.startswith("not significant") and row.score_rad >= row.noise_threshold_rad
