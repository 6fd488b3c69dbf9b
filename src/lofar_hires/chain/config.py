"""The configuration of a run of the whole chain (``lofar-hires run CONFIG``).

A YAML file with either ``simulate`` (the embedded default: a simulated field) or ``observations`` (one entry per
observation: its ``name``, ``target`` and ``calibrator`` measurement sets), the sky models, the cluster profile,
the modules left out, and per module extra inputs of its workflow (checked against the workflow's inputs).
Relative paths are relative to the configuration file. The shipped runs are ``configs/run/*.yaml``.

``extends: BASE`` (a shipped run's name or a path) starts from another configuration: mappings merge key by key,
lists of overrides (keys ending in ``overrides``) are appended to the base's (later settings win), anything else
replaces the base's value. Relative paths keep meaning the base file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lofar_hires.config_schema import load_yaml, shipped_path
from lofar_hires.errors import InputError

#: The run of ``lofar-hires run`` without a configuration: the chain to a 0.3 arcsec mosaic on a simulated field
#: with all six international stations (``configs/run/medium.yaml``; ``tiny`` is the quicker field the tests use).
DEFAULT_RUN = "medium"
KEYS = {"simulate", "observations", "skymodel", "calibrator_skymodel", "delay_calibrator", "cluster", "skip",
        "modules", "description", "extends"}
#: File and Directory objects of module inputs, and these top-level keys, hold paths relative to their file.
_PATH_KEYS = ("skymodel", "calibrator_skymodel")


@dataclass(frozen=True)
class SimulateSettings:
    preset: str
    seed: int | None = None
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObservationInput:
    name: str
    target: Path
    calibrator: Path | None


@dataclass(frozen=True)
class RunConfig:
    path: Path
    simulate: SimulateSettings | None = None
    observations: tuple[ObservationInput, ...] = ()
    skymodel: Path | None = None
    calibrator_skymodel: Path | None = None
    delay_calibrator: tuple[str, float, float] | None = None
    cluster: str = "local"
    skip: tuple[str, ...] = ()
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)


def run_config_names() -> list[str]:
    return sorted(p.stem for p in Path(shipped_path("run")).glob("*.yaml"))


def resolve_config_path(name_or_path: str | Path | None) -> Path:
    """A run configuration by path, or a shipped one by name (``None``: the embedded default, :data:`DEFAULT_RUN`)."""
    if name_or_path is None:
        return Path(shipped_path(f"run/{DEFAULT_RUN}.yaml"))
    path = Path(name_or_path)
    if path.is_file():
        return path.absolute()
    if path.exists():
        raise InputError(f"run configuration {path} is not a file", setting="config")
    if str(name_or_path) in run_config_names():
        return Path(shipped_path(f"run/{name_or_path}.yaml"))
    raise InputError(f"run configuration {name_or_path} does not exist (shipped: {', '.join(run_config_names())})",
                     setting="config")


def _path(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where} must be a path, got {value!r}", setting=where)
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a mapping, got {type(value).__name__}", setting=where)
    return value


def _absolute(value: str, folder: Path) -> str:
    return str(_path(value, folder, "extends"))


def _with_absolute_paths(data: dict, folder: Path) -> dict:
    """``data`` with the relative paths it names made absolute (against ``folder``), for another file to extend."""
    out = dict(data)
    for key in _PATH_KEYS:
        if isinstance(out.get(key), str) and out[key]:
            out[key] = _absolute(out[key], folder)
    if isinstance(out.get("observations"), list):
        out["observations"] = [
            {k: (_absolute(v, folder) if k in ("target", "calibrator") and isinstance(v, str) and v else v)
             for k, v in entry.items()} if isinstance(entry, dict) else entry
            for entry in out["observations"]]

    def files(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("class") in ("File", "Directory") and isinstance(value.get("path"), str):
                return {**value, "path": _absolute(value["path"], folder)}
            return {k: files(v) for k, v in value.items()}
        if isinstance(value, list):
            return [files(v) for v in value]
        return value

    if isinstance(out.get("modules"), dict):
        out["modules"] = files(out["modules"])
    return out


def merge_run_settings(base: dict, child: dict) -> dict:
    """``child`` over ``base``: mappings merge, ``*overrides`` lists append, other values replace."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_run_settings(out[key], value)
        elif str(key).endswith("overrides") and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = [*out[key], *value]
        else:
            out[key] = value
    return out


def read_run_settings(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The settings of a run configuration with the configurations it ``extends`` merged in."""
    path = Path(path).absolute()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise InputError(f"{_seen[0]}: extends runs in a circle ({chain})", setting="extends")
    data = _mapping(load_yaml(path), str(path))
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise InputError(f"{path}: extends must name a shipped run or a configuration file, got {parent!r}",
                         setting="extends")
    candidate = Path(parent).expanduser()
    if not candidate.is_absolute() and (path.parent / candidate).is_file():
        candidate = path.parent / candidate
    try:
        base_path = resolve_config_path(candidate if candidate.is_file() else parent)
    except InputError as exc:
        raise InputError(f"{path}: extends {parent}: {exc}", setting="extends") from None
    base = _with_absolute_paths(read_run_settings(base_path, (*_seen, path)), base_path.parent)
    return merge_run_settings(base, data)


def load_run_config(path: Path) -> RunConfig:
    """Read and check a run configuration (unknown keys, missing measurement sets and calibrators are refused)."""
    from lofar_hires.chain.modules import MODULE_NAMES

    data = read_run_settings(path)
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise InputError(f"{path}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(KEYS))}",
                         setting=unknown[0])
    base = path.parent
    simulate = None
    if data.get("simulate") is not None:
        sim = _mapping(data["simulate"], "simulate")
        extra = sorted(set(sim) - {"preset", "seed", "overrides"})
        if extra or not isinstance(sim.get("preset"), str):
            raise InputError(f"{path}: simulate needs a preset and takes only preset, seed, overrides"
                             f"{' (unknown: ' + ', '.join(extra) + ')' if extra else ''}", setting="simulate")
        overrides = sim.get("overrides") or []
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise InputError(f"{path}: simulate.overrides must be a list of KEY=VALUE strings", setting="simulate")
        seed = sim.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise InputError(f"{path}: simulate.seed must be an integer, got {seed!r}", setting="simulate.seed")
        simulate = SimulateSettings(sim["preset"], seed, tuple(overrides))
    observations = []
    for i, entry in enumerate(data.get("observations") or []):
        where = f"observations[{i}]"
        entry = _mapping(entry, where)
        extra = sorted(set(entry) - {"name", "target", "calibrator"})
        if extra:
            raise InputError(f"{path}: {where} has unknown key(s) {', '.join(extra)} (name, target, calibrator)",
                             setting=where)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{path}: {where} needs a name", setting=where)
        if "target" not in entry:
            raise InputError(f"{path}: observation {name} has no target measurement set", setting=where)
        if not entry.get("calibrator"):
            raise InputError(f"{path}: observation {name} has no calibrator measurement set: every target needs "
                             "the flux-calibrator scan of its observation", setting=where)
        observations.append(ObservationInput(name, _path(entry["target"], base, f"{where}.target"),
                                             _path(entry["calibrator"], base, f"{where}.calibrator")))
    if (simulate is None) == (not observations):
        raise InputError(f"{path}: give either simulate or observations", setting="observations")
    names = [o.name for o in observations]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: observation names must differ: {', '.join(names)}", setting="observations")
    delay = None
    if data.get("delay_calibrator") is not None:
        dc = _mapping(data["delay_calibrator"], "delay_calibrator")
        try:
            delay = (str(dc["name"]), float(dc["ra_deg"]), float(dc["dec_deg"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: delay_calibrator needs name, ra_deg and dec_deg", setting="delay_calibrator")
    skip = data.get("skip") or []
    if not isinstance(skip, list) or any(s not in MODULE_NAMES for s in skip):
        raise InputError(f"{path}: skip must list modules of the chain ({', '.join(MODULE_NAMES)})", setting="skip")
    modules = _mapping(data.get("modules") or {}, "modules")
    for name, inputs in modules.items():
        if name not in MODULE_NAMES:
            raise InputError(f"{path}: modules.{name}: no such module ({', '.join(MODULE_NAMES)})", setting="modules")
        _mapping(inputs, f"modules.{name}")
    cluster = data.get("cluster", "local")
    if not isinstance(cluster, str):
        raise InputError(f"{path}: cluster must be a profile name or file", setting="cluster")
    return RunConfig(
        path=path.absolute(), simulate=simulate, observations=tuple(observations),
        skymodel=_path(data["skymodel"], base, "skymodel") if data.get("skymodel") else None,
        calibrator_skymodel=(_path(data["calibrator_skymodel"], base, "calibrator_skymodel")
                             if data.get("calibrator_skymodel") else None),
        delay_calibrator=delay, cluster=cluster, skip=tuple(skip), modules={k: dict(v) for k, v in modules.items()})
