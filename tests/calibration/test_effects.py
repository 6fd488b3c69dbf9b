"""The calibrator pipeline's fits never return a value they cannot stand behind.

Synthetic DDECal solves (DP3's conventions, written as h5parms) go through the fit steps:

* search ranges are widened for stations found at their edge (TEC of 12 TECU from an initial
  3 TECU, an X-Y delay of 150 ns from an initial 100 ns, an RM of 12 rad/m^2 from 5), and a
  station still at the edge of the largest range fails: weight 0, NaN, the reason in the
  report;
* the expected clock/TEC errors follow from the band and the noise (Fisher information), and
  a band that cannot separate them is refused with the numbers;
* the reference station's own X-Y delay is found from the doubled phases whatever branch each
  solution is on, and solutions on the other X-Y branch have their rotation negated.
"""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.calibration.clocktec import separate_clock_tec
from lofar_hires.calibration.config import load_calibrator_config
from lofar_hires.calibration.effects import (
    fit_clocktec_step,
    fit_faraday_step,
    fit_polalign_step,
    xy_branch,
)
from lofar_hires.calibration.phases import alias_free_delay_s, wrap
from lofar_hires.calibration.polalign import fit_polalign, fit_reference_delay
from lofar_hires.calibration.separability import clocktec_separability, fit_combined_delay
from lofar_hires.errors import QualityError
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.physics import C_M_S, TEC_PHASE_CONSTANT
from lofar_hires.provenance import Provenance

FREQS_HZ = np.linspace(120e6, 166e6, 24)
NAMES = ["CS001HBA0", "CS002HBA0", "RS106HBA", "DE601HBA", "LV614HBA", "IE613HBA"]
REF = 1
N_TIME = 30
TIMES = 5e9 + 8.0 * np.arange(N_TIME)


def clocktec_phases(clock_s, tec_tecu, freqs, rng, noise_rad=0.02):
    """Scalar phases (time, freq, ant) with a common gauge per time and channel."""
    nu = freqs[None, :, None]
    phase = 2 * np.pi * nu * clock_s[:, None, :] + TEC_PHASE_CONSTANT * tec_tecu[:, None, :] / nu
    gauge = rng.uniform(-np.pi, np.pi, (clock_s.shape[0], len(freqs), 1))
    return wrap(phase + gauge + rng.normal(0, noise_rad, phase.shape))


def tracks(rng, clock_max_s=150e-9, tec_max=12.0):
    n_ant = len(NAMES)
    clock = np.tile(np.linspace(-clock_max_s, clock_max_s, n_ant), (N_TIME, 1))
    clock += np.arange(N_TIME)[:, None] * 0.02e-9
    tec = np.tile(np.linspace(tec_max, -tec_max / 3, n_ant), (N_TIME, 1))
    tec += 0.05 * np.sin(np.arange(N_TIME) / 7.0)[:, None]
    clock[:, REF] = tec[:, REF] = 0.0
    return clock, tec


def solve_h5(path, phase_xx, phase_yy=None, rotation=None, freqs=FREQS_HZ):
    """A DDECal-like solve: phase000 (and amplitude000, rotation000) on (time, freq, ant, dir, pol)."""
    phase_yy = phase_xx if phase_yy is None else phase_yy
    n_time = phase_xx.shape[0]
    axes = {"time": TIMES[:n_time], "freq": freqs, "ant": np.array(NAMES), "dir": np.array(["[MODEL_DATA]"]),
            "pol": np.array(["XX", "YY"])}
    val = np.stack([phase_xx, phase_yy], axis=-1)[:, :, :, None, :]
    tabs = [Soltab("phase000", "phase", dict(axes), val, np.ones_like(val)),
            Soltab("amplitude000", "amplitude", dict(axes), np.ones_like(val), np.ones_like(val))]
    if rotation is not None:
        rot_axes = {k: v for k, v in axes.items() if k != "pol"}
        tabs.append(Soltab("rotation000", "rotation", rot_axes, rotation[:, :, :, None],
                           np.ones(rotation.shape + (1,))))
    return write_h5parm(path, tabs, NAMES, np.zeros((len(NAMES), 3)),
                        directions={"MODEL_DATA": (np.radians(212.8), np.radians(52.2))})


# --------------------------------------------------------------------------- clock and TEC


def test_search_ranges_widen_to_the_truth():
    """TEC to 12 TECU and clocks to 150 ns from initial ranges of 3 TECU and 200 ns, 0.02 rad noise: every value
    within 0.2 ns and 0.003 TECU (4 sigma); the ranges of the stations that needed it were widened."""
    rng = np.random.default_rng(1)
    clock, tec = tracks(rng)
    phase = clocktec_phases(clock, tec, FREQS_HZ, rng)
    fit = separate_clock_tec(phase, np.ones_like(phase), FREQS_HZ, REF, clock_range_s=200e-9, tec_range_tecu=3.0,
                             max_clock_range_s=1e-6, max_tec_range_tecu=50.0)
    assert not np.any(fit.at_bound)
    np.testing.assert_allclose(fit.clock_s, clock, atol=0.2e-9)
    np.testing.assert_allclose(fit.tec_tecu, tec, atol=0.003)
    assert fit.tec_range_tecu[0] > 12.0  # station 0 holds 12 TECU
    assert not np.any(fit.poor)
    assert fit.tec_range_tecu[REF] == 3.0
    assert np.all(fit.clock_range_s <= alias_free_delay_s(FREQS_HZ))


def test_a_fit_at_the_largest_range_is_marked():
    """With at most 5 TECU searched, the stations with more are at the bound (never a silent value)."""
    rng = np.random.default_rng(2)
    clock, tec = tracks(rng)
    phase = clocktec_phases(clock, tec, FREQS_HZ, rng)
    fit = separate_clock_tec(phase, np.ones_like(phase), FREQS_HZ, REF, tec_range_tecu=3.0, max_tec_range_tecu=5.0)
    beyond = np.max(np.abs(tec), axis=0) > 5.0
    assert np.array_equal(np.any(fit.at_bound, axis=0), beyond)


def test_expected_errors_from_band_and_noise():
    """Fisher errors: 24 x 2 MHz at 0.05 rad gives 0.059 ns / 0.00088 TECU (what the fit achieves); 8 x 0.39 MHz
    gives 1.57 ns / 0.023 TECU with an alias at chi-square ~4e-5 per solution: not separable."""
    wide = clocktec_separability(FREQS_HZ, np.ones(len(FREQS_HZ)), 0.05)
    assert wide.sigma_clock_s == pytest.approx(0.0587e-9, rel=0.03)
    assert wide.sigma_tec_tecu == pytest.approx(0.00088, rel=0.03)
    assert -1 < wide.correlation < -0.95 and wide.alias_chi2 > 5
    narrow_freqs = 140e6 + 390625.0 * np.arange(8)
    narrow = clocktec_separability(narrow_freqs, np.ones(8), 0.05)
    assert narrow.sigma_clock_s == pytest.approx(1.57e-9, rel=0.03)
    assert narrow.sigma_tec_tecu == pytest.approx(0.0234, rel=0.03)
    assert narrow.alias_chi2 < 1e-3
    # The fit achieves the Fisher error: 200 noisy fits of one series.
    rng = np.random.default_rng(3)
    clock = np.zeros((200, 2))
    clock[:, 0] = 20e-9
    tec = np.zeros((200, 2))
    tec[:, 0] = 0.5
    phase = clocktec_phases(clock, tec, FREQS_HZ, rng, noise_rad=0.05 / np.sqrt(2))  # station + reference noise
    fit = separate_clock_tec(phase, np.ones_like(phase), FREQS_HZ, 1)
    assert np.std(fit.clock_s[:, 0] - 20e-9) == pytest.approx(0.0587e-9, rel=0.25)


def test_combined_delay_fit():
    rng = np.random.default_rng(4)
    freqs = 140e6 + 390625.0 * np.arange(8)
    delay = np.tile(np.array([30e-9, 0.0, -80e-9, 10e-9, 0, 0]), (5, 1))
    offset = np.tile(np.array([1.0, 0.0, -2.0, 0.5, 0, 0]), (5, 1))
    phase = wrap(2 * np.pi * freqs[None, :, None] * delay[:, None, :] + offset[:, None, :]
                 + rng.uniform(-np.pi, np.pi, (5, 8, 1)))
    fit = fit_combined_delay(phase, np.ones_like(phase), freqs, REF, clock_range_s=200e-9)
    np.testing.assert_allclose(fit.clock_s, delay, atol=1e-12)
    np.testing.assert_allclose(wrap(fit.offset_rad - offset), 0, atol=1e-6)
    assert np.all(np.isnan(fit.tec_tecu))


def test_clocktec_step_fails_stations_and_refuses_narrow_bands(tmp_path):
    """A station beyond the largest TEC range fails (weight 0, NaN, reason); a 3 MHz band is refused with numbers."""
    rng = np.random.default_rng(5)
    clock, tec = tracks(rng, tec_max=12.0)
    phase = clocktec_phases(clock, tec, FREQS_HZ, rng)
    cfg = load_calibrator_config(overrides=["fits.tec_max_range_tecu=6"])
    h5 = solve_h5(tmp_path / "solve4.h5", phase)
    report = fit_clocktec_step(h5, tmp_path / "clocktec.h5", cfg, Provenance(task="test"))
    over = [n for n, t in zip(NAMES, np.max(np.abs(tec), axis=0)) if t > 6.0]
    assert sorted(report["failed"]) == sorted(over)
    assert all("largest search range" in r for r in report["failed"].values()), report["failed"]
    out = read_h5parm(tmp_path / "clocktec.h5").soltabs
    for name in NAMES:
        i = NAMES.index(name)
        assert np.all(out["clock"].weight[:, i] == 0) == (name in over)
        assert np.all(np.isnan(out["tec"].val[:, i])) == (name in over)
    ok = [NAMES.index(n) for n in NAMES if n not in over]
    np.testing.assert_allclose(out["clock"].val[:, ok], clock[:, ok], atol=0.2e-9)
    assert report["expected_clock_error_ns"]["RS106HBA"] < 0.05

    narrow_freqs = 140e6 + 390625.0 * np.arange(8)
    phase = clocktec_phases(clock / 10, tec / 100, narrow_freqs, rng, noise_rad=0.05)
    h5 = solve_h5(tmp_path / "narrow.h5", phase, freqs=narrow_freqs)
    with pytest.raises(QualityError, match=r"cannot be separated on this band \(140.0-142.7 MHz in 8 channels\)"
                                           r".*expected errors .* ns and .* TECU"):
        fit_clocktec_step(h5, tmp_path / "narrow_out.h5", load_calibrator_config(), Provenance(task="test"))


def test_clocktec_step_flags_a_slot_the_model_cannot_describe(tmp_path):
    """One time slot of one station carries 0.2 rad rms of curvature no clock and TEC describe (what a DDECal
    solve leaves where it had not converged): that slot alone gets weight 0 and NaN and is reported; the
    station does not fail and every other value is within 0.2 ns."""
    rng = np.random.default_rng(8)
    clock, tec = tracks(rng, clock_max_s=50e-9, tec_max=2.0)
    phase = clocktec_phases(clock, tec, FREQS_HZ, rng)
    x = (FREQS_HZ - FREQS_HZ[0]) / np.ptp(FREQS_HZ)
    bad = NAMES.index("DE601HBA")
    phase[5, :, bad] = wrap(phase[5, :, bad] + 0.28 * np.cos(3 * np.pi * x))
    h5 = solve_h5(tmp_path / "solve4.h5", phase)
    report = fit_clocktec_step(h5, tmp_path / "clocktec.h5", load_calibrator_config(), Provenance(task="test"))
    assert report["failed"] == {}
    assert report["flagged_slots"] == {"DE601HBA": [5]}
    out = read_h5parm(tmp_path / "clocktec.h5").soltabs
    flagged = np.zeros((N_TIME, len(NAMES)), dtype=bool)
    flagged[5, bad] = True
    for name in ("clock", "tec"):
        np.testing.assert_array_equal(out[name].weight == 0, flagged)
        assert np.all(np.isnan(out[name].val[flagged])) and np.all(np.isfinite(out[name].val[~flagged]))
    np.testing.assert_allclose(out["clock"].val[~flagged], clock[~flagged], atol=0.2e-9)


# --------------------------------------------------------------------------- polarisation alignment, Faraday


def xy_solution(delay_s, ref_delay_s, rng, flip_fraction=0.5):
    """XX and YY phases (time, freq, ant): absolute XX-YY delays, per-(time, channel) branch flips, a gauge."""
    absolute = np.asarray(delay_s) + ref_delay_s
    diff = 2 * np.pi * FREQS_HZ[None, :, None] * absolute[None, None, :]
    flips = np.pi * (rng.random((N_TIME, len(FREQS_HZ), 1)) < flip_fraction)
    gauge = rng.uniform(-np.pi, np.pi, (N_TIME, len(FREQS_HZ), 1))
    shape = (N_TIME, len(FREQS_HZ), len(NAMES))
    xx = wrap(gauge + diff / 2 + rng.normal(0, 0.01, shape))
    yy = wrap(gauge - diff / 2 - flips + rng.normal(0, 0.01, shape))
    return xx, yy


def test_reference_delay_found_on_any_branch():
    """Half the solutions on the other X-Y branch: the reference's absolute delay within 0.05 ns."""
    rng = np.random.default_rng(6)
    rel = np.array([3e-9, 0.0, -8e-9, 12e-9, -15e-9, 5e-9])
    for ref_delay in (-3.45e-9, 0.2e-9, 1.75e-9):
        xx, yy = xy_solution(rel, ref_delay, rng)
        w = np.ones_like(xx)
        fit = fit_polalign(xx, yy, w, FREQS_HZ, REF)
        np.testing.assert_allclose(fit.delay_s, rel, atol=0.05e-9)
        absolute = fit_reference_delay(xx, yy, w, FREQS_HZ, fit)
        assert absolute.delay_s == pytest.approx(ref_delay, abs=0.05e-9)
        assert 0.3 < absolute.flipped_fraction < 0.7 and absolute.coherence > 0.99


def test_polalign_step_widens_to_large_delays(tmp_path):
    """A relative delay of 150 ns (initial search 100 ns, alias limit 250 ns on 2 MHz channels) is found."""
    rng = np.random.default_rng(7)
    rel = np.array([3e-9, 0.0, -150e-9, 12e-9, -15e-9, 5e-9])
    xx, yy = xy_solution(rel, 1e-9, rng, flip_fraction=0.0)
    h5 = solve_h5(tmp_path / "solve1.h5", xx, yy)
    report = fit_polalign_step(h5, tmp_path / "polalign.h5", load_calibrator_config(), Provenance(task="test"))
    assert report["failed"] == {}
    assert report["search_range_ns"] == pytest.approx(200.0)
    assert report["delay_ns"]["RS106HBA"] == pytest.approx(-150.0, abs=0.01)
    assert report["reference_delay_ns"] == pytest.approx(1.0, abs=0.01)


def test_rotation_on_the_other_xy_branch_is_negated(tmp_path):
    """Solutions whose X-Y phase is pi have rotation -a: the step puts them back and finds an RM of 7 (from a
    5 rad/m^2 initial search, up to the 7.5 rad/m^2 that 2 MHz channels at 120 MHz allow); an RM beyond the
    largest range fails the station."""
    rng = np.random.default_rng(8)
    rm = np.array([0.5, 0.0, -7.0, 2.0, 3.0, -1.0])
    angle = rm[None, None, :] * (C_M_S / FREQS_HZ[None, :, None]) ** 2 * np.ones((N_TIME, 1, 1))
    flipped = rng.random((N_TIME, len(FREQS_HZ))) < 0.3
    angle = np.where(flipped[..., None], -angle, angle) + rng.normal(0, 0.001, angle.shape)
    xx = np.zeros_like(angle)
    yy = np.where(flipped[..., None], np.pi, 0.0) + np.zeros_like(angle)
    found_flipped, unclear = xy_branch(np.stack([xx, yy], axis=-1), np.ones(xx.shape + (2,)))
    assert np.array_equal(found_flipped, flipped) and not np.any(unclear)
    h5 = solve_h5(tmp_path / "solve2.h5", xx, yy, rotation=angle)
    cfg = load_calibrator_config()
    report = fit_faraday_step(h5, tmp_path / "faraday.h5", cfg, Provenance(task="test"))
    assert report["failed"] == {}
    assert report["solutions_on_other_xy_branch"] == pytest.approx(np.mean(flipped))
    for name, value in zip(NAMES, rm):
        assert report["rm_mean_rad_m2"][name] == pytest.approx(value, abs=0.002)
    capped = load_calibrator_config(overrides=["fits.rm_max_range_rad_m2=6"])
    report = fit_faraday_step(h5, tmp_path / "faraday_capped.h5", capped, Provenance(task="test"))
    assert list(report["failed"]) == ["RS106HBA"]
    assert np.all(read_h5parm(tmp_path / "faraday_capped.h5").soltabs["faraday"].weight[:, 2] == 0)
