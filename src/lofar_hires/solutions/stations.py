"""Station groups and station specifications (``core``, ``dutch,!RS509*``, ``CS*``).

Groups are data (``configs/station_groups.yaml``, shipped as ``lofar_hires.configs``):
each group includes and excludes *tokens*. A token is a group name (lower case
letters, digits and ``_``, starting with a letter) or a station name / glob
pattern (``fnmatch``, case-sensitive) matched against the antenna names of an
h5parm or a measurement set. A station specification is a comma-separated list
of tokens; a leading ``!`` excludes. A specification made only of exclusions
starts from all stations (``!dutch`` = every non-Dutch station).
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from lofar_hires.config_schema import from_mapping, load_yaml, option
from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

#: What a group name looks like; every other token is a station name or glob pattern.
GROUP_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Prefix of an excluded token in a station specification.
EXCLUDE_PREFIX = "!"


@dataclass(frozen=True)
class StationGroup:
    """One named group of stations."""

    description: str = option(help="what the group is for (shown in error messages and --help)")
    include: list[str] = option(help="group names and station names / glob patterns in the group")
    exclude: list[str] = option([], help="group names and station names / glob patterns removed again")


@dataclass(frozen=True)
class StationGroupsFile:
    """The schema of a station-groups YAML file."""

    groups: dict[str, StationGroup] = option(help="group name -> group definition")


def default_groups_path() -> Path:
    """The station-groups file shipped with the package."""
    return Path(str(resources.files("lofar_hires.configs") / "station_groups.yaml"))


def is_group_token(token: str) -> bool:
    """True when ``token`` names a group (lower case identifier), False for a station pattern."""
    return GROUP_NAME.fullmatch(token) is not None


def load_station_groups(path: Path | None = None) -> dict[str, StationGroup]:
    """Read and validate a station-groups file (default: the shipped one).

    Raises
    ------
    InputError
        Invalid YAML, unknown keys, malformed group names, references to
        undefined groups, or cycles of group references.
    MissingInputError
        The file does not exist.
    """
    path = default_groups_path() if path is None else Path(path)
    data = load_yaml(path)
    try:
        parsed = from_mapping(StationGroupsFile, data)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    try:
        validate_groups(parsed.groups)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return parsed.groups


def validate_groups(groups: Mapping[str, StationGroup]) -> None:
    """Check group names, references and the absence of cycles.

    Raises
    ------
    InputError
        The first problem found, naming the group.
    """
    for name, group in groups.items():
        if not is_group_token(name):
            raise InputError(f"group name {name!r} must be lower case letters, digits and _ "
                             "(starting with a letter); upper case tokens are station patterns")
        for token in [*group.include, *group.exclude]:
            if token.startswith(EXCLUDE_PREFIX):
                raise InputError(f"group {name}: write excluded stations under 'exclude', not as {token!r}")
            if is_group_token(token) and token not in groups:
                raise InputError(f"group {name} refers to undefined group {token!r}; "
                                 f"defined: {', '.join(groups)}")
        if not group.include:
            raise InputError(f"group {name} includes nothing")
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = path[path.index(name):] + [name]
            raise InputError(f"station groups refer to each other in a cycle: {' -> '.join(cycle)}")
        state[name] = "active"
        group = groups[name]
        for token in [*group.include, *group.exclude]:
            if is_group_token(token):
                visit(token, [*path, name])
        state[name] = "done"

    for name in groups:
        visit(name, [])


def split_spec(spec: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """Included and excluded tokens of a specification (comma-separated text or a list)."""
    items = spec.split(",") if isinstance(spec, str) else [t for s in spec for t in str(s).split(",")]
    tokens = [t.strip() for t in items if t.strip()]
    include = [t for t in tokens if not t.startswith(EXCLUDE_PREFIX)]
    exclude = [t[len(EXCLUDE_PREFIX):].strip() for t in tokens if t.startswith(EXCLUDE_PREFIX)]
    if not tokens or any(not t for t in exclude):
        raise InputError(f"station specification {spec!r} names no station or group; "
                         "give group names or station patterns separated by commas, e.g. core,RS106*")
    return include, exclude


def _token_mask(token: str, names: Sequence[str], groups: Mapping[str, StationGroup],
                cache: dict[str, np.ndarray]) -> np.ndarray:
    if not is_group_token(token):
        return np.array([fnmatch.fnmatchcase(n, token) for n in names], dtype=bool)
    if token not in cache:
        group = groups[token]
        inc = np.zeros(len(names), dtype=bool)
        for t in group.include:
            inc |= _token_mask(t, names, groups, cache)
        for t in group.exclude:
            inc &= ~_token_mask(t, names, groups, cache)
        cache[token] = inc
    return cache[token]


def check_station_spec(spec: str | Sequence[str], groups: Mapping[str, StationGroup] | None = None, *,
                       where: str = "stations") -> None:
    """Refuse a specification with an unknown group or no token, before any station list is at hand.

    Raises
    ------
    InputError
        As :func:`resolve_stations` would for the same specification.
    """
    groups = load_station_groups() if groups is None else groups
    include, exclude = split_spec(spec)
    _refuse_unknown_groups(include + exclude, groups, where)


def _refuse_unknown_groups(tokens: Sequence[str], groups: Mapping[str, StationGroup], where: str) -> None:
    unknown = [t for t in tokens if is_group_token(t) and t not in groups]
    if unknown:
        raise InputError(f"{where}: unknown station group {unknown[0]!r}; groups: {', '.join(groups)} "
                         "(station names and patterns are upper case, e.g. RS106*)", setting=where)


def resolve_stations(spec: str | Sequence[str], antenna_names: Sequence[str],
                     groups: Mapping[str, StationGroup] | None = None, *,
                     where: str = "stations") -> list[str]:
    """The antennas that a station specification selects, in antenna order.

    Parameters
    ----------
    spec
        Comma-separated tokens (or a list of them): group names, station names
        or glob patterns; a leading ``!`` excludes.
    antenna_names
        Names to select from (an h5parm's antenna table, an MS's ANTENNA table).
    groups
        Group definitions (default: the shipped ``station_groups.yaml``).
    where
        How the specification is named in messages (the CLI option).

    Returns
    -------
    list of str
        The selected names, in the order of ``antenna_names``. A token that
        matches no antenna is reported with a logged warning.

    Raises
    ------
    InputError
        An unknown group name, or an empty specification.
    """
    groups = load_station_groups() if groups is None else groups
    include, exclude = split_spec(spec)
    _refuse_unknown_groups(include + exclude, groups, where)
    names = list(antenna_names)
    cache: dict[str, np.ndarray] = {}
    selected = np.zeros(len(names), dtype=bool) if include else np.ones(len(names), dtype=bool)
    for token in include:
        mask = _token_mask(token, names, groups, cache)
        if not mask.any():
            log.warning("%s: %s %r matches no station (stations: %s)", where,
                        "group" if is_group_token(token) else "pattern", token, ", ".join(names) or "none")
        selected |= mask
    for token in exclude:
        mask = _token_mask(token, names, groups, cache)
        if not mask.any():
            log.warning("%s: excluded %s %r matches no station", where,
                        "group" if is_group_token(token) else "pattern", token)
        selected &= ~mask
    return [n for n, keep in zip(names, selected) if keep]
