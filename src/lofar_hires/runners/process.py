"""Run an external program with its output streamed to a log file and the logger."""

from __future__ import annotations

import collections
import logging
import shlex
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from lofar_hires.environment import find_tool, tool_environment, tool_version
from lofar_hires.errors import ToolError
from lofar_hires.provenance import Provenance, ToolRun, utc_now

log = logging.getLogger(__name__)

#: Number of log lines shown when a tool fails.
TAIL_LINES = 30


def log_tail(log_path: Path, n_lines: int = TAIL_LINES) -> str:
    """The last ``n_lines`` non-empty lines of a tool's log file ('' when unreadable)."""
    try:
        with Path(log_path).open(errors="replace") as fh:
            lines = collections.deque((line.rstrip() for line in fh if line.strip()), maxlen=n_lines)
    except OSError:
        return ""
    return "\n".join(lines)


def run_logged(
    tool: str,
    args: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    provenance: Provenance | None = None,
    fail_patterns: Sequence[str] = (),
) -> ToolRun:
    """Run ``tool args...``; stream output to ``log_path``; raise on failure.

    Parameters
    ----------
    tool
        Program name, looked up with :func:`lofar_hires.environment.find_tool`.
    args
        Arguments (a list, never a shell string).
    log_path
        File that receives the tool's stdout and stderr.
    cwd
        Working directory.
    provenance
        Record the run here when given.
    fail_patterns
        Substrings that mark a run as failed even with exit status 0.

    Returns
    -------
    ToolRun
        Command, version, wall time and exit status.

    Raises
    ------
    ToolError
        Non-zero exit status or a fail pattern in the output.
    """
    exe = find_tool(tool)
    command = [exe, *[str(a) for a in args]]
    version = tool_version(tool)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("running %s (%s): %s", tool, version, shlex.join(command))
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    matched: list[str] = []
    started = utc_now()
    t0 = time.monotonic()
    with log_path.open("w") as log_fh:
        log_fh.write(f"# {shlex.join(command)}\n# {version}\n")
        log_fh.flush()
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=tool_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        stream = proc.stdout if proc.stdout is not None else ()
        for line in stream:
            log_fh.write(line)
            stripped = line.rstrip()
            if stripped:
                tail.append(stripped)
                log.debug("[%s] %s", tool, stripped)
                matched.extend(p for p in fail_patterns if p in stripped)
        status = proc.wait()
    wall = time.monotonic() - t0
    run = ToolRun(
        tool=tool,
        version=version,
        command=command,
        cwd=str(cwd or Path.cwd()),
        started_utc=started,
        wall_time_s=round(wall, 3),
        exit_status=status,
        log_file=str(log_path),
    )
    if provenance is not None:
        provenance.add_run(run)
    if status != 0:
        raise ToolError(
            f"{tool} failed with exit status {status} after {wall:.1f} s (log: {log_path})",
            "\n".join(tail),
        )
    if matched:
        raise ToolError(
            f"{tool} reported a problem ({matched[0]!r}) (log: {log_path})", "\n".join(tail)
        )
    log.info("%s finished in %.1f s", tool, wall)
    return run
