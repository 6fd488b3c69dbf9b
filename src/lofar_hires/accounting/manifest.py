"""Reading a run manifest (``run.json`` of ``lofar-hires run``) for compute accounting."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lofar_hires.accounting.config import Dimensions
from lofar_hires.errors import InputError, MissingInputError

log = logging.getLogger(__name__)

#: The manifest format this reader knows.
MANIFEST_FORMAT = "lofar-hires-run/1"
#: Module states whose ``core_s`` is a complete measurement.
MEASURED_STATES = ("done", "stopped")
#: Module states with nothing (or nothing complete) to measure yet.
UNMEASURED_STATES = ("skipped", "pending", "running")
#: The keys of a manifest's ``data``.
DATA_KEYS = ("n_observations", *(f.name for f in fields(Dimensions)))
#: Seconds per hour.
S_PER_H = 3600.0


@dataclass(frozen=True)
class RunCosts:
    """What compute accounting takes from one run manifest.

    ``core_h`` maps each measured module to its core-hours; ``unmeasured`` lists the modules
    that were skipped, had not run or were still running.
    """

    path: Path
    n_observations: int
    dims: Dimensions
    core_h: dict[str, float]
    wall_h: dict[str, float]
    unmeasured: tuple[str, ...]


def read_manifest(path: Path) -> dict[str, Any]:
    """The JSON object of a run manifest.

    Raises
    ------
    MissingInputError
        ``path`` does not exist.
    InputError
        It is a directory, not UTF-8 JSON, not an object, or of another format.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"run manifest {path} does not exist")
    if path.is_dir():
        raise InputError(f"run manifest {path} is a directory, not a run.json file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"run manifest {path} is not JSON text ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise InputError(f"cannot read run manifest {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise InputError(f"run manifest {path} holds a JSON {type(data).__name__}, not an object")
    if data.get("format") != MANIFEST_FORMAT:
        raise InputError(f"run manifest {path} has format {data.get('format')!r}, not {MANIFEST_FORMAT!r}")
    return data


def _number(value: Any, where: str, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where} is {value!r}, not a finite number")
    if integer and int(value) != value:
        raise InputError(f"{where} is {value!r}, not a whole number")
    return value


def manifest_dimensions(manifest: Mapping[str, Any], where: str = "run manifest") -> tuple[int, Dimensions]:
    """The number of observations and the data dimensions of a run (its ``data``).

    Raises
    ------
    InputError
        ``data`` is missing, lacks a dimension or describes a run of zero size (other entries of ``data``,
        such as the phase centre, are not used).
    """
    data = manifest.get("data")
    if not isinstance(data, Mapping):
        raise InputError(f"{where} has no 'data' object with the run's dimensions")
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
        raise InputError(f"{where}: data lacks the dimension(s) {', '.join(missing)}")
    unused = sorted(map(str, set(data) - set(DATA_KEYS)))
    if unused:
        log.debug("%s: data entries that no cost scales with: %s", where, ", ".join(unused))
    integer = {f.name: f.type in (int, "int") for f in fields(Dimensions)} | {"n_observations": True}
    values = {k: _number(data[k], f"{where}: data.{k}", integer[k]) for k in DATA_KEYS}
    zero = [k for k, v in values.items() if v <= 0 and k != "n_international"]
    if zero or values["n_international"] < 0:
        bad = zero or ["n_international"]
        raise InputError(f"{where}: a run of zero size cannot be projected (data.{bad[0]} = {values[bad[0]]})")
    if values["n_stations"] - values["n_international"] < 2:
        raise InputError(f"{where}: data has fewer than 2 Dutch stations (n_stations {values['n_stations']}, "
                         f"n_international {values['n_international']})")
    dims = Dimensions(**{k: (int(v) if integer[k] else float(v)) for k, v in values.items() if k != "n_observations"})
    return int(values["n_observations"]), dims


def module_costs(manifest: Mapping[str, Any], where: str = "run manifest") -> dict[str, float]:
    """Core-hours of every measured module of a run manifest (``core_s`` / 3600).

    Modules ``skipped`` or ``pending`` are left out; ``done`` and ``stopped`` modules are measured.

    Raises
    ------
    InputError
        No module list, a module without a name or with a name given twice, a measured module
        without a finite non-negative ``core_s``, or a ``failed`` module (its cost is incomplete).
    """
    return _costs(manifest, where, "core_s")


def module_wall_hours(manifest: Mapping[str, Any], where: str = "run manifest") -> dict[str, float]:
    """Wall-clock hours of every measured module (``wall_s`` / 3600; 0 where the manifest has none)."""
    return _costs(manifest, where, "wall_s", required=False)


def _costs(manifest: Mapping[str, Any], where: str, key: str, required: bool = True) -> dict[str, float]:
    modules = manifest.get("modules")
    if not isinstance(modules, list) or not modules:
        raise InputError(f"{where} has no list of modules")
    costs: dict[str, float] = {}
    for i, module in enumerate(modules):
        name = module.get("name") if isinstance(module, Mapping) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: modules[{i}] has no name")
        if name in costs:
            raise InputError(f"{where}: module {name} is listed twice")
        status = module.get("status")
        if status == "failed":
            raise InputError(f"{where}: module {name} failed, so its cost is incomplete; account a finished run")
        if status in UNMEASURED_STATES:
            continue
        if status not in MEASURED_STATES:
            raise InputError(f"{where}: module {name} has status {status!r}; known: "
                             f"{', '.join((*MEASURED_STATES, *UNMEASURED_STATES, 'failed'))}")
        value = module.get(key)
        if value is None and not required:
            value = 0.0
        if value is None:
            raise InputError(f"{where}: module {name} has no {key} (its CPU time)")
        value = _number(value, f"{where}: module {name} {key}", integer=False)
        if value < 0:
            raise InputError(f"{where}: module {name} has a negative {key} ({value})")
        costs[name] = float(value) / S_PER_H
    return costs


def read_run_costs(path: Path) -> RunCosts:
    """Everything compute accounting needs from the manifest at ``path`` (see :class:`RunCosts`)."""
    path = Path(path)
    manifest = read_manifest(path)
    where = f"run manifest {path}"
    n_obs, dims = manifest_dimensions(manifest, where)
    core_h = module_costs(manifest, where)
    if not core_h:
        raise InputError(f"{where}: no module has finished, so there is no cost to project")
    unmeasured = tuple(m.get("name") for m in manifest["modules"] if m.get("status") in UNMEASURED_STATES)
    return RunCosts(path, n_obs, dims, core_h, module_wall_hours(manifest, where), unmeasured)
