"""The noise level of the phasediff score (``lofar_hires.selection.noise``) against brute force.

The threshold formula (Zar's approximation of the Rayleigh test) against direct seeded simulations
of N uniform phases; the minimum number of values of the stated principle; the simulation through the
score's own functions (reference station, channel differences, flags, weights) against the count of
values and the effective number of values; the cache.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.selection import noise
from lofar_hires.selection.noise import (
    minimum_values,
    noise_level,
    noise_median_rad,
    noise_threshold_rad,
    simulate_noise,
)
from lofar_hires.selection.phasediff import phase_differences, phasediff_score


def brute_force_scores(n_values: int, n_draws: int, seed: int) -> np.ndarray:
    """sigma_c of ``n_values`` independent uniform phases, ``n_draws`` times."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n_draws, 20000):
        phases = rng.uniform(-np.pi, np.pi, (min(20000, n_draws - start), n_values))
        resultant = np.hypot(np.cos(phases).mean(axis=1), np.sin(phases).mean(axis=1))
        out.append(np.sqrt(-2.0 * np.log(resultant)))
    return np.concatenate(out)


# ------------------------------------------------------------------------------------------- the formula


@pytest.mark.parametrize("n_values, n_draws", [(14, 200_000), (60, 100_000), (376, 30_000)])
def test_threshold_and_median_match_brute_force(n_values, n_draws):
    scores = brute_force_scores(n_values, n_draws, seed=n_values)
    assert noise_median_rad(n_values) == pytest.approx(np.median(scores), abs=0.01)
    assert noise_threshold_rad(n_values, 1e-2) == pytest.approx(np.quantile(scores, 1e-2), abs=0.015)
    if n_draws >= 100_000:  # at least 100 draws in the 1e-3 tail
        assert noise_threshold_rad(n_values, 1e-3) == pytest.approx(np.quantile(scores, 1e-3), abs=0.03)


def test_noise_scores_about_sqrt_ln_n():
    # The brief's rule of thumb: the mean noise score is about sqrt(ln N + 0.58) (N R^2 ~ Exp(1)).
    for n in (50, 400, 3000):
        assert noise_median_rad(n) == pytest.approx(math.sqrt(math.log(n) + 0.58), abs=0.06)
    assert noise_median_rad(3224) == pytest.approx(2.906, abs=0.002)  # the demo's "select" band


def test_threshold_grows_with_n_and_with_the_probability():
    values = [noise_threshold_rad(n, 1e-3) for n in (5, 10, 50, 100, 1000, 10000)]
    assert values[0] == 0.0  # 5 values cannot show anything at 1e-3: even equal phases are not that rare
    assert np.all(np.diff(values) > 0)
    assert noise_threshold_rad(100, 1e-4) < noise_threshold_rad(100, 1e-3) < noise_threshold_rad(100, 0.5)


def test_minimum_values_reaches_the_main_threshold():
    n = minimum_values(2.0, 1e-3)
    assert n == 376
    assert noise_threshold_rad(n, 1e-3) >= 2.0 > noise_threshold_rad(n - 1, 1e-3)
    assert minimum_values(2.0, 1e-2) == 251
    assert minimum_values(1.5, 1e-3) < n < minimum_values(2.3, 1e-3)


@pytest.mark.parametrize("kwargs, match", [
    ({"main_max_rad": 2.0, "false_alarm": 0.0}, "false_alarm"),
    ({"main_max_rad": 2.0, "false_alarm": 0.7}, "false_alarm"),
    ({"main_max_rad": 2.0, "false_alarm": math.nan}, "false_alarm"),
    ({"main_max_rad": 3.5, "false_alarm": 1e-3}, "main_max_rad"),
], ids=["zero", "large", "nan", "main_above_pi"])
def test_minimum_values_refuses_bad_settings(kwargs, match):
    with pytest.raises(InputError, match=match):
        minimum_values(**kwargs)


def test_threshold_refuses_bad_arguments():
    with pytest.raises(InputError, match="must be positive"):
        noise_threshold_rad(0, 1e-3)
    with pytest.raises(InputError, match="false-alarm"):
        noise_threshold_rad(10, 1.0)


# ------------------------------------------------------------------------------- the simulation


def layout(n_time=4, n_freq=12, n_ant=5) -> tuple[np.ndarray, np.ndarray, int]:
    """Weights (time, freq, ant, pol) of a score: stations 0..3 scored, station 4 the reference."""
    mask = np.array([True] * (n_ant - 1) + [False])
    return np.ones((n_time, n_freq, n_ant, 2)), mask, n_ant - 1


def test_simulation_runs_the_scores_own_functions():
    weight, mask, ref = layout()
    scores, resultant_sq = simulate_noise(weight, ref, mask, n_draws=3, seed=7)
    rng = np.random.default_rng(7)
    phases = rng.uniform(-np.pi, np.pi, (3, *weight.shape))
    for k in range(3):
        diff, dw = phase_differences(phases[k], weight, ref)
        assert scores[k] == pytest.approx(phasediff_score(diff, dw, mask)[0], rel=1e-12)
    np.testing.assert_allclose(resultant_sq, np.exp(-scores**2))


def test_referenced_channel_differences_are_independent():
    # Referencing and channel differencing share phases between values, but uniform phases stay
    # independent: the noise of N such values is that of N independent phases.
    weight, mask, ref = layout(n_time=6, n_freq=20, n_ant=5)
    level = noise_level(weight, ref, mask, n_draws=4000)
    assert level.n_values == 6 * 19 * 4
    assert level.n_effective == pytest.approx(level.n_values, rel=0.05)
    assert level.median_rad == pytest.approx(noise_median_rad(level.n_values), abs=0.03)
    assert level.threshold_rad == pytest.approx(noise_threshold_rad(level.n_values, 1e-3), abs=0.02)
    assert (level.false_alarm, level.n_draws) == (1e-3, 4000)


def test_flags_reduce_the_values_as_the_score_counts_them():
    weight, mask, ref = layout(n_time=5, n_freq=16, n_ant=5)
    weight[:, 7, 1, 0] = 0.0  # R of station 1 flagged in one channel: two differences lost per interval
    weight[2, :, 4, 1] = 0.0  # L of the reference flagged in one interval: the whole interval lost
    weight[:, :, 3, :] = 0.0  # station 3 flagged
    level = noise_level(weight, ref, mask, n_draws=2000)
    diff, dw = phase_differences(np.zeros_like(weight), weight, ref)
    assert level.n_values == phasediff_score(diff, dw, mask)[2] == (4 * 15 * 3) - (4 * 2)
    assert level.n_effective == pytest.approx(level.n_values, rel=0.06)


def test_unequal_weights_give_the_effective_number_of_values():
    weight, mask, ref = layout(n_time=8, n_freq=20, n_ant=5)
    rng = np.random.default_rng(3)
    weight = weight * rng.uniform(0.05, 1.0, weight.shape[:3])[..., None]
    diff, dw = phase_differences(np.zeros_like(weight), weight, ref)
    dweight = np.minimum(dw[:, 1:], dw[:, :-1])[..., mask]
    kish = dweight.sum() ** 2 / np.square(dweight).sum()
    level = noise_level(weight, ref, mask, n_draws=4000)
    assert kish < 0.95 * level.n_values
    assert level.n_effective == pytest.approx(kish, rel=0.05)


def test_stations_outside_the_mask_do_not_matter():
    weight, mask, ref = layout()
    other = np.concatenate([weight, np.zeros((4, 12, 2, 2))], axis=2)  # two flagged stations, not scored
    a = noise_level(weight, ref, mask, n_draws=500)
    b = noise_level(other, ref, np.concatenate([mask, [False, False]]), n_draws=500)
    assert (a.median_rad, a.n_effective, a.n_values) == (b.median_rad, b.n_effective, b.n_values)


def test_levels_are_cached_per_weight_pattern(monkeypatch):
    noise.clear_cache()
    calls = []
    real = noise.simulate_noise
    monkeypatch.setattr(noise, "simulate_noise", lambda *a, **k: calls.append(1) or real(*a, **k))
    weight, mask, ref = layout()
    first = noise_level(weight, ref, mask, n_draws=1000)
    assert noise_level(weight.copy(), ref, mask, n_draws=1000) == first and len(calls) == 1
    # Another false-alarm probability reuses the simulation; another pattern or draw count does not.
    assert noise_level(weight, ref, mask, false_alarm=1e-2, n_draws=1000).median_rad == first.median_rad
    assert len(calls) == 1
    noise_level(weight, ref, mask, n_draws=1001)
    weight[0, 0, 0, 0] = 0.0
    assert noise_level(weight, ref, mask, n_draws=1000).n_values == first.n_values - 1
    assert len(calls) == 3


def test_simulation_refuses_unusable_input():
    weight, mask, ref = layout()
    with pytest.raises(InputError, match="flagged"):
        noise_level(np.zeros_like(weight), ref, mask)
    with pytest.raises(InputError, match="pol=2"):
        simulate_noise(weight[..., :1], ref, mask)
    with pytest.raises(InputError, match="false_alarm"):
        noise_level(weight, ref, mask, false_alarm=0.9)
