"""Sidereal visibility averaging: checks, the template grid, the time resolution, the output MS and its record.

:func:`plan_sva` reads the observations' metadata and a few time slots of their UVW, refuses bad
combinations (:mod:`lofar_hires.sva.inputs`), measures how each observation's baseline
coordinates differ from the template's at the same sidereal time, and chooses the output time
resolution from the smearing budget (:mod:`lofar_hires.sva.grid`); nothing is written.
:func:`run_sva` streams every observation once through :func:`lofar_hires.sva.engine.average`
into ``<outdir>/<name>.ms`` (written under a temporary name, renamed when complete).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.names import inside, safe_name
from lofar_hires.physics import C_M_S
from lofar_hires.provenance import Provenance
from lofar_hires.sva import grid as g
from lofar_hires.sva.engine import Baselines, EngineResult, ObservationPlan, average
from lofar_hires.sva.inputs import (
    Observation,
    check_compatible,
    choose_template,
    read_observation,
    sample_rows,
    station_map,
)
from lofar_hires.sva.msout import create_output, write_rows

log = logging.getLogger(__name__)

#: Bytes of memory per accumulated (row, channel, correlation) value: complex128 sum + float64 weight.
_ACC_BYTES = 24
#: Bytes per (row, channel, correlation) of an input chunk with its temporaries.
_CHUNK_BYTES = 64


@dataclass(frozen=True)
class SvaSettings:
    """How observations are averaged (defaults: ``lofar-hires sva --help``)."""

    data_column: str = "DATA"
    image_radius_deg: float | None = None
    max_smearing_loss: float = 0.05
    time_res_s: float | None = None
    max_centre_offset_arcsec: float = 1.0
    search_slots: int = 1
    chunk_mb: float = 256.0

    def __post_init__(self) -> None:
        if self.image_radius_deg is not None and not (math.isfinite(self.image_radius_deg)
                                                      and 0 < self.image_radius_deg <= 90):
            raise InputError(f"image_radius_deg must be in (0, 90], got {self.image_radius_deg}",
                             setting="image_radius_deg")
        if not (math.isfinite(self.max_smearing_loss) and 0 < self.max_smearing_loss < 1):
            raise InputError(f"max_smearing_loss must be in (0, 1), got {self.max_smearing_loss}",
                             setting="max_smearing_loss")
        if self.time_res_s is not None and not (math.isfinite(self.time_res_s) and self.time_res_s > 0):
            raise InputError(f"time_res_s must be a positive number, got {self.time_res_s}", setting="time_res_s")
        if not (math.isfinite(self.max_centre_offset_arcsec) and self.max_centre_offset_arcsec >= 0):
            raise InputError(f"max_centre_offset_arcsec must be >= 0, got {self.max_centre_offset_arcsec}",
                             setting="max_centre_offset_arcsec")
        if self.search_slots < 0:
            raise InputError(f"search_slots must be >= 0, got {self.search_slots}", setting="search_slots")
        if not (math.isfinite(self.chunk_mb) and self.chunk_mb >= 1):
            raise InputError(f"chunk_mb must be at least 1, got {self.chunk_mb}", setting="chunk_mb")


@dataclass(frozen=True)
class Resolution:
    """The output time step and why: the budget, the field radius and the loss at its edge."""

    step_s: float
    budget_step_s: float | None  # the longest step within the budget (None when the step was given)
    radius_deg: float
    radius_source: str
    wavelength_m: float
    track_speed_m_s: float
    offset_uv_m: float
    offset_w_m: float
    loss_at_radius: float


@dataclass
class SvaPlan:
    """Everything decided before the data are read."""

    observations: list[Observation]
    template: int
    offsets: list[g.TrackOffset]
    resolution: Resolution
    grid: g.TimeGrid
    baselines: Baselines
    model: g.UvwModel
    plans: list[ObservationPlan]
    settings: SvaSettings

    @property
    def n_rows_out(self) -> int:
        return self.grid.n_slots * self.baselines.n


def _measure_offset(obs: Observation, template: Observation, model: g.UvwModel, reference_mjd_s: float,
                    data_column: str) -> g.TrackOffset:
    """Compare a few time slots of ``obs``'s UVW with the template geometry at the same sidereal time."""
    rows = sample_rows(obs, data_column)
    stations = station_map(obs, template)
    a1, a2 = stations[rows["ANTENNA1"]], stations[rows["ANTENNA2"]]
    use = (a1 >= 0) & (a2 >= 0) & (a1 != a2)
    if not use.any():
        raise InputError(f"{obs.path}: no cross-correlation of stations in the template in its first time slots",
                         setting="msin")
    tau = g.template_time_s(rows["TIME"][use], reference_mjd_s)
    b_itrf = template.positions_itrf_m[a2[use]] - template.positions_itrf_m[a1[use]]
    uvw_t = np.einsum("nij,nj->ni", model.rotation(tau), b_itrf)
    return g.fit_track_offset(rows["UVW"][use], uvw_t, model.velocity_of(tau, b_itrf))


def _resolution(settings: SvaSettings, template: Observation, observations: list[Observation],
                offsets: list[g.TrackOffset], baselines: Baselines, model: g.UvwModel) -> Resolution:
    freq_max = max(float(o.freqs_hz.max()) for o in observations)
    wavelength = C_M_S / freq_max
    if settings.image_radius_deg is not None:
        radius, source = math.radians(settings.image_radius_deg), "given"
    else:
        radius = g.default_radius_rad(template.dish_diameters_m, float(template.freqs_hz.min()))
        source = "half-power radius of the widest station beam at the lowest frequency"
    speed = float(np.max(np.linalg.norm(model.velocity_m_s(model.anchors_mjd_s, baselines.itrf_m)[..., :2], axis=-1)))
    off_uv = max(o.residual_uv_m for o in offsets)
    off_w = max(o.residual_w_m for o in offsets)
    integration = min(o.integration_s for o in observations)
    geometry = {"radius_rad": radius, "wavelength_m": wavelength, "track_speed_m_s": speed, "offset_uv_m": off_uv,
                "offset_w_m": off_w}
    if settings.time_res_s is not None:
        step, budget = settings.time_res_s, None
    else:
        budget = g.max_step_s(settings.max_smearing_loss, **geometry)
        step = g.quantise_step(budget, integration)
    loss = g.smearing_loss(step, **geometry) if math.isfinite(step) else 1.0
    if settings.time_res_s is not None and loss > settings.max_smearing_loss:
        log.warning("the given time resolution of %g s smears a source at %.3g deg by %.2g %% (budget %.2g %%)", step,
                    math.degrees(radius), 100 * loss, 100 * settings.max_smearing_loss)
    return Resolution(step_s=step, budget_step_s=budget, radius_deg=math.degrees(radius), radius_source=source,
                      wavelength_m=wavelength, track_speed_m_s=speed, offset_uv_m=off_uv, offset_w_m=off_w,
                      loss_at_radius=loss)


def plan_sva(paths: list[Path], settings: SvaSettings) -> SvaPlan:
    """Check the observations and decide the template grid; nothing is written.

    Raises
    ------
    InputError
        Another field, other channels or correlations, no common baseline, observations that do not
        overlap in sidereal time, or a smearing budget that no time resolution meets.
    """
    if not paths:
        raise InputError("no measurement set given", setting="msin")
    resolved = [Path(p).resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise InputError("a measurement set is given more than once", setting="msin")
    observations = [read_observation(Path(p), settings.data_column) for p in paths]
    t_idx = choose_template(observations)
    template = observations[t_idx]
    check_compatible(observations, t_idx, settings.max_centre_offset_arcsec)
    reference = float(template.times_mjd_s[template.times_mjd_s.size // 2])
    mapped = [g.template_time_s(o.times_mjd_s, reference) for o in observations]
    margin = 600.0
    model = g.UvwModel.build(min(float(m.min()) for m in mapped) - margin, max(float(m.max()) for m in mapped) + margin,
                             template.phase_centre_rad, template.positions_itrf_m[0])
    offsets = [_measure_offset(o, template, model, reference, settings.data_column) for o in observations]
    for obs, off in zip(observations, offsets):
        log.info("%s: at the same sidereal time its (u,v) differ from the template's by up to %.3g m; shifted by "
                 "%.4g s along the tracks, %.3g m in (u,v) and %.3g m in w remain", obs.name, off.same_lst_uv_m,
                 off.shift_s, off.residual_uv_m, off.residual_w_m)
    intervals = [(float(m[0]) + o.shift_s - obs.integration_s / 2, float(m[-1]) + o.shift_s + obs.integration_s / 2)
                 for m, o, obs in zip(mapped, offsets, observations)]
    gap = g.uncovered_gap(intervals, min(o.integration_s for o in observations) / 2)
    if gap is not None:
        a, b = observations[gap[0]], observations[gap[1]]
        raise InputError(f"{b.path} does not overlap in sidereal time with {a.path} (nor with the observations "
                         "before it): averaging needs observations that cover one sidereal-time range", setting="msin")
    present = np.zeros(len(template.station_names), bool)
    maps = [station_map(o, template) for o in observations]
    for m in maps:
        present[m[m >= 0]] = True
    baselines = Baselines.of_stations(template.positions_itrf_m, present)
    resolution = _resolution(settings, template, observations, offsets, baselines, model)
    span = max(b for _, b in intervals) - min(a for a, _ in intervals)
    step = min(resolution.step_s, span)
    if step != resolution.step_s:
        resolution = Resolution(**{**asdict(resolution), "step_s": step})
    samples = [(float(m[0]) + o.shift_s, float(m[-1]) + o.shift_s) for m, o in zip(mapped, offsets)]
    grid = g.TimeGrid.covering(samples, step, min(o.integration_s for o in observations), samples[t_idx][0])
    plans = [ObservationPlan(o, m, grid.slot_of(t + off.shift_s)) for o, m, t, off in zip(observations, maps, mapped,
                                                                                         offsets)]
    log.info("template %s; output step %.4g s (%s; budget %s s; %.2g %% peak loss at %.3g deg, %s): %d slots x %d "
             "baselines = %d rows from %d input rows", template.name, step,
             "given" if settings.time_res_s is not None else "from the smearing budget",
             "-" if resolution.budget_step_s is None else f"{resolution.budget_step_s:.4g}",
             100 * resolution.loss_at_radius, resolution.radius_deg, resolution.radius_source, grid.n_slots,
             baselines.n, grid.n_slots * baselines.n, sum(o.n_rows for o in observations))
    return SvaPlan(observations, t_idx, offsets, resolution, grid, baselines, model, plans, settings)


def output_path(outdir: Path, name: str) -> Path:
    """``<outdir>/<name>.ms`` (``name`` made safe)."""
    return inside(outdir, f"{safe_name(name, what='output name')}.ms")


@dataclass
class SvaResult:
    output: Path
    engine: EngineResult
    wall_s: float


def run_sva(plan: SvaPlan, out: Path, prov: Provenance, *, overwrite: bool = False) -> SvaResult:
    """Average the plan's observations into ``out`` (inputs only read) and write its provenance beside it."""
    from lofar_hires.calibration.step_products import record_ms_history

    template = plan.observations[plan.template]
    n_chan, n_corr = template.freqs_hz.size, len(template.corr_types)
    nb = plan.baselines.n
    per_slot = nb * n_chan * n_corr * _ACC_BYTES
    block_slots = max(2 * plan.settings.search_slots + 1, int(plan.settings.chunk_mb * 2**20 // per_slot))
    chunk_rows = max(1000, int(plan.settings.chunk_mb * 2**20 // (n_chan * n_corr * _CHUNK_BYTES)))
    started = time.monotonic()
    with atomic_output(out, overwrite=overwrite) as tmp:
        first, last = plan.grid.start_mjd_s, plan.grid.start_mjd_s + plan.grid.n_slots * plan.grid.step_s
        create_output(tmp, template.path, plan.settings.data_column, n_chan, n_corr, plan.n_rows_out, (first, last))

        def write(first_slot: int, times: np.ndarray, uvw: np.ndarray, data: np.ndarray, weight: np.ndarray) -> None:
            n_slots = times.size
            write_rows(tmp, first_slot * nb, time_mjd_s=np.repeat(times, nb), interval_s=plan.grid.step_s,
                       ant1=np.tile(plan.baselines.ant1, n_slots), ant2=np.tile(plan.baselines.ant2, n_slots),
                       uvw_m=uvw.reshape(-1, 3), data=data, weight=weight)

        engine = average(plan.plans, plan.grid, plan.baselines, plan.model, n_chan, n_corr, write,
                         data_column=plan.settings.data_column, block_slots=block_slots, chunk_rows=chunk_rows,
                         search_slots=plan.settings.search_slots)
        if engine.rows_out != plan.n_rows_out:
            raise QualityError(f"the average wrote {engine.rows_out} of {plan.n_rows_out} rows")
        if engine.flagged_rows_out == engine.rows_out:
            raise QualityError("no visibility of any observation landed on the template grid")
        record_ms_history(tmp, prov)
    wall = time.monotonic() - started
    prov.write(out.with_name(out.name + ".provenance.json"))
    log.info("wrote %s: %d rows (%d flagged) from %d input rows in %.1f s", out, engine.rows_out,
             engine.flagged_rows_out, sum(s.rows_read for s in engine.stats), wall)
    return SvaResult(out, engine, wall)


def summary(plan: SvaPlan, result: SvaResult) -> dict[str, object]:
    """What was averaged, how, and what came out (the ``<name>.sva.json`` record)."""
    rows_in = sum(o.n_rows for o in plan.observations)
    return {
        "output": str(result.output),
        "template": str(plan.observations[plan.template].path),
        "settings": asdict(plan.settings),
        "time_resolution": asdict(plan.resolution),
        "grid": {"start_mjd_s": plan.grid.start_mjd_s, "step_s": plan.grid.step_s, "n_slots": plan.grid.n_slots,
                 "n_baselines": plan.baselines.n},
        "rows_in": rows_in,
        "rows_out": result.engine.rows_out,
        "rows_ratio": result.engine.rows_out / rows_in if rows_in else None,
        "flagged_rows_out": result.engine.flagged_rows_out,
        "weight_in_used": sum(s.weight_used for s in result.engine.stats),
        "weight_out": result.engine.weight_out,
        "wall_s": round(result.wall_s, 3),
        "observations": [{"ms": str(o.path), "integration_s": o.integration_s, "rows": o.n_rows,
                          "offset": asdict(off), **s.as_dict()}
                         for o, off, s in zip(plan.observations, plan.offsets, result.engine.stats)],
    }


def write_summary(path: Path, plan: SvaPlan, result: SvaResult) -> Path:
    """Write :func:`summary` as JSON (under a temporary name, renamed when complete)."""
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary(plan, result), indent=2, default=float) + "\n")
    return path
