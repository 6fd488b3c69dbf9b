"""The gate's pure parts on synthetic data: TEC rates from tec and phase soltabs, the soltab search, the flag
count and the verdict (sub-scores, pass or fail, the reasons in words). Exact where the data are exact."""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.gate.config import CalibratabilityConfig, IonosphereGateConfig
from lofar_hires.gate.flags import FlagCount, flagged_visibilities
from lofar_hires.gate.ionosphere import (
    IonosphereMetric,
    find_di_soltab,
    measure_ionosphere,
    phase_steps_to_tec,
    window_rates,
)
from lofar_hires.gate.phasediff import PhasediffMetric, best_score
from lofar_hires.gate.verdict import judge, sub_score
from lofar_hires.io.h5parm import Soltab, write_h5parm
from lofar_hires.physics import TEC_PHASE_CONSTANT
from lofar_hires.selection.score import ScoreResult

STATIONS = ["CS001HBA0", "CS002HBA0", "RS106HBA", "RS509HBA", "DE601HBA"]
POSITIONS = np.array([3826577.0, 461022.0, 5064892.0]) + np.arange(15.0).reshape(5, 3) * 100.0
#: TEC rates of the stations (TECU/min): the core still, the remote stations ramping, DE601 fast.
RATES = np.array([0.0, 0.0, 0.01, -0.03, 0.2])
TIMES = 5.0e9 + 10.0 * np.arange(61)  # 10 minutes at 10 s
FREQS = 140e6 + 2e6 * np.arange(6)


def ramp_tec() -> np.ndarray:
    return (TIMES - TIMES[0])[:, None] / 60.0 * RATES[None, :] + np.linspace(0.0, 0.3, len(STATIONS))


def expected_rms(rates=RATES[2:4]) -> float:
    return float(np.sqrt(np.mean(np.asarray(rates) ** 2)))


def write(path, tabs, solset="sol000"):
    directions = {name: (4.2 + 0.01 * k, 0.96) for k, name in enumerate(("d", "a", "b"))}
    return write_h5parm(path, tabs, STATIONS, POSITIONS, directions, solset=solset)


def tec_tab(name="tec", dirs=None) -> Soltab:
    axes = {"time": TIMES, "ant": np.array(STATIONS)}
    val = ramp_tec()
    if dirs:
        axes["dir"] = np.array(dirs)
        val = np.repeat(val[..., None], len(dirs), axis=-1)
    return Soltab(name, "tec", axes, val)


def phase_tab(name="phase000", common_phase=True) -> Soltab:
    """Diagonal phases of the ramping TEC, with a random phase common to all stations (the solve's gauge)."""
    rng = np.random.default_rng(1)
    phase = TEC_PHASE_CONSTANT * ramp_tec()[:, None, :] / FREQS[None, :, None]
    if common_phase:
        phase = phase + rng.uniform(-np.pi, np.pi, (len(TIMES), 1, 1))
    val = np.angle(np.exp(1j * np.repeat(phase[..., None, None], 2, axis=-1)))  # (time, freq, ant, dir, pol)
    return Soltab(name, "phase", {"time": TIMES, "freq": FREQS, "ant": np.array(STATIONS), "dir": np.array(["d"]),
                                  "pol": np.array(["XX", "YY"])}, val)


def test_window_rates_of_a_ramp_are_exact_and_skip_gaps():
    steps = np.diff(ramp_tec(), axis=0)
    valid = np.ones_like(steps, bool)
    rates, ok, window = window_rates(TIMES, steps, valid, 60.0)
    assert window == 60.0 and rates.shape == (10, 5) and ok.all()
    np.testing.assert_allclose(rates, np.broadcast_to(RATES, rates.shape), atol=1e-12)
    # a gap of 5 minutes: the step across it is not used, the windows beside it are
    times = np.concatenate([TIMES[:30], TIMES[30:] + 300.0])
    jumpy = steps.copy()
    jumpy[29] = 99.0
    rates, ok, _ = window_rates(times, jumpy, valid, 60.0)
    np.testing.assert_allclose(rates[ok.all(axis=1)], np.broadcast_to(RATES, (ok.all(axis=1).sum(), 5)), atol=1e-12)
    # a flagged half of a window leaves its rate; a window flagged beyond half is not used
    half = valid.copy()
    half[:4, 2] = False
    rates, ok, _ = window_rates(TIMES, steps, half, 60.0)
    assert not ok[0, 2] and ok[1:, 2].all()


def test_phase_steps_give_the_tec_change_and_report_aliasing():
    dtec = np.array([[0.001, -0.02, 0.05]])
    phase0 = np.zeros((1, len(FREQS), 3))
    phase1 = TEC_PHASE_CONSTANT * dtec[:, None, :] / FREQS[None, :, None]
    z = np.exp(1j * np.concatenate([phase0, phase1]))
    steps, valid, near = phase_steps_to_tec(z, FREQS)
    assert valid.all()
    # 0.05 TECU is 3.0 rad at 140 MHz: beyond pi at the lower channels, the step aliases and is flagged as near
    np.testing.assert_allclose(steps[0, :2], dtec[0, :2], rtol=1e-9)
    assert near[0, 0] == 0.0 and near[0, 1] == 0.0 and near[0, 2] > 0.5


@pytest.mark.parametrize("kind", ["tec", "phase"])
def test_the_rate_of_a_ramp_is_measured_from_tec_and_from_phases(kind, tmp_path):
    tab = tec_tab() if kind == "tec" else phase_tab()
    path = write(tmp_path / "sol.h5", [tab], solset="target")
    which = find_di_soltab(path)
    metric = measure_ionosphere(which, IonosphereGateConfig())
    assert metric.stations == ["RS106HBA", "RS509HBA"] and metric.reference_stations == ["CS001HBA0", "CS002HBA0"]
    assert metric.dtec_rate_rms_tecu_per_min == pytest.approx(expected_rms(), rel=1e-6)
    assert metric.per_station_tecu_per_min == pytest.approx({"RS106HBA": 0.01, "RS509HBA": 0.03}, rel=1e-6)
    assert metric.n_values == 20
    if kind == "phase":  # pi nu / |K| per 10 s at 140 MHz
        assert metric.max_measurable_tecu_per_min == pytest.approx(np.pi * 140e6 / 8.44797245e9 * 6, rel=1e-6)


def test_the_soltab_search_prefers_the_target_solutions_and_refuses_what_it_cannot_use(tmp_path):
    import h5py

    path = write(tmp_path / "cal.h5", [tec_tab()], solset="calibrator")
    with h5py.File(write(tmp_path / "target.h5", [phase_tab(), tec_tab("screen", dirs=["a", "b"])],
                         solset="target"), "r") as src, h5py.File(path, "a") as dst:
        src.copy("target", dst)
    assert (find_di_soltab(path).solset, find_di_soltab(path).soltab) == ("target", "phase000")
    assert find_di_soltab(path, solset="calibrator").soltab == "tec"
    with pytest.raises(InputError, match=r"soltab screen is of type tec .*\(2 direction"):
        find_di_soltab(path, soltab="screen")
    with pytest.raises(InputError, match="no soltab 'nosuch'"):
        find_di_soltab(path, soltab="nosuch")
    with pytest.raises(InputError, match="no solset 'nosuch'"):
        find_di_soltab(path, solset="nosuch")
    amplitude = Soltab("amplitude000", "amplitude", {"time": TIMES, "ant": np.array(STATIONS)},
                       np.ones((len(TIMES), len(STATIONS))))
    with pytest.raises(InputError, match="no direction-independent tec or phase soltab"):
        find_di_soltab(write(tmp_path / "amp.h5", [amplitude]))


def test_missing_stations_are_named(tmp_path):
    which = find_di_soltab(write(tmp_path / "sol.h5", [tec_tab()]))
    with pytest.raises(InputError, match=r"no antenna outside the reference matches ionosphere.stations='PL\*'"):
        measure_ionosphere(which, IonosphereGateConfig(stations="PL*"))
    with pytest.raises(InputError, match="nosuchgroup"):
        measure_ionosphere(which, IonosphereGateConfig(stations="nosuchgroup"))
    with pytest.raises(InputError, match="no antenna matches ionosphere.reference_stations='ST001'"):
        measure_ionosphere(which, IonosphereGateConfig(reference_stations="ST001"))


def test_flag_count_takes_any_correlation_and_flag_row():
    flag = np.zeros((4, 3, 4), bool)
    flag[0, 0, 1] = True  # one correlation flags the visibility
    flag[1, :, :] = True  # a whole row
    assert flagged_visibilities(flag) == 4
    assert flagged_visibilities(flag, np.array([False, False, True, False])) == 7
    assert FlagCount(7, 12).fraction == pytest.approx(7 / 12)
    with pytest.raises(InputError, match="axes"):
        flagged_visibilities(np.zeros((4, 3), bool))


def iono(rate: float) -> IonosphereMetric:
    return IonosphereMetric(rate, 20, ["RS106HBA", "RS509HBA"], ["CS001HBA0"], "sol.h5", 60.0)


def pd(score: float | None, threshold: float = 2.12) -> PhasediffMetric:
    return PhasediffMetric("cal", score, 2.6, threshold, 1e-3, 620, ["FR606HBA"], "" if score else "too far")


def test_the_verdict_gives_sub_scores_and_every_reason():
    cfg = CalibratabilityConfig()
    good = judge(pd(1.15), FlagCount(10, 100), iono(0.0125), cfg)
    assert good.passed and good.reasons == []
    assert good.sub_scores == pytest.approx({"phasediff": 0.5, "flags": 0.8, "ionosphere": 0.75})
    assert good.score == pytest.approx(0.5)
    bad = judge(pd(2.35, threshold=2.5), FlagCount(62, 100), iono(0.061), cfg)
    assert not bad.passed and bad.score == 0.0
    assert bad.reasons == [
        "phasediff score 2.35 rad of calibrator cal is not below 2.30 rad",
        "62.0 % of visibilities flagged (62 of 100), above 50 %",
        "ionospheric activity 0.061 TECU/min (rms rate of the differential TEC of RS106HBA, RS509HBA) above "
        "0.05 TECU/min"]
    noise = judge(pd(2.2, threshold=2.12), FlagCount(0, 100), iono(0.0), cfg)
    assert noise.reasons == ["phasediff score 2.20 rad of calibrator cal is not below the noise threshold 2.12 rad "
                             "of its 620 values (false-alarm probability 0.001): the calibrator is not detected on "
                             "the longest baselines"]
    assert judge(pd(None), FlagCount(0, 100), iono(0.0), cfg).reasons == [
        "no phasediff score could be measured (too far)"]
    assert judge(pd(1.0), FlagCount(50, 100), iono(0.05), cfg).passed  # at the limit is within it
    assert sub_score(3.0, 2.0) == 0.0 and sub_score(0.0, 2.0) == 1.0


def test_the_lowest_score_of_several_calibrators_counts():
    results = [ScoreResult("weak", 0.0, 0.0, 2.4, ["FR606HBA"], noise_threshold_rad=2.12),
               ScoreResult("strong", 0.0, 0.0, 1.2, ["FR606HBA"], noise_threshold_rad=2.12),
               ScoreResult("far", 0.0, 0.0, None, ["FR606HBA"], note="not scored")]
    metric = best_score(results)
    assert (metric.calibrator, metric.score_rad, metric.significant) == ("strong", 1.2, True)
    assert metric.per_calibrator_rad == {"weak": 2.4, "strong": 1.2, "far": None}
    none = best_score(results[2:])
    assert none.score_rad is None and none.note == "far: not scored"
