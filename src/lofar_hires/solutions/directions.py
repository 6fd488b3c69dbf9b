"""Directions of a solset: list, select, rename, add, and the nearest one to a position.

A solset's ``source`` table (name -> RA, Dec) and the ``dir`` axis of every soltab
are kept consistent: every operation changes both. Names are compared in DP3's
bracketed form (``[name]``); both ``name`` and ``[name]`` are accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import angular_separation

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab, direction_name
from lofar_hires.io.names import MAX_NAME_LENGTH, safe_name
from lofar_hires.solutions.reset import identity_values

log = logging.getLogger(__name__)

#: ``--copy-from`` values that are not direction names.
COPY_NEAREST = "nearest"
COPY_IDENTITY = "identity"


@dataclass(frozen=True)
class Direction:
    """A named direction (J2000, degrees)."""

    name: str
    ra_deg: float
    dec_deg: float


def list_directions(solset: Solset) -> list[Direction]:
    """The directions of the source table, in its order (RA in [0, 360) degrees)."""
    return [Direction(n, ra_deg(ra), float(np.degrees(dec))) for n, (ra, dec) in solset.directions.items()]


def ra_deg(ra_rad: float) -> float:
    """RA in degrees in [0, 360) (files hold it in (-pi, pi], as DP3 writes it)."""
    return float(np.mod(np.degrees(ra_rad), 360.0))


def _all_names(solset: Solset) -> list[str]:
    """Names in the source table, then any that appear only in a soltab's dir axis."""
    names = list(solset.directions)
    for tab in solset.soltabs.values():
        names += [d for d in tab.axes.get("dir", []) if d not in names]
    return names


def _require(solset: Solset, names: Sequence[str], option: str) -> list[str]:
    known = _all_names(solset)
    out = [direction_name(n) for n in names]
    missing = [n for n in out if n not in known]
    if missing:
        raise InputError(f"{option}: no direction {missing[0]} in solset {solset.name} "
                         f"(has {', '.join(known) or 'none'})", setting=option)
    return out


def _with_dirs(tab: Soltab, names: list[str], val: np.ndarray, weight: np.ndarray) -> Soltab:
    axes = dict(tab.axes)
    axes["dir"] = np.array(names)
    return Soltab(tab.name, tab.soltype, axes, val, weight, dict(tab.attrs))


def _replace(solset: Solset, directions: dict[str, tuple[float, float]], soltabs: dict[str, Soltab]) -> Solset:
    return Solset(solset.name, list(solset.antenna_names), solset.antenna_positions_m.copy(), directions,
                  soltabs, dict(solset.attrs))


def select_directions(solset: Solset, names: Sequence[str]) -> Solset:
    """Keep only the named directions (in the file's order).

    Raises
    ------
    InputError
        A name that is not a direction, an empty selection, or a soltab that
        would be left without directions.
    """
    if not names:
        raise InputError("names: give at least one direction to keep", setting="names")
    keep = set(_require(solset, names, "names"))
    tabs = {}
    for name, tab in solset.soltabs.items():
        if "dir" in tab.axes:
            index = [i for i, d in enumerate(tab.axes["dir"]) if d in keep]
            if not index:
                raise InputError(f"soltab {name} has none of the selected directions "
                                 f"(it has {', '.join(tab.axes['dir'])})")
            axis = tab.axis_names.index("dir")
            tab = _with_dirs(tab, [tab.axes["dir"][i] for i in index], np.take(tab.val, index, axis=axis),
                             np.take(tab.weight, index, axis=axis))
        tabs[name] = tab
    directions = {n: v for n, v in solset.directions.items() if n in keep}
    log.info("kept %d of %d direction(s): %s", len(keep), len(_all_names(solset)), ", ".join(sorted(keep)))
    return _replace(solset, directions, tabs)


def check_new_name(name: str, setting: str, where: str | None = None) -> str:
    """A new direction name (``name`` or ``[name]``) in DP3's bracketed form, refused unless it is a safe name.

    Direction names end up in DP3 parsets (``direction=[name]``), WSClean facet files and,
    downstream, in file names: only names that :func:`~lofar_hires.io.names.safe_name` leaves
    unchanged are accepted (letters, digits, ``_ + - .``, not starting with ``.`` or ``_``, at
    most :data:`~lofar_hires.io.names.MAX_NAME_LENGTH` characters).

    ``setting`` names the setting the name came from, ``where`` (default ``setting``)
    the message's prefix.

    Raises
    ------
    InputError
        The name is empty or would have to be changed; the message proposes a safe one.
    """
    bare = str(name)
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    try:
        safe = safe_name(bare, what="direction")
    except InputError as exc:
        raise InputError(f"{where or setting}: {exc}", setting=setting) from None
    if safe != bare:
        raise InputError(f"{where or setting}: direction name {bare!r} may hold only letters, digits, _ + - . (not "
                         f"starting with . or _, at most {MAX_NAME_LENGTH} characters); e.g. {safe!r}", setting=setting)
    return direction_name(bare)


def parse_rename_map(items: Sequence[str]) -> dict[str, str]:
    """``old=new`` items as a mapping of bracketed names.

    Raises
    ------
    InputError
        An item without ``=``, an empty name, or the same old name twice.
    """
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"map {item!r} is not of the form OLD=NEW", setting="map")
        key = direction_name(old.strip())
        if key in mapping:
            raise InputError(f"map renames {key} twice", setting="map")
        mapping[key] = check_new_name(new.strip(), "map", f"map {old.strip()}=...")
    return mapping


def rename_directions(solset: Solset, mapping: Mapping[str, str]) -> Solset:
    """Rename directions (``{old: new}``) in the source table and every soltab.

    Swaps (``a=b`` and ``b=a``) are allowed; every other rename onto a name that
    exists afterwards is refused.

    Raises
    ------
    InputError
        An unknown old name, or a new name that clashes with another direction.
    """
    if not mapping:
        raise InputError("map: give at least one OLD=NEW pair", setting="map")
    mapping = {direction_name(k): check_new_name(v, "map", f"map {k}=...") for k, v in mapping.items()}
    _require(solset, list(mapping), "map")
    names = _all_names(solset)
    final = [mapping.get(n, n) for n in names]
    for old, new in mapping.items():
        if final.count(new) > 1:
            raise InputError(f"map: renaming {old} to {new} clashes with the existing direction {new}; "
                             "choose another name or rename that one too", setting="map")
    tabs = {}
    for name, tab in solset.soltabs.items():
        if "dir" in tab.axes:
            tab = _with_dirs(tab, [mapping.get(d, d) for d in tab.axes["dir"]], tab.val.copy(), tab.weight.copy())
        tabs[name] = tab
    directions = {mapping.get(n, n): v for n, v in solset.directions.items()}
    for old, new in mapping.items():
        log.info("renamed direction %s to %s", old, new)
    return _replace(solset, directions, tabs)


def separations_deg(solset: Solset, ra_rad: float, dec_rad: float) -> dict[str, float]:
    """Great-circle distance (degrees) from a position to every direction of the source table."""
    if not solset.directions:
        return {}
    ra, dec = np.array(list(solset.directions.values()), dtype=float).T
    sep = angular_separation(ra, dec, ra_rad, dec_rad)
    return {n: float(np.degrees(s)) for n, s in zip(solset.directions, np.asarray(sep))}


def nearest_direction(solset: Solset, ra_rad: float, dec_rad: float) -> tuple[str, float]:
    """The direction nearest to (``ra_rad``, ``dec_rad``) and its separation in degrees.

    Raises
    ------
    InputError
        The solset has no directions.
    """
    seps = separations_deg(solset, ra_rad, dec_rad)
    if not seps:
        raise InputError(f"solset {solset.name} has no directions (empty source table)")
    name = min(seps, key=seps.__getitem__)
    return name, seps[name]


def add_direction(solset: Solset, name: str, ra_rad: float, dec_rad: float, copy_from: str) -> Solset:
    """Append a direction to the source table and to every soltab with a ``dir`` axis.

    Parameters
    ----------
    solset
        The solutions.
    name
        The new direction's name (``name`` or ``[name]``).
    ra_rad, dec_rad
        Its position (J2000, radians).
    copy_from
        Where its solutions come from: a direction name (values and weights
        copied), ``nearest`` (the nearest direction of the source table) or
        ``identity`` (phase 0, amplitude 1, weight 1).

    Raises
    ------
    InputError
        The name exists already, or the direction to copy from does not exist
        (in the source table or in one of the soltabs).
    """
    new = check_new_name(name, "name")
    if new in _all_names(solset):
        raise InputError(f"name: direction {new} already exists in solset {solset.name}; "
                         "choose another name or rename the existing one", setting="name")
    source: str | None
    if copy_from == COPY_IDENTITY:
        source = None
    elif copy_from == COPY_NEAREST:
        source, sep = nearest_direction(solset, ra_rad, dec_rad)
        log.info("direction %s copies the solutions of the nearest direction %s (%.4f deg away)", new, source, sep)
    else:
        source = _require(solset, [copy_from], "copy_from")[0]
    tabs = {}
    for tab_name, tab in solset.soltabs.items():
        if "dir" in tab.axes:
            axis = tab.axis_names.index("dir")
            dirs = list(tab.axes["dir"])
            if source is None:
                axes = dict(tab.axes)
                axes["dir"] = np.array([new])
                val = identity_values(tab.soltype, axes)
                weight = np.ones_like(val)
            elif source in dirs:
                index = [dirs.index(source)]
                val, weight = np.take(tab.val, index, axis=axis), np.take(tab.weight, index, axis=axis)
            else:
                raise InputError(f"copy_from: soltab {tab_name} has no direction {source} "
                                 f"(it has {', '.join(dirs)})", setting="copy_from")
            tab = _with_dirs(tab, dirs + [new], np.concatenate([tab.val, val], axis=axis),
                             np.concatenate([tab.weight, weight.astype(tab.weight.dtype)], axis=axis))
        tabs[tab_name] = tab
    directions = dict(solset.directions)
    directions[new] = (ra_rad, dec_rad)
    log.info("added direction %s at RA %.6f, Dec %.6f deg (%s)", new, ra_deg(ra_rad), np.degrees(dec_rad),
             "identity solutions" if source is None else f"solutions of {source}")
    return _replace(solset, directions, tabs)
