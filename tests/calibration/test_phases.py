"""Phase helpers and the input checks shared by the calibrator-pipeline fits."""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.calibration.phases import (
    check_freqs,
    check_reference,
    check_weights,
    circular_mean,
    coherence,
    phasor_sum,
    reference_phases,
    reference_phases_to_group,
    reference_weights,
    weighted_rms,
    wrap,
    wrap_half,
    wrapped_least_squares,
)
from lofar_hires.errors import InputError


def test_wrap_maps_into_half_open_interval():
    values = np.array([0.0, np.pi, -np.pi, 3 * np.pi, -3 * np.pi, 2 * np.pi, 7.0, -7.0, np.nan])
    out = wrap(values)
    np.testing.assert_allclose(out[:8], [0.0, np.pi, np.pi, np.pi, np.pi, 0.0, 7.0 - 2 * np.pi,
                                         -7.0 + 2 * np.pi], atol=1e-12)
    assert np.isnan(out[8])
    x = np.random.default_rng(1).uniform(-50, 50, 1000)
    assert np.all((wrap(x) > -np.pi) & (wrap(x) <= np.pi))
    np.testing.assert_allclose(np.exp(1j * wrap(x)), np.exp(1j * x), atol=1e-12)


def test_wrap_half_for_rotation_angles():
    np.testing.assert_allclose(wrap_half(np.array([np.pi / 2, -np.pi / 2, 2.0, np.pi])),
                               [np.pi / 2, np.pi / 2, 2.0 - np.pi, 0.0], atol=1e-12)


def test_reference_phases_remove_a_common_gauge():
    rng = np.random.default_rng(2)
    station = rng.uniform(-10, 10, (4, 6, 5))
    gauge = rng.uniform(-np.pi, np.pi, (4, 6, 1))
    out = reference_phases(station + gauge, ant_axis=2, ref=1)
    np.testing.assert_allclose(np.exp(1j * out), np.exp(1j * (station - station[..., [1]])), atol=1e-12)
    assert np.all(out[..., 1] == 0.0)
    # Station axis first, negative axis index.
    out0 = reference_phases(np.moveaxis(station + gauge, 2, 0), ant_axis=-3, ref=1)
    np.testing.assert_allclose(np.moveaxis(out0, 0, 2), out, atol=1e-12)


def test_phases_relative_to_a_groups_circular_mean_ignore_flagged_members():
    rng = np.random.default_rng(3)
    station = rng.normal(0.0, 0.3, (4, 6, 5))
    gauge = rng.uniform(-np.pi, np.pi, (4, 6, 1))
    w = np.ones_like(station)
    out = reference_phases_to_group(station + gauge, w, ant_axis=2, group=[0, 1, 2])
    mean = np.angle(np.exp(1j * station[..., :3]).sum(-1, keepdims=True))
    np.testing.assert_allclose(np.exp(1j * out), np.exp(1j * (station - mean)), atol=1e-12)
    # the group's members scatter about zero; one station as reference would not
    assert abs(np.angle(np.exp(1j * out[..., :3]).sum(-1))).max() < 1e-12
    # a flagged (or NaN) member leaves the mean; a point where the whole group is flagged becomes NaN
    w[0, 0, 0] = 0.0
    bad = station + gauge
    bad[0, 1, 1] = np.nan
    out = reference_phases_to_group(bad, w, ant_axis=2, group=[0, 1])
    np.testing.assert_allclose(out[0, 0, 3], np.angle(np.exp(1j * (station[0, 0, 3] - station[0, 0, 1]))), atol=1e-12)
    w[0, 1, 0] = 0.0
    assert np.all(np.isnan(reference_phases_to_group(bad, w, ant_axis=2, group=[0, 1])[0, 1]))
    with pytest.raises(InputError, match="no station"):
        reference_phases_to_group(station, w, ant_axis=2, group=[])
    with pytest.raises(InputError, match="differ in shape"):
        reference_phases_to_group(station, w[..., :2], ant_axis=2, group=[0])
    with pytest.raises(InputError):
        reference_phases_to_group(station, w, ant_axis=2, group=[7])


def test_reference_weights_flag_where_the_reference_is_flagged():
    w = np.ones((2, 3))
    w[0, 1] = 0.0
    np.testing.assert_array_equal(reference_weights(w, ant_axis=1, ref=1), [[0, 0, 0], [1, 1, 1]])


def test_circular_mean_is_robust_to_wrapping():
    assert circular_mean(np.array([np.pi - 0.1, -np.pi + 0.1])) == pytest.approx(np.pi)
    assert circular_mean(np.array([0.2, 0.4, 3.0]), np.array([1.0, 1.0, 0.0])) == pytest.approx(0.3)
    assert np.isnan(circular_mean(np.array([np.nan, 1.0]), np.array([1.0, 0.0])))
    rows = circular_mean(np.array([[0.1, 0.3], [3.1, -3.1]]), axis=1)
    np.testing.assert_allclose(rows, [0.2, np.pi], atol=1e-12)


def test_phasor_sum_and_coherence():
    assert phasor_sum(np.array([0.0, np.pi])) == pytest.approx(0.0)
    assert coherence(np.full(5, 2.0)) == pytest.approx(1.0)
    assert coherence(np.array([0.0, np.pi / 2]), np.array([1.0, 1.0])) == pytest.approx(np.sqrt(0.5))
    assert np.isnan(coherence(np.array([1.0]), np.array([0.0])))


def test_wrapped_least_squares_fits_a_wrapped_line_and_marks_singular_problems():
    x = np.linspace(0.8, 1.2, 20)
    design = np.stack([x, np.ones_like(x)], axis=-1)
    truth = np.array([[30.0, 1.0], [-12.0, -2.5]])
    data = wrap(truth @ design.T)
    weights = np.ones((3, 20))
    weights[2, 1:] = 0.0  # one point for two parameters
    start = np.vstack([truth + 0.3, [[0.0, 0.0]]])
    params, residual, valid = wrapped_least_squares(np.vstack([data, data[:1]]), weights, design, start)
    np.testing.assert_allclose(params[:2], truth, atol=1e-10)
    np.testing.assert_allclose(residual[:2], 0.0, atol=1e-10)
    assert valid.tolist() == [True, True, False] and np.isnan(params[2]).all()


def test_weighted_rms():
    r = np.array([[1.0, 3.0, np.nan], [0.0, 0.0, 0.0]])
    w = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    out = weighted_rms(r, w, axis=1)
    assert out[0] == pytest.approx(np.sqrt(5.0)) and np.isnan(out[1])


def test_checks_raise_input_error_with_the_argument_named():
    with pytest.raises(InputError, match=r"ref=4 is out of range: the solutions have 4 stations \(valid .* 0..3\)"):
        check_reference(4, 4)
    with pytest.raises(InputError, match="ref must be a station index"):
        check_reference(1.0, 4)
    with pytest.raises(InputError, match="ref must be a station index"):
        check_reference(True, 4)
    assert check_reference(np.int64(2), 4) == 2
    with pytest.raises(InputError, match="strictly increasing"):
        check_freqs(np.array([2.0, 1.0]), 2)
    with pytest.raises(InputError, match="freqs_hz has shape"):
        check_freqs(np.array([1.0, 2.0]), 3)
    values = np.zeros((2, 3))
    with pytest.raises(InputError, match="weights have shape"):
        check_weights(np.ones((3, 2)), values, "phase")
    with pytest.raises(InputError, match="all phase are flagged"):
        check_weights(np.ones((2, 3)), np.full((2, 3), np.nan), "phase")
    with pytest.raises(InputError, match="non-negative"):
        check_weights(-np.ones((2, 3)), values, "phase")
    with pytest.raises(InputError, match="ant_axis=3 is not an axis"):
        reference_phases(values, ant_axis=3, ref=0)
