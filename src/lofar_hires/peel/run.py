"""Peeling with DP3: one source after the other, brightest first (Noordam 2005).

For each source of the plan (:mod:`lofar_hires.peel.plan`):

1. *solve*: one DP3 run reads the data as they are now (every brighter source already
   peeled), shifts the phase centre to the source, averages to the plan's cells and
   solves (DDECal) for the source's own gains, with the next-brightest sources that
   would bias the solve as directions of their own in the model;
2. *subtract*: one DP3 run predicts the source with its gains (h5parmpredict) and
   subtracts it from the full-resolution data.

The first subtraction writes the output measurement set (under a temporary name, renamed
when every source is peeled); later ones update it in place. Every source's solutions are
kept (``<ms>.peel.<patch>.h5``). Before and after, the flux the data hold at each peeled
source's position is measured (:func:`lofar_hires.peel.measure.flux_at_positions`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.calibration.step_products import record_ms_history, stamp_h5parm
from lofar_hires.io.atomic import atomic_output, remove_path
from lofar_hires.io.names import inside
from lofar_hires.io.skymodel import SkyModel, write_makesourcedb
from lofar_hires.peel.measure import flux_at_positions
from lofar_hires.peel.plan import PeelSettings, PeelStep
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Dp3Step, DyscoSettings, run_solve_steps, run_steps, solve_mode
from lofar_hires.subtract.run import ms_stem

log = logging.getLogger(__name__)


@dataclass
class PeelResult:
    """The peeled measurement set, every source's solutions and what the data held at its position."""

    output: Path
    h5parms: dict[str, Path] = field(default_factory=dict)
    before_jy: dict[str, float] = field(default_factory=dict)
    after_jy: dict[str, float] = field(default_factory=dict)
    runs: list[dict[str, object]] = field(default_factory=list)


def peeled_output(outdir: Path, ms: Path) -> Path:
    """``<outdir>/<ms>.peeled.ms``."""
    return inside(outdir, f"{ms_stem(ms)}.peeled.ms")


def solutions_output(outdir: Path, ms: Path, step: PeelStep) -> Path:
    """``<outdir>/<ms>.peel.<patch>.h5``."""
    return inside(outdir, f"{ms_stem(ms)}.peel.{step.patch}.h5")


def step_model(model: SkyModel, step: PeelStep, *, with_contaminators: bool) -> SkyModel:
    """The source's components as patch ``step.patch`` (and each contaminator's as its own patch)."""
    members = [(step.source, step.patch)]
    if with_contaminators:
        members += list(zip(step.contaminators, step.contaminator_patches))
    patch_of = {i: patch for source, patch in members for i in source.components}
    selected = model.select(np.isin(np.arange(len(model)), list(patch_of)))  # keeps the model's order
    return dataclasses.replace(selected, patches=[patch_of[i] for i in sorted(patch_of)], patch_positions={})


def solve_steps(step: PeelStep, settings: PeelSettings, skymodel: Path, h5parm: Path) -> list[Dp3Step]:
    """Shift to the source, average to the plan's cells, solve for the source (and its contaminators)."""
    directions = [[step.patch], *([p] for p in step.contaminator_patches)]
    return [dp3_steps.phaseshift(step.source.ra_deg, step.source.dec_deg),
            *dp3_steps.averager(step.time_factor, step.chan_factor),
            dp3_steps.ddecal(settings.solve_mode, h5parm, solint_slots=step.solint_slots, nchan=step.nchan,
                             minuv_lambda=settings.uvmin_lambda, sourcedb=skymodel, directions=directions,
                             maxiter=settings.maxiter, tolerance=settings.tolerance, beam=settings.beam,
                             name="peelsolve")]


def subtract_step(step: PeelStep, settings: PeelSettings, skymodel: Path, h5parm: Path) -> Dp3Step:
    """Predict the source with its solutions and subtract it from the full-resolution data."""
    return dp3_steps.h5parm_predict(skymodel, h5parm, solve_mode(settings.solve_mode).soltabs, [step.patch],
                                    operation="subtract", beam=settings.beam, name="peelsubtract")


def run_peel(ms: Path, model: SkyModel, steps: list[PeelStep], outdir: Path, settings: PeelSettings,
             prov: Provenance, *, overwrite: bool = False, dysco: DyscoSettings | None = None) -> PeelResult:
    """Peel every source of ``steps`` from ``ms`` into ``<outdir>/<ms>.peeled.ms`` (``ms`` is only read).

    With ``dysco`` the peeled data are compressed at the end (one more DP3 run; peeling itself works on
    uncompressed data, so the compression error is made once).
    """
    out = peeled_output(outdir, ms)
    result = PeelResult(output=out)
    logdir = outdir / "logs"
    work = outdir / f".{ms_stem(ms)}.peel.work"
    work.mkdir(parents=True, exist_ok=True)
    positions = [(s.source.ra_deg, s.source.dec_deg) for s in steps]
    before = flux_at_positions(ms, positions, column=settings.data_column)
    result.before_jy = {s.source.name: float(v) for s, v in zip(steps, before)}
    finals = [solutions_output(outdir, ms, s) for s in steps]
    try:
        with atomic_output(out, overwrite=overwrite) as tmp:
            current, column = ms, settings.data_column
            for k, step in enumerate(steps, start=1):
                log.info("peel %d/%d: %s (%.3g Jy, %.2f deg from the phase centre; %d contaminator(s)%s; averaged "
                         "%d x %d, solutions of %d x %d averaged samples, estimated S/N %.0f)", k, len(steps),
                         step.source.name, step.source.flux_jy, step.distance_deg, len(step.contaminators),
                         "" if not step.contaminators else ": " + ", ".join(c.name for c in step.contaminators),
                         step.time_factor, step.chan_factor, step.solint_slots, step.nchan, step.snr)
                solve_sky = write_makesourcedb(step_model(model, step, with_contaminators=True),
                                               work / f"{step.patch}.solve.skymodel")
                source_sky = write_makesourcedb(step_model(model, step, with_contaminators=False),
                                                work / f"{step.patch}.skymodel")
                h5 = work / f"{step.patch}.h5"
                remove_path(h5)
                name = f"{ms_stem(ms)}.peel{k}.{step.patch}"
                started = time.monotonic()
                solve = run_solve_steps(current, solve_steps(step, settings, solve_sky, h5), logdir, f"{name}.solve",
                                        data_column=column, threads=settings.threads, provenance=prov)
                solved = time.monotonic()
                subtract = [subtract_step(step, settings, source_sky, h5)]
                if current == ms:
                    run_steps(ms, tmp, subtract, logdir, f"{name}.subtract", data_column=column,
                              threads=settings.threads, provenance=prov)
                    current, column = tmp, "DATA"
                else:
                    run_steps(tmp, None, subtract, logdir, f"{name}.subtract", data_column="DATA", out_column="DATA",
                              threads=settings.threads, provenance=prov)
                result.runs.append({"source": step.source.name, "solve_wall_s": round(solved - started, 3),
                                    "subtract_wall_s": round(time.monotonic() - solved, 3),
                                    "solve_log": str(solve.log_file)})
            if dysco is not None:
                packed = work / "peeled.dysco.ms"
                run_steps(tmp, packed, [], logdir, f"{ms_stem(ms)}.peel.dysco", threads=settings.threads,
                          dysco=dysco, provenance=prov)
                remove_path(tmp)
                os.replace(packed, tmp)
            after = flux_at_positions(tmp, positions)
            result.after_jy = {s.source.name: float(v) for s, v in zip(steps, after)}
            record_ms_history(tmp, prov)
            for step, final in zip(steps, finals):
                h5 = work / f"{step.patch}.h5"
                stamp_h5parm(h5, prov)
                os.replace(h5, final)
                result.h5parms[step.source.name] = final
    finally:
        remove_path(work)
    prov.write(out.with_name(out.name + ".provenance.json"))
    return result


def write_summary(path: Path, steps: list[PeelStep], result: PeelResult, settings: PeelSettings,
                  noise_jy: float) -> Path:
    """``<ms>.peel.json``: what was peeled, how, its solutions and the flux left at its position."""
    sources = []
    for step in steps:
        name = step.source.name
        after = result.after_jy.get(name)
        sources.append({**step.describe(), "h5parm": str(result.h5parms.get(name, "")),
                        "apparent_flux_before_jy": result.before_jy.get(name), "residual_flux_jy": after,
                        "residual_fraction": None if after is None else abs(after) / step.source.flux_jy})
    summary = {"output": str(result.output), "noise_jy": noise_jy, "settings": settings.__dict__,
               "sources": sources, "runs": result.runs}
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return path
