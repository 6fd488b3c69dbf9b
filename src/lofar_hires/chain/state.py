"""The run manifest ``run.json``: what ran, how long, on what, with which products (rewritten after every module).

Format ``lofar-hires-run/1``: the run's configuration and runner, the chain's modules in order, the observations,
the data dimensions and per module its status (``done``, ``failed``, ``running``, ``skipped``, ``pending``), wall
and CPU time, bytes written, warnings, a message and the CWL output object with paths inside the run folder. A
re-run of the same configuration in the same folder reads it to skip the modules that are complete.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lofar_hires.chain.modules import MODULE_NAMES
from lofar_hires.errors import InputError
from lofar_hires.provenance import utc_now

FORMAT = "lofar-hires-run/1"
MANIFEST = "run.json"
STATUSES = ("pending", "running", "done", "failed", "skipped")


@dataclass
class ModuleRecord:
    name: str
    workflow: str
    status: str = "pending"
    started_utc: str | None = None
    wall_s: float = 0.0
    core_s: float | None = None
    disk_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunManifest:
    config: str
    runner: str
    started_utc: str = field(default_factory=utc_now)
    finished_utc: str | None = None
    observations: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    modules: list[ModuleRecord] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # the run's resolved inputs (observations, sky models)
    chain: list[str] = field(default_factory=lambda: list(MODULE_NAMES))  # every module of the chain, in order
    format: str = FORMAT

    def record(self, name: str, workflow: str = "") -> ModuleRecord:
        """The record of a module (created, in chain order, on first use)."""
        for rec in self.modules:
            if rec.name == name:
                return rec
        rec = ModuleRecord(name=name, workflow=workflow)
        self.modules.append(rec)
        return rec

    def done(self, name: str) -> ModuleRecord | None:
        for rec in self.modules:
            if rec.name == name and rec.status == "done":
                return rec
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_manifest(manifest: RunManifest, run_dir: Path) -> Path:
    """Write ``run.json`` atomically (a reader never sees half a manifest)."""
    path = run_dir / MANIFEST
    tmp = run_dir / f".{MANIFEST}.partial-{os.getpid()}"
    tmp.write_text(json.dumps(manifest.to_dict(), indent=1, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(run_dir: Path) -> RunManifest | None:
    """The manifest of a run folder (None when the folder has none)."""
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a run manifest ({exc}); move it away or choose another output folder",
                         setting="outdir") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a lofar-hires run manifest of format {FORMAT}; choose another output folder",
                         setting="outdir")
    try:
        modules = [ModuleRecord(**m) for m in data.pop("modules", [])]
        return RunManifest(**data, modules=modules)
    except TypeError as exc:
        raise InputError(f"{path} is damaged ({exc}); choose another output folder", setting="outdir") from None


#: The file a running ``lofar-hires run`` holds locked in its run folder.
LOCK = ".run.lock"


@contextmanager
def hold_run_folder(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` for one run: a second ``lofar-hires run`` on the same folder (by mistake, or a script that
    does not know the first is still going) is refused instead of writing the same products at the same time.

    An exclusive ``flock`` on ``run_dir/.run.lock``, released when the run ends (the file is then removed) or its
    process dies.

    Raises
    ------
    InputError
        Another process holds the folder (the message names its host, pid and start time).
    """
    import fcntl

    path = Path(run_dir) / LOCK
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise InputError(f"{run_dir} is in use by another lofar-hires run ({holder}); wait for it to end or "
                             "choose another output folder", setting="outdir") from None
        f.seek(0)
        f.truncate()
        f.write(f"host {socket.gethostname()}, pid {os.getpid()}, since {utc_now()}\n")
        f.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # removed while still held: a run that starts now locks a new file
            fcntl.flock(f, fcntl.LOCK_UN)
