"""Synthetic solutions on a measurement set's grid, and DP3 applycal runs, for merge tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lofar_hires.io.h5parm import Soltab, write_h5parm
from lofar_hires.io.ms import read_ms_info
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3


def grid(ms: Path, time_step: int = 1, freq_step: int = 1) -> dict[str, np.ndarray]:
    """Solution-interval centres on the MS grid (every ``step`` slots/channels)."""
    info = read_ms_info(ms)
    t = info.times_mjd_s
    f = info.freqs_hz
    nt = len(t) // time_step * time_step
    nf = len(f) // freq_step * freq_step
    return {
        "time": t[:nt].reshape(-1, time_step).mean(axis=1),
        "freq": f[:nf].reshape(-1, freq_step).mean(axis=1),
        "ant": np.array(info.station_names),
        "positions": info.station_positions_m,
    }


def smooth(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Random values that vary smoothly along the first two axes."""
    base = rng.normal(0, scale, shape)
    for ax in range(min(2, len(shape))):
        base = (base + np.roll(base, 1, axis=ax)) / 2
    return base


def soltab(name: str, soltype: str, g: dict, axes: list[str], values: np.ndarray,
           weight: np.ndarray | None = None) -> Soltab:
    extra = {"pol2": ["XX", "YY"], "pol4": ["XX", "XY", "YX", "YY"], "dir": None}
    ax = {}
    for a in axes:
        if a in ("pol2", "pol4"):
            ax["pol"] = np.array(extra[a])
        else:
            ax[a] = g[a]
    return Soltab(name, soltype, ax, values, weight)


def write(path: Path, g: dict, tabs: list[Soltab], directions=None) -> Path:
    return write_h5parm(path, tabs, list(g["ant"]), g["positions"], directions)


def applycal_steps(prefix: str, path: Path, how: str, soltabs: list[str]) -> Dp3Step:
    """An applycal step for one h5parm: ``full`` (fulljones pair), else one sub-step per soltab."""
    if how == "full":
        return Dp3Step(prefix, "applycal", {"parmdb": path, "correction": "fulljones",
                                            "soltab": ["amplitude000", "phase000"]})
    opts = {"parmdb": path, "steps": [f"s{i}" for i in range(len(soltabs))]}
    for i, tab in enumerate(soltabs):
        opts[f"s{i}.correction"] = tab
    return Dp3Step(prefix, "applycal", opts)


def apply(ms: Path, workdir: Path, name: str, steps: list[Dp3Step]) -> np.ndarray:
    """DATA corrected by ``steps`` (written to a new MS), as an array."""
    from casacore.tables import table

    out = workdir / f"{name}.MS"
    run_dp3(Dp3Run(msin=ms, msout=out, steps=steps), workdir, name)
    with table(str(out), ack=False) as t:
        return t.getcol("DATA")
