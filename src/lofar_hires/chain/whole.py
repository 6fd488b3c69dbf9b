"""The whole chain as one CWL workflow (``workflows/lofar_hires.cwl``): its job from what ``lofar-hires run`` has.

Module by module, :mod:`lofar_hires.chain.run` writes one job per module workflow; the whole workflow wires the
modules' products itself (as the job builders of :mod:`lofar_hires.chain.modules` do) and takes the run's inputs
once: the observations, the sky models, the in-field delay calibrator, and every module setting as an input
``<module>__<input>``. Cores and memory follow the cluster profile as :func:`lofar_hires.chain.run.complete_job`
gives them to a module's job; with the products of the earlier modules not made yet, the memory is the profile's
for the largest input measurement set (the later modules' data are averaged copies, smaller).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lofar_hires.chain import modules as M
from lofar_hires.chain.config import RunConfig
from lofar_hires.chain.profiles import ClusterProfile
from lofar_hires.chain.run import (
    input_is_required,
    job_paths_relative_to,
    resource_input,
    workflow_inputs,
    workflows_dir,
)
from lofar_hires.chain.tree import tree_bytes
from lofar_hires.errors import InputError

#: The whole workflow's file name in ``workflows/``.
WHOLE_WORKFLOW = "lofar_hires.cwl"
#: Between the module and its workflow's input in the name of a module setting (``dd_dutch__strategy_overrides``).
SEPARATOR = "__"
#: The modules the whole workflow leaves out together, when its input ``refine`` is false.
REFINEMENT = ("dd_refine", "apply_refined")


def whole_workflow() -> Path:
    """``workflows/lofar_hires.cwl`` of this checkout."""
    return workflows_dir() / WHOLE_WORKFLOW


def setting_input(module: str, name: str) -> str:
    """The whole workflow's input of a module workflow's input (``sva``, ``time_res_s`` -> ``sva__time_res_s``)."""
    return f"{module}{SEPARATOR}{name}"


def refine_of(skip: Iterable[str]) -> bool:
    """The input ``refine``: false when the configuration skips the refinement (both its modules); the whole
    workflow cannot leave out any other module."""
    skipped = set(skip) - {M.SIMULATE}
    others = sorted(skipped - set(REFINEMENT), key=M.MODULE_NAMES.index)
    if others:
        raise InputError(f"skip: the whole workflow runs every module but the refinement and cannot leave out "
                         f"{', '.join(others)}; run the chain module by module", setting="skip")
    if skipped and skipped != set(REFINEMENT):
        raise InputError(f"skip: the whole workflow leaves out {' and '.join(REFINEMENT)} together, not one of them",
                         setting="skip")
    return not skipped


def module_settings(modules: Mapping[str, Mapping[str, Any]], declared: Mapping[str, Any],
                    config_dir: Path) -> dict[str, Any]:
    """``modules.<module>.<input>`` of a run configuration as the whole workflow's inputs ``<module>__<input>``,
    relative File/Directory paths made relative to ``config_dir``; the simulation's settings are no part of it."""
    job: dict[str, Any] = {}
    for module, settings in modules.items():
        if module == M.SIMULATE:
            continue
        for key, value in settings.items():
            name = setting_input(module, key)
            if name not in declared:
                raise InputError(f"modules.{module}: {key} is no setting of {WHOLE_WORKFLOW}: it is no input of "
                                 f"{M.module(module).workflow}, or the whole workflow wires it from the products "
                                 "of the modules before", setting="modules")
            job[name] = job_paths_relative_to(value, config_dir)
    return job


def resource_settings(declared: Iterable[str], profile: ClusterProfile, largest_bytes: int) -> dict[str, int]:
    """Every module's ``cores``/``*_cores`` and ``ram_mb``/``*_ram_mb`` input, as
    :func:`lofar_hires.chain.run.resource_input` sets them in a module's job."""
    out: dict[str, int] = {}
    for name in declared:
        if SEPARATOR in name:
            value = resource_input(name.split(SEPARATOR, 1)[1], profile, largest_bytes)
            if value is not None:
                out[name] = value
    return out


def whole_chain_job(config: RunConfig, profile: ClusterProfile, observations: Sequence[M.Observation],
                    skymodel: Path | None, calibrator_skymodel: Path | None,
                    delay_calibrator: tuple[str, float, float] | None) -> dict[str, Any]:
    """The job of ``workflows/lofar_hires.cwl`` for a run: its observations (in order), sky models, in-field delay
    calibrator, ``refine`` (false when the configuration skips the refinement), and the configuration's module
    settings with the profile's cores and memory.

    Raises
    ------
    InputError
        No observation, an observation without its calibrator scan, no calibrator sky model or delay calibrator,
        a skipped module the whole workflow cannot leave out, or a module setting that is no input of it.
    """
    if not observations:
        raise InputError("the run has no observation", setting="observations")
    lacking = [o.name for o in observations if o.calibrator is None]
    if lacking:
        raise InputError(f"observation {', '.join(lacking)} has no calibrator measurement set: every target needs "
                         "the flux-calibrator scan of its observation", setting="observations")
    if calibrator_skymodel is None:
        raise InputError("the run needs a sky model of the flux calibrator (setting calibrator_skymodel)",
                         setting="calibrator_skymodel")
    if delay_calibrator is None:
        raise InputError("no in-field delay calibrator: give delay_calibrator (name, ra_deg, dec_deg) or a sky "
                         "model with a compact source", setting="delay_calibrator")
    declared = workflow_inputs(whole_workflow())
    datasets = [Path(p) for o in observations for p in (o.target, o.calibrator) if p is not None]
    largest = max((tree_bytes(p) for p in datasets if p.exists()), default=0)
    name, ra_deg, dec_deg = delay_calibrator
    job: dict[str, Any] = {
        "observation_names": [o.name for o in observations],
        "calibrator_ms": [M.dir_obj(Path(o.calibrator).absolute()) for o in observations],
        "target_ms": [M.dir_obj(Path(o.target).absolute()) for o in observations],
        "calibrator_skymodel": M.file_obj(Path(calibrator_skymodel).absolute()),
        "delay_calibrator": {"name": str(name), "ra_deg": float(ra_deg), "dec_deg": float(dec_deg)},
        "refine": refine_of(config.skip),
    }
    if skymodel is not None:
        job["skymodel"] = M.file_obj(Path(skymodel).absolute())
    job.update(resource_settings(declared, profile, largest))
    job.update(module_settings(config.modules, declared, config.path.parent))
    missing = [n for n in declared if n not in job and input_is_required(declared[n])]
    if missing:
        raise InputError(f"the job of {WHOLE_WORKFLOW} lacks {', '.join(missing)}", setting="modules")
    return job
