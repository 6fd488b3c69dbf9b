"""The simulator against truth, with the real tools (DP3, WSClean, EveryBeam).

Each test states the quantity it recovers and the tolerance it holds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, DI_ONLY, image, on_grid_skymodel
from lofar_hires.imaging.compare import compare_with_skymodel
from lofar_hires.imaging.measure import load_image, measure_source, sigma_clipped_rms
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3

# The "small" station set (10 core, 8 remote, 6 international), 8 channels, 20 minutes.
SHORT_SMALL = (
    "observation.n_observations=1", "observation.duration_s=1200", "observation.n_chan=8",
    "observation.chan_width_hz=390625", "calibrator.enabled=false",
)
NO_CAL = ("calibrator.enabled=false",)


def _getcol(ms, column="DATA"):
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return t.getcol(column)


def _single_source(tmp_path, ra_deg, dec_deg, flux=1.0):
    path = tmp_path / "single.skymodel"
    path.write_text(
        "FORMAT = Name, Type, Patch, Ra, Dec, I, ReferenceFrequency='150e6', SpectralIndex='[]'\n"
        f"src, POINT, src, {ra_deg}, {dec_deg}, {flux}, 150e6, [-0.7]\n"
    )
    return path


def test_dp3_reads_phase_shifts_and_averages(simulated, tmp_path_factory):
    """Phase-shifted to the only source and averaged by DP3, every visibility equals its flux."""
    tmp = tmp_path_factory.mktemp("shift")
    sky = _single_source(tmp, 243.3, 55.25, 1.5)
    sim = simulated("single_offcentre", overrides=ALL_CORRUPTIONS_OFF + NO_CAL + (f"sky.skymodel={sky}",))
    out = tmp / "shifted.MS"
    run_dp3(Dp3Run(msin=sim.targets()[0].ms, msout=out, steps=[
        Dp3Step("shift", "phaseshift", {"phasecenter": ["243.3deg", "55.25deg"]}),
        Dp3Step("avg", "averager", {"timestep": 3, "freqstep": 2}),
    ]), tmp, "shift")
    data = _getcol(out)
    from casacore.tables import table

    with table(str(out / "SPECTRAL_WINDOW"), ack=False) as t:
        freqs = t.getcol("CHAN_FREQ")[0]
    expected = 1.5 * (freqs / 150e6) ** -0.7
    assert data.shape[1] == 4  # 8 channels averaged by 2
    np.testing.assert_allclose(data[..., 0], np.broadcast_to(expected, data.shape[:2]), atol=2e-3 * 1.5)
    np.testing.assert_allclose(data[..., 3], data[..., 0], atol=1e-6)
    assert np.abs(data[..., 1]).max() < 1e-6


def test_uvw_agrees_with_dp3(simulated, tmp_path):
    """DP3 computes the UVW of a station added at CS002HBA0's position: identical to ours (< 1 micron)."""
    from casacore.tables import table

    ms = simulated("predict_clean", overrides=ALL_CORRUPTIONS_OFF + NO_CAL).targets()[0].ms
    out = tmp_path / "added.MS"
    run_dp3(Dp3Run(msin=ms, msout=out, steps=[
        Dp3Step("add", "stationadder", {"stations": "{ST001:[CS002HBA0]}"})]), tmp_path, "add")
    with table(str(out), ack=False) as t:
        a1, a2, uvw = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("UVW")
    with table(str(out / "ANTENNA"), ack=False) as t:
        names = list(t.getcol("NAME"))
    new, ref = names.index("ST001"), names.index("CS002HBA0")

    def baseline(p, q):
        m = (a1 == p) & (a2 == q)
        return uvw[m] if m.any() else -uvw[(a1 == q) & (a2 == p)]

    worst = max(np.abs(baseline(ref, s) - baseline(new, s)).max()
                for s in range(len(names) - 1) if s != ref)
    assert worst < 1e-6


def test_uncorrupted_on_grid_sources_flux_and_position(simulated, tmp_path_factory):
    """Point sources on pixel centres: WSClean restores each peak within 1 % at < 0.05 beam."""
    tmp = tmp_path_factory.mktemp("grid")
    sky = on_grid_skymodel(tmp / "grid.skymodel", (242.75, 55.0), 1024, 2.5,
                           [(662, 552), (312, 632), (572, 282), (422, 432)], [0.8, 0.7, 0.4, 1.9])
    sim = simulated("grid", preset="small", overrides=ALL_CORRUPTIONS_OFF + SHORT_SMALL + (f"sky.skymodel={sky}",))
    fits = image(sim.targets()[0].ms, tmp, "grid", size_pix=1024, scale_arcsec=2.5, niter=20000,
                 maxuv_lambda=25000, restoring_beam_arcsec=12.0, threshold_jy=5e-4)
    rows, _ = compare_with_skymodel(fits["image"], sim.sky_model, min_flux_jy=0.1)
    assert len(rows) == 4
    for r in rows:
        assert abs(r.peak_ratio - 1) < 0.01, r
        assert r.offset_beams < 0.05, r


def test_uncorrupted_generated_sky_flux_and_position(simulated, tmp_path_factory):
    """A generated sky: every bright compact source within 0.2 beam and 5 % in integrated flux."""
    tmp = tmp_path_factory.mktemp("gensky")
    sim = simulated("gensky", preset="small", overrides=ALL_CORRUPTIONS_OFF + SHORT_SMALL + (
        "sky.field_radius_deg=0.3", "sky.bright_min_separation_deg=0.12", "sky.n_resolved=1", "sky.n_faint=5"))
    fits = image(sim.targets()[0].ms, tmp, "gen", size_pix=1024, scale_arcsec=2.5, niter=20000,
                 maxuv_lambda=25000, restoring_beam_arcsec=12.0, threshold_jy=5e-4)
    rows, _ = compare_with_skymodel(fits["image"], sim.sky_model, min_flux_jy=0.25)
    bright = [n for n in read_makesourcedb(sim.sky_model).names if n.startswith("bright")]
    assert sorted(r.name for r in rows) == sorted(bright)
    for r in rows:
        assert abs(r.integrated_ratio - 1) < 0.05, r
        assert r.offset_beams < 0.2, r


def test_thermal_noise_matches_radiometer_equation(simulated, tmp_path_factory):
    """Source-free image rms equals the radiometer prediction (natural weighting) within 15 %."""
    tmp = tmp_path_factory.mktemp("noise")
    off = tuple(o for o in ALL_CORRUPTIONS_OFF if not o.startswith("corruptions.noise"))
    sim = simulated("noise", preset="small", overrides=off + SHORT_SMALL + (
        "stations.international=[]", "sky.n_bright=0", "sky.n_resolved=0", "sky.n_faint=0"))
    obs = sim.targets()[0]
    expected = json.loads(obs.truth_json.read_text())["noise"]["expected_stokes_i_image_rms_natural_jy"]
    # A large field: the rms of a small image is dominated by few independent core-scale beams.
    fits = image(obs.ms, tmp, "noise", size_pix=2048, scale_arcsec=2.0, weighting="natural")
    measured = sigma_clipped_rms(load_image(fits["image"]).data)
    assert measured == pytest.approx(expected, rel=0.15)


def test_truth_h5parm_restores_di_corrupted_data(simulated, tmp_path):
    """DP3 applycal with the truth soltabs undoes every direction-independent corruption."""
    clean = simulated("predict_clean", overrides=ALL_CORRUPTIONS_OFF + NO_CAL).targets()[0]
    corrupt = simulated("di", overrides=DI_ONLY + NO_CAL).targets()[0]
    truth = clean.ms.parent / "sky_truth.skymodel"
    assert truth.read_text() == (corrupt.ms.parent / "sky_truth.skymodel").read_text()
    out = tmp_path / "corrected.MS"
    steps = {"pa": "polalign", "bp": "bandpass", "fr": "faraday", "cl": "clock", "tc": "tec", "sc": "scintillation"}
    options = {"parmdb": corrupt.truth_h5, "steps": list(steps)}
    options.update({f"{k}.correction": v for k, v in steps.items()})
    run_dp3(Dp3Run(msin=corrupt.ms, msout=out, steps=[Dp3Step("ac", "applycal", options)]), tmp_path, "ac")
    want = _getcol(clean.ms)
    scale = np.abs(want).max()
    assert np.abs(_getcol(corrupt.ms) - want).max() > 0.5 * scale
    assert np.abs(_getcol(out) - want).max() < 1e-5 * scale
    # The image of the brightest source: corrupted loses peak, corrected restores it (< 2 %).
    model = read_makesourcedb(truth)
    i = int(np.argmax(model.i_jy))
    ra, dec = math.degrees(model.ra_rad[i]), math.degrees(model.dec_rad[i])
    peaks = {}
    for name, ms in (("clean", clean.ms), ("corrupt", corrupt.ms), ("corrected", out)):
        fits = image(ms, tmp_path, name, size_pix=768, scale_arcsec=4.0, weighting="natural", maxuv_lambda=20000)
        peaks[name] = measure_source(load_image(fits["image"]), ra, dec).peak_jy_per_beam
    assert peaks["corrupt"] < 0.8 * peaks["clean"]
    assert peaks["corrected"] == pytest.approx(peaks["clean"], rel=0.02)


def test_truth_screen_is_direction_dependent_and_restores_its_direction(simulated, tmp_path_factory):
    """Applying the DI terms plus the screen towards the source restores it; DI terms alone do not."""
    tmp = tmp_path_factory.mktemp("screen")
    sky = _single_source(tmp, 243.3, 55.25, 1.5)
    base = NO_CAL + (f"sky.skymodel={sky}", "corruptions.beam.enabled=false", "corruptions.noise.enabled=false")
    clean_overrides = ALL_CORRUPTIONS_OFF + NO_CAL + (f"sky.skymodel={sky}",)
    clean = simulated("single_offcentre", overrides=clean_overrides).targets()[0]
    dd = simulated("screen", overrides=base).targets()[0]
    want = _getcol(clean.ms)
    scale = np.abs(want).max()
    di_steps = {"pa": "polalign", "bp": "bandpass", "fr": "faraday", "cl": "clock", "tc": "tec", "sc": "scintillation"}
    results = {}
    for label, steps in (("di", di_steps), ("dd", {**di_steps, "sc2": "tecscreen"})):
        options = {"parmdb": dd.truth_h5, "steps": list(steps)}
        options.update({f"{k}.correction": v for k, v in steps.items()})
        if "sc2" in steps:
            options["sc2.direction"] = "[src]"
        out = tmp / f"{label}.MS"
        run_dp3(Dp3Run(msin=dd.ms, msout=out, steps=[Dp3Step("ac", "applycal", options)]), tmp, label)
        results[label] = np.abs(_getcol(out) - want).max() / scale
    assert results["di"] > 0.1
    assert results["dd"] < 1e-5


def test_screen_phases_grow_with_baseline_length(simulated):
    """Differential screen TEC between two stations grows with their separation (Kolmogorov)."""
    import h5py

    sim = simulated("screen_stats", preset="small", overrides=SHORT_SMALL + (
        "corruptions.beam.enabled=false", "corruptions.noise.enabled=false"))
    obs = sim.targets()[0]
    with h5py.File(obs.truth_h5, "r") as f:
        tec = f["sol000/tecscreen/val"][()]  # (time, ant, dir)
        ants = [a.decode() for a in f["sol000/tecscreen/ant"][()]]
        pos = {row["name"].decode(): row["position"] for row in f["sol000/antenna"][()]}
    ref = ants.index("CS002HBA0")
    dist = np.array([np.linalg.norm(pos[a] - pos["CS002HBA0"]) for a in ants])
    rms = np.sqrt(np.mean((tec - tec[:, ref:ref + 1, :]) ** 2, axis=(0, 2)))
    core = [i for i, a in enumerate(ants) if a.startswith("CS") and i != ref]
    remote = [i for i, a in enumerate(ants) if a.startswith("RS")]
    intl = [i for i, a in enumerate(ants) if not a.startswith(("CS", "RS"))]
    assert rms[core].max() < rms[remote].min() < rms[intl].max()
    assert np.corrcoef(np.log(dist[dist > 0]), np.log(rms[dist > 0]))[0, 1] > 0.8
    # Across the field: directions differ, more so for distant stations' lines of sight.
    spread = tec.std(axis=2).mean(axis=0)
    assert spread.min() > 0


def test_beam_matches_dp3_applybeam(simulated, tmp_path_factory):
    """The simulated station beam is the one DP3 corrects: applybeam towards the source gives I, 0, 0, I."""
    tmp = tmp_path_factory.mktemp("beam")
    sky = _single_source(tmp, 243.3, 55.25, 1.0)
    on = tuple(o for o in ALL_CORRUPTIONS_OFF if not o.startswith("corruptions.beam"))
    sim = simulated("beam", overrides=on + NO_CAL + (f"sky.skymodel={sky}",))
    raw = _getcol(sim.targets()[0].ms)
    out = tmp / "beam.MS"
    run_dp3(Dp3Run(msin=sim.targets()[0].ms, msout=out, steps=[
        Dp3Step("shift", "phaseshift", {"phasecenter": ["243.3deg", "55.25deg"]}),
        Dp3Step("beam", "applybeam", {"direction": ["243.3deg", "55.25deg"]}),
    ]), tmp, "beam")
    data = _getcol(out)
    from casacore.tables import table

    with table(str(out / "SPECTRAL_WINDOW"), ack=False) as t:
        expected = (t.getcol("CHAN_FREQ")[0] / 150e6) ** -0.7
    assert np.abs(np.abs(raw[..., 0]) - expected).max() > 0.05  # the beam changed the data
    np.testing.assert_allclose(data[..., 0], np.broadcast_to(expected, data.shape[:2]), atol=1e-3)
    np.testing.assert_allclose(data[..., 3], np.broadcast_to(expected, data.shape[:2]), atol=1e-3)
    assert np.abs(data[..., 1:3]).max() < 1e-3


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    from conftest import make_config
    from lofar_hires.simulation.simulate import run_simulation

    a = run_simulation(make_config("tiny", NO_CAL), tmp_path / "a")
    b = run_simulation(make_config("tiny", NO_CAL), tmp_path / "b")
    c = run_simulation(make_config("tiny", NO_CAL + ("seed=7",)), tmp_path / "c")
    da, db, dc = (_getcol(s.targets()[0].ms) for s in (a, b, c))
    assert np.array_equal(da, db)
    assert not np.allclose(da, dc)
    assert a.sky_model.read_text() == b.sky_model.read_text() != c.sky_model.read_text()
    ja = json.loads(a.targets()[0].truth_json.read_text())
    jb = json.loads(b.targets()[0].truth_json.read_text())
    assert ja == jb and ja["seed"] == 20261121
