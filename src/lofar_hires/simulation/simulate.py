"""Simulate LOFAR observations with known corruptions and write the ground truth.

For every date the simulator writes a calibrator observation (optional) and a
target observation of the same field over the same LST range. Instrumental terms
(polarisation delays, bandpass) are shared by all observations; clocks and the
ionosphere are drawn per date and are continuous between the calibrator and
the target of that date.

Products in the output directory::

    simulation.json                  all settings, the seed and the product list
    sky_truth.skymodel               the target sky (makesourcedb)
    calibrator.skymodel              the calibrator model (when simulated)
    <obs>.MS                         measurement sets
    <obs>.truth.h5                   injected corruptions (h5parm, DP3 conventions)
    <obs>.truth.json                 per-station parameters and noise figures
    provenance.json                  how the products were made
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires import __version__
from lofar_hires.config_schema import to_mapping
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.calibrator_models import load_calibrator_model
from lofar_hires.io.h5parm import write_h5parm
from lofar_hires.io.skymodel import SkyModel, read_makesourcedb, write_makesourcedb
from lofar_hires.provenance import Provenance
from lofar_hires.simulation import corruptions as cor
from lofar_hires.simulation.beam import BeamModel
from lofar_hires.simulation.config import SimulationConfig
from lofar_hires.simulation.geometry import baseline_uvw_m, radec_to_lmn, station_uvw_m
from lofar_hires.simulation.mswriter import MsChunkWriter, MsLayout, create_ms
from lofar_hires.simulation.noise import baseline_sigma_jy, natural_image_noise_jy, station_sefd_jy
from lofar_hires.simulation.planning import ObservationPlan, plan_observations
from lofar_hires.simulation.predict import Components, Smearing, predict_visibilities
from lofar_hires.simulation.sky import flux_weighted_centre, generate_sky
from lofar_hires.simulation.stations import StationLayout, load_stations
from lofar_hires.simulation.truth import truth_soltabs, truth_summary

log = logging.getLogger(__name__)


def rng_stream(seed: int, *keys: object) -> np.random.Generator:
    """An independent, reproducible random stream for a named purpose."""
    words = [seed] + [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass
class ObservationProduct:
    """Paths of one simulated observation."""

    name: str
    kind: str
    ms: Path
    truth_h5: Path
    truth_json: Path


@dataclass
class SimulationResult:
    """Everything a simulation wrote."""

    outdir: Path
    sky_model: Path
    calibrator_model: Path | None
    observations: list[ObservationProduct] = field(default_factory=list)
    summary: Path | None = None

    def targets(self) -> list[ObservationProduct]:
        return [o for o in self.observations if o.kind == "target"]

    def calibrators(self) -> list[ObservationProduct]:
        return [o for o in self.observations if o.kind == "calibrator"]


class DateCorruptions:
    """Clocks and ionosphere of one observing date (shared by its calibrator and target)."""

    def __init__(self, config: SimulationConfig, stations: StationLayout, date_index: int,
                 t_origin_mjd_s: float) -> None:
        c = config.corruptions
        seed = config.seed
        ref = stations.index(config.stations.reference)
        self.t_origin = t_origin_mjd_s
        self.clock = cor.ClockModel(c.clock, stations, rng_stream(seed, "clock", date_index), 0.0)
        self.iono = cor.ScalarIonosphere(c.tec, c.faraday, stations, ref,
                                         rng_stream(seed, "ionosphere", date_index))
        self.scint = cor.Scintillation(c.scintillation, stations,
                                       rng_stream(seed, "scintillation", date_index))
        self.screen = (cor.PhaseScreen(c.tecscreen, stations, ref, rng_stream(seed, "screen", date_index))
                       if c.tecscreen.enabled else None)


def _patch_directions(model: SkyModel) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Unique patches, their flux-weighted centres and each component's patch index."""
    names = list(dict.fromkeys(model.patches))
    index = np.array([names.index(p) for p in model.patches], dtype=int)
    ra = np.empty(len(names))
    dec = np.empty(len(names))
    for i in range(len(names)):
        ra[i], dec[i] = flux_weighted_centre(model.select(index == i))
    return names, ra, dec, index


def simulate_observation(
    config: SimulationConfig,
    plan: ObservationPlan,
    stations: StationLayout,
    model: SkyModel,
    instrument: cor.InstrumentTruth,
    date: DateCorruptions,
    ms_path: Path,
    obs_index: int,
) -> dict:
    """Write one MS with corrupted visibilities; return the truth arrays and figures."""
    obs = config.observation
    c = config.corruptions
    freqs = obs.freq_min_hz + np.arange(obs.n_chan) * obs.chan_width_hz
    layout = MsLayout(
        stations=stations, freqs_hz=freqs, chan_width_hz=obs.chan_width_hz,
        times_mjd_s=plan.times_mjd_s, integration_s=obs.integration_s,
        phase_centre_rad=plan.pointing_rad, field_name=plan.field_name,
        autocorrelations=obs.autocorrelations,
    )
    create_ms(ms_path, layout)
    a1, a2 = layout.baselines()
    uvw_all = station_uvw_m(plan.times_mjd_s, stations.itrf_m, plan.pointing_rad)
    smearing = None
    if obs.smearing:
        rate = (station_uvw_m(plan.times_mjd_s + 0.5, stations.itrf_m, plan.pointing_rad)
                - station_uvw_m(plan.times_mjd_s - 0.5, stations.itrf_m, plan.pointing_rad))  # per second
        smearing = Smearing(obs.chan_width_hz, obs.integration_s, rate)
    lmn = radec_to_lmn(model.ra_rad, model.dec_rad, plan.pointing_rad)
    comps = Components.from_arrays(lmn, model.flux_jy(freqs), model.is_gaussian, model.major_arcsec,
                                   model.minor_arcsec, model.orientation_deg)
    patch_names, patch_ra, patch_dec, patch_index = _patch_directions(model)
    t_rel = plan.times_mjd_s - date.t_origin
    clock_s = date.clock(t_rel)
    tec_tecu = date.iono.tec_tecu(t_rel)
    rm = date.iono.rm_rad_m2(t_rel)
    scint = date.scint(t_rel)
    bandpass = cor.bandpass_amplitude(instrument, c.bandpass, freqs)
    polalign = cor.polalign_phase(instrument, freqs)
    diagonal = bandpass * np.exp(1j * polalign)
    sefd = station_sefd_jy(stations.n_tiles, freqs, c.noise)
    sigma = baseline_sigma_jy(sefd, a1, a2, obs.chan_width_hz, obs.integration_s)  # (nbl, nf)
    weights = np.broadcast_to((1.0 / sigma**2)[:, :, None], (len(a1), len(freqs), 4))
    beam = None
    if c.beam.enabled:
        beam = BeamModel(ms_path, model.ra_rad, model.dec_rad, plan.pointing_rad,
                         stations.itrf_m[0]).gridded(plan.times_mjd_s, freqs, stations.n_stations,
                                                     c.beam.time_step_s, c.beam.freq_step_hz)
    screen = np.zeros((len(t_rel), stations.n_stations, len(patch_names)))
    chunk = config.time_chunk
    n_time = layout.n_time
    t0 = time.monotonic()
    next_report = 0.0
    with MsChunkWriter(ms_path, layout) as writer:
        for start in range(0, n_time, chunk):
            stop = min(n_time, start + chunk)
            sl = slice(start, stop)
            if date.screen is not None:
                screen[sl] = date.screen.tec_tecu(t_rel[sl], plan.times_mjd_s[sl], patch_ra, patch_dec)
                if c.tecscreen.relative_to_pointing:
                    centre = date.screen.tec_tecu(t_rel[sl], plan.times_mjd_s[sl], np.array([plan.pointing_rad[0]]),
                                                  np.array([plan.pointing_rad[1]]))
                    screen[sl] -= centre
            tec_total = tec_tecu[sl][:, :, None] + screen[sl][:, :, patch_index]  # (nt, nst, ns)
            extra = cor.tec_phase_rad(tec_total, freqs) + cor.clock_phase_rad(clock_s[sl], freqs)[:, :, None, :]
            vis = predict_visibilities(
                uvw_all[sl], freqs, comps, a1, a2,
                extra_phase_rad=extra,
                amplitude=scint[sl],
                diagonal=diagonal,
                faraday_rad=cor.faraday_angle_rad(rm[sl], freqs) if c.faraday.enabled else None,
                beam=None if beam is None else beam(plan.times_mjd_s[sl]),
                smearing=None if smearing is None else Smearing(smearing.chan_width_hz, smearing.integration_s,
                                                                smearing.station_uvw_rate_m_s[sl]),
            )
            if c.noise.enabled:
                for i in range(stop - start):
                    rng = rng_stream(config.seed, "noise", obs_index, start + i)
                    shape = vis.shape[1:]
                    vis[i] += sigma[:, :, None] * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
            writer.write(start, baseline_uvw_m(uvw_all[sl], a1, a2), vis, np.broadcast_to(weights, vis.shape))
            frac = stop / n_time
            if frac >= next_report or stop == n_time:
                log.info("%s: %3.0f%% of %d time slots (%.1f s)", plan.name, 100 * frac, n_time,
                         time.monotonic() - t0)
                next_report = frac + 0.1
    return {
        "freqs_hz": freqs,
        "clock_s": clock_s,
        "tec_tecu": tec_tecu,
        "rm_rad_m2": rm,
        "scintillation": scint,
        "screen_tecu": screen,
        "patch_names": patch_names,
        "patch_radec": (patch_ra, patch_dec),
        "bandpass": bandpass,
        "polalign_phase": polalign,
        "sigma_jy": sigma,
        "image_noise_jy": natural_image_noise_jy(sigma, n_time) if c.noise.enabled else 0.0,
        "n_baselines": len(a1),
    }


def run_simulation(config: SimulationConfig, outdir: Path, *, overwrite: bool = False) -> SimulationResult:
    """Simulate every observation of ``config`` into ``outdir`` (written atomically).

    Raises
    ------
    InputError
        Bad settings (stations, frequencies, elevation, sky model).
    OutputExistsError
        ``outdir`` exists, is not empty and ``overwrite`` is false.
    """
    outdir = Path(outdir)
    check_output_path(outdir, overwrite)
    prov = Provenance(task="simulate", parameters=to_mapping(config))
    stations = load_stations(config.station_names)
    phase_centre = (np.radians(config.observation.pointing_ra_deg),
                    np.radians(config.observation.pointing_dec_deg))
    if config.sky.skymodel is not None:
        sky = read_makesourcedb(config.sky.skymodel)
        prov.add_input(config.sky.skymodel)
    else:
        sky = generate_sky(config.sky, phase_centre, rng_stream(config.seed, "sky"))
    cal_model = load_calibrator_model(config.calibrator.model) if config.calibrator.enabled else None
    cal_pointing = flux_weighted_centre(cal_model) if cal_model is not None else None
    plans = plan_observations(config, stations, cal_pointing)
    instrument = cor.draw_instrument(config.corruptions, stations, rng_stream(config.seed, "instrument"))
    log.info("simulating %d observation(s) with %d stations, %d channels, %d sky components (seed %d)",
             len(plans), stations.n_stations, config.observation.n_chan, len(sky), config.seed)
    t_start = time.monotonic()
    with atomic_output(outdir, overwrite) as tmp:
        tmp.mkdir(parents=True)
        sky_path = write_makesourcedb(sky, tmp / "sky_truth.skymodel",
                                      header=[f"lofar-hires {__version__} simulated sky, seed {config.seed}"])
        cal_path = None
        if cal_model is not None:
            cal_path = write_makesourcedb(cal_model, tmp / "calibrator.skymodel",
                                          header=[f"calibrator model {config.calibrator.model}"])
        origins = {}
        for p in plans:
            origins[p.date_index] = min(origins.get(p.date_index, np.inf), float(p.times_mjd_s[0]))
        dates = {k: DateCorruptions(config, stations, k, t0) for k, t0 in origins.items()}
        products = []
        for i, plan in enumerate(plans):
            model = sky if plan.kind == "target" else cal_model
            model_path = sky_path if plan.kind == "target" else cal_path
            ms_path = tmp / f"{plan.name}.MS"
            log.info("observation %d/%d: %s (%s), %d time slots", i + 1, len(plans), plan.name,
                     plan.field_name, len(plan.times_mjd_s))
            truth = simulate_observation(config, plan, stations, model, instrument,
                                         dates[plan.date_index], ms_path, i)
            h5_path = tmp / f"{plan.name}.truth.h5"
            write_h5parm(
                h5_path, truth_soltabs(plan.times_mjd_s, stations, truth), stations.names,
                stations.itrf_m,
                {n: (ra, dec) for n, ra, dec in zip(truth["patch_names"], *truth["patch_radec"])},
                attrs={"lofar_hires_version": __version__, "made_by": "lofar-hires simulate",
                       "seed": str(config.seed), "observation": plan.name},
            )
            json_path = tmp / f"{plan.name}.truth.json"
            json_path.write_text(json.dumps(
                truth_summary(config, plan, stations, instrument, dates[plan.date_index].clock, truth,
                            ms_path, h5_path, model_path), indent=2) + "\n")
            products.append(ObservationProduct(plan.name, plan.kind, ms_path, h5_path, json_path))
        summary = {
            "lofar_hires_version": __version__,
            "seed": config.seed,
            "config": to_mapping(config),
            "sky_model": sky_path.name,
            "calibrator_model": None if cal_path is None else cal_path.name,
            "observations": [
                {"name": p.name, "kind": p.kind, "ms": p.ms.name, "truth_h5parm": p.truth_h5.name,
                 "truth_json": p.truth_json.name} for p in products
            ],
            "wall_time_s": round(time.monotonic() - t_start, 2),
        }
        (tmp / "simulation.json").write_text(json.dumps(summary, indent=2) + "\n")
        prov.write(tmp / "provenance.json")
    log.info("simulation finished in %.1f s: %s", time.monotonic() - t_start, outdir)

    def final(p: Path) -> Path:
        return outdir / p.name

    return SimulationResult(
        outdir=outdir,
        sky_model=outdir / "sky_truth.skymodel",
        calibrator_model=None if cal_path is None else outdir / "calibrator.skymodel",
        observations=[ObservationProduct(p.name, p.kind, final(p.ms), final(p.truth_h5), final(p.truth_json))
                      for p in products],
        summary=outdir / "simulation.json",
    )
