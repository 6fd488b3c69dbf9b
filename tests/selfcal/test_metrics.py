"""Self-calibration metrics on synthetic images and h5parms with known noise."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.h5parm import Soltab, write_h5parm
from lofar_hires.selfcal.metrics import (
    CycleMetrics,
    amplitude_stability,
    circular_std_rad,
    image_metrics,
    phase_stability_rad,
    read_metrics,
    write_metrics,
)

STATIONS = ("CS001HBA0", "RS106HBA", "DE601HBA", "DE605HBA", "FR606HBA", "SE607HBA", "UK608HBA")
T0 = 4.9e9


def write_image(path, data, scale_arcsec=1.0, beam_arcsec=5.0):
    """A WSClean-like FITS image (RA/Dec SIN, FREQ and STOKES axes, restoring beam)."""
    from astropy.io import fits

    n_y, n_x = data.shape
    header = fits.Header()
    for key, value in {"CTYPE1": "RA---SIN", "CRPIX1": n_x / 2 + 1, "CRVAL1": 242.75, "CDELT1": -scale_arcsec / 3600,
                       "CUNIT1": "deg", "CTYPE2": "DEC--SIN", "CRPIX2": n_y / 2 + 1, "CRVAL2": 55.0,
                       "CDELT2": scale_arcsec / 3600, "CUNIT2": "deg", "CTYPE3": "FREQ", "CRPIX3": 1,
                       "CRVAL3": 144e6, "CDELT3": 48e6, "CTYPE4": "STOKES", "CRPIX4": 1, "CRVAL4": 1, "CDELT4": 1,
                       "BMAJ": beam_arcsec / 3600, "BMIN": beam_arcsec / 3600, "BPA": 0.0, "BUNIT": "JY/BEAM"}.items():
        header[key] = value
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32)[None, None], header).writeto(path)
    return path


def noise_image(n=200, sigma_jy=1e-3, peak_jy=0.5, seed=1):
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, sigma_jy, (n, n))
    yy, xx = np.mgrid[:n, :n]
    data += peak_jy * np.exp(-((xx - n / 2) ** 2 + (yy - n // 3) ** 2) / (2 * 2.0**2))
    return data


def write_phases(path, phases, times=None, freqs=None, axes_order=("time", "freq", "ant", "dir", "pol"),
                 weights=None, stations=STATIONS, amplitudes=None, with_phase=True):
    """An h5parm with phase000 (and amplitude000) on the given grid; ``phases`` in canonical order."""
    full = {"time": times, "freq": freqs, "ant": np.array(stations), "dir": np.array(["dir0", "dir1"]),
            "pol": np.array(["XX", "YY"])}
    canon = [a for a in ("time", "freq", "ant", "dir", "pol") if full[a] is not None and a in axes_order]
    tabs = []
    for name, soltype, val in (("phase000", "phase", phases if with_phase else None),
                               ("amplitude000", "amplitude", amplitudes)):
        if val is None:
            continue
        w = np.ones(val.shape) if weights is None else weights
        tab = Soltab(name, soltype, {a: full[a] for a in canon}, val, w)
        tabs.append(tab.transposed([a for a in axes_order if a in canon]))
    positions = np.arange(3 * len(stations), dtype=float).reshape(-1, 3) + 3.8e6
    return write_h5parm(path, tabs, stations, positions, {"dir0": (4.2, 0.96), "dir1": (4.21, 0.97)})


def test_image_metrics_recovers_noise_and_peak(tmp_path):
    data = noise_image()
    path = write_image(tmp_path / "img.fits", data)
    m = image_metrics(path)
    assert m.rms_jy == pytest.approx(1e-3, rel=0.03)
    assert m.peak_jy == pytest.approx(0.5, abs=5e-3)
    assert m.min_jy == pytest.approx(float(data.min()), rel=1e-5)
    assert m.dynamic_range == pytest.approx(m.peak_jy / m.rms_jy)
    assert m.min_max_ratio == pytest.approx(abs(m.min_jy) / m.peak_jy)
    assert 300 < m.dynamic_range < 700


def test_image_metrics_ignores_nan_pixels(tmp_path):
    data = noise_image()
    data[:50] = np.nan
    assert image_metrics(write_image(tmp_path / "nan.fits", data)).rms_jy == pytest.approx(1e-3, rel=0.03)


@pytest.mark.parametrize("fill, words", [(0.0, "empty (all pixels 0)"), (np.nan, "no finite pixels"),
                                         (2.0, "constant")], ids=["zeros", "nan", "constant"])
def test_image_metrics_refuses_blank_images(tmp_path, fill, words):
    path = write_image(tmp_path / "blank.fits", np.full((32, 32), fill))
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        image_metrics(path)


def test_circular_std_of_gaussian_noise():
    rng = np.random.default_rng(0)
    assert circular_std_rad(rng.normal(0.0, 0.4, 100_000)) == pytest.approx(0.4, rel=0.02)
    assert circular_std_rad(np.zeros(10)) == 0.0


def _grid(n_time=60, n_freq=4):
    return T0 + 10.0 * np.arange(n_time), 120e6 + 4e6 * np.arange(n_freq)


def test_phase_stability_recovers_injected_noise(tmp_path):
    rng = np.random.default_rng(2)
    times, freqs = _grid()
    shape = (len(times), len(freqs), len(STATIONS), 2, 2)
    base = rng.uniform(-np.pi, np.pi, shape)
    sigma = 0.3
    prev = write_phases(tmp_path / "prev.h5", base, times, freqs)
    cur = write_phases(tmp_path / "cur.h5", np.angle(np.exp(1j * (base + rng.normal(0, sigma, shape)))), times, freqs)
    assert phase_stability_rad(cur, prev, STATIONS) == pytest.approx(sigma, rel=0.05)
    same = phase_stability_rad(prev, prev, STATIONS)
    assert same == pytest.approx(0.0, abs=1e-6)


def test_phase_stability_uses_only_listed_stations_and_weights(tmp_path):
    rng = np.random.default_rng(3)
    times, freqs = _grid(40, 3)
    shape = (len(times), len(freqs), len(STATIONS), 2, 2)
    base = rng.uniform(-np.pi, np.pi, shape)
    noisy = base + rng.normal(0, 0.2, shape)
    noisy[:, :, 0] = rng.uniform(-np.pi, np.pi, shape[:2] + shape[3:])  # CS001HBA0: random, not listed
    weights = np.ones(shape)
    noisy[:5, :, 2] += 2.5  # flagged outliers of DE601HBA in the current file
    weights[:5, :, 2] = 0
    prev = write_phases(tmp_path / "prev.h5", base, times, freqs)
    cur = write_phases(tmp_path / "cur.h5", noisy, times, freqs, weights=weights)
    international = [s for s in STATIONS if not s.startswith(("CS", "RS"))]
    assert phase_stability_rad(cur, prev, international) == pytest.approx(0.2, rel=0.05)
    assert phase_stability_rad(cur, prev, STATIONS) > 0.5  # the random core station dominates


def test_phase_stability_removes_common_offset_with_reference(tmp_path):
    rng = np.random.default_rng(4)
    times, freqs = _grid()
    shape = (len(times), len(freqs), len(STATIONS), 2, 2)
    base = rng.uniform(-np.pi, np.pi, shape)
    offset = rng.uniform(-np.pi, np.pi, (len(times), 1, 1, 1, 1))  # arbitrary common phase per time
    noise = rng.normal(0, 0.15, shape)
    noise[:, :, 0] = 0.0  # the reference station itself is noiseless
    prev = write_phases(tmp_path / "prev.h5", base, times, freqs)
    cur = write_phases(tmp_path / "cur.h5", base + offset + noise, times, freqs)
    assert phase_stability_rad(cur, prev, STATIONS) > 1.0
    assert phase_stability_rad(cur, prev, STATIONS, reference="CS001HBA0") == pytest.approx(0.15, rel=0.05)
    with pytest.raises(InputError, match="reference station XX000 is not in"):
        phase_stability_rad(cur, prev, STATIONS, reference="XX000")


def test_phase_stability_maps_different_grids_and_axis_orders(tmp_path):
    rng = np.random.default_rng(5)
    n_prev = 40
    t_prev = T0 + 10.0 + 20.0 * np.arange(n_prev)  # 20 s solutions
    t_cur = T0 + 5.0 + 10.0 * np.arange(2 * n_prev)  # 10 s solutions: two per previous one
    freqs = 120e6 + 4e6 * np.arange(3)
    prev_val = rng.uniform(-np.pi, np.pi, (n_prev, len(STATIONS), 2, 2))  # no freq axis
    sigma = 0.25
    cur_val = (np.repeat(prev_val, 2, axis=0)[:, None] + rng.normal(0, sigma, (2 * n_prev, 3, len(STATIONS), 2, 2)))
    prev = write_phases(tmp_path / "prev.h5", prev_val, t_prev, None, axes_order=("ant", "time", "pol", "dir"))
    cur = write_phases(tmp_path / "cur.h5", cur_val, t_cur, freqs, axes_order=("pol", "freq", "dir", "ant", "time"))
    assert phase_stability_rad(cur, prev, STATIONS) == pytest.approx(sigma, rel=0.05)
    shifted = write_phases(tmp_path / "shifted.h5", prev_val, t_prev + 20.0, None)  # off by one interval
    assert phase_stability_rad(cur, shifted, STATIONS) > 1.0


def test_phase_stability_skips_and_refuses_missing_stations(tmp_path, caplog):
    times, freqs = _grid(10, 2)
    shape = (len(times), len(freqs), len(STATIONS), 2, 2)
    val = np.zeros(shape)
    prev = write_phases(tmp_path / "prev.h5", val[:, :, 1:], times, freqs, stations=STATIONS[1:])
    cur = write_phases(tmp_path / "cur.h5", val, times, freqs)
    with caplog.at_level("DEBUG", logger="lofar_hires.selfcal.metrics"):
        assert phase_stability_rad(cur, prev, ["CS001HBA0", "DE601HBA", "PL610HBA"]) == 0.0
    assert "CS001HBA0 not in" in caplog.text and "PL610HBA not in" in caplog.text
    with pytest.raises(InputError, match="CS001HBA0, PL610HBA"):
        phase_stability_rad(cur, prev, ["CS001HBA0", "PL610HBA"])


def test_amplitude_only_h5parm(tmp_path):
    rng = np.random.default_rng(6)
    times, freqs = _grid(30, 3)
    shape = (len(times), len(freqs), len(STATIONS), 2, 2)
    amp = np.exp(rng.normal(0, 0.3, shape))
    prev = write_phases(tmp_path / "prev.h5", None, times, freqs, amplitudes=amp, with_phase=False)
    cur = write_phases(tmp_path / "cur.h5", None, times, freqs, amplitudes=amp * np.exp(rng.normal(0, 0.05, shape)),
                       with_phase=False)
    with pytest.raises(InputError, match=f"no soltab phase000 in {cur}"):
        phase_stability_rad(cur, prev, STATIONS)
    assert amplitude_stability(cur, prev, STATIONS) == pytest.approx(0.05, rel=0.05)
    phase_only = write_phases(tmp_path / "phase.h5", np.zeros(shape), times, freqs)
    assert amplitude_stability(phase_only, prev, STATIONS) is None
    assert amplitude_stability(cur, phase_only, STATIONS) is None


def _rows():
    return [
        CycleMetrics(cycle=0, rms_jy=1e-3, peak_jy=0.1, min_jy=-0.01, dynamic_range=100.0, min_max_ratio=0.1,
                     phase_stability_rad=None, amplitude_stability=None, image="cycle0.fits"),
        CycleMetrics(cycle=1, rms_jy=8e-4, peak_jy=0.12, min_jy=-0.005, dynamic_range=150.0, min_max_ratio=0.04,
                     phase_stability_rad=0.3, amplitude_stability=None, n_solves=2, wall_time_s=12.5,
                     image="cycle1.fits", solutions="cycle1.h5"),
    ]


def test_metrics_round_trip_json_and_csv(tmp_path):
    rows = _rows()
    json_path, csv_path = tmp_path / "metrics.json", tmp_path / "metrics.csv"
    write_metrics(rows, json_path, csv_path)
    assert read_metrics(json_path) == rows
    with open(csv_path, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [int(r["cycle"]) for r in table] == [0, 1]
    assert table[0]["phase_stability_rad"] == "" and table[0]["classifier_score"] == ""
    assert float(table[1]["rms_jy"]) == pytest.approx(8e-4)
    assert table[1]["solutions"] == "cycle1.h5"
    rows[1].classifier_score = 0.3
    write_metrics(rows, json_path, csv_path)  # overwrite allowed
    assert read_metrics(json_path)[1].classifier_score == 0.3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "metrics.json"]


def test_read_metrics_refuses_bad_files(tmp_path):
    with pytest.raises(MissingInputError):
        read_metrics(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_metrics(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match="not a cycle metrics table"):
        read_metrics(bad)
    entry = _rows()[0].to_dict()
    entry["rms_jy"] = "high"
    bad.write_text(json.dumps({"cycles": [entry]}))
    with pytest.raises(InputError, match="rms_jy must be a number"):
        read_metrics(bad)
    del entry["rms_jy"]
    bad.write_text(json.dumps({"cycles": [entry]}))
    with pytest.raises(InputError, match="missing key"):
        read_metrics(bad)
