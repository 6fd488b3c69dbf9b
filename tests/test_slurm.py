"""workflows/simulate.cwl through toil on a private single-node SLURM cluster.

The module fixture starts munged, slurmctld and slurmd with tools/slurm_local.sh in a
temporary directory (on free ports), and always stops them again; the test is skipped
with the reason when SLURM is not installed, not running as root, or the cluster does
not come up.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

# The output checks are shared with the cwltool/toil tests (tests/ is on sys.path under pytest).
from test_cwl import check_workflow_outputs, run_runner

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SLURM_LOCAL = REPO / "tools" / "slurm_local.sh"
SIMULATE_WORKFLOW = REPO / "workflows" / "simulate.cwl"
TINY_JOB = REPO / "workflows" / "jobs" / "simulate_tiny.yml"
VENV_BIN = Path(sys.executable).parent

#: Daemons started by tools/slurm_local.sh, by pid file name (under DIR/run).
DAEMONS = {"munged.pid": "munged", "slurmctld.pid": "slurmctld", "slurmd.pid": "slurmd"}


@dataclass(frozen=True)
class LocalCluster:
    root: Path
    conf: Path
    pids: dict[str, int]  # daemon name -> pid
    cpus: int  # CPUs of the single node

    def env(self) -> dict[str, str]:
        """Environment for SLURM clients and toil: this cluster, and the venv first on PATH."""
        env = dict(os.environ)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["SLURM_CONF"] = str(self.conf)
        return env


def _which(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int, name: str) -> bool:
    """True when ``pid`` is a running (not zombie) process called ``name``."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "")
    return comm == name and state != "Z"


def _slurm_local(command: str, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SLURM_LOCAL), command, str(root)], env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory) -> Iterator[LocalCluster]:
    missing = [p for p in ("slurmctld", "slurmd", "munged") if _which(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        pytest.skip("a local SLURM cluster needs root (SlurmUser=root)")

    root = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ)
    env["SLURM_LOCAL_CTLD_PORT"] = str(_free_port())
    env["SLURM_LOCAL_SLURMD_PORT"] = str(_free_port())
    started = _slurm_local("start", root, env)

    # Whatever happened, note every daemon that did start, so teardown can check it.
    pids = {}
    for pidfile, name in DAEMONS.items():
        path = root / "run" / pidfile
        if path.is_file() and path.read_text().strip().isdigit():
            pids[name] = int(path.read_text())
    conf = root / "etc" / "slurm.conf"
    try:
        if started.returncode != 0:
            reason = (started.stderr.strip() or started.stdout.strip()).splitlines()[-1:]
            pytest.skip(f"the local SLURM cluster did not start: {' '.join(reason)}")
        cpus = subprocess.run(["sinfo", "-h", "-n", "localhost", "-o", "%c"],
                              env={**os.environ, "SLURM_CONF": str(conf)},
                              capture_output=True, text=True, check=True).stdout.strip()
        yield LocalCluster(root=root, conf=conf, pids=pids, cpus=int(cpus))
    finally:
        stopped = _slurm_local("stop", root, env)
        survivors = {name: pid for name, pid in pids.items() if _alive(pid, name)}
        assert stopped.returncode == 0, stopped.stderr
        assert not survivors, f"daemons still running after stop: {survivors}"


def test_simulate_workflow_toil_slurm(slurm_cluster: LocalCluster, tmp_path: Path) -> None:
    # A job asking for more cores than any node has stays pending for ever
    # (Reason=PartitionConfig) and toil keeps waiting: skip instead.
    needed = yaml.safe_load(TINY_JOB.read_text()).get("image_cores", 2)
    if slurm_cluster.cpus < needed:
        pytest.skip(f"the tiny job images with {needed} cores; this node has {slurm_cluster.cpus}")
    env = slurm_cluster.env()
    # Jobs must see the venv's PATH (toil's worker and lofar-hires run on the "node").
    env["TOIL_SLURM_ARGS"] = "--export=ALL"
    # Keep toil's leftover temporary files (message bus) out of /tmp.
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    outdir = tmp_path / "out"
    out = run_runner(
        [str(VENV_BIN / "toil-cwl-runner"), "--no-container", "--batchSystem", "slurm",
         "--jobStore", str(tmp_path / "js"), "--workDir", str(tmp_path / "w"), "--outdir", str(outdir),
         str(SIMULATE_WORKFLOW), str(TINY_JOB)],
        cwd=tmp_path, env=env, log=tmp_path / "toil.log")
    check_workflow_outputs(out, outdir)

    # The three CWL steps really ran as SLURM jobs (finished jobs stay visible for MinJobAge).
    jobs = subprocess.run(["scontrol", "-o", "show", "job"], env=env, capture_output=True, text=True,
                          check=True).stdout.splitlines()
    completed = [line for line in jobs if "JobState=COMPLETED" in line]
    assert len(completed) >= 3, "\n".join(jobs)
