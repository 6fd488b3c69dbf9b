"""The shipped YAML files in configs/ are the one home of the default settings.

* every defaults file holds exactly the keys of its schema (none missing, none unknown) and the
  values the code uses as defaults (``SolveConfig()``, ``Strategy().stopping``, ...);
* strategies and simulation presets name only known keys, load, and list only what they change
  (a value equal to the default is allowed only when its comment says it is pinned);
* every value in every shipped YAML file has its source beside it: a comment on its line, or
  directly above it, citing a publication ("de Gasperin et al. 2019, section 4.1") or giving
  a "project choice:" with its reason; no file cites an internal specification.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from lofar_hires.accounting import config as accounting_config
from lofar_hires.calibration import config as calibration_config
from lofar_hires.chain import config as run_config
from lofar_hires.chain import profiles
from lofar_hires.classifier import config as classifier_config
from lofar_hires.config_schema import field_default, from_mapping, load_yaml, shipped_path, to_mapping
from lofar_hires.final_imaging import config as final_imaging_config
from lofar_hires.gate import config as gate_config
from lofar_hires.selection import config as selection_config
from lofar_hires.selfcal import recipes, stopping, strategy
from lofar_hires.simulation import config as simulation_config
from lofar_hires.solutions.stations import load_station_groups

CONFIGS = Path(shipped_path("."))
#: Files that hold the default of every setting of their schema, and the class of each.
DEFAULTS_FILES: dict[str, type] = {
    "cluster/local.yaml": profiles.ClusterProfile,
    "classifier.yaml": classifier_config.ClassifierConfig,
    "recipes.yaml": recipes.RecipeConfig,
    "di_calibrator.yaml": calibration_config.CalibratorConfig,
    "di_target.yaml": calibration_config.TargetConfig,
    "final_imaging.yaml": final_imaging_config.FinalImagingConfig,
    "calibratability.yaml": gate_config.CalibratabilityConfig,
    "lofar_dimensions.yaml": accounting_config.CostModel,
    "select_calibrators.yaml": selection_config.SelectionConfig,
    "simulation_defaults.yaml": simulation_config.SimulationConfig,
}
#: selfcal_defaults.yaml holds two sections: every strategy setting and the defaults of one solve.
SELFCAL_SECTIONS: dict[str, type] = {"strategy": strategy.Strategy, "solve": strategy.SolveSpec}
#: Classes whose defaults are still also written in the code, and where their shipped values are.
#: The test keeps the two equal until the class takes its defaults from the file.
DEFAULTS_ALSO_IN_CODE: dict[type, tuple[str, str]] = {}
CONFIG_MODULES = (profiles, classifier_config, calibration_config, selection_config, strategy, stopping, recipes,
                  simulation_config, final_imaging_config, accounting_config, gate_config)
#: A source: a publication with its year, or a project choice with its reason.
SOURCE = re.compile(r"\bet al\.,? \(?\d{4}|\bproject choice[:,]")


# --------------------------------------------------------------------------- comparing a file with the schema


def schema_problems(cls: type, data: Any, defaults: Any = None, where: str = "") -> list[str]:
    """What differs between the YAML mapping ``data`` and the defaults the code uses for ``cls``.

    ``defaults`` is the instance the code uses (default: the field defaults of ``cls``).
    Reports unknown keys, missing keys (a required field has no default and must be absent),
    numbers written as text, and every value that differs from the code's.
    """
    prefix = f"{where}." if where else ""
    if not isinstance(data, Mapping):
        return [f"{where or cls.__name__}: not a mapping"]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = [f"unknown key {prefix}{k}" for k in sorted(set(data) - set(fields))]
    for name, fld in fields.items():
        key = prefix + name
        code = getattr(defaults, name) if defaults is not None else field_default(fld)
        if fld.metadata.get("required"):
            if name in data:
                problems.append(f"{key} is required and must have no default")
            continue
        if name not in data:
            problems.append(f"missing key {key}")
            continue
        raw, tp = data[name], hints[name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            problems += schema_problems(tp, raw, None if code is dataclasses.MISSING else code, key)
            continue
        if float in typing.get_args(tp) + (tp,) and isinstance(raw, str):
            problems.append(f"{key}: the number {raw!r} is text in YAML (write e.g. 1.0e+6)")
        if code is dataclasses.MISSING:
            problems.append(f"{key}: the code has no default")
            continue
        try:
            shipped = to_mapping(read_value(name, tp, fld, raw))
        except Exception as exc:  # noqa: BLE001 - reported as a difference
            problems.append(f"{key}: {exc}")
            continue
        if shipped != to_mapping(code):
            problems.append(f"{key}: the YAML says {shipped!r}, the code uses {to_mapping(code)!r}")
    return problems


def read_value(name: str, tp: Any, fld: dataclasses.Field, raw: Any) -> Any:
    """One YAML value read as the schema reads it (type and limits of the field)."""
    one = dataclasses.make_dataclass("One", [(name, tp, dataclasses.field(metadata=fld.metadata))])
    return getattr(from_mapping(one, {name: raw}), name)


def section(data: Mapping, dotted: str) -> Any:
    for part in (p for p in dotted.split(".") if p):
        data = data[part]
    return data


def config_classes() -> list[type]:
    """Every settings class of the configuration modules (dataclasses whose fields all have help)."""
    found = {}
    for module in CONFIG_MODULES:
        for obj in vars(module).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
                    and all("help" in f.metadata for f in dataclasses.fields(obj))):
                found[f"{obj.__module__}.{obj.__name__}"] = obj
    return [found[k] for k in sorted(found)]


def home_of(cls: type) -> tuple[str, str]:
    return getattr(cls, "__shipped_defaults__", None) or DEFAULTS_ALSO_IN_CODE[cls]


@pytest.mark.parametrize("name, cls", DEFAULTS_FILES.items(), ids=list(DEFAULTS_FILES))
def test_a_defaults_file_holds_exactly_the_code_defaults(name, cls):
    problems = schema_problems(cls, load_yaml(CONFIGS / name))
    assert not problems, f"configs/{name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name, cls", SELFCAL_SECTIONS.items(), ids=list(SELFCAL_SECTIONS))
def test_the_selfcal_defaults_hold_exactly_the_code_defaults(name, cls):
    problems = schema_problems(cls, load_yaml(CONFIGS / "selfcal_defaults.yaml")[name], where=name)
    assert not problems, "configs/selfcal_defaults.yaml:\n  " + "\n  ".join(problems)
    assert set(load_yaml(CONFIGS / "selfcal_defaults.yaml")) == set(SELFCAL_SECTIONS)


@pytest.mark.parametrize("cls", config_classes(), ids=lambda c: c.__name__)
def test_every_settings_class_uses_its_shipped_section_as_defaults(cls):
    """Also the class's own defaults (``AveragingConfig()``), not only those inside its parent."""
    assert hasattr(cls, "__shipped_defaults__") or cls in DEFAULTS_ALSO_IN_CODE, (
        f"{cls.__name__} has no shipped defaults: decorate it with @shipped_defaults(file, section)")
    name, dotted = home_of(cls)
    problems = schema_problems(cls, section(load_yaml(CONFIGS / name), dotted), where=dotted)
    assert not problems, f"configs/{name} ({cls.__name__}):\n  " + "\n  ".join(problems)


def test_nested_sections_keep_their_own_defaults():
    """The target's averaging is not the calibrator's: the section, not the class, is the default."""
    target, calibrator = calibration_config.TargetConfig(), calibration_config.CalibratorConfig()
    assert target.averaging != calibrator.averaging == calibration_config.AveragingConfig()
    partial = calibration_config.load_target_config(overrides=["averaging.time_resolution_s=10"])
    assert partial.averaging.freq_resolution_hz == target.averaging.freq_resolution_hz


def test_the_comparison_reports_every_kind_of_difference():
    data = load_yaml(CONFIGS / "di_calibrator.yaml")
    data["solve"] = {**data["solve"], "minuv_lambda": 301.0, "maxiter_typo": 5}
    del data["fits"]["clock_range_s"]
    data["averaging"]["freq_resolution_hz"] = "1.0e6"
    problems = schema_problems(calibration_config.CalibratorConfig, data)
    assert "unknown key solve.maxiter_typo" in problems
    assert "missing key fits.clock_range_s" in problems
    assert "solve.minuv_lambda: the YAML says 301.0, the code uses 300.0" in problems
    assert any(p.startswith("averaging.freq_resolution_hz: the number '1.0e6' is text") for p in problems)


# --------------------------------------------------------------------------- strategies and presets


OVERLAYS = {**{f"selfcal/{n}.yaml": ("strategy", n) for n in strategy.shipped_strategies()},
            **{f"simulation/{n}.yaml": ("simulation", n) for n in simulation_config.preset_names()},
            **{f"cluster/{n}.yaml": ("cluster", n) for n in profiles.profile_names() if n != "local"},
            "run/tiny/final_imaging.yaml": ("final_imaging", "run/tiny/final_imaging.yaml")}
#: Run configurations (configs/run/*.yaml): checked by tests/chain/test_chain_units.py (they load, and every module
#: setting is an input of the module's workflow); here only the sources of their values.
RUN_CONFIGS = {f"run/{n}.yaml" for n in run_config.run_config_names()}


def test_every_shipped_yaml_file_is_checked_here():
    shipped = {p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*.yaml")}
    known = {*DEFAULTS_FILES, "selfcal_defaults.yaml", "station_groups.yaml", *OVERLAYS, *RUN_CONFIGS}
    assert shipped == known, f"unchecked: {sorted(shipped - known)}; missing: {sorted(known - shipped)}"


def repeated_defaults(data: Any, defaults: Any, where: str = "") -> Iterator[str]:
    """Dotted keys whose value in ``data`` equals that in ``defaults`` (plain YAML-like data both)."""
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in defaults:
            continue
        default = defaults[key]
        if isinstance(value, Mapping) and isinstance(default, Mapping):
            yield from repeated_defaults(value, default, path)
        elif (isinstance(value, list) and isinstance(default, list) and len(value) == len(default)
              and all(isinstance(v, Mapping) for v in [*value, *default])):
            for i, (item, item_default) in enumerate(zip(value, default)):
                yield from repeated_defaults(item, item_default, f"{path}.{i}")
        elif value == default:
            yield path


@pytest.mark.parametrize("name", OVERLAYS, ids=list(OVERLAYS))
def test_strategies_and_presets_load_and_list_only_what_they_change(name):
    kind, short = OVERLAYS[name]
    raw = load_yaml(CONFIGS / name)
    if kind == "strategy":
        strategy.load_strategy(short)
        given = to_mapping(from_mapping(strategy.Strategy, raw))
        defaults = to_mapping(strategy.Strategy())
        solve = {k: v for k, v in to_mapping(strategy.SolveSpec(soltype="scalarphase")).items() if k != "soltype"}
        defaults["solves"] = [solve] * len(given["solves"])
    elif kind == "cluster":
        given = to_mapping(profiles.load_profile(short))
        defaults = to_mapping(profiles.ClusterProfile())
    elif kind == "final_imaging":
        given = to_mapping(final_imaging_config.load_final_imaging_config(CONFIGS / short))
        defaults = to_mapping(final_imaging_config.FinalImagingConfig())
    else:
        simulation_config.load_simulation_config(short)
        given = to_mapping(from_mapping(simulation_config.SimulationConfig, raw))
        defaults = to_mapping(simulation_config.SimulationConfig())
    pinned = {path for path, comment in leaf_comments((CONFIGS / name).read_text()) if "pinned" in comment}
    redundant = sorted(set(repeated_defaults(given, defaults)) & set(leaf_paths(raw)) - pinned)
    assert not redundant, f"configs/{name} repeats defaults (remove them, or say why they are pinned): {redundant}"


def leaf_paths(data: Any, where: str = "") -> Iterator[str]:
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if isinstance(value, Mapping):
            yield from leaf_paths(value, path)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                yield from leaf_paths(item, f"{path}.{i}")
        else:
            yield path


# --------------------------------------------------------------------------- sources beside the values


def comment_of(line: str) -> str:
    """The comment at the end of a YAML line ('' when none; '#' inside quotes is text)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[i + 1:].strip()
    return ""


def _keys(node: yaml.Node, where: str, depth: int, leaf_depth: int | None) -> Iterator[tuple[str, yaml.Node,
                                                                                          yaml.Node]]:
    """(dotted key, key node, value node) of every leaf (or of every key at ``leaf_depth``)."""
    for key_node, value_node in node.value:
        path = f"{where}.{key_node.value}" if where else str(key_node.value)
        if leaf_depth is not None and depth == leaf_depth:
            yield path, key_node, value_node
        elif isinstance(value_node, yaml.MappingNode):
            yield from _keys(value_node, path, depth + 1, leaf_depth)
        elif (isinstance(value_node, yaml.SequenceNode) and value_node.value
              and all(isinstance(v, yaml.MappingNode) for v in value_node.value)):
            for i, item in enumerate(value_node.value):
                yield from _keys(item, f"{path}.{i}", depth + 1, leaf_depth)
        elif leaf_depth is None:
            yield path, key_node, value_node


def leaf_comments(text: str, leaf_depth: int | None = None) -> list[tuple[str, str]]:
    """(dotted key, its comments) of every leaf: the comment on its line(s) and the comment lines above it."""
    lines = text.splitlines()
    root = yaml.compose(text)
    out = []
    for path, key_node, value_node in _keys(root, "", 1, leaf_depth):
        first = key_node.start_mark.line
        last = value_node.end_mark.line - (1 if value_node.end_mark.column == 0 else 0)
        comments = [comment_of(lines[i]) for i in range(first, max(first, last) + 1)]
        i = first - 1
        while i >= 0 and lines[i].strip().startswith("#"):
            comments.append(lines[i].strip().lstrip("#").strip())
            i -= 1
        out.append((path, " ".join(c for c in comments if c)))
    return out


def unsourced(text: str, leaf_depth: int | None = None) -> list[str]:
    return [path for path, comment in leaf_comments(text, leaf_depth) if not SOURCE.search(comment)]


SHIPPED_YAML = sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED_YAML)
def test_every_value_has_its_source_beside_it(name):
    text = (CONFIGS / name).read_text()
    # A station group is one value: its comment stands above the group's name.
    missing = unsourced(text, leaf_depth=2 if name == "station_groups.yaml" else None)
    assert not missing, (f"configs/{name}: give these a comment citing their source (a paper section, or "
                         f"'project choice: reason') on their line or directly above: {missing}")
    assert not re.search(r"\bSPEC\b", text), f"configs/{name} cites an internal specification"


def test_the_source_check_sees_a_value_without_a_source():
    text = ("# header: project choice: a comment above the section does not cover its keys\n"
            "a:\n"
            "  b: 1  # de Gasperin et al. 2019, section 4\n"
            "  # project choice: the block directly above counts\n"
            "  c: 2\n"
            "  d: 3  # a comment without a source\n"
            "  e: [1,\n"
            "      2]  # project choice: the end of a value that spans lines counts\n"
            "  f: 'x # not a comment'\n"
            "solves:\n"
            "  - {name: x, soltype: y}  # project choice: one comment covers a one-line item\n"
            "  - name: z\n")
    assert unsourced(text) == ["a.d", "a.f", "solves.1.name"]
    assert unsourced("groups:\n  # project choice: the group\n  g: {include: [x]}\n  h: {include: [y]}\n",
                     leaf_depth=2) == ["groups.h"]


def test_station_groups_load():
    assert "core" in load_station_groups(CONFIGS / "station_groups.yaml")
