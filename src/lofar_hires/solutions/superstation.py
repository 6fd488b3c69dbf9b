"""Superstation solutions: expand ST001 into the core stations, or collapse them back.

DP3's ``stationadder`` phases the core stations up into one superstation
(``ST001``) at their mean position; solutions found on such data hold ST001 and
no core stations. :func:`expand_superstation` gives every core station an exact
copy of ST001's values and weights (names and positions from the measurement
set), in ST001's place in the antenna order. :func:`collapse_to_superstation`
is the reverse: ST001 takes the place of the first core station, at the mean
position of the core stations, with the first core station's values and weights
(a warning gives the largest difference when the core stations differ).
``collapse(expand(x)) == x`` exactly for values, weights and antenna order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab

log = logging.getLogger(__name__)

#: Units of each soltab type's values, for messages.
VALUE_UNITS = {"phase": "rad", "scalarphase": "rad", "rotation": "rad", "tec": "TECU", "clock": "s",
               "rotationmeasure": "rad/m^2", "amplitude": "", "scalaramplitude": ""}
#: Soltab types whose values are angles (differences are wrapped into (-pi, pi]).
ANGLE_TYPES = ("phase", "scalarphase", "rotation")


def _take_antennas(tab: Soltab, names: list[str], source: list[int]) -> Soltab:
    """``tab`` with antenna axis ``names``, entry ``i`` copied from the old antenna ``source[i]``."""
    axis = tab.axis_names.index("ant")
    axes = dict(tab.axes)
    axes["ant"] = np.array(names)
    return Soltab(tab.name, tab.soltype, axes, np.take(tab.val, source, axis=axis),
                  np.take(tab.weight, source, axis=axis), dict(tab.attrs))


def _expanded_order(names: Sequence[str], superstation: str, core: Sequence[str]) -> tuple[list[str], list[int]]:
    out: list[str] = []
    source: list[int] = []
    for i, name in enumerate(names):
        replacement = list(core) if name == superstation else [name]
        out.extend(replacement)
        source.extend([i] * len(replacement))
    return out, source


def expand_superstation(solset: Solset, superstation: str, core_names: Sequence[str],
                        core_positions_m: np.ndarray) -> Solset:
    """Replace the superstation by identical copies for each core station.

    Parameters
    ----------
    solset
        Solutions holding ``superstation``.
    superstation
        Name of the superstation (DP3 default ``ST001``).
    core_names, core_positions_m
        The core stations to create (from the measurement set's ANTENNA table)
        and their ITRF positions (metres, shape ``(n, 3)``).

    Returns
    -------
    Solset
        New solutions; ``solset`` is not modified.

    Raises
    ------
    InputError
        No superstation in the solutions, no core stations given, or core
        stations already present in the solutions.
    """
    core = [str(n) for n in core_names]
    positions = np.asarray(core_positions_m, dtype=float).reshape(-1, 3)
    if superstation not in solset.antenna_names:
        raise InputError(f"superstation: {superstation} is not in solset {solset.name} "
                         f"(antennas: {', '.join(solset.antenna_names)})", setting="superstation")
    if not core:
        raise InputError("no core stations to expand into: the measurement set has none that match the core "
                         "stations", setting="core_stations")
    if len(positions) != len(core):
        raise InputError(f"{len(core)} core station names but {len(positions)} positions")
    present = [n for n in core if n in solset.antenna_names]
    if present:
        raise InputError(f"solset {solset.name} already holds core station(s) {', '.join(present)}; "
                         "expand only solutions that have the superstation instead of the core stations")
    names, source = _expanded_order(solset.antenna_names, superstation, core)
    pos_by_name = dict(zip(core, positions))
    new_positions = np.array([pos_by_name[n] if n in pos_by_name else solset.antenna_positions_m[s]
                              for n, s in zip(names, source)])
    tabs = {}
    for name, tab in solset.soltabs.items():
        if "ant" in tab.axes and superstation in tab.axes["ant"]:
            tab_names, tab_source = _expanded_order(list(tab.axes["ant"]), superstation, core)
            tab = _take_antennas(tab, tab_names, tab_source)
        tabs[name] = tab
    log.info("expanded %s into %d core station(s): %s", superstation, len(core), ", ".join(core))
    return Solset(solset.name, names, new_positions, dict(solset.directions), tabs, dict(solset.attrs))


def _max_difference(tab: Soltab, core_index: list[int]) -> float:
    axis = tab.axis_names.index("ant")
    first = np.take(tab.val, core_index[:1], axis=axis)
    diff = np.take(tab.val, core_index, axis=axis) - first
    if tab.soltype in ANGLE_TYPES:
        diff = np.angle(np.exp(1j * diff))
    diff = np.abs(diff)
    return float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0


def collapse_to_superstation(solset: Solset, superstation: str, core_names: Sequence[str]) -> Solset:
    """Replace the core stations by one superstation (the reverse of :func:`expand_superstation`).

    Parameters
    ----------
    solset
        Solutions holding the core stations.
    superstation
        Name of the superstation to create.
    core_names
        The core stations to collapse (in the solutions' antenna order, e.g.
        from :func:`lofar_hires.solutions.stations.resolve_stations`).

    Returns
    -------
    Solset
        New solutions: the superstation takes the first core station's place,
        position (mean of the core positions), values and weights.

    Raises
    ------
    InputError
        No core stations, or the superstation already exists.
    """
    core = [n for n in solset.antenna_names if n in set(core_names)]
    if not core:
        raise InputError(f"solset {solset.name} has no core stations to collapse "
                         f"(antennas: {', '.join(solset.antenna_names)})")
    if superstation in solset.antenna_names:
        raise InputError(f"superstation: solset {solset.name} already holds {superstation}; "
                         "collapse only solutions with separate core stations", setting="superstation")
    core_set = set(core)
    first = core[0]

    def order(names: list[str]) -> tuple[list[str], list[int]]:
        out, source = [], []
        present = [n for n in names if n in core_set]
        for i, n in enumerate(names):
            if n not in core_set:
                out.append(n)
                source.append(i)
            elif n == present[0]:
                out.append(superstation)
                source.append(i)
        return out, source

    names, source = order(solset.antenna_names)
    positions = solset.antenna_positions_m[source].copy()
    core_pos = solset.antenna_positions_m[[solset.antenna_names.index(n) for n in core]]
    positions[names.index(superstation)] = core_pos.mean(axis=0)
    tabs = {}
    for name, tab in solset.soltabs.items():
        ants = list(tab.axes["ant"]) if "ant" in tab.axes else []
        core_index = [i for i, n in enumerate(ants) if n in core_set]
        if core_index:
            diff = _max_difference(tab, core_index)
            if diff > 0:
                unit = VALUE_UNITS[tab.soltype]
                log.warning("soltab %s: the core stations' solutions differ (max |difference| %.3g%s); "
                            "%s gets those of %s", name, diff, f" {unit}" if unit else "", superstation,
                            ants[core_index[0]])
            tab = _take_antennas(tab, *order(ants))
        tabs[name] = tab
    log.info("collapsed %d core station(s) into %s (values of %s)", len(core), superstation, first)
    return Solset(solset.name, names, positions, dict(solset.directions), tabs, dict(solset.attrs))
