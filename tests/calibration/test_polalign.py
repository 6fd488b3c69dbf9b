"""Polarisation alignment: closed-loop recovery of XX-YY delays from diagonal phase solutions.

Synthetic solutions follow DP3's conventions: the Y gain carries ``-2 pi nu delay`` (and
``-offset``) relative to X, both polarisations share a station phase (clock and TEC here),
each polarisation has its own arbitrary common phase per time and channel (the gauge),
Gaussian noise per gain phase, wrapping into ``(-pi, pi]`` and a few flagged points.
"""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.calibration.phases import wrap
from lofar_hires.calibration.polalign import fit_polalign, fit_reference_delay, polalign_soltab_values
from lofar_hires.errors import InputError, LofarHiresWarning
from lofar_hires.physics import TEC_PHASE_CONSTANT

REF = 2
FREQS_HZ = np.linspace(120e6, 168e6, 24)


def solutions(rng: np.random.Generator, freqs_hz: np.ndarray, n_time: int, delay_s: np.ndarray,
              offset_rad: np.ndarray, noise_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """Wrapped XX and YY phases ``(time, freq, ant)``."""
    n_ant = len(delay_s)
    nu = freqs_hz[None, :, None]
    clock = rng.uniform(-60e-9, 60e-9, (n_time, 1, n_ant))
    tec = rng.uniform(-2, 2, (n_time, 1, n_ant))
    scalar = 2 * np.pi * nu * clock + TEC_PHASE_CONSTANT * tec / nu
    gauge_x, gauge_y = rng.uniform(-np.pi, np.pi, (2, n_time, len(freqs_hz), 1))
    xx = scalar + gauge_x + rng.normal(0, noise_rad, scalar.shape)
    yy = scalar - 2 * np.pi * nu * delay_s - offset_rad + gauge_y + rng.normal(0, noise_rad, scalar.shape)
    return wrap(xx), wrap(yy)


def truth(rng: np.random.Generator, n_ant: int) -> tuple[np.ndarray, np.ndarray]:
    delay = rng.uniform(-3e-9, 3e-9, n_ant)
    offset = rng.uniform(-np.pi, np.pi, n_ant)
    delay[REF] = offset[REF] = 0.0
    return delay, offset


def test_recovers_delays_with_noise():
    """24 stations, 60 times, 240 channels (one per 0.2 MHz subband), 0.05 rad noise per gain
    phase (0.1 rad on the referenced XX-YY difference), 2 % flagged.

    Required: every delay within 0.05 ns (measured maximum 0.016 ns, rms 0.007 ns; expected
    1-sigma 0.01 ns) and every offset within 0.05 rad (measured maximum 0.015 rad).
    """
    rng = np.random.default_rng(21)
    freqs = np.linspace(120e6, 168e6, 240)
    delay, offset = truth(rng, 24)
    xx, yy = solutions(rng, freqs, 60, delay, offset, 0.05)
    weights = (rng.random(xx.shape) >= 0.02).astype(float)
    fit = fit_polalign(xx, yy, weights, freqs, REF)
    assert np.max(np.abs(fit.delay_s - delay)) < 0.05e-9
    assert np.max(np.abs(wrap(fit.offset_rad - offset))) < 0.05
    assert fit.delay_s[REF] == 0.0 and fit.offset_rad[REF] == 0.0
    assert np.all(np.abs(np.delete(fit.rms_rad, REF) - 0.1) < 0.01)
    assert np.all(fit.n_points == np.count_nonzero((weights > 0) & (weights[..., [REF]] > 0), axis=(0, 1)))


def test_recovers_delays_on_24_channels_with_noise():
    """24 channels, 60 times, 0.05 rad noise per gain phase: delays within 0.15 ns (measured
    maximum 0.064 ns, rms 0.037 ns; expected 1-sigma 0.03 ns for 1440 points with 0.1 rad noise)."""
    rng = np.random.default_rng(22)
    delay, offset = truth(rng, 24)
    xx, yy = solutions(rng, FREQS_HZ, 60, delay, offset, 0.05)
    fit = fit_polalign(xx, yy, np.ones_like(xx), FREQS_HZ, REF)
    assert np.max(np.abs(fit.delay_s - delay)) < 0.15e-9


@pytest.mark.parametrize("with_offset", [True, False], ids=["offset", "no-offset"])
def test_noise_free_recovery_is_exact(with_offset):
    """Without noise: delays to 1e-6 relative, also for delays of tens of ns (many wraps)."""
    rng = np.random.default_rng(23)
    delay, offset = truth(rng, 22)
    delay[5] = 40e-9
    if not with_offset:
        offset[:] = 0.0
    xx, yy = solutions(rng, FREQS_HZ, 8, delay, offset, 0.0)
    fit = fit_polalign(xx, yy, np.ones_like(xx), FREQS_HZ, REF, with_offset=with_offset)
    np.testing.assert_allclose(fit.delay_s, delay, rtol=0, atol=1e-6 * np.abs(delay).max())
    np.testing.assert_allclose(wrap(fit.offset_rad - offset), 0.0, atol=1e-6)
    assert np.max(fit.rms_rad) < 1e-8


def test_sign_conventions_against_values_computed_by_hand():
    """A Y delay of +1 ns gives YY phase -2 pi 150e6 1e-9 = -0.942478 rad at 150 MHz, so XX-YY = +0.942478:
    the fit gives +1 ns and the soltab holds the gain (YY = -0.942478), which applycal divides out."""
    freqs = np.arange(120e6, 170e6, 2e6)  # 150 MHz is channel 15
    yy = np.zeros((1, len(freqs), 2))
    yy[0, :, 1] = -2 * np.pi * freqs * 1e-9
    assert yy[0, 15, 1] == pytest.approx(-0.942478, abs=1e-6)
    xx = np.zeros_like(yy)
    fit = fit_polalign(xx, wrap(yy), np.ones_like(xx), freqs, 0)
    assert fit.delay_s[1] == pytest.approx(1e-9, abs=1e-16)
    assert fit.offset_rad[1] == pytest.approx(0.0, abs=1e-9)
    values = polalign_soltab_values(fit, freqs)
    assert values.shape == (len(freqs), 2, 2)
    assert values[15, 1, 1] == pytest.approx(-0.942478, abs=1e-6)
    assert np.all(values[..., 0] == 0.0) and np.all(values[:, 0, :] == 0.0)
    # Correcting the gains with the soltab (dividing by exp(i value)) aligns XX and YY.
    corrected_yy = wrap(yy[0] - values[..., 1])
    np.testing.assert_allclose(corrected_yy, 0.0, atol=1e-9)


def test_soltab_values_match_the_simulator_convention():
    """The soltab equals the simulator's polalign truth (0 on X, -2 pi nu delay on Y)."""
    from lofar_hires.simulation.corruptions import InstrumentTruth, polalign_phase

    delay = np.array([0.0, 1.5e-9, -2.5e-9])
    inst = InstrumentTruth(delay, np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)))
    sim = polalign_phase(inst, FREQS_HZ)  # (freq, ant, pol)
    xx, yy = sim[None, ..., 0], sim[None, ..., 1]
    fit = fit_polalign(xx, yy, np.ones_like(xx), FREQS_HZ, 0)
    np.testing.assert_allclose(wrap(polalign_soltab_values(fit, FREQS_HZ) - sim), 0.0, atol=1e-9)


def test_flagged_station_gets_nan_and_a_warning_while_others_are_fitted():
    rng = np.random.default_rng(24)
    delay, offset = truth(rng, 21)
    xx, yy = solutions(rng, FREQS_HZ, 6, delay, offset, 0.0)
    weights = np.ones_like(xx)
    weights[..., 4] = 0.0
    yy[..., 6] = np.nan  # NaN counts as flagged
    weights[:, :, 8] = 0.0
    weights[:, 3, 8] = 1.0  # one channel only: cannot separate delay and offset
    with pytest.warns(LofarHiresWarning) as record:
        fit = fit_polalign(xx, yy, weights, FREQS_HZ, REF)
    messages = " ".join(str(r.message) for r in record)
    assert "stations [4, 6] have no valid data" in messages and "stations [8] have too few" in messages
    assert np.isnan(fit.delay_s[[4, 6, 8]]).all() and np.isnan(fit.offset_rad[[4, 6, 8]]).all()
    assert fit.n_points[4] == 0
    good = np.setdiff1d(np.arange(21), [4, 6, 8])
    np.testing.assert_allclose(fit.delay_s[good], delay[good], atol=1e-15)
    values = polalign_soltab_values(fit, FREQS_HZ)
    assert np.isnan(values[:, 4]).all() and np.isfinite(values[:, good]).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x, y, w, f: (x, y[:, :, :-1], w, f, REF), "phase_yy has shape"),
        (lambda x, y, w, f: (x, y, w[:-1], f, REF), "weights have shape"),
        (lambda x, y, w, f: (x, y, w, f[:-1], REF), "freqs_hz has shape"),
        (lambda x, y, w, f: (x, y, w, f, 5), "ref=5 is out of range"),
        (lambda x, y, w, f: (x, y, w, f, -1), "ref=-1 is out of range"),
        (lambda x, y, w, f: (x, y, 0 * w, f, REF), "all phase_xx - phase_yy are flagged"),
        (lambda x, y, w, f: (x[0], y[0], w[0], f, REF), "phase_xx must have 3 axes"),
    ],
    ids=["pol-shapes", "weights-shape", "freqs-length", "ref-range", "ref-negative", "all-flagged", "axes"],
)
def test_bad_input_raises_input_error(change, message):
    xx = np.zeros((3, 24, 5))
    with pytest.raises(InputError, match=message):
        fit_polalign(*change(xx, xx.copy(), np.ones_like(xx), FREQS_HZ))


@pytest.mark.parametrize("ref_delay_ns", [0.253, -0.4, 2.2])
def test_reference_delay_on_a_narrow_band_is_not_an_alias(ref_delay_ns):
    """The tiny field's band (48 channels of 0.5 MHz from 120 MHz, 24 MHz wide): a delay about 1/(2 nu) away
    from the true one turns the X-Y phase by half a turn at the band centre and loses little coherence of
    the doubled phases, while the grid point next to the true delay lost more; a reference delay of
    0.253 ns came out as 4.04 ns (or -3.47 ns on the tiny run), which put the Faraday rotation on the wrong
    branch (RMs of the wrong sign). Required: within 0.01 ns, and the alias reported less coherent."""
    rng = np.random.default_rng(3)
    freqs = 120e6 + 0.5e6 * np.arange(48)
    relative = np.array([0.98, 0.0, -0.27, -1.1, -1.65, 1.13, -1.07, 0.23]) * 1e-9
    absolute = relative + ref_delay_ns * 1e-9
    diff = 2 * np.pi * freqs[None, :, None] * absolute[None, None, :]
    gauge = rng.uniform(-np.pi, np.pi, (30, len(freqs), 1))
    xx = wrap(gauge + diff / 2 + rng.normal(0, 0.01, diff.shape[:2] + (len(relative),)))
    yy = wrap(gauge - diff / 2 + rng.normal(0, 0.01, xx.shape))
    weights = np.ones_like(xx)
    fit = fit_polalign(xx, yy, weights, freqs, 1)
    absolute_fit = fit_reference_delay(xx, yy, weights, freqs, fit, delay_range_s=0.5e-6)
    assert absolute_fit.delay_s == pytest.approx(ref_delay_ns * 1e-9, abs=0.01e-9)
    assert absolute_fit.coherence > 0.99 and absolute_fit.alias_coherence < absolute_fit.coherence - 0.03
    assert abs(abs(absolute_fit.alias_delay_s - absolute_fit.delay_s) - 1 / (2 * 131.75e6)) < 0.5e-9


def test_reference_delay_leaves_out_slots_that_had_not_settled():
    """Three of 30 slots with a common X-Y phase that had not settled (random per channel, as where DDECal
    stopped at maxiter on the tiny field): they are left out, so the delay is that of the other slots and
    the reported coherence is theirs (0.9 with them)."""
    rng = np.random.default_rng(5)
    freqs = 120e6 + 0.5e6 * np.arange(48)
    absolute = np.array([0.98, 0.0, -0.27, -1.1, -1.65, 1.13, -1.07, 0.23]) * 1e-9 + 0.253e-9
    diff = 2 * np.pi * freqs[None, :, None] * absolute[None, None, :]
    gauge = rng.uniform(-np.pi, np.pi, (30, len(freqs), 1))
    unsettled = np.zeros((30, len(freqs), 1))
    unsettled[12:15] = rng.uniform(-np.pi, np.pi, (3, len(freqs), 1))
    xx = wrap(gauge + diff / 2 + unsettled + rng.normal(0, 0.01, (30, len(freqs), len(absolute))))
    yy = wrap(gauge - diff / 2 + rng.normal(0, 0.01, xx.shape))
    weights = np.ones_like(xx)
    fit = fit_polalign(xx, yy, weights, freqs, 1)
    absolute_fit = fit_reference_delay(xx, yy, weights, freqs, fit, delay_range_s=0.5e-6)
    assert absolute_fit.delay_s == pytest.approx(0.253e-9, abs=0.01e-9)
    assert absolute_fit.coherence > 0.99
