"""One self-calibration cycle: apply -> image -> model -> solves -> reset -> merge -> metrics.

Cycle ``n`` images the data corrected by cycle ``n-1``'s merged solutions (cycle 0
images the data as they are), puts the clean model (or, in cycle 0, a starting
model) into ``MODEL_DATA``, then runs the strategy's solves in order, each on
``DATA`` corrected by the cycle's earlier solves. Each observation gets its own
solutions; all observations are imaged together (one sky model).

With directions (a facet region file, :mod:`lofar_hires.selfcal.directions`) every
solve is direction dependent: WSClean images ``DATA`` facet by facet, applying each
facet's solutions of cycle ``n-1`` (``-apply-facet-solutions``), and writes its clean
components, which become a sky model with one patch per facet; each solve then
solves towards every facet at once, with the cycle's earlier solutions applied to the
model of each direction instead of to the data.

Everything is written into the cycle's own folder, which the engine renames into
place only when the cycle is complete.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, QualityError
from lofar_hires.imaging.islands import significant_islands
from lofar_hires.io.h5parm import Solset, read_h5parm, write_solset
from lofar_hires.io.ms import MsInfo
from lofar_hires.io.names import inside, safe_name, safe_names
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.provenance import Provenance
from lofar_hires.runners.dp3_steps import Correction, correction_steps, predict, run_steps
from lofar_hires.runners.wsclean import WSCleanOptions, run_wsclean
from lofar_hires.selfcal.directions import (
    DirectionSet,
    check_solution_directions,
    components_from_model_image,
    components_in_islands,
    direction_positions_rad,
    write_direction_model,
)
from lofar_hires.selfcal.metrics import CycleMetrics, amplitude_stability, image_metrics, phase_stability_rad
from lofar_hires.selfcal.solves import (
    antenna_constraint,
    ddecal_step,
    finish_solution,
    solution_correction,
    solve_steps,
)
from lofar_hires.selfcal.strategy import ImagingSpec, SolveSpec, Strategy, solint_channels, solint_slots, solve_name
from lofar_hires.solutions.apply import is_fulljones
from lofar_hires.solutions.merge import MergeInput, merge_h5parms
from lofar_hires.solutions.stations import StationGroup, resolve_stations

log = logging.getLogger(__name__)

#: Soltabs of a merged solution (what :func:`merge_h5parms` writes).
MERGED_SOLTABS = ("amplitude000", "phase000")


@dataclass(frozen=True)
class WorkSet:
    """The prepared measurement sets of a run, keyed by observation name."""

    ms: dict[str, Path]
    info: dict[str, MsInfo]
    longest_lambda: dict[str, float]

    @property
    def names(self) -> list[str]:
        return list(self.ms)

    @property
    def stations(self) -> list[str]:
        return list(next(iter(self.info.values())).station_names)


@dataclass(frozen=True)
class StartModel:
    """A starting model for cycle 0: a makesourcedb sky model or a WSClean model image."""

    skymodel: Path | None = None
    model_image: Path | None = None


@dataclass
class CycleContext:
    """What every cycle needs besides its number."""

    strategy: Strategy
    work: WorkSet
    groups: Mapping[str, StationGroup]
    threads: int
    provenance: Provenance
    start: StartModel = field(default_factory=StartModel)
    reference: str = ""
    directions: DirectionSet | None = None


def merged_correction(h5parm: Path) -> Correction:
    """How to apply a merged solution (full Jones when it has four polarisations)."""
    tabs = read_h5parm(h5parm).soltabs
    full = any(is_fulljones(t) for t in tabs.values())
    return Correction(h5parm, MERGED_SOLTABS if full else tuple(n for n in MERGED_SOLTABS if n in tabs),
                      fulljones=full)


def wsclean_options(spec: ImagingSpec, name: Path, data_column: str, threads: int, update_model: bool,
                    temp_dir: Path) -> WSCleanOptions:
    """The imaging of a cycle (pure)."""
    return WSCleanOptions(
        name=name, size_pix=(spec.size_pix, spec.size_pix), scale_arcsec=spec.scale_arcsec, niter=spec.niter,
        weighting=spec.weighting, robust=spec.robust, data_column=data_column, mgain=spec.mgain,
        auto_mask_sigma=spec.auto_mask_sigma or None, auto_threshold_sigma=spec.auto_threshold_sigma or None,
        multiscale=spec.multiscale, channels_out=spec.channels_out, join_channels=spec.channels_out > 1,
        fit_spectral_pol=spec.fit_spectral_pol if spec.channels_out > 1 else None,
        taper_gaussian_arcsec=spec.taper_gaussian_arcsec, minuv_lambda=spec.minuv_lambda,
        no_update_model_required=not update_model, threads=threads, abs_mem_gb=spec.mem_gb, temp_dir=temp_dir,
        restoring_beam_arcsec=spec.restoring_beam_arcsec,
    )


def check_model_image(path: Path) -> None:
    """Refuse a model image without any non-zero finite pixel (nothing would be predicted)."""
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model image {path} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise InputError(f"model image {path} is empty (0 bytes), not a FITS image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", AstropyUserWarning)  # e.g. "File may have been truncated"
            with fits.open(path) as hdul:
                data = hdul[0].data
                data = None if data is None else np.asarray(data, dtype=float)
    except (OSError, TypeError, ValueError, IndexError, AstropyUserWarning) as exc:
        raise InputError(f"model image {path} is not a readable FITS image: {' '.join(str(exc).split())}") from None
    if data is None:
        raise InputError(f"model image {path} has no image in its primary HDU")
    if not np.any(np.isfinite(data) & (data != 0)):
        raise InputError(f"model image {path} is empty (no non-zero pixel): the solves would have no model; "
                         "give a model with flux or clean deeper (lower imaging.auto_mask_sigma)")


def active_solves(strategy: Strategy, cycle: int) -> list[tuple[int, SolveSpec]]:
    return [(i, s) for i, s in enumerate(strategy.solves) if s.start_cycle <= cycle]


def check_uv_cuts(strategy: Strategy, longest_lambda: Mapping[str, float]) -> None:
    """Refuse a solve whose uv cut leaves no baseline at all (checked before the first cycle).

    Parameters
    ----------
    strategy
        The strategy; every solve is checked, whatever cycle it starts in.
    longest_lambda
        Longest baseline of each observation, in wavelengths at its highest frequency.

    Raises
    ------
    InputError
        ``minuv_lambda`` of a solve is at or above an observation's longest baseline.
    """
    for i, solve in enumerate(strategy.solves):
        if solve.minuv_lambda <= 0:
            continue
        for name, longest in longest_lambda.items():
            if solve.minuv_lambda >= longest:
                raise InputError(f"solves.{i}.minuv_lambda ({solve_name(solve, i)}) is {solve.minuv_lambda:g} but the "
                                 f"longest baseline of {name} is {longest:.0f} lambda: no data to solve on; lower "
                                 "it", setting=f"solves.{i}.minuv_lambda")


def apply_solutions(ctx: CycleContext, solutions: Mapping[str, Path], logdir: Path, cycle: int) -> None:
    """``CORRECTED_DATA`` = ``DATA`` corrected by each observation's merged solutions."""
    for name, ms in ctx.work.ms.items():
        run_steps(ms, None, correction_steps([merged_correction(solutions[name])]), logdir,
                  f"apply_{name}", data_column="DATA", out_column="CORRECTED_DATA", threads=ctx.threads,
                  provenance=ctx.provenance)
    log.info("cycle %d: applied cycle %d's solutions to %d observation(s)", cycle, cycle - 1, len(solutions))


def image_cycle(ctx: CycleContext, folder: Path, cycle: int, previous: Mapping[str, Path] | None = None
                ) -> tuple[Path, Path]:
    """Image all observations together; returns the image and model FITS.

    With directions, WSClean images ``DATA`` in facets, applies ``previous`` (each
    observation's merged solutions of the cycle before) facet by facet, and writes its
    clean model; the returned model is the corrected sky (``-model-pb``) when WSClean wrote one.
    """
    dd = ctx.directions is not None
    column = "DATA" if cycle == 0 or dd else "CORRECTED_DATA"
    start_model = cycle == 0 and (ctx.start.skymodel or ctx.start.model_image)
    opts = wsclean_options(ctx.strategy.imaging, folder / "image", column, ctx.threads, not (start_model or dd),
                           folder / "tmp")
    if dd:
        facet_solutions = None
        if previous is not None:
            files = [previous[name] for name in ctx.work.names]
            facet_solutions = (files, merged_correction(files[0]).soltabs)
        opts = replace(opts, facet_regions=ctx.directions.regions, apply_facet_solutions=facet_solutions)
    (folder / "tmp").mkdir(exist_ok=True)
    result = run_wsclean(opts, list(ctx.work.ms.values()), folder / "logs" / "wsclean.log",
                         provenance=ctx.provenance)
    shutil.rmtree(folder / "tmp", ignore_errors=True)
    model = result.get("model")
    if dd and any(p.name.endswith("-model-pb.fits") for p in result.fits):
        model = result.get("model-pb")  # facet amplitudes applied: the -pb model is the corrected sky
    return result.get("image"), model


def predict_start_model(ctx: CycleContext, folder: Path) -> None:
    """Cycle 0 with a starting model: predict it into ``MODEL_DATA`` of every observation."""
    if ctx.start.skymodel is not None:
        for name, ms in ctx.work.ms.items():
            run_steps(ms, None, [predict(ctx.start.skymodel)], folder / "logs", f"predict_{name}",
                      out_column="MODEL_DATA", threads=ctx.threads, provenance=ctx.provenance)
        return
    model = folder / "start-model.fits"
    shutil.copyfile(ctx.start.model_image, model)
    opts = WSCleanOptions(name=folder / "start", size_pix=(16, 16), scale_arcsec=1.0, predict=True,
                          threads=ctx.threads)
    run_wsclean(opts, list(ctx.work.ms.values()), folder / "logs" / "wsclean_predict.log", provenance=ctx.provenance)


def direction_model(ctx: CycleContext, folder: Path, cycle: int, model_image: Path) -> Path:
    """The sky model of a multi-direction cycle, one patch per facet: the starting model or the clean model."""
    out = folder / "model.skymodel"
    if cycle == 0 and ctx.start.skymodel is not None:
        return write_direction_model(read_makesourcedb(ctx.start.skymodel), ctx.directions, out,
                                     "starting sky model", error=InputError)
    spec = ctx.strategy.imaging
    if spec.model_filter_sigma <= 0:
        return write_direction_model(components_from_model_image(model_image), ctx.directions, out, f"cycle {cycle}")
    restored = restored_image_of(model_image)
    islands = significant_islands(restored, spec.model_filter_sigma, spec.model_filter_boundary_sigma,
                                  spec.model_filter_box_pix)
    kept, everything, unfiltered = components_in_islands(model_image, islands.mask, ctx.directions)
    log.info("cycle %d: the solves use %d of %d clean components (%.4g of %.4g Jy), those in the %d of %d islands of "
             "%s that reach %g x the local rms", cycle, len(kept), len(everything), float(np.sum(kept.i_jy)),
             float(np.sum(everything.i_jy)), islands.n_kept, islands.n_islands, restored.name,
             spec.model_filter_sigma)
    if unfiltered:
        log.warning("cycle %d: no island of direction(s) %s reaches %g x the local rms; their solves use every clean "
                    "component of their facet", cycle, ", ".join(unfiltered), spec.model_filter_sigma)
    return write_direction_model(kept, ctx.directions, out, f"cycle {cycle}")


def restored_image_of(model_image: Path) -> Path:
    """The restored image WSClean wrote with a model image (``X-model[-pb].fits`` -> ``X-image[-pb].fits``)."""
    name = model_image.name
    for model_suffix, image_suffix in (("-model-pb.fits", "-image-pb.fits"), ("-model.fits", "-image.fits")):
        if name.endswith(model_suffix):
            return model_image.with_name(name[:-len(model_suffix)] + image_suffix)
    raise QualityError(f"{name} is not named like a WSClean model image (-model.fits or -model-pb.fits)")


def run_solves(ctx: CycleContext, folder: Path, cycle: int, sourcedb: Path | None = None) -> dict[str, list[Path]]:
    """The cycle's solves, per observation; returns each observation's solution files in solve order.

    With ``sourcedb`` (a multi-direction cycle) every solve is towards the directions of
    ``ctx.directions`` and the earlier solves of the cycle are applied to the model.
    """
    solves = active_solves(ctx.strategy, cycle)
    stations = ctx.work.stations
    produced: dict[str, list[Path]] = {name: [] for name in ctx.work.names}
    corrections: dict[str, list[Correction]] = {name: [] for name in ctx.work.names}
    n_total = sum(len(s.modes) for _, s in solves)
    k = 0
    for index, solve in solves:
        where = f"cycle {cycle}, {solve_name(solve, index)}"
        reset = resolve_stations(solve.reset, stations, ctx.groups, where=f"solves[{index}].reset") \
            if solve.reset else []
        constraint = antenna_constraint(solve, stations, ctx.groups, f"solves[{index}]")
        for m, mode in enumerate(solve.modes):
            k += 1
            suffix = f"_{mode}" if len(solve.modes) > 1 else ""
            for name, ms in ctx.work.ms.items():
                info = ctx.work.info[name]
                slots = solint_slots(solve, info.integration_s, len(info.times_mjd_s))
                channels = solint_channels(solve, info.chan_width_hz, len(info.freqs_hz))
                log.info("cycle %d: solve %d/%d %s (%s, solint %d x %.0f s, nchan %d, smoothness %g MHz) on %s",
                         cycle, k, n_total, solve_name(solve, index), mode, slots, info.integration_s, channels,
                         solve.smoothness_hz / 1e6, name)
                h5 = solve_h5parm_path(folder, solve_name(solve, index) + suffix, name)
                h5.parent.mkdir(exist_ok=True)
                if sourcedb is not None:
                    steps = [ddecal_step(mode, h5, solve, slots, channels, constraint, sourcedb=sourcedb,
                                         directions=ctx.directions.solve_directions(),
                                         model_corrections=corrections[name])]
                else:
                    steps = solve_steps(corrections[name], ddecal_step(mode, h5, solve, slots, channels, constraint))
                # The solve writes the partly corrected data into CORRECTED_DATA, never into DATA.
                try:
                    run_steps(ms, None, steps, folder / "logs", h5.stem,
                              data_column="DATA", out_column="CORRECTED_DATA", threads=ctx.threads,
                              provenance=ctx.provenance)
                except QualityError as exc:  # DDECal wrote only NaN: say which solve of which cycle
                    raise QualityError(f"{where} on {name}: {exc}; this solve has minuv_lambda="
                                       f"{solve.minuv_lambda:g}") from None
                solset = finish_solution(read_h5parm(h5), mode, solve, reset, f"{where} on {name}")
                if sourcedb is not None:
                    solset = with_facet_directions(solset, ctx.directions, f"{where} on {name}")
                tmp = h5.with_name(f".{h5.name}.tmp")
                write_solset(tmp, solset)
                tmp.replace(h5)
                corrections[name].append(solution_correction(h5, mode))
                produced[name].append(h5)
    return produced


def with_facet_directions(solset: Solset, dset: DirectionSet, where: str) -> Solset:
    """The solutions' direction table set to the facet points (DDECal writes the patches' centroids).

    WSClean picks each facet's solutions by the direction nearest to its point, so the
    directions must be exactly there; names are checked to be the facets'.
    """
    check_solution_directions(dset, solset.directions, where, positions=False)
    return dataclasses.replace(solset, directions=direction_positions_rad(dset))


def solve_h5parm_path(folder: Path, solve: str, observation: str) -> Path:
    """``<folder>/solves/<solve>_<observation>.h5``, refused unless it lies inside ``folder``.

    ``solve`` and ``observation`` are safe names (:func:`~lofar_hires.selfcal.strategy.solve_name`,
    :func:`observation_names`); :func:`~lofar_hires.io.names.inside` is the last guard.
    """
    return inside(folder, "solves", f"{solve}_{observation}.h5")


def merge_cycle(ctx: CycleContext, folder: Path, produced: Mapping[str, list[Path]]) -> dict[str, Path]:
    """Each observation's solves merged into one solution, ``<folder>/<observation>.h5``."""
    merged = {}
    for name, files in produced.items():
        out = inside(folder, f"{name}.h5")
        merge_h5parms([MergeInput(p) for p in files], out, provenance=ctx.provenance, overwrite=True)
        merged[name] = out
    return merged


def stability(ctx: CycleContext, merged: Mapping[str, Path], previous: Mapping[str, Path] | None
              ) -> tuple[float | None, float | None]:
    """Largest phase and amplitude change from the previous cycle over the observations (None in cycle 0)."""
    if previous is None:
        return None, None
    stations = resolve_stations(ctx.strategy.stopping.stability_stations, ctx.work.stations, ctx.groups,
                                where="stopping.stability_stations")
    phases, amps = [], []
    for name, path in merged.items():
        try:
            phases.append(phase_stability_rad(path, previous[name], stations, reference=ctx.reference or None))
            amp = amplitude_stability(path, previous[name], stations)
        except InputError as exc:  # e.g. every solution of the stability stations flagged: a bad result
            raise QualityError(f"{name}: the change of the solutions cannot be measured: {exc}") from None
        if amp is not None:
            amps.append(amp)
    return max(phases), (max(amps) if amps else None)


def run_cycle(ctx: CycleContext, folder: Path, cycle: int, previous: Mapping[str, Path] | None
              ) -> tuple[CycleMetrics, dict[str, Path], Path]:
    """Run cycle ``cycle`` into ``folder``; returns its metrics, merged solutions and image."""
    t0 = time.monotonic()
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    n_max = ctx.strategy.stopping.max_cycles
    log.info("cycle %d/%d: start", cycle, n_max - 1)
    dd = ctx.directions is not None
    if previous is not None and not dd:
        apply_solutions(ctx, previous, folder / "logs", cycle)
    image, model = image_cycle(ctx, folder, cycle, previous)
    metrics = image_metrics(image)
    if not np.isfinite(metrics.rms_jy) or not np.isfinite(metrics.peak_jy):
        raise QualityError(f"cycle {cycle}: the image {image} has no finite rms or peak")
    log.info("cycle %d: image rms %.3g mJy/beam, peak %.4g Jy/beam, dynamic range %.1f", cycle,
             1e3 * metrics.rms_jy, metrics.peak_jy, metrics.dynamic_range)
    sourcedb = None
    if dd:
        sourcedb = direction_model(ctx, folder, cycle, model)
    elif cycle == 0 and (ctx.start.skymodel or ctx.start.model_image):
        predict_start_model(ctx, folder)
    else:
        try:
            check_model_image(model)
        except InputError as exc:  # the clean found nothing: a result, not an input, is bad
            raise QualityError(f"cycle {cycle}: {exc}") from None
    produced = run_solves(ctx, folder, cycle, sourcedb)
    merged = merge_cycle(ctx, folder, produced)
    phase_change, amp_change = stability(ctx, merged, previous)
    row = CycleMetrics(
        cycle=cycle, rms_jy=metrics.rms_jy, peak_jy=metrics.peak_jy, min_jy=metrics.min_jy,
        dynamic_range=metrics.dynamic_range, min_max_ratio=metrics.min_max_ratio,
        phase_stability_rad=phase_change, amplitude_stability=amp_change, classifier_score=None,
        n_solves=sum(len(v) for v in produced.values()), wall_time_s=round(time.monotonic() - t0, 2),
        image=image.name, solutions=None,
    )
    return row, merged, image


def observation_names(paths: Sequence[Path]) -> list[str]:
    """Short unique names of the observations, used in file names (``best_<name>.h5``, ``work/<name>.ms``).

    The MS name without ``.ms``/``.MS``, made a safe file name (:func:`~lofar_hires.io.names.safe_name`:
    letters, digits, ``_ + - .`` kept, other runs of characters become ``_``); ``obsNN`` when nothing
    usable is left; numbered (``00_name``, ``01_name``, ...) when two names are equal (ignoring case).
    """
    names = []
    for i, p in enumerate(paths):
        stem = Path(os.path.abspath(p)).name.removesuffix(".ms").removesuffix(".MS")
        try:
            names.append(safe_name(stem, what="observation"))
        except InputError:
            names.append(f"obs{i + 1:02d}")
            log.warning("measurement set %s: its name has no character usable in a file name; its products are "
                        "named %s", p, names[-1])
    if len({n.lower() for n in names}) != len(names):
        names = [safe_name(f"{i:02d}_{n}", what="observation") for i, n in enumerate(names)]
    return list(safe_names(names, what="observation").values())
