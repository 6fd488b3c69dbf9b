"""Jones matrices from h5parm soltabs, and back, in DP3's conventions.

A :class:`Jones` holds complex gains with the polarisation structure in the
last axes: ``scalar`` (no polarisation axis), ``diagonal`` (last axis 2: the
(0,0) and (1,1) elements) or ``full`` (last two axes 2 x 2). Products promote
the structure as needed and keep the order of the factors.

Soltab types become gains as DP3's applycal interprets them:
``phase`` -> ``exp(i phi)``, ``amplitude`` -> ``A``, ``tec`` ->
``exp(i K tec / nu)`` with ``K = -8.44797245e9``, ``clock`` ->
``exp(2 pi i nu tau)``, ``rotation`` -> ``[[cos, -sin], [sin, cos]]``,
``rotationmeasure`` -> the rotation by ``RM * (c/nu)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.physics import C_M_S, TEC_PHASE_CONSTANT

Kind = Literal["scalar", "diagonal", "full"]
_RANK = {"scalar": 0, "diagonal": 1, "full": 2}
#: Element (row, column) of a 2x2 Jones matrix for each polarisation label.
POL_ELEMENT = {"XX": (0, 0), "XY": (0, 1), "YX": (1, 0), "YY": (1, 1),
               "RR": (0, 0), "RL": (0, 1), "LR": (1, 0), "LL": (1, 1)}
POL_LABELS = {"linear": {"diagonal": ["XX", "YY"], "full": ["XX", "XY", "YX", "YY"]},
              "circular": {"diagonal": ["RR", "LL"], "full": ["RR", "RL", "LR", "LL"]}}


@dataclass
class Jones:
    """Complex gains with a polarisation structure (``kind``) in the trailing axes."""

    data: np.ndarray
    kind: Kind

    @staticmethod
    def identity(shape: tuple[int, ...], kind: Kind = "scalar") -> Jones:
        if kind == "scalar":
            return Jones(np.ones(shape, complex), "scalar")
        if kind == "diagonal":
            return Jones(np.ones(shape + (2,), complex), "diagonal")
        return Jones(np.broadcast_to(np.eye(2, dtype=complex), shape + (2, 2)).copy(), "full")

    def promoted(self, kind: Kind) -> Jones:
        """The same gains with at least the structure ``kind``."""
        if _RANK[kind] <= _RANK[self.kind]:
            return self
        if self.kind == "scalar":
            diag = np.stack([self.data, self.data], axis=-1)
        else:
            diag = self.data
        if kind == "diagonal":
            return Jones(diag, "diagonal")
        full = np.zeros(diag.shape[:-1] + (2, 2), complex)
        full[..., 0, 0] = diag[..., 0]
        full[..., 1, 1] = diag[..., 1]
        return Jones(full, "full")

    def __matmul__(self, other: Jones) -> Jones:
        """``self . other`` (self is further along the signal path, applied first when correcting)."""
        kind: Kind = max(self.kind, other.kind, key=_RANK.__getitem__)
        if kind != "full":
            a, b = self.promoted(kind).data, other.promoted(kind).data
            return Jones(a * b, kind)
        return Jones(self.promoted("full").data @ other.promoted("full").data, "full")

    def to_pols(self, kind: Kind, basis: str = "linear") -> tuple[np.ndarray, list[str] | None]:
        """Complex values with a trailing polarisation axis for ``kind`` (None for scalar)."""
        if kind == "scalar":
            if self.kind != "scalar":
                raise InputError("cannot write polarised solutions as scalar")
            return self.data, None
        j = self.promoted(kind).data if _RANK[self.kind] <= _RANK[kind] else None
        if j is None:
            raise InputError(f"cannot write {self.kind} solutions as {kind}")
        labels = POL_LABELS[basis][kind]
        if kind == "diagonal":
            return j, labels
        return np.stack([j[..., r, c] for r, c in (POL_ELEMENT[p] for p in labels)], axis=-1), labels


def phasor(phase_rad: np.ndarray) -> np.ndarray:
    """``exp(i phase)`` computed as cos + i sin into one array (faster than ``np.exp(1j * x)``)."""
    phase_rad = np.asarray(phase_rad, dtype=float)
    out = np.empty(phase_rad.shape, dtype=complex)
    np.cos(phase_rad, out=out.real)
    np.sin(phase_rad, out=out.imag)
    return out


def rotation_matrix(angle_rad: np.ndarray) -> np.ndarray:
    """``[[cos, -sin], [sin, cos]]`` with shape ``angle.shape + (2, 2)``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def kind_of_pols(labels: list[str] | None) -> Kind:
    """The structure implied by a polarisation axis."""
    if labels is None or len(labels) == 1:
        return "scalar"
    if len(labels) == 2:
        return "diagonal"
    if len(labels) == 4:
        return "full"
    raise InputError(f"polarisation axis {labels} has {len(labels)} entries; expected 1, 2 or 4")


def gains_from_values(soltype: str, val: np.ndarray, pols: list[str] | None,
                      freqs_hz: np.ndarray | None) -> Jones:
    """Gains of a soltab whose values have a trailing polarisation axis (when ``pols``).

    ``val`` must have its frequency axis broadcastable against ``freqs_hz`` placed
    by the caller (for ``tec``, ``clock`` and ``rotationmeasure``): the caller
    passes ``freqs_hz`` already shaped for broadcasting.
    """
    kind = kind_of_pols(pols)
    if kind == "scalar" and pols is not None:
        val = val[..., 0]
    if soltype in ("phase", "scalarphase"):
        g = phasor(val)
    elif soltype in ("amplitude", "scalaramplitude"):
        g = val.astype(complex)
    elif soltype == "tec":
        g = phasor(TEC_PHASE_CONSTANT * val / _need(freqs_hz, soltype))
    elif soltype == "clock":
        g = phasor(2 * np.pi * val * _need(freqs_hz, soltype))
    elif soltype in ("rotation", "rotationmeasure"):
        if kind != "scalar":
            raise InputError(f"{soltype} solutions with a polarisation axis are not supported")
        angle = val if soltype == "rotation" else val * (C_M_S / _need(freqs_hz, soltype)) ** 2
        return Jones(rotation_matrix(angle), "full")
    else:
        raise InputError(f"soltype {soltype!r} cannot be converted to gains")
    if kind == "scalar":
        return Jones(g, "scalar")
    if kind == "diagonal":
        order = [POL_ELEMENT[p][0] for p in pols]
        if sorted(order) != [0, 1] or any(POL_ELEMENT[p][0] != POL_ELEMENT[p][1] for p in pols):
            raise InputError(f"a two-entry polarisation axis must be diagonal (XX, YY or RR, LL), got {pols}")
        return Jones(g[..., np.argsort(order)], "diagonal")
    # Full Jones: one value per matrix element (amplitude and phase combine element-wise).
    full = np.zeros(g.shape[:-1] + (2, 2), complex)
    for k, p in enumerate(pols):
        r, c = POL_ELEMENT[p]
        full[..., r, c] = g[..., k]
    return Jones(full, "full")


def _need(freqs_hz: np.ndarray | None, soltype: str) -> np.ndarray:
    if freqs_hz is None:
        raise InputError(f"{soltype} solutions need a frequency axis or target frequencies")
    return freqs_hz


def combine_amplitude_phase(amplitude: Jones | None, phase: Jones | None) -> Jones | None:
    """Gains ``A exp(i phi)``, element by element: how DP3 combines an amplitude/phase pair.

    A factor with less structure counts as 1 in the elements it does not have.
    """
    if amplitude is None:
        return phase
    if phase is None:
        return amplitude
    kind: Kind = max(amplitude.kind, phase.kind, key=_RANK.__getitem__)
    return Jones(_elementwise(amplitude, kind) * _elementwise(phase, kind), kind)


def _elementwise(j: Jones, kind: Kind) -> np.ndarray:
    if j.kind == kind:
        return j.data
    data = j.promoted(kind).data
    if kind == "full":
        data[..., 0, 1] = 1.0
        data[..., 1, 0] = 1.0
    return data


def lin_to_circ(j: Jones) -> Jones:
    """Full-Jones gains from the linear (X, Y) to the circular (R, L) basis: ``T J T^-1``."""
    t = np.array([[1, 1j], [1, -1j]]) / np.sqrt(2)
    full = j.promoted("full").data
    return Jones(t @ full @ np.linalg.inv(t), "full")


def circ_to_lin(j: Jones) -> Jones:
    """Inverse of :func:`lin_to_circ`."""
    t = np.array([[1, 1j], [1, -1j]]) / np.sqrt(2)
    full = j.promoted("full").data
    return Jones(np.linalg.inv(t) @ full @ t, "full")
