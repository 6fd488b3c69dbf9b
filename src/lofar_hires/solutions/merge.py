"""Merge any number of h5parms into one ``phase000`` + ``amplitude000`` solution.

Semantics (what DP3's applycal would do with the inputs applied one after another):

* Inputs are listed in the order in which they are applied when correcting
  (normally the order in which they were solved). The merged gain is
  ``J = J_1 . J_2 . ... . J_n``, so that correcting with ``J`` equals correcting
  with ``J_1`` first, then ``J_2``, and so on.
* Within one input, amplitudes and phases combine element by element (a DP3
  soltab pair), TEC and clock become phases, and rotations (``rotation``,
  ``rotationmeasure``) follow the amplitude/phase matrix: ``J_i = G . R``, as in
  DP3's rotation+diagonal solutions.
* Scalar, diagonal and full-Jones solutions broadcast; the output is scalar,
  diagonal (pol XX, YY) or full Jones (pol XX, XY, YX, YY; applied by DP3 with
  ``correction=fulljones``) as the inputs require.
* All inputs are put on one time/frequency grid (the finest by default), by
  nearest-neighbour or linear interpolation of phases (as phasors) and amplitudes.
* Weights: an output point is flagged (weight 0) when any input point it uses is.
* Antennas: the union; an input without an antenna contributes identity (warning).
* Directions: inputs with several directions must have the same ones; inputs
  with one direction (or none) apply to every direction. Names are ``[name]``,
  RA is written in (-pi, pi] (what DP3 writes and WSClean's facet matching needs).
* Direction-assigned inputs (``MergeInput.directions``, ``file.h5@dirA,dirB`` on
  the command line): a single-direction input that applies only to the named
  output directions and is the identity for all others, e.g. the international
  solutions of one calibrator merged onto the facets it serves. The output
  directions (names and positions) come from the other inputs; the assigned
  input's own direction name and position play no part.

The work is streamed in blocks of time slots, so memory stays bounded for large
files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import (
    H5parmWriter,
    SoltabInfo,
    StreamingReader,
    check_group_name,
    direction_name,
    pol_basis,
)
from lofar_hires.physics import TEC_PHASE_CONSTANT
from lofar_hires.provenance import Provenance
from lofar_hires.solutions.grid import AxisMap, Method, apply_map, apply_map_weights, axis_map
from lofar_hires.solutions.jones import (
    POL_ELEMENT,
    Jones,
    Kind,
    combine_amplitude_phase,
    gains_from_values,
    kind_of_pols,
    phasor,
)
from lofar_hires.solutions.output import PROVENANCE_ATTR

log = logging.getLogger(__name__)

#: Soltab types that merge understands.
GAIN_TYPES = ("phase", "scalarphase", "amplitude", "scalaramplitude", "tec", "clock", "rotation", "rotationmeasure")
#: Value that means "no correction" for each type.
IDENTITY_VALUE = {"phase": 0.0, "scalarphase": 0.0, "amplitude": 1.0, "scalaramplitude": 1.0, "tec": 0.0,
                  "clock": 0.0, "rotation": 0.0, "rotationmeasure": 0.0}
#: Directions closer than this (radians) are the same position.
SAME_POSITION_RAD = np.radians(1.0 / 3600.0)

GridChoice = str  # "finest", "first", or a path to an h5parm or a measurement set


@dataclass(frozen=True)
class MergeInput:
    """One input: a file, optionally a solset, a subset of its soltabs and the output directions it applies to.

    ``directions`` (bracketed or bare names, stored bracketed): the input (at most one
    direction) applies only to these output directions and is the identity elsewhere.
    """

    path: Path
    solset: str | None = None
    soltabs: tuple[str, ...] | None = None
    directions: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.directions is not None:
            names = tuple(dict.fromkeys(direction_name(d.strip()) for d in self.directions if d.strip()))
            if not names:
                raise InputError(f"{self.path}: no output direction given for this input (after '@')",
                                 setting="directions")
            object.__setattr__(self, "directions", names)

    @staticmethod
    def parse(spec: str) -> MergeInput:
        """``file.h5``, ``file.h5:sol001``, ``file.h5:sol000/phase000,amplitude000``, each optionally
        followed by ``@dirA,dirB`` (the output directions the input applies to)."""
        directions = None
        head, at, tail = spec.rpartition("@")
        if at and "/" not in tail:
            spec, directions = head, tuple(tail.split(","))
        path, _, rest = spec.partition(":")
        if not rest:
            return MergeInput(Path(path), directions=directions)
        solset, _, tabs = rest.partition("/")
        return MergeInput(Path(path), solset or None,
                          tuple(t for t in tabs.split(",") if t) or None, directions)


@dataclass(frozen=True)
class MergeOptions:
    """How to merge (see the module documentation)."""

    interpolation: Method = "nearest"
    time_grid: GridChoice = "finest"
    freq_grid: GridChoice = "finest"
    output_kind: Literal["auto", "scalar", "diagonal", "full"] = "auto"
    solset: str = "sol000"
    block_values: int = 1 << 22


@dataclass
class MergeSummary:
    """What a merge produced."""

    output: Path
    kind: str
    axes: dict[str, int]
    directions: list[str]
    flagged_fraction: float
    wall_time_s: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Input:
    """An opened input with its selected soltabs."""

    spec: MergeInput
    reader: StreamingReader
    tabs: list[SoltabInfo]
    freq_maps: dict[str, AxisMap] = field(default_factory=dict)
    ant_maps: dict[str, np.ndarray | None] = field(default_factory=dict)
    dir_maps: dict[str, np.ndarray | None] = field(default_factory=dict)
    #: For a direction-assigned input: True for the output directions it applies to.
    assigned: np.ndarray | None = None

    @property
    def name(self) -> str:
        return str(self.spec.path)

    def directions(self) -> list[str]:
        dirs = [list(t.axes["dir"]) for t in self.tabs if "dir" in t.axes]
        if not dirs:
            return []
        for d in dirs[1:]:
            if d != dirs[0]:
                raise InputError(f"{self.name}: soltabs have different directions ({dirs[0]} vs {d})")
        return dirs[0]

    def kind(self) -> Kind:
        kinds = []
        for t in self.tabs:
            if t.soltype in ("rotation", "rotationmeasure"):
                kinds.append("full")
            else:
                kinds.append(kind_of_pols(list(t.axes["pol"]) if "pol" in t.axes else None))
        return max(kinds, key={"scalar": 0, "diagonal": 1, "full": 2}.__getitem__)


def _open_inputs(specs: Sequence[MergeInput]) -> list[_Input]:
    opened: list[_Input] = []
    try:
        for spec in specs:
            reader = StreamingReader(spec.path, spec.solset)
            opened.append(_Input(spec, reader, []))
            names = list(spec.soltabs) if spec.soltabs else [
                n for n in reader.soltab_names if reader.info(n).soltype in GAIN_TYPES]
            missing = [n for n in names if n not in reader.soltab_names]
            if missing:
                raise InputError(f"{spec.path}: no soltab {missing[0]!r} in {reader.solset} "
                                 f"(has {', '.join(reader.soltab_names)})")
            tabs = [reader.info(n) for n in names]
            bad = [t.name for t in tabs if t.soltype not in GAIN_TYPES]
            if bad:
                raise InputError(f"{spec.path}: soltab {bad[0]} has type {reader.info(bad[0]).soltype!r}, "
                                 f"which cannot be merged (supported: {', '.join(GAIN_TYPES)})")
            if not tabs:
                raise InputError(f"{spec.path}: no solutions to merge in {reader.solset}")
            for tab in tabs:
                reader.require_values(tab.name)
            opened[-1].tabs = tabs
    except BaseException:
        for item in opened:
            item.reader.close()
        raise
    return opened


def _common_basis(inputs: list[_Input]) -> str:
    found: dict[str, str] = {}
    for item in inputs:
        for t in item.tabs:
            if "pol" in t.axes and len(t.axes["pol"]) > 1:
                basis = pol_basis(list(t.axes["pol"]), f"{item.name}:{t.name}")
                found.setdefault(basis, f"{item.name} ({', '.join(t.axes['pol'])})")
    if len(found) > 1:
        raise InputError(f"inputs mix polarisation bases: {found['linear']} is linear and "
                         f"{found['circular']} is circular; convert one with 'lofar-hires h5 lin2circ' "
                         "or 'circ2lin' first")
    return next(iter(found), "linear")


def _grid(inputs: list[_Input], axis: str, choice: GridChoice) -> np.ndarray | None:
    candidates = [t.axes[axis] for item in inputs for t in item.tabs if axis in t.axes]
    if choice == "finest":
        return max(candidates, key=len) if candidates else None
    if choice == "first":
        return candidates[0] if candidates else None
    path = Path(choice)
    if path.is_dir():
        from lofar_hires.io.ms import read_ms_info, require_ms

        info = read_ms_info(require_ms(path))
        return info.times_mjd_s if axis == "time" else info.freqs_hz
    if path.is_file():
        with StreamingReader(path) as reader:
            for name in reader.soltab_names:
                if axis in reader.info(name).axes:
                    return reader.info(name).axes[axis]
        raise InputError(f"{path} has no soltab with a {axis} axis to use as the {axis} grid")
    raise InputError(f"the {axis} grid must be finest, first, an h5parm or a measurement set; got {choice!r}",
                     setting=f"{axis}_grid")


def _directions(inputs: list[_Input]) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """Output direction names and positions, from the inputs without assigned directions.

    Also sets :attr:`_Input.assigned` of every direction-assigned input.
    """
    free = [item for item in inputs if item.spec.directions is None]
    assigned = [item for item in inputs if item.spec.directions is not None]
    positions: dict[str, tuple[float, float]] = {}
    for item in free:
        for name, (ra, dec) in item.reader.directions.items():
            if name in positions:
                ra0, dec0 = positions[name]
                sep = np.arccos(np.clip(np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0)
                                        * np.cos(ra - ra0), -1, 1))
                if sep > SAME_POSITION_RAD:
                    raise InputError(f"direction {name} is at different positions in the inputs "
                                     f"({np.degrees(sep) * 3600:.1f} arcsec apart; {item.name}): rename one "
                                     "with 'lofar-hires h5 directions rename'")
            else:
                positions[name] = (ra, dec)
    multi = [(item, item.directions()) for item in free if len(item.directions()) > 1]
    if multi:
        first_item, names = multi[0]
        for item, dirs in multi[1:]:
            if sorted(dirs) != sorted(names):
                raise InputError(f"{item.name} and {first_item.name} have different direction sets: "
                                 f"only in one of them: {sorted(set(dirs) ^ set(names))}")
    else:
        single = [item.directions() for item in free if item.directions()]
        names = single[0] if single else []
    missing = [n for n in names if n not in positions]
    if missing:
        raise InputError(f"directions {missing} have no position in any input's source table")
    for item in assigned:
        _assign(item, names)
    return names, {n: positions[n] for n in names}


def _assign(item: _Input, names: list[str]) -> None:
    """Check a direction-assigned input against the output directions ``names`` and set its mask."""
    own = item.directions()
    if len(own) > 1:
        raise InputError(f"{item.name} has {len(own)} directions ({', '.join(own[:5])}); an input assigned to "
                         "output directions must have one", setting="directions")
    if not names:
        raise InputError(f"{item.name} is assigned to directions {', '.join(item.spec.directions)}, but no other "
                         "input has directions to assign it to", setting="directions")
    unknown = [d for d in item.spec.directions if d not in names]
    if unknown:
        raise InputError(f"{item.name} is assigned to unknown direction(s) {', '.join(unknown)}; the output "
                         f"directions are {', '.join(names)}", setting="directions")
    item.assigned = np.isin(np.array(names), np.array(item.spec.directions))


def _antennas(inputs: list[_Input]) -> tuple[list[str], np.ndarray, list[str]]:
    names: list[str] = []
    positions: list[np.ndarray] = []
    for item in inputs:
        for n, p in zip(item.reader.antenna_names, item.reader.antenna_positions_m):
            if n not in names:
                names.append(n)
                positions.append(p)
    warnings = []
    for item in inputs:
        for t in item.tabs:
            have = set(t.axes["ant"]) if "ant" in t.axes else set(names)
            lacking = [n for n in names if n not in have]
            if lacking:
                msg = (f"{item.name}:{t.name} has no solutions for {', '.join(lacking)}: identity used "
                       "for them")
                log.warning("%s", msg)
                warnings.append(msg)
    return names, np.array(positions).reshape(-1, 3), warnings


@dataclass(frozen=True)
class _Target:
    times: np.ndarray | None
    freqs: np.ndarray | None
    ants: list[str]
    dirs: list[str]
    method: Method


def _index_map(source: np.ndarray, target: list[str], missing_ok: bool) -> np.ndarray | None:
    """Indices of ``target`` names in ``source`` (-1 when absent); None when the orders are equal."""
    if len(source) == len(target) and list(source) == list(target):
        return None
    pos = {n: i for i, n in enumerate(source)}
    idx = np.array([pos.get(n, -1) for n in target])
    if not missing_ok and np.any(idx < 0):
        raise InputError(f"names {[n for n, i in zip(target, idx) if i < 0]} are missing")
    return idx


def _soltab_block(item: _Input, tab: SoltabInfo, target: _Target, t_start: int, t_stop: int
                  ) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Values and weights of one soltab on the target grid for a block of time slots.

    Returns arrays shaped ``(nt, nf, nant, ndir[, npol])`` where absent input
    axes have length 1 (broadcast) and missing antennas hold the identity value.
    Weights stay in the file's (single) precision. Maps that change nothing are skipped.
    """
    axes = list(tab.axes)
    tmap: AxisMap | None = None
    start = stop = None
    if "time" in tab.axes and target.times is not None:
        tmap = axis_map(tab.axes["time"], target.times[t_start:t_stop], target.method)
        start, stop = tmap.span
        tmap = tmap.shifted(start)
    val, weight = item.reader.read(tab.name, "time" if tmap is not None else None, start or 0, stop)
    val = np.asarray(val, dtype=float)
    angular = tab.soltype in ("phase", "scalarphase", "rotation")
    if tmap is not None and not tmap.is_identity(val.shape[axes.index("time")]):
        ax = axes.index("time")
        val = apply_map(val, tmap, ax, angular)
        weight = apply_map_weights(weight, tmap, ax)
    if "freq" in tab.axes and target.freqs is not None:
        fmap = item.freq_maps.get(tab.name)
        if fmap is None:
            fmap = item.freq_maps[tab.name] = axis_map(tab.axes["freq"], target.freqs, target.method)
        if not fmap.is_identity(len(tab.axes["freq"])):
            ax = axes.index("freq")
            val = apply_map(val, fmap, ax, angular)
            weight = apply_map_weights(weight, fmap, ax)
    # Canonical order with absent axes inserted as length 1.
    order = [a for a in ("time", "freq", "ant", "dir", "pol") if a in axes]
    perm = [axes.index(a) for a in order]
    if perm != sorted(perm):
        val = np.transpose(val, perm)
        weight = np.transpose(weight, perm)
    for pos, a in enumerate(("time", "freq", "ant", "dir")):
        if a not in order:
            val = np.expand_dims(val, pos)
            weight = np.expand_dims(weight, pos)
            order.insert(pos, a)
    # Antennas in the output order; identity for the ones this soltab lacks.
    if "ant" in tab.axes:
        if tab.name not in item.ant_maps:
            item.ant_maps[tab.name] = _index_map(tab.axes["ant"], target.ants, missing_ok=True)
        idx = item.ant_maps[tab.name]
        if idx is not None:
            val, weight = _remap_antennas(tab, val, weight, idx)
    # Directions in the output order (a single direction applies to all).
    if "dir" in tab.axes and len(tab.axes["dir"]) > 1:
        if tab.name not in item.dir_maps:
            item.dir_maps[tab.name] = _index_map(tab.axes["dir"], target.dirs, missing_ok=False)
        idx = item.dir_maps[tab.name]
        if idx is not None:
            val = val[:, :, :, idx]
            weight = weight[:, :, :, idx]
    if item.assigned is not None:
        val, weight = _assigned_directions(tab, val, weight, item.assigned)
    pols = list(tab.axes["pol"]) if "pol" in tab.axes else None
    if pols is not None and len(pols) == 1:  # a one-entry polarisation axis is scalar
        val, weight, pols = val[..., 0], weight[..., 0], None
    return val, weight, pols


def _identity_block(tab: SoltabInfo, shape: list[int], dtype) -> tuple[np.ndarray, np.ndarray]:
    """Identity values (0 off the diagonal of a full-Jones amplitude) and weights 1 of one soltab's block."""
    out_val = np.full(shape, IDENTITY_VALUE[tab.soltype])
    if tab.soltype in ("amplitude", "scalaramplitude") and "pol" in tab.axes and len(tab.axes["pol"]) == 4:
        for k, p in enumerate(tab.axes["pol"]):
            if p[0] != p[1]:
                out_val[..., k] = 0.0
    return out_val, np.ones(shape, dtype=dtype)


def _remap_antennas(tab: SoltabInfo, val: np.ndarray, weight: np.ndarray, idx: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    shape = list(val.shape)
    shape[2] = len(idx)
    out_val, out_w = _identity_block(tab, shape, weight.dtype)
    ok = idx >= 0
    out_val[:, :, ok] = val[:, :, idx[ok]]
    out_w[:, :, ok] = weight[:, :, idx[ok]]
    return out_val, out_w


def _assigned_directions(tab: SoltabInfo, val: np.ndarray, weight: np.ndarray, assigned: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """One direction's values broadcast to every output direction, identity (weight 1) where not ``assigned``."""
    shape = list(val.shape)
    shape[3] = len(assigned)
    out_val, out_w = _identity_block(tab, shape, weight.dtype)
    out_val[:, :, :, assigned] = val
    out_w[:, :, :, assigned] = weight
    return out_val, out_w


@dataclass
class _Polar:
    """Scalar or diagonal gains as amplitude and phase with a trailing polarisation axis of 1 or 2.

    Products of such gains are sums of phases and products of amplitudes: no
    trigonometry is needed until the output is written.
    """

    amp: np.ndarray | float = 1.0
    phase: np.ndarray | float = 0.0

    def __mul__(self, other: _Polar) -> _Polar:
        return _Polar(_accumulate(self.amp, other.amp, np.multiply), _accumulate(self.phase, other.phase, np.add))

    def to_jones(self) -> Jones:
        amp = np.asarray(self.amp, dtype=float)
        phase = np.asarray(self.phase, dtype=float)
        data = amp * phasor(phase)
        if data.shape[-1] == 2:
            return Jones(data, "diagonal")
        return Jones(data[..., 0], "scalar")


def _accumulate(acc, term, op):
    """``op(acc, term)``, in place when ``acc`` is an array this merge owns with the result's shape."""
    if isinstance(acc, np.ndarray) and acc.base is None and acc.flags.writeable and (
            not isinstance(term, np.ndarray) or np.broadcast_shapes(acc.shape, term.shape) == acc.shape):
        return op(acc, term, out=acc)
    return op(acc, term)


def _diagonal_order(values: np.ndarray, pols: list[str] | None) -> np.ndarray:
    """Values with a trailing axis of 1 (scalar) or 2 (the XX/RR then YY/LL elements)."""
    if pols is None:
        return values[..., None]
    if len(pols) != 2:
        raise InputError(f"expected a two-entry polarisation axis, got {pols}")
    order = [POL_ELEMENT[p][0] for p in pols]
    if any(POL_ELEMENT[p][0] != POL_ELEMENT[p][1] for p in pols) or sorted(order) != [0, 1]:
        raise InputError(f"a two-entry polarisation axis must be diagonal (XX, YY or RR, LL), got {pols}")
    return values if order == [0, 1] else values[..., ::-1]


def _min_weight(weight: np.ndarray, pols: list[str] | None) -> np.ndarray:
    """Weights reduced over the polarisation axis (a flag in one polarisation flags all)."""
    if pols is None:
        return weight
    out = weight[..., 0]
    for k in range(1, weight.shape[-1]):
        out = np.minimum(out, weight[..., k])
    return out


def _input_gains(item: _Input, target: _Target, t_start: int, t_stop: int, freqs: np.ndarray | None
                 ) -> tuple[_Polar | Jones, np.ndarray]:
    """The gain of one input on a block of the target grid, and its polarisation-reduced weights.

    Inputs without full-Jones or rotation terms stay in polar form (:class:`_Polar`).
    """
    weight = None
    if item.kind() != "full":
        total = _Polar()
        for tab in item.tabs:
            val, w, pols = _soltab_block(item, tab, target, t_start, t_stop)
            w = _min_weight(w, pols)
            weight = w if weight is None else np.minimum(weight, w)
            val = _diagonal_order(val, pols)
            f = None if freqs is None else freqs[..., None]
            if tab.soltype in ("phase", "scalarphase"):
                total = total * _Polar(phase=val)
            elif tab.soltype in ("amplitude", "scalaramplitude"):
                total = total * _Polar(amp=val)
            elif tab.soltype == "tec":
                total = total * _Polar(phase=TEC_PHASE_CONSTANT * val / f)
            elif tab.soltype == "clock":
                total = total * _Polar(phase=2 * np.pi * val * f)
        return total, weight
    amplitude = phase = None
    rotations: list[Jones] = []
    scalars: list[Jones] = []
    for tab in item.tabs:
        val, w, pols = _soltab_block(item, tab, target, t_start, t_stop)
        fshape = freqs if pols is None else (None if freqs is None else freqs[..., None])
        gains = gains_from_values(tab.soltype, val, pols, fshape)
        w = _min_weight(w, pols)
        weight = w if weight is None else np.minimum(weight, w)
        if tab.soltype in ("phase", "scalarphase"):
            phase = gains if phase is None else combine_amplitude_phase(phase, gains)
        elif tab.soltype in ("amplitude", "scalaramplitude"):
            amplitude = gains if amplitude is None else combine_amplitude_phase(amplitude, gains)
        elif tab.soltype in ("rotation", "rotationmeasure"):
            rotations.append(gains)
        else:
            scalars.append(gains)
    total = combine_amplitude_phase(amplitude, phase)
    for rot in rotations:
        total = rot if total is None else total @ rot
    for sc in scalars:
        total = sc if total is None else total @ sc
    return total, weight


def _product(total: _Polar | Jones | None, gains: _Polar | Jones) -> _Polar | Jones:
    """``total . gains``, staying in polar form while both factors are."""
    if total is None:
        return gains
    if isinstance(total, _Polar) and isinstance(gains, _Polar):
        return total * gains
    a = total.to_jones() if isinstance(total, _Polar) else total
    b = gains.to_jones() if isinstance(gains, _Polar) else gains
    return a @ b


def _output_values(total: _Polar | Jones, kind: Kind, basis: str, shape: tuple[int, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes and phases (wrapped into (-pi, pi]) on the output shape."""
    if isinstance(total, _Polar) and kind != "full":
        k = 1 if kind == "scalar" else 2
        full_shape = shape + (k,)
        amp = np.broadcast_to(np.asarray(total.amp, dtype=float), full_shape)
        phase = np.add(np.broadcast_to(np.asarray(total.phase, dtype=float), full_shape), np.pi)
        np.remainder(phase, 2 * np.pi, out=phase)
        phase -= np.pi
        if kind == "scalar":
            return amp[..., 0], phase[..., 0]
        return amp, phase
    jones = total.to_jones() if isinstance(total, _Polar) else total
    values, _ = (jones.promoted(kind).to_pols(kind, basis) if kind != "scalar" else (jones.data, None))
    values = np.broadcast_to(values, shape + (() if kind == "scalar" else (values.shape[-1],)))
    return np.abs(values), np.angle(values)


def merge_h5parms(specs: Sequence[MergeInput], output: Path, options: MergeOptions = MergeOptions(), *,
                  overwrite: bool = False, provenance: Provenance | None = None) -> MergeSummary:
    """Merge ``specs`` (in application order) into ``output``; see the module documentation.

    Raises
    ------
    InputError
        Unreadable inputs, unknown soltab types or axes, mixed polarisation
        bases, inconsistent directions, or a grid that cannot be built.
    OutputExistsError
        ``output`` exists and ``overwrite`` is false.
    """
    if not specs:
        raise InputError("merge needs at least one input h5parm")
    check_group_name(options.solset, "solset")
    for spec in specs:
        if Path(output).resolve() == Path(spec.path).resolve():
            raise InputError(f"the output {output} is one of the inputs; write the merge to a new file")
    if Path(output).is_dir():
        raise InputError(f"the output {output} is a directory; give the name of the h5parm to write")
    check_output_path(Path(output), overwrite)
    t0 = time.monotonic()
    prov = provenance or Provenance(task="h5 merge")
    prov.parameters.setdefault("options", repr(options))
    assigned = {str(spec.path): list(spec.directions) for spec in specs if spec.directions is not None}
    if assigned:
        prov.parameters.setdefault("assigned_directions", assigned)
    for spec in specs:
        prov.add_input(spec.path)
    inputs = _open_inputs(specs)
    try:
        basis = _common_basis(inputs)
        ants, positions, warnings = _antennas(inputs)
        dirs, dir_positions = _directions(inputs)
        times = _grid(inputs, "time", options.time_grid)
        freqs = _grid(inputs, "freq", options.freq_grid)
        needs_freq = any(t.soltype in ("tec", "clock", "rotationmeasure") for i in inputs for t in i.tabs)
        if needs_freq and freqs is None:
            raise InputError("tec, clock or rotation-measure solutions need frequencies: no input has a freq "
                             "axis; give a frequency grid from an h5parm or a measurement set", setting="freq_grid")
        kind = max((i.kind() for i in inputs), key={"scalar": 0, "diagonal": 1, "full": 2}.__getitem__)
        if options.output_kind != "auto":
            if {"scalar": 0, "diagonal": 1, "full": 2}[options.output_kind] < {"scalar": 0, "diagonal": 1,
                                                                              "full": 2}[kind]:
                raise InputError(f"the inputs need {kind} solutions; cannot write them as {options.output_kind}")
            kind = options.output_kind
        target = _Target(times, freqs, ants, dirs, options.interpolation)
        out_axes: dict[str, np.ndarray] = {}
        if times is not None:
            out_axes["time"] = times
        if freqs is not None:
            out_axes["freq"] = freqs
        out_axes["ant"] = np.array(ants)
        if dirs:
            out_axes["dir"] = np.array(dirs)
        pol_labels = None
        if kind != "scalar":
            pol_labels = Jones.identity((1,), kind).to_pols(kind, basis)[1]
            out_axes["pol"] = np.array(pol_labels)
        log.info("merging %d h5parm(s) into %s solutions on %s", len(inputs), kind,
                 ", ".join(f"{k} {len(v)}" for k, v in out_axes.items()))
        n_t = 1 if times is None else len(times)
        n_f = 1 if freqs is None else len(freqs)
        per_slot = n_f * len(ants) * max(1, len(dirs)) * {"scalar": 1, "diagonal": 2, "full": 4}[kind]
        block = max(1, options.block_values // per_slot)
        freqs_b = None if freqs is None else freqs.reshape(1, n_f, 1, 1)
        flagged = 0
        total_points = 0
        with atomic_output(Path(output), overwrite) as tmp:
            with H5parmWriter(tmp, options.solset, ants, positions, dir_positions) as writer:
                for name in ("amplitude000", "phase000"):
                    writer.create_soltab(name, "amplitude" if name.startswith("amp") else "phase", out_axes)
                for b_start in range(0, n_t, block):
                    b_stop = min(n_t, b_start + block)
                    total = None
                    weight = None
                    for item in inputs:
                        gains, w = _input_gains(item, target, b_start, b_stop, freqs_b)
                        total = _product(total, gains)
                        weight = w if weight is None else np.minimum(weight, w)
                    shape = (b_stop - b_start, n_f, len(ants), max(1, len(dirs)))
                    amp, phase = _output_values(total, kind, basis, shape)
                    w_out = np.broadcast_to(weight, shape)
                    flagged += int(np.count_nonzero(w_out == 0)) * (1 if kind == "scalar" else len(pol_labels))
                    total_points += amp.size
                    if kind != "scalar":
                        w_out = w_out[..., None]
                    # One contiguous single-precision weight array serves both soltabs.
                    w_out = np.ascontiguousarray(np.broadcast_to(w_out, amp.shape), dtype=np.float32)
                    amp, w_out = _drop_absent(amp, w_out, times is None, freqs is None, not dirs)
                    phase = _drop_absent(phase, phase, times is None, freqs is None, not dirs)[0]
                    axis = "time" if times is not None else None
                    writer.write_block("amplitude000", amp, w_out, axis, b_start)
                    writer.write_block("phase000", phase, w_out, axis, b_start)
                    log.info("merged time slots %d-%d of %d", b_start + 1, b_stop, n_t)
                writer.set_solset_attrs({PROVENANCE_ATTR: prov.to_json()})
    finally:
        for item in inputs:
            item.reader.close()
    summary = MergeSummary(output=Path(output), kind=kind, axes={k: len(v) for k, v in out_axes.items()},
                           directions=dirs, flagged_fraction=flagged / max(1, total_points),
                           wall_time_s=time.monotonic() - t0, warnings=warnings)
    log.info("wrote %s: %s solutions, %.1f%% flagged, %.1f s", output, kind, 100 * summary.flagged_fraction,
             summary.wall_time_s)
    return summary


def _drop_absent(values: np.ndarray, weight: np.ndarray, no_time: bool, no_freq: bool, no_dir: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Remove the length-1 placeholder axes that the output does not have."""
    drop = [i for i, absent in ((0, no_time), (1, no_freq), (3, no_dir)) if absent]
    return np.squeeze(values, axis=tuple(drop)), np.squeeze(weight, axis=tuple(drop))
