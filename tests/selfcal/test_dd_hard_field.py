"""The direction-dependent chain on the hard field (preset ``dd_hard``), against the simulator's truth.

The hard case of the DD calibration (marker ``hard_case``, ``make test-hard``, about 24 minutes on
2 cores; not part of ``make test``, whose 30-minute budget the easy ``dd`` field serves):
a disturbed ionosphere (diffractive scale 6 km) over a field whose four calibrators lie 0.85-1.1 deg
from the pointing and 0.9 deg or more apart, so that the phases towards different calibrators differ by
more than 1 rad on the international stations while the screen changes them by only 0.3 rad per 40 s
(tests/simulation/test_dd_hard_preset.py), with the data as a DI calibration leaves them (the screen
towards the pointing removed). Two observations of 30 minutes, 1.5 h before and after transit. Each
calibrator has a 0.3-0.6 Jy source 0.04-0.08 deg away, the non-calibrator of its facet.

``workflows/dd_dutch.cwl`` (3500 x 2.5 arcsec facet images, three cycles, the slow gains from the
second) and then ``workflows/dd_international.cwl`` (every calibrator with the brightest recipe,
toy-size ``INTL_FAST``, ``merge_international_stations: international``: the Dutch stations keep
their Dutch solutions) run with cwltool, on the preset's seed and on seed 1. Measured (preset seed /
seed 1; the limits below leave a margin where the issue's target is not the limit itself):

* Dutch: remote-station phases 0.040-0.083 / 0.035-0.060 rad rms per direction and observation,
  mean 0.055 / 0.045 (target 0.1); the DI image (the first, uncalibrated cycle) has the calibrators
  at 0.32-0.50 / 0.22-0.29 of their peak, the DD facet image at 0.96-0.98 / 0.97-0.99;
* international, each run's solutions at their own 40 s interval: DE601/FR606 0.09-0.15 /
  0.07-0.20 rad rms, median 0.109 / 0.114 (target 0.2);
* field image with the merged solutions and the facets: calibrators 0.96-0.98 / 0.97-0.99; the
  non-calibrator of each facet 0.85, 0.91, 0.86, 0.94 / 0.88, 0.88, 0.94, 0.90 where the DI image has
  0.28, 0.14, 0.13, 0.33 / 0.07, 0.25, 0.14, 0.46 (target >= 0.8 and < 0.5). From uncorrupted data the
  same imaging gives them 0.87-0.97: deconvolution next to a 2-4 Jy calibrator with 16 Dutch stations
  and 2 x 30 minutes.

Two properties of the engine bring the Dutch phases there (before them: 0.083-0.127 / 0.078-0.120):
the solves use only the clean components of significant islands (``imaging.model_filter_sigma`` of
the Dutch recipe; all 2939 components of a cycle's model, noise peaks and artefacts 16.6 Jy strong,
gave 0.101 rad in one solve, the island components 0.060, the true sky 0.041), and the core reset
references the other stations to the core's mean phase rather than to its first station (whose
own changes within the 64 s core interval, 0.05-0.08 rad here against 0.02-0.03 for the mean,
passed to every remote station).

The slow gains of the Dutch recipe start after three cycles; the test starts them in the second of
three. Started in the first, on a model that lacks the non-calibrators, they took 10 % off them
(0.66-0.74 on the preset seed instead of 0.78-0.81 with the same phases and no gains; measured before
the two changes above).

Peaks are the interpolated ones (``peak_interpolated_jy_per_beam``): the 5-arcsec minor axis
spans 2 pixels, where the brightest pixel alone can lose 10 % or more.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dd_field import DUTCH_FAST, INTL_FAST, make_dd_field, run_dd_dutch, run_workflow
from lofar_hires.imaging.measure import load_image, measure_source
from lofar_hires.selection.table import read_table, write_table
from lofar_hires.validation.selfcal import phase_errors_vs_truth

pytestmark = [pytest.mark.slow, pytest.mark.hard_case]

#: Facet images of the hard field: 3500 pixels of 2.5 arcsec cover the 2.4 deg facet box.
SIZE_PIX, SCALE_ARCSEC, BOX_DEG = 3500, 2.5, 2.4
#: Three cycles, the slow gains from the second (see above).
DUTCH_HARD = [f"imaging.size_pix={SIZE_PIX}", f"imaging.scale_arcsec={SCALE_ARCSEC}", "solves.2.start_cycle=1",
              "stopping.min_cycles=3", "stopping.max_cycles=3",
              *[o for o in DUTCH_FAST if not o.startswith(("imaging.", "solves.2.start_cycle", "stopping."))]]
INTERNATIONAL = ("DE601HBA", "FR606HBA")


@pytest.fixture(scope="module", params=[None, 1], ids=["preset_seed", "seed1"])
def hard(request, simulated, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("dd_hard")
    field = make_dd_field(simulated, tmp / "field", preset="dd_hard", box_deg=BOX_DEG, seed=request.param)
    dutch = run_dd_dutch(field, tmp / "dutch", DUTCH_HARD)
    table = write_table(tmp / "calibrators.csv", [r.with_(score_rad=0.25) for r in read_table(field.table)])
    solutions = [Path(f["path"]) for f in dutch.outputs["solutions"]]
    job = {"msin": [{"class": "Directory", "path": str(ms)} for ms in field.ms],
           "dutch_solutions": [{"class": "File", "path": str(p)} for p in solutions],
           "calibrators": {"class": "File", "path": str(table)},
           "facet_regions": {"class": "File", "path": str(field.regions)},
           "integration_s": 20.0, "strategy_overrides": INTL_FAST, "selfcal_cores": 1,
           "merge_international_stations": "international",
           "image_size_pix": SIZE_PIX, "image_scale_arcsec": SCALE_ARCSEC, "image_taper_arcsec": 6.0,
           "image_niter": 5000, "image_cores": 2}
    intl = run_workflow("dd_international", job, tmp / "international", (*field.ms, table, *solutions),
                        parallel=True)
    return {"field": field, "dutch": dutch.outputs, "intl": intl.outputs}


def _obs(field) -> list[str]:
    return [ms.name.removesuffix(".MS") for ms in field.ms]


def _ratios(path: Path, field) -> dict[str, float]:
    image = load_image(path)
    sky = field.sky
    flux = sky.flux_jy(np.array([image.freq_hz]))[:, 0]
    return {n: measure_source(image, math.degrees(r) % 360.0, math.degrees(d)).peak_interpolated_jy_per_beam / f
            for n, r, d, f in zip(sky.names, sky.ra_rad, sky.dec_rad, flux)}


def _near_source(field) -> dict[str, str]:
    """Each calibrator's nearest faint source (the one the preset places next to it)."""
    sky = field.sky
    pos = {n: (r, d) for n, r, d in zip(sky.names, sky.ra_rad, sky.dec_rad)}

    def sep(a, b):
        (r1, d1), (r2, d2) = pos[a], pos[b]
        return math.acos(min(1.0, math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)))

    faint = [n for n in sky.names if n not in field.calibrators]
    return {c: min(faint, key=lambda f: sep(c, f)) for c in field.calibrators}


def test_dutch_remote_phases_on_the_hard_field(hard):
    field = hard["field"]
    out = Path(hard["dutch"]["selfcal_dir"]["path"])
    rms_all = []
    for name, truth in zip(_obs(field), field.truth):
        for cal in field.calibrators:
            errors = phase_errors_vs_truth(out / f"best_{name}.h5", truth, cal, "CS002HBA0").per_station_rms_rad
            remote = [e for s, e in errors.items() if s.startswith("RS")]
            rms = float(np.sqrt(np.mean(np.square(remote))))
            assert len(remote) == 8 and rms < 0.1, (name, cal, errors)
            rms_all.append(rms)
    assert np.mean(rms_all) < 0.07, rms_all


def test_dutch_facet_image_recovers_what_the_di_image_loses(hard):
    field = hard["field"]
    out = Path(hard["dutch"]["selfcal_dir"]["path"])
    before = _ratios(out / "cycle_000" / "image-image.fits", field)
    after = _ratios(out / "best_image.fits", field)
    assert all(before[c] < 0.55 for c in field.calibrators), before
    assert all(abs(after[c] - 1) < 0.1 for c in field.calibrators), after


def test_international_phases_at_their_solution_interval(hard):
    field = hard["field"]
    errors = []
    for name, truth in zip(_obs(field), field.truth):
        for cal in field.calibrators:
            run = Path(hard["intl"]["calibrator_index"]["path"]).parent / f"{cal}_{name}"
            e = phase_errors_vs_truth(run / f"best_{name}.h5", truth, cal, "CS002HBA0",
                                      stations=INTERNATIONAL).per_station_rms_rad
            errors += list(e.values())
    assert len(errors) == 16
    assert max(errors) < 0.2 and np.median(errors) < 0.13, sorted(errors)


def test_field_image_with_merged_solutions_on_the_hard_field(hard):
    field = hard["field"]
    dd = _ratios(Path(hard["intl"]["field_image"]["path"]), field)
    di = _ratios(Path(hard["dutch"]["selfcal_dir"]["path"]) / "cycle_000" / "image-image.fits", field)
    assert all(abs(dd[c] - 1) < 0.1 for c in field.calibrators), dd
    near = _near_source(field)
    assert len(set(near.values())) == len(field.calibrators)
    dd_near = [dd[near[c]] for c in field.calibrators]
    di_near = [di[near[c]] for c in field.calibrators]
    assert all(a > b for a, b in zip(dd_near, di_near)), (dd_near, di_near)
    assert min(dd_near) > 0.8 and np.mean(dd_near) > 0.85, (dd_near, di_near)
    assert max(di_near) < 0.5 and np.mean(di_near) < 0.4, (dd_near, di_near)
