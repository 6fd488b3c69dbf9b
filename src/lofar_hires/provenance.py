"""Provenance records: how every product was made.

A :class:`Provenance` collects the task, its resolved parameters, its inputs and
every external tool run (command line, version, wall time, exit status). It is
written as JSON next to the product (``<product>.provenance.json``) or, for
h5parms, into the solset attributes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lofar_hires import __version__

#: Files larger than this are described by size and modification time, not hashed.
MAX_HASH_BYTES = 1024 * 1024 * 1024


def utc_now() -> str:
    """Current UTC time in ISO 8601 with a ``Z`` suffix."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ToolRun:
    """One run of an external program."""

    tool: str
    version: str
    command: list[str]
    cwd: str
    started_utc: str
    wall_time_s: float
    exit_status: int
    log_file: str | None = None


@dataclass
class Provenance:
    """What a task did, with which settings, on which inputs, with which tools."""

    task: str
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    tool_runs: list[ToolRun] = field(default_factory=list)
    package_version: str = __version__
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))
    host: str = field(default_factory=platform.node)
    python: str = field(default_factory=lambda: sys.version.split()[0])
    started_utc: str = field(default_factory=utc_now)
    finished_utc: str | None = None

    def add_input(self, path: Path | str) -> None:
        """Record an input product (file checksum or directory summary)."""
        self.inputs.append(describe_path(Path(path)))

    def add_run(self, run: ToolRun) -> None:
        """Record an external tool run."""
        self.tool_runs.append(run)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary."""
        return asdict(self)

    def to_json(self) -> str:
        """The record as a JSON string (e.g. for an h5parm solset attribute)."""
        self.finished_utc = self.finished_utc or utc_now()
        return json.dumps(self.to_dict(), default=str)

    def write(self, path: Path) -> Path:
        """Write the record as JSON (atomically) and return its path."""
        self.finished_utc = self.finished_utc or utc_now()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        os.replace(tmp, path)
        return path


def describe_path(path: Path) -> dict[str, Any]:
    """Describe an input: sha256 for small files, size/mtime for large ones and directories."""
    info: dict[str, Any] = {"path": str(path.resolve())}
    if path.is_file():
        stat = path.stat()
        info["size_bytes"] = stat.st_size
        if stat.st_size <= MAX_HASH_BYTES:
            info["sha256"] = sha256_file(path)
        else:
            info["mtime_utc"] = _mtime(stat.st_mtime)
    elif path.is_dir():
        total = 0
        newest = 0.0
        for sub in path.rglob("*"):
            if sub.is_file():
                stat = sub.stat()
                total += stat.st_size
                newest = max(newest, stat.st_mtime)
        info["size_bytes"] = total
        info["mtime_utc"] = _mtime(newest)
    else:
        info["missing"] = True
    return info


def sha256_file(path: Path, block_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(block_bytes), b""):
            digest.update(block)
    return digest.hexdigest()


def _mtime(timestamp: float) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).isoformat()


# ----------------------------------------------------------------------------------------- usage of one command
#: The last line every ``lofar-hires`` command logs: its task, exit status, wall and CPU seconds (the command and
#: the tools it ran) and a tag unique to the process. A workflow runner keeps these lines in the steps' logs, so that
#: the CPU time of a module can be summed from them where the runner's own accounting does not reach (SLURM jobs).
USAGE_PREFIX = "lofar-hires usage:"
_USAGE_RE = re.compile(re.escape(USAGE_PREFIX) + r" task=(?P<task>\S+) status=(?P<status>-?\d+) "
                       r"wall_s=(?P<wall>[0-9.]+) cpu_s=(?P<cpu>[0-9.]+) run=(?P<run>\S+)")


@dataclass(frozen=True)
class Usage:
    """What one ``lofar-hires`` command cost."""

    task: str
    status: int
    wall_s: float
    cpu_s: float
    run: str  # host, process id and start time: the same command read from two copies of a log counts once


def process_cpu_s() -> float:
    """CPU seconds (user + system) of this process and of the children it has waited for (DP3, WSClean, ...)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def usage_line(usage: Usage) -> str:
    return (f"{USAGE_PREFIX} task={usage.task} status={usage.status} wall_s={usage.wall_s:.3f} "
            f"cpu_s={usage.cpu_s:.3f} run={usage.run}")


def parse_usage(text: str) -> list[Usage]:
    """Every usage line in a log's text, in order."""
    return [Usage(m["task"], int(m["status"]), float(m["wall"]), float(m["cpu"]), m["run"])
            for m in _USAGE_RE.finditer(text)]


def run_tag(started: float) -> str:
    """``host:pid:start`` of this process (``started``: its start, seconds since the epoch)."""
    return f"{platform.node() or 'host'}:{os.getpid()}:{started:.6f}"
