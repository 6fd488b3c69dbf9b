"""What an h5parm holds (``lofar-hires h5 info``): solsets, soltabs, axes, value ranges, flags.

Values are read in blocks along the first axis, so large files need little memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.io.h5parm import StreamingReader, iter_blocks, pol_basis, validate_h5parm
from lofar_hires.solutions.directions import ra_deg

#: Values read at once when scanning a soltab.
BLOCK_VALUES = 4_000_000


def _axis_summary(name: str, values: np.ndarray, directions: dict[str, tuple[float, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"length": int(len(values))}
    if name == "time" and len(values):
        out.update(start_s=float(values[0]), span_s=float(values[-1] - values[0]),
                   step_s=float(np.median(np.diff(values))) if len(values) > 1 else None)
    elif name == "freq" and len(values):
        out.update(min_mhz=float(values.min()) / 1e6, max_mhz=float(values.max()) / 1e6,
                   step_mhz=float(np.median(np.diff(values))) / 1e6 if len(values) > 1 else None)
    elif name == "ant":
        out["names"] = [str(v) for v in values]
    elif name == "dir":
        out["directions"] = [_direction(str(d), directions.get(str(d))) for d in values]
    elif name == "pol":
        out["labels"] = [str(v) for v in values]
    return out


def _direction(name: str, position: tuple[float, float] | None) -> dict[str, Any]:
    if position is None:
        return {"name": name, "ra_deg": None, "dec_deg": None}
    return {"name": name, "ra_deg": ra_deg(position[0]), "dec_deg": float(np.degrees(position[1]))}


def _scan(reader: StreamingReader, name: str) -> dict[str, Any]:
    """Range of the unflagged finite values and the flagged fraction, block by block."""
    info = reader.info(name)
    first_axis = next(iter(info.axes), None)
    n_first = info.shape[0] if info.shape else 1
    per_slot = max(1, int(np.prod(info.shape[1:]))) if info.shape else 1
    lo, hi = np.inf, -np.inf
    flagged = total = 0
    for start, stop in iter_blocks(n_first, max(1, BLOCK_VALUES // per_slot)):
        val, weight = reader.read(name, first_axis, start, stop)
        good = (weight > 0) & np.isfinite(val)
        flagged += int(np.count_nonzero(weight == 0))
        total += int(weight.size)
        if good.any():
            lo, hi = min(lo, float(val[good].min())), max(hi, float(val[good].max()))
    return {"value_min": lo if np.isfinite(lo) else None, "value_max": hi if np.isfinite(hi) else None,
            "flagged_fraction": flagged / total if total else 0.0}


def describe_h5parm(path: Path) -> dict[str, Any]:
    """A JSON-serialisable description of every solset and soltab in ``path``.

    Per soltab: type, axes (lengths; time start, span and step in s; frequency
    range and step in MHz; antenna names; directions with RA in [0, 360) and Dec in degrees;
    polarisation labels), range of the unflagged values, flagged fraction
    (weight 0) and polarisation basis (``linear``, ``circular`` or None).

    Raises
    ------
    InputError
        Not an h5parm, or a malformed or truncated one.
    MissingInputError
        The file does not exist.
    """
    path = Path(path)
    solsets = []
    for ss_name in validate_h5parm(path):
        with StreamingReader(path, ss_name) as reader:
            soltabs = []
            for name in reader.soltab_names:
                info = reader.info(name)
                soltabs.append({
                    "name": name,
                    "type": info.soltype,
                    "axes": {a: _axis_summary(a, v, reader.directions) for a, v in info.axes.items()},
                    **_scan(reader, name),
                    "basis": pol_basis(info.axes["pol"], name) if "pol" in info.axes else None,
                })
            solsets.append({
                "name": ss_name,
                "antennas": [str(a) for a in reader.antenna_names],
                "directions": [_direction(n, p) for n, p in reader.directions.items()],
                "soltabs": soltabs,
            })
    return {"file": str(path), "solsets": solsets}


def _range(lo: float | None, hi: float | None) -> str:
    return "all flagged" if lo is None or hi is None else f"{lo:.6g} .. {hi:.6g}"


def _axis_text(name: str, axis: dict[str, Any]) -> str:
    n = axis["length"]
    if name == "time" and n:
        step = f", step {axis['step_s']:.6g} s" if axis.get("step_s") else ""
        return f"time {n} (span {axis['span_s']:.6g} s{step})"
    if name == "freq" and n:
        return f"freq {n} ({axis['min_mhz']:.6f} - {axis['max_mhz']:.6f} MHz)"
    if name == "pol":
        return f"pol {n} ({', '.join(axis['labels'])})"
    return f"{name} {n}"


def format_info(description: dict[str, Any]) -> str:
    """The output of :func:`describe_h5parm` as readable text."""
    lines = [description["file"]]
    for ss in description["solsets"]:
        lines.append(f"solset {ss['name']}: {len(ss['antennas'])} antennas, {len(ss['directions'])} directions, "
                     f"{len(ss['soltabs'])} soltabs")
        lines.append(f"  antennas: {', '.join(ss['antennas'])}")
        for d in ss["directions"]:
            lines.append(f"  direction {d['name']}: RA {d['ra_deg']:.6f} deg, Dec {d['dec_deg']:.6f} deg")
        for tab in ss["soltabs"]:
            axes = ", ".join(_axis_text(a, v) for a, v in tab["axes"].items())
            basis = f", {tab['basis']} basis" if tab["basis"] else ""
            lines.append(f"  soltab {tab['name']} ({tab['type']}{basis}): {axes}")
            lines.append(f"    values {_range(tab['value_min'], tab['value_max'])}, "
                         f"{100 * tab['flagged_fraction']:.2f}% flagged")
    return "\n".join(lines)
