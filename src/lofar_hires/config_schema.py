"""One schema per configuration: typed dataclasses whose fields carry help, units and limits.

A configuration class is a (frozen) dataclass. Each field's ``metadata`` may hold
``help`` (text), ``unit`` (string), ``min``/``max`` (inclusive limits),
``choices`` and ``required``. Documentation and validation therefore come from
one place. YAML is always read with ``yaml.safe_load``.

The default VALUES of the pipeline settings have one home: the YAML files shipped
in ``configs/`` (package ``lofar_hires.configs``), where each value stands next to
its source. A class decorated with :func:`shipped_defaults` takes its field
defaults from such a file when it is defined, so ``SolveConfig()`` gives the
shipped defaults; a default written in the code as well, a missing or an unknown
key is refused at import (``tests/test_config_defaults.py`` checks the same).

Use :func:`option` to declare fields, :func:`from_mapping` to build and validate
an instance from YAML data, :func:`apply_overrides` for ``key=value`` overrides
given on the command line, and :func:`describe` to list every option. Errors name
the setting as a dotted key (``fits.delay_range_s``, ``solves.0.solint_s``) in the
message and in :attr:`InputError.setting`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lofar_hires.errors import InputError, MissingInputError

T = TypeVar("T")

#: The package holding the shipped YAML files (``configs/`` in the source tree).
SHIPPED_PACKAGE = "lofar_hires.configs"


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    unit: str | None = None,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[Any] | None = None,
    required: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare a configuration field with its documentation and limits.

    In a class decorated with :func:`shipped_defaults` give no default: the value
    comes from the shipped YAML file, except for ``required=True`` fields, which
    every configuration must set itself.
    """
    metadata = {"help": help, "unit": unit, "min": min, "max": max, "choices": choices, "required": required}
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


def _bad(where: str, problem: str) -> InputError:
    """An :class:`InputError` about the setting ``where`` (a dotted key)."""
    return InputError(f"{where}: {problem}" if where else problem, setting=where or None)


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
                errors.append(exc)
        raise errors[0] if errors else _bad(where, f"invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise _bad(where, f"{value!r} is not one of {list(args)}")
        return value
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _bad(where, f"expected a mapping, got {value!r}")
        return from_mapping(tp, value, where)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise _bad(where, f"expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _bad(where, f"expected {len(args)} values, got {len(value)}")
            return tuple(_convert(v, a, f"{where}.{i}") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{where}.{i}") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or tp is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise _bad(where, f"expected a mapping, got {value!r}")
        key_tp, val_tp = args if args else (Any, Any)
        return {
            _convert(k, key_tp, where): _convert(v, val_tp, f"{where}.{k}") for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _bad(where, f"expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise _bad(where, f"expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool):
            raise _bad(where, f"expected a number, got {value!r}")
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _bad(where, f"expected a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise _bad(where, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _bad(where, f"expected text, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise _bad(where, f"expected a path, got {value!r}")
        return Path(value)
    return value


def _check_limits(value: Any, meta: Mapping[str, Any], where: str) -> None:
    if value is None:
        return
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise _bad(where, f"{value!r} is not one of {list(meta['choices'])}")
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if not math.isfinite(v):
            raise _bad(where, f"{v} is not a finite number")
        if meta.get("min") is not None and v < meta["min"]:
            raise _bad(where, f"{v}{unit} is below the minimum {meta['min']}{unit}")
        if meta.get("max") is not None and v > meta["max"]:
            raise _bad(where, f"{v}{unit} is above the maximum {meta['max']}{unit}")


def field_default(fld: dataclasses.Field) -> Any:
    """The default value of a dataclass field (``dataclasses.MISSING`` when it has none)."""
    if fld.default is not dataclasses.MISSING:
        return fld.default
    if fld.default_factory is not dataclasses.MISSING:
        return fld.default_factory()
    return dataclasses.MISSING


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build and validate a configuration dataclass from a (YAML) mapping.

    Unknown keys are refused with the list of valid ones; missing keys take the
    field defaults (a partly given section keeps the rest of that field's default,
    e.g. the target's averaging); every value is type-checked and limit-checked.
    """
    if not isinstance(data, Mapping):
        raise _bad(where, f"expected a mapping, got {data!r}") if where else InputError(
            f"{cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(
            f"unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(prefix + str(u) for u in unknown)}; valid: {', '.join(sorted(fields))}",
            setting=prefix + str(unknown[0]),
        )
    kwargs: dict[str, Any] = {}
    for name, fld in fields.items():
        key = prefix + name
        if name in data:
            raw = data[name]
            if _is_dataclass_type(hints[name]) and isinstance(raw, Mapping):
                base = field_default(fld)
                if base is not dataclasses.MISSING:
                    raw = merge_mappings(to_mapping(base), raw)
            value = _convert(raw, hints[name], key)
            _check_limits(value, fld.metadata, key)
            kwargs[name] = value
        elif fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
            raise InputError(f"missing required option {key}", setting=key)
    return cls(**kwargs)


def shipped_path(name: str) -> Path:
    """Path of the shipped YAML file ``name`` (relative to ``configs/``)."""
    return Path(str(resources.files(SHIPPED_PACKAGE) / name))


@functools.lru_cache(maxsize=32)
def _read_shipped(path: Path, mtime_ns: int) -> dict[str, Any]:
    """A shipped YAML file, read once per version (every class of a module reads the same file)."""
    return load_yaml(path)


def shipped_section(name: str, section: str = "") -> dict[str, Any]:
    """A copy of the mapping at the dotted ``section`` of the shipped YAML file ``name`` (all of it for "")."""
    path = shipped_path(name)
    data: Any = _read_shipped(path, path.stat().st_mtime_ns) if path.is_file() else load_yaml(path)
    for part in (p for p in section.split(".") if p):
        if not isinstance(data, Mapping) or not isinstance(data.get(part), Mapping):
            raise InputError(f"configs/{name} has no section {section}", setting=section)
        data = data[part]
    return copy.deepcopy(dict(data))


def shipped_defaults(name: str, section: str = "") -> Callable[[type[T]], type[T]]:
    """Class decorator, placed below ``@dataclass``: field defaults from the shipped YAML file ``name``.

    The mapping at ``section`` of ``configs/<name>`` gives the default of every
    field (a nested configuration gets its whole sub-section, so the same class can
    have other defaults inside another configuration). The class records
    ``(name, section)`` as ``__shipped_defaults__``.

    Raises
    ------
    InputError
        When the class is defined: a field with a default in the code, a field
        missing from the YAML (unless ``option(required=True)``), a default given
        for a required field, an unknown key, or a value of the wrong type or
        outside the field's limits.
    """

    def decorate(cls: type[T]) -> type[T]:
        origin = f"configs/{name}"
        data = shipped_section(name, section)
        hints = typing.get_type_hints(cls)
        declared = {key: vars(cls).get(key) for key in cls.__dict__.get("__annotations__", {})}
        prefix = f"{section}." if section else ""
        unknown = sorted(set(data) - set(declared))
        if unknown:
            raise InputError(f"{origin}: unknown option(s) {', '.join(prefix + k for k in unknown)}; valid: "
                             f"{', '.join(declared)}", setting=prefix + unknown[0])
        for key, fld in declared.items():
            where = prefix + key
            if not isinstance(fld, dataclasses.Field):
                raise InputError(f"{cls.__name__}.{key} must be declared with option()", setting=where)
            if fld.default is not dataclasses.MISSING or fld.default_factory is not dataclasses.MISSING:
                raise InputError(f"{cls.__name__}.{key} has a default in the code; its default belongs in "
                                 f"{origin} ({where})", setting=where)
            if fld.metadata.get("required"):
                if key in data:
                    raise InputError(f"{origin}: {where} is required in every configuration and takes no "
                                     "default", setting=where)
                continue
            if key not in data:
                raise InputError(f"{origin} lacks {where} (a setting of {cls.__name__})", setting=where)
            try:
                _set_default(fld, data[key], hints[key], where)
            except InputError as exc:
                raise InputError(f"{origin}: {exc}", setting=exc.setting) from None
        cls.__shipped_defaults__ = (name, section)  # type: ignore[attr-defined]
        return cls

    return decorate


def _set_default(fld: dataclasses.Field, raw: Any, tp: Any, where: str) -> None:
    """Make the validated ``raw`` value the default of ``fld`` (a copy per instance when mutable)."""
    if _is_dataclass_type(tp):
        if not isinstance(raw, Mapping):
            raise _bad(where, f"expected a mapping, got {raw!r}")
        section = dict(raw)
        from_mapping(tp, section, where)
        fld.default_factory = functools.partial(from_mapping, tp, section, where)  # type: ignore[misc]
        return
    value = _convert(raw, tp, where)
    _check_limits(value, fld.metadata, where)
    if isinstance(value, (list, dict, set)):
        fld.default_factory = functools.partial(copy.deepcopy, value)  # type: ignore[misc]
    else:
        fld.default = value


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
            raise InputError(f"override {item!r}: cannot parse value {raw!r}", setting=key.strip()) from None
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
            raise InputError(f"override {key}: {head!r} is not an index of a list of {len(node)} item(s)",
                             setting=key)
        out_list = list(node)
        out_list[int(head)] = _set_path(node[int(head)], rest, value, key)
        return out_list
    out = dict(node) if isinstance(node, Mapping) else {}
    out[head] = _set_path(out.get(head, {}) if rest else out.get(head), rest, value, key)
    return out


def describe(cls: type, prefix: str = "", defaults: Any = None) -> Iterator[tuple[str, Any, str | None, str]]:
    """Yield ``(dotted key, default, unit, help)`` for every option of ``cls``.

    ``defaults`` is the instance whose values are listed (default: the field
    defaults of ``cls``; a nested section lists the defaults it has inside ``cls``).
    A required option is listed with the default None.
    """
    hints = typing.get_type_hints(cls)
    for fld in dataclasses.fields(cls):
        key = f"{prefix}{fld.name}"
        default = getattr(defaults, fld.name) if defaults is not None else field_default(fld)
        if default is dataclasses.MISSING:
            default = None
        if _is_dataclass_type(hints[fld.name]):
            yield from describe(hints[fld.name], key + ".", default)
            continue
        yield key, to_mapping(default), fld.metadata.get("unit"), fld.metadata.get("help", "")
