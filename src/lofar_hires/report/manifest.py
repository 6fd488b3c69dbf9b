"""The run manifest ``RUN_DIR/run.json`` of ``lofar-hires run``, read and checked.

The manifest (format ``lofar-hires-run/1``) holds the run's configuration file, its runner,
start and end, the observations, the data dimensions, one record per module (status, wall
and CPU time, bytes written, warnings, message) and the calibratability verdicts. Every
field is checked for its type here, so that the report renders only values of known kinds;
a manifest that does not parse, is not of this format or holds a field of the wrong type is
refused with one :class:`~lofar_hires.errors.InputError` that names the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lofar_hires.errors import InputError, MissingInputError

#: The format tag of the manifests this module reads.
RUN_FORMAT = "lofar-hires-run/1"
#: File name of the manifest in a run directory.
MANIFEST_NAME = "run.json"
#: Status of a module in the manifest.
STATUSES = ("done", "failed", "skipped", "stopped", "running", "pending")
#: Largest manifest read (bytes): a manifest is a few kilobytes per module.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ModuleRecord:
    """One module of the run as the manifest records it."""

    name: str
    status: str
    workflow: str | None
    started_utc: str | None
    wall_s: float | None
    core_s: float | None
    disk_bytes: int | None
    warnings: tuple[str, ...]
    message: str | None


@dataclass(frozen=True)
class GateVerdict:
    """The calibratability verdict of one observation."""

    observation: str
    passed: bool | None
    score: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RunManifest:
    """A checked run manifest."""

    path: Path
    config: str | None
    runner: str | None
    started_utc: str | None
    finished_utc: str | None
    observations: tuple[str, ...]
    data: tuple[tuple[str, str | float | int | bool | None], ...]
    modules: tuple[ModuleRecord, ...]
    gate: tuple[GateVerdict, ...] | None
    chain: tuple[str, ...] = ()  # the chain's modules in order, as the run wrote them (a module not in
    # ``modules`` did not run)

    def module(self, name: str) -> ModuleRecord | None:
        """The last record of module ``name``, None when the manifest has none."""
        found = [m for m in self.modules if m.name == name]
        return found[-1] if found else None

    def module_order(self) -> list[str]:
        """The chain's modules in run order, then any other module of the manifest in its order."""
        extra = [m.name for m in self.modules if m.name not in self.chain]
        return [*self.chain, *dict.fromkeys(extra)]


def _fail(path: Path, what: str) -> InputError:
    return InputError(f"{path} is not a valid run manifest ({RUN_FORMAT}): {what}")


def _text(path: Path, where: str, value: Any, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _fail(path, f"{where} must be text, not {type(value).__name__}")
    return value


def _number(path: Path, where: str, value: Any) -> float | None:
    """A finite, non-negative number or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"{where} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise _fail(path, f"{where} is {value}; it must be a finite number >= 0")
    return float(value)


def _texts(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"{where} must be a list of text")
    return tuple(value)


def _module(path: Path, index: int, raw: Any) -> ModuleRecord:
    where = f"modules[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(path, f"{where} must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(path, f"{where}.name must be non-empty text")
    where = f"module {name!r}"
    status = raw.get("status")
    if status not in STATUSES:
        raise _fail(path, f"{where}: status {status!r} is none of {', '.join(STATUSES)}")
    disk = _number(path, f"{where}: disk_bytes", raw.get("disk_bytes"))
    return ModuleRecord(name=name, status=status, workflow=_text(path, f"{where}: workflow", raw.get("workflow")),
                        started_utc=_text(path, f"{where}: started_utc", raw.get("started_utc")),
                        wall_s=_number(path, f"{where}: wall_s", raw.get("wall_s")),
                        core_s=_number(path, f"{where}: core_s", raw.get("core_s")),
                        disk_bytes=None if disk is None else int(disk),
                        warnings=_texts(path, f"{where}: warnings", raw.get("warnings")),
                        message=_text(path, f"{where}: message", raw.get("message")))


def _gate(path: Path, raw: Any) -> tuple[GateVerdict, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail(path, "gate must be an object (observation -> verdict) or null")
    verdicts = []
    for obs, verdict in raw.items():
        where = f"gate[{obs!r}]"
        if not isinstance(verdict, Mapping):
            raise _fail(path, f"{where} must be an object")
        passed = verdict.get("passed")
        if passed is not None and not isinstance(passed, bool):
            raise _fail(path, f"{where}.passed must be true or false")
        verdicts.append(GateVerdict(str(obs), passed, _number(path, f"{where}.score", verdict.get("score")),
                                    _texts(path, f"{where}.reasons", verdict.get("reasons"))))
    return tuple(verdicts)


def _data(path: Path, raw: Any) -> tuple[tuple[str, str | float | int | bool | None], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise _fail(path, "data must be an object of data dimensions")
    out = []
    for key, value in raw.items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise _fail(path, f"data.{key} must be a number or text")
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(path, f"data.{key} is {value}; it must be finite")
        out.append((str(key), value))
    return tuple(out)


def parse_manifest(content: Mapping[str, Any], path: Path) -> RunManifest:
    """Check a decoded manifest; ``path`` names it in messages.

    Raises
    ------
    InputError
        Another format, or a field of the wrong type (named in the message).
    """
    if not isinstance(content, Mapping):
        raise _fail(path, f"the top level must be an object, not {type(content).__name__}")
    if content.get("format") != RUN_FORMAT:
        raise _fail(path, f"format is {content.get('format')!r}, expected {RUN_FORMAT!r}")
    modules = content.get("modules")
    if not isinstance(modules, list):
        raise _fail(path, "modules must be a list")
    observations = content.get("observations")
    if observations is None:
        observations = []
    if not isinstance(observations, list) or not all(isinstance(o, str) for o in observations):
        raise _fail(path, "observations must be a list of names")
    chain = content.get("chain") or []
    if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
        raise _fail(path, "chain must be a list of module names")
    return RunManifest(
        path=path,
        config=_text(path, "config", content.get("config")),
        runner=_text(path, "runner", content.get("runner")),
        started_utc=_text(path, "started_utc", content.get("started_utc")),
        finished_utc=_text(path, "finished_utc", content.get("finished_utc")),
        observations=tuple(observations),
        data=_data(path, content.get("data")),
        modules=tuple(_module(path, i, m) for i, m in enumerate(modules)),
        gate=_gate(path, content.get("gate")),
        chain=tuple(chain),
    )


def read_manifest(run_dir: Path) -> RunManifest:
    """Read and check ``RUN_DIR/run.json``.

    Parameters
    ----------
    run_dir
        The output directory of ``lofar-hires run``.

    Returns
    -------
    RunManifest

    Raises
    ------
    MissingInputError
        The run directory or its manifest does not exist.
    InputError
        ``run_dir`` is not a directory, or the manifest is not UTF-8 JSON of format ``lofar-hires-run/1``.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise MissingInputError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise InputError(f"run directory {run_dir} is not a directory")
    path = run_dir / MANIFEST_NAME
    if not path.exists():
        raise MissingInputError(f"run directory {run_dir} holds no {MANIFEST_NAME}: it is not the output directory "
                                "of lofar-hires run")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise _fail(path, f"{size} bytes, more than a manifest ever holds ({MAX_MANIFEST_BYTES})")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise _fail(path, "nested too deeply") from None
    return parse_manifest(content, path)
