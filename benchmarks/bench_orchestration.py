#!/usr/bin/env python3
"""Orchestration overhead of ``lofar-hires run`` with cwltool, Toil on one machine and Toil on SLURM.

Runs the same job (by default the chain's first modules on the tiny simulated field, ``--to di_target``) once per
runner (and per ``--variant``) and prints, per runner:

* ``wall s``: the whole ``lofar-hires run`` command;
* ``busy s``: the time inside the tools, the union over all steps of each step's busy interval, from the first to
  the last timestamp of the step's own stderr log (``logs/<module>/<steps or observation>/<step>/*.stderr.log``).
  The timestamps have whole seconds, so each interval is good to about 1 s (the difference of two truncated times
  is an unbiased estimate of the duration); the tool's interpreter start before its first log line (about 0.3 s a
  step) counts as overhead;
* ``overhead s`` = wall - busy, its fraction of the wall time, and the overhead above cwltool's in % of the wall
  time; core-seconds are the sum of the modules' ``core_s`` in ``run.json`` (CPU time of the runner and all its
  children);
* the same per module (module wall time from ``run.json``).

For the Toil runs the runner logs (lines ``[YYYY-mm-ddTHH:MM:SS+0000] ...``) tell where the overhead goes: start-up
(leader start, the runner log's creation, to the first job issued; of it the CWL loading and the import of the
input files), per CWL step the time from its issue to the step's first log line and from its last log line to
Toil's "CWL step complete" message, the leader's gaps between a completion and the next issue, the idle tail
(last step complete to "Finished toil run") and the export of the outputs. On SLURM the jobs' submit, start and end
times (``scontrol show job``, polled during the run) give the queue wait.

The SLURM runs start a private one-node cluster with tools/slurm_local.sh (root and slurm-wlm, munge needed) and
always stop it.

``--mode whole`` times the whole chain as one workflow instead (``workflows/lofar_hires.cwl``, one runner
invocation, its job from ``lofar_hires.chain.whole.whole_chain_job``, Toil with its file store), on observations
simulated once beforehand (not timed); ``--mode both`` times both, so that with ``--to final_imaging`` the
module-by-module chain (whose rows include the simulate module) and the one workflow run the same modules. Run on
demand::

    python benchmarks/bench_orchestration.py --to simulate --json overhead.json
    python benchmarks/bench_orchestration.py --runners toil --variant toil:bypass_file_store=false
    python benchmarks/bench_orchestration.py --config configs/run/tiny.yaml --to final_imaging --mode both \
        --runners cwltool toil
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SLURM_LOCAL = REPO / "tools" / "slurm_local.sh"
VENV_BIN = Path(sys.executable).parent

#: The profile of each runner (over the defaults of configs/cluster/local.yaml). Toil 9's --restart needs the file
#: store on SLURM, so the SLURM profile keeps it.
RUNNERS = {
    "cwltool": {"runner": "cwltool"},
    "toil": {"runner": "toil"},
    "slurm": {"runner": "toil", "batch_system": "slurm", "bypass_file_store": False},
}
DEFAULT_CONFIG = {"simulate": {"preset": "tiny", "seed": 5}}

LH_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\b")
TOIL_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4})\]")
ISSUED = re.compile(r"Issued job 'CWLJob' (?P<name>\S+) .*batch system ID: (?P<id>\d+)")
COMPLETE = re.compile(r"Got message from job at time (?P<t>\d\d-\d\d-\d{4} \d\d:\d\d:\d\d): CWL step complete: "
                      r"(?P<name>\S+)")


# ------------------------------------------------------------------------------------------------ log parsing


def lh_epoch(stamp: str) -> float:
    """A lofar-hires log time (local time, whole seconds) as a POSIX time."""
    return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))


def step_interval(path: Path) -> tuple[float, float] | None:
    """First and last timestamp of a step's stderr log (None without timestamps)."""
    stamps = [m.group(1) for m in map(LH_TIME.match, path.read_text(errors="replace").splitlines()) if m]
    return (lh_epoch(stamps[0]), lh_epoch(stamps[-1])) if stamps else None


def union_s(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of intervals."""
    total, end = 0.0, -float("inf")
    for lo, hi in sorted(intervals):
        if hi <= end:
            continue
        total += hi - max(lo, end)
        end = hi
    return total


def step_logs(run_dir: Path, module: str) -> dict[str, tuple[float, float]]:
    """Busy interval of every step of a module by its log folder (``<sub>/<step folder>``): the runners copy the
    steps' logs to ``logs/<module>/<steps or observation>/<step>/`` (the copies in ``logs/<module>/`` are the
    module's products and are left out)."""
    found = {}
    for path in sorted((run_dir / "logs" / module).glob("*/*/*.stderr.log")):
        interval = step_interval(path)
        if interval is not None:
            key = f"{path.parent.parent.name}/{path.parent.name}"
            lo, hi = found.get(key, interval)
            found[key] = (min(lo, interval[0]), max(hi, interval[1]))
    return found


def birth_time(path: Path) -> float | None:
    """Creation time of a file (statx through GNU stat; None where the file system does not keep it)."""
    proc = subprocess.run(["stat", "-c", "%.9W", str(path)], capture_output=True, text=True, check=False)
    try:
        value = float(proc.stdout.strip())
    except ValueError:
        return None
    return value if value > 0 else None


def toil_epoch(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()


@dataclass
class ToilBreakdown:
    """Where one Toil leader's time went (seconds; sums over the runner invocations of a run)."""

    invocations: int = 0
    jobs: int = 0
    leader_s: float = 0.0  # runner log creation to its last write
    startup_s: float = 0.0  # leader start to the first CWL step issued
    python_start_s: float = 0.0  # of it: leader start to Toil's first log line (interpreter and imports)
    cwl_load_s: float = 0.0  # of it: first line to "Importing tool-associated files" (CWL loading, validation)
    import_s: float = 0.0  # of it: "Importing tool-associated files" to "Starting workflow"
    issue_to_step_start_s: float = 0.0  # CWL step issued to the step's first log line (worker, staging, CWL eval)
    step_end_to_complete_s: float = 0.0  # step's last log line to "CWL step complete" (output collection)
    complete_to_next_issue_s: float = 0.0  # leader's turn-around between steps
    tail_s: float = 0.0  # last "CWL step complete" to "Finished toil run" (graph clean-up, shutdown)
    export_s: float = 0.0  # "Finished toil run" to "CWL run complete!" (collecting and saving outputs)
    cleanup_s: float = 0.0  # "CWL run complete!" to the log's last write (job store deletion, exit)
    per_job: list[dict] = field(default_factory=list)


def toil_breakdown(log: Path, steps: dict[str, tuple[float, float]], sub: str, acc: ToilBreakdown) -> None:
    """Add one Toil runner log's figures to ``acc``; ``steps`` are the module's step intervals (keys
    ``<sub>/<Toil job name>``)."""
    events: list[tuple[float, str]] = []
    for line in log.read_text(errors="replace").splitlines():
        m = TOIL_TIME.match(line)
        if m:
            events.append((toil_epoch(m.group(1)), line))
    if not events:
        return
    start = birth_time(log) or events[0][0]
    end = max(log.stat().st_mtime, events[-1][0])

    def first(text: str) -> float | None:
        return next((t for t, line in events if text in line), None)

    issued = [(t, m.group("name")) for t, line in events if (m := ISSUED.search(line))]
    complete = {}
    for _, line in events:
        m = COMPLETE.search(line)
        if m:
            complete[m.group("name")] = dt.datetime.strptime(m.group("t") + "+0000", "%m-%d-%Y %H:%M:%S%z").timestamp()
    acc.invocations += 1
    acc.jobs += len(issued)
    acc.leader_s += end - start
    acc.python_start_s += events[0][0] - start
    t_import, t_started = first("Importing tool-associated files"), first("Starting workflow")
    if t_import is not None:
        acc.cwl_load_s += t_import - events[0][0]
        if t_started is not None:
            acc.import_s += t_started - t_import
    if issued:
        acc.startup_s += issued[0][0] - start
    for t_issue, name in issued:
        interval = steps.get(f"{sub}/{name}")
        t_done = complete.get(name)
        job = {"job": name, "issued": t_issue, "step": interval, "complete": t_done}
        if interval is not None:
            acc.issue_to_step_start_s += interval[0] - t_issue
            if t_done is not None:
                acc.step_end_to_complete_s += t_done - interval[1]
        later = [t for t, _ in issued if t > (t_done or float("inf"))]
        if t_done is not None and later:
            acc.complete_to_next_issue_s += min(later) - t_done
        acc.per_job.append(job)
    finished, done = first("Finished toil run"), first("CWL run complete!")
    if finished is not None and complete:
        acc.tail_s += finished - max(complete.values())
    if finished is not None and done is not None:
        acc.export_s += done - finished
    if done is not None:
        acc.cleanup_s += end - done


# ------------------------------------------------------------------------------------------------ SLURM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalSlurm:
    """The private one-node cluster of tools/slurm_local.sh in ``root`` (started in ``__enter__``, always stopped)."""

    def __init__(self, root: Path) -> None:
        self.root, self.conf = root, root / "etc" / "slurm.conf"
        self.env = {**os.environ, "SLURM_LOCAL_CTLD_PORT": str(_free_port()),
                    "SLURM_LOCAL_SLURMD_PORT": str(_free_port())}

    def __enter__(self) -> LocalSlurm:
        if os.geteuid() != 0 or shutil.which("slurmctld", path="/usr/sbin:/sbin:" + os.environ["PATH"]) is None:
            raise SystemExit("the slurm runner needs root and slurm-wlm/munge (a private cluster is started)")
        proc = subprocess.run(["bash", str(SLURM_LOCAL), "start", str(self.root)], env=self.env, capture_output=True,
                              text=True, timeout=180, check=False)
        if proc.returncode != 0:
            self.__exit__()
            raise SystemExit(f"the local SLURM cluster did not start: {proc.stderr.strip()[-500:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["bash", str(SLURM_LOCAL), "stop", str(self.root)], env=self.env, capture_output=True,
                       text=True, timeout=180, check=False)

    def client_env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}


class JobWatcher:
    """Polls ``scontrol show job`` during a run (finished jobs vanish after MinJobAge) and keeps every job's
    submit, start and end time."""

    def __init__(self, env: dict[str, str], every_s: float = 5.0) -> None:
        self.env, self.every_s, self.jobs = env, every_s, {}
        self.since = time.time() - 1.0  # jobs of earlier runs on the same cluster are left out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _poll(self) -> None:
        out = subprocess.run(["scontrol", "-o", "show", "job"], env=self.env, capture_output=True, text=True,
                             check=False).stdout
        for line in out.splitlines():
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if "JobId" in fields:
                self.jobs[fields["JobId"]] = {k: fields.get(k) for k in
                                              ("JobName", "JobState", "SubmitTime", "StartTime", "EndTime")}

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._poll()

    def __enter__(self) -> JobWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def summary(self) -> dict:
        def t(text: str | None) -> float | None:
            try:
                return time.mktime(time.strptime(text or "", "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                return None

        waits, runs = [], []
        for job in self.jobs.values():
            sub, start, end = t(job["SubmitTime"]), t(job["StartTime"]), t(job["EndTime"])
            if sub is None or sub < self.since:
                continue
            if sub is not None and start is not None:
                waits.append(start - sub)
            if start is not None and end is not None and job["JobState"] == "COMPLETED":
                runs.append(end - start)
        return {"jobs": len(waits), "queue_wait_s": sum(waits), "mean_queue_wait_s": _mean(waits),
                "job_run_s": sum(runs), "mean_job_run_s": _mean(runs)}


def _sum_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(values)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ------------------------------------------------------------------------------------------------ runs


@dataclass
class Result:
    label: str
    runner: str
    profile: dict
    repeat: int
    wall_s: float
    busy_s: float
    core_s: float | None  # None on SLURM: the jobs are no children of the runner
    modules: list[dict]
    toil: dict | None = None
    slurm_jobs: dict | None = None

    @property
    def overhead_s(self) -> float:
        return self.wall_s - self.busy_s


def run_once(label: str, runner: str, profile: dict, config: Path, last: str, folder: Path, repeat: int,
             cluster: LocalSlurm | None) -> Result:
    folder.mkdir(parents=True)
    profile_path = folder / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(profile))
    run_dir = folder / "run"
    env = cluster.client_env() if cluster else dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(folder / "tmp")
    (folder / "tmp").mkdir()
    argv = [str(VENV_BIN / "lofar-hires"), "run", str(config), "-o", str(run_dir), "--cluster", str(profile_path),
            "--to", last]
    watcher = JobWatcher(cluster.client_env()) if cluster else None
    t0 = time.monotonic()
    if watcher:
        with watcher:
            proc = subprocess.run(argv, env=env, cwd=folder, capture_output=True, text=True, check=False)
    else:
        proc = subprocess.run(argv, env=env, cwd=folder, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{label}: lofar-hires run failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    manifest = json.loads((run_dir / "run.json").read_text())
    all_steps: list[tuple[float, float]] = []
    modules = []
    toil = ToilBreakdown() if profile.get("runner") == "toil" else None
    for rec in manifest["modules"]:
        steps = step_logs(run_dir, rec["name"])
        all_steps += steps.values()
        busy = union_s(list(steps.values()))
        modules.append({"module": rec["name"], "wall_s": rec["wall_s"], "busy_s": busy, "core_s": rec["core_s"],
                        "steps": len(steps), "overhead_s": rec["wall_s"] - busy,
                        "overhead_frac": (rec["wall_s"] - busy) / rec["wall_s"]})
        if toil is not None:
            for log in sorted((run_dir / "logs" / rec["name"]).glob("*.runner.log")):
                tag = log.name[: -len(".runner.log")]
                sub = tag.split(".", 1)[1] if "." in tag else "steps"
                toil_breakdown(log, steps, sub, toil)
    return Result(label=label, runner=runner, profile=profile, repeat=repeat, wall_s=wall,
                  busy_s=union_s(all_steps), core_s=_sum_or_none([m["core_s"] for m in manifest["modules"]]),
                  modules=modules, toil=asdict(toil) if toil else None,
                  slurm_jobs=watcher.summary() if watcher else None)


def simulate_once(config: Path, folder: Path) -> Path:
    """The observations of ``config`` simulated once (``lofar-hires run --to simulate`` with cwltool), for the runs of
    the whole workflow; the run folder."""
    run_dir = folder / "simulation"
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(VENV_BIN / "lofar-hires"), "run", str(config), "-o", str(run_dir), "--cluster", "local",
                           "--to", "simulate"], env=env, cwd=folder, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the simulation of {config} failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    return run_dir


def whole_job(config_path: Path, profile_path: Path, sim_dir: Path) -> dict:
    """The job of the whole workflow for the observations simulated in ``sim_dir``, as ``lofar-hires run`` has
    them (the same chain state)."""
    from lofar_hires.chain import run as chain_run
    from lofar_hires.chain.config import load_run_config
    from lofar_hires.chain.profiles import load_profile
    from lofar_hires.chain.state import read_manifest
    from lofar_hires.chain.whole import whole_chain_job

    config, profile = load_run_config(config_path), load_profile(str(profile_path))
    chain = chain_run.Chain(config, profile, sim_dir, read_manifest(sim_dir))
    state = chain_run._ensure_state(chain)
    return whole_chain_job(config, profile, state.observations, state.skymodel, state.calibrator_skymodel,
                           state.delay_calibrator)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_whole(label: str, runner: str, profile: dict, config: Path, sim_dir: Path, folder: Path, repeat: int,
              cluster: LocalSlurm | None) -> Result:
    """One run of ``workflows/lofar_hires.cwl`` with the runner command line of the chain's profile (its step logs
    in ``logs/whole/steps/``, as a module's are)."""
    from lofar_hires.chain.profiles import job_store, load_profile, runner_command, runner_environment
    from lofar_hires.chain.whole import whole_workflow

    folder.mkdir(parents=True)
    profile_path = folder / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(profile))
    job_file = folder / "whole.json"
    job_file.write_text(json.dumps(whole_job(config, profile_path, sim_dir), indent=1) + "\n")
    chain_profile = load_profile(str(profile_path))
    outdir, step_dir = folder / "out", folder / "logs" / "whole" / "steps"
    step_dir.mkdir(parents=True)
    store, work = job_store(chain_profile, folder, "whole"), chain_profile.folder(chain_profile.work_dir, folder)
    for made in (store.parent, work):
        made.mkdir(parents=True, exist_ok=True)
    command = [*runner_command(chain_profile, folder, "whole", outdir, False, step_dir), str(whole_workflow()),
               str(job_file)]
    env = runner_environment(chain_profile, cluster.client_env() if cluster else dict(os.environ))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(folder / "tmp")
    (folder / "tmp").mkdir()
    runner_log = folder / "logs" / "whole" / "whole.runner.log"
    watcher = JobWatcher(cluster.client_env()) if cluster else None
    cpu0, t0 = _children_cpu_s(), time.monotonic()
    with runner_log.open("w") as err, (folder / "outputs.json").open("w") as out:
        if watcher:
            with watcher:
                proc = subprocess.run(command, env=env, cwd=folder, stdout=out, stderr=err, check=False)
        else:
            proc = subprocess.run(command, env=env, cwd=folder, stdout=out, stderr=err, check=False)
    wall, core = time.monotonic() - t0, _children_cpu_s() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{label}: {Path(command[0]).name} failed (exit {proc.returncode}); log {runner_log}")
    steps = step_logs(folder, "whole")
    busy = union_s(list(steps.values()))
    toil = None
    if profile.get("runner") == "toil":
        toil = ToilBreakdown()
        toil_breakdown(runner_log, steps, "steps", toil)
    core_s = None if cluster else core
    module = {"module": "whole", "wall_s": wall, "busy_s": busy, "core_s": core_s, "steps": len(steps),
              "overhead_s": wall - busy, "overhead_frac": (wall - busy) / wall}
    return Result(label=label, runner=runner, profile=profile, repeat=repeat, wall_s=wall, busy_s=busy, core_s=core_s,
                  modules=[module], toil=asdict(toil) if toil else None,
                  slurm_jobs=watcher.summary() if watcher else None)


def parse_variant(text: str) -> tuple[str, dict]:
    """``RUNNER:key=value,key=value`` (values as YAML) -> (runner, profile changes)."""
    runner, _, changes = text.partition(":")
    if runner not in RUNNERS or not changes:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected RUNNER:key=value[,key=value] with RUNNER "
                                         f"one of {', '.join(RUNNERS)}")
    out = {}
    for item in changes.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--variant {text!r}: {item!r} is no key=value")
        out[key.strip()] = yaml.safe_load(value)
    return runner, out


# ------------------------------------------------------------------------------------------------ report


def mean_results(results: list[Result]) -> list[dict]:
    """One row per label: the means over the repeats (and the cwltool reference for the last column)."""
    rows = []
    for label in dict.fromkeys(r.label for r in results):
        group = [r for r in results if r.label == label]
        n = len(group)
        rows.append({"runner": label, "repeats": n, "wall_s": sum(r.wall_s for r in group) / n,
                     "busy_s": sum(r.busy_s for r in group) / n, "overhead_s": sum(r.overhead_s for r in group) / n,
                     "core_s": _mean([r.core_s for r in group if r.core_s is not None])})
    for row in rows:
        # The whole workflow's runs compare with cwltool's run of the whole workflow.
        reference = "cwltool whole" if row["runner"].endswith(" whole") else "cwltool"
        ref = next((r for r in rows if r["runner"] == reference), None)
        row["overhead_pct"] = 100 * row["overhead_s"] / row["wall_s"]
        row["above_cwltool_pct"] = (100 * (row["overhead_s"] - ref["overhead_s"]) / row["wall_s"]
                                    if ref else None)
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def print_report(results: list[Result], rows: list[dict]) -> None:
    print(f"\n{'runner':52s} {'n':>2s} {'wall s':>8s} {'busy s':>8s} {'overhead s':>10s} {'overhead %':>10s} "
          f"{'above cwltool %':>15s} {'core s':>8s}")
    for r in rows:
        above = "" if r["above_cwltool_pct"] is None else f"{r['above_cwltool_pct']:15.1f}"
        print(f"{r['runner']:52s} {r['repeats']:2d} {r['wall_s']:8.1f} {r['busy_s']:8.1f} {r['overhead_s']:10.1f} "
              f"{r['overhead_pct']:10.1f} {above:>15s} {_fmt(r['core_s']):>8s}")
    print("\nper module (first repeat): wall s / busy s / overhead %  (steps)")
    for res in {r.label: r for r in reversed(results)}.values():
        cells = [f"{m['module']} {m['wall_s']:.1f}/{m['busy_s']:.0f}/{100 * m['overhead_frac']:.0f}% ({m['steps']})"
                 for m in res.modules]
        print(f"  {res.label:50s} " + "; ".join(cells))
    toil_runs = [r for r in results if r.toil]
    if toil_runs:
        print("\nToil leader breakdown (s, first repeat; sums over the runner invocations):")
        keys = ["invocations", "jobs", "leader_s", "startup_s", "python_start_s", "cwl_load_s", "import_s",
                "issue_to_step_start_s", "step_end_to_complete_s", "complete_to_next_issue_s", "tail_s", "export_s",
                "cleanup_s"]
        labels = list(dict.fromkeys(r.label for r in toil_runs))
        firsts = [next(r for r in toil_runs if r.label == label) for label in labels]
        print(f"  {'':26s}" + "".join(f"{label[:24]:>26s}" for label in labels))
        for key in keys:
            print(f"  {key:26s}" + "".join(f"{r.toil[key]:26.1f}" if isinstance(r.toil[key], float)
                                           else f"{r.toil[key]:26d}" for r in firsts))
        for r in firsts:
            if r.slurm_jobs:
                s = r.slurm_jobs
                print(f"  SLURM ({r.label}): {s['jobs']} jobs, queue wait {s['queue_wait_s']:.0f} s in total "
                      f"(mean {s['mean_queue_wait_s'] or 0:.1f} s), job run time {s['job_run_s']:.0f} s "
                      f"(mean {s['mean_job_run_s'] or 0:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", nargs="+", choices=list(RUNNERS), default=list(RUNNERS))
    parser.add_argument("--variant", dest="variants", action="append", type=parse_variant, default=[],
                        metavar="RUNNER:KEY=VALUE[,KEY=VALUE]",
                        help="also run RUNNER with these profile settings changed (repeatable), "
                             "e.g. slurm:state_polling_wait_s=5 or toil:bypass_file_store=false")
    parser.add_argument("--to", dest="last", default="di_target", help="last module (default di_target)")
    parser.add_argument("--config", type=Path, default=None,
                        help="run configuration (default: the tiny simulated field, seed 5)")
    parser.add_argument("--mode", choices=["modules", "whole", "both"], default="modules",
                        help="time lofar-hires run module by module (default), the whole chain as one workflow "
                             "(workflows/lofar_hires.cwl, on observations simulated once), or both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the runs in this folder")
    parser.add_argument("--json", type=Path, default=None, help="write the table and the details here")
    args = parser.parse_args()

    jobs = [(name, name, dict(RUNNERS[name])) for name in args.runners]
    for runner, changes in args.variants:
        label = f"{runner} " + ",".join(f"{k}={v}" for k, v in changes.items())
        jobs.append((label, runner, {**RUNNERS[runner], **changes}))
    # (label, runner, profile, whole workflow?)
    runs = [(label, runner, profile, False) for label, runner, profile in jobs] if args.mode != "whole" else []
    if args.mode != "modules":
        # Toil with --bypass-file-store exports the whole workflow's renamed products of equal source names onto one
        # another (Toil 9.6): its runs use the file store.
        runs += [(f"{label} whole", runner, {**profile, "bypass_file_store": False} if profile["runner"] == "toil"
                  else profile, True) for label, runner, profile in jobs]
    workdir = Path(tempfile.mkdtemp(prefix="orchestration-", dir=args.workdir)) if args.workdir else \
        Path(tempfile.mkdtemp(prefix="orchestration-"))
    config = args.config.resolve() if args.config else workdir / "run.yaml"
    if args.config is None:
        config.write_text(yaml.safe_dump(DEFAULT_CONFIG))
    results: list[Result] = []
    cluster = None
    sim_dir = simulate_once(config, workdir) if args.mode != "modules" else None
    try:
        if any(runner == "slurm" for _, runner, _, _ in runs):
            cluster = LocalSlurm(Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))).__enter__()
        for rep in range(args.repeat):
            for i, (label, runner, profile, whole) in enumerate(runs):
                folder = workdir / f"{rep}-{i}-{runner}{'-whole' if whole else ''}"
                print(f"running {label} (repeat {rep + 1}/{args.repeat}) in {folder}", flush=True)
                slurm = cluster if runner == "slurm" else None
                res = run_whole(label, runner, profile, config, sim_dir, folder, rep, slurm) if whole else \
                    run_once(label, runner, profile, config, args.last, folder, rep, slurm)
                print(f"  wall {res.wall_s:.1f} s, busy {res.busy_s:.1f} s", flush=True)
                results.append(res)
    finally:
        if cluster is not None:
            cluster.__exit__()
    rows = mean_results(results)
    print(f"\nmachine: {os.cpu_count()} cores; job: --to {args.last} of {config}"
          + ("; whole: workflows/lofar_hires.cwl on the observations simulated once" if args.mode != "modules" else ""))
    print_report(results, rows)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"cores": os.cpu_count(), "to": args.last, "mode": args.mode, "table": rows,
                                         "runs": [asdict(r) for r in results]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
