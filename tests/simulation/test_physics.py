"""Physical models of the corruptions and the geometry, with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_config
from lofar_hires.simulation import corruptions as cor
from lofar_hires.simulation.geometry import (
    itrf_to_geodetic_lonlat,
    lmn_to_radec,
    local_sidereal_time_rad,
    radec_to_lmn,
)
from lofar_hires.simulation.noise import baseline_sigma_jy, natural_image_noise_jy
from lofar_hires.simulation.stations import load_stations


def test_lmn_roundtrip():
    rng = np.random.default_rng(1)
    centre = (np.radians(242.75), np.radians(55.0))
    ra = centre[0] + rng.uniform(-0.05, 0.05, 50)
    dec = centre[1] + rng.uniform(-0.05, 0.05, 50)
    back = lmn_to_radec(radec_to_lmn(ra, dec, centre), centre)
    np.testing.assert_allclose(back[0], ra, atol=1e-12)
    np.testing.assert_allclose(back[1], dec, atol=1e-12)


def test_sidereal_time_agrees_with_casacore():
    from casacore.measures import measures
    from casacore.quanta import quantity

    stations = load_stations(["CS002HBA0", "RS106HBA"])
    lon, _ = itrf_to_geodetic_lonlat(stations.itrf_m[0])
    t = 61114.25 * 86400.0
    dm = measures()
    dm.do_frame(dm.position("ITRF", *[quantity(float(v), "m") for v in stations.itrf_m[0]]))
    dm.do_frame(dm.epoch("UTC", quantity(t, "s")))
    last = dm.measure(dm.epoch("UTC", quantity(t, "s")), "LAST")["m0"]["value"] % 1.0 * 2 * np.pi
    ours = local_sidereal_time_rad(np.array([t]), lon)[0]
    diff = (ours - last + np.pi) % (2 * np.pi) - np.pi
    assert abs(diff) * 86400 / (2 * np.pi) < 2.0  # seconds of time (mean vs apparent)


def test_smooth_process_unit_variance():
    proc = cor.SmoothProcess(np.random.default_rng(3), 400, timescale_s=60.0)
    x = proc(np.array([0.0, 10.0, 600.0]))
    assert x[0].std() == pytest.approx(1.0, rel=0.15)
    assert np.corrcoef(x[0], x[1])[0, 1] > 0.9  # correlated within the timescale
    assert abs(np.corrcoef(x[0], x[2])[0, 1]) < 0.2  # decorrelated after 10 timescales


def test_clock_core_shared_and_sawtooth_bounded():
    cfg = make_config("tiny").corruptions.clock
    st = load_stations(["CS001HBA0", "CS002HBA0", "RS106HBA", "DE601HBA"])
    model = cor.ClockModel(cfg, st, np.random.default_rng(5), 0.0)
    t = np.linspace(0, 7200, 500)
    c = model(t)
    assert np.all(c[:, :2] == 0)
    span = np.abs(model.rate) * cfg.gps_correction_interval_s / 2
    assert np.all(np.abs(c - model.offset_s) <= span + 1e-15)
    assert np.any(np.abs(np.diff(c[:, 3])) > 0.5 * span[3])  # a GPS correction jump


def test_phase_conventions():
    f = np.array([100e6, 200e6])
    np.testing.assert_allclose(cor.tec_phase_rad(np.array(1.0), f), [-84.4797245, -42.23986225])
    np.testing.assert_allclose(cor.clock_phase_rad(np.array(1e-9), f), [2 * np.pi * 0.1, 2 * np.pi * 0.2])
    np.testing.assert_allclose(cor.faraday_angle_rad(np.array(1.0), np.array([299792458.0])), [1.0])
    inst = cor.InstrumentTruth(np.array([1e-9]), np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)))
    pa = cor.polalign_phase(inst, f)
    np.testing.assert_allclose(pa[:, 0, 0], 0)
    np.testing.assert_allclose(pa[:, 0, 1], -2 * np.pi * f * 1e-9)


def test_screen_structure_function_is_kolmogorov():
    """D(r) = (r / r_diff)^(5/3) rad^2 at 150 MHz, from screen samples."""
    cfg = make_config("tiny").corruptions.tecscreen
    st = load_stations(["CS002HBA0", "RS106HBA"])
    screen = cor.PhaseScreen(cfg, st, 0, np.random.default_rng(11))
    rng = np.random.default_rng(12)
    k = np.array([screen.kx, screen.ky])

    def value(xy):
        return np.cos(xy @ k + screen.phase) @ screen.amplitude

    d = {}
    for r_km in (2.0, 10.0):
        p = rng.uniform(-100e3, 100e3, size=(4000, 2))
        ang = rng.uniform(0, 2 * np.pi, 4000)
        q = p + r_km * 1e3 * np.column_stack([np.cos(ang), np.sin(ang)])
        dphase = cor.tec_phase_rad(value(p) - value(q), np.array([150e6]))[:, 0]
        d[r_km] = np.mean(dphase**2)
    assert d[10.0] == pytest.approx(1.0, rel=0.35)
    slope = np.log(d[10.0] / d[2.0]) / np.log(5.0)
    assert slope == pytest.approx(5 / 3, abs=0.3)


def test_radiometer_equation_by_hand():
    sefd = np.array([[2900.0], [5800.0]])
    sigma = baseline_sigma_jy(sefd, np.array([0]), np.array([1]), 195312.5, 8.0)
    assert sigma[0, 0] == pytest.approx(np.sqrt(2900 * 5800 / (2 * 195312.5 * 8.0)))
    # N equal visibilities of sigma: image rms = sigma / sqrt(2 N)
    assert natural_image_noise_jy(np.full((10, 4), 2.0), 25) == pytest.approx(2.0 / np.sqrt(2 * 1000))
