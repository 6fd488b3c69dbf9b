"""``lofar-hires secondary`` against the truth: a weak calibrator 0.3 deg from its facet's main calibrator, under its
own part of the TEC screen (real DP3 and WSClean).

The facet of the dd field's ``bright01`` as the facet subtraction leaves it (two observations, every other facet's
sources subtracted), with a 3 Jy source ``weak1`` added 0.3 deg from ``bright01``, each a patch of its own, so that
the screen gives them different phases. The facet (a 0.8 deg square holding both) is corrected by the exact
solutions towards bright01 (a perfect main calibration), and weak1 is a weak calibrator of the table (sigma_c
2.3 rad, delta_t 20.7 min: 3 min phases, 9 min phases, no amplitudes). At toy size (two cycles):

* the facet is split into two sub-facets, each holding its own calibrator, written as a ds9 region file;
* imaged with the main calibrator's solutions only, weak1 keeps less than ``MAX_PEAK_WITHOUT`` of its true peak
  (0.74 and 0.72 measured); with its secondary solutions at least 0.8 of it (0.93 and 0.96; 0.94 with the exact
  solutions towards it);
* each observation gets its own secondary solutions, one direction named after weak1 at its position.

The secondary calibration runs as steps/secondary.cwl with cwltool.
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
from lofar_hires.io.regions import read_ds9_polygons, write_ds9_polygons
from lofar_hires.io.skymodel import read_makesourcedb, write_makesourcedb
from lofar_hires.selection.facets import sky_polygon_contains
from lofar_hires.selection.table import CalibratorRow, write_table
from peel_field import with_point

pytestmark = pytest.mark.slow

#: weak1's offset from bright01 (deg, east and north) and flux (Jy): 0.3 deg away, outward from the field centre.
WEAK_OFFSET_DEG, WEAK_FLUX_JY = (0.24, 0.18), 3.0
#: Least fraction of weak1's true peak with its secondary solutions (the issue's bound).
MIN_PEAK_WITH = 0.8
#: Imaged with the main calibrator's solutions only, weak1 keeps less than this (0.74 measured; 0.94 with the exact
#: solutions towards it, the ceiling of these images).
MAX_PEAK_WITHOUT = 0.8
TOY = ("--set-recipe", "refine_final.min_cycles=2", "--set-recipe", "refine_final.max_cycles=2",
       "--set-recipe", "refine_final.classifier_model=none", "--set-final", "imaging.size_pix=256",
       "--set-final", "imaging.scale_arcsec=0.1")


# (the seed-32 simulation lies in a directory named "secondaryseed=32": DP3 reads such paths only quoted)
@pytest.fixture(scope="module", params=[(), ("seed=32",)], ids=["preset_seed", "seed32"])
def secondary(request, simulated, tmp_path_factory):
    seed = request.param
    folder = tmp_path_factory.mktemp("secondary")
    base = simulated(f"secondary_base{'_'.join(seed)}", preset="dd", overrides=seed)
    field = read_makesourcedb(base.sky_model)
    sky = field.select(np.array([n == "bright01" for n in field.names]))  # the facet's sources, the others subtracted
    i = 0
    ra0, dec0 = float(sky.ra_rad[i]), float(sky.dec_rad[i])
    sky = with_point(sky, "weak1", ra0 + np.radians(WEAK_OFFSET_DEG[0]) / np.cos(dec0),
                     dec0 + np.radians(WEAK_OFFSET_DEG[1]), WEAK_FLUX_JY)
    skymodel = write_makesourcedb(sky, folder / "field.skymodel")
    sim = simulated(f"secondary{'_'.join(seed)}", preset="dd", overrides=(*seed, f"sky.skymodel={skymodel}"))
    ms = [t.ms for t in sim.targets()]
    main_deg = (float(np.degrees(ra0)) % 360.0, float(np.degrees(dec0)))
    weak_deg = (float(np.degrees(sky.ra_rad[-1])) % 360.0, float(np.degrees(sky.dec_rad[-1])))
    mid = ((main_deg[0] + weak_deg[0]) / 2, (main_deg[1] + weak_deg[1]) / 2)
    half_ra, half_dec = 0.4 / np.cos(np.radians(mid[1])), 0.4
    regions = write_ds9_polygons(folder / "facets.reg", [[
        (mid[0] - half_ra, mid[1] - half_dec), (mid[0] + half_ra, mid[1] - half_dec),
        (mid[0] + half_ra, mid[1] + half_dec), (mid[0] - half_ra, mid[1] + half_dec)]], names=["bright01"],
        points=[main_deg])
    table = write_table(folder / "calibrators.csv", [
        CalibratorRow("bright01", *main_deg, category="main", score_rad=1.0, peak_flux_jy=float(sky.i_jy[i])),
        CalibratorRow("weak1", *weak_deg, category="weak", score_rad=2.3, peak_flux_jy=WEAK_FLUX_JY)])
    refined = []
    for target in sim.targets():
        obs = target.ms.name.removesuffix(".MS")
        truth = folder / f"{obs}.dd_truth.h5"
        assert main(["--log-level", "WARNING", "h5", "merge", f"{target.truth_h5}:sol000/tecscreen", "-o",
                     str(truth), "--freq-grid", str(target.ms)]) == 0
        refined.append(folder / f"bright01.{obs}.refined.h5")
        assert main(["--log-level", "WARNING", "h5", "directions", str(truth), "select", "--names", "bright01",
                     "-o", str(refined[-1])]) == 0
    # steps/secondary.cwl with cwltool
    job = {"msin": [{"class": "Directory", "path": str(p)} for p in ms],
           "refined": [{"class": "File", "path": str(p)} for p in refined],
           "calibrators": {"class": "File", "path": str(table)}, "facet": "bright01",
           "facet_regions": {"class": "File", "path": str(regions)},
           "skymodel": {"class": "File", "path": str(skymodel)},
           "recipe_overrides": [TOY[i + 1] for i, a in enumerate(TOY) if a == "--set-recipe"],
           "final_overrides": [TOY[i + 1] for i, a in enumerate(TOY) if a == "--set-final"], "compare": True,
           "image_size_pix": 256, "image_scale_arcsec": 0.2, "image_taper_arcsec": 0.0}
    run = run_workflow("secondary", job, folder / "cwl", (*ms, *refined, table, regions, skymodel), tool=True)
    assert run.unchanged, "the inputs are untouched"
    out = Path(run.outputs["regions"]["path"]).parent
    assert sorted(Path(f["path"]).name for f in run.outputs["solutions"]) == [
        f"weak1.{p.name.removesuffix('.MS')}.secondary.h5" for p in ms]
    summary = json.loads(Path(run.outputs["summary"]["path"]).read_text())
    # the summary's paths are the job's; the products are the tool's outputs
    summary["weak"][0]["solutions"] = {Path(f["path"]).name.split(".")[1]: f["path"] for f in run.outputs["solutions"]}
    freq = float(np.mean(read_ms_info(ms[0]).freqs_hz))
    true_peak = float(sky.flux_jy(np.array([freq]))[-1, 0])
    return summary, out, main_deg, weak_deg, true_peak


def test_the_facet_is_split_between_its_calibrators(secondary):
    summary, out, main_deg, weak_deg, _ = secondary
    polygons = {p.name: p for p in read_ds9_polygons(out / "bright01.subfacets.reg")}
    assert sorted(polygons) == ["bright01", "weak1"]
    for name, own, other in (("bright01", main_deg, weak_deg), ("weak1", weak_deg, main_deg)):
        assert sky_polygon_contains(polygons[name].vertices_deg, own[0], own[1])
        assert not sky_polygon_contains(polygons[name].vertices_deg, other[0], other[1])
        assert polygons[name].point_deg == pytest.approx(own, abs=1e-6)


def test_the_weak_calibrator_recovers_its_peak(secondary):
    summary, _, _, _, true_peak = secondary
    (weak,) = summary["weak"]
    without, with_own = weak["metrics"]["main_only"]["peak_jy"], weak["metrics"]["secondary"]["peak_jy"]
    print(f"weak1: {without / true_peak:.2f} of its true peak ({true_peak:.3f} Jy) with the main solutions only, "
          f"{with_own / true_peak:.2f} with its own")
    assert with_own >= MIN_PEAK_WITH * true_peak
    assert without < MAX_PEAK_WITHOUT * true_peak


def test_each_observation_has_its_own_secondary_solutions(secondary):
    summary, _, _, weak_deg, _ = secondary
    (weak,) = summary["weak"]
    assert sorted(weak["solutions"]) == ["target_obs01", "target_obs02"]
    for path in weak["solutions"].values():
        solset = read_h5parm(Path(path))
        assert list(solset.directions) == ["[weak1]"]
        ra, dec = np.degrees(solset.directions["[weak1]"])
        assert (ra % 360.0, dec) == pytest.approx(weak_deg, abs=1e-6)
