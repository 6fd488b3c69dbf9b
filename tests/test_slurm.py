"""``lofar-hires run`` with Toil on a private single-node SLURM cluster: the whole chain on the tiny field to the
mosaic, every step a SLURM job (checked against the truth as the cwltool run of tests/chain/test_chain_run.py is);
the chain's first module (workflows/simulate.cwl) with a step failing once with exit status 3 (retried), the Toil
leader killed and the run continued (the same products), a step failing with exit status 2 (not retried, the run
stops with its message), and the checks before anything is submitted (a partition sinfo does not list, a job store
of another workflow).

The module fixture starts munged, slurmctld and slurmd with tools/slurm_local.sh in a
temporary directory (on free ports), and always stops them again; the test is skipped
with the reason when SLURM is not installed, not running as root, or the cluster does
not come up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

# The output checks are shared with the cwltool/toil tests (tests/ is on sys.path under pytest).
from conftest import file_checksums, mosaic_sources
from test_cwl import check_workflow_outputs

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SLURM_LOCAL = REPO / "tools" / "slurm_local.sh"
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


#: The chain's first module (workflows/simulate.cwl: simulate, image, compare) as a run configuration: the job of
#: workflows/jobs/simulate_tiny.yml (the field's settings in simulate, the imaging inputs as the module's settings).
_TINY = yaml.safe_load((REPO / "workflows" / "jobs" / "simulate_tiny.yml").read_text())
SIM_CONFIG = yaml.safe_dump({
    "simulate": {k: _TINY[k] for k in ("preset", "seed", "overrides")},
    "modules": {"simulate": {k: v for k, v in _TINY.items()
                             if k not in ("preset", "seed", "overrides", "calibrator")}}})


def _profile(folder: Path, **changes: object) -> Path:
    """A SLURM cluster profile for the local cluster: retries of exit status 3, fast polling."""
    settings = {"runner": "toil", "batch_system": "slurm", "retry_count": 2, "state_polling_wait_s": 1,
                "cores": 2, "bypass_file_store": False, **changes}
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _wrapper(folder: Path, task: str, status: int, times: int) -> Path:
    """A ``lofar-hires`` first on PATH that makes the first ``times`` calls of ``task`` fail with ``status`` (a
    one-line error as lofar-hires writes it), counts every call of it, and runs the real command otherwise."""
    bindir = folder / "wrapper"
    bindir.mkdir()
    counter = folder / f"{task}.calls"
    script = bindir / "lofar-hires"
    script.write_text(f"""#!/bin/bash
if [ "$1" = "{task}" ]; then
    echo x >> "{counter}"
    if [ "$(wc -l < "{counter}")" -le {times} ]; then
        echo "$(date '+%Y-%m-%d %H:%M:%S') ERROR   lofar_hires.cli: injected failure {status} of {task}" >&2
        exit {status}
    fi
fi
exec "{VENV_BIN / 'lofar-hires'}" "$@"
""")
    script.chmod(0o755)
    return bindir


def _run(cluster: LocalCluster, folder: Path, outdir: Path, profile: Path, path_first: Path | None = None,
         extra: tuple[str, ...] = (), wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    env = cluster.env()
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(folder / "tmp")
    (folder / "tmp").mkdir(exist_ok=True)
    config = folder / "run.yaml"
    config.write_text(SIM_CONFIG)
    argv = [str(VENV_BIN / "lofar-hires"), "run", str(config), "-o", str(outdir), "--cluster", str(profile),
            "--to", "simulate", *extra]
    if not wait:
        return subprocess.Popen(argv, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, env=env, cwd=folder, capture_output=True, text=True, timeout=900)


def _jobs(cluster: LocalCluster) -> list[str]:
    return subprocess.run(["scontrol", "-o", "show", "job"], env=cluster.env(), capture_output=True, text=True,
                          check=True).stdout.splitlines()


def _products(outdir: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The run's data: checksums of every file of the simulated observations but what records when and where it was
    made (provenance, the simulation's record, HDF5 headers) and of the solutions' values; and the images' pixels.
    Casacore's indirect-array files (``*.f0i``) are left out: they hold padding bytes that casacore leaves as they
    were in memory."""
    import hashlib

    from astropy.io import fits

    from lofar_hires.io.h5parm import read_h5parm

    skip = ("provenance.json", "simulation.json", ".f0i", ".h5", "comparison.json", ".log")
    sums = {name: digest for name, digest in file_checksums(outdir / "products").items() if not name.endswith(skip)}
    for h5 in sorted((outdir / "products").rglob("*.h5")):
        tabs = read_h5parm(h5).soltabs
        sums[str(h5.relative_to(outdir))] = hashlib.sha256(b"".join(
            tabs[t].val.tobytes() + (b"" if tabs[t].weight is None else tabs[t].weight.tobytes())
            for t in sorted(tabs))).hexdigest()
    images = {str(p.relative_to(outdir)): fits.getdata(p) for p in sorted((outdir / "images").rglob("*.fits"))}
    return sums, images


def assert_same_products(a: Path, b: Path) -> None:
    """The same observations and truth (bit for bit) and the same images: the dirty image and the PSF to 1e-5 of
    their peak (WSClean's threads sum in varying order); the cleaned images to the image noise (robust rms) and the
    clean model's total flux to 1 % (cleaning 2000 iterations into the noise, one component more or less early
    on makes the later components differ)."""
    (sums_a, images_a), (sums_b, images_b) = _products(a), _products(b)
    assert sums_a == sums_b
    assert sorted(images_a) == sorted(images_b) and images_a
    for name, pixels in images_a.items():
        if name.endswith(("-dirty.fits", "-psf.fits")):
            scale = float(np.nanmax(np.abs(pixels)))
            np.testing.assert_allclose(images_b[name], pixels, rtol=0, atol=1e-5 * scale, err_msg=name)
        elif name.endswith("-model.fits"):
            assert abs(float(np.nansum(images_b[name])) / float(np.nansum(pixels)) - 1) < 0.01, name
        else:
            rms = 1.4826 * float(np.nanmedian(np.abs(pixels - np.nanmedian(pixels))))
            np.testing.assert_allclose(images_b[name], pixels, rtol=0, atol=rms, err_msg=name)


@pytest.fixture(scope="module")
def retried_run(slurm_cluster: LocalCluster, tmp_path_factory) -> dict:
    """``lofar-hires run`` of the simulation on SLURM, where the first call of ``image`` fails with exit status 3."""
    folder = tmp_path_factory.mktemp("chain_slurm_retry")
    wrapper = _wrapper(folder, "image", status=3, times=1)
    proc = _run(slurm_cluster, folder, folder / "run", _profile(folder), wrapper)
    calls = folder / "image.calls"
    return {"proc": proc, "outdir": folder / "run", "calls": calls.read_text().count("x") if calls.exists() else 0}


def test_chain_on_slurm_retries_a_tool_failure(retried_run, slurm_cluster: LocalCluster) -> None:
    proc, outdir = retried_run["proc"], retried_run["outdir"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert retried_run["calls"] == 2  # failed with exit status 3, retried once, succeeded
    manifest = json.loads((outdir / "run.json").read_text())
    assert manifest["runner"] == "toil-slurm"
    (module,) = manifest["modules"]
    assert module["name"] == "simulate" and module["status"] == "done" and module["wall_s"] > 0
    # The CPU time of the SLURM jobs, from the steps' usage lines (simulate, image, compare-sky; the failed try of
    # image wrote none).
    assert module["core_s"] > 1.0
    check_workflow_outputs(module["outputs"], outdir)
    # The products are in the run's tree, and the steps really ran as SLURM jobs.
    assert (outdir / "images" / "simulate").is_dir() and (outdir / "products" / "simulate" / "simulation").is_dir()
    completed = [line for line in _jobs(slurm_cluster) if "JobState=COMPLETED" in line]
    assert len(completed) >= 3
    assert "manifest" in proc.stdout and str(outdir / "images") in proc.stdout


def test_chain_on_slurm_restarts_after_the_leader_is_killed(retried_run, slurm_cluster: LocalCluster,
                                                            tmp_path: Path) -> None:
    """Toil's leader killed (SIGKILL) once the first SLURM job has finished; the same command again resumes from the
    job store (--restart) and makes the same products as the uninterrupted run."""
    import signal
    import time

    outdir = tmp_path / "run"
    profile = _profile(tmp_path)
    before = {line.split()[0] for line in _jobs(slurm_cluster)}
    proc = _run(slurm_cluster, tmp_path, outdir, profile, wait=False)
    store = outdir / "jobstore" / "simulate"
    deadline, killed = time.monotonic() + 600, False
    while time.monotonic() < deadline and proc.poll() is None:
        done = [line for line in _jobs(slurm_cluster)
                if "JobState=COMPLETED" in line and line.split()[0] not in before]
        if done:
            leaders = subprocess.run(["pgrep", "-f", f"toil-cwl-runner.*{store}"], capture_output=True,
                                     text=True).stdout.split()
            for pid in leaders:
                os.kill(int(pid), signal.SIGKILL)
            killed = bool(leaders)
            break
        time.sleep(0.5)
    stdout, stderr = proc.communicate(timeout=600)
    assert killed, "the leader was not found running after the first job"
    assert proc.returncode == 3, stderr[-2000:]
    assert "module simulate failed" in stderr
    manifest = json.loads((outdir / "run.json").read_text())
    assert manifest["modules"][0]["status"] == "failed"
    assert store.is_dir()  # the job store stays for the restart

    again = _run(slurm_cluster, tmp_path, outdir, profile)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "--restart" in (outdir / "logs" / "simulate" / "simulate.runner.log").read_text().splitlines()[0]
    assert not store.exists()  # Toil removes a finished workflow's job store
    assert_same_products(outdir, retried_run["outdir"])


def test_chain_on_slurm_stops_on_bad_input_without_retrying(slurm_cluster: LocalCluster, tmp_path: Path) -> None:
    wrapper = _wrapper(tmp_path, "image", status=2, times=5)
    proc = _run(slurm_cluster, tmp_path, tmp_path / "run", _profile(tmp_path), wrapper)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert (tmp_path / "image.calls").read_text().count("x") == 1  # exit status 2 is never retried
    last = proc.stderr.strip().splitlines()[-1]
    assert "module simulate failed" in last and "injected failure 2 of image" in last, last


def test_chain_refuses_before_submitting(slurm_cluster: LocalCluster, tmp_path: Path) -> None:
    """A partition that sinfo does not list, and a job store another run left: exit 2, one line, no job."""
    before = len(_jobs(slurm_cluster))
    bad = _run(slurm_cluster, tmp_path, tmp_path / "a", _profile(tmp_path, partition="nosuchpartition"))
    assert bad.returncode == 2
    assert "partition 'nosuchpartition' does not exist" in bad.stderr.strip().splitlines()[-1]
    foreign = tmp_path / "b" / "jobstore" / "simulate"
    foreign.mkdir(parents=True)
    (foreign / "config.pickle").write_bytes(b"another workflow")
    bad = _run(slurm_cluster, tmp_path, tmp_path / "b", _profile(tmp_path))
    assert bad.returncode == 2
    assert "belongs to another workflow" in bad.stderr.strip().splitlines()[-1]
    assert len(_jobs(slurm_cluster)) == before
    assert (foreign / "config.pickle").read_bytes() == b"another workflow"  # nothing of it was touched


#: The mosaic of the run on SLURM against the truth: the tolerances of the cwltool run (tests/chain/test_chain_run.py).
FLUX_TOLERANCE, POSITION_TOLERANCE_ARCSEC = 0.10, 0.2 * 10.0


def test_the_whole_chain_runs_on_slurm(slurm_cluster: LocalCluster, tmp_path: Path) -> None:
    """``lofar-hires run tiny`` with the SLURM profile: every module's steps run as SLURM jobs, the run ends with the
    mosaic, and the bright sources in it are within the cwltool run's tolerances of the truth; every module's CPU
    time comes from its steps' usage lines."""
    env = slurm_cluster.env()
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    outdir = tmp_path / "run"
    proc = subprocess.run([str(VENV_BIN / "lofar-hires"), "run", "tiny", "-o", str(outdir), "--cluster",
                           str(_profile(tmp_path))], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=3600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    manifest = json.loads((outdir / "run.json").read_text())
    assert manifest["runner"] == "toil-slurm"
    from lofar_hires.chain.config import load_run_config, resolve_config_path
    from lofar_hires.chain.modules import MODULE_NAMES

    skipped = load_run_config(resolve_config_path("tiny")).skip
    assert [m["name"] for m in manifest["modules"]] == [n for n in MODULE_NAMES if n not in skipped]
    assert all(m["status"] == "done" and m["core_s"] > 0 for m in manifest["modules"]), manifest["modules"]
    # Every module's steps ran as SLURM jobs: each wrote its batch logs (per observation for di_calibrator and
    # di_target); SLURM forgets finished jobs after 5 minutes, so scontrol cannot tell.
    batch = {d.name.split(".")[0] for d in (outdir / "logs" / "batch").iterdir() if any(d.glob("toil_*.err.log"))}
    assert batch == {m["name"] for m in manifest["modules"]}, batch
    sources = mosaic_sources(outdir)
    bright = {n: v for n, v in sources.items() if n.startswith("bright")}
    assert len(bright) == 2, sources
    for name, (ratio, offset_arcsec) in bright.items():
        assert abs(ratio - 1) < FLUX_TOLERANCE and offset_arcsec < POSITION_TOLERANCE_ARCSEC, (name, ratio,
                                                                                              offset_arcsec)
