"""workflows/dd_dutch.cwl on a simulated field, against the simulator's truth.

The field (preset ``dd``, ``tests/dd_field.py``): sixteen Dutch and two international stations, two
observations of 30 minutes on different days, four calibrators of 2-4 Jy (one per
facet) and four fainter sources, a drifting TEC screen that gives every direction
its own phases, thermal noise. The workflow runs with cwltool on the calibrator
table and the facet layout: starting model from the table, the Dutch recipe for
the faintest calibrator, joint self-calibration of both observations towards the
four facets. For the toy data the images are 900 x 2 arcsec, the slow gains
start in cycle 0, so that two cycles are enough, and the solves stop after 40
iterations (``dd_field.DUTCH_FAST``; the run is shared with the international test).

Tolerances:

* the remote stations' phases towards every calibrator, in both observations, are
  within 0.1 rad rms of the injected ones (rms over the remote stations, times and
  frequencies, referenced to CS002; no station above 0.12 rad), while the two
  observations' phases differ by more than 0.5 rad;
* the solutions' h5parm directions are the facets (names, and positions within
  1e-9 rad of the facet points, RA in (-pi, pi]);
* in the facet image made with the solutions every calibrator's peak is within 10 %
  of the truth, where the uncalibrated first image has less than 0.6 of it;
* the inputs are left untouched.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.imaging.measure import load_image, measure_source
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.io.regions import read_ds9_polygons, wrap_ra_deg
from lofar_hires.validation.selfcal import phase_errors_vs_truth

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def run(dd_field, dd_dutch) -> dict:
    return {"field": dd_field, "outputs": dd_dutch.outputs, "selfcal": Path(dd_dutch.outputs["selfcal_dir"]["path"]),
            "unchanged": dd_dutch.unchanged}


def test_outputs_in_place_and_inputs_untouched(run):
    out, field = run["outputs"], run["field"]
    assert run["unchanged"]
    names = [Path(f["path"]).name for f in out["solutions"]]
    assert names == [f"best_{p.name.removesuffix('.MS')}.h5" for p in field.ms]
    assert Path(out["image"]["path"]).name == "best_image.fits"
    strategy = Path(out["strategy"]["path"]).read_text()
    assert "kind: dutch" in strategy and "remove_stations: international" in strategy
    for f in out["solutions"]:
        assert not any(a.startswith(("DE", "FR", "SE", "UK", "PL", "IE", "LV"))
                       for a in read_h5parm(Path(f["path"])).antenna_names)


def _obs(field) -> list[str]:
    return [p.name.removesuffix(".MS") for p in field.ms]


def test_remote_phases_towards_every_calibrator_match_the_truth(run):
    field, out = run["field"], run["selfcal"]
    for name, truth in zip(_obs(field), field.truth):
        for cal in field.calibrators:
            errors = phase_errors_vs_truth(out / f"best_{name}.h5", truth, cal, "CS002HBA0")
            remote = {s: e for s, e in errors.per_station_rms_rad.items() if s.startswith("RS")}
            rms = float(np.sqrt(np.mean(np.square(list(remote.values())))))
            assert len(remote) == 8 and rms < 0.1 and max(remote.values()) < 0.12, (name, cal, rms, remote)


def test_each_observation_gets_its_own_solutions(run):
    field, out = run["field"], run["selfcal"]
    a, b = (read_h5parm(out / f"best_{n}.h5").soltabs["phase000"] for n in _obs(field))
    stations = list(a.axes["ant"])
    rs = [i for i, s in enumerate(stations) if s.startswith("RS")]
    ref = stations.index("CS002HBA0")
    pa = a.transposed(["time", "freq", "ant", "dir"]).val
    pb = b.transposed(["time", "freq", "ant", "dir"]).val
    n = min(len(pa), len(pb))
    diff = (pa[:n, :, rs] - pa[:n, :, ref:ref + 1]) - (pb[:n, :, rs] - pb[:n, :, ref:ref + 1])
    assert np.sqrt(np.mean(np.angle(np.exp(1j * diff)) ** 2)) > 0.5


def test_solutions_name_the_facets_at_their_points(run):
    field, out = run["field"], run["selfcal"]
    polygons = read_ds9_polygons(field.regions)
    want = {f"[{p.name}]": (math.radians(wrap_ra_deg(p.point_deg[0])), math.radians(p.point_deg[1]))
            for p in polygons}
    for name in _obs(field):
        for path in (out / f"final_{name}.h5", out / f"best_{name}.h5", out / "cycle_000" / f"{name}.h5"):
            solset = read_h5parm(path)
            assert sorted(solset.directions) == sorted(want), path
            for d, (ra, dec) in want.items():
                assert solset.directions[d] == pytest.approx((ra, dec), abs=1e-9), (path, d)
            assert list(solset.soltabs["phase000"].axes["dir"]) == [f"[{p.name}]" for p in polygons]


def test_the_facet_image_with_the_solutions_recovers_the_calibrators(run):
    field, out = run["field"], run["selfcal"]
    sky = field.sky

    def ratios(path: Path) -> dict[str, float]:
        image = load_image(path)
        flux = sky.flux_jy(np.array([image.freq_hz]))[:, 0]
        return {n: measure_source(image, math.degrees(r) % 360.0, math.degrees(d)).peak_jy_per_beam / f
                for n, r, d, f in zip(sky.names, sky.ra_rad, sky.dec_rad, flux) if n in field.calibrators}

    before = ratios(out / "cycle_000" / "image-image.fits")
    after = ratios(out / "best_image.fits")
    assert all(v < 0.6 for v in before.values()), before
    assert all(abs(v - 1) < 0.1 for v in after.values()), after


