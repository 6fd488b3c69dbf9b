"""``lofar-hires run`` with cwltool: the whole chain on its embedded default, the tiny simulated field, from the
simulated calibrator and target scans of two observations to the mosaic, every module running (resolved01's
refinement fails: configs/run/tiny.yaml says why). The run is `make demo`'s (``demo`` in
tests/conftest.py, about ten minutes on two cores, once per session, ``slow``).

Checked against the simulation's truth: in the 10 arcsec mosaic every bright source is within 10 % of its true
flux (the image is corrected for the primary beam) and within 0.2 restoring beams of its position; both
observations pass the calibratability gate. The run folder holds the fixed tree, the manifest, the report; running
the command again skips every module (their products are complete) and changes nothing; ``project-cost`` projects
the run's CPU time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import file_checksums

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
#: Flux (integrated, primary-beam corrected) and position of the bright sources in the mosaic.
FLUX_TOLERANCE = 0.10
POSITION_TOLERANCE_BEAMS = 0.2
RESTORING_BEAM_ARCSEC = 10.0


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "lofar-hires"), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=1800)


@pytest.fixture(scope="module")
def chain(demo) -> dict:
    """The demo's run: the process (its exit status and output), the run folder and the folder around it."""
    return {"proc": demo, "run": demo.out, "folder": demo.out.parent}


def _manifest(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def test_every_module_runs_into_the_tree(chain):
    proc, run = chain["proc"], chain["run"]
    assert proc.returncode == 0, proc.failure()
    manifest = _manifest(run)
    from lofar_hires.chain.config import load_run_config, resolve_config_path
    from lofar_hires.chain.modules import MODULE_NAMES

    skipped = load_run_config(resolve_config_path("tiny")).skip
    assert [m["name"] for m in manifest["modules"]] == [n for n in MODULE_NAMES if n not in skipped]
    assert all(m["status"] == "done" for m in manifest["modules"]), manifest["modules"]
    assert manifest["runner"] == "cwltool" and manifest["finished_utc"]
    assert manifest["observations"] == ["obs01", "obs02"]
    assert manifest["data"]["n_observations"] == 2 and manifest["data"]["n_directions"] >= 1
    assert all(m["wall_s"] > 0 and m["core_s"] > 0 for m in manifest["modules"])
    for folder in ("solutions", "images", "plots", "facets", "selfcal", "logs", "report"):
        assert (run / folder).is_dir(), folder
    assert (run / "solutions" / "di_calibrator" / "obs01" / "cal_solutions.h5").is_file()
    assert (run / "facets" / "calibrators.csv").is_file()
    assert list((run / "images" / "final_imaging").glob("mosaic.*.fits"))
    assert not (run / ".staging").exists() or not any((run / ".staging").iterdir())
    html = (run / "report" / "index.html").read_text()
    for section in ("summary", "modules", "gate", "di", "calibrators", "selfcal", "images", "warnings"):
        assert f'id="{section}"' in html, section


def test_both_observations_pass_the_gate(chain):
    gate = _manifest(chain["run"])["gate"]
    assert sorted(gate) == ["obs01", "obs02"]
    assert all(v["passed"] for v in gate.values()), gate


def test_the_mosaic_recovers_the_bright_sources(chain, tmp_path):
    """Every bright source of the truth in the mosaic: integrated flux within FLUX_TOLERANCE, position within
    POSITION_TOLERANCE_BEAMS restoring beams."""
    run = chain["run"]
    (mosaic,) = [p for p in (run / "images" / "final_imaging").glob("mosaic.*.fits")
                 if not p.name.endswith("-rms.fits")]
    truth = run / "products" / "simulate" / "simulation" / "sky_truth.skymodel"
    out = tmp_path / "comparison.json"
    proc = _run(["compare-sky", str(mosaic), str(truth), "--min-flux-jy", "1.0", "--output", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    sources = {s["name"]: s for s in json.loads(out.read_text())["sources"]}
    bright = {n: s for n, s in sources.items() if n.startswith("bright")}
    assert len(bright) == 2, sources
    for name, s in bright.items():
        assert abs(s["integrated_ratio"] - 1) < FLUX_TOLERANCE, (name, s)
        assert s["offset_arcsec"] < POSITION_TOLERANCE_BEAMS * RESTORING_BEAM_ARCSEC, (name, s)


def test_running_again_skips_every_module_and_changes_nothing(chain):
    run = chain["run"]
    before = {k: v for k, v in file_checksums(run).items() if not k.startswith(("./report/", "./run.json", "./logs"))}
    proc = _run(["run", "tiny", "-o", str(run)], chain["folder"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("skipped") == len(_manifest(run)["modules"])
    assert "running " not in proc.stderr  # no runner was started
    after = {k: v for k, v in file_checksums(run).items() if not k.startswith(("./report/", "./run.json", "./logs"))}
    assert after == before


def test_project_cost_projects_the_run(chain, tmp_path):
    proc = _run(["project-cost", str(chain["run"] / "run.json"), "-o", str(tmp_path / "cost")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cost = json.loads((tmp_path / "cost" / "project_cost.json").read_text())
    assert cost
