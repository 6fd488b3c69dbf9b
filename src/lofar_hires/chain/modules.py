"""The modules of the chain, in order, and how each module's CWL job is made from the products of the earlier ones.

Every module is one workflow of ``workflows/`` that also runs on its own; the chain only writes its job.
A module runs once for all observations together (``per_observation=False``) or once per observation
(the direction-independent calibration: each observation has its own calibrator scan). The job builders are
pure functions of the run's settings and the output objects of the modules before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lofar_hires.errors import InputError

Job = dict[str, Any]


def file_obj(path: str | Path) -> dict[str, str]:
    return {"class": "File", "path": str(path)}


def dir_obj(path: str | Path) -> dict[str, str]:
    return {"class": "Directory", "path": str(path)}


def paths_of(value: Any, secondary_files: bool = False) -> list[Path]:
    """Every File/Directory path in a CWL value (in order; nested arrays and output objects flattened); with
    ``secondary_files`` each file's secondary files follow it."""
    if isinstance(value, Mapping):
        if value.get("class") in ("File", "Directory"):
            extra = paths_of(value.get("secondaryFiles", []), True) if secondary_files else []
            return [Path(value["path"]), *extra]
        return [p for item in value.values() for p in paths_of(item, secondary_files)]
    if isinstance(value, (list, tuple)):
        return [p for item in value for p in paths_of(item, secondary_files)]
    return []


@dataclass(frozen=True)
class Observation:
    """One observation: its name and measurement sets (the target's, and the flux calibrator's scan)."""

    name: str
    target: Path
    calibrator: Path | None


@dataclass
class ChainState:
    """What a job builder sees: the run's inputs and the products of the modules that ran."""

    observations: list[Observation]
    skymodel: Path | None  # sky model of the target field (catalogue or simulated truth)
    calibrator_skymodel: Path | None  # model of the flux calibrator
    outputs: dict[str, Any] = field(default_factory=dict)  # module -> CWL output object ({obs: object} per obs)
    passed: list[str] | None = None  # observations that passed the calibratability gate (None: not gated)
    delay_calibrator: tuple[str, float, float] | None = None  # name, RA, Dec (deg)

    @property
    def active(self) -> list[Observation]:
        """The observations still processed (those the gate stopped are left out)."""
        return [o for o in self.observations if self.passed is None or o.name in self.passed]

    def out(self, module: str) -> Any:
        try:
            return self.outputs[module]
        except KeyError:
            raise InputError(f"module {module} has no products in this run folder; run it first (or start "
                             f"the chain earlier with --from)", setting="from") from None


@dataclass(frozen=True)
class Module:
    name: str
    workflow: str  # CWL file, relative to the repository root
    summary: str
    build: Callable[[ChainState], Job] | None = None  # joint modules
    build_obs: Callable[[ChainState, Observation], Job] | None = None  # per-observation modules
    #: output name -> folder of the run tree (the others go by their type)
    folders: Mapping[str, str] = field(default_factory=dict)

    @property
    def per_observation(self) -> bool:
        return self.build_obs is not None


def _obs_outputs(state: ChainState, module: str, obs: Observation) -> dict:
    per_obs = state.out(module)
    if obs.name not in per_obs:
        raise InputError(f"module {module} has no products for observation {obs.name}", setting="from")
    return per_obs[obs.name]


def _require(path: Path | None, what: str, setting: str) -> Path:
    if path is None:
        raise InputError(f"the run needs {what} (setting {setting})", setting=setting)
    return path


# --------------------------------------------------------------------------------------------- job builders


def job_di_calibrator(state: ChainState, obs: Observation) -> Job:
    if obs.calibrator is None:
        raise InputError(f"observation {obs.name} has no calibrator measurement set", setting="observations")
    model = _require(state.calibrator_skymodel, "a sky model of the flux calibrator", "calibrator_skymodel")
    return {"msin": [dir_obj(obs.calibrator)], "skymodel": file_obj(model)}


def job_di_target(state: ChainState, obs: Observation) -> Job:
    cal = _obs_outputs(state, "di_calibrator", obs)
    job: Job = {"msin": [dir_obj(obs.target)], "cal_solutions": file_obj(cal["cal_solutions"]["path"])}
    if state.skymodel is not None:
        job["skymodel"] = file_obj(state.skymodel)
    return job


def corrected_ms(state: ChainState) -> list[Path]:
    """The DI-corrected target of every active observation, in observation order."""
    return [paths_of(_obs_outputs(state, "di_target", o)["corrected_ms"])[0] for o in state.active]


def job_delay_calibration(state: ChainState) -> Job:
    if state.delay_calibrator is None:
        raise InputError("no in-field delay calibrator: give delay_calibrator (name, ra_deg, dec_deg) or a sky "
                         "model with a compact source", setting="delay_calibrator")
    _, ra, dec = state.delay_calibrator
    job: Job = {"msin": [dir_obj(p) for p in corrected_ms(state)], "calibrator_ra_deg": ra, "calibrator_dec_deg": dec}
    if state.skymodel is not None:
        job["skymodel"] = file_obj(state.skymodel)
    return job


def calibrated_ms(state: ChainState) -> list[Path]:
    """The delay-calibrated target of every active observation (DI-corrected when delay calibration was left
    out), in observation order."""
    if "delay_calibration" not in state.outputs:
        return corrected_ms(state)
    paths = paths_of(state.out("delay_calibration")["calibrated_ms"])
    names = [o.name for o in state.observations]
    if len(paths) != len(names):
        raise InputError(f"delay calibration made {len(paths)} measurement sets for {len(names)} observations",
                         setting="from")
    return [p for p, o in zip(paths, state.observations) if o in state.active]


def job_calibratability(state: ChainState) -> Job:
    """The gate scores the delay-calibrated data of every observation, with the ionospheric activity of the
    calibrator's DI TEC solutions of the same observation."""
    state.out("delay_calibration")
    job: Job = {"msin": [dir_obj(p) for p in calibrated_ms(state)],
                "observation_names": [o.name for o in state.active],
                "di_solutions": [file_obj(_obs_outputs(state, "di_calibrator", o)["cal_solutions"]["path"])
                                 for o in state.active],
                "output_name": "calibratability.json"}
    if state.delay_calibrator is not None:
        job["calibrator_name"] = state.delay_calibrator[0]
        job["calibrator_ra_deg"], job["calibrator_dec_deg"] = state.delay_calibrator[1:]
    return job


def job_select_calibrators(state: ChainState) -> Job:
    job: Job = {"msin": [dir_obj(calibrated_ms(state)[0])]}
    if state.skymodel is not None:
        job["skymodel"] = file_obj(state.skymodel)
    return job


def _selection(state: ChainState) -> tuple[dict, dict]:
    sel = state.out("select_calibrators")
    return file_obj(sel["calibrators"]["path"]), file_obj(sel["regions"]["path"])


def job_dd_dutch(state: ChainState) -> Job:
    table, regions = _selection(state)
    return {"msin": [dir_obj(p) for p in calibrated_ms(state)], "calibrators": table, "facet_regions": regions}


def job_dd_international(state: ChainState) -> Job:
    table, regions = _selection(state)
    dutch = state.out("dd_dutch")
    return {"msin": [dir_obj(p) for p in calibrated_ms(state)], "calibrators": table, "facet_regions": regions,
            "dutch_solutions": [file_obj(p) for p in paths_of(dutch["solutions"])]}


def job_facet_subtract(state: ChainState) -> Job:
    _, regions = _selection(state)
    solutions = paths_of(state.out("dd_international")["solutions"])
    job: Job = {"msin": [dir_obj(p) for p in calibrated_ms(state)], "h5parm": [file_obj(p) for p in solutions],
                "facet_regions": regions}
    if state.skymodel is not None:
        job["skymodel"] = file_obj(state.skymodel)
    return job


def facet_names(regions: Path) -> list[str]:
    """The facet names of a region file (lofar-hires facets labels every polygon)."""
    from lofar_hires.io.regions import read_ds9_polygons

    names = [p.name for p in read_ds9_polygons(regions)]
    if not names or any(n is None for n in names):
        raise InputError(f"{regions}: every facet polygon needs a name (text={{...}})", setting="facet_regions")
    return [str(n) for n in names]


def facet_datasets(state: ChainState) -> dict[str, list[Path]]:
    """Facet name -> its datasets (one per observation) made by the facet subtraction (``<obs>.<facet>.ms``)."""
    _, regions = _selection(state)
    names = facet_names(Path(regions["path"]))
    datasets = paths_of(state.out("facet_subtract")["facet_ms"])
    grouped: dict[str, list[Path]] = {}
    for facet in names:
        pattern = re.compile(rf"\.{re.escape(facet)}\.ms$")
        grouped[facet] = sorted(p for p in datasets if pattern.search(p.name))
        if not grouped[facet]:
            raise InputError(f"the facet subtraction made no dataset of facet {facet}", setting="from")
    return grouped


def job_dd_refine(state: ChainState) -> Job:
    table, _ = _selection(state)
    grouped = facet_datasets(state)
    return {"facet_ms": [dir_obj(p) for ps in grouped.values() for p in ps], "calibrators": table,
            "facets": list(grouped)}


def refined_solution(state: ChainState, dataset: Path) -> Path | None:
    """The refined solutions of one facet dataset (``<facet>.<obs>.refined.h5`` for ``<obs>.<facet>.ms``); None when
    the refinement of its facet failed (its summary says why: the dataset then keeps its DD solutions)."""
    for facet, datasets in facet_datasets(state).items():
        if dataset in datasets:
            obs = dataset.name[:-len(f".{facet}.ms")]
            wanted = f"{facet}.{obs}.refined.h5"
            found = [p for p in paths_of(state.out("dd_refine")["solutions"]) if p.name == wanted]
            return found[0] if found else None
    raise InputError(f"{dataset.name} is no facet dataset of this run", setting="from")


def job_apply_refined(state: ChainState) -> Job:
    pairs = [(p, refined_solution(state, p)) for ps in facet_datasets(state).values() for p in ps]
    pairs = [(p, h5) for p, h5 in pairs if h5 is not None]
    return {"facet_ms": [dir_obj(p) for p, _ in pairs], "solutions": [file_obj(h5) for _, h5 in pairs]}


def corrected_datasets(state: ChainState) -> dict[str, list[Path]]:
    """Facet name -> its datasets, each corrected by its refined solutions where the refinement made them (the
    facet datasets as the subtraction made them otherwise)."""
    grouped = facet_datasets(state)
    if "apply_refined" not in state.outputs:
        return grouped
    corrected = {p.name: p for p in paths_of(state.out("apply_refined")["corrected_ms"])}
    return {facet: [corrected.get(d.name, d) for d in datasets] for facet, datasets in grouped.items()}


def job_sva(state: ChainState) -> Job:
    grouped = corrected_datasets(state)
    return {"facet_ms": [[dir_obj(p) for p in ps] for ps in grouped.values()], "facet_names": list(grouped)}


def job_final_imaging(state: ChainState) -> Job:
    """The SVA datasets when averaged; else every observation's dataset, corrected by its refined solutions (applied
    here when no earlier module did)."""
    _, regions = _selection(state)
    job: Job = {"facet_regions": regions}
    if "sva" in state.outputs:
        datasets = paths_of(state.out("sva")["averaged_ms"])
        facets = [p.name[:-3] for p in datasets]
    else:
        grouped = corrected_datasets(state)
        datasets = [p for ps in grouped.values() for p in ps]
        facets = list(grouped)
        if "dd_refine" in state.outputs and "apply_refined" not in state.outputs:
            solutions = [refined_solution(state, p) for p in datasets]
            if any(h5 is None for h5 in solutions):
                raise InputError("the refinement of some facets failed, and final imaging applies solutions to all "
                                 "datasets or none: run apply_refined (do not skip it)", setting="skip")
            job["solutions"] = [file_obj(h5) for h5 in solutions]
    job.update({"facet_ms": [dir_obj(p) for p in datasets], "facets": facets})
    return job


MODULES: tuple[Module, ...] = (
    Module("di_calibrator", "workflows/di_calibrator.cwl",
           "DI calibration of the flux calibrator (per observation)",
           build_obs=job_di_calibrator),
    Module("di_target", "workflows/di_target.cwl",
           "calibrator solutions transferred to the target, DI phase calibration",
           build_obs=job_di_target),
    Module("delay_calibration", "workflows/delay_calibration.cwl",
           "in-field delay calibration of the international stations",
           build=job_delay_calibration),
    Module("calibratability", "steps/calibratability.cwl",
           "calibratability gate: stops observations not worth calibrating",
           build=job_calibratability),
    Module("select_calibrators", "workflows/select_calibrators.cwl", "DD calibrator selection and facets",
           build=job_select_calibrators,
           folders={"calibrators": "facets", "regions": "facets", "facet_layout": "facets",
                    "candidate_table": "facets", "scores": "facets"}),
    Module("dd_dutch", "workflows/dd_dutch.cwl", "joint DD solve of the Dutch stations", build=job_dd_dutch),
    Module("dd_international", "workflows/dd_international.cwl", "DD self-calibration of the international stations",
           build=job_dd_international),
    Module("facet_subtract", "workflows/facet_subtract.cwl", "1.2 arcsec facet subtraction: one dataset per facet",
           build=job_facet_subtract, folders={"facet_ms": "facets"}),
    Module("dd_refine", "workflows/dd_refine.cwl", "DD refinement of every facet with all observations",
           build=job_dd_refine),
    Module("apply_refined", "workflows/apply_facet_solutions.cwl",
           "the refined solutions applied to every facet dataset", build=job_apply_refined,
           folders={"corrected_ms": "ms"}),
    Module("sva", "workflows/sva.cwl", "sidereal visibility averaging of the facet datasets", build=job_sva,
           folders={"averaged_ms": "facets"}),
    Module("final_imaging", "workflows/final_imaging.cwl", "final facet images and mosaics", build=job_final_imaging),
)
#: The simulation that makes the observations of the embedded default (not a calibration module).
SIMULATE = "simulate"
MODULE_NAMES: tuple[str, ...] = (SIMULATE, *(m.name for m in MODULES))


def module(name: str) -> Module:
    for m in MODULES:
        if m.name == name:
            return m
    raise InputError(f"unknown module {name!r}; the chain's modules: {', '.join(MODULE_NAMES)}", setting="module")


def selected(names: Sequence[str], first: str | None, last: str | None) -> list[str]:
    """The modules from ``first`` to ``last`` (inclusive) among ``names``, in chain order."""
    order = list(MODULE_NAMES)
    for which, name in (("--from", first), ("--to", last)):
        if name is not None and name not in order:
            raise InputError(f"{which}: unknown module {name!r}; the chain's modules: {', '.join(order)}",
                             setting="from" if which == "--from" else "to")
    lo = order.index(first) if first else 0
    hi = order.index(last) if last else len(order) - 1
    if lo > hi:
        raise InputError(f"--from {first} comes after --to {last} in the chain", setting="from")
    return [n for n in names if lo <= order.index(n) <= hi]
