"""Reset the solutions of chosen stations to the identity (``lofar-hires h5 reset``).

Identity per soltab type: phases, TEC, clock, rotation angles and rotation
measures become 0; amplitudes become 1, except the off-diagonal elements
(XY, YX / RL, LR) of a full-Jones amplitude, which become 0. Weights are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab

log = logging.getLogger(__name__)

#: Soltab types whose identity value is 1 (all others: 0).
AMPLITUDE_TYPES = ("amplitude", "scalaramplitude")
#: Polarisations that are off-diagonal Jones elements.
OFF_DIAGONAL_POLS = ("XY", "YX", "RL", "LR")


def identity_values(soltype: str, axes: dict[str, np.ndarray]) -> np.ndarray:
    """Values that make a soltab with these axes the identity (see the module documentation)."""
    shape = tuple(len(v) for v in axes.values())
    if soltype not in AMPLITUDE_TYPES:
        return np.zeros(shape)
    val = np.ones(shape)
    if "pol" in axes:
        pol_axis = list(axes).index("pol")
        off = np.isin(axes["pol"], OFF_DIAGONAL_POLS)
        index = (slice(None),) * pol_axis + (off,)
        val[index] = 0.0
    return val


def reset_soltab(tab: Soltab, stations: Sequence[str]) -> Soltab:
    """A copy of ``tab`` with the identity for ``stations`` (weights unchanged).

    Raises
    ------
    InputError
        The soltab has no antenna axis.
    """
    if "ant" not in tab.axes:
        raise InputError(f"soltab {tab.name} has no antenna axis; there are no station solutions to reset")
    ant_axis = tab.axis_names.index("ant")
    mask = np.isin(tab.axes["ant"], list(stations))
    shape = [1] * tab.val.ndim
    shape[ant_axis] = len(mask)
    val = np.where(mask.reshape(shape), identity_values(tab.soltype, tab.axes), tab.val)
    return Soltab(tab.name, tab.soltype, dict(tab.axes), val, tab.weight.copy(), dict(tab.attrs))


def reset_stations(solset: Solset, stations: Sequence[str], soltabs: Sequence[str] | None = None) -> Solset:
    """A copy of ``solset`` whose ``stations`` have identity solutions.

    Parameters
    ----------
    solset
        The solutions.
    stations
        Antenna names to reset (resolve group names with
        :func:`lofar_hires.solutions.stations.resolve_stations` first).
    soltabs
        Soltabs to reset (default: every soltab with an antenna axis); the
        others are copied unchanged.

    Returns
    -------
    Solset
        The new solutions; ``solset`` is not modified.

    Raises
    ------
    InputError
        A named soltab does not exist or has no antenna axis.
    """
    if soltabs is None:
        names = [n for n, t in solset.soltabs.items() if "ant" in t.axes]
        skipped = [n for n in solset.soltabs if n not in names]
        if skipped:
            log.warning("soltab(s) %s have no antenna axis and are copied unchanged", ", ".join(skipped))
    else:
        names = list(soltabs)
        missing = [n for n in names if n not in solset.soltabs]
        if missing:
            raise InputError(f"soltabs: no soltab {missing[0]!r} in {solset.name} "
                             f"(has {', '.join(solset.soltabs) or 'none'})", setting="soltabs")
    tabs = {n: reset_soltab(t, stations) if n in names else t for n, t in solset.soltabs.items()}
    log.info("reset %d station(s) in %s: %s", len(stations), ", ".join(names) or "no soltab",
             ", ".join(stations) or "none")
    return Solset(solset.name, list(solset.antenna_names), solset.antenna_positions_m.copy(),
                  dict(solset.directions), tabs, dict(solset.attrs))


def with_identity_stations(solset: Solset, names: Sequence[str], positions_m: np.ndarray) -> Solset:
    """A copy of ``solset`` with the stations ``names`` appended, identity in every soltab (weight 1).

    Solutions made for a subset of an array (the Dutch stations of a direction-dependent
    solve) then apply to data of the whole array: the added stations are left uncorrected.
    Stations the solset already has are skipped; ``positions_m`` are ITRF (x, y, z) rows
    in the order of ``names``.
    """
    positions_m = np.asarray(positions_m, dtype=float).reshape(-1, 3)
    if len(positions_m) != len(names):
        raise InputError(f"{len(names)} station names but {len(positions_m)} positions")
    new = [i for i, n in enumerate(names) if n not in solset.antenna_names]
    if not new:
        return solset
    added = [str(names[i]) for i in new]
    tabs = {}
    for tab_name, tab in solset.soltabs.items():
        if "ant" not in tab.axes:
            tabs[tab_name] = tab
            continue
        axis = tab.axis_names.index("ant")
        extra_axes = dict(tab.axes)
        extra_axes["ant"] = np.array(added)
        axes = dict(tab.axes)
        axes["ant"] = np.concatenate([tab.axes["ant"], np.array(added)])
        val = np.concatenate([tab.val, identity_values(tab.soltype, extra_axes)], axis=axis)
        shape = list(tab.weight.shape)
        shape[axis] = len(added)
        weight = np.concatenate([tab.weight, np.ones(shape, dtype=tab.weight.dtype)], axis=axis)
        tabs[tab_name] = Soltab(tab.name, tab.soltype, axes, val, weight, dict(tab.attrs))
    log.info("identity solutions for %d station(s) the solutions lack: %s", len(added), ", ".join(added))
    return Solset(solset.name, [*solset.antenna_names, *added],
                  np.concatenate([solset.antenna_positions_m, positions_m[new]]), dict(solset.directions), tabs,
                  dict(solset.attrs))
