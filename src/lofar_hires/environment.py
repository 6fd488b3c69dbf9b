"""The one place where the runtime environment of external tools is prepared.

* DP3 refuses to run unless ``OPENBLAS_NUM_THREADS=1`` (it links a threaded
  OpenBLAS); we set it for every tool we start (their own threads are set with
  their options: DP3 ``numthreads``, WSClean ``-j``).
* Beam models need casacore measures data. The Debian tree lacks ``TAI_UTC``,
  so we generate a ``casarc`` pointing at the data shipped in the
  python-casacore wheel and export ``CASARCFILES`` (the CLI also sets it for
  its own process). When the IERS leap-second list of astropy-iers-data is
  newer than the wheel's TAI_UTC table, the casarc points
  ``measures.tai_utc.directory`` at a table written from it
  (:mod:`lofar_hires.measures_table`), so that casacore does not call the
  table "out-of-date".
* DP3 and the everybeam module look for element-beam coefficients in
  ``/usr/local/share/everybeam`` unless ``EVERYBEAM_DATADIR`` points at the
  copy installed with the wheels; we set it.
* Tools are looked up on ``PATH`` and next to the running Python interpreter
  (a virtual environment's ``bin``), with an actionable error when missing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lofar_hires.errors import InputError, MissingToolError

log = logging.getLogger(__name__)

#: How to install each external program, shown when it is missing.
INSTALL_HINTS: dict[str, str] = {
    "DP3.py": "install the Python package 'dp3' (make setup does this in .venv)",
    "wsclean": "install the Debian package 'wsclean' (apt-get install wsclean; make setup does this)",
    "cwltool": "install the Python package 'cwltool' (make setup does this in .venv)",
    "toil-cwl-runner": "install the Python package 'toil[cwl]' (make setup does this in .venv)",
    "losoto": "install the Python package 'losoto' (make setup does this in .venv)",
    "sva": "install the Python package 'sidereal-visibility-avg' plus numba, joblib, scikit-learn",
    "slurmctld": "install the Debian packages 'slurm-wlm' and 'munge'",
}



def casacore_measures_dir() -> Path:
    """Return the measures data directory shipped inside the python-casacore wheel."""
    spec = importlib.util.find_spec("casacore")
    if spec is None or spec.origin is None:
        raise MissingToolError(
            "python-casacore is not installed; install the Python package 'python-casacore'"
        )
    data = Path(spec.origin).parent / "data"
    if not (data / "geodetic").is_dir():
        raise MissingToolError(
            f"python-casacore has no measures data in {data}; reinstall 'python-casacore' from PyPI"
        )
    return data


def everybeam_data_dir() -> Path:
    """Return the directory with EveryBeam's element-model coefficient files.

    The dp3/everybeam wheels install them under ``<prefix>/share/everybeam`` but
    look in ``/usr/local/share/everybeam`` unless ``EVERYBEAM_DATADIR`` says otherwise.
    """
    candidates = [Path(sys.prefix) / "share" / "everybeam", Path("/usr/local/share/everybeam"),
                  Path("/usr/share/everybeam")]
    for path in candidates:
        if (path / "HamakerHBACoeff.h5").is_file():
            return path
    raise MissingToolError(
        "EveryBeam coefficient files (HamakerHBACoeff.h5) not found; install the Python package "
        "'everybeam' (make setup does this in .venv)"
    )


def aoflagger_strategy(name: str = "lofar-default") -> Path:
    """Path of an AOFlagger strategy (``.lua``) shipped with the dp3 wheel.

    DP3's aoflagger step only runs with an explicit ``strategy=`` path.
    """
    spec = importlib.util.find_spec("dp3")
    roots = [Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"]
    if spec is not None and spec.origin is not None:
        roots.insert(0, Path(spec.origin).parent.parent)
    folders = [root / folder / "aoflagger" / "strategies" for root in roots for folder in ("DP3.libs", "dp3.libs")]
    for folder in folders:
        path = folder / f"{name}.lua"
        if path.is_file():
            return path
    shipped = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.lua")})
    if shipped:
        raise InputError(f"AOFlagger strategy {name!r} is neither a file nor one shipped with DP3 "
                         f"({', '.join(shipped)})")
    raise MissingToolError(
        f"AOFlagger strategy {name!r} not found with the dp3 package; give a strategy file path instead"
    )


def cache_dir() -> Path:
    """Per-user cache directory of lofar-hires (``$XDG_CACHE_HOME/lofar-hires``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "lofar-hires"
    path.mkdir(parents=True, exist_ok=True)
    return path


#: The IERS leap-second list inside the astropy-iers-data package (refreshed with each release).
LEAP_SECOND_LIST = ("astropy_iers_data", "data/Leap_Second.dat")


def _measures_root() -> Path:
    """Where the generated measures tables go: inside the installation (``<prefix>/share``), shared by
    every process and user of it, so that a workflow step with its own HOME does not write them again."""
    return Path(sys.prefix) / "share" / "lofar-hires" / "measures"


@functools.cache
def leap_second_directory() -> Path | None:
    """A folder holding a TAI_UTC table newer than the python-casacore wheel's, or None.

    Written once per pair of sources (named by their content; in the installation's ``share``
    folder when it is writable, else the user's cache) by
    ``python -m lofar_hires.measures_table`` in a child process, from the pinned
    astropy-iers-data package: no network access. Looked up once per process (every external
    tool run asks for it).
    """
    spec = importlib.util.find_spec(LEAP_SECOND_LIST[0])
    if spec is None or spec.origin is None:
        return None
    source = Path(spec.origin).parent / LEAP_SECOND_LIST[1]
    wheel_table = casacore_measures_dir() / "geodetic" / "TAI_UTC"
    if not source.is_file() or not (wheel_table / "table.dat").is_file():
        return None
    digest = hashlib.sha256(source.read_bytes() + b"\0" + (wheel_table / "table.dat").read_bytes())
    name = digest.hexdigest()[:16]
    shared = _measures_root() / name
    if (shared / "TAI_UTC" / "table.dat").is_file():
        return shared
    try:
        shared.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(shared.parent, os.W_OK)
    except OSError:
        writable = False
    folder = shared if writable else cache_dir() / "measures" / name
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared installation's table from the other users
        proc = subprocess.run([sys.executable, "-m", "lofar_hires.measures_table", str(source),
                               str(wheel_table), str(tmp)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            log.warning("casacore keeps the leap-second table of python-casacore (%s)", last)
            return None
        try:
            tmp.rename(folder)
        except OSError:  # another process wrote the same folder first
            shutil.rmtree(tmp, ignore_errors=True)
    return folder if (folder / "TAI_UTC" / "table.dat").is_file() else None


def ensure_casarc() -> Path:
    """Write (once) a casarc that points casacore at the wheel's measures data.

    When :func:`leap_second_directory` has a newer leap-second table, the casarc
    names it with ``measures.tai_utc.directory``.
    """
    measures = casacore_measures_dir()
    casarc = cache_dir() / "casarc"
    content = f"measures.directory: {measures}\n"
    leap_dir = leap_second_directory()
    if leap_dir is not None:
        content += f"measures.tai_utc.directory: {leap_dir}\n"
    if not casarc.is_file() or casarc.read_text() != content:
        tmp = casarc.with_name(f".casarc.{os.getpid()}.tmp")
        tmp.write_text(content)
        os.replace(tmp, casarc)
    return casarc


def use_casarc() -> None:
    """Point casacore in this process at :func:`ensure_casarc`.

    casacore reads its resource files once, at its first table or measures
    access: call this before that (the CLI does, before running a task).
    """
    os.environ["CASARCFILES"] = str(ensure_casarc())


def tool_environment() -> dict[str, str]:
    """Environment for an external tool: single-threaded BLAS, measures data, beam coefficients."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["CASARCFILES"] = str(ensure_casarc())
    env.setdefault("EVERYBEAM_DATADIR", str(everybeam_data_dir()))
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def find_tool(name: str) -> str:
    """Return the full path of an external program or raise :class:`MissingToolError`."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    if path is None:
        hint = INSTALL_HINTS.get(name, "install it and put it on PATH")
        raise MissingToolError(f"required program '{name}' not found: {hint}")
    return path


@functools.lru_cache(maxsize=None)
def tool_version(name: str) -> str:
    """Return the first line a tool prints for ``--version`` (cached per process)."""
    exe = find_tool(name)
    flag = "-version" if name == "wsclean" else "--version"
    try:
        proc = subprocess.run(
            [exe, flag],
            capture_output=True,
            text=True,
            timeout=60,
            env=tool_environment(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip():
            return line.strip()
    return "unknown"
