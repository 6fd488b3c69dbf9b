"""The h5parm data model: solution tables, solution sets, axis and direction conventions."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

#: Axis names allowed in a soltab, in the canonical (DP3) order.
KNOWN_AXES = ("time", "freq", "ant", "dir", "pol")
#: Soltab types understood by DP3's applycal (and by this package).
KNOWN_TYPES = ("phase", "amplitude", "tec", "clock", "rotation", "rotationmeasure", "scalarphase",
               "scalaramplitude")
LINEAR_POLS = ("XX", "XY", "YX", "YY")
CIRCULAR_POLS = ("RR", "RL", "LR", "LL")
#: Attributes are fixed-length byte strings, as DP3 writes them.
H5PARM_VERSION = np.bytes_(b"1.0")
#: Width of the name fields of the antenna and source tables (DP3's layout; null-terminated).
ANTENNA_NAME_BYTES = 16
SOURCE_NAME_BYTES = 128


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def wrap_ra(ra_rad: float) -> float:
    """RA in (-pi, pi], the convention of DP3 and of WSClean's facet matching."""
    wrapped = float(np.mod(ra_rad + np.pi, 2 * np.pi) - np.pi)
    return np.pi if wrapped == -np.pi else wrapped


def direction_name(name: str) -> str:
    """The bracketed direction name DP3 uses (``[name]``)."""
    name = str(name)
    return name if name.startswith("[") and name.endswith("]") else f"[{name}]"


@dataclass
class Soltab:
    """One solution table: named axes with values, a value array and weights."""

    name: str
    soltype: str
    axes: dict[str, np.ndarray]
    val: np.ndarray
    weight: np.ndarray | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.soltype not in KNOWN_TYPES:
            raise InputError(f"soltab {self.name}: unknown type {self.soltype!r}; use one of {KNOWN_TYPES}")
        unknown = [a for a in self.axes if a not in KNOWN_AXES]
        if unknown:
            raise InputError(f"soltab {self.name}: unknown axes {unknown}; allowed {KNOWN_AXES}")
        self.axes = {k: np.asarray(v) for k, v in self.axes.items()}
        for key in ("ant", "dir", "pol"):
            if key in self.axes:
                self.axes[key] = self.axes[key].astype(str)
        if "dir" in self.axes:
            self.axes["dir"] = np.array([direction_name(d) for d in self.axes["dir"]])
        shape = tuple(len(v) for v in self.axes.values())
        self.val = np.asarray(self.val)
        if self.val.shape != shape:
            raise InputError(f"soltab {self.name}: values have shape {self.val.shape}, axes give {shape}")
        if self.weight is None:
            self.weight = np.ones(shape)
        else:
            self.weight = np.asarray(self.weight)
            if self.weight.shape != shape:
                raise InputError(f"soltab {self.name}: weights have shape {self.weight.shape}, axes give {shape}")
        if "pol" in self.axes:
            pol_basis(self.axes["pol"], f"soltab {self.name}")

    @property
    def axis_names(self) -> list[str]:
        return list(self.axes)

    @property
    def basis(self) -> str | None:
        """``linear``, ``circular`` or ``None`` (no polarisation axis)."""
        return pol_basis(self.axes["pol"], self.name) if "pol" in self.axes else None

    def transposed(self, order: Sequence[str]) -> Soltab:
        """The same soltab with its axes in ``order`` (a permutation of its axes)."""
        if sorted(order) != sorted(self.axes):
            raise InputError(f"soltab {self.name}: cannot order axes {list(self.axes)} as {list(order)}")
        perm = [self.axis_names.index(a) for a in order]
        return Soltab(self.name, self.soltype, {a: self.axes[a] for a in order},
                      np.transpose(self.val, perm), np.transpose(self.weight, perm), dict(self.attrs))

    def canonical(self) -> Soltab:
        """The soltab with its axes in DP3's order (time, freq, ant, dir, pol)."""
        return self.transposed([a for a in KNOWN_AXES if a in self.axes])


def pol_basis(pols: Sequence[str], where: str) -> str:
    """``linear`` or ``circular`` for a polarisation axis; refuses mixtures and unknown labels."""
    labels = [_text(p) for p in pols]
    if all(p in LINEAR_POLS for p in labels):
        return "linear"
    if all(p in CIRCULAR_POLS for p in labels):
        return "circular"
    raise InputError(f"{where}: polarisation axis {labels} is neither linear (XX, XY, YX, YY) "
                     "nor circular (RR, RL, LR, LL)")


@dataclass
class Solset:
    """A solution set: antennas, directions and soltabs."""

    name: str
    antenna_names: list[str]
    antenna_positions_m: np.ndarray
    directions: dict[str, tuple[float, float]] = field(default_factory=dict)
    soltabs: dict[str, Soltab] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.antenna_names = [str(a) for a in self.antenna_names]
        self.antenna_positions_m = np.asarray(self.antenna_positions_m, dtype=float).reshape(-1, 3)
        if len(self.antenna_names) != len(self.antenna_positions_m):
            raise InputError(f"solset {self.name}: {len(self.antenna_names)} antenna names but "
                             f"{len(self.antenna_positions_m)} positions")
        self.directions = {direction_name(k): (wrap_ra(v[0]), float(v[1]))
                           for k, v in self.directions.items()}

    def antenna_position(self, name: str) -> np.ndarray:
        return self.antenna_positions_m[self.antenna_names.index(name)]


def iter_blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in blocks of ``block``."""
    for start in range(0, n, max(1, block)):
        yield start, min(n, start + max(1, block))
