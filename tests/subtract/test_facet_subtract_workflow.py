"""workflows/facet_subtract.cwl with cwltool: the empty data set of the measurement set, then one scattered job
per facet; the facet datasets equal those `lofar-hires subtract` makes in one pass (and those of the workflow's
one_pass mode), and the inputs are untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dd_field import run_workflow
from lofar_hires.cli import main
from subtract_field import RESOLUTION_ARCSEC, make_subtract_field, read_data

pytestmark = pytest.mark.slow


def test_workflow_scatters_facets_and_matches_the_one_pass_run(simulated, tmp_path):
    field = make_subtract_field(simulated, tmp_path / "field", 31)
    job = {"msin": [{"class": "Directory", "path": str(field.ms)}],
           "h5parm": [{"class": "File", "path": str(field.h5parm)}],
           "skymodel": {"class": "File", "path": str(field.skymodel)},
           "facet_regions": {"class": "File", "path": str(field.regions)},
           "resolution_arcsec": RESOLUTION_ARCSEC, "no_beam": True, "cores": 1}
    run = run_workflow("facet_subtract", job, tmp_path / "cwl", (field.ms, field.h5parm, field.skymodel,
                                                                field.regions), parallel=True)
    assert run.unchanged, "the workflow left its inputs untouched"
    facets = {Path(d["path"]).name: Path(d["path"]) for d in run.outputs["facet_ms"]}
    stem = field.ms.name[:-3]
    assert sorted(facets) == sorted(f"{stem}.{name}.ms" for name in field.facets)
    provenance = [json.loads(Path(f["path"]).read_text()) for f in run.outputs["facet_provenance"]]
    assert sorted(p["parameters"]["facet"] for p in provenance) == sorted(field.facets)
    summary = json.loads(Path(run.outputs["summaries"][0]["path"]).read_text())
    assert [f["facet"] for f in summary["facets"]] == field.facets
    names = {Path(f["path"]).name for f in run.outputs["logs"]}
    assert {f"{stem}.empty.log", *(f"{stem}.{name}.stderr.log" for name in field.facets)} <= names
    assert not any(name.endswith(".MS") for name in facets), "the empty data set is no output"

    one_pass = tmp_path / "one_pass"
    assert main(["--log-level", "WARNING", "subtract", str(field.ms), "--skymodel", str(field.skymodel), "--h5parm",
                 str(field.h5parm), "--facet-regions", str(field.regions), "-o", str(one_pass), "--no-beam",
                 "--resolution-arcsec", str(RESOLUTION_ARCSEC)]) == 0
    for name, path in facets.items():
        got, want = read_data(path), read_data(one_pass / name)
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want)), name

    # one_pass: one job per measurement set, no empty data set; the same datasets as the CLI's.
    single = run_workflow("facet_subtract", {**job, "one_pass": True}, tmp_path / "cwl_one_pass",
                          (field.ms, field.h5parm, field.skymodel, field.regions))
    same = {Path(d["path"]).name: Path(d["path"]) for d in single.outputs["facet_ms"]}
    assert sorted(same) == sorted(facets)
    assert {Path(f["path"]).name for f in single.outputs["logs"]} >= {f"{stem}.log", f"{stem}.stderr.log"}
    for name, path in same.items():
        assert np.array_equal(read_data(path), read_data(one_pass / name)), name
