"""The pure Dysco budget functions on synthetic visibilities with a known noise (seeded RNG)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.storage.dysco import (
    ErrorBudget,
    baseline_index,
    check_max_rms_increase,
    choose_data_bits,
    error_to_noise,
    estimate_noise,
    parse_data_bits,
    rms_increase,
    volume_saved,
)

CORR = [9, 10, 11, 12]


def synthetic(seed: int = 0, *, n_ant: int = 6, n_time: int = 40, n_chan: int = 8, signal_jy: float = 1.0,
              sigma_per_part_jy: float = 0.1):
    """Visibilities of a point source off-centre (phases that turn by up to ~1 rad per channel and time slot on
    the long baselines) plus Gaussian noise whose variance follows the weights (some baselines noisier)."""
    rng = np.random.default_rng(seed)
    a1, a2 = np.triu_indices(n_ant, 1)
    n_bl = a1.size
    ant1, ant2 = np.tile(a1, n_time), np.tile(a2, n_time)
    times = np.repeat(np.arange(n_time, dtype=float) * 10.0, n_bl)
    length = (a2 - a1)[None, :, None].astype(float)  # "baseline length" 1..n_ant-1
    t = np.arange(n_time)[:, None, None]
    k = np.arange(n_chan)[None, None, :]
    phase = 0.2 * length * t + 0.15 * length * k
    vis = signal_jy * np.exp(1j * phase)  # (time, baseline, chan)
    scale = np.where(a1 == 0, 2.0, 1.0)[None, :, None]  # antenna 0 is noisier (a smaller station)
    sigma = sigma_per_part_jy * scale
    noise = sigma * (rng.standard_normal(vis.shape) + 1j * rng.standard_normal(vis.shape))
    data = np.zeros((n_time, n_bl, n_chan, 4), complex)
    data[..., 0] = vis + noise
    data[..., 3] = vis + sigma * (rng.standard_normal(vis.shape) + 1j * rng.standard_normal(vis.shape))
    for c in (1, 2):
        data[..., c] = sigma * (rng.standard_normal(vis.shape) + 1j * rng.standard_normal(vis.shape))
    weights = np.broadcast_to(1.0 / sigma ** 2, vis.shape)[..., None].repeat(4, axis=-1)
    shape = (n_time * n_bl, n_chan, 4)
    return (data.reshape(shape), np.zeros(shape, bool), weights.reshape(shape), ant1, ant2, times,
            (2 * sigma[0, :, 0] ** 2))


def test_noise_estimate_recovers_the_injected_noise_under_a_strong_signal():
    """Per-baseline complex variance within 15 % of the truth, with a signal 10x the noise."""
    data, flags, weights, ant1, ant2, times, true_var = synthetic()
    bl, n_bl = baseline_index(ant1, ant2)
    est = estimate_noise(data, flags, weights, bl, n_bl, times, CORR)
    assert est.determined
    np.testing.assert_allclose(est.variance_jy2, true_var, rtol=0.15)


def test_noise_not_determined_when_signal_swamps_every_estimate():
    """No cross hands and a signal 10^5 x the noise: the noise is reported as not determined, and no rate chosen."""
    data, flags, weights, ant1, ant2, times, _ = synthetic(signal_jy=1e4, sigma_per_part_jy=0.1)
    data[..., 1:3] = 1e3 * np.exp(1j * np.arange(data.shape[0]))[:, None, None]  # leakage into the cross hands
    bl, n_bl = baseline_index(ant1, ant2)
    est = estimate_noise(data, flags, weights, bl, n_bl, times, CORR)
    assert not est.determined
    assert choose_data_bits([ErrorBudget(16, 0.0, 0.0)], 0.01, noise_determined=False) is None


def test_error_to_noise_of_a_known_error():
    """An error of a quarter of the noise variance per correlation gives error/noise 0.25 in Stokes I."""
    data, flags, weights, ant1, ant2, times, true_var = synthetic(1)
    bl, n_bl = baseline_index(ant1, ant2)
    est = estimate_noise(data, flags, weights, bl, n_bl, times, CORR)
    rng = np.random.default_rng(5)
    sigma_e = np.sqrt(true_var[bl] / 4 / 2)[:, None, None]
    err = sigma_e * (rng.standard_normal(data.shape) + 1j * rng.standard_normal(data.shape))
    natural, equal = error_to_noise(data, data + err, flags, weights, bl, est, CORR)
    assert natural == pytest.approx(0.25, rel=0.2) and equal == pytest.approx(0.25, rel=0.2)
    assert error_to_noise(data, data, flags, weights, bl, est, CORR) == (0.0, 0.0)


def test_choice_is_the_fewest_bits_below_the_bound():
    budgets = [ErrorBudget(b, r, r / 2) for b, r in ((4, 0.5), (6, 0.03), (8, 0.002), (10, 1e-4))]
    assert choose_data_bits(budgets, 0.01) == 8  # 6 bits: sqrt(1.03) - 1 = 1.5 %
    assert choose_data_bits(budgets, 0.02) == 6
    assert choose_data_bits(budgets, 1e-6) is None
    assert rms_increase(0.0) == 0.0 and rms_increase(0.21) == pytest.approx(0.1)
    assert volume_saved(1000, 400) == pytest.approx(0.6)


@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, math.nan, math.inf])
def test_bound_outside_0_1_is_refused(value):
    with pytest.raises(InputError, match="fraction"):
        check_max_rms_increase(value)


@pytest.mark.parametrize("text,allow_off,expected", [("auto", False, "auto"), ("6", False, 6), ("0", True, 0),
                                                     ("16", False, 16)])
def test_parse_data_bits(text, allow_off, expected):
    assert parse_data_bits(text, allow_off=allow_off) == expected


@pytest.mark.parametrize("text", ["5", "0", "32", "six", ""])
def test_unknown_bit_rate_is_refused(text):
    with pytest.raises(InputError, match="data bits"):
        parse_data_bits(text)
