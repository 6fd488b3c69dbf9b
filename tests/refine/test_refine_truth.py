"""``lofar-hires refine`` after the international DD step, against the truth (real DP3 and WSClean).

The dd field (``tests/dd_field.py``, two observations, TEC screen) went through the Dutch and the
international DD workflows (session fixtures, toy size: two cycles each). One facet's datasets
are made from each observation with ``lofar-hires subtract`` (the merged DD solutions applied)
and refined jointly over both observations by workflows/dd_refine.cwl (cwltool), at toy size
(``REFINE_TOY``: two cycles per step).

* the international stations' phases towards the facet calibrator, the DD solutions and the
  refinement together, are closer to the injected phases than the DD solutions alone;
* each observation gets its own refined solutions, and they differ (the screen does);
* the facet image of the refined data has its peak at the calibrator closer to the true flux and
  a lower rms than the image of the data as given.
* the check of the refined facet accepts it: the calibrator's peak at 6 arcsec moved by less than 10 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dd_field import run_workflow
from lofar_hires.cli import main
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.io.ms import read_ms_info
from lofar_hires.validation.selfcal import phase_errors_vs_truth

pytestmark = pytest.mark.slow

INTERNATIONAL = ("DE601HBA", "FR606HBA")
#: Two cycles per step, the international workflow's toy images, no image classifier.
REFINE_TOY = (
    *(x for key in ("refine_dutch", "refine_final") for item in ("min_cycles=2", "max_cycles=2", "gain.start_cycle=0")
      for x in ("--set-recipe", f"{key}.{item}")),
    "--set-recipe", "refine_final.classifier_model=none",
    "--set-final", "imaging.size_pix=256", "--set-final", "imaging.scale_arcsec=0.1",
    "--set-dutch", "imaging.size_pix=600", "--set-dutch", "imaging.scale_arcsec=2.0")


@pytest.fixture(scope="module")
def refined(dd_international, tmp_path_factory):
    field, out = dd_international["field"], dd_international["out"]
    merged = {Path(f["path"]).name: Path(f["path"]) for f in out["solutions"]}
    facet = dd_international["working"][0]
    folder = tmp_path_factory.mktemp("refine")
    facet_ms, dd = [], []
    for ms in field.ms:
        obs = ms.name.removesuffix(".MS")
        dd.append(merged[f"merged_{obs}.h5"])
        assert main(["--log-level", "WARNING", "subtract", str(ms), "--skymodel", str(field.sim.sky_model),
                     "--h5parm", str(dd[-1]), "--facet-regions", str(field.regions), "--facet", facet, "-o",
                     str(folder / "facets"), "--no-beam", "--resolution-arcsec", "1.0"]) == 0
        facet_ms.append(folder / "facets" / f"{obs}.{facet}.ms")
    job = {"facet_ms": [{"class": "Directory", "path": str(ms)} for ms in facet_ms],
           "calibrators": {"class": "File", "path": str(dd_international["table"])}, "facets": [facet],
           "recipe_overrides": _values(REFINE_TOY, "--set-recipe"),
           "dutch_overrides": _values(REFINE_TOY, "--set-dutch"), "final_overrides": _values(REFINE_TOY, "--set-final"),
           "compare": True, "image_on_calibrator": True,
           "image_size_pix": 256, "image_scale_arcsec": 0.2, "image_taper_arcsec": 0.0}
    run = run_workflow("dd_refine", job, folder / "cwl", (*facet_ms, dd_international["table"]))
    assert run.unchanged, "the workflow left its inputs untouched"
    (summary_file,) = run.outputs["summaries"]
    summary = json.loads(Path(summary_file["path"]).read_text())
    assert [Path(f["path"]).name for f in run.outputs["images"]] == [f"{facet}-image.fits"]
    assert sorted(Path(f["path"]).name for f in run.outputs["solutions"][0]) == [
        f"{facet}.{ms.name.removesuffix('.MS')}.refined.h5" for ms in field.ms]
    assert {Path(f["path"]).name for f in run.outputs["logs"]} == {f"{facet}.refine.log", f"{facet}.refine.stderr.log"}
    # the summary's paths are the job's; the products are the workflow's outputs
    summary["solutions"] = {Path(f["path"]).name.split(".")[1]: f["path"] for f in run.outputs["solutions"][0]}
    return field, facet, dd, summary, folder


def _values(args, option: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == option]


def _total(dd: Path, refined: Path, facet: str, out: Path) -> Path:
    """The DD solutions towards ``facet`` followed by the refinement, as one h5parm."""
    single = out.with_name(out.stem + ".dd.h5")
    assert main(["--log-level", "WARNING", "h5", "directions", str(dd), "select", "--names", facet, "-o",
                 str(single)]) == 0
    assert main(["--log-level", "WARNING", "h5", "merge", str(single), str(refined), "-o", str(out)]) == 0
    return out


def _rms(errors) -> float:
    return float(np.sqrt(np.mean(np.square(list(errors.per_station_rms_rad.values())))))


def test_refinement_brings_the_phases_closer_to_the_truth(refined):
    field, facet, dd, summary, folder = refined
    assert summary["dutch"]["made"] and summary["final"]["made"], "delta_t 0.17 min: both steps"
    measured = {}
    for obs_dd, truth, (obs, sol) in zip(dd, field.truth, summary["solutions"].items()):
        before = _rms(phase_errors_vs_truth(obs_dd, truth, facet, "CS002HBA0", stations=INTERNATIONAL))
        total = _total(obs_dd, Path(sol), facet, folder / f"{obs}.total.h5")
        after = _rms(phase_errors_vs_truth(total, truth, facet, "CS002HBA0", stations=INTERNATIONAL))
        measured[obs] = (round(before, 3), round(after, 3))
    print(f"international phase error towards {facet} (rad, DD step alone, with the refinement): {measured}")
    assert all(after < before for before, after in measured.values()), measured


def test_each_observation_has_its_own_solutions(refined):
    field, facet, _, summary, _ = refined
    sols = [read_h5parm(Path(p)) for p in summary["solutions"].values()]
    assert len(sols) == len(field.ms) == 2
    assert all(list(s.directions) == [f"[{facet}]"] for s in sols)
    assert all(set(s.antenna_names) >= set(INTERNATIONAL) for s in sols), "every station, the internationals too"
    a, b = (s.soltabs["phase000"].val for s in sols)
    assert a.shape == b.shape and not np.allclose(a, b), "the two observations see different ionospheres"


def test_the_refined_facet_image_is_better(refined):
    field, facet, _, summary, _ = refined
    before, after = summary["metrics"]["before"], summary["metrics"]["after"]
    info = read_ms_info(field.ms[0])
    i = field.sky.names.index(facet)
    true_jy = float(field.sky.flux_jy(np.array([float(np.mean(info.freqs_hz))]))[i, 0])
    print(f"facet image: peak {before['peak_jy']:.4f} -> {after['peak_jy']:.4f} Jy/beam (true {true_jy:.4f} Jy), "
          f"rms {before['rms_jy']:.4f} -> {after['rms_jy']:.4f} Jy/beam")
    assert abs(after["peak_jy"] - true_jy) < abs(before["peak_jy"] - true_jy), "the peak is closer to the truth"
    assert after["rms_jy"] < before["rms_jy"]


def test_the_check_accepts_a_refinement_that_keeps_the_flux(refined):
    _, facet, _, summary, _ = refined
    check = summary["check"]
    print(f"check of facet {facet}: {check['reason']}")
    assert check["accepted"] and abs(check["ratio"] - 1.0) < 0.1, check
