#!/usr/bin/env python3
"""Job files for the stages of `make demo`, made from the output objects of earlier stages.

    demo_jobs.py calibrator SIM_OUTPUTS JOB          workflows/di_calibrator.cwl
    demo_jobs.py target SIM_OUTPUTS CAL_OUTPUTS JOB  workflows/di_target.cwl
    demo_jobs.py image TARGET_OUTPUTS JOB            steps/image.cwl (same settings as stage 1)
    demo_jobs.py compare SIM_OUTPUTS IMAGE_OUTPUTS JOB  steps/compare_sky.cwl
    demo_jobs.py select SELECT_SIM_OUTPUTS JOB       workflows/select_calibrators.cwl

SIM_OUTPUTS etc. are cwltool's JSON output objects; JOB is written as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SIM_JOB = REPO / "workflows" / "jobs" / "simulate_dical.yml"


def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def _file(obj: dict) -> dict:
    return {"class": obj["class"], "path": obj["path"]}


def calibrator(sim: dict) -> dict:
    simulation = Path(sim["simulation"]["path"])
    return {"msin": [_file(ms) for ms in sim["calibrator_ms"]],
            "skymodel": {"class": "File", "path": str(simulation / "calibrator.skymodel")},
            "cores": 2}


def target(sim: dict, cal: dict) -> dict:
    # Self-calibration against the true sky model (a survey model such as TGSS in real use).
    return {"msin": [_file(ms) for ms in sim["target_ms"]], "cal_solutions": _file(cal["cal_solutions"]),
            "skymodel": _file(sim["sky_model"]), "cores": 2}


def select(sim: dict) -> dict:
    # Candidates from the field's sky model (a survey catalogue in real use), every source scored;
    # the facets cover a 0.5 deg box around the compact field. The simulated field is ten times
    # smaller than a real one (docs/workflows/select_calibrators.md), so are the pruning distances.
    return {"msin": [_file(ms) for ms in sim["target_ms"]], "skymodel": _file(sim["sky_model"]),
            "min_peak_flux_jy": 0.0, "box_deg": 0.5,
            "overrides": ["classify.prune_main_deg=0.015", "classify.prune_weak_deg=0.02"]}


def image(tgt: dict) -> dict:
    settings = yaml.safe_load(SIM_JOB.read_text())
    job = {k: settings[k] for k in ("size_pix", "scale_arcsec", "niter", "maxuv_lambda", "restoring_beam_arcsec")}
    return {"msin": [_file(ms) for ms in tgt["corrected_ms"]][:1], "name": "target_corrected",
            "cores": settings["image_cores"], **job}


def compare(sim: dict, img: dict) -> dict:
    settings = yaml.safe_load(SIM_JOB.read_text())
    return {"image": _file(img["image"]), "skymodel": _file(sim["sky_model"]), "min_flux_jy": settings["min_flux_jy"],
            "output_name": "comparison_corrected.json"}


def main(argv: list[str]) -> int:
    stage, *paths = argv
    *inputs, job_path = paths
    objs = [_load(p) for p in inputs]
    job = {"calibrator": calibrator, "target": target, "image": image, "compare": compare,
           "select": select}[stage](*objs)
    Path(job_path).write_text(json.dumps(job, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
