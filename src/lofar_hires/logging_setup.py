"""Logging configuration shared by every command-line task."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class _StderrHandler(logging.StreamHandler):
    """A console handler that writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the base class sets it once; always use sys.stderr
        pass


def configure_logging(level: str | int = "INFO", logfile: Path | None = None) -> None:
    """Send ``lofar_hires`` log records to stderr and optionally to a file.

    Parameters
    ----------
    level
        Logging level name or number for the console.
    logfile
        Optional file that receives DEBUG and above.
    """
    root = logging.getLogger("lofar_hires")
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = _StderrHandler()
    console.setLevel(level if isinstance(level, int) else level.upper())
    console.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    root.addHandler(console)
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(logfile)
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
        root.addHandler(file_handler)
    root.propagate = False
