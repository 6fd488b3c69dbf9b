"""Station groups (configs/station_groups.yaml) and station specifications."""

from __future__ import annotations

import logging

import pytest

from lofar_hires.errors import InputError
from lofar_hires.solutions.stations import load_station_groups, resolve_stations

#: A realistic HBA station list: split core fields, a superstation, remote, German and other stations.
STATIONS = ["CS001HBA0", "CS002HBA0", "CS002HBA1", "ST001", "RS106HBA", "RS205HBA", "RS208HBA", "RS305HBA",
            "RS306HBA", "RS307HBA", "RS406HBA", "RS407HBA", "RS503HBA", "RS509HBA", "DE601HBA", "DE605HBA",
            "FR606HBA", "SE607HBA"]
CORE = ["CS001HBA0", "CS002HBA0", "CS002HBA1", "ST001"]
REMOTE = [s for s in STATIONS if s.startswith("RS")]
INNER = ["RS106HBA", "RS205HBA", "RS305HBA", "RS306HBA", "RS503HBA"]
MIDDLE = ["RS307HBA", "RS406HBA", "RS407HBA"]


def _in_order(names):
    return [s for s in STATIONS if s in names]


@pytest.mark.parametrize("group, expected", [
    ("core", CORE),
    ("core_stations", CORE[:3]),
    ("superstations", ["ST001"]),
    ("remote", REMOTE),
    ("dutch", CORE + REMOTE),
    ("international", ["DE601HBA", "DE605HBA", "FR606HBA", "SE607HBA"]),
    ("core_inner_remote", CORE + INNER),
    ("core_inner_middle_remote", CORE + INNER + MIDDLE),
    ("closest_german", ["DE601HBA", "DE605HBA"]),
    ("dutch_and_closest_german", CORE + REMOTE + ["DE601HBA", "DE605HBA"]),
])
def test_shipped_groups(group, expected):
    assert resolve_stations(group, STATIONS) == _in_order(expected)


def test_patterns_match_lba_names_and_keep_antenna_order():
    lba = ["RS509LBA", "CS002LBA", "RS106LBA", "DE601LBA", "RS503LBA"]
    assert resolve_stations("core_inner_remote", lba) == ["CS002LBA", "RS106LBA", "RS503LBA"]
    assert resolve_stations("RS509HBA,core,DE6*", STATIONS) == _in_order(CORE + ["RS509HBA", "DE601HBA", "DE605HBA"])


def test_exclusions_and_lists():
    assert resolve_stations("dutch,!RS509*,!superstations", STATIONS) == _in_order(CORE[:3] + REMOTE[:-1])
    assert resolve_stations("!dutch", STATIONS) == ["DE601HBA", "DE605HBA", "FR606HBA", "SE607HBA"]
    assert resolve_stations(["core", "RS106HBA,RS205HBA"], STATIONS) == CORE + ["RS106HBA", "RS205HBA"]


def test_unknown_group_lists_the_groups():
    with pytest.raises(InputError, match=r"unknown station group 'cor'; groups: superstations, core_stations, core,"):
        resolve_stations("cor,RS106HBA", STATIONS)


def test_pattern_matching_nothing_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="lofar_hires"):
        assert resolve_stations("RS999*,closest_german", ["CS001HBA0", "DE601HBA"]) == ["DE601HBA"]
    assert "pattern 'RS999*' matches no station" in caplog.text


@pytest.mark.parametrize("spec", ["", " , ", "core,!"])
def test_empty_specification(spec):
    with pytest.raises(InputError, match="names no station or group"):
        resolve_stations(spec, STATIONS)


def _groups_file(tmp_path, text):
    path = tmp_path / "groups.yaml"
    path.write_text(text)
    return path


def test_custom_groups_file(tmp_path):
    path = _groups_file(tmp_path, """
groups:
  near: {description: near stations, include: ["CS*", far], exclude: ["CS002*"]}
  far: {description: far stations, include: ["DE6*"]}
""")
    groups = load_station_groups(path)
    assert resolve_stations("near", STATIONS, groups) == ["CS001HBA0", "DE601HBA", "DE605HBA"]


@pytest.mark.parametrize("text, message", [
    ("groups:\n  a: {description: x, inclde: ['CS*']}", r"unknown option groups\.a\.inclde; valid: description, "),
    ("groups:\n  a: {description: x, include: [b]}\n  b: {description: y, include: [a]}",
     "cycle: a -> b -> a"),
    ("groups:\n  a: {description: x, include: [a]}", "cycle: a -> a"),
    ("groups:\n  a: {description: x, include: [missing]}", "group a refers to undefined group 'missing'"),
    ("groups:\n  Core: {description: x, include: ['CS*']}", "group name 'Core' must be lower case"),
    ("groups:\n  a: {description: x, include: ['!CS*']}", "write excluded stations under 'exclude'"),
    ("groups:\n  a: {description: x, include: []}", "group a includes nothing"),
    ("groups:\n  a: {include: ['CS*']}", "missing required option groups.a.description"),
    ("groups: [a, b]", "groups: expected a mapping"),
    ("groups:\n  a: {description: x, include: ['CS*']\n", "invalid YAML in"),
])
def test_invalid_groups_files(tmp_path, text, message):
    path = _groups_file(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        load_station_groups(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
