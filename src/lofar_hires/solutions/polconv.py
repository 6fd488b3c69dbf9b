"""Convert amplitude/phase solutions between the linear (XX, ...) and circular (RR, ...) bases.

``J_circ = T J_lin T^-1`` with ``T = [[1, i], [1, -i]] / sqrt(2)``
(:func:`lofar_hires.solutions.jones.lin_to_circ`). The amplitude and phase
soltabs with a polarisation axis (XX, YY or XX, XY, YX, YY) are combined
element-wise into complex gains (``A exp(i phi)``, as DP3 applies them),
transformed, and written back as a full-Jones pair: ``amplitude = |J|``,
``phase = arg J`` with pol RR, RL, LR, LL (or XX, XY, YX, YY). The pair keeps the
input soltabs' names (``amplitude000``/``phase000``); a missing partner gets the
first free name. Soltabs without a polarisation axis (scalar phases, TEC, clock)
commute with the basis change and are copied unchanged. Weights: an output
element is flagged (weight 0) when any input element it depends on is; otherwise
it gets the smallest input weight of its cell.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab
from lofar_hires.solutions.jones import (
    Jones,
    circ_to_lin,
    combine_amplitude_phase,
    gains_from_values,
    lin_to_circ,
)

log = logging.getLogger(__name__)

Basis = Literal["linear", "circular"]
#: Soltab types that are matrices in a given basis (they do not commute with the basis change).
BASIS_DEPENDENT_TYPES = ("rotation", "rotationmeasure")
COMMAND = {"circular": "lin2circ", "linear": "circ2lin"}


def _free_name(prefix: str, taken: set[str]) -> str:
    i = 0
    while f"{prefix}{i:03d}" in taken:
        i += 1
    return f"{prefix}{i:03d}"


def _pair(solset: Solset, target: Basis) -> tuple[Soltab | None, Soltab | None]:
    """The amplitude and phase soltabs to convert (canonical axis order); refuses anything else."""
    cmd = COMMAND[target]
    pol_tabs = [t for t in solset.soltabs.values() if "pol" in t.axes]
    if not pol_tabs:
        raise InputError(f"{cmd}: no soltab in {solset.name} has a polarisation axis "
                         f"(soltabs: {', '.join(solset.soltabs) or 'none'}); there is nothing to convert")
    for tab in pol_tabs:
        if tab.basis == target:
            raise InputError(f"{cmd}: soltab {tab.name} is already {target} "
                             f"({', '.join(tab.axes['pol'])}); the input must be in the other basis")
        if tab.soltype not in ("amplitude", "phase"):
            raise InputError(f"{cmd}: soltab {tab.name} ({tab.soltype}) has a polarisation axis; only amplitude "
                             "and phase soltabs can be converted")
    dependent = [t.name for t in solset.soltabs.values() if t.soltype in BASIS_DEPENDENT_TYPES]
    if dependent:
        raise InputError(f"{cmd}: soltab {dependent[0]} is a rotation defined in the "
                         f"{'linear' if target == 'circular' else 'circular'} basis; only amplitude and phase "
                         "soltabs can be converted (merge the rotation into full-Jones solutions first)")
    by_type: dict[str, list[Soltab]] = {"amplitude": [], "phase": []}
    for tab in pol_tabs:
        by_type[tab.soltype].append(tab)
    for soltype, tabs in by_type.items():
        if len(tabs) > 1:
            raise InputError(f"{cmd}: {len(tabs)} {soltype} soltabs with a polarisation axis "
                             f"({', '.join(t.name for t in tabs)}); merge them first (lofar-hires h5 merge)")
    amp = by_type["amplitude"][0].canonical() if by_type["amplitude"] else None
    phase = by_type["phase"][0].canonical() if by_type["phase"] else None
    if amp is not None and phase is not None:
        other = [a for a in amp.axes if a != "pol"]
        if other != [a for a in phase.axes if a != "pol"] or any(
                not np.array_equal(amp.axes[a], phase.axes[a]) for a in other):
            raise InputError(f"{cmd}: {amp.name} and {phase.name} are on different axes "
                             f"({', '.join(f'{a} {len(v)}' for a, v in amp.axes.items())} vs "
                             f"{', '.join(f'{a} {len(v)}' for a, v in phase.axes.items())}); "
                             "put them on one grid first (lofar-hires h5 merge)")
    return amp, phase


def _gains(tab: Soltab | None) -> Jones | None:
    if tab is None:
        return None
    return gains_from_values(tab.soltype, tab.val, list(tab.axes["pol"]), None)


def convert_basis(solset: Solset, target: Basis) -> Solset:
    """Amplitude/phase solutions converted to the ``target`` polarisation basis.

    Parameters
    ----------
    solset
        Solutions with amplitude and/or phase soltabs with a polarisation axis
        in the other basis.
    target
        ``circular`` (lin2circ) or ``linear`` (circ2lin).

    Returns
    -------
    Solset
        New solutions with a full-Jones amplitude/phase pair in ``target``;
        ``solset`` is not modified.

    Raises
    ------
    InputError
        No soltab with a polarisation axis, input already in ``target``,
        polarised soltabs other than amplitude/phase, rotation soltabs, more
        than one amplitude or phase soltab, or amplitude and phase on
        different axes.
    """
    amp, phase = _pair(solset, target)
    template = next(t for t in (amp, phase) if t is not None)  # _pair returns at least one
    gains = combine_amplitude_phase(_gains(amp), _gains(phase))
    converted = lin_to_circ(gains) if target == "circular" else circ_to_lin(gains)
    values, labels = converted.to_pols("full", target)
    weights = [t.weight.min(axis=-1) for t in (amp, phase) if t is not None]
    weight = np.repeat(np.minimum.reduce(weights)[..., None], 4, axis=-1)
    axes = {a: v for a, v in template.axes.items() if a != "pol"}
    axes["pol"] = np.array(labels)
    replaced = {t.name for t in (amp, phase) if t is not None}
    taken = set(solset.soltabs) - replaced
    amp_name = amp.name if amp is not None else _free_name("amplitude", taken)
    phase_name = phase.name if phase is not None else _free_name("phase", taken | {amp_name})
    new = {
        amp_name: Soltab(amp_name, "amplitude", axes, np.abs(values), weight.copy(),
                         dict(amp.attrs) if amp is not None else {}),
        phase_name: Soltab(phase_name, "phase", axes, np.angle(values), weight.copy(),
                           dict(phase.attrs) if phase is not None else {}),
    }
    tabs = {n: new.get(n, t) for n, t in solset.soltabs.items()}
    tabs.update({n: t for n, t in new.items() if n not in tabs})
    log.info("converted %s to the %s basis as full-Jones %s/%s (%s)", ", ".join(sorted(replaced)), target,
             amp_name, phase_name, ", ".join(labels))
    return Solset(solset.name, list(solset.antenna_names), solset.antenna_positions_m.copy(),
                  dict(solset.directions), tabs, dict(solset.attrs))
