"""Training images of the classifier: simulate each drawn field, self-calibrate it, measure it against the truth.

The field draws, the label rule and the dataset files are :mod:`lofar_hires.classifier.dataset`;
this module runs the simulator and the self-calibration engine for them (it lives with the other
truth comparisons, above the pipeline). Work directories are deleted as each field finishes; an
interrupted dataset continues with the fields not yet done.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.classifier.config import DatasetSpec, LabelRule, load_classifier_config
from lofar_hires.classifier.dataset import (
    FieldDraw,
    draw_field,
    peak_fraction,
    read_field_record,
    simulation_overrides,
    write_index,
)
from lofar_hires.errors import InputError, LofarHiresError
from lofar_hires.io.atomic import atomic_output, remove_path

log = logging.getLogger(__name__)


def _calibrator_truth(skymodel_path: Path, name: str, freq_hz: float) -> tuple[float, float, float]:
    """(flux at ``freq_hz``, FWHM major, FWHM minor in arcsec) of source ``name`` of the true sky."""
    from lofar_hires.io.skymodel import read_makesourcedb

    sky = read_makesourcedb(skymodel_path)
    if name not in sky.names:
        raise InputError(f"{skymodel_path}: no source {name!r} in the simulated sky")
    i = sky.names.index(name)
    flux = float(sky.flux_jy(np.array([freq_hz]))[i, 0])
    return flux, float(sky.major_arcsec[i]), float(sky.minor_arcsec[i])


def run_field(draw: FieldDraw, spec: DatasetSpec, rule: LabelRule, outdir: Path, threads: int = 1) -> dict[str, Any]:
    """Simulate, self-calibrate and measure one field; writes ``fields/<name>.json`` and its images.

    Returns the field record (the JSON written).
    """
    from lofar_hires.imaging.measure import load_image
    from lofar_hires.selfcal.engine import SelfcalRequest, run_selfcal
    from lofar_hires.selfcal.metrics import read_metrics
    from lofar_hires.selfcal.strategy import load_strategy
    from lofar_hires.simulation.config import load_simulation_config
    from lofar_hires.simulation.simulate import run_simulation

    t0 = time.monotonic()
    work = outdir / "work" / draw.name
    remove_path(work)
    work.mkdir(parents=True)
    record: dict[str, Any] = {"field": draw.name, "draw": dataclasses.asdict(draw)}
    try:
        config = load_simulation_config(spec.preset, None, simulation_overrides(draw))
        sim = run_simulation(config, work / "sim")
        target = sim.targets()[0]
        truth = json.loads(target.truth_json.read_text())
        radec = tuple(truth["directions"][draw.calibrator])
        strategy = load_strategy(spec.strategy)
        if strategy.stopping.min_cycles != strategy.stopping.max_cycles:
            raise InputError(f"dataset.strategy {spec.strategy}: min_cycles ({strategy.stopping.min_cycles}) must "
                             f"equal max_cycles ({strategy.stopping.max_cycles}) so that every run makes the same "
                             "cycles", setting="dataset.strategy")
        request = SelfcalRequest(ms_paths=(target.ms,), phase_centre_deg=radec,
                                 point_flux_jy=draw.calibrator_flux_jy if draw.point_start else None,
                                 name=draw.calibrator)
        error = None
        try:
            run_selfcal(request, strategy, work / "selfcal", threads=threads)
        except LofarHiresError as exc:  # a failed run still labels the cycles it completed
            error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: self-calibration stopped early: %s", draw.name, error)
        metrics_path = work / "selfcal" / "metrics.json"
        rows = read_metrics(metrics_path) if metrics_path.is_file() else []
        if not rows:
            raise InputError(f"{draw.name}: no self-calibration cycle completed ({error})")
        cycles = []
        images_dir = outdir / "images"
        images_dir.mkdir(parents=True, exist_ok=True)
        first = load_image(work / "selfcal" / rows[0].image)
        if first.beam_deg is None or first.freq_hz is None:
            raise InputError(f"{draw.name}: the cycle images have no restoring beam or frequency")
        flux, fmaj, fmin = _calibrator_truth(sim.sky_model, draw.calibrator, first.freq_hz)
        for row in rows:
            image = load_image(work / "selfcal" / row.image)
            bmaj, bmin = (3600.0 * b for b in image.beam_deg[:2])
            true_peak = flux * peak_fraction(fmaj, fmin, bmaj, bmin)
            name = f"{draw.name}_cycle_{row.cycle:02d}.fits"
            with atomic_output(images_dir / name, overwrite=True) as tmp:
                shutil.copyfile(work / "selfcal" / row.image, tmp)
            cycles.append({"cycle": row.cycle, "image": f"images/{name}", "peak_jy": row.peak_jy,
                           "rms_jy": row.rms_jy, "dynamic_range": row.dynamic_range,
                           "phase_stability_rad": row.phase_stability_rad, "true_peak_jy": true_peak,
                           "beam_arcsec": [bmaj, bmin]})
        record.update({"calibrator": draw.calibrator, "flux_jy": flux, "fwhm_arcsec": [fmaj, fmin],
                       "freq_hz": first.freq_hz, "selfcal_error": error, "cycles": cycles,
                       "wall_time_s": round(time.monotonic() - t0, 1)})
    finally:
        remove_path(work)
    path = outdir / "fields" / f"{draw.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return record


def _run_one(draw: FieldDraw, spec: DatasetSpec, rule: LabelRule, outdir: Path, threads: int,
             log_level: int) -> tuple[str, float, str | None]:
    """Worker: one field (its own process); returns (name, wall time, error or None)."""
    logging.basicConfig(level=log_level)
    logging.getLogger().setLevel(log_level)
    t0 = time.monotonic()
    try:
        run_field(draw, spec, rule, outdir, threads)
        return draw.name, time.monotonic() - t0, None
    except LofarHiresError as exc:
        return draw.name, time.monotonic() - t0, f"{type(exc).__name__}: {exc}"


def make_dataset(outdir: Path, n_fields: int, first_seed: int, *, config_file: Path | None = None,
                 overrides: Sequence[str] = (), workers: int = 1, threads: int = 1) -> dict[str, Any]:
    """Simulate and self-calibrate ``n_fields`` fields (seeds ``first_seed ...``) into ``outdir``.

    Fields already in ``outdir/fields`` are kept (an interrupted dataset continues); the label
    table is rebuilt at the end. Returns the index written to ``dataset.json``.

    Raises
    ------
    InputError
        Bad settings, or no field could be made.
    """
    if n_fields < 1:
        raise InputError(f"--fields must be at least 1, got {n_fields}", setting="fields")
    if workers < 1 or threads < 1:
        raise InputError(f"--workers and --threads must be at least 1, got {workers} and {threads}")
    if first_seed < 0:
        raise InputError(f"--first-seed must be at least 0, got {first_seed}", setting="first_seed")
    cfg = load_classifier_config(config_file, overrides)
    spec, rule = cfg.dataset, cfg.labels
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {outdir}: {exc.strerror}", setting="outdir") from None
    from lofar_hires.simulation.config import load_simulation_config

    international = load_simulation_config(spec.preset, None, []).stations.international
    draws = [draw_field(i, first_seed + i, spec, international) for i in range(n_fields)]
    for path in sorted((outdir / "fields").glob("field_*.json")):  # made fields are kept: refuse a bad one now
        read_field_record(path)
    todo = [d for d in draws if not (outdir / "fields" / f"{d.name}.json").is_file()]
    log.info("dataset: %d fields (seeds %d-%d), %d to make, %d workers", n_fields, first_seed,
             first_seed + n_fields - 1, len(todo), workers)
    failed = []
    t0 = time.monotonic()
    done = n_fields - len(todo)
    level = logging.getLogger().getEffectiveLevel()
    quiet = max(level, logging.WARNING)
    if workers == 1:
        results = (_run_one(d, spec, rule, outdir, threads, level) for d in todo)
        for name, dt, err in results:
            done += 1
            _progress(name, dt, err, done, n_fields, t0, failed)
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_run_one, d, spec, rule, outdir, threads, quiet) for d in todo]
            for fut in as_completed(futures):
                done += 1
                _progress(*fut.result(), done, n_fields, t0, failed)
    remove_path(outdir / "work")
    if not any((outdir / "fields").glob("field_*.json")):
        raise InputError(f"dataset: no field could be made ({'; '.join(failed[:3])})")
    return write_index(outdir, rule, spec)


def _progress(name: str, dt: float, err: str | None, done: int, total: int, t0: float, failed: list[str]) -> None:
    if err is not None:
        failed.append(f"{name}: {err}")
        log.warning("field %d/%d %s failed after %.0f s: %s", done, total, name, dt, err)
    else:
        log.info("field %d/%d %s done in %.0f s (%.0f s elapsed)", done, total, name, dt, time.monotonic() - t0)


