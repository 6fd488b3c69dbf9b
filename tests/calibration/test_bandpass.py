"""Bandpass: time-median amplitudes with outlier channels flagged and interpolated.

Synthetic amplitude solutions: a bandpass per station and polarisation between 0.5 and 1.5
(overall gain, a curvature over the band and a 1 MHz ripple of 3 %), multiplied by a
scintillation of 3 % rms that changes with time (a scalar per station, normalised to a
time-median of 1: the bandpass scale and the mean scintillation are degenerate), 0.5 %
thermal noise per solution and a few flagged points.
"""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.calibration.bandpass import fit_bandpass, interpolate_flagged, running_median
from lofar_hires.errors import InputError, LofarHiresWarning

FREQS_HZ = np.linspace(120e6, 168e6, 240)  # one channel per 0.2 MHz subband


def bandpass_truth(rng: np.random.Generator, freqs_hz: np.ndarray, n_ant: int) -> np.ndarray:
    """``(freq, ant, pol)`` amplitudes between 0.5 and 1.5 with a 1 MHz ripple."""
    gain = rng.uniform(0.6, 1.35, (n_ant, 2))
    x = (freqs_hz - 150e6) / 40e6
    ripple = 1 + 0.03 * np.sin(2 * np.pi * freqs_hz[:, None, None] / 1e6 + rng.uniform(0, 2 * np.pi, (n_ant, 2)))
    return (1 - 0.1 * x**2)[:, None, None] * gain * ripple


def amplitudes(rng: np.random.Generator, bandpass: np.ndarray, n_time: int, scint_rms: float = 0.03,
               noise: float = 0.005) -> np.ndarray:
    """``(time, freq, ant, pol)`` amplitude solutions."""
    n_ant = bandpass.shape[1]
    scint = np.exp(scint_rms * rng.normal(size=(n_time, 1, n_ant, 1)))
    scint /= np.median(scint, axis=0, keepdims=True)
    return bandpass[None] * scint * (1 + noise * rng.normal(size=(n_time,) + bandpass.shape))


def test_recovers_bandpass_and_flags_outlier_channels():
    """24 stations, 60 times, 240 channels, 3 % scintillation, 0.5 % noise, 2 % flagged, 6 RFI channels.

    Required: measured channels within 0.5 % of the truth (measured maximum 0.35 %, rms 0.09 %; 0.89 % and 0.23 %
    with ``remove_scintillation=False``);
    exactly the injected channels flagged, and filled by linear interpolation within 5 % (measured
    3.5 %: two adjacent flagged channels leave a 0.6 MHz gap in a 1 MHz ripple of +-3 %).
    """
    rng = np.random.default_rng(41)
    truth = bandpass_truth(rng, FREQS_HZ, 24)
    amp = amplitudes(rng, truth, 60)
    weights = (rng.random(amp.shape) >= 0.02).astype(float)
    rfi = [(17, 3, 0), (18, 3, 0), (100, 5, 1), (150, 11, 0), (151, 12, 1), (239, 20, 1)]
    for f, a, p in rfi:
        amp[:, f, a, p] *= 1.5 if f % 2 else 0.4
    fit = fit_bandpass(amp, weights, FREQS_HZ)
    flagged = set(zip(*np.nonzero(fit.weights == 0)))
    assert flagged == set(rfi)
    assert fit.n_outliers == len(rfi)
    assert fit.flagged_fraction == pytest.approx(len(rfi) / truth.size)
    ratio = fit.bandpass / truth - 1
    assert np.max(np.abs(ratio[fit.weights > 0])) < 0.005
    assert np.max(np.abs(ratio[fit.weights == 0])) < 0.05


def test_no_channel_is_flagged_on_clean_data():
    """Ripple and scintillation alone flag nothing, on 240 channels and on 24 channels (ripple undersampled)."""
    rng = np.random.default_rng(42)
    for freqs in (FREQS_HZ, np.linspace(120e6, 168e6, 24)):
        truth = bandpass_truth(rng, freqs, 20)
        fit = fit_bandpass(amplitudes(rng, truth, 60), np.ones((60,) + truth.shape), freqs)
        assert fit.n_outliers == 0 and fit.flagged_fraction == 0.0
        assert np.max(np.abs(fit.bandpass / truth - 1)) < 0.005


def test_noise_free_recovery_is_exact():
    """Without thermal noise (scintillation only, time-median 1) the bandpass is exact to 1e-12."""
    rng = np.random.default_rng(43)
    truth = bandpass_truth(rng, FREQS_HZ, 21)
    fit = fit_bandpass(amplitudes(rng, truth, 31, noise=0.0), np.ones((31,) + truth.shape), FREQS_HZ)
    np.testing.assert_allclose(fit.bandpass, truth, rtol=1e-12)
    assert np.all(fit.weights == 1.0)


def test_flagged_channels_and_stations():
    """A channel without data is interpolated (weight 0); a station/polarisation without data is NaN + warning."""
    rng = np.random.default_rng(44)
    truth = bandpass_truth(rng, FREQS_HZ, 21)
    amp = amplitudes(rng, truth, 20, noise=0.0)
    weights = np.ones_like(amp)
    weights[:, 40, 2, 0] = 0.0
    amp[:, 41, 2, 0] = np.nan  # NaN counts as flagged
    weights[:, :, 7, 1] = 0.0
    with pytest.warns(LofarHiresWarning, match=r"\(7, 1\)"):
        fit = fit_bandpass(amp, weights, FREQS_HZ)
    assert np.isnan(fit.bandpass[:, 7, 1]).all() and np.all(fit.weights[:, 7, 1] == 0)
    assert np.isfinite(fit.bandpass[:, 7, 0]).all()
    assert fit.weights[40, 2, 0] == 0 and fit.weights[41, 2, 0] == 0 and fit.n_outliers == 0
    expected = truth[39, 2, 0] + (truth[42, 2, 0] - truth[39, 2, 0]) * np.array([1, 2]) / 3
    np.testing.assert_allclose(fit.bandpass[40:42, 2, 0], expected, rtol=1e-12)


def test_interpolate_flagged_inside_and_at_the_edges():
    freqs = np.array([1.0, 2.0, 4.0, 5.0, 6.0])
    values = np.array([[10.0, 0.0], [20.0, 0.0], [40.0, 7.0], [50.0, 0.0], [60.0, 0.0]])
    good = np.array([[False, False], [True, False], [False, True], [True, False], [False, False]])
    out = interpolate_flagged(values, good, freqs)
    np.testing.assert_allclose(out[:, 0], [20.0, 20.0, 40.0, 50.0, 50.0])
    np.testing.assert_allclose(out[:, 1], 7.0)
    assert np.isnan(interpolate_flagged(values, np.zeros_like(good), freqs)).all()


def test_running_median_ignores_nan_and_mirrors_the_edges():
    values = np.array([1.0, 2.0, np.nan, 100.0, 5.0, 6.0, 7.0])
    out = running_median(values, 3)
    np.testing.assert_allclose(out, [2.0, 1.5, 51.0, 52.5, 6.0, 6.0, 6.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, w, f, k: (a, w[:, :-1], f, k), "weights have shape"),
        (lambda a, w, f, k: (a, w, f[:-1], k), "freqs_hz has shape"),
        (lambda a, w, f, k: (a, 0 * w, f, k), "all amplitude are flagged"),
        (lambda a, w, f, k: (a[..., 0], w[..., 0], f, k), "amplitude must have 4 axes"),
        (lambda a, w, f, k: (a, w, f, dict(window_channels=4)), "window_channels must be an odd number"),
        (lambda a, w, f, k: (a, w, f, dict(outlier_sigma=0.0)), "outlier_sigma must be positive"),
        (lambda a, w, f, k: (a, w * np.nan, f, k), "finite and non-negative"),
    ],
    ids=["weights-shape", "freqs-length", "all-flagged", "axes", "window", "sigma", "nan-weights"],
)
def test_bad_input_raises_input_error(change, message):
    amp = np.ones((4, 24, 3, 2))
    a, w, f, kwargs = change(amp, np.ones_like(amp), np.linspace(120e6, 168e6, 24), {})
    with pytest.raises(InputError, match=message):
        fit_bandpass(a, w, f, **kwargs)


def test_plain_median_option_is_the_time_median_of_unflagged_solutions():
    rng = np.random.default_rng(45)
    truth = bandpass_truth(rng, FREQS_HZ, 20)
    amp = amplitudes(rng, truth, 15)
    weights = (rng.random(amp.shape) >= 0.1).astype(float)
    fit = fit_bandpass(amp, weights, FREQS_HZ, remove_scintillation=False)
    np.testing.assert_array_equal(fit.bandpass, np.nanmedian(np.where(weights > 0, amp, np.nan), axis=0))
