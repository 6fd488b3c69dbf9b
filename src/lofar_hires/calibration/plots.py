"""Inspection plots of the calibrator pipeline (like the figures of de Gasperin et al. 2019).

* ``solveN_phase.png``: XX phases of each solve as time x frequency waterfalls,
  referenced to the reference station, for a few stations (core, remote, distant);
* ``polalign.png``: the referenced XX-YY phase against frequency with the fitted delay;
* ``faraday.png``: rotation measure against time;
* ``bandpass.png``: bandpass amplitudes against frequency (XX and YY);
* ``clocktec.png``: clock and TEC against time;
* ``<h5parm>_<soltab>[_<direction>][_<pol>].png``: every soltab of ``cal_solutions.h5`` and the
  phase soltabs of each solve with a panel per station
  (:func:`lofar_hires.calibration.solution_grid.calibrator_grids`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lofar_hires.calibration.solution_grid import calibrator_grids, product_grids
from lofar_hires.io.h5parm import read_h5parm

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pick_stations(names: list[str], positions: np.ndarray, reference: str, n: int = 4) -> list[str]:
    """The reference, then stations spread in distance from it (a core, a remote, the most distant)."""
    names = list(names)
    ref = names.index(reference) if reference in names else 0
    dist = np.linalg.norm(np.asarray(positions) - np.asarray(positions)[ref], axis=1)
    order = [i for i in np.argsort(dist) if i != ref]
    if not order:
        return [names[ref]]
    picks = sorted({order[int(round(k))] for k in np.linspace(0, len(order) - 1, min(n - 1, len(order)))},
                   key=lambda i: dist[i])
    return [names[ref]] + [names[i] for i in picks]


def _referenced(values: np.ndarray, names: list[str], reference: str) -> np.ndarray:
    ref = names.index(reference) if reference in names else 0
    return np.angle(np.exp(1j * (values - values[:, :, ref:ref + 1])))


def plot_solve_phases(h5: Path, out: Path, reference: str) -> Path:
    plt = _pyplot()
    tab = read_h5parm(h5, None, ["phase000"]).soltabs["phase000"].canonical()
    ss = read_h5parm(h5, None, [])
    val = tab.val
    if "dir" in tab.axes:
        val = np.take(val, 0, axis=tab.axis_names.index("dir"))
    if "pol" in tab.axes:
        val = val[..., 0]
    names = list(tab.axes["ant"])
    phase = _referenced(val, names, reference)
    stations = pick_stations(names, ss.antenna_positions_m, reference)
    t = (tab.axes["time"] - tab.axes["time"][0]) / 60.0
    f = tab.axes["freq"] / 1e6
    fig, axes = plt.subplots(len(stations), 1, figsize=(7, 2.2 * len(stations)), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], stations):
        im = ax.imshow(phase[:, :, names.index(name)].T, aspect="auto", origin="lower", cmap="twilight",
                       vmin=-np.pi, vmax=np.pi, extent=[t[0], t[-1] if len(t) > 1 else 1, f[0], f[-1]])
        ax.set_ylabel(f"{name}\nMHz")
    axes[-1, 0].set_xlabel("time (min)")
    fig.colorbar(im, ax=axes[:, 0].tolist(), label=f"XX phase - {reference} (rad)")
    fig.suptitle(h5.stem)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_polalign(solve_h5: Path, polalign_h5: Path, out: Path, reference: str) -> Path:
    plt = _pyplot()
    tab = read_h5parm(solve_h5, None, ["phase000"]).soltabs["phase000"].canonical()
    val = np.take(tab.val, 0, axis=tab.axis_names.index("dir")) if "dir" in tab.axes else tab.val
    names = list(tab.axes["ant"])
    diff = val[..., 0] - val[..., 1]
    diff = _referenced(diff, names, reference)
    fitted = read_h5parm(polalign_h5).soltabs["polalign"].canonical()
    model = -fitted.val[..., 1]  # XX-YY phase that the correction removes
    ss = read_h5parm(solve_h5, None, [])
    stations = pick_stations(names, ss.antenna_positions_m, reference, 6)
    f = tab.axes["freq"] / 1e6
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, name in enumerate(stations):
        i = names.index(name)
        median = np.angle(np.nanmean(np.exp(1j * diff[:, :, i]), axis=0))
        line = ax.plot(f, median + 2 * np.pi * k, ".", label=name)[0]
        ax.plot(f, np.angle(np.exp(1j * model[:, i])) + 2 * np.pi * k, "-", color=line.get_color())
    ax.set_xlabel("frequency (MHz)")
    ax.set_ylabel(f"XX-YY phase - {reference} (rad, offset per station)")
    ax.set_title("polarisation alignment: data (dots) and fitted delay (lines)")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_time_series(h5: Path, soltabs: list[tuple[str, float, str]], out: Path, reference: str,
                     title: str) -> Path:
    """One panel per soltab (name, scale, label) of values against time for a few stations."""
    plt = _pyplot()
    ss = read_h5parm(h5)
    fig, axes = plt.subplots(len(soltabs), 1, figsize=(7, 3 * len(soltabs)), sharex=True, squeeze=False)
    for ax, (name, scale, label) in zip(axes[:, 0], soltabs):
        tab = ss.soltabs[name].canonical()
        names = list(tab.axes["ant"])
        t = (tab.axes["time"] - tab.axes["time"][0]) / 60.0
        for station in pick_stations(names, ss.antenna_positions_m, reference, 6):
            i = names.index(station)
            v = np.where(tab.weight[:, i] > 0, tab.val[:, i] * scale, np.nan)
            ax.plot(t, v, ".-", ms=3, label=station)
        ax.set_ylabel(label)
        ax.legend(fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("time (min)")
    fig.suptitle(title)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_bandpass(h5: Path, out: Path, reference: str) -> Path:
    plt = _pyplot()
    ss = read_h5parm(h5)
    tab = ss.soltabs["bandpass"].canonical()
    names = list(tab.axes["ant"])
    f = tab.axes["freq"] / 1e6
    fig, ax = plt.subplots(figsize=(7, 4))
    for station in pick_stations(names, ss.antenna_positions_m, reference, 6):
        i = names.index(station)
        line = ax.plot(f, tab.val[:, i, 0], "-", label=f"{station} XX")[0]
        ax.plot(f, tab.val[:, i, 1], "--", color=line.get_color())
    ax.set_xlabel("frequency (MHz)")
    ax.set_ylabel("bandpass amplitude (XX solid, YY dashed)")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def calibrator_plots(products: Path, outdir: Path, reference: str) -> list[Path]:
    """All inspection plots of a calibrator run whose products are in ``products`` (file names of
    :func:`lofar_hires.calibration.di_calibrator.run_di_calibrator`): the figures of
    :func:`plot_calibrator_products` and the station grids of :func:`calibrator_grids`."""
    plots = plot_calibrator_products(sorted(products.glob("solve*_*.h5")), products / "solve1_rotation_diagonal.h5",
                                     products / "polalign.h5", products / "faraday.h5", products / "bandpass.h5",
                                     products / "clocktec.h5", outdir, reference)
    return plots + calibrator_grids(products, outdir, reference)


def plot_calibrator_products(solves: Sequence[Path], polalign_solve: Path, polalign: Path, faraday: Path,
                             bandpass: Path, clocktec: Path, outdir: Path, reference: str) -> list[Path]:
    """The inspection plots of the calibrator pipeline, one PNG per solve and per fitted effect.

    ``polalign_solve`` is the rotation+diagonal solve the alignment was fitted on; the
    phases of every h5parm in ``solves`` are plotted against time and frequency. Station grids
    (:func:`~lofar_hires.calibration.solution_grid.product_grids`) show every station.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    plots = []
    for i, h5 in enumerate(solves, start=1):
        log.info("plot %d/%d: phases of %s", i, len(solves), h5.name)
        plots.append(plot_solve_phases(h5, outdir / f"{h5.stem}_phase.png", reference))
    plots.append(plot_polalign(polalign_solve, polalign, outdir / "polalign.png", reference))
    plots.append(plot_time_series(faraday, [("faraday", 1.0, "RM (rad/m^2)")],
                                  outdir / "faraday.png", reference, "differential Faraday rotation"))
    plots.append(plot_bandpass(bandpass, outdir / "bandpass.png", reference))
    plots.append(plot_time_series(clocktec, [("clock", 1e9, "clock (ns)"), ("tec", 1.0, "dTEC (TECU)")],
                                  outdir / "clocktec.png", reference, "clock and TEC"))
    plots += product_grids(solves, [polalign, faraday, bandpass, clocktec], outdir, reference)
    log.info("wrote %d inspection plot(s) to %s", len(plots), outdir)
    return plots
