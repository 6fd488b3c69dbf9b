"""The configuration schema: validation, overrides and documentation from one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from lofar_hires import config_schema
from lofar_hires.config_schema import (
    apply_overrides,
    describe,
    from_mapping,
    load_yaml,
    option,
    shipped_defaults,
    to_mapping,
)
from lofar_hires.errors import InputError, MissingInputError


@dataclass(frozen=True)
class Inner:
    solint_s: float = option(32.0, help="solution interval", unit="s", min=1.0, max=600.0)
    mode: str = option("scalarphase", help="solve type", choices=["scalarphase", "diagonal"])


@dataclass(frozen=True)
class Outer:
    name: str = option("x", help="name")
    count: int = option(3, help="how many", min=0)
    flag: bool = option(False, help="a switch")
    inner: Inner = option(default_factory=Inner, help="nested")
    pair: tuple[float, float] = option((1.0, 2.0), help="two numbers")
    stations: list[str] = option(["CS002HBA0"], help="names")
    path: str | None = option(None, help="optional")


def test_defaults_and_nested_values():
    cfg = from_mapping(Outer, {"inner": {"solint_s": 64}, "count": 5})
    assert cfg.inner.solint_s == 64.0 and cfg.inner.mode == "scalarphase"
    assert cfg.count == 5 and cfg.flag is False and cfg.pair == (1.0, 2.0)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"cuont": 1}, "unknown option cuont; valid: count"),
        ({"inner": {"solnt_s": 1}}, "unknown option inner.solnt_s"),
        ({"count": 1.5}, "count: expected an integer"),
        ({"count": -1}, "count: -1 is below the minimum 0"),
        ({"inner": {"solint_s": 900}}, "inner.solint_s: 900.0 s is above the maximum 600.0 s"),
        ({"inner": {"mode": "fulljones"}}, "inner.mode: 'fulljones' is not one of"),
        ({"flag": "yes"}, "flag: expected true or false"),
        ({"pair": [1.0]}, "pair: expected 2 values"),
        ({"stations": "CS002HBA0"}, "stations: expected a list"),
    ],
    ids=["typo", "nested-typo", "float-for-int", "below-min", "above-max", "bad-choice",
         "string-bool", "short-tuple", "string-for-list"],
)
def test_invalid_values_name_the_option(data, message):
    with pytest.raises(InputError, match=None) as err:
        from_mapping(Outer, data)
    assert message in str(err.value)


def test_overrides_parse_yaml_scalars_and_lists():
    data = apply_overrides({"inner": {"mode": "diagonal"}},
                           ["inner.solint_s=120", "flag=true", "stations=[CS001HBA0, RS106HBA]"])
    cfg = from_mapping(Outer, data)
    assert cfg.inner.solint_s == 120.0 and cfg.inner.mode == "diagonal"
    assert cfg.flag is True and cfg.stations == ["CS001HBA0", "RS106HBA"]
    with pytest.raises(InputError, match="not of the form key=value"):
        apply_overrides({}, ["flag"])


def test_describe_lists_every_leaf_option_with_units():
    rows = {key: (default, unit, text) for key, default, unit, text in describe(Outer)}
    assert rows["inner.solint_s"] == (32.0, "s", "solution interval")
    assert set(rows) == {"name", "count", "flag", "inner.solint_s", "inner.mode", "pair", "stations", "path"}
    assert to_mapping(from_mapping(Outer, {}))["inner"] == {"solint_s": 32.0, "mode": "scalarphase"}


def test_load_yaml_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(InputError, match=r"invalid YAML in .*bad.yaml line \d+"):
        load_yaml(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(InputError, match="must contain a YAML mapping"):
        load_yaml(scalar)
    with pytest.raises(MissingInputError):
        load_yaml(tmp_path / "absent.yaml")


def test_yaml_loading_is_safe(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("a: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(InputError):
        load_yaml(evil)


def test_non_finite_numbers_and_binary_files_are_refused(tmp_path):
    """NaN and inf pass every min/max comparison, so they are refused by name; a binary file is not YAML."""
    from lofar_hires.calibration.config import load_calibrator_config
    from lofar_hires.config_schema import load_yaml
    from lofar_hires.errors import InputError

    for value in ("nan", "inf", "-inf"):
        with pytest.raises(InputError, match=rf"solve.minuv_lambda: {value} is not a finite number"):
            load_calibrator_config(overrides=[f"solve.minuv_lambda={value}"])
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match="is not a YAML text file"):
        load_yaml(binary)


@dataclass(frozen=True)
class WithSections:
    first: Inner = option(default_factory=Inner, help="class defaults")
    second: Inner = option(default_factory=lambda: Inner(solint_s=8.0, mode="diagonal"), help="own defaults")
    solves: list[Inner] = option([], help="a list of sections")


def test_errors_carry_the_dotted_setting():
    """The message and ``InputError.setting`` name the setting as a dotted key (list items by index)."""
    with pytest.raises(InputError) as err:
        from_mapping(WithSections, {"solves": [{"mode": "diagonal"}, {"solint_s": 900}]})
    assert err.value.setting == "solves.1.solint_s" and str(err.value).startswith("solves.1.solint_s: ")
    with pytest.raises(InputError) as err:
        from_mapping(Outer, {"inner": {"solnt_s": 1}})
    assert err.value.setting == "inner.solnt_s"
    with pytest.raises(InputError) as err:
        from_mapping(Outer, {"pair": [1.0, "x"]})
    assert err.value.setting == "pair.1"
    assert "--" not in str(err.value)


def test_a_partly_given_section_keeps_the_rest_of_its_own_defaults():
    cfg = from_mapping(WithSections, {"first": {"mode": "diagonal"}, "second": {"solint_s": 16.0}})
    assert cfg.first == Inner(solint_s=32.0, mode="diagonal")
    assert cfg.second == Inner(solint_s=16.0, mode="diagonal")  # not the class default scalarphase
    rows = {key: default for key, default, _, _ in describe(WithSections)}
    assert rows["second.mode"] == "diagonal" and rows["first.mode"] == "scalarphase"


def _shipped(monkeypatch, tmp_path, text: str) -> None:
    path = tmp_path / "defaults.yaml"
    path.write_text(text)
    monkeypatch.setattr(config_schema, "shipped_path", lambda name: path)


def test_shipped_defaults_take_every_default_from_the_yaml(monkeypatch, tmp_path):
    _shipped(monkeypatch, tmp_path, "inner: {solint_s: 64, mode: diagonal}\n")

    @dataclass(frozen=True)
    @shipped_defaults("defaults.yaml", "inner")
    class Section:
        solint_s: float = option(help="interval", unit="s", min=1.0)
        mode: str = option(help="mode", choices=["scalarphase", "diagonal"])

    monkeypatch.setattr(config_schema, "shipped_path", lambda name: tmp_path / "top.yaml")
    (tmp_path / "top.yaml").write_text("count: 4\nnames: [a, b]\n")

    @dataclass(frozen=True)
    @shipped_defaults("defaults.yaml")
    class Top:  # (a nested section is checked on the shipped files: tests/test_config_defaults.py)
        label: str = option(help="no default", required=True)
        count: int = option(help="count", min=0)
        names: list[str] = option(help="names")

    assert Section() == Section(64.0, "diagonal") and Section.__shipped_defaults__ == ("defaults.yaml", "inner")
    one, two = Top(label="x"), Top(label="y")
    assert one.count == 4 and one.names == ["a", "b"]
    one.names.append("c")
    assert two.names == ["a", "b"]  # a fresh copy per instance
    with pytest.raises(InputError, match="missing required option label"):
        from_mapping(Top, {})


@pytest.mark.parametrize("text, message", [
    ("solint_s: 64\nmode: diagonal\nextra: 1\n", "unknown option(s) extra"),
    ("solint_s: 64\n", "lacks mode"),
    ("solint_s: 0.5\nmode: diagonal\n", "solint_s: 0.5 s is below the minimum 1.0 s"),
    ("solint_s: 64\nmode: fulljones\n", "mode: 'fulljones' is not one of"),
    ("solint_s: [64]\nmode: diagonal\n", "solint_s: expected a number"),
], ids=["unknown-key", "missing-key", "below-min", "bad-choice", "wrong-type"])
def test_shipped_defaults_refuse_a_bad_yaml_when_the_class_is_defined(monkeypatch, tmp_path, text, message):
    _shipped(monkeypatch, tmp_path, text)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        @shipped_defaults("defaults.yaml")
        class Section:
            solint_s: float = option(help="interval", unit="s", min=1.0)
            mode: str = option(help="mode", choices=["scalarphase", "diagonal"])
    assert "configs/defaults.yaml" in str(err.value)


def test_shipped_defaults_refuse_a_second_home_in_the_code(monkeypatch, tmp_path):
    _shipped(monkeypatch, tmp_path, "solint_s: 64\nlabel: x\n")
    with pytest.raises(InputError, match="Section.solint_s has a default in the code"):
        @shipped_defaults("defaults.yaml")
        class Section:
            solint_s: float = option(32.0, help="interval")
            label: str = option(help="a name")
    with pytest.raises(InputError, match="label is required in every configuration and takes no default"):
        @shipped_defaults("defaults.yaml")
        class Other:
            label: str = option(help="a name", required=True)
            solint_s: float = option(help="interval")
