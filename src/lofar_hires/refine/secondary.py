"""Secondary calibrators: a facet split between its main calibrator and weaker ones (de Jong et al. 2025,
section 6.4.4, Fig. 6.10).

A weak calibrator (phasediff score 2.0 <= sigma_c < 2.6 rad) lacks the signal for a facet of its own in
the earlier steps, but inside a facet that is already calibrated on its main calibrator it can refine
the local direction-dependent effects:

1. the facet is split by Voronoi between its main and weak calibrators (:func:`split_facet`);
2. per observation, the facet data are corrected by the main calibrator's refined solutions and the
   model components of the main calibrator's sub-facet are predicted and subtracted (one DP3 run);
3. per weak calibrator, the data are phase-shifted to it and self-calibrated jointly over the
   observations with the ``refine-final`` recipe of its own delta_t (the 6 arcsec Dutch step is skipped);
4. the sub-facets are written as a ds9 region file (``<facet>.subfacets.reg``, one polygon per
   calibrator, named after it) and each weak calibrator's solutions per observation
   (``<weak>.<obs>.secondary.h5``: the main refined solutions followed by its own, one direction named
   after it at its position), so that the final imaging applies them to its sub-facet.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.calibration.step_products import stamp_h5parm
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output, remove_path
from lofar_hires.io.names import inside, safe_name
from lofar_hires.io.regions import write_ds9_polygons
from lofar_hires.io.skymodel import SkyModel, write_makesourcedb
from lofar_hires.provenance import Provenance
from lofar_hires.refine.plan import FacetCalibrator
from lofar_hires.refine.run import RefineSettings, _by_observation, _write_strategy, facet_solutions, image_metrics
from lofar_hires.runners import dp3_steps
from lofar_hires.selection.facets import Facet, sky_polygon_contains, split_facet
from lofar_hires.selection.table import CalibratorRow
from lofar_hires.selfcal.engine import SelfcalRequest, SelfcalResult, run_selfcal
from lofar_hires.selfcal.recipes import RecipeConfig, delta_t_min, refine_final_strategy
from lofar_hires.selfcal.strategy import load_strategy
from lofar_hires.solutions.merge import MergeInput, merge_h5parms

log = logging.getLogger(__name__)

#: Phasediff scores (rad) of the weak calibrators that get a sub-facet (de Jong et al. 2025, section 6.3.1).
WEAK_SCORE_RAD = (2.0, 2.6)


@dataclass(frozen=True)
class SecondaryPlan:
    """The facet, its main calibrator, the weak calibrators and the sub-facets (main first)."""

    facet: str
    main: FacetCalibrator
    weak: tuple[FacetCalibrator, ...]
    subfacets: tuple[Facet, ...]


def weak_calibrators(rows: Sequence[CalibratorRow], facet_vertices_deg: np.ndarray, names: Sequence[str],
                     table: Path, config: RecipeConfig, facet: str) -> list[FacetCalibrator]:
    """The weak calibrators of a facet: those named (which must lie in it and be weak), or every weak calibrator of
    the table inside the facet whose score is in [2.0, 2.6) rad."""
    by_name = {r.name: r for r in rows}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InputError(f"weak calibrator(s) {', '.join(unknown)} are not in {table}", setting="weak")
        chosen = [by_name[n] for n in names]
        not_weak = [r.name for r in chosen if r.category != "weak"]
        if not_weak:
            raise InputError(f"{', '.join(not_weak)} are not weak calibrators in {table} (category weak)",
                             setting="weak")
    else:
        chosen = [r for r in rows if r.category == "weak" and r.score_rad is not None
                  and WEAK_SCORE_RAD[0] <= r.score_rad < WEAK_SCORE_RAD[1]]
    inside_facet = sky_polygon_contains(facet_vertices_deg, [r.ra_deg for r in chosen], [r.dec_deg for r in chosen])
    outside = [r.name for r, ok in zip(chosen, np.atleast_1d(inside_facet)) if not ok]
    if names and outside:
        raise InputError(f"weak calibrator(s) {', '.join(outside)} lie outside facet {facet}: a secondary "
                         "calibrator refines the facet it lies in", setting="weak")
    chosen = [r for r, ok in zip(chosen, np.atleast_1d(inside_facet)) if ok]
    if not chosen:
        raise InputError(f"facet {facet} holds no weak calibrator ({WEAK_SCORE_RAD[0]:g} <= sigma_c < "
                         f"{WEAK_SCORE_RAD[1]:g} rad) in {table}", setting="weak")
    unscored = [r.name for r in chosen if r.score_rad is None]
    if unscored:
        raise InputError(f"weak calibrator(s) {', '.join(unscored)} have no phasediff score in {table}",
                         setting="calibrators")
    formula = config.delta_t.formula
    return [FacetCalibrator(facet=r.name, ra_deg=r.ra_deg % 360.0, dec_deg=r.dec_deg,
                            flux_jy=r.total_flux_jy if r.total_flux_jy is not None else r.peak_flux_jy,
                            sigma_c_rad=r.score_rad, delta_t_min=delta_t_min(r.score_rad, formula, config.delta_t),
                            dt_formula=formula) for r in chosen]


def plan_secondary(facet_vertices_deg: np.ndarray, main: FacetCalibrator, weak: Sequence[FacetCalibrator]
                   ) -> SecondaryPlan:
    """Split the facet between its main and weak calibrators."""
    cals = [main, *weak]
    subfacets = split_facet(facet_vertices_deg, [c.facet for c in cals], [c.ra_deg for c in cals],
                            [c.dec_deg for c in cals])
    return SecondaryPlan(main.facet, main, tuple(weak), tuple(subfacets))


def main_part(model: SkyModel, plan: SecondaryPlan) -> SkyModel:
    """The model components in the main calibrator's sub-facet (those to subtract), as one patch."""
    ra, dec = np.degrees(model.ra_rad) % 360.0, np.degrees(model.dec_rad)
    keep = np.atleast_1d(sky_polygon_contains(plan.subfacets[0].vertices_deg, ra, dec))
    if not keep.any():
        raise InputError(f"the sky model has no component in the main calibrator's part of facet {plan.facet}: "
                         "give the facet's model", setting="skymodel")
    part = model.select(keep)
    return dataclasses.replace(part, patches=["main"] * len(part), patch_positions={})


@dataclass
class SecondaryResult:
    plan: SecondaryPlan
    regions: Path
    runs: dict[str, SelfcalResult] = field(default_factory=dict)
    solutions: dict[str, dict[str, Path]] = field(default_factory=dict)
    metrics: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)


def run_secondary(ms_paths: Sequence[Path], names: Sequence[str], refined: Sequence[Path], model: SkyModel,
                  plan: SecondaryPlan, config: RecipeConfig, outdir: Path, settings: RefineSettings,
                  prov: Provenance, *, overwrite: bool = False) -> SecondaryResult:
    """Calibrate the weak calibrators of ``plan`` on the facet datasets ``ms_paths`` (one per observation, with the
    main calibrator's refined solutions ``refined``) into ``outdir``."""
    from lofar_hires.refine.run import _image

    outdir.mkdir(parents=True, exist_ok=True)
    work = outdir / "work"
    facet = safe_name(plan.facet, what="facet name")
    regions = inside(outdir, f"{facet}.subfacets.reg")
    with atomic_output(regions, overwrite=True) as tmp:
        write_ds9_polygons(tmp, [[tuple(v) for v in f.vertices_deg] for f in plan.subfacets],
                           names=[f.name for f in plan.subfacets],
                           points=[(f.cal_ra_deg, f.cal_dec_deg) for f in plan.subfacets])
    result = SecondaryResult(plan, regions)
    work.mkdir(parents=True, exist_ok=True)
    try:
        main_sky = write_makesourcedb(main_part(model, plan), inside(work, f"{facet}.main.skymodel"),
                                      header=[f"# the model components of {plan.facet}'s main sub-facet"])
        subtracted, corrected = [], []
        for ms, name, h5 in zip(ms_paths, names, refined):
            full = facet_solutions(h5, ms, inside(work, f"{name}.main.h5"), plan.main, prov)
            corrected.append(full)
            out = inside(work, "subtracted", f"{name}.ms")
            out.parent.mkdir(parents=True, exist_ok=True)
            steps = [dp3_steps.applycal(full, ["phase000", *(["amplitude000"] if _has_amplitude(full) else [])]),
                     dp3_steps.predict(main_sky, operation="subtract")]
            dp3_steps.run_steps(ms, out, steps, work / "logs", f"{name}.subtract_main",
                                data_column=settings.data_column, threads=settings.threads, provenance=prov)
            subtracted.append(out)
        log.info("facet %s: the main calibrator's part subtracted from %d observation(s); %d weak calibrator(s)",
                 plan.facet, len(ms_paths), len(plan.weak))
        for k, weak in enumerate(plan.weak, start=1):
            wname = safe_name(weak.facet, what="calibrator name")
            mapping = refine_final_strategy(weak.delta_t_min, config.refine_final.time_resolution_s,
                                            config.refine_final, sigma_c_rad=weak.sigma_c_rad,
                                            dt_formula=weak.dt_formula)
            path = _write_strategy(mapping, inside(outdir, f"{wname}.secondary.yaml"),
                                   f"secondary calibrator {weak.facet} of facet {plan.facet} (section 6.4.4)")
            log.info("weak calibrator %d/%d: %s (sigma_c %.3g rad, delta_t %.3g min)", k, len(plan.weak), weak.facet,
                     weak.sigma_c_rad, weak.delta_t_min)
            # a weak calibrator's first image is too poor a model: start from a point of its catalogue flux
            run = run_selfcal(SelfcalRequest(ms_paths=tuple(subtracted), phase_centre_deg=(weak.ra_deg, weak.dec_deg),
                                             point_flux_jy=weak.flux_jy,
                                             name=f"{weak.facet} (secondary of {plan.facet})"),
                              load_strategy(path, settings.final_overrides), outdir / wname,
                              threads=settings.threads, overwrite=overwrite)
            result.runs[weak.facet] = run
            result.solutions[weak.facet] = {}
            applied_main, applied_both = [], []
            for ms, name, main_h5, best in zip(ms_paths, names, corrected, _by_observation(run, names)):
                as_weak = facet_solutions(main_h5, ms, inside(work, f"{name}.{wname}.main.h5"), weak, prov)
                own = facet_solutions(best, ms, inside(work, f"{name}.{wname}.own.h5"), weak, prov)
                out = inside(outdir, f"{wname}.{name}.secondary.h5")
                merge_h5parms([MergeInput(as_weak), MergeInput(own)], out, overwrite=True,
                              provenance=Provenance(task="secondary merge"))
                stamp_h5parm(out, prov)
                result.solutions[weak.facet][name] = out
                if settings.compare:
                    applied_main.append(_applied(ms, as_weak, inside(work, "main_only", f"{name}.ms"), settings, prov))
                    applied_both.append(_applied(ms, out, inside(work, wname, f"{name}.ms"), settings, prov))
            if settings.compare:
                shifted = RefineSettings(**{**settings.__dict__, "image_on_calibrator": True})
                before = _image(applied_main, outdir, f"{wname}.main_only", shifted, weak)
                after = _image(applied_both, outdir, f"{wname}.secondary", shifted, weak)
                result.metrics[weak.facet] = {"main_only": image_metrics(before, weak),
                                              "secondary": image_metrics(after, weak)}
    finally:
        remove_path(work)
    return result


def _has_amplitude(h5parm: Path) -> bool:
    from lofar_hires.io.h5parm import read_h5parm

    return "amplitude000" in read_h5parm(h5parm).soltabs


def _applied(ms: Path, h5parm: Path, out: Path, settings: RefineSettings, prov: Provenance) -> Path:
    from lofar_hires.solutions.apply import apply_solutions

    out.parent.mkdir(parents=True, exist_ok=True)
    apply_solutions(ms, h5parm, out, data_column=settings.data_column, threads=settings.threads, overwrite=True,
                    logdir=out.parent / "logs", provenance=prov)
    return out


def write_summary(path: Path, result: SecondaryResult) -> Path:
    """``<facet>.secondary.json``: the sub-facets, each weak calibrator's run, solutions and image metrics."""
    plan = result.plan
    summary = {"facet": plan.facet, "main": plan.main.describe(), "regions": str(result.regions),
               "subfacets": [{"name": f.name, "area_deg2": f.area_deg2, "centre_ra_deg": f.centre_ra_deg,
                              "centre_dec_deg": f.centre_dec_deg} for f in plan.subfacets],
               "weak": [{**w.describe(),
                         "stop_reason": result.runs[w.facet].decision.reason if w.facet in result.runs else None,
                         "cycles": result.runs[w.facet].n_cycles if w.facet in result.runs else None,
                         "solutions": {k: str(v) for k, v in result.solutions.get(w.facet, {}).items()},
                         "metrics": result.metrics.get(w.facet)} for w in plan.weak]}
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return path
