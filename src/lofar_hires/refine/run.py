"""The DD refinement of one facet, jointly over its observations (de Jong et al. 2025, section 6.4.4).

1. *Dutch* (skipped when the facet calibrator's delta_t is above 3 min): the facet datasets are
   self-calibrated at 6 arcsec with the ``refine-dutch`` recipe (international stations removed,
   averaged by 8, uv cut 750 lambda); its best solutions are applied to each observation's data.
2. *final*: the (corrected) facet datasets are phase-shifted to the facet calibrator and
   self-calibrated jointly with the ``refine-final`` recipe (32 s, 390.6 kHz, uv cut 20000
   lambda, 5 to 20 cycles, intervals from delta_t).
3. Per observation the two steps' best solutions are merged into ``<facet>.<obs>.refined.h5`` and
   applied to the facet data.
4. The check (:mod:`lofar_hires.refine.check`): the facet calibrator's peak in a 6 arcsec dirty
   image of the refined data against that in one of the data as given (``check/``); a change beyond
   ``refine_check.max_peak_change_fraction`` rejects the refinement: its refined solutions are
   removed and :class:`~lofar_hires.refine.check.RefinementRejected` is raised (the facet keeps its
   DD solutions).
5. The facet is imaged (``<facet>-image.fits``; with ``compare`` also the data as given,
   ``<facet>.before-image.fits``, and the peak and rms of both).

Both steps run :func:`lofar_hires.selfcal.engine.run_selfcal` (``dutch/``, ``final/``, each a
complete self-calibration directory: cycles, montage, report); their strategies are written next
to them (``<facet>.refine_dutch.yaml``, ``<facet>.refine_final.yaml``). Intermediate corrected
data live in ``work/`` and are removed at the end.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lofar_hires.calibration.step_products import stamp_h5parm
from lofar_hires.errors import InputError
from lofar_hires.imaging.image import make_image
from lofar_hires.imaging.measure import load_image, measure_source, sigma_clipped_rms
from lofar_hires.io.atomic import atomic_output, remove_path
from lofar_hires.io.names import inside, safe_name
from lofar_hires.provenance import Provenance
from lofar_hires.refine.check import FluxCheck, RefinementRejected, check_refinement
from lofar_hires.refine.plan import FacetCalibrator, dutch_step_needed
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.selfcal.engine import SelfcalRequest, SelfcalResult, run_selfcal
from lofar_hires.selfcal.recipes import RecipeConfig, refine_dutch_strategy, refine_final_strategy, strategy_yaml
from lofar_hires.selfcal.strategy import load_strategy
from lofar_hires.solutions.apply import apply_solutions
from lofar_hires.solutions.merge import MergeInput, merge_h5parms
from lofar_hires.subtract.run import ms_stem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefineSettings:
    """How a facet is refined and imaged (defaults: ``lofar-hires refine --help``)."""

    dutch_overrides: tuple[str, ...] = ()
    final_overrides: tuple[str, ...] = ()
    image_size_pix: int = 1024
    image_scale_arcsec: float = 0.1
    image_taper_arcsec: float = 0.3
    image_niter: int = 20000
    #: Centre the facet image on the facet calibrator instead of the data's phase centre (the facet centre).
    image_on_calibrator: bool = False
    compare: bool = False
    data_column: str = "DATA"
    threads: int = 2

    def __post_init__(self) -> None:
        if not 16 <= self.image_size_pix <= 65536:
            raise InputError(f"image_size_pix must be 16..65536, got {self.image_size_pix}", setting="image_size_pix")
        for key in ("image_scale_arcsec", "image_taper_arcsec"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0) or (key == "image_scale_arcsec" and value == 0):
                raise InputError(f"{key} must be a positive number, got {value}", setting=key)
        if self.image_niter < 0:
            raise InputError(f"image_niter must be >= 0, got {self.image_niter}", setting="image_niter")
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {self.threads}", setting="threads")


@dataclass
class RefineResult:
    """What the refinement of one facet produced."""

    calibrator: FacetCalibrator
    dutch: SelfcalResult | None
    final: SelfcalResult
    solutions: dict[str, Path] = field(default_factory=dict)
    image: Path | None = None
    before_image: Path | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Why the Dutch step was not made ('' when it was).
    skipped: str = ""
    #: The calibrator's peak before and after, and the verdict (None until checked).
    check: FluxCheck | None = None


def observation_names(ms_paths: Sequence[Path], facet: str = "") -> list[str]:
    """The observations' names, which must differ: the datasets' names without ``.ms`` and without the facet's
    name that ``lofar-hires subtract`` appends (``<obs>.<facet>.ms``)."""
    names = [ms_stem(ms) for ms in ms_paths]
    suffix = f".{safe_name(facet, what='facet name')}" if facet else ""
    names = [n[: -len(suffix)] if suffix and n.endswith(suffix) and len(n) > len(suffix) else n for n in names]
    if len(set(names)) != len(names):
        raise InputError(f"the facet datasets {', '.join(map(str, ms_paths))} have the same names; give one per "
                         "observation", setting="msin")
    return names


def _step_record(result: SelfcalResult | None, skipped: str = "") -> dict[str, object]:
    if result is None:
        return {"made": False, "reason": skipped}
    return {"made": True, "outdir": str(result.outdir), "cycles": result.n_cycles, "best_cycle": result.best_cycle,
            "stop_reason": result.decision.reason, "report": str(result.report),
            "best_solutions": {k: str(v) for k, v in result.best_solutions.items()}}


def _write_strategy(mapping: dict, path: Path, header: str) -> Path:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(strategy_yaml(mapping, [header, ""]), encoding="utf-8")
    return path


def _by_observation(result: SelfcalResult, names: Sequence[str]) -> list[Path]:
    """The run's best solutions in the order of the measurement sets."""
    best = list(result.best_solutions.values())
    if len(best) != len(names):
        raise InputError(f"self-calibration in {result.outdir} returned {len(best)} solution file(s) for "
                         f"{len(names)} observation(s)")
    return best


def _image(ms_paths: Sequence[Path], outdir: Path, name: str, settings: RefineSettings, calibrator: FacetCalibrator,
           data_column: str = "DATA") -> Path:
    shift = (calibrator.ra_deg, calibrator.dec_deg) if settings.image_on_calibrator else None
    options = WSCleanOptions(name=Path(name), size_pix=(settings.image_size_pix, settings.image_size_pix),
                             data_column=data_column, shift_radec_deg=shift,
                             scale_arcsec=settings.image_scale_arcsec, niter=settings.image_niter, mgain=0.8,
                             weighting="briggs", robust=-0.5, auto_mask_sigma=5.0, auto_threshold_sigma=1.0,
                             taper_gaussian_arcsec=settings.image_taper_arcsec or None,
                             no_update_model_required=True, threads=settings.threads)
    return make_image(list(ms_paths), outdir, options, overwrite=True).fits["image"]


def facet_solutions(h5parm: Path, ms: Path, out: Path, calibrator: FacetCalibrator, prov: Provenance) -> Path:
    """``h5parm`` (one direction) as the facet's solutions: its direction named after the facet, at the facet
    calibrator, and identity solutions for the stations of ``ms`` it lacks (the Dutch step removes the
    international stations; they are left uncorrected by it)."""
    import math

    from lofar_hires.io.h5parm import read_h5parm
    from lofar_hires.io.h5parm.model import Solset
    from lofar_hires.io.ms import read_antennas
    from lofar_hires.solutions.directions import rename_directions
    from lofar_hires.solutions.output import save_solset
    from lofar_hires.solutions.reset import with_identity_stations

    names, positions = read_antennas(ms)
    solset = with_identity_stations(read_h5parm(h5parm), names, positions)
    facet = safe_name(calibrator.facet, what="facet name")
    if len(solset.directions) > 1:
        raise InputError(f"{h5parm} has {len(solset.directions)} directions; a facet's solutions have one")
    if solset.directions:
        (old,) = solset.directions
        if old.strip("[]") != facet:
            solset = rename_directions(solset, {old: facet})
        solset = Solset(solset.name, list(solset.antenna_names), solset.antenna_positions_m,
                        {facet: (math.radians(calibrator.ra_deg), math.radians(calibrator.dec_deg))},
                        solset.soltabs, dict(solset.attrs))
    return save_solset(solset, out, prov, overwrite=True)


def image_metrics(image: Path, calibrator: FacetCalibrator) -> dict[str, float | None]:
    """Peak brightness at the facet calibrator (None when the image does not cover it) and the image rms
    (4-sigma clipped)."""
    fits = load_image(image)
    try:
        peak: float | None = float(measure_source(fits, calibrator.ra_deg, calibrator.dec_deg).peak_jy_per_beam)
    except InputError:
        log.warning("%s does not cover the facet calibrator %s: no peak measured", image.name, calibrator.facet)
        peak = None
    return {"peak_jy": peak, "rms_jy": sigma_clipped_rms(fits.data)}


def refine_facet(ms_paths: Sequence[Path], calibrator: FacetCalibrator, config: RecipeConfig, outdir: Path,
                 settings: RefineSettings, prov: Provenance, *, overwrite: bool = False) -> RefineResult:
    """Refine one facet on its datasets ``ms_paths`` (one per observation, read only) into ``outdir``."""
    from lofar_hires.io.ms import read_ms_info

    names = observation_names(ms_paths, calibrator.facet)
    outdir.mkdir(parents=True, exist_ok=True)
    work = outdir / "work"
    facet = safe_name(calibrator.facet, what="facet name")
    info = read_ms_info(ms_paths[0])
    current, column = list(ms_paths), settings.data_column
    dutch = None
    dutch_full: list[Path] = []  # the Dutch step's best solutions as the facet's (all stations)
    skipped = ""
    try:
        if dutch_step_needed(calibrator, config):
            mapping = refine_dutch_strategy(calibrator.delta_t_min, info.integration_s, info.chan_width_hz,
                                            config.refine_dutch, sigma_c_rad=calibrator.sigma_c_rad,
                                            dt_formula=calibrator.dt_formula)
            path = _write_strategy(mapping, inside(outdir, f"{facet}.refine_dutch.yaml"),
                                   f"6 arcsec Dutch refinement of facet {calibrator.facet} (section 6.4.4)")
            log.info("facet %s, step 1/2: 6 arcsec Dutch self-calibration (delta_t %.3g min) on %d observation(s)",
                     calibrator.facet, calibrator.delta_t_min, len(ms_paths))
            dutch = run_selfcal(SelfcalRequest(ms_paths=tuple(current), data_column=column,
                                               name=f"{calibrator.facet} (6 arcsec Dutch)"),
                                load_strategy(path, settings.dutch_overrides), outdir / "dutch",
                                threads=settings.threads, overwrite=overwrite)
            corrected = []
            for ms, name, h5 in zip(current, names, _by_observation(dutch, names)):
                full = facet_solutions(h5, ms, inside(work, f"{name}.dutch.h5"), calibrator, prov)
                dutch_full.append(full)
                out = inside(work, "dutch", f"{name}.ms")  # the observation keeps its name
                apply_solutions(ms, full, out, data_column=column, threads=settings.threads, overwrite=True,
                                logdir=work / "logs", provenance=prov)
                corrected.append(out)
            current, column = corrected, "DATA"
        else:
            skipped = (f"delta_t {calibrator.delta_t_min:.3g} min is above "
                       f"{config.refine_dutch.skip_above_delta_t_min:g} min")
            log.info("facet %s: the 6 arcsec Dutch step is skipped (%s)", calibrator.facet, skipped)
        mapping = refine_final_strategy(calibrator.delta_t_min, config.refine_final.time_resolution_s,
                                        config.refine_final, sigma_c_rad=calibrator.sigma_c_rad,
                                        dt_formula=calibrator.dt_formula)
        path = _write_strategy(mapping, inside(outdir, f"{facet}.refine_final.yaml"),
                               f"final joint self-calibration of facet {calibrator.facet} (section 6.4.4)")
        log.info("facet %s, step 2/2: final joint self-calibration towards its calibrator (%.5f, %.5f) on %d "
                 "observation(s)", calibrator.facet, calibrator.ra_deg, calibrator.dec_deg, len(ms_paths))
        final = run_selfcal(SelfcalRequest(ms_paths=tuple(current), data_column=column,
                                           phase_centre_deg=(calibrator.ra_deg, calibrator.dec_deg),
                                           name=f"{calibrator.facet} (final)"),
                            load_strategy(path, settings.final_overrides), outdir / "final",
                            threads=settings.threads, overwrite=overwrite)
        result = RefineResult(calibrator, dutch, final, skipped=skipped)
        refined_ms = []
        dutch_best = dutch_full or [None] * len(names)
        for ms, name, a, b in zip(ms_paths, names, dutch_best, _by_observation(final, names)):
            out = inside(outdir, f"{facet}.{name}.refined.h5")
            b = facet_solutions(b, ms, inside(work, f"{name}.final.h5"), calibrator, prov)
            merge_h5parms([MergeInput(Path(p)) for p in (a, b) if p is not None], out, overwrite=True,
                          provenance=Provenance(task="refine merge"))
            stamp_h5parm(out, prov)
            result.solutions[name] = out
            applied = inside(work, f"{name}.refined.ms")
            apply_solutions(ms, out, applied, data_column=settings.data_column, threads=settings.threads,
                            overwrite=True, logdir=work / "logs", provenance=prov)
            refined_ms.append(applied)
        result.check = check_refinement(ms_paths, settings.data_column, refined_ms, outdir / "check",
                                        config.refine_check, calibrator, settings.threads)
        if not result.check.accepted:
            for path in result.solutions.values():
                remove_path(path)
            result.solutions.clear()
            raise RefinementRejected(f"refinement rejected ({result.check.reason}); its refined solutions were "
                                     "removed and the facet keeps its DD solutions", result.check)
        log.info("facet %s: imaging the refined data (%d pixels of %g arcsec)", calibrator.facet,
                 settings.image_size_pix, settings.image_scale_arcsec)
        result.image = _image(refined_ms, outdir, facet, settings, calibrator)
        result.metrics["after"] = image_metrics(result.image, calibrator)
        if settings.compare:
            result.before_image = _image(ms_paths, outdir, f"{facet}.before", settings, calibrator,
                                         settings.data_column)
            result.metrics["before"] = image_metrics(result.before_image, calibrator)
    finally:
        remove_path(work)
    return result


def write_summary(path: Path, result: RefineResult, settings: RefineSettings) -> Path:
    """``<facet>.refine.json``: the calibrator, both steps (or why the first was skipped), the solutions, the
    image and its peak and rms (and those of the data as given, with ``compare``)."""
    summary = {"status": "ok", "calibrator": result.calibrator.describe(),
               "dutch": _step_record(result.dutch, result.skipped),
               "final": _step_record(result.final),
               "solutions": {k: str(v) for k, v in result.solutions.items()},
               "image": None if result.image is None else str(result.image),
               "before_image": None if result.before_image is None else str(result.before_image),
               "metrics": result.metrics,
               "check": None if result.check is None else result.check.describe(),
               "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.__dict__.items()}}
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def write_failure(path: Path, calibrator: FacetCalibrator, exc: Exception) -> Path:
    """``<facet>.refine.json`` of a refinement that failed: status failed, the reason and its exit status (and the
    check's numbers when the check rejected it)."""
    from lofar_hires.errors import exit_status

    summary = {"status": "failed", "calibrator": calibrator.describe(), "error": str(exc),
               "error_type": type(exc).__name__, "exit_status": exit_status(exc),
               "check": exc.check.describe() if isinstance(exc, RefinementRejected) else None}
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return path
