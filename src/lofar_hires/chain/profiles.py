"""Cluster profiles: which CWL runner runs the chain, where, with how many cores, and how failures are retried.

A profile is a YAML file in ``configs/cluster/`` (``local``: cwltool on this machine, ``toil``: Toil on this
machine, ``slurm``: Toil submitting SLURM jobs) or a file of the user's; ``configs/cluster/local.yaml`` holds
the default of every setting and the other profiles list only what they change.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lofar_hires.config_schema import from_mapping, load_yaml, merge_mappings, option, shipped_defaults, shipped_path
from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

RUNNERS = ("cwltool", "toil")
BATCH_SYSTEMS = ("single_machine", "slurm")
CONTAINERS = ("none", "docker", "podman", "singularity")
CLEAN_WORK_DIR = ("always", "onSuccess", "onError", "never")


@dataclass(frozen=True)
@shipped_defaults("cluster/local.yaml")
class ClusterProfile:
    runner: str = option(help="the CWL runner", choices=list(RUNNERS))
    batch_system: str = option(help="where Toil runs the steps", choices=list(BATCH_SYSTEMS))
    partition: str = option(help="SLURM partition of the jobs (empty: the cluster's default)")
    container: str = option(help="container runtime of the steps (none: the tools on PATH)", choices=list(CONTAINERS))
    retry_count: int = option(help="further tries of a module whose failed steps all ended with exit status 3 (a tool "
                              "failure); Toil resumes it from its job store", min=0, max=10)
    state_polling_wait_s: int = option(help="Toil's wait between polls of the batch system (whole seconds)", unit="s",
                                       min=1)
    max_local_jobs: int = option(help="Toil's bookkeeping jobs run at once on the leader's node", min=1)
    cores: int = option(help="cores of every step", min=1)
    ram_mb: int = option(help="memory of every step, at least", unit="MB", min=100)
    ram_mb_per_gb_data: float = option(help="and this much memory per GB of the largest input dataset", unit="MB/GB",
                                       min=0.0)
    job_store_dir: str = option(help="folder of the Toil job stores, one per module ({run_dir}: the run folder)")
    work_dir: str = option(help="Toil's work folder ({run_dir}: the run folder)")
    batch_logs_dir: str = option(help="folder of the batch system's job logs ({run_dir}: the run folder)")
    clean_work_dir: str = option(help="when Toil deletes a job's work folder", choices=list(CLEAN_WORK_DIR))
    disable_caching: bool = option(help="switch Toil's file cache off (needed where file locks are unreliable)")
    bypass_file_store: bool = option(help="steps read and write the shared disk directly instead of Toil's file store")
    disable_progress: bool = option(help="no Toil progress bar")
    slurm_args: list[str] = option(help="extra sbatch options of every job")

    def folder(self, template: str, run_dir: Path) -> Path:
        """A folder setting with ``{run_dir}`` filled in (``~`` and environment variables expanded)."""
        try:
            text = template.format(run_dir=run_dir)
        except (KeyError, IndexError, ValueError) as exc:
            raise InputError(f"cannot fill in the folder {template!r}: only {{run_dir}} may be used ({exc})",
                             setting="job_store_dir") from None
        return Path(os.path.expandvars(os.path.expanduser(text))).absolute()

    @property
    def label(self) -> str:
        """``cwltool``, ``toil-single-machine`` or ``toil-slurm`` (the runner named in run.json)."""
        return "cwltool" if self.runner == "cwltool" else f"toil-{self.batch_system.replace('_', '-')}"


def profile_names() -> list[str]:
    """The shipped profiles."""
    return sorted(p.stem for p in Path(shipped_path("cluster")).glob("*.yaml"))


def load_profile(name_or_path: str | Path, overrides: dict | None = None) -> ClusterProfile:
    """A shipped profile by name (``local``, ``podman``, ``toil``, ``slurm``) or a YAML file, over the defaults of
    ``local``."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or os.sep in text:
        if not path.is_file():
            raise InputError(f"cluster profile {path} does not exist", setting="cluster")
    elif text in profile_names():
        path = Path(shipped_path(f"cluster/{text}.yaml"))
    else:
        raise InputError(f"unknown cluster profile {text!r}; shipped profiles: {', '.join(profile_names())} "
                         "(or give a YAML file)", setting="cluster")
    data = merge_mappings(load_yaml(path), overrides or {})
    profile = from_mapping(ClusterProfile, data)
    if profile.runner == "cwltool" and profile.batch_system != "single_machine":
        raise InputError(f"cluster profile {path}: cwltool runs on one machine only; use runner: toil for "
                         f"batch_system: {profile.batch_system}", setting="runner")
    return profile


def step_ram_mb(profile: ClusterProfile, largest_input_bytes: int) -> int:
    """Memory of a step: the profile's minimum, or its per-GB rate times the largest input dataset."""
    return int(max(profile.ram_mb, profile.ram_mb_per_gb_data * largest_input_bytes / 1e9))


def check_partition(profile: ClusterProfile, env: dict[str, str] | None = None) -> None:
    """Refuse a SLURM profile whose partition the cluster does not have (asked with ``sinfo`` before anything is
    submitted)."""
    if profile.batch_system != "slurm":
        return
    sinfo = shutil.which("sinfo", path=(env or os.environ).get("PATH"))
    if sinfo is None:
        raise InputError("the cluster profile submits to SLURM but sinfo is not on PATH (is this a SLURM login node?)",
                         setting="batch_system")
    proc = subprocess.run([sinfo, "-h", "-o", "%P"], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"sinfo cannot reach the SLURM controller: {reason}", setting="batch_system")
    partitions = [p.rstrip("*") for p in proc.stdout.split()]
    if profile.partition and profile.partition not in partitions:
        raise InputError(f"SLURM partition {profile.partition!r} does not exist; sinfo lists "
                         f"{', '.join(partitions) or 'none'}", setting="partition")


def runner_command(profile: ClusterProfile, run_dir: Path, module: str, outdir: Path, restart: bool,
                   step_logs: Path) -> list[str]:
    """The command line of the CWL runner for one module workflow (without the workflow and the job); the steps'
    stdout and stderr files are copied to ``step_logs``.

    Toil's own retries stay off (``--retryCount 0``): Toil 9 tries a failed job again whatever its exit status,
    also a step's exit status 2 (bad input), which no retry can fix; :func:`lofar_hires.chain.run` retries a
    module only when its failed steps ended with exit status 3, and Toil then resumes from the job store."""
    bindir = Path(sys.executable).parent
    container = {"none": ["--no-container"], "docker": [], "podman": ["--podman"],
                 "singularity": ["--singularity"]}[profile.container]
    if profile.runner == "cwltool":
        return [str(bindir / "cwltool"), *container, "--outdir", str(outdir), "--log-dir", str(step_logs)]
    command = [str(bindir / "toil-cwl-runner"), *container, "--batchSystem", profile.batch_system,
               "--jobStore", str(job_store(profile, run_dir, module)),
               "--workDir", str(profile.folder(profile.work_dir, run_dir)),
               "--batchLogsDir", str(profile.folder(profile.batch_logs_dir, run_dir) / module),
               "--outdir", str(outdir), "--log-dir", str(step_logs), "--retryCount", "0",
               "--statePollingWait", str(profile.state_polling_wait_s),
               "--maxLocalJobs", str(profile.max_local_jobs), "--cleanWorkDir", profile.clean_work_dir,
               "--logInfo"]
    if profile.container == "none":
        command.append("--no-prepull")
    if profile.disable_caching:
        command.append("--disableCaching")
    if profile.bypass_file_store:
        # Steps then leave their outputs where they wrote them: in the run's work folder on the shared disk, where
        # they outlive a killed leader, so that --restart finds the outputs of the steps that had finished.
        outputs = profile.folder(profile.work_dir, run_dir) / "outputs" / module
        outputs.mkdir(parents=True, exist_ok=True)
        command += ["--bypass-file-store", "--tmp-outdir-prefix", f"{outputs}{os.sep}"]
    if profile.disable_progress:
        command.append("--disableProgress")
    if restart:
        command.append("--restart")
    return command


def job_store(profile: ClusterProfile, run_dir: Path, module: str) -> Path:
    """The Toil job store of one module."""
    return profile.folder(profile.job_store_dir, run_dir) / module


def runner_environment(profile: ClusterProfile, base: dict[str, str] | None = None) -> dict[str, str]:
    """The runner's environment: this installation on PATH unless a ``lofar-hires`` is there already (the steps
    run ``lofar-hires``), and the SLURM options of every job."""
    env = dict(os.environ if base is None else base)
    if shutil.which("lofar-hires", path=env.get("PATH", "")) is None:
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if profile.batch_system == "slurm":
        args = ["--export=ALL", *profile.slurm_args]
        if profile.partition:
            args.append(f"--partition={profile.partition}")
        env["TOIL_SLURM_ARGS"] = " ".join(args)
    return env
