"""Self-calibration solutions against the simulator's truth.

Synthetic truth h5parms check the averaging and referencing (known differences give
known errors); real DP3 solves on the ``selfcal`` preset close the loop: noiseless
solutions match the truth to a milli-radian (and do not with the sign flipped or
towards another direction), noisy ones are as good as the radiometer equation allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_config
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3
from lofar_hires.validation.selfcal import (
    PhaseErrors,
    amplitude_errors_vs_truth,
    phase_errors_vs_truth,
    truth_amplitudes,
    truth_phases_rad,
)

K_TEC = -8.44797245e9
STATIONS = ["CS002HBA0", "CS003HBA0", "RS106HBA", "DE601HBA", "FR606HBA"]
INTEGRATION_S = 8.0
TRUTH_TIMES = 5.0e9 + INTEGRATION_S * (np.arange(40) + 0.5)
FREQS = 140e6 + 195312.5 * np.arange(6)
DIRECTIONS = {"cal": (np.radians(243.26), np.radians(55.03)), "other": (np.radians(242.45), np.radians(54.98))}


# --------------------------------------------------------------------------- synthetic truth


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A truth h5parm with random smooth TEC, screen, clock and scintillation; the raw arrays."""
    rng = np.random.default_rng(7)
    nt, na = len(TRUTH_TIMES), len(STATIONS)
    t = (TRUTH_TIMES - TRUTH_TIMES[0])[:, None]
    tec = 0.02 * np.sin(t / 150.0 + rng.uniform(0, 6, na)) + 0.003 * rng.standard_normal((nt, na))
    screen = 0.01 * np.cos(t[:, :, None] / 90.0 + rng.uniform(0, 6, (na, 2)))
    clock = rng.normal(0, 2e-9, na)[None, :] + 1e-12 * t
    scint = np.exp(0.1 * np.sin(t / 200.0 + rng.uniform(0, 6, na)))
    ta = {"time": TRUTH_TIMES, "ant": np.array(STATIONS)}
    tabs = [Soltab("tec", "tec", dict(ta), tec), Soltab("clock", "clock", dict(ta), clock),
            Soltab("tecscreen", "tec", {**ta, "dir": np.array(list(DIRECTIONS))}, screen),
            Soltab("scintillation", "amplitude", dict(ta), scint)]
    path = write_h5parm(tmp_path_factory.mktemp("truth") / "truth.h5", tabs, STATIONS, np.zeros((na, 3)),
                        DIRECTIONS)
    slot_phase = (K_TEC * (tec + screen[:, :, 0])[:, None, :] / FREQS[None, :, None]
                  + 2 * np.pi * FREQS[None, :, None] * clock[:, None, :])  # (time, freq, ant) towards "cal"
    return path, slot_phase, scint


def _pairs(values: np.ndarray) -> np.ndarray:
    """Mean over consecutive pairs of time slots (first axis)."""
    return values.reshape(values.shape[0] // 2, 2, *values.shape[1:]).mean(axis=1)


def _pair_phase(slot_phase: np.ndarray) -> np.ndarray:
    """What a 2-slot phase solution represents: the phasor mean over its two slots."""
    return np.angle(_pairs(np.exp(1j * slot_phase)))


PAIR_TIMES = _pairs(TRUTH_TIMES)


def _write_solutions(path: Path, phase: np.ndarray, *, stations=STATIONS, times=PAIR_TIMES,
                     directions=("cal", "other"), pols=("XX", "YY"), weight=None,
                     order=("time", "freq", "ant", "dir", "pol"), soltype="phase", name="phase000") -> Path:
    """A DP3-like solution file; ``phase`` (time, freq, ant) is written for the first direction."""
    axes = {"time": times, "freq": FREQS, "ant": np.array(stations), "dir": np.array(directions),
            "pol": np.array(pols)}
    shape = tuple(len(v) for v in axes.values())
    val = np.random.default_rng(3).uniform(-np.pi, np.pi, shape)  # other directions: unrelated values
    val[:, :, :, 0, :] = phase[..., None]
    w = np.ones(shape) if weight is None else np.broadcast_to(weight[:, :, :, None, None], shape)
    tab = Soltab(name, soltype, axes, val, w)
    for axis in [a for a in ("dir", "pol") if a not in order]:
        tab = _drop_axis(tab, axis)
    tab = tab.transposed(order)
    return write_h5parm(path, [tab], stations, np.zeros((len(stations), 3)),
                        {d: DIRECTIONS.get(d, DIRECTIONS["cal"]) for d in directions})


def _drop_axis(tab: Soltab, axis: str) -> Soltab:
    i = tab.axis_names.index(axis)
    axes = {k: v for k, v in tab.axes.items() if k != axis}
    return Soltab(tab.name, tab.soltype, axes, np.take(tab.val, 0, axis=i), np.take(tab.weight, 0, axis=i))


def test_truth_phases_average_and_interpolate(synthetic):
    truth, slot_phase, _ = synthetic
    averaged = truth_phases_rad(truth, "cal", PAIR_TIMES, FREQS, STATIONS, solint_s=2 * INTEGRATION_S)
    assert averaged.shape == (len(PAIR_TIMES), len(FREQS), len(STATIONS))
    assert np.allclose(np.angle(np.exp(1j * (averaged - _pair_phase(slot_phase)))), 0, atol=1e-9)
    # Without an interval: exact at the truth slots, TEC interpolated linearly between them.
    assert np.allclose(truth_phases_rad(truth, "[cal]", TRUTH_TIMES, FREQS, STATIONS), slot_phase, atol=1e-9)
    mid = truth_phases_rad(truth, "cal", PAIR_TIMES, FREQS, STATIONS)
    assert np.allclose(mid, _pairs(slot_phase), atol=1e-9)
    # Stations come out in the order asked for.
    flipped = truth_phases_rad(truth, "cal", PAIR_TIMES, FREQS, STATIONS[::-1], solint_s=16.0)
    assert np.allclose(flipped, averaged[..., ::-1])


def test_truth_amplitudes_average(synthetic):
    truth, _, scint = synthetic
    assert np.allclose(truth_amplitudes(truth, PAIR_TIMES, STATIONS, solint_s=16.0), _pairs(scint))
    four = truth_amplitudes(truth, TRUTH_TIMES[1::4] + 4.0, STATIONS, solint_s=32.0)
    assert np.allclose(four, scint.reshape(10, 4, -1).mean(axis=1))


def test_solution_equal_to_truth_has_no_error(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    sol = _write_solutions(tmp_path / "sol.h5", _pair_phase(slot_phase))
    errors = phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0")
    assert isinstance(errors, PhaseErrors)
    assert list(errors.per_station_rms_rad) == STATIONS[1:]
    assert max(errors.per_station_rms_rad.values()) < 1e-9
    assert errors.n_values == len(PAIR_TIMES) * len(FREQS) * (len(STATIONS) - 1)
    assert errors.reference == "CS002HBA0" and errors.direction == "cal"


@pytest.mark.parametrize("order", [("ant", "pol", "time", "dir", "freq"), ("time", "freq", "ant"),
                                   ("freq", "ant", "time", "pol")], ids=["permuted", "scalar", "no-dir"])
def test_axis_order_and_missing_axes_are_handled(synthetic, tmp_path, order):
    truth, slot_phase, _ = synthetic
    sol = _write_solutions(tmp_path / "sol.h5", _pair_phase(slot_phase), order=order)
    assert max(phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0").per_station_rms_rad.values()) < 1e-9


def test_known_offset_on_one_station_is_its_error(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    phase = _pair_phase(slot_phase)
    phase[..., STATIONS.index("DE601HBA")] += 0.3
    errors = phase_errors_vs_truth(_write_solutions(tmp_path / "sol.h5", phase), truth, "cal", "CS002HBA0")
    assert errors.per_station_rms_rad["DE601HBA"] == pytest.approx(0.3, abs=1e-9)
    assert errors.worst() == ("DE601HBA", pytest.approx(0.3, abs=1e-9))
    others = [v for k, v in errors.per_station_rms_rad.items() if k != "DE601HBA"]
    assert max(others) < 1e-9
    # Against another reference the offset shows on every station but DE601HBA.
    via_de = phase_errors_vs_truth(tmp_path / "sol.h5", truth, "cal", "DE601HBA")
    assert "DE601HBA" not in via_de.per_station_rms_rad
    assert np.allclose(list(via_de.per_station_rms_rad.values()), 0.3)


def test_common_offsets_cancel_and_wraps_do_not_count(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    rng = np.random.default_rng(11)
    common = rng.uniform(-np.pi, np.pi, (len(PAIR_TIMES), len(FREQS), 1))
    phase = _pair_phase(slot_phase) + common + 2 * np.pi * rng.integers(-2, 3, (1, 1, len(STATIONS)))
    errors = phase_errors_vs_truth(_write_solutions(tmp_path / "sol.h5", phase), truth, "cal", "CS002HBA0")
    assert max(errors.per_station_rms_rad.values()) < 1e-9


def test_flagged_values_are_left_out(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    phase = _pair_phase(slot_phase)
    weight = np.ones_like(phase)
    phase[3, :, STATIONS.index("FR606HBA")] += 1.0  # garbage, flagged
    weight[3, :, STATIONS.index("FR606HBA")] = 0.0
    weight[5, 2, 0] = 0.0  # a flagged reference value removes that cell for every station
    sol = _write_solutions(tmp_path / "sol.h5", phase, weight=weight)
    errors = phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0")
    assert max(errors.per_station_rms_rad.values()) < 1e-9
    n_all = len(PAIR_TIMES) * len(FREQS) * (len(STATIONS) - 1)
    assert errors.n_values == n_all - len(FREQS) - (len(STATIONS) - 1)


def test_single_direction_is_used_whatever_its_name(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    sol = _write_solutions(tmp_path / "sol.h5", _pair_phase(slot_phase), directions=("facet_3",))
    assert max(phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0").per_station_rms_rad.values()) < 1e-9


def test_superstation_reference_uses_the_truth_reference(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    phase = _pair_phase(slot_phase)
    names = ["ST001", *STATIONS[1:]]
    sol = _write_solutions(tmp_path / "sol.h5", phase + 0.7, stations=names)
    errors = phase_errors_vs_truth(sol, truth, "cal", "ST001", truth_reference="CS002HBA0")
    assert list(errors.per_station_rms_rad) == STATIONS[1:]
    assert max(errors.per_station_rms_rad.values()) < 1e-9


def test_selected_stations_only(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    sol = _write_solutions(tmp_path / "sol.h5", _pair_phase(slot_phase))
    errors = phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0", stations=["FR606HBA", "RS106HBA"])
    assert list(errors.per_station_rms_rad) == ["FR606HBA", "RS106HBA"]


def test_bad_requests_are_refused(synthetic, tmp_path):
    truth, slot_phase, _ = synthetic
    sol = _write_solutions(tmp_path / "sol.h5", _pair_phase(slot_phase))
    with pytest.raises(InputError, match=r"no direction 'elsewhere'.*available: cal, other"):
        phase_errors_vs_truth(sol, truth, "elsewhere", "CS002HBA0")
    with pytest.raises(InputError, match="reference station CS001HBA0"):
        phase_errors_vs_truth(sol, truth, "cal", "CS001HBA0")
    with pytest.raises(InputError, match="reference station ST001"):
        phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0", truth_reference="ST001")
    with pytest.raises(InputError, match="not in both"):
        phase_errors_vs_truth(sol, truth, "cal", "CS002HBA0", stations=["UK608HBA"])
    with pytest.raises(InputError, match="holds 'phase' values"):
        amplitude_errors_vs_truth(sol, truth, "cal", soltab="phase000")
    other = _write_solutions(tmp_path / "other.h5", _pair_phase(slot_phase)[..., :1], stations=["ST001"])
    with pytest.raises(InputError, match="no station in common"):
        phase_errors_vs_truth(other, truth, "cal", "ST001", truth_reference="CS002HBA0")
    late = _write_solutions(tmp_path / "late.h5", _pair_phase(slot_phase), times=PAIR_TIMES + 86400.0)
    with pytest.raises(InputError, match="outside the truth"):
        phase_errors_vs_truth(late, truth, "cal", "CS002HBA0")
    one_dir = _write_solutions(tmp_path / "one.h5", _pair_phase(slot_phase), directions=("cal",))
    with pytest.raises(InputError, match="no direction 'nowhere' in the truth"):
        phase_errors_vs_truth(one_dir, truth, "nowhere", "CS002HBA0")


def test_amplitude_errors_divide_out_the_flux_scale(synthetic, tmp_path):
    truth, _, scint = synthetic
    amp = np.repeat(_pairs(scint)[:, None, :], len(FREQS), axis=1) * 1.7
    path = _write_solutions(tmp_path / "amp.h5", amp, soltype="amplitude", name="amplitude000")
    errors = amplitude_errors_vs_truth(path, truth, "cal")
    assert list(errors.per_station_rms_fraction) == STATIONS
    assert max(errors.per_station_rms_fraction.values()) < 1e-9
    amp[..., STATIONS.index("RS106HBA")] *= 1.05
    path = _write_solutions(tmp_path / "amp5.h5", amp, soltype="amplitude", name="amplitude000")
    errors = amplitude_errors_vs_truth(path, truth, "cal")
    assert errors.worst() == ("RS106HBA", pytest.approx(0.05, abs=1e-9))


# --------------------------------------------------------------------------- closed loop with DP3

CALIBRATOR = "bright01"
PHASE_SOLINT_SLOTS = 2
AMPLITUDE_SOLINT_SLOTS = 38  # ~5 minutes
NOISELESS = ("observation.n_observations=1", "corruptions.noise.enabled=false")
NOISY = ("observation.n_observations=1",)


def _calibrator_direction(truth_json: Path) -> tuple[float, float]:
    return tuple(json.loads(truth_json.read_text())["directions"][CALIBRATOR])


def _phase_solve(obs, sky_model: Path, workdir: Path, n_times: int) -> tuple[Path, Path]:
    """Phase-shift to the calibrator and solve a scalar phase per 2 slots and channel."""
    ra_deg, dec_deg = _calibrator_direction(obs.truth_json)
    shifted, h5 = workdir / "shifted.MS", workdir / "phase.h5"
    run = Dp3Run(msin=obs.ms, msout=shifted, msin_options={"ntimes": n_times}, numthreads=2, steps=[
        Dp3Step("shift", "phaseshift", {"phasecenter": [f"{ra_deg!r}deg", f"{dec_deg!r}deg"]}),
        Dp3Step("solve", "ddecal", {"mode": "scalarphase", "sourcedb": sky_model, "directions": [[CALIBRATOR]],
                                    "solint": PHASE_SOLINT_SLOTS, "nchan": 1, "h5parm": h5}),
    ])
    run_dp3(run, workdir, "phase")
    return shifted, h5


def _amplitude_solve(shifted: Path, phase_h5: Path, sky_model: Path, workdir: Path) -> Path:
    """Apply the phase solutions and solve a scalar complex gain per ~5 minutes."""
    h5 = workdir / "gain.h5"
    run = Dp3Run(msin=shifted, msout=None, msout_options={"datacolumn": "CORRECTED_DATA"}, numthreads=2, steps=[
        Dp3Step("apply", "applycal", {"parmdb": phase_h5, "correction": "phase000",
                                      "direction": f"[{CALIBRATOR}]"}),
        Dp3Step("solve", "ddecal", {"mode": "scalar", "sourcedb": sky_model, "directions": [[CALIBRATOR]],
                                    "solint": AMPLITUDE_SOLINT_SLOTS, "nchan": 4, "h5parm": h5}),
    ])
    run_dp3(run, workdir, "gain")
    return h5


def _negated_copy(path: Path, out: Path) -> Path:
    """The same solutions with the opposite phase sign (what a sign-convention error gives)."""
    ss = read_h5parm(path)
    tab = ss.soltabs["phase000"]
    flipped = Soltab(tab.name, tab.soltype, tab.axes, -tab.val, tab.weight)
    return write_h5parm(out, [flipped], ss.antenna_names, ss.antenna_positions_m, ss.directions)


def _international(errors: dict[str, float], truth_json: Path) -> dict[str, float]:
    groups = {s["name"]: s["group"] for s in json.loads(truth_json.read_text())["stations"]}
    return {k: v for k, v in errors.items() if groups[k] == "international"}


def test_selfcal_preset_ionosphere_is_large_but_trackable(simulated):
    config = make_config("selfcal")
    assert config.observation.n_observations == 2 and not config.calibrator.enabled
    obs = simulated("selfcal_noiseless", preset="selfcal", overrides=NOISELESS).targets()[0]
    meta = json.loads(obs.truth_json.read_text())
    pointing = np.radians(meta["pointing_deg"])
    cal = np.radians(_calibrator_direction(obs.truth_json))
    offset_deg = np.degrees(np.arccos(np.sin(pointing[1]) * np.sin(cal[1])
                                      + np.cos(pointing[1]) * np.cos(cal[1]) * np.cos(pointing[0] - cal[0])))
    assert 0.1 < offset_deg < 0.31
    names = [s["name"] for s in meta["stations"]]
    groups = np.array([s["group"] for s in meta["stations"]])
    freqs = np.array(meta["freqs_hz"])
    times = meta["start_mjd_s"] + meta["integration_s"] * (np.arange(meta["n_time"]) + 0.5)
    solint_s = PHASE_SOLINT_SLOTS * meta["integration_s"]
    phase = truth_phases_rad(obs.truth_h5, CALIBRATOR, times[1::2] - meta["integration_s"] / 2, freqs, names,
                             solint_s=solint_s)
    phase -= phase[..., names.index("CS002HBA0")][..., None]
    intl, remote = phase[..., groups == "international"], phase[..., groups == "remote"]
    spread = intl[:, len(freqs) // 2].std(axis=0)
    assert np.all(spread > 0.7) and np.all(spread < 3.5)  # badly scattered without calibration
    assert np.median(remote[:, len(freqs) // 2].std(axis=0)) < np.median(spread)
    step = np.abs(np.angle(np.exp(1j * np.diff(intl, axis=0))))
    assert np.mean(step < 0.3) > 0.9  # consecutive 16 s solutions mostly differ by < 0.3 rad
    assert np.abs(intl[:, 0] - intl[:, -1]).max() < 1.0  # across the band


@pytest.fixture(scope="module")
def noiseless_solve(simulated, tmp_path_factory):
    sim = simulated("selfcal_noiseless", preset="selfcal", overrides=NOISELESS)
    obs = sim.targets()[0]
    _, h5 = _phase_solve(obs, sim.sky_model, tmp_path_factory.mktemp("selfcal_noiseless"), n_times=150)
    return obs, h5


@pytest.fixture(scope="module")
def noisy_solves(simulated, tmp_path_factory):
    sim = simulated("selfcal_one", preset="selfcal", overrides=NOISY)
    obs = sim.targets()[0]
    work = tmp_path_factory.mktemp("selfcal_noisy")
    shifted, phase_h5 = _phase_solve(obs, sim.sky_model, work, n_times=228)
    return sim, obs, phase_h5, _amplitude_solve(shifted, phase_h5, sim.sky_model, work)


def test_dp3_phases_match_the_truth_and_a_flipped_sign_does_not(noiseless_solve, tmp_path):
    obs, h5 = noiseless_solve
    errors = phase_errors_vs_truth(h5, obs.truth_h5, CALIBRATOR, "CS002HBA0")
    intl = _international(errors.per_station_rms_rad, obs.truth_json)
    assert len(intl) == 6 and max(intl.values()) < 0.15
    # Without noise the solutions are the interval-averaged truth to a few milliradians
    # (a truth taken at one slot instead of the interval mean is off by ~0.05 rad).
    assert errors.worst()[1] < 0.02, errors
    flipped = phase_errors_vs_truth(_negated_copy(h5, tmp_path / "neg.h5"), obs.truth_h5, CALIBRATOR, "CS002HBA0")
    flipped_intl = _international(flipped.per_station_rms_rad, obs.truth_json)
    assert min(flipped_intl.values()) > 0.5, flipped
    # Towards the faint source farthest from the calibrator the screen differs: the error grows.
    directions = json.loads(obs.truth_json.read_text())["directions"]
    cal = np.radians(directions[CALIBRATOR])
    far = max((d for d in directions if d != CALIBRATOR),
              key=lambda d: np.hypot((np.radians(directions[d][0]) - cal[0]) * np.cos(cal[1]),
                                     np.radians(directions[d][1]) - cal[1]))
    wrong = phase_errors_vs_truth(h5, obs.truth_h5, far, "CS002HBA0")
    assert min(_international(wrong.per_station_rms_rad, obs.truth_json).values()) > 5 * max(intl.values())


def _thermal_phase_rms_rad(sim, obs, reference: str) -> dict[str, float]:
    """Radiometer-equation phase error per station of a scalar solve per 2 slots and channel.

    A scalar solution on the (XX, YY) correlations of a point source of flux S has the
    variance ``1 / (S^2 * 2 pols * n_slots * sum_q 1/sigma_pq^2)``; referencing adds the
    reference station's variance.
    """
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.simulation.noise import baseline_sigma_jy, station_sefd_jy

    meta = json.loads(obs.truth_json.read_text())
    config = make_config("selfcal", NOISY)
    freqs = np.array(meta["freqs_hz"])
    model = read_makesourcedb(sim.sky_model)
    flux = model.select(np.array(model.patches) == CALIBRATOR).flux_jy(freqs).sum(axis=0)
    names = [s["name"] for s in meta["stations"]]
    sefd = station_sefd_jy(np.array([s["n_tiles"] for s in meta["stations"]]), freqs, config.corruptions.noise)
    a1, a2 = np.triu_indices(len(names), 1)
    sigma = baseline_sigma_jy(sefd, a1, a2, meta["chan_width_hz"], meta["integration_s"])  # (nbl, nf)
    inv = np.zeros((len(names), len(freqs)))
    np.add.at(inv, a1, 1 / sigma**2)
    np.add.at(inv, a2, 1 / sigma**2)
    var = 1.0 / (flux**2 * 2 * PHASE_SOLINT_SLOTS * inv)  # (station, freq)
    ref = names.index(reference)
    return {n: float(np.sqrt(np.mean(var[i] + var[ref]))) for i, n in enumerate(names) if i != ref}


def test_noisy_dp3_phases_are_as_good_as_the_noise_allows(noisy_solves):
    sim, obs, phase_h5, _ = noisy_solves
    expected = _thermal_phase_rms_rad(sim, obs, "CS002HBA0")
    errors = phase_errors_vs_truth(phase_h5, obs.truth_h5, CALIBRATOR, "CS002HBA0")
    ratio = {k: v / expected[k] for k, v in errors.per_station_rms_rad.items()}
    assert 0.8 < min(ratio.values()) and max(ratio.values()) < 1.25, (errors, expected)
    # An international reference removes the noisy 24-tile core field from every difference.
    via_de = phase_errors_vs_truth(phase_h5, obs.truth_h5, CALIBRATOR, "DE601HBA")
    assert max(_international(via_de.per_station_rms_rad, obs.truth_json).values()) < 0.25


def test_noisy_dp3_amplitudes_follow_the_scintillation(noisy_solves, tmp_path):
    _, obs, _, gain_h5 = noisy_solves
    errors = amplitude_errors_vs_truth(gain_h5, obs.truth_h5, CALIBRATOR)
    assert max(errors.per_station_rms_fraction.values()) < 0.05, errors
    intl = _international(errors.per_station_rms_fraction, obs.truth_json)
    assert max(intl.values()) < 0.03, errors
    # Unit gains (no amplitude calibration) are off by the scintillation itself.
    ss = read_h5parm(gain_h5)
    tab = ss.soltabs["amplitude000"]
    unit = Soltab(tab.name, tab.soltype, tab.axes, np.ones_like(tab.val), tab.weight)
    ones = write_h5parm(tmp_path / "unit.h5", [unit], ss.antenna_names, ss.antenna_positions_m, ss.directions)
    uncalibrated = _international(amplitude_errors_vs_truth(ones, obs.truth_h5, CALIBRATOR).per_station_rms_fraction,
                                  obs.truth_json)
    assert np.mean(list(uncalibrated.values())) > 2 * np.mean(list(intl.values()))
