"""The phasediff score (``lofar_hires.selection.phasediff``) against references and hand-computed values.

Circular statistics against ``scipy.stats.circstd``; the circular-basis conversion of
visibilities against the gain conversion of :mod:`lofar_hires.solutions.jones` and the
element formulas of R = (X + iY)/sqrt(2), L = (X - iY)/sqrt(2); the R-L differences and
the score on synthetic phases with known spread (seeded); the solution-interval metric
against eq. 6.2 of de Jong et al. (2025) computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import circstd

from lofar_hires.errors import InputError
from lofar_hires.selection.phasediff import (
    circular_std,
    lin_to_circ_visibilities,
    phase_differences,
    phasediff_score,
    solint_from_score,
)
from lofar_hires.solutions.jones import Jones, lin_to_circ


def wrap(x: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * np.asarray(x)))


# ---------------------------------------------------------------------------------------------- circular_std


@pytest.mark.parametrize("spread_rad", [0.05, 0.5, 1.5, 3.0, 20.0], ids=lambda s: f"spread{s}")
def test_circular_std_matches_scipy(spread_rad):
    rng = np.random.default_rng(11)
    # Offsets beyond +-pi: the statistic must not depend on the wrapping.
    angles = rng.normal(2.5, spread_rad, 500) + 2 * np.pi * rng.integers(-3, 4, 500)
    expected = circstd(angles, high=np.pi, low=-np.pi)
    assert float(circular_std(angles)) == pytest.approx(expected, rel=1e-9)
    assert float(circular_std(wrap(angles))) == pytest.approx(expected, rel=1e-9)


def test_circular_std_zero_weight_excludes_value():
    rng = np.random.default_rng(12)
    angles = rng.normal(0.0, 0.7, 50)
    weights = np.ones(50)
    weights[[3, 17]] = 0.0
    garbage = angles.copy()
    garbage[[3, 17]] = [3.0, -2.9]
    expected = circstd(np.delete(angles, [3, 17]))
    assert float(circular_std(garbage, weights)) == pytest.approx(expected, rel=1e-12)


def test_circular_std_integer_weights_equal_repetition():
    rng = np.random.default_rng(13)
    angles = rng.uniform(-np.pi, np.pi, 30)
    counts = rng.integers(1, 5, 30)
    repeated = np.repeat(angles, counts)
    assert float(circular_std(angles, counts)) == pytest.approx(circstd(repeated), rel=1e-12)
    assert float(circular_std(angles, counts)) != pytest.approx(circstd(angles), rel=1e-3)


def test_circular_std_ignores_nans():
    rng = np.random.default_rng(14)
    angles = rng.normal(1.0, 0.8, 40)
    with_nan = np.concatenate([angles, [np.nan, np.nan]])
    assert float(circular_std(with_nan)) == pytest.approx(circstd(angles), rel=1e-12)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_circular_std_axis(axis):
    rng = np.random.default_rng(15)
    angles = rng.normal(0.0, rng.uniform(0.1, 2.0, (3, 4, 1)), (3, 4, 25))
    result = circular_std(angles, axis=axis)
    expected = circstd(angles, high=np.pi, low=-np.pi, axis=axis)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-9)


def test_circular_std_all_invalid_is_nan():
    assert np.isnan(circular_std(np.array([np.nan, np.nan])))
    assert np.isnan(circular_std(np.array([0.1, 0.2]), np.zeros(2)))
    # Per slice: one slice valid, one not.
    angles = np.array([[0.1, 0.3], [np.nan, np.nan]])
    result = circular_std(angles, axis=1)
    assert np.isfinite(result[0]) and np.isnan(result[1])


def test_circular_std_vanishing_resultant_is_inf():
    # exp(i pi) and exp(-i pi) have opposite imaginary rounding, so the phasors cancel exactly.
    assert circular_std(np.array([0.0, 0.0, np.pi, -np.pi])) == np.inf


def test_circular_std_rejects_negative_weights():
    with pytest.raises(InputError, match="non-negative"):
        circular_std(np.zeros(3), np.array([1.0, -0.1, 1.0]))


def test_circular_std_identical_values_is_zero():
    assert float(circular_std(np.full(10, 2.0))) == pytest.approx(0.0, abs=1e-7)


# ---------------------------------------------------------------------------------- lin_to_circ_visibilities


def random_complex(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def test_unpolarised_source_in_circular_basis():
    stokes_i = np.array([1.0, 2.5 - 0.3j, 0.0])
    lin = np.stack([stokes_i, 0 * stokes_i, 0 * stokes_i, stokes_i], axis=-1)
    circ = lin_to_circ_visibilities(lin)
    np.testing.assert_allclose(circ[:, 0], stokes_i, atol=1e-15)
    np.testing.assert_allclose(circ[:, 3], stokes_i, atol=1e-15)
    np.testing.assert_allclose(circ[:, 1:3], 0.0, atol=1e-15)


def test_visibility_conversion_consistent_with_gain_conversion():
    rng = np.random.default_rng(21)
    n = 20
    jp, jq = random_complex(rng, (n, 2, 2)), random_complex(rng, (n, 2, 2))
    stokes_i = rng.uniform(0.1, 5.0, n)
    brightness = stokes_i[:, None, None] * np.eye(2)
    vis_lin = jp @ brightness @ jq.conj().swapaxes(-1, -2)
    jcp = lin_to_circ(Jones(jp, "full")).data
    jcq = lin_to_circ(Jones(jq, "full")).data
    expected = jcp @ brightness @ jcq.conj().swapaxes(-1, -2)
    circ = lin_to_circ_visibilities(vis_lin.reshape(n, 4))
    assert circ.shape == (n, 4)
    np.testing.assert_allclose(circ.reshape(n, 2, 2), expected, atol=1e-12)


def test_visibility_conversion_element_formulas():
    # R = (X + iY)/sqrt(2), L = (X - iY)/sqrt(2): e.g. RR = <R R*> = (XX - i XY + i YX + YY) / 2.
    rng = np.random.default_rng(22)
    xx, xy, yx, yy = random_complex(rng, (4, 7, 3))
    circ = lin_to_circ_visibilities(np.stack([xx, xy, yx, yy], axis=-1))
    assert circ.shape == (7, 3, 4)
    np.testing.assert_allclose(circ[..., 0], (xx - 1j * xy + 1j * yx + yy) / 2, atol=1e-14)
    np.testing.assert_allclose(circ[..., 1], (xx + 1j * xy + 1j * yx - yy) / 2, atol=1e-14)
    np.testing.assert_allclose(circ[..., 2], (xx - 1j * xy - 1j * yx - yy) / 2, atol=1e-14)
    np.testing.assert_allclose(circ[..., 3], (xx + 1j * xy - 1j * yx + yy) / 2, atol=1e-14)


def test_stokes_v_only_gives_opposite_rr_and_ll():
    # XY = U + iV, YX = U - iV with U = 0: <R R*> = (-i XY + i YX)/2 = V, <L L*> = -V.
    v = np.array([0.7, -1.3])
    lin = np.stack([0 * v, 1j * v, -1j * v, 0 * v], axis=-1).astype(complex)
    circ = lin_to_circ_visibilities(lin)
    np.testing.assert_allclose(circ[:, 0], v, atol=1e-15)
    np.testing.assert_allclose(circ[:, 3], -v, atol=1e-15)
    np.testing.assert_allclose(circ[:, 1:3], 0.0, atol=1e-15)


def test_visibility_conversion_keeps_single_precision():
    rng = np.random.default_rng(23)
    data = random_complex(rng, (5, 4)).astype(np.complex64)
    circ = lin_to_circ_visibilities(data)
    assert circ.dtype == np.complex64
    np.testing.assert_allclose(circ, lin_to_circ_visibilities(data.astype(complex)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_corr", [1, 2, 3, 5])
def test_visibility_conversion_needs_four_correlations(n_corr):
    with pytest.raises(InputError, match="4 correlations"):
        lin_to_circ_visibilities(np.zeros((3, n_corr), complex))


# ----------------------------------------------------------------------------------------- phase_differences


def test_phase_differences_wrap_without_reference():
    rng = np.random.default_rng(31)
    phase = rng.uniform(-10.0, 10.0, (3, 4, 5, 2))
    diff, w = phase_differences(phase, np.ones_like(phase), None)
    assert diff.shape == w.shape == (3, 4, 5)
    assert np.all(diff > -np.pi) and np.all(diff <= np.pi)
    raw = phase[..., 0] - phase[..., 1]
    np.testing.assert_allclose(np.exp(1j * diff), np.exp(1j * raw), atol=1e-12)
    assert np.any(np.abs(raw) > np.pi)  # wrapping was exercised
    np.testing.assert_array_equal(w, 1.0)


def test_phase_differences_referenced_to_a_station():
    rng = np.random.default_rng(32)
    phase = rng.uniform(-np.pi, np.pi, (2, 3, 4, 2))
    diff, _ = phase_differences(phase, np.ones_like(phase), 2)
    raw = phase[..., 0] - phase[..., 1]
    np.testing.assert_array_equal(diff[:, :, 2], 0.0)
    np.testing.assert_allclose(np.exp(1j * diff), np.exp(1j * (raw - raw[:, :, 2:3])), atol=1e-12)


def test_phase_difference_weights_combine_pols_and_reference():
    rng = np.random.default_rng(33)
    phase = rng.uniform(-np.pi, np.pi, (2, 2, 3, 2))
    weight = rng.uniform(0.5, 2.0, phase.shape)
    weight[0, 0, 1, 1] = 0.0  # L of station 1 flagged in one cell
    weight[1, 1, 0, 0] = 0.0  # R of the reference flagged in another cell
    _, w = phase_differences(phase, weight, 0)
    pol_min = np.minimum(weight[..., 0], weight[..., 1])
    np.testing.assert_allclose(w, np.minimum(pol_min, pol_min[:, :, :1]))
    assert w[0, 0, 1] == 0.0
    assert np.all(w[1, 1, :] == 0.0)
    _, w_unref = phase_differences(phase, weight, None)
    np.testing.assert_allclose(w_unref, pol_min)
    assert np.all(w_unref[1, 1, 1:] > 0)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 4), (2, 3, 4, 1)], ids=str)
def test_phase_differences_need_two_pols_on_four_axes(shape):
    with pytest.raises(InputError, match="pol=2"):
        phase_differences(np.zeros(shape), np.ones(shape), None)


# ------------------------------------------------------------------------------------------- phasediff_score


def test_linear_ramp_and_time_offset_score_zero_but_curvature_does_not():
    rng = np.random.default_rng(41)
    n_time, n_freq, n_ant = 6, 24, 4
    chan = np.arange(n_freq)[None, :, None]
    offset = rng.uniform(-np.pi, np.pi, (n_time, 1, n_ant))  # a constant R-L offset per time and station
    weight = np.ones((n_time, n_freq, n_ant))
    mask = np.ones(n_ant, bool)
    linear = wrap(offset + 0.7 * chan)  # wrapped input: the differences jump by 2 pi
    score, per_station, n_values = phasediff_score(linear, weight, mask)
    assert score == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(per_station, 0.0, atol=1e-6)
    assert n_values == n_time * (n_freq - 1) * n_ant
    curvature = 0.004
    curved = wrap(offset + 0.7 * chan + curvature * chan**2)
    score_c, per_station_c, _ = phasediff_score(curved, weight, mask)
    # Channel differences: slope + curvature (2f + 1), the same for every time and station.
    expected_diffs = 0.7 + curvature * (2 * np.arange(n_freq - 1) + 1)
    assert score_c == pytest.approx(circstd(expected_diffs), rel=1e-9)
    np.testing.assert_allclose(per_station_c, circstd(expected_diffs), rtol=1e-9)
    assert score_c > 0.05


def test_station_dependent_ramps_are_flat_per_station_but_spread_when_pooled():
    # As in de Jong et al.'s GetSolint: the channel differences of all score stations are pooled as
    # they are, so stations with different Faraday slopes spread the pooled values.
    rng = np.random.default_rng(46)
    n_time, n_freq, n_ant = 5, 16, 4
    slope = rng.uniform(-0.8, 0.8, n_ant)
    diff = wrap(rng.uniform(-np.pi, np.pi, (n_time, 1, n_ant)) + slope * np.arange(n_freq)[None, :, None])
    score, per_station, _ = phasediff_score(diff, np.ones_like(diff), np.ones(n_ant, bool))
    np.testing.assert_allclose(per_station, 0.0, atol=1e-6)
    assert score == pytest.approx(circstd(slope), rel=1e-9)
    assert score > 0.1


def test_uniform_noise_scores_near_sqrt_ln_n():
    rng = np.random.default_rng(42)
    n_time, n_freq, n_ant = 10, 101, 3
    diff = rng.uniform(-np.pi, np.pi, (n_time, n_freq, n_ant))
    score, _, n_values = phasediff_score(diff, np.ones_like(diff), np.ones(n_ant, bool))
    assert n_values == 3000
    assert score == pytest.approx(math.sqrt(math.log(n_values)), abs=0.35)
    assert score > 2.0


@pytest.mark.parametrize("sigma_rad", [0.1, 0.3, 0.6, 1.0])
def test_gaussian_phase_noise_scores_sqrt2_sigma(sigma_rad):
    rng = np.random.default_rng(43)
    diff = wrap(rng.normal(0.5, sigma_rad, (20, 201, 5)))
    score, _, _ = phasediff_score(diff, np.ones_like(diff), np.ones(5, bool))
    assert score == pytest.approx(sigma_rad * math.sqrt(2.0), rel=0.05)


def test_station_mask_selects_stations():
    rng = np.random.default_rng(44)
    n_time, n_freq = 8, 30
    clean = 0.05 * np.arange(n_freq)[None, :, None] * np.ones((n_time, 1, 2))
    noisy = rng.uniform(-np.pi, np.pi, (n_time, n_freq, 2))
    diff = np.concatenate([clean, noisy], axis=2)  # stations 0, 1 clean; 2, 3 noise
    weight = np.ones_like(diff)
    score, per_station, n_values = phasediff_score(diff, weight, np.array([True, True, False, False]))
    assert score == pytest.approx(0.0, abs=1e-6)
    assert n_values == n_time * (n_freq - 1) * 2
    assert np.all(np.isnan(per_station[2:]))
    np.testing.assert_allclose(per_station[:2], 0.0, atol=1e-6)
    score_n, per_station_n, _ = phasediff_score(diff, weight, np.array([False, False, True, True]))
    assert score_n > 2.0
    assert np.all(np.isnan(per_station_n[:2]))
    for a in (2, 3):
        assert per_station_n[a] == pytest.approx(circstd(np.diff(noisy[:, :, a - 2], axis=1).ravel()), rel=1e-9)


def test_flagged_channel_excludes_both_adjacent_differences():
    n_time, n_freq = 4, 12
    diff = 0.1 * np.arange(n_freq)[None, :, None] * np.ones((n_time, 1, 2))
    weight = np.ones_like(diff)
    diff[:, 5, 0] = 2.9  # an outlier, flagged
    weight[:, 5, 0] = 0.0
    score, per_station, n_values = phasediff_score(diff, weight, np.ones(2, bool))
    assert score == pytest.approx(0.0, abs=1e-6)
    assert per_station[0] == pytest.approx(0.0, abs=1e-6)
    assert n_values == n_time * (n_freq - 1) * 2 - 2 * n_time
    weight[:, 5, 0] = 1.0
    assert phasediff_score(diff, weight, np.ones(2, bool))[0] > 0.3


def test_station_without_data_has_nan_score():
    rng = np.random.default_rng(45)
    diff = rng.normal(0.0, 0.2, (3, 6, 3))
    weight = np.ones_like(diff)
    weight[:, :, 1] = 0.0
    score, per_station, n_values = phasediff_score(diff, weight, np.ones(3, bool))
    assert np.isnan(per_station[1]) and np.all(np.isfinite(per_station[[0, 2]]))
    assert n_values == 3 * 5 * 2
    assert score == pytest.approx(circstd(np.diff(diff[:, :, [0, 2]], axis=1).ravel()), rel=1e-9)


def test_score_needs_two_channels():
    with pytest.raises(InputError, match="two channels"):
        phasediff_score(np.zeros((3, 1, 2)), np.ones((3, 1, 2)), np.ones(2, bool))


def test_score_needs_a_station():
    with pytest.raises(InputError, match="station selection is empty"):
        phasediff_score(np.zeros((3, 4, 2)), np.ones((3, 4, 2)), np.zeros(2, bool))


def test_score_of_all_flagged_stations_is_an_error():
    weight = np.ones((3, 4, 2))
    weight[:, :, 1] = 0.0
    with pytest.raises(InputError, match="flagged"):
        phasediff_score(np.zeros((3, 4, 2)), weight, np.array([False, True]))
    # Station 0 alone still scores.
    assert phasediff_score(np.zeros((3, 4, 2)), weight, np.array([True, False]))[0] == pytest.approx(0.0, abs=1e-7)


# ----------------------------------------------------------------------------------------- solint_from_score


def paper_minutes(score_rad: float, ref_min: float = 10.0, optimal_rad: float = 1.75) -> float:
    return ref_min * math.log(1 - (score_rad / math.pi) ** 2) / math.log(1 - (optimal_rad / math.pi) ** 2)


@pytest.mark.parametrize("formula", ["paper", "squared"])
def test_optimal_score_gives_reference_interval(formula):
    assert solint_from_score(1.75, formula) == pytest.approx(10.0, rel=1e-12)
    assert solint_from_score(1.2, formula, ref_solint_min=4.0, optimal_score_rad=1.2) == pytest.approx(4.0,
                                                                                                     rel=1e-12)


def test_hand_computed_intervals():
    assert solint_from_score(1.0, "paper") == pytest.approx(2.8757, abs=5e-4)
    assert solint_from_score(1.0, "paper") == pytest.approx(paper_minutes(1.0), rel=1e-12)
    assert solint_from_score(1.0, "paper") == pytest.approx(-26.92 * math.log(1 - (1 / math.pi) ** 2), abs=0.01)
    assert solint_from_score(1.0, "squared") == pytest.approx(0.82696, abs=5e-5)
    assert solint_from_score(1.0, "squared") == pytest.approx(10.0 * (paper_minutes(1.0) / 10.0) ** 2, rel=1e-12)
    # 2.0 rad: 10 ln(1 - 0.4053) / ln(1 - 0.3103) = 13.99 min.
    assert solint_from_score(2.0, "paper") == pytest.approx(paper_minutes(2.0), rel=1e-12)
    assert solint_from_score(2.0, "paper") == pytest.approx(13.99, abs=0.01)
    assert solint_from_score(0.0, "paper") == 0.0
    assert solint_from_score(1.0, "paper", ref_solint_min=20.0) == pytest.approx(2 * paper_minutes(1.0), rel=1e-12)


@pytest.mark.parametrize("score_rad", [0.5, 1.0, 2.0, 2.6, 3.0])
def test_paper_formula_matches_the_paper_approximation(score_rad):
    assert solint_from_score(score_rad, "paper") == pytest.approx(
        -26.92 * math.log(1 - (score_rad / math.pi) ** 2), rel=2e-3)


@pytest.mark.parametrize("formula", ["paper", "squared"])
def test_interval_increases_with_score(formula):
    values = [solint_from_score(s, formula) for s in np.linspace(0.01, 3.1, 60)]
    assert np.all(np.diff(values) > 0)


@pytest.mark.parametrize("score_rad", [math.pi, 3.5, 10.0])
def test_noise_scores_give_infinite_interval(score_rad):
    assert solint_from_score(score_rad, "paper") == math.inf
    assert solint_from_score(score_rad, "squared") == math.inf


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"score_rad": 1.0, "formula": "linear"}, "unknown solution-interval formula"),
        ({"score_rad": 1.0, "optimal_score_rad": 0.0}, "optimal_score_rad"),
        ({"score_rad": 1.0, "optimal_score_rad": math.pi}, "optimal_score_rad"),
        ({"score_rad": 1.0, "optimal_score_rad": -1.0}, "optimal_score_rad"),
        ({"score_rad": 1.0, "ref_solint_min": 0.0}, "ref_solint_min"),
        ({"score_rad": -0.1}, "non-negative"),
        ({"score_rad": math.nan}, "non-negative"),
    ],
    ids=["formula", "optimal0", "optimal_pi", "optimal_neg", "ref0", "negative", "nan"],
)
def test_solint_rejects_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        solint_from_score(**kwargs)
