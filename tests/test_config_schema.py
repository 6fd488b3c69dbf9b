"""The configuration schema: validation, overrides and documentation from one place."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lofar_hires.config_schema import apply_overrides, describe, from_mapping, load_yaml, option, to_mapping
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
        with pytest.raises(InputError, match=rf"solve.uvlambdamin: {value} is not a finite number"):
            load_calibrator_config(overrides=[f"solve.uvlambdamin={value}"])
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match="is not a YAML text file"):
        load_yaml(binary)
