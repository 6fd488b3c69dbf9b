"""Clock/TEC separation: closed-loop recovery from synthetic phase solutions.

Synthetic solutions follow DP3's conventions: station phase ``2 pi nu clock + K TEC / nu``
(``K = -8.44797245e9``), plus an arbitrary common phase per time and channel (the gauge),
Gaussian noise per station, wrapping into ``(-pi, pi]`` and a few flagged points. Clocks up
to +-60 ns with a drift and a GPS jump, TEC up to +-2 TECU varying smoothly in time.
"""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.calibration.clocktec import separate_clock_tec
from lofar_hires.calibration.phases import wrap
from lofar_hires.errors import InputError, LofarHiresWarning
from lofar_hires.physics import TEC_PHASE_CONSTANT

FREQS_HZ = np.linspace(120e6, 168e6, 24)
REF = 3


def truth(rng: np.random.Generator, n_time: int, n_ant: int) -> tuple[np.ndarray, np.ndarray]:
    """Clock (s) and TEC (TECU) tracks ``(time, ant)``, zero for the reference station."""
    t = np.arange(n_time)[:, None]
    clock = rng.uniform(-60e-9, 60e-9, n_ant) + t * rng.normal(0, 0.1e-9, n_ant)
    clock = clock + (t >= n_time // 2) * rng.uniform(-10e-9, 10e-9, n_ant)  # a GPS correction
    tec = rng.uniform(-1.9, 1.9, n_ant) + 0.1 * np.sin(2 * np.pi * t / rng.uniform(60, 120, n_ant)
                                                      + rng.uniform(0, 2 * np.pi, n_ant))
    clock[:, REF] = 0.0
    tec[:, REF] = 0.0
    return clock, tec


def phases(clock_s: np.ndarray, tec_tecu: np.ndarray, freqs_hz: np.ndarray, rng: np.random.Generator,
           noise_rad: float, offset_rad: np.ndarray | float = 0.0) -> np.ndarray:
    """Wrapped phases ``(time, freq, ant)`` with a common random gauge per time and channel."""
    nu = freqs_hz[None, :, None]
    phase = 2 * np.pi * nu * clock_s[:, None, :] + TEC_PHASE_CONSTANT * tec_tecu[:, None, :] / nu
    phase = phase + np.asarray(offset_rad)[..., None, :] if np.ndim(offset_rad) else phase + offset_rad
    gauge = rng.uniform(-np.pi, np.pi, (clock_s.shape[0], len(freqs_hz), 1))
    return wrap(phase + gauge + rng.normal(0.0, noise_rad, phase.shape))


def flagged_weights(rng: np.random.Generator, shape: tuple[int, ...], fraction: float = 0.03) -> np.ndarray:
    return (rng.random(shape) >= fraction).astype(float)


def test_recovers_clock_and_tec_with_noise_on_24_channels():
    """25 stations, 60 times, 24 channels 120-168 MHz, 0.05 rad noise per station, 3 % flagged.

    Required: rms error over all (time, station) <= 0.2 ns and <= 0.002 TECU (measured
    0.083 ns and 0.0012 TECU, the statistical limit of 24 channels with 0.07 rad referenced
    noise), and no time on a wrong alias (clock +-3.5 ns with TEC -+0.054 TECU): every error
    below 1 ns and 0.02 TECU (measured maxima 0.37 ns and 0.0055 TECU, i.e. 4.5 sigma over
    1440 values: a per-value 0.2 ns / 0.002 TECU bound needs more channels, see below).
    """
    rng = np.random.default_rng(11)
    clock, tec = truth(rng, 60, 25)
    phase = phases(clock, tec, FREQS_HZ, rng, 0.05)
    fit = separate_clock_tec(phase, flagged_weights(rng, phase.shape), FREQS_HZ, REF)
    err_clock_ns = (fit.clock_s - clock) * 1e9
    err_tec = fit.tec_tecu - tec
    assert np.all(fit.weights == 1.0)
    assert np.sqrt(np.mean(err_clock_ns**2)) <= 0.2
    assert np.sqrt(np.mean(err_tec**2)) <= 0.002
    assert np.max(np.abs(err_clock_ns)) < 1.0
    assert np.max(np.abs(err_tec)) < 0.02
    assert np.all(fit.clock_s[:, REF] == 0.0) and np.all(fit.tec_tecu[:, REF] == 0.0)
    others = np.delete(fit.rms_rad, REF, axis=1)
    assert 0.05 < np.median(others) < 0.09  # sqrt(2) x 0.05 rad: station and reference noise


def test_every_value_within_tolerance_on_240_channels():
    """One channel per 0.2 MHz subband (240 channels), 0.05 rad noise, 3 % flagged.

    Required: every clock within 0.2 ns and every TEC within 0.002 TECU (measured maxima
    0.077 ns and 0.0011 TECU, rms 0.025 ns and 0.0004 TECU).
    """
    rng = np.random.default_rng(12)
    freqs = np.linspace(120e6, 168e6, 240)
    clock, tec = truth(rng, 60, 25)
    phase = phases(clock, tec, freqs, rng, 0.05)
    fit = separate_clock_tec(phase, flagged_weights(rng, phase.shape), freqs, REF)
    assert np.max(np.abs(fit.clock_s - clock)) < 0.2e-9
    assert np.max(np.abs(fit.tec_tecu - tec)) < 0.002


@pytest.mark.parametrize("jump_penalty", [10.0, 0.0], ids=["continuity", "independent"])
def test_noise_free_recovery_is_exact(jump_penalty):
    """Without noise: clock and TEC to 1e-6 relative (of the largest value), wrapping and gauge included."""
    rng = np.random.default_rng(13)
    clock, tec = truth(rng, 20, 22)
    phase = phases(clock, tec, FREQS_HZ, rng, 0.0)
    fit = separate_clock_tec(phase, np.ones_like(phase), FREQS_HZ, REF, jump_penalty=jump_penalty)
    np.testing.assert_allclose(fit.clock_s, clock, rtol=0, atol=1e-6 * np.abs(clock).max())
    np.testing.assert_allclose(fit.tec_tecu, tec, rtol=0, atol=1e-6 * np.abs(tec).max())
    assert np.nanmax(fit.rms_rad) < 1e-8


def test_with_offset_recovers_clock_tec_and_offset_without_noise():
    rng = np.random.default_rng(14)
    clock, tec = truth(rng, 10, 21)
    offset = rng.uniform(-3.0, 3.0, (10, 21))
    offset[:, REF] = 0.0
    phase = phases(clock, tec, FREQS_HZ, rng, 0.0, offset_rad=offset)
    fit = separate_clock_tec(phase, np.ones_like(phase), FREQS_HZ, REF, with_offset=True)
    np.testing.assert_allclose(fit.clock_s, clock, rtol=0, atol=1e-6 * np.abs(clock).max())
    np.testing.assert_allclose(fit.tec_tecu, tec, rtol=0, atol=1e-6 * np.abs(tec).max())
    np.testing.assert_allclose(wrap(fit.offset_rad - offset), 0.0, atol=1e-6)


def test_sign_conventions_against_values_computed_by_hand():
    """Clock +10 ns and TEC +0.1 TECU: at 150 MHz the phase is
    2 pi 150e6 10e-9 - 8.44797245e9 0.1 / 150e6 = 9.424778 - 5.631982 = 3.792796 rad."""
    freqs = np.arange(120e6, 170e6, 2e6)  # 25 channels, 150 MHz is channel 15
    clock_s, tec_tecu = 10e-9, 0.1
    station = np.array([2 * np.pi * f * clock_s - 8.44797245e9 * tec_tecu / f for f in freqs])
    assert station[15] == pytest.approx(3.792796, abs=1e-6)
    phase = np.zeros((1, len(freqs), 2))
    phase[0, :, 1] = wrap(station)
    fit = separate_clock_tec(phase, np.ones_like(phase), freqs, 0)
    assert fit.clock_s[0, 1] == pytest.approx(10e-9, abs=1e-15)
    assert fit.tec_tecu[0, 1] == pytest.approx(0.1, abs=1e-9)
    # The reference is the other station: the signs flip.
    fit = separate_clock_tec(phase, np.ones_like(phase), freqs, 1)
    assert fit.clock_s[0, 0] == pytest.approx(-10e-9, abs=1e-15)
    assert fit.tec_tecu[0, 0] == pytest.approx(-0.1, abs=1e-9)


def test_flagged_station_gets_nan_and_a_warning_while_others_are_fitted():
    rng = np.random.default_rng(15)
    clock, tec = truth(rng, 12, 22)
    phase = phases(clock, tec, FREQS_HZ, rng, 0.0)
    weights = np.ones_like(phase)
    weights[..., 7] = 0.0
    weights[4, :, REF] = 0.0  # the reference is flagged at one time: nothing there
    phase[2, :, 9] = np.nan  # NaN counts as flagged
    with pytest.warns(LofarHiresWarning, match=r"stations \[7\]"):
        fit = separate_clock_tec(phase, weights, FREQS_HZ, REF)
    assert np.all(np.isnan(fit.clock_s[:, 7])) and np.all(fit.weights[:, 7] == 0)
    assert np.all(fit.weights[4] == 0) and np.all(np.isnan(fit.tec_tecu[4]))
    assert fit.weights[2, 9] == 0 and fit.weights[3, 9] == 1
    good = fit.weights > 0
    np.testing.assert_allclose(fit.clock_s[good], clock[good], atol=1e-15)
    np.testing.assert_allclose(fit.tec_tecu[good], tec[good], atol=1e-9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, w, f: (p, w[:, :, :-1], f, REF), "weights have shape"),
        (lambda p, w, f: (p, w, f[:-1], REF), "freqs_hz has shape"),
        (lambda p, w, f: (p, w, f[::-1], REF), "strictly increasing"),
        (lambda p, w, f: (p, w, f, 30), "ref=30 is out of range"),
        (lambda p, w, f: (p, np.zeros_like(w), f, REF), "all phase are flagged"),
        (lambda p, w, f: (p[0], w[0], f, REF), "phase must have 3 axes"),
        (lambda p, w, f: (p[:, :2], w[:, :2], f[:2], REF), "at least 3 channels"),
        (lambda p, w, f: (p, -w, f, REF), "non-negative"),
    ],
    ids=["weights-shape", "freqs-length", "freqs-order", "ref-range", "all-flagged", "axes", "channels",
         "negative-weights"],
)
def test_bad_input_raises_input_error(change, message):
    phase = np.zeros((3, 24, 5))
    with pytest.raises(InputError, match=message):
        separate_clock_tec(*change(phase, np.ones_like(phase), FREQS_HZ))


def test_flagged_reference_station_is_an_input_error():
    phase = np.zeros((3, 24, 5))
    weights = np.ones_like(phase)
    weights[..., 2] = 0.0
    with pytest.raises(InputError, match="reference station .index 2. has no valid solutions"):
        separate_clock_tec(phase, weights, FREQS_HZ, 2)


def test_a_first_slot_no_candidate_describes_keeps_the_alias_of_the_track():
    """48 channels of 0.5 MHz from 120 MHz, 30 slots, 0.006 rad noise per station (the tiny chain's band).

    In the first slot of two stations the phases carry what an unconverged DDECal solve leaves:
    0.025 rad rms of curvature that no clock and TEC describe, plus 85 % of the curvature that
    tells a neighbouring alias (clock +-3.8 ns, TEC -+0.049 TECU) from the true values. Judged
    against the station's noise the misfits favour the alias; judged against that slot's own
    misfit they cannot decide, and the track's continuity must. Required: every clock within
    0.1 ns (measured at most 0.036 ns; the neighbouring alias would be 3.8 ns off).
    """
    rng = np.random.default_rng(21)
    freqs = 120e6 + 0.5e6 * np.arange(48)
    t = np.arange(30)[:, None]
    clock = np.array([0.0, -13.8e-9, -3.8e-9, 13.5e-9]) + t * np.array([0.0, -5e-12, 1e-12, -3e-12])
    tec = np.array([0.0, -0.244, -0.48, 0.027]) - 0.0005 * t * np.array([0.0, 1.0, 1.0, 1.0])
    u = freqs / freqs.mean()
    alias = np.linalg.lstsq(np.stack([u, 1 / u], axis=-1), np.ones_like(u), rcond=None)[0]
    curvature = 2 * np.pi * (alias[0] * u + alias[1] / u - 1.0)  # the alias's phase minus 2 pi
    x = (freqs - freqs[0]) / np.ptp(freqs)
    nu = freqs[None, :, None]
    phase = 2 * np.pi * nu * clock[:, None, :] + TEC_PHASE_CONSTANT * tec[:, None, :] / nu
    phase[0, :, 1:3] += (0.85 * curvature + 0.035 * np.cos(3 * np.pi * x))[:, None]
    gauge = rng.uniform(-np.pi, np.pi, (30, len(freqs), 1))
    phase = wrap(phase + gauge + rng.normal(0.0, 0.006, phase.shape))
    fit = separate_clock_tec(phase, np.ones_like(phase), freqs, 0)
    assert np.all(fit.weights == 1.0)
    assert np.max(np.abs(fit.clock_s - clock)) < 0.1e-9, (fit.clock_s[0] - clock[0]) * 1e9
    assert np.max(np.abs(fit.tec_tecu - tec)) < 0.002
