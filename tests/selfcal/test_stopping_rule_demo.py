"""The stopping rule of self-calibration earns its place: on simulated data, with real DP3 and WSClean.

Field: preset ``selfcal`` (one ~1 Jy compact calibrator, international stations, an hour of
3.9 MHz) with one observation, seed 1, and a strong direction-independent TEC residual of
0.02 TECU at 100 km (four times the preset's; several radians on the international stations).
Uncalibrated, only the international baselines imaged (uv > 20 klambda), the calibrator is a
speckle pattern: cycle 0 has a dynamic range of ~4. Both runs calibrate this one observation
with the same small strategy (one 32 s scalarphase solve, 128 x 0.08 arcsec images, the stopping
rule's shipped thresholds, ``min_cycles`` 3, ``max_cycles`` 8); they differ only in the start:

* poor start (no starting model): cycle 0's clean model is the speckle pattern, so each cycle
  concentrates the flux a little more. Measured: 5 cycles, ``stopped_by: converged``; dynamic
  range per cycle 4.3, 14.3, 28.5, 48.6, 70.3; phase change 0.63, 0.20, 0.101, 0.027 rad. At
  the minimum (cycle 2) rms and dynamic range already passed, and the phase change (0.20 rad >=
  0.1 rad) kept the run going; the image then gained a factor 2.5 in dynamic range.
* good start (a 1 Jy point model at the calibrator): converged at the minimum, 3 cycles, dynamic
  range 4.3, 139, 144, phase change 0.012 and 0.009 rad.

Five other seeds of the poor start (20261121, 2, 3, 4, 5) ran 7, 6, 7, 8 and 8 cycles: four
converged after a gain in dynamic range of 3.1 to 7.3 over cycle 2; seed 4 stopped at
``max_cycles`` with its phases still changing by 0.17 rad and a gain of only 1.14. The clean
auto-mask is lowered to 3 sigma (from 4) so that cycle 0's model holds the speckle pattern:
at 4 sigma it is one or two speckles, a point model from which phase-only self-calibration
converges at once (at the wrong position) for some seeds. Without a model the calibrator ends
up 2-3 arcsec from its true position (phase-only self-calibration fixes no absolute position),
and its final dynamic range (70) stays below that of the good start (144); the rule cannot tell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lofar_hires.cli import main
from lofar_hires.selfcal.metrics import CycleMetrics, read_metrics

pytestmark = pytest.mark.slow

CALIBRATOR = "bright01"
MIN_CYCLES = 3
PHASE_STABILITY_RAD = 0.1  # the shipped stopping.phase_stability_rad
RMS_INCREASE = 0.05  # the shipped stopping.max_rms_increase_fraction
#: Least gain in dynamic range of the best cycle over cycle MIN_CYCLES - 1 in the poor-start run
#: (measured 2.5; 1.7 if the phase change of cycle 3, 0.101 rad, came out below 0.1 rad).
MIN_GAIN_AFTER_MINIMUM = 1.5

#: One observation of the selfcal field under a strong ionosphere.
FIELD = (
    "seed=1",  # calibrator 0.2 deg from the pointing; see the module docstring for the other seeds
    "observation.n_observations=1",
    "corruptions.tec.rms_at_100km_tecu=0.02",  # four times the preset's residual
)

#: One phase solve; few DDECal iterations (enough on these data) to keep the runs short.
STRATEGY = f"""\
name: stopping_demo
prepare: {{time_resolution_s: 16.0, freq_resolution_hz: 390625.0, phaseup_core: true}}
solves:
  - {{name: phase, soltype: scalarphase, solint_s: 32.0, smoothness_hz: 2.0e+6, minuv_lambda: 20000.0,
     maxiter: 30, tolerance: 1.0e-3}}
imaging: {{size_pix: 128, scale_arcsec: 0.08, niter: 5000, minuv_lambda: 20000.0, auto_mask_sigma: 3.0}}
stopping: {{min_cycles: {MIN_CYCLES}, max_cycles: 8}}
"""


@pytest.fixture(scope="module")
def field(simulated, tmp_path_factory):
    result = simulated("stopping_rule_demo", preset="selfcal", overrides=FIELD)
    ms = result.targets()[0].ms
    truth = json.loads(result.targets()[0].truth_json.read_text())
    strategy = tmp_path_factory.mktemp("stopping_rule_demo") / "strategy.yaml"
    strategy.write_text(STRATEGY)
    return ms, strategy, tuple(truth["directions"][CALIBRATOR])


def selfcal(field, outdir: Path, *extra: str) -> tuple[dict, list[CycleMetrics]]:
    ms, strategy, radec = field
    code = main(["--log-level", "WARNING", "selfcal", str(ms), "--strategy", str(strategy), "--outdir",
                 str(outdir), "--phase-centre", *map(str, radec), *extra])
    assert code == 0
    report = json.loads((outdir / "selfcal_report.json").read_text())
    return report, read_metrics(outdir / "metrics.json")


@pytest.fixture(scope="module")
def poor_start(field, tmp_path_factory):
    return selfcal(field, tmp_path_factory.mktemp("poor_start") / "run")


@pytest.fixture(scope="module")
def good_start(field, tmp_path_factory):
    return selfcal(field, tmp_path_factory.mktemp("good_start") / "run", "--point-model-jy", "1.0")


def holds(row: CycleMetrics, first: CycleMetrics) -> dict[str, bool]:
    """The rule's criteria (no classifier) for one cycle, recomputed from the metrics."""
    return {"rms": row.rms_jy <= (1 + RMS_INCREASE) * first.rms_jy,
            "dynamic_range": row.dynamic_range > first.dynamic_range,
            "phase_stability": row.phase_stability_rad is not None
            and row.phase_stability_rad < PHASE_STABILITY_RAD}


def test_a_poor_start_runs_past_the_minimum_while_the_image_improves(poor_start):
    report, metrics = poor_start
    n = report["n_cycles"]
    assert n == len(metrics) > MIN_CYCLES
    assert report["stopped_by"] in ("converged", "max_cycles")
    # at the minimum and until the stop, rms and dynamic range passed: the phase change kept it going
    for row in metrics[MIN_CYCLES - 1:-1]:
        assert holds(row, metrics[0]) == {"rms": True, "dynamic_range": True, "phase_stability": False}, row
    # the cycles after the minimum earned their place: the best image is one of them, much better
    dr = [row.dynamic_range for row in metrics]
    assert report["best_cycle"] >= MIN_CYCLES
    assert dr[report["best_cycle"]] >= MIN_GAIN_AFTER_MINIMUM * dr[MIN_CYCLES - 1], dr
    assert dr[-1] >= MIN_GAIN_AFTER_MINIMUM * dr[MIN_CYCLES - 1], dr
    # the report names the criterion that stopped it
    criteria = report["decision"]["criteria"]
    assert criteria["classifier"] is None
    stop = report["stop_criterion"]
    assert stop.startswith(f"{report['stopped_by']}")
    assert "rms " in stop and "dynamic range " in stop and "phase stability " in stop
    if report["stopped_by"] == "converged":
        assert all(criteria[k] for k in ("rms", "dynamic_range", "phase_stability"))
        assert f"phase stability {metrics[-1].phase_stability_rad:.3f} rad < 0.1 rad" in stop
    else:
        assert stop.startswith("max_cycles (phase stability not met)") and n == 8


def test_a_good_start_converges_at_the_minimum(good_start):
    report, metrics = good_start
    assert report["stopped_by"] == "converged"
    assert report["n_cycles"] == len(metrics) == MIN_CYCLES
    assert report["decision"]["criteria"] == {"classifier": None, "rms": True, "dynamic_range": True,
                                              "phase_stability": True}
    # already converged after the first solve: cycle 1 would have stopped but for min_cycles
    assert holds(metrics[1], metrics[0]) == {"rms": True, "dynamic_range": True, "phase_stability": True}
    assert report["dynamic_range_gain"] > 10
    stop = report["stop_criterion"]
    assert stop.startswith("converged: rms ")
    assert f"phase stability {metrics[-1].phase_stability_rad:.3f} rad < 0.1 rad" in stop
    assert f"dynamic range {metrics[-1].dynamic_range:.1f} > {metrics[0].dynamic_range:.1f} (cycle 0)" in stop


def test_the_good_start_ends_better_than_the_poor_one(good_start, poor_start):
    """What the rule cannot see: the poor start converges, but to a worse image."""
    (good, good_metrics), (poor, poor_metrics) = good_start, poor_start
    assert good_metrics[0].rms_jy == pytest.approx(poor_metrics[0].rms_jy, rel=1e-6)  # the same cycle 0
    assert good_metrics[good["best_cycle"]].dynamic_range > 1.5 * poor_metrics[poor["best_cycle"]].dynamic_range
