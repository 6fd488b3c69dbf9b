"""workflows/peel.cwl with cwltool: one job per measurement set, the same peeled data and solutions as
`lofar-hires peel`, the input untouched (each source solved alone: the contaminators' full-resolution solves are
tested in test_peel_truth.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dd_field import run_workflow
from lofar_hires.cli import main
from peel_field import make_peel_field
from subtract_field import read_data

pytestmark = pytest.mark.slow


def test_workflow_peels_like_the_command(simulated, tmp_path):
    field = make_peel_field(simulated, tmp_path / "field", 31)
    job = {"msin": [{"class": "Directory", "path": str(field.ms)}],
           "skymodel": {"class": "File", "path": str(field.skymodel)},
           "source": ["peelA", "peelB"], "max_contaminators": 0, "no_beam": True, "cores": 1}
    run = run_workflow("peel", job, tmp_path / "cwl", (field.ms, field.skymodel))
    assert run.unchanged, "the workflow left its inputs untouched"
    stem = field.ms.name[:-3]
    (peeled,) = run.outputs["peeled_ms"]
    assert Path(peeled["path"]).name == f"{stem}.peeled.ms"
    assert sorted(Path(f["path"]).name for f in run.outputs["solutions"][0]) == [f"{stem}.peel.peelA.h5",
                                                                                 f"{stem}.peel.peelB.h5"]
    summary = json.loads(Path(run.outputs["summaries"][0]["path"]).read_text())
    assert [s["name"] for s in summary["sources"]] == ["peelA", "peelB"]
    assert {Path(f["path"]).name for f in run.outputs["logs"]} == {f"{stem}.peel.log", f"{stem}.peel.stderr.log"}

    cli = tmp_path / "cli"
    assert main(["--log-level", "WARNING", "peel", str(field.ms), "--skymodel", str(field.skymodel), "-o", str(cli),
                 "--no-beam", "--source", "peelA", "--source", "peelB", "--max-contaminators", "0", "--threads",
                 "1"]) == 0
    got, want = read_data(Path(peeled["path"])), read_data(cli / f"{stem}.peeled.ms")
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))
