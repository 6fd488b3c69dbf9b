"""Calibrator solutions against the simulator's truth: known differences give known errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, write_h5parm
from lofar_hires.validation.di import di_solution_errors, format_errors

NAMES = ["CS001HBA0", "CS002HBA0", "RS106HBA", "DE601HBA"]
FREQS = np.linspace(120e6, 166e6, 24)
TIMES = 5e9 + 8.0 * np.arange(30)


def _tabs(rng, clock_s, tec, rm, delay_s, bandpass, scint=None):
    nt, na = len(TIMES), len(NAMES)
    ta = {"time": TIMES, "ant": np.array(NAMES)}
    fap = {"freq": FREQS, "ant": np.array(NAMES), "pol": np.array(["XX", "YY"])}
    phase = np.zeros((len(FREQS), na, 2))
    phase[:, :, 1] = -2 * np.pi * FREQS[:, None] * delay_s[None, :]
    tabs = [Soltab("clock", "clock", dict(ta), clock_s, np.ones((nt, na))),
            Soltab("tec", "tec", dict(ta), tec, np.ones((nt, na))),
            Soltab("faraday", "rotationmeasure", dict(ta), rm, np.ones((nt, na))),
            Soltab("polalign", "phase", dict(fap), phase, np.ones_like(phase)),
            Soltab("bandpass", "amplitude", dict(fap), bandpass, np.ones_like(bandpass))]
    if scint is not None:
        tabs.append(Soltab("scintillation", "amplitude", dict(ta), scint, np.ones((nt, na))))
    return tabs


@pytest.fixture()
def truth(tmp_path):
    rng = np.random.default_rng(1)
    nt, na = len(TIMES), len(NAMES)
    clock = rng.normal(0, 5e-9, (nt, na))
    tec = rng.normal(0, 0.1, (nt, na))
    rm = rng.normal(0, 0.2, (nt, na))
    delay = np.array([1e-9, -0.5e-9, 2e-9, 3e-9])
    bandpass = 1 + 0.1 * rng.random((len(FREQS), na, 2))
    scint = np.full((nt, na), 1.0)
    scint[:, 3] = 1.05  # DE601: the observable bandpass is 5 % higher
    pos = np.zeros((na, 3))
    path = write_h5parm(tmp_path / "truth.h5", _tabs(rng, clock, tec, rm, delay, bandpass, scint), NAMES, pos)
    meta = {"reference_station": "CS002HBA0",
            "stations": [{"name": n, "polalign_delay_ns_vs_reference": (d - delay[1]) * 1e9}
                         for n, d in zip(NAMES, delay)]}
    (tmp_path / "truth.json").write_text(json.dumps(meta))
    return path, tmp_path / "truth.json", (clock, tec, rm, delay, bandpass, scint)


def _cal(tmp_path, clock, tec, rm, delay, bandpass):
    ref = 1
    tabs = _tabs(None, clock - clock[:, [ref]], tec - tec[:, [ref]], rm - rm[:, [ref]], delay - delay[ref],
                 bandpass)
    return write_h5parm(tmp_path / "cal.h5", tabs, NAMES, np.zeros((len(NAMES), 3)))


def test_known_offsets_give_known_errors(truth, tmp_path):
    truth_h5, truth_json, (clock, tec, rm, delay, bandpass, scint) = truth
    clock_found = clock.copy()
    clock_found[:, 2] += 1e-9
    delay_found = delay.copy()
    delay_found[3] += 0.3e-9
    tec_found = tec.copy()
    tec_found[:, 0] += np.where(np.arange(len(TIMES)) % 2, 0.01, -0.01)
    bandpass_found = bandpass * scint[0][None, :, None]
    bandpass_found[:, 2] *= 1.02
    cal = _cal(tmp_path, clock_found, tec_found, rm + 0.05, delay_found, bandpass_found)
    result = di_solution_errors(cal, truth_h5, truth_json)
    e = result.errors
    np.testing.assert_allclose(e["clock"], [0, 0, 1.0, 0], atol=1e-9)
    np.testing.assert_allclose(e["polalign_delay"], [0, 0, 0, 0.3], atol=1e-6)
    np.testing.assert_allclose(e["tec"], [0.01, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(e["faraday"], 0, atol=1e-12)  # a common offset cancels in the reference
    np.testing.assert_allclose(e["bandpass"], [0, 0, 2.0, 0], atol=1e-9)  # DE601's scintillation is absorbed
    assert result.worst()["clock"] == ("RS106HBA", pytest.approx(1.0))
    table = format_errors(result)
    assert "DE601HBA" in table and "clock (ns)" in table
    assert json.loads(json.dumps(result.to_dict()))["errors"]["clock"]["RS106HBA"] == pytest.approx(1.0)


def test_missing_soltab_and_station(truth, tmp_path):
    truth_h5, truth_json, _ = truth
    rng = np.random.default_rng(2)
    tabs = _tabs(rng, np.zeros((30, 4)), np.zeros((30, 4)), np.zeros((30, 4)), np.zeros(4),
                 np.ones((24, 4, 2)))
    cal = write_h5parm(tmp_path / "cal.h5", tabs[:-1], NAMES, np.zeros((4, 3)))  # no bandpass
    with pytest.raises(InputError, match="has no soltab bandpass"):
        di_solution_errors(cal, truth_h5, truth_json)
    with pytest.raises(InputError, match="reference station XX999 is not in"):
        di_solution_errors(cal, truth_h5, truth_json, reference="XX999")


def test_tec_truth_includes_the_screen_towards_the_calibrator(truth, tmp_path):
    """With a TEC screen in the truth, a DI solve on the calibrator finds the DI TEC plus the screen towards the
    calibrator (the screen direction nearest the pointing), and that is what it is measured against."""
    truth_h5, truth_json, (clock, tec, rm, delay, bandpass, scint) = truth
    rng = np.random.default_rng(3)
    screen = rng.normal(0, 0.1, (len(TIMES), len(NAMES), 2))  # towards [other] and [3C295]
    tabs = _tabs(rng, clock, tec, rm, delay, bandpass, scint)
    tabs.append(Soltab("tecscreen", "tec", {"time": TIMES, "ant": np.array(NAMES), "dir": np.array(["other", "3C295"])},
                       screen, np.ones_like(screen)))
    pointing_deg = (212.8355, 52.2028)
    directions = {"other": (np.radians(214.0), np.radians(53.0)), "3C295": tuple(np.radians(pointing_deg))}
    screened_h5 = write_h5parm(tmp_path / "screened.h5", tabs, NAMES, np.zeros((len(NAMES), 3)),
                               directions=directions)
    meta = json.loads(truth_json.read_text()) | {"pointing_deg": list(pointing_deg)}
    (tmp_path / "screened.json").write_text(json.dumps(meta))
    towards = screen[:, :, 1]
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    cal = _cal(tmp_path / "with", clock, tec + towards, rm, delay, bandpass * scint[0][None, :, None])
    errors = di_solution_errors(cal, screened_h5, tmp_path / "screened.json").errors
    np.testing.assert_allclose(errors["tec"], 0.0, atol=1e-12)
    np.testing.assert_allclose(errors["clock"], 0.0, atol=1e-9)
    # A solution without the screen is off by exactly the screen (relative to the reference station).
    cal = _cal(tmp_path / "without", clock, tec, rm, delay, bandpass * scint[0][None, :, None])
    errors = di_solution_errors(cal, screened_h5, tmp_path / "screened.json").errors
    expected = np.sqrt(np.mean((towards - towards[:, [1]]) ** 2, axis=0))
    np.testing.assert_allclose(errors["tec"], expected, rtol=1e-9)
