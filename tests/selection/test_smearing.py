"""Bandwidth and time smearing (Bridle & Schwab 1999) and the averaging suggestion.

The formulas are checked against values worked out by hand, their limits (no
averaging, a source at the phase centre) and their small-argument series; the
suggestion is checked against a brute-force search over all averaging factors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.selection.smearing import (
    TIME_SMEARING_COEFF_PER_S2,
    DataResolution,
    bandwidth_smearing_factor,
    suggest_averaging,
    time_smearing_factor,
)


def test_bandwidth_factor_hand_values():
    # beta r / theta = 1: x = sqrt(ln 2) = 0.832555, sqrt(pi)/(2x) = 1.064467, erf(x) = 0.760957 -> 0.810025.
    r_deg, theta_arcsec = 1.0, 6.0
    beta = theta_arcsec / (r_deg * 3600.0)
    got = bandwidth_smearing_factor(r_deg, theta_arcsec, beta * 150e6, 150e6)
    assert got == pytest.approx(0.8100254544, abs=1e-9)
    # beta r / theta = 0.1 -> 0.997694 (and 1 - (ln 2 / 3) 0.01 = 0.997690 from the series).
    got = bandwidth_smearing_factor(r_deg, theta_arcsec, 0.1 * beta * 150e6, 150e6)
    assert got == pytest.approx(0.9976943060, abs=1e-9)
    assert got == pytest.approx(1 - math.log(2) / 3 * 0.01, abs=1e-5)


def test_bandwidth_factor_limits_and_shape():
    assert bandwidth_smearing_factor(1.0, 0.3, 0.0, 120e6) == 1.0  # no averaging
    assert bandwidth_smearing_factor(0.0, 0.3, 1e6, 120e6) == 1.0  # at the phase centre
    widths = np.linspace(0.0, 2e6, 200)
    f = bandwidth_smearing_factor(0.5, 0.3, widths, 120e6)
    assert np.all(np.diff(f) < 0) and f[-1] > 0
    # Continuous across the switch to the series (x = 1e-4).
    x = np.array([0.99999e-4, 1.00001e-4]) / math.sqrt(math.log(2))  # beta r / theta
    beta = x * 6.0 / 3600.0
    f = bandwidth_smearing_factor(1.0, 6.0, beta * 1e8, 1e8)
    assert abs(f[0] - f[1]) < 1e-12
    # Large argument: sqrt(pi)/(2x) (erf -> 1).
    big = bandwidth_smearing_factor(1.0, 1.0, 1e8 * 100.0 / 3600.0, 1e8)
    assert big == pytest.approx(math.sqrt(math.pi) / (2 * math.sqrt(math.log(2)) * 100.0), rel=1e-9)


def test_time_factor_hand_values_and_limits():
    # dt = 10 s, r / theta = 1 deg / 6 arcsec = 600: 1 - 1.2288710615e-9 * 6000^2 = 0.955760642.
    assert time_smearing_factor(1.0, 6.0, 10.0) == pytest.approx(0.955760641786, abs=1e-12)
    assert time_smearing_factor(1.0, 6.0, 0.0) == 1.0
    assert time_smearing_factor(0.0, 6.0, 100.0) == 1.0
    # (ln 2 / 3) * omega_earth^2 with the Earth's rotation rate.
    assert TIME_SMEARING_COEFF_PER_S2 == pytest.approx(math.log(2) / 3 * 7.2921e-5**2, rel=2e-3)
    # Floored at zero far beyond the approximation's range.
    assert time_smearing_factor(10.0, 0.3, 3600.0) == 0.0
    f = time_smearing_factor(0.5, 0.3, np.linspace(0, 2, 50))
    assert np.all(np.diff(f) < 0)


def _brute_force(r_deg, data, theta, max_loss, chans):
    best = (0, -1.0, 1, 1)
    for c in chans:
        bw = float(bandwidth_smearing_factor(r_deg, theta, c * data.chan_width_hz, data.freq_min_hz))
        for t in range(1, 2000):
            total = bw * float(time_smearing_factor(r_deg, theta, t * data.integration_s))
            if total < 1 - max_loss:
                break
            if (t * c, total) > best[:2]:
                best = (t * c, total, t, c)
    return best


@pytest.mark.parametrize("r_deg, theta, n_chan", [(0.5, 6.0, 64), (0.2, 0.3, 48), (1.0, 20.0, None),
                                                  (0.05, 1.2, None)],
                         ids=["6asec-64ch", "0.3asec-48ch", "20asec-unknown", "1.2asec-unknown"])
def test_suggestion_is_the_largest_allowed_averaging(r_deg, theta, n_chan):
    data = DataResolution(integration_s=1.0, chan_width_hz=12207.03125, freq_min_hz=120e6, n_chan=n_chan)
    got = suggest_averaging(r_deg, data, theta, max_loss=0.05)
    chans = [c for c in range(1, n_chan + 1) if n_chan % c == 0] if n_chan else range(1, 3000)
    size, total, t, c = _brute_force(r_deg, data, theta, 0.05, chans)
    assert (got.time_factor, got.chan_factor) == (t, c)
    assert got.meets_target and got.reduction == pytest.approx(total) and got.reduction >= 0.95
    assert got.time_s == t * 1.0 and got.chan_width_hz == pytest.approx(c * 12207.03125)
    assert got.reduction == pytest.approx(got.bandwidth_reduction * got.time_reduction)
    if n_chan:
        assert n_chan % got.chan_factor == 0


def test_suggestion_when_even_raw_data_smear_too_much():
    data = DataResolution(integration_s=8.0, chan_width_hz=195312.5, freq_min_hz=120e6, n_chan=10)
    got = suggest_averaging(1.5, data, 0.3, max_loss=0.05)
    assert (got.time_factor, got.chan_factor) == (1, 1)
    assert not got.meets_target and got.reduction < 0.95


@pytest.mark.parametrize("kwargs, message", [
    ({"distance_deg": 0.0}, "distance must be a positive"),
    ({"max_loss": 0.0}, "fraction in (0, 1)"),
    ({"max_loss": 1.5}, "fraction in (0, 1)"),
    ({"resolution_arcsec": -1.0}, "resolution must be a positive"),
])
def test_suggestion_rejects_bad_settings(kwargs, message):
    args = {"distance_deg": 0.5, "data": DataResolution(1.0, 1e4, 1.2e8), "resolution_arcsec": 0.3,
            "max_loss": 0.05, **kwargs}
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        suggest_averaging(**args)


def test_data_resolution_is_validated():
    with pytest.raises(InputError, match="integration_s must be a positive number"):
        DataResolution(0.0, 1e4, 1.2e8)
    with pytest.raises(InputError, match="n_chan must be >= 1"):
        DataResolution(1.0, 1e4, 1.2e8, 0)
