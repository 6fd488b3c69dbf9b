"""The stopping rule with the shipped classifier on international DD calibrator runs (make test-hard).

The simulated ``dd`` field (four calibrators under a TEC screen, DE601/FR606, two observations) and the
hard one (``dd_hard``: calibrators 0.85-1.1 deg out, a disturbed ionosphere);
every calibrator in every observation is self-calibrated with its international recipe
(``lofar-hires recipe international``) for a fixed ``CYCLES`` cycles, each cycle's image scored by
the shipped model. The stopping rule is then replayed on each run's metrics (cycles 3 .. ``CYCLES``),
once with the scores and once without, as ``lofar-hires selfcal`` decides after every cycle.

Tolerances (the issue's proof): with the classifier every run stops at the same cycle as without it,
never later (a run whose solutions repeat the previous cycle's stops at that fixed point whatever
the classifier says: every further cycle would repeat it); the image it keeps has an rms within 5 %
of the lowest of the whole fixed run; and the calibrator's peak in that image is within 15 % of its
true flux, a residual phase error below 0.57 rad (measured 0.90-1.07: the stop is a converged
image, not an early one). About 10 minutes per field on 2 cores.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from lofar_hires.cli import main

pytest.importorskip("torch")
pytest.importorskip("timm")

pytestmark = [pytest.mark.slow, pytest.mark.hard_case]

#: Cycles of each run (the recipe's stopping rule is replayed on cycles 3 .. CYCLES).
CYCLES = 8
MIN_CYCLES = 3
#: The amplitude solve starts in cycle 1 (the recipe's cycle 3 would make every run at least five cycles).
GAIN_START = 1


@pytest.fixture(scope="module", params=["dd", "dd_hard"])
def runs(request, simulated, tmp_path_factory) -> list[dict]:
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.selection.table import CalibratorRow, write_table
    from lofar_hires.selfcal.metrics import read_metrics

    tmp = tmp_path_factory.mktemp(f"stopping_{request.param}")
    sim = simulated(f"stopping_{request.param}", preset=request.param)
    sky = read_makesourcedb(sim.sky_model)
    bright = [i for i, n in enumerate(sky.names) if n.startswith("bright")]
    rows = [CalibratorRow(name=sky.names[i], ra_deg=float(np.degrees(sky.ra_rad[i]) % 360.0),
                          dec_deg=float(np.degrees(sky.dec_rad[i])), category="main", score_rad=0.25,
                          peak_flux_jy=float(sky.i_jy[i])) for i in bright]
    table = write_table(tmp / "calibrators.csv", rows)
    assert main(["--log-level", "WARNING", "recipe", "international", "--calibrators", str(table), "--outdir",
                 str(tmp / "strategies"), "--integration-s", "20"]) == 0
    index = json.loads((tmp / "strategies" / "calibrators.json").read_text())
    out = []
    for target in sim.targets():
        obs = target.ms.name.removesuffix(".MS")
        for cal in index:
            outdir = tmp / f"{cal['name']}_{obs}"
            sets = ["imaging.size_pix=256", f"solves.3.start_cycle={GAIN_START}", f"stopping.min_cycles={CYCLES}",
                    f"stopping.max_cycles={CYCLES}"]
            assert main(["--log-level", "WARNING", "selfcal", str(target.ms), "--strategy",
                         str(tmp / "strategies" / cal["strategy"]), "--outdir", str(outdir), "--phase-centre",
                         str(cal["ra_deg"]), str(cal["dec_deg"]), "--point-model-jy", str(cal["flux_jy"]),
                         "--threads", "2", *[a for kv in sets for a in ("--set", kv)]]) == 0
            report = json.loads((outdir / "selfcal_report.json").read_text())
            out.append({"name": cal["name"], "obs": obs, "report": report, "outdir": outdir,
                        "metrics": read_metrics(outdir / "metrics.json"), "sky": sky,
                        "radec_deg": (cal["ra_deg"], cal["dec_deg"]), "strategy": tmp / "strategies" / cal["strategy"]})
    return out


def _stop(metrics, rule, last_start: int) -> tuple[int, int, str]:
    """(cycles run, kept cycle, reason) of the stopping rule replayed on a run's metrics."""
    from lofar_hires.selfcal.stopping import decide

    for n in range(1, len(metrics) + 1):
        decision = decide(metrics[:n], rule, last_start)
        if decision.reason != "continue":
            return n, decision.best_cycle, decision.reason
    raise AssertionError("the replayed rule never stopped")


def test_the_recipe_uses_the_shipped_classifier_and_every_cycle_is_scored(runs):
    from lofar_hires.selfcal.strategy import load_strategy

    assert load_strategy(runs[0]["strategy"]).stopping.classifier_model == "shipped"
    first = {}
    for run in runs:
        assert run["report"]["classifier"].startswith("used: vit_"), run["report"]["classifier"]
        scores = [m.classifier_score for m in run["metrics"]]
        assert len(scores) == CYCLES and all(s is not None and 0.0 <= s <= 1.0 for s in scores)
        first[(run["name"], run["obs"])] = scores[0]
    # the uncalibrated images (peak 0.1-0.35 of the truth) are 'continue'; one of the eight on dd_hard was
    # scored 0.45 (docs/classifier.md), which cannot stop a run (cycle 0 is below min_cycles)
    assert sum(p < 0.5 for p in first.values()) <= 1, first


def test_with_the_classifier_every_run_stops_as_early_with_a_converged_image(runs):
    from lofar_hires.imaging.measure import load_image, measure_source
    from lofar_hires.selfcal.strategy import load_strategy

    found = {}
    for run in runs:
        strategy = load_strategy(run["strategy"])
        rule = dataclasses.replace(strategy.stopping, min_cycles=MIN_CYCLES, max_cycles=CYCLES)
        last_start = max(GAIN_START, *(s.start_cycle for s in strategy.solves[:3]))
        metrics = run["metrics"]
        unscored = [dataclasses.replace(m, classifier_score=None) for m in metrics]
        n_with, kept, reason = _stop(metrics, rule, last_start)
        n_without, _, _ = _stop(unscored, rule, last_start)
        lowest = min(m.rms_jy for m in metrics)
        found[(run["name"], run["obs"])] = (n_with, n_without, reason, round(metrics[kept].rms_jy / lowest, 3))
        assert n_with <= n_without, found
        assert metrics[kept].rms_jy <= 1.05 * lowest, found
        image = load_image(run["outdir"] / metrics[kept].image)
        sky = run["sky"]
        flux = float(sky.flux_jy(np.array([image.freq_hz]))[sky.names.index(run["name"]), 0])
        peak = measure_source(image, *run["radec_deg"]).peak_interpolated_jy_per_beam
        assert math.isclose(peak, flux, rel_tol=0.15), (run["name"], run["obs"], peak, flux)
