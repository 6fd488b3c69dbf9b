"""``workflows/sva.cwl`` with cwltool: two facets (the three observations of the tiny field, and two of them), one
averaged measurement set per facet with the rows of one observation and the weighted mean of its inputs (1e-6 Jy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_sva_truth import SVA_FIELD, columns

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_one_averaged_ms_per_facet(simulated, tmp_path):
    mss = [o.ms for o in simulated("sva-field", preset="tiny", overrides=SVA_FIELD).targets()]
    job = {"facet_ms": [[{"class": "Directory", "path": str(ms)} for ms in mss],
                        [{"class": "Directory", "path": str(ms)} for ms in mss[:2]]],
           "facet_names": ["facetA", "facetB"], "image_radius_deg": 0.04}
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(Path(sys.executable).parent / "cwltool"), "--no-container", "--outdir",
                           str(tmp_path / "out"), str(REPO / "workflows" / "sva.cwl"), str(tmp_path / "job.json")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = json.loads(proc.stdout)
    assert [Path(d["path"]).name for d in outputs["averaged_ms"]] == ["facetA.ms", "facetB.ms"]
    for name, inputs in (("facetA", mss), ("facetB", mss[:2])):
        data = [columns(ms, "DATA", "WEIGHT_SPECTRUM") for ms in inputs]
        expected = sum(d * w for d, w in data) / sum(w for _, w in data)
        (got,) = columns(tmp_path / "out" / f"{name}.ms", "DATA")
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < 1e-6
