"""The self-calibration engine: prepare the data, run cycles until the stopping rule says so, keep the best.

Output directory (``outdir``)::

    work/<obs>.ms            the prepared data (phase-shifted, averaged, core phased up); inputs are never touched
    cycle_NNN/               image-*.fits, image.png, <obs>.h5 (merged solutions), solves/, logs/
    metrics.json, metrics.csv, montage.png
    best_image.fits, best_image.png, best_<obs>.h5, final_<obs>.h5
    selfcal_report.json      the stopping decision, its criteria and the best cycle
    selfcal.provenance.json  settings, inputs and every DP3/WSClean command with version and duration
    state.json               progress record used to resume

A cycle is written into ``cycle_NNN.partial`` and renamed when complete;
re-running with the same output directory continues after the last complete
cycle (a half-done cycle is discarded and redone). A run holds the lock of its
output directory (``.lofar-hires.lock``, :func:`lofar_hires.io.lock.output_lock`)
from start to end, so a second run into the same directory is refused; the lock
of a run that was killed is taken over. ``<obs>`` and the solve names in file
names are safe names (:mod:`lofar_hires.io.names`), and every product path is
checked to lie inside the output directory.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lofar_hires.config_schema import to_mapping
from lofar_hires.errors import InputError, LofarHiresError, MissingInputError, exit_status
from lofar_hires.io.atomic import atomic_output, remove_path
from lofar_hires.io.h5parm import Solset, read_h5parm, require_values
from lofar_hires.io.lock import LOCK_NAME, output_lock
from lofar_hires.io.ms import MsInfo, read_antennas, read_ms_info, require_ms
from lofar_hires.io.names import inside
from lofar_hires.physics import C_M_S
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Correction, run_steps
from lofar_hires.selfcal.cycle import (
    CycleContext,
    StartModel,
    WorkSet,
    check_model_image,
    check_uv_cuts,
    observation_names,
    run_cycle,
)
from lofar_hires.selfcal.directions import DirectionSet, facets_without_flux, load_directions
from lofar_hires.selfcal.metrics import write_metrics
from lofar_hires.selfcal.solves import longest_baseline_lambda, plan_prepare
from lofar_hires.selfcal.state import STATE_NAME, CycleRecord, RunState, load_state, save_state
from lofar_hires.selfcal.stopping import Decision, StoppingRule, best_cycle, decide
from lofar_hires.selfcal.strategy import Strategy, solve_name
from lofar_hires.solutions.apply import check_stations, check_times
from lofar_hires.solutions.output import save_solset
from lofar_hires.solutions.reset import reset_stations
from lofar_hires.solutions.stations import load_station_groups, resolve_stations
from lofar_hires.solutions.superstation import expand_superstation

log = logging.getLogger(__name__)

#: What to do with stations of the data that pre-applied solutions lack.
PRE_APPLY_MISSING = ("error", "identity")
#: Largest frequency difference (Hz) between observations that are calibrated jointly.
FREQ_MATCH_HZ = 1.0
#: Speed of light (m/s), for baseline lengths in wavelengths.


@dataclass(frozen=True)
class SelfcalRequest:
    """The inputs of a run besides the strategy."""

    ms_paths: tuple[Path, ...]
    phase_centre_deg: tuple[float, float] | None = None
    skymodel: Path | None = None
    model_image: Path | None = None
    point_flux_jy: float | None = None
    pre_apply: tuple[Path, ...] = ()
    #: Stations of the data that pre-applied solutions lack: ``error`` refuses them, ``identity``
    #: leaves them uncorrected (Dutch solutions applied to data with international stations).
    pre_apply_missing: str = "error"
    data_column: str = "DATA"
    station_groups: Path | None = None
    facet_regions: Path | None = None
    #: What the run calibrates (a calibrator's name), recorded in the report; default the output directory's name.
    name: str | None = None

    def options(self) -> dict:
        return {"phase_centre_deg": list(self.phase_centre_deg) if self.phase_centre_deg else None,
                "facet_regions": str(self.facet_regions) if self.facet_regions else None,
                "skymodel": str(self.skymodel) if self.skymodel else None,
                "model_image": str(self.model_image) if self.model_image else None,
                "point_flux_jy": self.point_flux_jy,
                "pre_apply": [str(p) for p in self.pre_apply], "pre_apply_missing": self.pre_apply_missing,
                "data_column": self.data_column}


@dataclass(frozen=True)
class SelfcalResult:
    """Where the products of a finished run are."""

    outdir: Path
    decision: Decision
    n_cycles: int
    best_cycle: int
    best_image: Path
    best_solutions: dict[str, Path]
    final_solutions: dict[str, Path]
    report: Path


def check_request(request: SelfcalRequest, strategy: Strategy) -> list[MsInfo]:
    """Refuse inputs the engine cannot use, before anything is written; returns the inputs' metadata."""
    if not request.ms_paths:
        raise InputError("give at least one measurement set")
    strategy.validate()
    infos = [read_ms_info(require_ms(Path(p), (request.data_column,))) for p in request.ms_paths]
    first = infos[0]
    for info in infos[1:]:
        if len(info.freqs_hz) != len(first.freqs_hz) or np.max(np.abs(info.freqs_hz - first.freqs_hz)) > FREQ_MATCH_HZ:
            raise InputError(f"{info.path.name} and {first.path.name} have different frequency grids; observations "
                             "calibrated jointly must cover the same channels")
        if request.phase_centre_deg is None and not np.allclose(info.phase_centre_rad, first.phase_centre_rad,
                                                                atol=np.radians(0.1 / 3600)):
            raise InputError(f"{info.path.name} and {first.path.name} have different phase centres; give "
                             "a phase centre to shift them all to the same position", setting="phase_centre_deg")
    if request.pre_apply_missing not in PRE_APPLY_MISSING:
        raise InputError(f"pre_apply_missing must be one of {', '.join(PRE_APPLY_MISSING)}, got "
                         f"{request.pre_apply_missing!r}", setting="pre_apply_missing")
    for path in request.pre_apply:
        check_pre_apply(Path(path), infos, request.phase_centre_deg, request.pre_apply_missing)
    check_solve_baselines(strategy, infos)
    if request.phase_centre_deg is not None:
        check_phase_centre(request.phase_centre_deg)
    starts = [x is not None for x in (request.skymodel, request.model_image, request.point_flux_jy)]
    if sum(starts) > 1:
        raise InputError("give only one starting model: a sky model, a model image or a point-model flux")
    if request.skymodel is not None:
        from lofar_hires.io.skymodel import require_skymodel

        require_skymodel(Path(request.skymodel))
    if request.model_image is not None:
        try:
            check_model_image(Path(request.model_image))
        except InputError as exc:
            raise InputError(f"model image: {exc}", setting="model_image") from None
    if request.point_flux_jy is not None and not (math.isfinite(request.point_flux_jy) and request.point_flux_jy > 0):
        raise InputError(f"the point-model flux must be a positive number of Jy, got {request.point_flux_jy}",
                         setting="point_flux_jy")
    if request.facet_regions is not None:
        check_directions_request(request, strategy)
    return infos


def check_directions_request(request: SelfcalRequest, strategy: Strategy) -> DirectionSet:
    """Refuse what a multi-direction run cannot do: a model image or point model to start from, and
    full-Jones solves (their solutions cannot be applied to a direction's model)."""
    dset = load_directions(Path(request.facet_regions))
    if request.model_image is not None or request.point_flux_jy is not None:
        raise InputError("a multi-direction run starts from a sky model (one patch per facet is made from it) or "
                         "from the image of the data, not from a model image or a point model",
                         setting="facet_regions")
    if request.skymodel is not None:
        from lofar_hires.io.skymodel import read_makesourcedb

        model = read_makesourcedb(Path(request.skymodel))
        empty = facets_without_flux(model, dset)
        if empty:
            raise InputError(f"starting sky model {Path(request.skymodel).name}: no component in the facet(s) of "
                             f"{', '.join(empty)}; each direction needs a model", setting="skymodel")
    for i, solve in enumerate(strategy.solves):
        if any(dp3_steps.solve_mode(m).fulljones for m in solve.modes):
            raise InputError(f"solves.{i} ({solve_name(solve, i)}): {solve.soltype} solutions cannot be solved "
                             "towards several directions here; use scalar or diagonal solution types",
                             setting=f"solves.{i}.soltype")
    return dset


def check_phase_centre(phase_centre_deg: tuple[float, float]) -> None:
    """Refuse a ``--phase-centre`` that is not finite or has a declination outside [-90, 90] degrees."""
    ra_deg, dec_deg = (float(v) for v in phase_centre_deg)
    if not (math.isfinite(ra_deg) and math.isfinite(dec_deg)):
        raise InputError(f"phase centre {ra_deg} {dec_deg}: RA and Dec must be finite numbers (degrees)",
                         setting="phase_centre_deg")
    if not -90.0 <= dec_deg <= 90.0:
        raise InputError(f"phase centre: declination {dec_deg} deg is outside [-90, 90]", setting="phase_centre_deg")
    if not -360.0 <= ra_deg <= 360.0:
        raise InputError(f"phase centre: right ascension {ra_deg} deg is outside [-360, 360]",
                         setting="phase_centre_deg")


def check_pre_apply(path: Path, infos: Sequence[MsInfo], phase_centre_deg: tuple[float, float] | None = None,
                    missing: str = "error") -> Solset:
    """Read and check solutions to pre-apply: the times of every MS and (unless ``missing`` is
    ``identity``) every station; several directions only with a phase centre (the nearest is applied).

    Raises
    ------
    InputError
        A broken h5parm (see :func:`~lofar_hires.io.h5parm.read_h5parm`), several directions
        without a phase centre, missing stations, or solutions of another observation.
    """
    try:
        solset = read_h5parm(path)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"pre-applied solutions: {exc}", setting="pre_apply") from None
    tabs = list(solset.soltabs.values())
    if not tabs:
        raise InputError(f"pre-applied solutions {path}: solution set {solset.name} holds no soltab",
                         setting="pre_apply")
    try:
        require_values(solset, path)
    except InputError as exc:
        raise InputError(f"pre-applied solutions: {exc}", setting="pre_apply") from None
    for tab in tabs:
        if phase_centre_deg is None and "dir" in tab.axes and len(tab.axes["dir"]) > 1:
            raise InputError(f"pre-applied solutions {path} have {len(tab.axes['dir'])} directions; give a phase "
                             "centre (the nearest direction is applied) or pick one with `lofar-hires h5 directions "
                             "select` first", setting="pre_apply")
    if phase_centre_deg is not None and any("dir" in t.axes and len(t.axes["dir"]) > 1 for t in tabs):
        missing_pos = [d for t in tabs for d in t.axes.get("dir", []) if d not in solset.directions]
        if missing_pos:
            raise InputError(f"pre-applied solutions {path}: direction {missing_pos[0]} has no position in the "
                             "source table, so the nearest direction cannot be found", setting="pre_apply")
    for info in infos:
        try:
            if missing == "error":
                try:
                    check_stations(list(info.station_names), tabs)
                except InputError as exc:
                    raise InputError(f"{exc} (pre_apply_missing=identity leaves them uncorrected)") from None
            check_times(info.times_mjd_s, tabs)
        except InputError as exc:
            raise InputError(f"pre-applied solutions {path} on {info.path.name}: {exc}", setting="pre_apply") from None
    return solset


def longest_station_distance_lambda(info: MsInfo) -> float:
    """Largest distance between two stations of an MS, in wavelengths at its highest frequency.

    No baseline of the MS is longer (a projected baseline is never longer than the distance
    between its stations), so a uv cut at or above it leaves no data whatever the phase centre.
    """
    pos = np.asarray(info.station_positions_m, dtype=float).reshape(-1, 3)
    if len(pos) < 2:
        return 0.0
    dist = np.sqrt(np.max(np.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1)))
    return float(dist * np.max(info.freqs_hz) / C_M_S)


def check_solve_baselines(strategy: Strategy, infos: Sequence[MsInfo]) -> None:
    """Refuse, before any work, a solve whose uv cut is above every baseline of an input MS."""
    check_uv_cuts(strategy, {info.path.name: longest_station_distance_lambda(info) for info in infos})


def check_outdir(request: SelfcalRequest, outdir: Path) -> None:
    """Refuse an output directory that holds (or is) one of the inputs: overwriting would delete it."""
    root = Path(outdir).resolve()
    inputs = [*request.ms_paths, *request.pre_apply, request.skymodel, request.model_image, request.station_groups,
              request.facet_regions]
    for path in inputs:
        if path is None:
            continue
        resolved = Path(path).resolve()
        if resolved == root or root in resolved.parents:
            raise InputError(f"output directory {outdir} holds the input {path}; give an output directory of its own",
                             setting="outdir")
        if resolved in root.parents:
            raise InputError(f"output directory {outdir} lies inside the input {path}; give an output directory "
                             "elsewhere", setting="outdir")


def write_point_model(work: WorkSet, flux_jy: float, path: Path) -> Path:
    """A makesourcedb model of one flat-spectrum point source at the phase centre of the work MSs."""
    from lofar_hires.io.skymodel import SkyModel, write_makesourcedb

    info = next(iter(work.info.values()))
    ra, dec = info.phase_centre_rad
    one = np.ones(1)
    model = SkyModel(["calibrator"], ["POINT"], ["calibrator"], np.array([ra]), np.array([dec]), flux_jy * one,
                     np.array([float(np.mean(info.freqs_hz))]), np.zeros((1, 1)), one.astype(bool), 0 * one, 0 * one,
                     0 * one)
    write_makesourcedb(model, path, header=["starting model of lofar-hires selfcal: a point source at the phase "
                                            f"centre with {flux_jy} Jy"])
    log.info("starting model: a %.3g Jy point source at the phase centre (%s)", flux_jy, path.name)
    return path


def _check_stations(strategy: Strategy, stations: list[str], groups) -> str:
    """Resolve every station selection of the strategy on the work MS; returns the phase reference."""
    for i, solve in enumerate(strategy.solves):
        if solve.reset and not resolve_stations(solve.reset, stations, groups, where=f"solves[{i}].reset"):
            raise InputError(f"solves[{i}] ({solve_name(solve, i)}): reset={solve.reset!r} names no station of the "
                             f"measurement set (stations: {', '.join(stations)})")
    if not resolve_stations(strategy.stopping.stability_stations, stations, groups,
                            where="stopping.stability_stations"):
        raise InputError(f"stopping.stability_stations={strategy.stopping.stability_stations!r} names no station of "
                         f"the measurement set (stations: {', '.join(stations)})")
    if strategy.prepare.phaseup_core:
        return strategy.prepare.superstation
    if strategy.reference_station not in stations:
        raise InputError(f"reference_station {strategy.reference_station} is not a station of the measurement set "
                         f"(stations: {', '.join(stations)})")
    return strategy.reference_station


def prepare_work(request: SelfcalRequest, inputs: Sequence[MsInfo], strategy: Strategy, outdir: Path, groups,
                 threads: int, prov: Provenance, state: RunState) -> WorkSet:
    """The work MSs (one DP3 run each, written atomically); reused when already made."""
    names = observation_names(request.ms_paths)
    work = inside(outdir, "work")
    work.mkdir(exist_ok=True)
    pre = tuple(Correction(p, tuple(read_h5parm(p).soltabs))
                for p in pre_apply_files(request, work, prov, state))
    paths = {}
    for name, ms, info in zip(names, request.ms_paths, inputs):
        out = inside(work, f"{name}.ms")
        if name not in state.work_ms or not out.is_dir():
            plan = plan_prepare(info, strategy.prepare, groups, request.phase_centre_deg, pre)
            log.info("preparing %s: %s", name, ", ".join(s.type for s in plan.steps) or "copy")
            with atomic_output(out, overwrite=True) as tmp:
                run_steps(Path(ms), tmp, plan.steps, outdir / "logs", f"prepare_{name}",
                          data_column=request.data_column, out_column="DATA", threads=threads, provenance=prov)
            state.work_ms[name] = str(out.relative_to(outdir))
            save_state(outdir, state)
        paths[name] = out
    infos = {name: read_ms_info(path) for name, path in paths.items()}
    stations = [list(i.station_names) for i in infos.values()]
    if any(s != stations[0] for s in stations[1:]):
        raise InputError("the observations have different stations after preparation; calibrate them separately "
                         "or flag the extra stations")
    longest = {name: longest_baseline_lambda(path, float(np.max(infos[name].freqs_hz))) for name, path in paths.items()}
    return WorkSet(paths, infos, longest)


def pre_apply_file(path: Path, ms_paths: Sequence[Path], phase_centre_deg: tuple[float, float] | None,
                   missing: str, out: Path, prov: Provenance) -> tuple[Path, dict]:
    """The solutions DP3 applies for ``path``: ``path`` itself, or a copy written to ``out`` that holds
    only the direction nearest to the phase centre and (``missing`` = ``identity``) identity solutions
    for the stations of ``ms_paths`` it lacks. Returns the file and a record for the report."""
    from lofar_hires.solutions.directions import nearest_direction, select_directions
    from lofar_hires.solutions.reset import with_identity_stations

    solset = read_h5parm(path)
    record: dict = {"file": str(path), "direction": None, "separation_deg": None, "identity_stations": []}
    changed = False
    dirs = {d for t in solset.soltabs.values() for d in t.axes.get("dir", [])}
    if len(dirs) > 1 and phase_centre_deg is not None:
        name, sep = nearest_direction(solset, math.radians(phase_centre_deg[0]), math.radians(phase_centre_deg[1]))
        solset = select_directions(solset, [name])
        record.update(direction=name, separation_deg=sep)
        log.info("pre-applying direction %s of %s, %.4f deg from the phase centre", name, path.name, sep)
        changed = True
    if missing == "identity":
        before = list(solset.antenna_names)
        for ms in ms_paths:
            names, positions = read_antennas(Path(ms))
            solset = with_identity_stations(solset, names, positions)
        record["identity_stations"] = [n for n in solset.antenna_names if n not in before]
        changed = changed or bool(record["identity_stations"])
    if not changed:
        return path, record
    return save_solset(solset, out, prov, overwrite=True), record


def pre_apply_files(request: SelfcalRequest, work: Path, prov: Provenance, state: RunState | None = None
                    ) -> list[Path]:
    """The files to pre-apply (see :func:`pre_apply_file`), recorded in ``state.pre_applied``."""
    files, records = [], []
    for k, path in enumerate(request.pre_apply):
        out = inside(work, f"pre_apply_{k}.h5")
        f, record = pre_apply_file(Path(path), request.ms_paths, request.phase_centre_deg,
                                   request.pre_apply_missing, out, prov)
        files.append(f)
        records.append(record)
    if state is not None:
        state.pre_applied = records
    return files


def _contents(outdir: Path) -> list[Path]:
    """What a run directory holds besides its lock file."""
    return [p for p in outdir.iterdir() if p.name != LOCK_NAME]


def _clear_run(outdir: Path) -> None:
    """Overwriting: remove a previous run (never a directory that holds something else)."""
    contents = _contents(outdir)
    if contents and not (outdir / STATE_NAME).exists():
        raise InputError(f"{outdir} holds no self-calibration run ({len(contents)} other entries); it is not "
                         "deleted; give a new output directory", setting="outdir")
    for path in contents:
        remove_path(path)


def _open_run(request: SelfcalRequest, strategy: Strategy, outdir: Path, overwrite: bool) -> RunState:
    """The state of the run in ``outdir`` (locked by the caller): new, resumed, or refused."""
    new = RunState(strategy.digest(), [str(Path(p).resolve()) for p in request.ms_paths], request.options())
    if overwrite:
        _clear_run(outdir)
    old = load_state(outdir)
    if old is None:
        if _contents(outdir):
            raise InputError(f"{outdir} is not empty and holds no self-calibration run; use a new output directory",
                             setting="outdir")
        save_state(outdir, new)
        return new
    why = old.matches(new)
    if why is not None:
        raise InputError(f"{outdir} holds a run that cannot be continued: {why}; use a new output directory or "
                         "overwrite it", setting="outdir")
    for partial in outdir.glob("cycle_*.partial"):
        log.info("discarding the incomplete %s", partial.name)
        remove_path(partial)
    if old.cycles and not old.finished:
        log.info("resuming after cycle %d", old.cycles[-1].metrics.cycle)
    return old


def effective_rule(strategy: Strategy) -> StoppingRule:
    """The stopping rule, with the minimum raised so that the last cycle's image has seen every solve type.

    A solve that starts in cycle ``s`` is first applied in the image of cycle ``s + 1``; stopping
    before that would keep solutions that were never judged by an image.
    """
    rule = strategy.stopping
    needed = max(s.start_cycle for s in strategy.solves) + 2
    if needed > rule.min_cycles:
        log.info("stopping: at least %d cycles (a solve starts in cycle %d and is judged by the next image)", needed,
                 needed - 2)
        return replace(rule, min_cycles=needed)
    return rule


def run_selfcal(request: SelfcalRequest, strategy: Strategy, outdir: Path, *, threads: int = 2,
                overwrite: bool = False) -> SelfcalResult:
    """Self-calibrate ``request.ms_paths`` jointly with ``strategy`` into ``outdir`` (see the module docs).

    Raises
    ------
    InputError
        Unusable inputs or strategy, an output directory holding a different run or
        something else, or an output directory in use by another run (its pid is named).
    ToolError
        A DP3 or WSClean run failed (worth a retry); the completed cycles are kept.
    QualityError
        A solve produced no usable solutions, or the image or model of a cycle was empty
        or not finite; the completed cycles are kept.
    """
    outdir = Path(outdir).resolve()
    inputs = check_request(request, strategy)
    check_outdir(request, outdir)
    groups = load_station_groups(request.station_groups)
    with output_lock(outdir):
        return _run_locked(request, strategy, outdir, inputs, groups, threads, overwrite)


def _run_locked(request: SelfcalRequest, strategy: Strategy, outdir: Path, inputs: Sequence[MsInfo], groups,
                threads: int, overwrite: bool) -> SelfcalResult:
    """:func:`run_selfcal` once the output directory is locked."""
    state = _open_run(request, strategy, outdir, overwrite)
    prov = Provenance(task="selfcal", parameters={"strategy": to_mapping(strategy), **request.options(),
                                                  "name": request.name, "threads": threads})
    for path in request.ms_paths:
        prov.add_input(path)
    work = prepare_work(request, inputs, strategy, outdir, groups, threads, prov, state)
    reference = _check_stations(strategy, work.stations, groups)
    check_uv_cuts(strategy, work.longest_lambda)
    skymodel = request.skymodel
    if request.point_flux_jy is not None:
        skymodel = write_point_model(work, request.point_flux_jy, outdir / "work" / "start_point.skymodel")
    start = StartModel(skymodel, request.model_image)
    directions = load_directions(Path(request.facet_regions)) if request.facet_regions is not None else None
    if directions is not None:
        prov.add_input(Path(request.facet_regions))
        log.info("solving towards %d directions (facets of %s): %s", len(directions.directions),
                 Path(request.facet_regions).name, ", ".join(directions.names))
    ctx = CycleContext(strategy, work, groups, threads, prov, start, reference, directions)
    rule = effective_rule(strategy)
    scorer, classifier_note = cycle_scorer(rule.classifier_model, threads)
    if scorer is not None:
        for path in (scorer.loaded.backbone_path, scorer.loaded.head_path):
            prov.add_input(path)
    last_start = max((solve.start_cycle for solve in strategy.solves), default=0)
    decision = decide([c.metrics for c in state.cycles], rule, last_start) if state.cycles else None
    t_start = time.monotonic()
    while not state.finished and (decision is None or not decision.stop):
        cycle = len(state.cycles)
        previous = ({k: outdir / v for k, v in state.cycles[-1].solutions.items()} if state.cycles else None)
        final = outdir / f"cycle_{cycle:03d}"
        partial = outdir / f"cycle_{cycle:03d}.partial"
        remove_path(partial)
        remove_path(final)
        partial.mkdir()
        row, merged, image = run_cycle(ctx, partial, cycle, previous)
        if scorer is not None:
            row = replace(row, classifier_score=round(scorer.score_files([partial / image.name])[0], 4))
            log.info("cycle %d: classifier P(continue) %.2f", cycle, row.classifier_score)
        _preview(partial / image.name, partial / "image.png", f"cycle {cycle}", row.rms_jy)
        os.replace(partial, final)
        solutions = {k: str((final / v.name).relative_to(outdir)) for k, v in merged.items()}
        row = replace(row, image=str((final / image.name).relative_to(outdir)),
                      solutions=",".join(solutions.values()))
        state.cycles.append(CycleRecord(row, solutions, row.image))
        save_state(outdir, state)
        history = [c.metrics for c in state.cycles]
        write_metrics(history, outdir / "metrics.json", outdir / "metrics.csv")
        decision = decide(history, rule, last_start)
        log.info("cycle %d/%d done in %.0f s (total %.0f s): rms %.3g mJy/beam, dynamic range %.1f, phase change %s; "
                 "%s", cycle, rule.max_cycles - 1, row.wall_time_s, time.monotonic() - t_start, 1e3 * row.rms_jy,
                 row.dynamic_range, "-" if row.phase_stability_rad is None else f"{row.phase_stability_rad:.3f} rad",
                 decision.message)
    return _finish(outdir, state, strategy, request, work, decision, prov, groups, classifier_note)


def cycle_scorer(model: str, threads: int):
    """(scorer, note) of the stopping rule's ``classifier_model``: ``none`` and, for ``shipped``, a missing
    torch/timm give no scorer and a note saying why; a model directory that cannot be used is an error.

    Raises
    ------
    InputError
        A model directory (or the shipped model's files) missing or unusable.
    """
    from lofar_hires.classifier.evaluate import Scorer
    from lofar_hires.classifier.model import ClassifierUnavailable, model_files

    if model.strip().lower() == "none":
        return None, "not used (stopping.classifier_model: none)"
    model_dir = None if model.strip().lower() == "shipped" else Path(model)
    if model_dir is not None and not model_dir.is_dir():
        raise MissingInputError(f"stopping.classifier_model {model_dir} is not a directory (none, shipped or a "
                                "directory with backbone.safetensors and head.safetensors)",
                                setting="stopping.classifier_model")
    try:
        scorer = Scorer(*model_files(model_dir), threads=threads)
    except ClassifierUnavailable as exc:
        if model_dir is not None:
            raise
        log.warning("stopping: the shipped classifier is not used: %s", exc)
        return None, f"not used: {exc}"
    log.info("stopping: classifier %s", scorer.describe())
    return scorer, f"used: {scorer.describe()}"


def _preview(fits_path: Path, png: Path, title: str, rms_jy: float) -> None:
    from lofar_hires.selfcal.plots import image_preview_png

    try:
        image_preview_png(fits_path, png, title=title, rms_jy=rms_jy)
    except (LofarHiresError, ValueError, OSError) as exc:  # a preview never fails a cycle
        log.warning("no preview of %s: %s", fits_path.name, exc)


def _solutions_for_image(outdir: Path, state: RunState, cycle: int) -> dict[str, Path]:
    """The solutions that made cycle ``cycle``'s image: cycle ``cycle-1``'s merged solutions."""
    return {k: outdir / v for k, v in state.cycles[cycle - 1].solutions.items()}


def _expanded(solset, strategy: Strategy, request: SelfcalRequest, name_index: int, groups):
    """Solutions for the stations of the input MS: the superstation expanded back to the core stations."""
    if not strategy.prepare.phaseup_core:
        return solset
    names, positions = read_antennas(Path(request.ms_paths[name_index]))
    core = resolve_stations(strategy.prepare.core_stations, names, groups, where="prepare.core_stations")
    return expand_superstation(solset, strategy.prepare.superstation, core, positions[[names.index(n) for n in core]])


def _write_solutions(source: Path, out: Path, strategy: Strategy, request: SelfcalRequest, index: int, groups,
                     prov: Provenance, identity: bool = False) -> Path:
    solset = read_h5parm(source)
    if identity:
        solset = reset_stations(solset, list(solset.antenna_names))
    solset = _expanded(solset, strategy, request, index, groups)
    return save_solset(solset, out, prov, overwrite=True)


def write_failure_report(outdir: Path, request: SelfcalRequest, exc: Exception) -> Path:
    """``selfcal_report.json`` of a run that failed: status failed, the name, the phase centre and the
    reason, in the form of a finished run's report (:func:`_finish`), without solutions."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    report = {"status": "failed", **_identity(request, outdir),
              "error": str(exc), "error_type": type(exc).__name__, "exit_status": exit_status(exc),
              "best_solutions": {}}
    return _write_report(outdir, report)


def _write_report(outdir: Path, report: dict) -> Path:
    """Write ``selfcal_report.json`` (through a temporary name, so a reader never sees half a report)."""
    path = outdir / "selfcal_report.json"
    tmp = outdir / ".selfcal_report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def _identity(request: SelfcalRequest, outdir: Path) -> dict:
    """The report fields that say what a run calibrates, finished or failed."""
    return {"name": request.name or outdir.name,
            "phase_centre_deg": list(request.phase_centre_deg) if request.phase_centre_deg else None}


def _stop_criterion(decision: Decision) -> str:
    """One line: the reason, the criteria that were not met (unless converged), and each criterion's test."""
    unmet = [k.replace("_", " ") for k, v in decision.criteria.items() if v is False]
    detail = f" ({', '.join(unmet)} not met)" if decision.reason != "converged" and unmet else ""
    prefixes = tuple(f"{k.replace('_', ' ')} " for k in decision.criteria)
    tests = "; ".join(note for note in decision.message.split("; ") if note.startswith(prefixes))
    return f"{decision.reason}{detail}: {tests}"


def _finish(outdir: Path, state: RunState, strategy: Strategy, request: SelfcalRequest, work: WorkSet,
            decision: Decision, prov: Provenance, groups, classifier_note: str) -> SelfcalResult:
    from lofar_hires.selfcal.plots import cycle_montage_png

    history = [c.metrics for c in state.cycles]
    best = best_cycle(history, effective_rule(strategy))
    names = list(work.ms)
    best_solutions, final_solutions = {}, {}
    last = {k: outdir / v for k, v in state.cycles[-1].solutions.items()}
    for i, name in enumerate(names):
        if best == 0:
            log.warning("the uncalibrated image (cycle 0) is the best: best_%s.h5 holds identity solutions", name)
            source = last[name]
        else:
            source = _solutions_for_image(outdir, state, best)[name]
        best_solutions[name] = _write_solutions(source, inside(outdir, f"best_{name}.h5"), strategy, request, i,
                                                groups, prov, identity=best == 0)
        final_solutions[name] = _write_solutions(last[name], inside(outdir, f"final_{name}.h5"), strategy, request, i,
                                                 groups, prov)
    best_image = outdir / "best_image.fits"
    tmp = outdir / ".best_image.fits.tmp"
    shutil.copyfile(outdir / state.cycles[best].image, tmp)
    os.replace(tmp, best_image)
    _preview(best_image, outdir / "best_image.png", f"best: cycle {best}", history[best].rms_jy)
    images = [outdir / c.image for c in state.cycles]
    try:
        cycle_montage_png(images, history, outdir / "montage.png", best_cycle=best,
                          phase_threshold_rad=strategy.stopping.phase_stability_rad)
    except (LofarHiresError, ValueError, OSError) as exc:
        log.warning("no montage: %s", exc)
    report = {
        "status": "ok",
        **_identity(request, outdir),
        "pre_applied": state.pre_applied,
        "strategy": strategy.name,
        "stopped_by": decision.reason,
        "stop_criterion": _stop_criterion(decision),
        "decision": decision.to_dict(),
        "n_cycles": len(history),
        "stop_cycle": history[-1].cycle,
        "best_cycle": best,
        "best_solutions_from_cycle": best - 1 if best > 0 else None,
        "dynamic_range_gain": history[best].dynamic_range / history[0].dynamic_range,
        "best_image": best_image.name,
        "best_solutions": {k: v.name for k, v in best_solutions.items()},
        "final_solutions": {k: v.name for k, v in final_solutions.items()},
        "classifier": classifier_note if decision.classifier_used else
        f"no classifier model ({classifier_note}): rule ran on rms, dynamic range and phase stability",
        "classifier_scores": [row.classifier_score for row in history],
    }
    report_path = _write_report(outdir, report)
    prov.write(outdir / "selfcal.provenance.json")
    state.finished = True
    state.decision = decision.to_dict()
    save_state(outdir, state)
    log.info("self-calibration stopped after cycle %d (%s); best cycle %d, dynamic range x%.1f over cycle 0",
             history[-1].cycle, decision.reason, best, report["dynamic_range_gain"])
    return SelfcalResult(outdir, decision, len(history), best, best_image, best_solutions, final_solutions,
                         report_path)

