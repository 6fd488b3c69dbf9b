"""One schema per configuration: typed dataclasses whose fields carry help, units and limits.

A configuration class is a (frozen) dataclass. Each field's ``metadata`` may hold
``help`` (text), ``unit`` (string), ``min``/``max`` (inclusive limits) and
``choices``. Defaults, documentation and validation therefore come from one
place and cannot drift. YAML is always read with ``yaml.safe_load``.

Use :func:`option` to declare fields, :func:`from_mapping` to build and validate
an instance from YAML data, :func:`apply_overrides` for ``key=value`` overrides
given on the command line, and :func:`describe` to list every option.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lofar_hires.errors import InputError, MissingInputError

T = TypeVar("T")


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    unit: str | None = None,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[Any] | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare a configuration field with its documentation and limits."""
    metadata = {"help": help, "unit": unit, "min": min, "max": max, "choices": choices}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if isinstance(default, (list, dict, set)):
        frozen = default
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping safely, with one-line errors naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"configuration file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"configuration file {path} is not a YAML text file (not UTF-8)") from None
    except OSError as exc:
        raise InputError(f"cannot read configuration file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"invalid YAML in {path}{where}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path} must contain a YAML mapping, not {type(data).__name__}")
    return data


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Convert/validate ``value`` against the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for alt in args:
            if alt is type(None):
                continue
            try:
                return _convert(value, alt, where)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise InputError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        return from_mapping(tp, value, where)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise InputError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise InputError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or tp is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        key_tp, val_tp = args if args else (Any, Any)
        return {
            _convert(k, key_tp, where): _convert(v, val_tp, f"{where}.{k}") for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise InputError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise InputError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool):
            raise InputError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise InputError(f"{where}: expected a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected text, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise InputError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    return value


def _check_limits(value: Any, meta: Mapping[str, Any], where: str) -> None:
    if value is None:
        return
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise InputError(f"{where}: {value!r} is not one of {list(meta['choices'])}")
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if not math.isfinite(v):
            raise InputError(f"{where}: {v} is not a finite number")
        if meta.get("min") is not None and v < meta["min"]:
            raise InputError(f"{where}: {v}{unit} is below the minimum {meta['min']}{unit}")
        if meta.get("max") is not None and v > meta["max"]:
            raise InputError(f"{where}: {v}{unit} is above the maximum {meta['max']}{unit}")


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build and validate a configuration dataclass from a (YAML) mapping.

    Unknown keys are refused with the list of valid ones; missing keys take the
    field defaults; every value is type-checked and limit-checked.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise InputError(
            f"unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(prefix + str(u) for u in unknown)}; valid: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, fld in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            value = _convert(data[name], hints[name], key)
            _check_limits(value, fld.metadata, key)
            kwargs[name] = value
        elif fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
            raise InputError(f"missing required option {key}")
    return cls(**kwargs)


def to_mapping(obj: Any) -> Any:
    """Convert a configuration dataclass to plain YAML/JSON-friendly data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def merge_mappings(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base`` (mappings merge, others replace)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = value
    return out


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML scalars/lists).

    A numeric key part indexes a list: ``solves.0.solint_s=32`` changes the first solve.
    """
    out = dict(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"override {item!r} is not of the form key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            raise InputError(f"override {item!r}: cannot parse value {raw!r}") from None
        out = _set_path(out, key.strip().split("."), value, key.strip())
    return out


def _set_path(node: Any, parts: list[str], value: Any, key: str) -> Any:
    """A copy of ``node`` with the value at ``parts`` replaced (mappings merge, lists by index)."""
    if not parts:
        if isinstance(value, Mapping) and isinstance(node, Mapping):
            return merge_mappings(node, value)
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            raise InputError(f"override {key}: {head!r} is not an index of a list of {len(node)} item(s)")
        out_list = list(node)
        out_list[int(head)] = _set_path(node[int(head)], rest, value, key)
        return out_list
    out = dict(node) if isinstance(node, Mapping) else {}
    out[head] = _set_path(out.get(head, {}) if rest else out.get(head), rest, value, key)
    return out


def describe(cls: type, prefix: str = "") -> Iterator[tuple[str, Any, str | None, str]]:
    """Yield ``(dotted key, default, unit, help)`` for every option of ``cls``."""
    hints = typing.get_type_hints(cls)
    for fld in dataclasses.fields(cls):
        key = f"{prefix}{fld.name}"
        tp = hints[fld.name]
        if _is_dataclass_type(tp):
            yield from describe(tp, key + ".")
            continue
        if fld.default is not dataclasses.MISSING:
            default = fld.default
        elif fld.default_factory is not dataclasses.MISSING:
            default = fld.default_factory()
        else:
            default = None
        yield key, to_mapping(default), fld.metadata.get("unit"), fld.metadata.get("help", "")
