"""The fixed tree of a run's products, and the move of a module's outputs into it.

A CWL runner writes a module's outputs into a staging folder (``.staging/<module>``); they are then moved to
``solutions/`` (h5parms), ``images/`` (FITS), ``plots/`` (PNG and plot folders), ``facets/`` (the calibrator
table, facet layout and facet datasets), ``selfcal/`` (self-calibration run folders), ``ms/`` (measurement
sets), ``logs/`` and ``products/`` (the rest: summaries, tables), each in a sub-folder of the module, and the
output object's paths are rewritten to the new places.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lofar_hires.errors import InputError
from lofar_hires.io.names import inside, safe_name

FOLDERS = ("solutions", "images", "plots", "facets", "selfcal", "ms", "logs", "products", "report")


def folder_of(name: str, obj: Mapping[str, Any]) -> str:
    """The tree folder of one output by its type and name."""
    base = str(obj.get("basename") or Path(obj["path"]).name)
    lower = base.lower()
    if obj.get("class") == "Directory":
        if lower.endswith(".ms"):
            return "ms"
        if "selfcal" in name or "selfcal" in lower:
            return "selfcal"
        if "plot" in name or "plot" in lower or "layout" in name:
            return "plots"
        return "products"
    suffix = Path(lower).suffix
    return {".h5": "solutions", ".fits": "images", ".png": "plots", ".log": "logs"}.get(suffix, "products")


def _rewrite(value: Any, moved: dict[str, str]) -> Any:
    """A copy of a CWL value with every path under a moved one rewritten (listings dropped)."""
    if isinstance(value, list):
        return [_rewrite(v, moved) for v in value]
    if not isinstance(value, Mapping):
        return value
    if value.get("class") in ("File", "Directory"):
        old = str(value["path"])
        new = old
        for src, dst in moved.items():
            if old == src or old.startswith(src + os.sep):
                new = dst + old[len(src):]
                break
        out = {"class": value["class"], "path": new, "basename": Path(new).name}
        for key in ("size", "checksum"):
            if key in value:
                out[key] = value[key]
        if value.get("secondaryFiles"):
            out["secondaryFiles"] = _rewrite(value["secondaryFiles"], moved)
        return out
    return {k: _rewrite(v, moved) for k, v in value.items()}


def _top_level(value: Any, staging: Path) -> list[Path]:
    """The entries directly in ``staging`` that a CWL value refers to."""
    found: list[Path] = []
    if isinstance(value, list):
        for v in value:
            found.extend(_top_level(v, staging))
    elif isinstance(value, Mapping):
        if value.get("class") in ("File", "Directory"):
            path = Path(value["path"])
            try:
                rel = path.relative_to(staging)
            except ValueError:
                return found
            found.append(staging / rel.parts[0])
            found.extend(_top_level(value.get("secondaryFiles", []), staging))
        else:
            for v in value.values():
                found.extend(_top_level(v, staging))
    return found


def place_outputs(outputs: Mapping[str, Any], staging: Path, run_dir: Path, module: str,
                  folders: Mapping[str, str], sub: str | None = None) -> tuple[dict[str, Any], int]:
    """Move a module's outputs from ``staging`` into the run tree; return the rewritten output object and the
    bytes moved. ``sub`` (an observation name) adds a sub-folder."""
    plan: dict[str, Path] = {}
    for key, value in outputs.items():
        for entry in _top_level(value, staging):
            if str(entry) in plan or not entry.exists():
                continue
            folder = folders.get(key) or folder_of(key, {"class": "Directory" if entry.is_dir() else "File",
                                                         "path": str(entry)})
            parts = [folder, module] if folder != "facets" else [folder]
            if sub is not None:
                parts.append(safe_name(sub, what="observation name"))
            plan[str(entry)] = inside(run_dir, *parts, entry.name)
    # Every destination is checked before anything moves, so that a refused placement leaves the tree as it was.
    targets = list(plan.values())
    for dest in targets:
        if dest.exists() or dest.is_symlink() or targets.count(dest) > 1:
            raise InputError(f"{dest} exists already: two products of the run have the same name",
                             setting="outdir")
    moved: dict[str, str] = {}
    total = 0
    for src, dest in plan.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        total += tree_bytes(Path(src))
        shutil.move(src, str(dest))
        moved[src] = str(dest)
    return _rewrite(dict(outputs), moved), total


def tree_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def missing_products(outputs: Any) -> list[str]:
    """Paths an output object names that do not exist (a module's products deleted or moved since)."""
    from lofar_hires.chain.modules import paths_of

    return [str(p) for p in paths_of(outputs, secondary_files=True) if not p.exists()]


def remove_products(outputs: Any, run_dir: Path) -> None:
    """Delete the products an output object names, their secondary files included (before a module runs again);
    only paths inside the run folder are touched."""
    from lofar_hires.chain.modules import paths_of
    from lofar_hires.io.atomic import remove_path

    for path in paths_of(outputs, secondary_files=True):
        if path.exists() or path.is_symlink():
            remove_path(inside(run_dir, path))
