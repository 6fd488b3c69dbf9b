"""One run at a time per output directory: a lock file that names the run holding it.

Two runs writing into one output directory (a resumable self-calibration run
started twice, a workflow step and a hand-run step) would corrupt each other's
products. :func:`output_lock` creates ``<dir>/.lofar-hires.lock`` atomically
(``O_CREAT | O_EXCL``) holding the host, pid and command of the run; a second run
is refused with that pid. A lock left by a run that no longer exists on this host
(killed with SIGKILL, a crashed node) is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

#: Name of the lock file inside a locked directory.
LOCK_NAME = ".lofar-hires.lock"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _read_owner(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _stale(owner: dict) -> bool:
    """A lock of a process that no longer runs on this host (other hosts are never presumed dead)."""
    if owner.get("host") != socket.gethostname():
        return False
    try:
        return not _pid_alive(int(owner.get("pid", -1)))
    except (TypeError, ValueError):
        return True


@contextlib.contextmanager
def output_lock(directory: Path) -> Iterator[Path]:
    """Hold the lock of ``directory`` (created if needed) for the duration of the block.

    Raises
    ------
    InputError
        Another live run holds the lock (its host, pid and start time are named), or the
        directory cannot be written.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {directory}: {exc.strerror}") from None
    path = directory / LOCK_NAME
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "started_unix_s": round(time.time(), 1),
             "command": " ".join(sys.argv)[:500]}
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            other = _read_owner(path)
            if attempt == 0 and _stale(other):
                log.warning("taking over the lock of %s left by pid %s, which no longer runs", directory,
                            other.get("pid"))
                path.unlink(missing_ok=True)
                continue
            raise InputError(f"output directory {directory} is in use by another run (host {other.get('host', '?')}, "
                             f"pid {other.get('pid', '?')}); wait for it to end or remove {path} if it is gone")
        except OSError as exc:
            raise InputError(f"cannot lock output directory {directory}: {exc.strerror}") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(owner, fh)
        break
    try:
        yield path
    finally:
        if _read_owner(path).get("pid") == owner["pid"]:
            path.unlink(missing_ok=True)
