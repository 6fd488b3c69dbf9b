"""Run the chain: every module's workflow in turn with cwltool or Toil, its products moved into the run tree.

:func:`run_chain` checks everything it can before the first job is submitted (the configuration, the
observations, the cluster's partition, job stores left by another run), then runs the selected modules in chain
order. A module whose products are complete in the run folder (``run.json``) is skipped, so re-running the same
command after a failure continues where it stopped; with Toil the interrupted module itself resumes from its job
store (``--restart``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import resource
import shlex
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lofar_hires.chain import modules as M
from lofar_hires.chain.config import RunConfig
from lofar_hires.chain.profiles import (
    ClusterProfile,
    check_partition,
    job_store,
    runner_command,
    runner_environment,
    step_ram_mb,
)
from lofar_hires.chain.state import RunManifest, hold_run_folder, read_manifest, write_manifest
from lofar_hires.chain.tree import missing_products, place_outputs, remove_products, tree_bytes
from lofar_hires.errors import EXIT_TOOL_FAILED, InputError, ToolError
from lofar_hires.provenance import utc_now

log = logging.getLogger(__name__)

#: Observations of one field have the same phase centre; a larger offset means another field.
SAME_FIELD_DEG = 1.0 / 60.0
#: The in-field delay calibrator is a compact source at most this far from the pointing (project choice: the
#: inner field, where the beam and smearing leave it bright).
DELAY_CALIBRATOR_MAX_DEG = 1.0


def workflows_dir() -> Path:
    """The ``workflows/`` folder next to the package's source tree."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "workflows"
        if (candidate / "di_calibrator.cwl").is_file():
            return candidate
    raise InputError("cannot find the workflows/ folder of lofar-hires; run from a checkout of the repository "
                     "(pip install -e .)", setting="workflows")


def workflow_inputs(path: Path) -> dict[str, Any]:
    """The inputs a CWL workflow declares (name -> declaration)."""
    data = yaml.safe_load(path.read_text())
    inputs = data.get("inputs") or {}
    if isinstance(inputs, list):
        inputs = {i["id"]: i for i in inputs}
    return dict(inputs)


def complete_job(job: dict[str, Any], workflow: Path, profile: ClusterProfile, settings: dict[str, Any],
                 module: str, config_dir: Path) -> dict[str, Any]:
    """A module's job with the user's settings for it, and cores and memory from the profile and the data size.

    Every input the workflow declares whose name ends in ``cores`` gets the profile's cores, every ``ram_mb`` the
    memory for the largest input dataset; settings of the configuration's ``modules.<module>`` win."""
    declared = workflow_inputs(workflow)
    unknown = sorted(set(settings) - set(declared))
    if unknown:
        raise InputError(f"modules.{module}: {', '.join(unknown)} is no input of {workflow.name} (its inputs: "
                         f"{', '.join(declared)})", setting="modules")
    largest = max((tree_bytes(p) for v in job.values() for p in M.paths_of(v) if p.exists()), default=0)
    out = dict(job)
    settings = {k: job_paths_relative_to(v, config_dir) for k, v in settings.items()}
    for name in declared:
        value = resource_input(name, profile, largest)
        if value is not None:
            out[name] = value
    out.update(settings)
    missing = [name for name in declared if name not in out and input_is_required(declared[name])]
    if missing:
        raise InputError(f"the job of {module} lacks {', '.join(missing)}", setting="modules")
    return out


def resource_input(name: str, profile: ClusterProfile, largest_bytes: int) -> int | None:
    """The value of a workflow input for the resources of its steps: ``cores``/``*_cores`` the profile's cores,
    ``ram_mb``/``*_ram_mb`` its memory for a dataset of ``largest_bytes``; None for any other input."""
    if name == "cores" or name.endswith("_cores"):
        return profile.cores
    if name == "ram_mb" or name.endswith("_ram_mb"):
        return step_ram_mb(profile, largest_bytes)
    return None


def job_paths_relative_to(value: Any, base: Path) -> Any:
    """A job value with relative File/Directory paths made relative to ``base``."""
    if isinstance(value, list):
        return [job_paths_relative_to(v, base) for v in value]
    if isinstance(value, dict):
        if value.get("class") in ("File", "Directory") and "path" in value:
            return {**value, "path": str(base / Path(os.path.expanduser(str(value["path"]))))}
        return {k: job_paths_relative_to(v, base) for k, v in value.items()}
    return value


def input_is_required(decl: Any) -> bool:
    """Whether a CWL input declaration (its type, or the whole entry) needs a value in the job."""
    t = decl.get("type") if isinstance(decl, dict) else decl
    optional = (isinstance(t, str) and t.endswith("?")) or (isinstance(t, list) and "null" in t)
    return not optional and not (isinstance(decl, dict) and "default" in decl)


# ------------------------------------------------------------------------------------------------ preflight


def observations_of_simulation(outputs: dict[str, Any]) -> list[M.Observation]:
    """The observations of the simulate workflow's products (``target_<obs>.MS`` with ``calibrator_<obs>.MS``)."""
    targets = M.paths_of(outputs.get("target_ms", []))
    calibrators = {p.name.removeprefix("calibrator_"): p for p in M.paths_of(outputs.get("calibrator_ms", []))}
    observations = []
    for t in targets:
        key = t.name.removeprefix("target_")
        observations.append(M.Observation(name=Path(key).stem, target=t, calibrator=calibrators.get(key)))
    if not observations:
        raise InputError("the simulation made no target observation", setting="simulate")
    return observations


def check_observations(observations: list[M.Observation]) -> dict[str, Any]:
    """Refuse observations that cannot be combined (missing data, a calibrator missing, another field); return
    the data dimensions of the first one."""
    from lofar_hires.io.ms import read_ms_info
    from lofar_hires.physics import angular_separation_rad

    infos = []
    for obs in observations:
        if obs.calibrator is None:
            raise InputError(f"observation {obs.name} has no calibrator measurement set: every target needs the "
                             "flux-calibrator scan of its observation", setting="observations")
        for what, path in (("target", obs.target), ("calibrator", obs.calibrator)):
            if not Path(path).is_dir():
                raise InputError(f"observation {obs.name}: the {what} measurement set {path} does not exist",
                                 setting="observations")
        infos.append(read_ms_info(obs.target))
    first = infos[0]
    for obs, info in zip(observations[1:], infos[1:]):
        sep = math.degrees(angular_separation_rad(*first.phase_centre_rad, *info.phase_centre_rad))
        if sep > SAME_FIELD_DEG:
            raise InputError(f"observations {observations[0].name} and {obs.name} are of different fields: their "
                             f"phase centres are {sep:.3f} deg apart", setting="observations")
    return {"n_observations": len(observations), "n_stations": len(first.station_names),
            "n_international": sum(1 for s in first.station_names if not s.startswith(("CS", "RS"))),
            "n_times": int(len(first.times_mjd_s)), "integration_s": float(first.integration_s),
            "n_channels": int(len(first.freqs_hz)), "channel_width_hz": float(first.chan_width_hz),
            "phase_centre_ra_deg": math.degrees(first.phase_centre_rad[0]),
            "phase_centre_dec_deg": math.degrees(first.phase_centre_rad[1])}


def choose_delay_calibrator(skymodel: Path, centre_deg: tuple[float, float]) -> tuple[str, float, float]:
    """The brightest compact source of the sky model within :data:`DELAY_CALIBRATOR_MAX_DEG` of the pointing."""
    import numpy as np

    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.physics import angular_separation_rad

    sky = read_makesourcedb(skymodel)
    sep = np.degrees(angular_separation_rad(math.radians(centre_deg[0]), math.radians(centre_deg[1]),
                                            sky.ra_rad, sky.dec_rad))
    compact = (np.asarray(sky.major_arcsec) == 0) & (sep <= DELAY_CALIBRATOR_MAX_DEG)
    if not compact.any():
        raise InputError(f"{skymodel} has no compact source within {DELAY_CALIBRATOR_MAX_DEG} deg of the pointing "
                         "to be the delay calibrator; give delay_calibrator in the configuration",
                         setting="delay_calibrator")
    i = int(np.flatnonzero(compact)[np.argmax(np.asarray(sky.i_jy)[compact])])
    return sky.names[i], float(np.degrees(sky.ra_rad[i]) % 360.0), float(np.degrees(sky.dec_rad[i]))


def check_job_store(profile: ClusterProfile, run_dir: Path, module: str, workflow: Path) -> bool:
    """Whether a Toil job store of this module and run exists (then the module resumes with ``--restart``);
    refuse a job store that another run or workflow left at that place."""
    if profile.runner != "toil":
        return False
    store = job_store(profile, run_dir, module)
    owner_file = store.parent / f"{module}.owner.json"
    if not store.exists():
        owner_file.unlink(missing_ok=True)
        return False
    mine = {"run_dir": str(run_dir.resolve()), "workflow": str(workflow.resolve()), "module": module}
    try:
        owner = json.loads(owner_file.read_text())
    except (OSError, ValueError):
        owner = None
    if owner != mine:
        whose = f"the run in {owner.get('run_dir')} ({Path(str(owner.get('workflow'))).name})" \
            if isinstance(owner, dict) else "another workflow (it has no lofar-hires owner record)"
        raise InputError(f"the job store {store} belongs to {whose}; remove it or set job_store_dir of the cluster "
                         "profile to another folder", setting="job_store_dir")
    return True


def claim_job_store(profile: ClusterProfile, run_dir: Path, module: str, workflow: Path) -> None:
    store = job_store(profile, run_dir, module)
    store.parent.mkdir(parents=True, exist_ok=True)
    owner = {"run_dir": str(run_dir.resolve()), "workflow": str(workflow.resolve()), "module": module}
    (store.parent / f"{module}.owner.json").write_text(json.dumps(owner) + "\n")


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Invocation:
    returncode: int
    wall_s: float
    outputs: dict[str, Any] | None
    log: Path


def steps_run_elsewhere(profile: ClusterProfile) -> bool:
    """Whether the steps' processes are not descendants of this one, so that their CPU time is not in this
    process's child usage: SLURM jobs, and steps in containers (the container runtime starts them, not cwltool)."""
    return profile.batch_system == "slurm" or profile.container != "none"


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def invoke(command: list[str], env: dict[str, str], log_path: Path, stdout_path: Path, cwd: Path) -> Invocation:
    """Run a CWL runner; its output object from stdout, its log to ``log_path``."""
    from lofar_hires.environment import tool_version

    log_path.parent.mkdir(parents=True, exist_ok=True)
    version = tool_version(Path(command[0]).name)
    log.info("running %s (%s)", shlex.join(command), version)
    t0 = time.monotonic()
    with log_path.open("w") as log_fh, stdout_path.open("w") as out_fh:
        log_fh.write(f"# {shlex.join(command)}\n# {version}\n")
        log_fh.flush()
        proc = subprocess.run(command, stdout=out_fh, stderr=log_fh, env=env, cwd=cwd, check=False)
    wall = time.monotonic() - t0
    log.info("%s finished in %.1f s with exit status %d", Path(command[0]).name, wall, proc.returncode)
    outputs = None
    if proc.returncode == 0:
        try:
            outputs = json.loads(stdout_path.read_text())
        except ValueError:
            outputs = None
    return Invocation(proc.returncode, wall, outputs, log_path)


#: A step's own error line in its log (lofar-hires logs ``<time> ERROR   lofar_hires.<module>: <message>``).
STEP_ERROR = re.compile(r"\bERROR\s+lofar_hires[\w.]*:\s*(?P<message>.+)$")


def step_message(log_path: Path, step_logs: Path) -> str:
    """The failing step's own one-line error (from the steps' logs, newest first, then the runner's log), else
    the runner's last error line."""
    candidates = sorted((p for p in step_logs.rglob("*.log") if p.is_file()), key=lambda p: p.stat().st_mtime,
                        reverse=True) if step_logs.is_dir() else []
    runner_lines: list[str] = []
    for path in [*candidates, log_path]:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        found = [m.group("message").strip() for m in map(STEP_ERROR.search, lines) if m]
        if found:
            return f"{path.parent.name}: {found[0]}"
        if path == log_path:
            runner_lines = lines
    lines = runner_lines
    errors = [ln.strip() for ln in lines if "error" in ln.lower() or "permanentfail" in ln.lower()]
    return (errors or [ln.strip() for ln in lines if ln.strip()] or ["no message"])[-1]


#: cwltool's (and Toil's) line for a step's exit status.
STEP_EXIT = re.compile(r"\[job [^\]]+\] exited with status: (?P<status>\d+)")


def failed_step_statuses(log_path: Path) -> list[int]:
    """The non-zero exit statuses of the steps in a runner's log (empty when no step failed: the runner itself
    failed or was killed)."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    return [int(m.group("status")) for m in STEP_EXIT.finditer(text) if m.group("status") != "0"]


def warnings_of(outputs: Any) -> list[str]:
    """Warning lines of a module's step logs (its ``.log`` outputs)."""
    found: list[str] = []
    for path in M.paths_of(list(outputs.values()) if isinstance(outputs, dict) else outputs):
        if path.suffix == ".log" and path.is_file():
            with path.open(errors="replace") as fh:
                found.extend(line.strip() for line in fh if " WARNING " in line)
    return found[:200]


@dataclass
class Chain:
    """One run of the chain in a run folder."""

    config: RunConfig
    profile: ClusterProfile
    run_dir: Path
    manifest: RunManifest
    state: M.ChainState | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def env(self) -> dict[str, str]:
        return runner_environment(self.profile)

    def run_workflow(self, name: str, workflow: Path, job: dict[str, Any], sub: str | None = None,
                     folders: dict[str, str] | None = None) -> tuple[dict[str, Any], Invocation, int]:
        tag = name if sub is None else f"{name}.{sub}"
        jobs = self.run_dir / "jobs"
        jobs.mkdir(parents=True, exist_ok=True)
        job_file = jobs / f"{tag}.json"
        job_file.write_text(json.dumps(job, indent=1) + "\n")
        staging = self.run_dir / ".staging" / tag
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        step_logs = self.run_dir / "logs" / name / (sub or "steps")
        runner_log = self.run_dir / "logs" / name / f"{tag}.runner.log"
        attempts = self.profile.retry_count + 1
        for attempt in range(1, attempts + 1):
            restart = check_job_store(self.profile, self.run_dir, tag, workflow)
            if self.profile.runner == "toil" and not restart:
                claim_job_store(self.profile, self.run_dir, tag, workflow)
            command = [*runner_command(self.profile, self.run_dir, tag, staging, restart, step_logs), str(workflow),
                       str(job_file)]
            inv = invoke(command, self.env, runner_log, self.run_dir / "jobs" / f"{tag}.outputs.json",
                         self.run_dir)
            if inv.returncode == 0 and inv.outputs is not None:
                break
            statuses = failed_step_statuses(inv.log)
            message = (f"module {tag} failed ({Path(command[0]).name} exit status {inv.returncode}): "
                       f"{step_message(inv.log, step_logs)} (log: {inv.log})")
            # Only a tool failure (exit status 3 of every failed step) is worth another try; Toil resumes from its
            # job store, so the steps that succeeded do not run again.
            if not statuses or set(statuses) != {EXIT_TOOL_FAILED} or attempt == attempts:
                raise ToolError(message)
            log.warning("%s; a tool failure: trying again (%d of %d)", message, attempt + 1, attempts)
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        if self.profile.runner == "toil":
            (job_store(self.profile, self.run_dir, tag).parent / f"{tag}.owner.json").unlink(missing_ok=True)
        outputs, written = place_outputs(inv.outputs, staging, self.run_dir, name, folders or {}, sub)
        shutil.rmtree(staging, ignore_errors=True)
        return outputs, inv, written

    def save(self) -> None:
        write_manifest(self.manifest, self.run_dir)


def _workflow(name: str) -> Path:
    """The CWL file of a module (or of the simulation)."""
    relative = "workflows/simulate.cwl" if name == M.SIMULATE else M.module(name).workflow
    path = workflows_dir().parent / relative
    if not path.is_file():
        raise InputError(f"module {name}: {path} is missing", setting="workflows")
    return path


def run_chain(config: RunConfig, profile: ClusterProfile, run_dir: Path, first: str | None = None,
              last: str | None = None, rerun: bool = False) -> RunManifest:
    """Run the modules from ``first`` to ``last`` of the configuration in ``run_dir``; return the manifest."""
    check_partition(profile, runner_environment(profile))
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the run folder {run_dir}: {exc.strerror}", setting="outdir") from None
    with hold_run_folder(run_dir):
        return _run_chain_held(config, profile, run_dir, first, last, rerun)


def _run_chain_held(config: RunConfig, profile: ClusterProfile, run_dir: Path, first: str | None, last: str | None,
                    rerun: bool) -> RunManifest:
    manifest = read_manifest(run_dir)
    if manifest is not None and manifest.config != str(config.path):
        raise InputError(f"{run_dir} holds a run of {manifest.config}, not of {config.path}; choose another output "
                         "folder", setting="outdir")
    manifest = manifest or RunManifest(config=str(config.path), runner=profile.label)
    manifest.runner, manifest.finished_utc = profile.label, None
    chain = Chain(config, profile, run_dir, manifest)
    names = [n for n in M.MODULE_NAMES if n not in config.skip]
    if config.simulate is None:
        names.remove(M.SIMULATE)
    todo = M.selected(names, first, last)
    # Job stores left by another run are refused before anything runs.
    for name in todo:
        check_job_store(profile, run_dir, name, _workflow(name))
    chain.save()
    try:
        _run_modules(chain, todo, rerun)
    finally:
        _write_report(run_dir)
    return manifest


def _write_report(run_dir: Path) -> None:
    """The run report (report/index.html), also after a failure; a report that cannot be made is a warning."""
    from lofar_hires.errors import LofarHiresError
    from lofar_hires.report.build import write_report

    try:
        result = write_report(run_dir, overwrite=True)
    except (LofarHiresError, OSError) as exc:
        log.warning("no run report: %s", exc)
        return
    log.info("run report: %s", result.report)


def _run_modules(chain: Chain, todo: list[str], rerun: bool) -> None:
    manifest, run_dir = chain.manifest, chain.run_dir
    total = len(todo)
    for i, name in enumerate(todo, 1):
        rec = manifest.record(name, str(_workflow(name).relative_to(workflows_dir().parent)))
        if rec.status == "done" and not rerun and not missing_products(rec.outputs):
            log.info("module %d/%d %s: complete in %s, skipped", i, total, name, run_dir)
            if name != M.SIMULATE:
                _ensure_state(chain)  # takes in the products (and the gate's verdict) of every complete module
            continue
        if rec.outputs:
            remove_products(rec.outputs, run_dir)  # a re-run replaces the products of the last run
            rec.outputs = {}
        log.info("module %d/%d %s: started", i, total, name)
        rec.status, rec.started_utc, rec.message = "running", utc_now(), None
        chain.save()
        cpu0, t0 = _child_cpu_s(), time.monotonic()
        try:
            _run_module(chain, name, rec)
        except Exception as exc:
            rec.status, rec.message = "failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            chain.save()
            raise
        rec.wall_s = round(time.monotonic() - t0, 3)
        # CPU time of this process's children: the steps under cwltool and Toil on one machine. Steps that run
        # elsewhere: their own usage lines in the module's logs tell it (the runner's share is not in it).
        rec.core_s = steps_cpu_s(run_dir / "logs" / name) if steps_run_elsewhere(chain.profile) \
            else round(_child_cpu_s() - cpu0, 3)
        rec.status = "done"
        chain.save()
        log.info("module %d/%d %s: done in %.1f s (%.1f core-s, %.1f MB written)", i, total, name, rec.wall_s,
                 rec.core_s or 0.0, rec.disk_bytes / 1e6)
    manifest.finished_utc = utc_now()
    chain.save()


def _ensure_state(chain: Chain) -> M.ChainState:
    """The chain state from the configuration and the products recorded so far."""
    if chain.state is not None:
        return chain.state
    cfg, manifest = chain.config, chain.manifest
    if cfg.simulate is not None:
        sim = manifest.done(M.SIMULATE)
        if sim is None:
            raise InputError("the simulated observations are not in this run folder yet; run from the start "
                             "(without --from)", setting="from")
        observations = observations_of_simulation(sim.outputs)
        simulation_dir = M.paths_of(sim.outputs.get("simulation"))
        skymodel = cfg.skymodel or Path(sim.outputs["sky_model"]["path"])
        calibrator_model = cfg.calibrator_skymodel or (simulation_dir[0] / "calibrator.skymodel"
                                                       if simulation_dir else None)
    else:
        observations = [M.Observation(o.name, o.target, o.calibrator) for o in cfg.observations]
        skymodel, calibrator_model = cfg.skymodel, cfg.calibrator_skymodel
    manifest.observations = [o.name for o in observations]
    if not manifest.data:
        manifest.data = check_observations(observations)
    state = M.ChainState(observations=observations, skymodel=skymodel, calibrator_skymodel=calibrator_model)
    state.delay_calibrator = cfg.delay_calibrator
    if state.delay_calibrator is None and skymodel is not None:
        centre = (manifest.data["phase_centre_ra_deg"], manifest.data["phase_centre_dec_deg"])
        state.delay_calibrator = choose_delay_calibrator(skymodel, centre)
    manifest.inputs = {"observations": [{"name": o.name, "target": str(o.target), "calibrator": str(o.calibrator)}
                                        for o in observations],
                       "skymodel": str(skymodel) if skymodel else None,
                       "calibrator_skymodel": str(calibrator_model) if calibrator_model else None,
                       "delay_calibrator": list(state.delay_calibrator) if state.delay_calibrator else None}
    chain.state = state
    for rec in manifest.modules:
        # The products, and the gate's verdict, of the modules that ran before (not of those skipped now).
        if rec.status == "done" and rec.name != M.SIMULATE and rec.name not in cfg.skip:
            _after_module(chain, rec.name)
    return state


def _after_module(chain: Chain, name: str) -> None:
    """Bookkeeping after a module ran or was skipped (the observations the gate stopped)."""
    if name == M.SIMULATE:
        return
    state = _ensure_state(chain)
    rec = chain.manifest.done(name)
    if rec is not None:
        state.outputs[name] = rec.outputs
    if name == "select_calibrators" and rec is not None:
        chain.manifest.data["n_directions"] = len(M.facet_names(Path(rec.outputs["regions"]["path"])))
    if name == "dd_refine" and rec is not None:
        failed = []
        for summary in (p for p in M.paths_of(rec.outputs.get("summaries", [])) if p.is_file()):
            record = json.loads(summary.read_text())
            if record.get("status") != "ok":
                facet = (record.get("calibrator") or {}).get("facet", summary.name.split(".")[0])
                failed.append(f"{facet}: {str(record.get('error', 'failed')).splitlines()[0]}")
        if failed:
            rec.message = "refinement failed, these facets keep their DD solutions: " + " | ".join(failed)
            if rec.message not in rec.warnings:
                rec.warnings.append(rec.message)
    if name == "calibratability" and rec is not None:
        verdicts = _gate_verdicts(rec.outputs)
        chain.manifest.gate = verdicts
        state.passed = [obs for obs, v in verdicts.items() if v.get("passed")]
        stopped = [f"{obs}: {'; '.join(v.get('reasons') or ['failed'])}" for obs, v in verdicts.items()
                   if not v.get("passed")]
        if stopped:
            rec.message = "stopped " + " | ".join(stopped)
            log.warning("calibratability gate stopped %s", rec.message)
        if not state.passed:
            raise InputError("the calibratability gate stopped every observation: " + " | ".join(stopped),
                             setting="calibratability")


def _gate_verdicts(outputs: dict[str, Any]) -> dict[str, Any]:
    files = [p for v in outputs.values() for p in M.paths_of(v) if p.suffix == ".json"
             and not p.name.endswith(".provenance.json")]
    if not files:
        raise InputError("the calibratability module wrote no verdict", setting="calibratability")
    data = json.loads(files[0].read_text())
    observations = data.get("observations", data)
    return {str(k): v for k, v in observations.items()} if isinstance(observations, dict) else \
        {str(v.get("name")): v for v in observations}


def _run_module(chain: Chain, name: str, rec) -> None:
    settings = chain.config.modules.get(name, {})
    rec.wall_s, rec.core_s, rec.disk_bytes, rec.warnings = 0.0, 0.0, 0, []
    if name == M.SIMULATE:
        workflow = _workflow(name)
        sim = chain.config.simulate
        job: dict[str, Any] = {"preset": sim.preset, "overrides": list(sim.overrides), "calibrator": True}
        if sim.seed is not None:
            job["seed"] = sim.seed
        job = complete_job(job, workflow, chain.profile, settings, name, chain.config.path.parent)
        outputs, inv, written = chain.run_workflow(name, workflow, job)
        _account(rec, inv, written, outputs)
        rec.outputs = outputs
        return
    state = _ensure_state(chain)
    mod = M.module(name)
    workflow = _workflow(name)
    if mod.per_observation:
        rec.outputs = {}
        jobs = {obs.name: complete_job(mod.build_obs(state, obs), workflow, chain.profile, settings, name,
                                       chain.config.path.parent) for obs in state.active}

        def one(obs: str) -> None:
            outputs, inv, written = chain.run_workflow(name, workflow, jobs[obs], sub=obs, folders=dict(mod.folders))
            with chain.lock:
                _account(rec, inv, written, outputs)
                rec.outputs[obs] = outputs
                chain.save()

        # With Toil every observation's workflow runs at the same time (on a cluster, side by side); cwltool runs
        # them one after the other on this machine.
        workers = len(jobs) if chain.profile.runner == "toil" else 1
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for future in [pool.submit(one, obs) for obs in jobs]:
                future.result()
    else:
        job = complete_job(mod.build(state), workflow, chain.profile, settings, name, chain.config.path.parent)
        outputs, inv, written = chain.run_workflow(name, workflow, job, folders=dict(mod.folders))
        _account(rec, inv, written, outputs)
        rec.outputs = outputs
    rec.status = "done"
    _after_module(chain, name)


def steps_cpu_s(log_dir: Path) -> float | None:
    """CPU seconds of the ``lofar-hires`` commands whose usage lines are in the logs under ``log_dir`` (a command
    found in several copies of its log counts once); None when no log has one."""
    from lofar_hires.provenance import parse_usage

    found: dict[str, float] = {}
    for path in sorted(log_dir.rglob("*.log")) if log_dir.is_dir() else []:
        if not path.is_file() or path.is_symlink():
            continue
        for usage in parse_usage(path.read_text(errors="replace")):
            found[usage.run] = usage.cpu_s
    return round(sum(found.values()), 3) if found else None


def _account(rec, inv: Invocation, written: int, outputs: dict[str, Any]) -> None:
    """Bytes written and warnings of one workflow run of a module (its wall and CPU time are taken around the
    whole module: the runs of a per-observation module may overlap)."""
    rec.disk_bytes += written
    rec.warnings.extend(warnings_of(outputs))


def product_locations(run_dir: Path) -> dict[str, str]:
    """Where the products of a run are (printed at the end of ``lofar-hires run``)."""
    return {folder: str(run_dir / folder) for folder in ("solutions", "images", "plots", "facets", "selfcal",
                                                         "logs", "report") if (run_dir / folder).exists()}

