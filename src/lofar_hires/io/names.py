"""Names from data or configuration turned into file names, and paths kept inside their output directory.

Calibrator, source, direction, solve and facet names come from catalogues, sky
models, h5parms and YAML files: any of them may hold ``/``, ``..``, a NUL byte, an
absolute path or thousands of characters. Every product path built from such a name
goes through :func:`safe_name` (one file-name component from an allow-list of
characters) and :func:`inside` (the resolved path must lie inside the output
directory) before anything is written or removed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from lofar_hires.errors import InputError

#: Characters kept as they are; every other run of characters becomes one ``_``.
_DISALLOWED = re.compile(r"[^A-Za-z0-9_+\-.]+")
#: Longest file-name component made from a name (bytes; file systems allow 255).
MAX_NAME_LENGTH = 80
#: Length of the hash appended when a name had to be shortened.
_HASH_LENGTH = 8


def safe_name(name: object, *, what: str = "name") -> str:
    """One file-name component made from ``name``.

    Letters, digits, ``_``, ``+``, ``-`` and ``.`` are kept; any other run of characters
    (``/``, spaces, NUL, brackets, non-ASCII, ...) becomes one ``_``; leading dots and
    underscores are dropped, so no result is hidden, ``.`` or ``..``; a name longer than
    :data:`MAX_NAME_LENGTH` is cut and a short hash of the full name appended, so that
    long names that differ only at the end stay apart. The mapping is deterministic.

    Parameters
    ----------
    name
        The name as found in the data (converted with ``str``).
    what
        What the name is (``calibrator``, ``solve``, ...), for the error message.

    Raises
    ------
    InputError
        When nothing usable is left (an empty name, only dots or separators).
    """
    text = str(name)
    cleaned = _DISALLOWED.sub("_", text).lstrip("._").rstrip(".")
    if not cleaned:
        raise InputError(f"{what} name {text!r} has no character usable in a file name "
                         "(letters, digits, _ + - .); rename it")
    if len(cleaned) > MAX_NAME_LENGTH:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LENGTH]
        cleaned = f"{cleaned[:MAX_NAME_LENGTH - _HASH_LENGTH - 1]}_{digest}"
    return cleaned


def safe_names(names: Iterable[object], *, what: str = "name") -> dict[str, str]:
    """:func:`safe_name` of each name, refusing two names that become the same file name.

    File names are compared case-insensitively (``A`` and ``a`` collide on macOS and
    Windows file systems).

    Returns
    -------
    dict
        Original name (as ``str``) -> file-name component, in input order.

    Raises
    ------
    InputError
        A name that :func:`safe_name` refuses, a name given twice, or two names that
        collide after conversion (both are named).
    """
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        text = str(name)
        if text in out:
            raise InputError(f"{what} name {text!r} is given twice; names must be unique")
        safe = safe_name(text, what=what)
        key = safe.lower()
        if key in seen:
            raise InputError(f"{what} names {seen[key]!r} and {text!r} both become the file name {safe!r}; "
                             "rename one of them")
        seen[key] = text
        out[text] = safe
    return out


def inside(root: Path, *parts: str | os.PathLike) -> Path:
    """``root / parts...``, refused unless the resolved result lies inside the resolved ``root``.

    Symbolic links are followed, so a link inside ``root`` pointing elsewhere is refused
    too. Use it for every product path built from a name before writing or removing it.

    Raises
    ------
    InputError
        When the path would leave ``root`` (absolute parts, ``..``, links) or equals it.
    """
    base = Path(root).resolve()
    path = base.joinpath(*[Path(p) for p in parts])
    resolved = path.resolve()
    if resolved == base or base not in resolved.parents:
        shown = "/".join(str(p) for p in parts)
        raise InputError(f"product path {shown!r} would lie outside the output directory {root}; "
                         "names from data or configuration must not contain path separators")
    return resolved
