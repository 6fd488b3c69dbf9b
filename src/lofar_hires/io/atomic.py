"""Write products under a temporary name and rename them when complete.

An interrupted step therefore never leaves a half-written product under the
final name, and an existing product is only replaced when the user asks for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lofar_hires.errors import InputError, OutputExistsError

log = logging.getLogger(__name__)

PARTIAL_TAG = ".partial-"


def remove_path(path: Path) -> None:
    """Remove a file, symlink or directory tree if it exists."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def check_output_path(path: Path, overwrite: bool) -> None:
    """Refuse an output that exists (unless ``overwrite``) or cannot be written.

    An existing *empty* directory counts as absent.
    """
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create output directory {parent}: {exc.strerror}") from exc
    if not parent.is_dir():
        raise InputError(f"output location {parent} is not a directory")
    try:
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".write-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise InputError(f"output directory {parent} is not writable: {exc.strerror}") from None
    if path.exists() or path.is_symlink():
        empty_dir = path.is_dir() and not any(path.iterdir())
        if not empty_dir and not overwrite:
            raise OutputExistsError(
                f"output {path} already exists; overwrite it or choose another output", setting="overwrite"
            )


@contextlib.contextmanager
def atomic_output(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it to ``path`` on success.

    Parameters
    ----------
    path
        Final product path (file or directory).
    overwrite
        Replace an existing product.

    Yields
    ------
    Path
        Temporary path to write to. Whatever is there when the block raises is
        removed, and the final path is left as it was.
    """
    path = Path(path)
    check_output_path(path, overwrite)
    tmp = path.with_name(f".{path.name}{PARTIAL_TAG}{os.getpid()}")
    remove_path(tmp)
    try:
        yield tmp
    except BaseException:
        log.debug("removing incomplete output %s", tmp)
        remove_path(tmp)
        raise
    if not (tmp.exists() or tmp.is_symlink()):
        raise InputError(f"step produced no output for {path}")
    if not overwrite and (path.exists() or path.is_symlink()) and not (path.is_dir() and not any(path.iterdir())):
        # Another run wrote the product while this one worked: never replace it silently.
        remove_path(tmp)
        raise OutputExistsError(f"output {path} was written by another run while this one ran; this run's "
                                "result was discarded (overwrite it to replace it)", setting="overwrite")
    remove_path(path)
    os.replace(tmp, path)
    log.debug("wrote %s", path)
