"""Solutions of every station, one figure per soltab (the layout of LoSoTo's PLOT operation).

A figure shows a soltab (one direction) with a panel per station, as in the inspection plots of
de Gasperin et al. (2019, A&A 622, A5): phase-like values referenced to the reference station,
time x frequency waterfalls or lines against the axis the soltab has.

Drawing cost: a figure has ONE Axes on an Agg canvas (no pyplot) whose data units hold all
panels (:class:`Tiling`). The stations' waterfalls are tiled into one image with NaN gutters
(:func:`waterfall_mosaic`, one ``imshow``, one colour bar); the lines of all stations are one line
per polarisation, broken between panels; names are text labels above the panels. A 64-station
waterfall takes ~0.6 s of CPU where one Axes per station took ~3 s.

:func:`calibrator_grids` draws every soltab of ``cal_solutions.h5`` (what users inspect and the
target pipeline applies) but only the phase soltabs of the solves: the solves' amplitudes and
rotations reach the products only as the bandpass and Faraday rotation fitted from them, shown
for every station from ``cal_solutions.h5``, while the ``solveN_phase.png`` figures of
:mod:`lofar_hires.calibration.plots` show the solves' phases (whence alignment, clock and TEC are
fitted) for four stations only: the phase grids show a failing station among all of them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lofar_hires.calibration.phases import wrap, wrap_half
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.h5parm import KNOWN_AXES, Soltab, StreamingReader, read_h5parm
from lofar_hires.io.names import inside, safe_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Soltab types whose values are only meaningful relative to a reference station (differential).
REFERENCED_TYPES = ("phase", "scalarphase", "rotation", "clock", "tec", "rotationmeasure")
#: Soltab types -> (scale to the shown unit, label of the shown quantity).
QUANTITIES: dict[str, tuple[float, str]] = {
    "phase": (1.0, "phase (rad)"), "scalarphase": (1.0, "phase (rad)"), "rotation": (1.0, "rotation angle (rad)"),
    "clock": (1e9, "clock (ns)"), "tec": (1.0, "dTEC (TECU)"), "rotationmeasure": (1.0, "RM (rad/m^2)"),
    "amplitude": (1.0, "amplitude"), "scalaramplitude": (1.0, "amplitude"),
}
#: Angle types -> (wrapping of referenced values, shown range): phases modulo 2 pi, rotations modulo pi.
ANGLES = {"phase": (wrap, np.pi), "scalarphase": (wrap, np.pi), "rotation": (wrap_half, np.pi / 2)}
#: Soltab types drawn from the solves by :func:`calibrator_grids`.
SOLVE_TYPES = ("phase", "scalarphase")
#: Polarisations shown when a soltab has a polarisation axis (else its first one).
SHOWN_POLS = (("XX", "YY"), ("RR", "LL"))
#: Size of one station panel (inches), resolution and zlib level of the PNGs (1: ~4% larger, written faster).
PANEL_IN = (2.4, 1.8)
GRID_DPI = 72
PNG_COMPRESSION = 1
#: Gutters beside and above each panel (the one above holds the name); margin of line values; tick marks.
GAP = (0.08, 0.14)
LINE_PAD = 0.05
MARK = 0.04
#: Fewest pixels along a waterfall panel's axis (solutions repeated: lossless) and most solutions
#: (every n-th of a longer axis: a panel is ~170 PNG pixels wide, so the PNG could not show more).
MIN_PANEL_PIXELS = 24
MAX_PANEL_SAMPLES = 600
#: Name given to the single entry of an absent name axis (a soltab without stations has one panel).
NO_AXIS = {"ant": "all stations", "dir": "", "pol": ""}
#: Group id (``gid``) prefixes of a panel's name label and of its "no data" mark: ``station:<name>``.
PANEL_LABEL = "station:"
NO_DATA_LABEL = "nodata:"


@dataclass(frozen=True)
class Tiling:
    """Where the panels lie in the data units of a figure's Axes: panel ``k`` at row ``k // ncols``
    (from the top), column ``k % ncols``; sizes in image pixels (waterfalls) or 1 (lines)."""

    nrows: int
    ncols: int
    width: float
    height: float
    gap_x: float
    gap_y: float

    def corner(self, k: int) -> tuple[float, float]:
        """Lower-left corner of panel ``k``."""
        row, col = divmod(k, self.ncols)
        return col * (self.width + self.gap_x), (self.nrows - 1 - row) * (self.height + self.gap_y)

    @property
    def size(self) -> tuple[float, float]:
        """Width and height of all panels with their gutters (the top row's gutter included)."""
        return self.ncols * (self.width + self.gap_x) - self.gap_x, self.nrows * (self.height + self.gap_y)


@dataclass(frozen=True)
class Panel:
    """A station's panel: its name label (``(ref)`` appended for the reference) and lower-left corner."""

    station: str
    label: str
    x0: float
    y0: float
    has_data: bool


@dataclass(frozen=True)
class SolutionGrid:
    """One figure of :func:`plot_solution_grid`: a soltab (one direction) with a panel per station.
    ``values``: axes (time, freq, station, pol), shown unit, referenced for :data:`REFERENCED_TYPES`,
    NaN where flagged (weight 0)."""

    file_stem: str
    title: str
    soltype: str
    stations: tuple[str, ...]
    reference: str | None
    values: np.ndarray
    pols: tuple[str, ...]
    time_min: np.ndarray
    freq_mhz: np.ndarray
    label: str

    @property
    def kind(self) -> str:
        """``waterfall`` (time x frequency), ``time`` or ``freq`` (lines against that axis)."""
        if len(self.time_min) > 1 and len(self.freq_mhz) > 1:
            return "waterfall"
        return "freq" if len(self.freq_mhz) > 1 else "time"

    def has_data(self, station: str) -> bool:
        return bool(np.isfinite(self.values[:, :, self.stations.index(station)]).any())

    @property
    def tiling(self) -> Tiling:
        """The panels' places: a near-square grid (``ceil(sqrt(n))`` columns)."""
        n = len(self.stations)
        ncols = max(1, math.ceil(math.sqrt(n)))
        nrows = max(1, math.ceil(n / ncols))
        if self.kind != "waterfall":
            return Tiling(nrows, ncols, 1.0, 1.0, GAP[0], GAP[1])
        n_time, n_freq = len(self.time_min[::_stride(self.time_min)]), len(self.freq_mhz[::_stride(self.freq_mhz)])
        width, height = n_time * math.ceil(MIN_PANEL_PIXELS / n_time), n_freq * math.ceil(MIN_PANEL_PIXELS / n_freq)
        return Tiling(nrows, ncols, width, height, max(1, round(GAP[0] * width)), max(1, round(GAP[1] * height)))

    @property
    def panels(self) -> list[Panel]:
        """A panel per station, in the order of :attr:`stations`."""
        tiling = self.tiling
        return [Panel(station, station + (" (ref)" if station == self.reference else ""), *tiling.corner(k),
                      self.has_data(station)) for k, station in enumerate(self.stations)]


def _stride(axis: np.ndarray) -> int:
    """Every how many solutions along ``axis`` a waterfall panel shows (1: all)."""
    return max(1, math.ceil(len(axis) / MAX_PANEL_SAMPLES))


def _full_axes(tab: Soltab) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Values (NaN where flagged) on all five axes (time, freq, ant, dir, pol); missing axes get length 1."""
    tab = tab.canonical()
    values = np.where((tab.weight > 0) & np.isfinite(tab.val), tab.val, np.nan).astype(float)
    axes = {}
    for pos, axis in enumerate(KNOWN_AXES):
        if axis in tab.axes:
            axes[axis] = tab.axes[axis]
        else:
            values = np.expand_dims(values, pos)
            axes[axis] = np.array([NO_AXIS[axis]]) if axis in NO_AXIS else np.zeros(1)
    return values, axes


def _reference_index(values: np.ndarray, stations: Sequence[str], reference: str | None, where: str) -> int:
    """Index of ``reference`` (refused when absent); None: the first station with data."""
    if reference is not None:
        if reference not in stations:
            shown = ", ".join(list(stations)[:8]) + (", ..." if len(stations) > 8 else "")
            raise InputError(f"{where}: reference station {reference!r} is not one of its stations ({shown})",
                             setting="reference")
        return list(stations).index(reference)
    with_data = [i for i in range(len(stations)) if np.isfinite(values[:, :, i]).any()]
    return with_data[0] if with_data else 0


def _direction_parts(directions: Sequence[str]) -> list[str]:
    """File-name parts of the directions: safe names, the index where nothing usable is left or names collide."""
    parts = []
    for k, name in enumerate(directions):
        try:
            parts.append(safe_name(str(name).strip("[]"), what="direction"))
        except InputError:
            parts.append(f"dir{k}")
    lowered = [p.lower() for p in parts]
    return [p if lowered.count(p.lower()) == 1 else f"{p}_{k}" for k, p in enumerate(parts)]


def _shown_pols(pols: Sequence[str]) -> list[int]:
    for pair in SHOWN_POLS:
        if all(p in pols for p in pair):
            return [list(pols).index(p) for p in pair]
    return [0]


def soltab_grids(tab: Soltab, where: str, title: str, stem: str, reference: str | None) -> list[SolutionGrid]:
    """The grids of one soltab (any axis order): one per direction, and per shown polarisation for
    waterfalls. ``where`` names file, solset and soltab in errors; ``title`` starts each title;
    ``stem`` (safe) starts each file name; ``reference``: None is the first station with data."""
    scale, label = QUANTITIES[tab.soltype]
    values, axes = _full_axes(tab)
    stations = tuple(str(a) for a in axes["ant"])
    ref_name = None
    if tab.soltype in REFERENCED_TYPES and "ant" in tab.axes:
        ref = _reference_index(values, stations, reference, where)
        ref_name = stations[ref]
        if not np.isfinite(values[:, :, ref]).any():
            log.warning("%s: the reference station %s has no data: every panel shows no data", where, ref_name)
        values = values - values[:, :, ref:ref + 1]
        if tab.soltype in ANGLES:
            values = ANGLES[tab.soltype][0](values)
    values = values * scale
    time_min = (axes["time"] - axes["time"][0]) / 60.0
    freq_mhz = axes["freq"] / 1e6
    directions = [str(d) for d in axes["dir"]]
    dir_parts = _direction_parts(directions) if len(directions) > 1 else [""]
    pols = [str(p) for p in axes["pol"]]
    shown = _shown_pols(pols)
    waterfall = len(time_min) > 1 and len(freq_mhz) > 1
    pol_sets = [[i] for i in shown] if waterfall else [shown]
    grids = []
    for d, (direction, dir_part) in enumerate(zip(directions, dir_parts)):
        for pol_set in pol_sets:
            names = tuple(pols[i] for i in pol_set)
            parts = [stem, dir_part] + ([names[0]] if waterfall and len(shown) > 1 else [])
            text = [title] + ([f"direction {direction}"] if "dir" in tab.axes else [])
            text += [names[0]] if waterfall and names[0] else []
            if ref_name is not None:
                text.append(f"phases referenced to {ref_name}")
            grids.append(SolutionGrid(
                file_stem="_".join(p for p in parts if p), title=", ".join(text), soltype=tab.soltype,
                stations=stations, reference=ref_name, values=values[:, :, :, d][..., pol_set], pols=names,
                time_min=time_min, freq_mhz=freq_mhz, label=label))
    return grids


def solution_grids(h5parm: Path, *, soltabs: Sequence[str] | None = None, solset: str | None = None,
                   reference: str | None = None, prefix: str = "") -> list[SolutionGrid]:
    """The grids :func:`plot_solution_grid` draws, without drawing them (arguments as there)."""
    h5parm = Path(h5parm)
    ss = read_h5parm(h5parm, solset, soltabs)
    grids: list[SolutionGrid] = []
    for name, tab in ss.soltabs.items():
        stem = safe_name(f"{prefix}{name}", what="soltab")
        title = f"{name} ({tab.soltype}) of {h5parm.name}, solset {ss.name}"
        grids.extend(soltab_grids(tab, f"{h5parm}: solset {ss.name}, soltab {name}", title, stem, reference))
    seen: dict[str, int] = {}
    unique = []
    for grid in grids:  # soltab names that become the same file name
        key = grid.file_stem.lower()
        seen[key] = seen.get(key, 0) + 1
        unique.append(grid if seen[key] == 1 else replace(grid, file_stem=f"{grid.file_stem}_{seen[key]}"))
    return unique


def _span(values: np.ndarray) -> tuple[float, float]:
    """(low, high) of finite values; a zero range gets +-0.5, no finite value (0, 1)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low - 0.5, high + 0.5) if high <= low else (low, high)


def _value_limits(grid: SolutionGrid) -> tuple[float, float]:
    """The value range shared by all panels: fixed for angles; the 1-99 percentiles of waterfalls."""
    if grid.soltype in ANGLES:
        limit = ANGLES[grid.soltype][1]
        return -limit, limit
    if grid.kind == "waterfall":
        finite = grid.values[np.isfinite(grid.values)]
        if finite.size:
            return _span(np.percentile(finite, [1, 99]))
    return _span(grid.values)


def line_ranges(grid: SolutionGrid) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x range, value range) that each line panel spans, its width and height."""
    x = grid.freq_mhz if grid.kind == "freq" else grid.time_min
    xlim = (float(x[0]), float(x[-1])) if len(x) > 1 and x[-1] != x[0] else (float(x[0]) - 0.5, float(x[0]) + 0.5)
    vmin, vmax = _value_limits(grid)
    return xlim, (vmin - LINE_PAD * (vmax - vmin), vmax + LINE_PAD * (vmax - vmin))


def waterfall_mosaic(grid: SolutionGrid) -> np.ndarray:
    """All stations' waterfalls (first shown polarisation) as one image, rows frequency, columns time.

    Row 0 is the bottom (``origin="lower"``); each panel sits at :attr:`SolutionGrid.panels`,
    each solution repeated to fill the panel's pixels; gutters and flagged solutions are NaN.
    """
    tiling = grid.tiling
    values = grid.values[::_stride(grid.time_min), ::_stride(grid.freq_mhz), :, 0]
    rx, ry = int(tiling.width) // values.shape[0], int(tiling.height) // values.shape[1]
    width, height = tiling.size
    image = np.full((int(height), int(width)), np.nan, dtype=np.float32)
    for k in range(len(grid.stations)):
        x0, y0 = (int(c) for c in tiling.corner(k))
        tile = np.repeat(np.repeat(values[:, :, k].T, ry, axis=0), rx, axis=1)
        image[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
    return image


#: Tick values and their offsets within a panel (data units of the figure's Axes).
Ticks = tuple[np.ndarray, np.ndarray]


def _ticks(lo: float, hi: float, offset: Callable[[np.ndarray], np.ndarray]) -> Ticks:
    """At most four round values in (lo, hi) and their offsets within a panel."""
    from matplotlib.ticker import MaxNLocator

    values = MaxNLocator(3).tick_values(lo, hi)
    values = values[(values >= lo - 1e-9 * (hi - lo)) & (values <= hi + 1e-9 * (hi - lo))]
    return values, offset(values)


def _pixel_ticks(axis: np.ndarray, size: float) -> Ticks:
    """Ticks along a waterfall axis whose shown solutions fill ``size`` pixels in equal blocks."""
    shown = axis[::_stride(axis)]
    centres, order = (np.arange(len(shown)) + 0.5) * size / len(shown), np.argsort(shown)
    return _ticks(float(shown.min()), float(shown.max()), lambda v: np.interp(v, shown[order], centres[order]))


def _draw_lines(ax: Axes, grid: SolutionGrid) -> tuple[list, Ticks, Ticks]:
    """One line per shown polarisation through every panel (NaN between panels); returns the
    lines and the (x, y) ticks of a panel."""
    tiling = grid.tiling
    (x_lo, x_hi), (y_lo, y_hi) = line_ranges(grid)
    x = grid.freq_mhz if grid.kind == "freq" else grid.time_min
    corners = np.array([tiling.corner(k) for k in range(len(grid.stations))])
    gap = np.full((len(grid.stations), 1), np.nan)
    xs = np.hstack([corners[:, :1] + (x - x_lo) / (x_hi - x_lo) * tiling.width, gap]).ravel()
    style = "." if grid.soltype in ANGLES or len(x) == 1 else ".-"
    lines = []
    for k, pol in enumerate(grid.pols):
        series = (grid.values[:, 0, :, k] if grid.kind == "time" else grid.values[0, :, :, k]).T
        ys = np.hstack([corners[:, 1:] + (series - y_lo) / (y_hi - y_lo) * tiling.height, gap]).ravel()
        lines += ax.plot(xs, ys, style, ms=2.5, lw=0.8, color=f"C{k}", label=pol or None, clip_on=False)
    vmin, vmax = _value_limits(grid)
    return (lines, _ticks(x_lo, x_hi, lambda v: (v - x_lo) / (x_hi - x_lo) * tiling.width),
            _ticks(vmin, vmax, lambda v: (v - y_lo) / (y_hi - y_lo) * tiling.height))


def _draw_panels(ax: Axes, grid: SolutionGrid, x_marks: np.ndarray, y_marks: np.ndarray) -> None:
    """Panel outlines and tick marks (one artist), name labels above the panels (gid
    ``station:<name>``) and "no data" marks (gid ``nodata:<name>``)."""
    from matplotlib.collections import LineCollection

    tiling = grid.tiling
    w, h = tiling.width, tiling.height
    segments = []
    for p in grid.panels:
        segments.append([(p.x0, p.y0), (p.x0 + w, p.y0), (p.x0 + w, p.y0 + h), (p.x0, p.y0 + h), (p.x0, p.y0)])
        segments += [[(p.x0 + x, p.y0), (p.x0 + x, p.y0 + MARK * h)] for x in x_marks]
        segments += [[(p.x0, p.y0 + y), (p.x0 + MARK * w, p.y0 + y)] for y in y_marks]
        ax.text(p.x0, p.y0 + h + 0.15 * tiling.gap_y, p.label, ha="left", va="bottom", fontsize=7,
                gid=f"{PANEL_LABEL}{p.station}")
        if not p.has_data:
            ax.text(p.x0 + 0.5 * w, p.y0 + 0.45 * h, "no data", ha="center", va="center", color="0.4", fontsize=8,
                    gid=f"{NO_DATA_LABEL}{p.station}")
    ax.add_collection(LineCollection(segments, colors="0.45", linewidths=0.6, clip_on=False))


def grid_figure(grid: SolutionGrid) -> Figure:
    """The matplotlib figure of a grid (Agg canvas, not registered with pyplot): a panel per station.

    All panels lie in one Axes and share the axis and value ranges: the tick labels of the
    bottom-left panel hold for every panel, whose edges carry the same tick marks. Each
    station's name label (above its panel) has the ``gid`` ``station:<name>``; a station
    without any unflagged, finite value gets a "no data" mark with the ``gid`` ``nodata:<name>``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tiling = grid.tiling
    width_in, height_in = tiling.ncols * PANEL_IN[0] + 1.6, tiling.nrows * PANEL_IN[1] + 1.1
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    kind = grid.kind
    left, right = 1.0 / width_in, 1.0 - (1.3 if kind == "waterfall" else 0.3) / width_in
    bottom, top = 0.6 / height_in, 1.0 - 0.5 / height_in
    ax = fig.add_axes((left, bottom, right - left, top - bottom))
    ax.set_frame_on(False)
    ax.tick_params(labelsize=7, length=3, pad=1)
    vmin, vmax = _value_limits(grid)
    if kind == "waterfall":
        image = ax.imshow(waterfall_mosaic(grid), origin="lower", aspect="auto", interpolation="nearest",
                          extent=(0, tiling.size[0], 0, tiling.size[1]), vmin=vmin, vmax=vmax,
                          cmap="twilight" if grid.soltype in ANGLES else "viridis")
        x_ticks, y_ticks = _pixel_ticks(grid.time_min, tiling.width), _pixel_ticks(grid.freq_mhz, tiling.height)
        ax.set_ylabel("frequency (MHz)", fontsize=9)
        cax = fig.add_axes((right + 0.2 / width_in, bottom, 0.15 / width_in, tiling.height / tiling.size[1]
                            * (top - bottom)))
        fig.colorbar(image, cax=cax).set_label(grid.label, fontsize=8)
        cax.tick_params(labelsize=7)
    else:
        lines, x_ticks, y_ticks = _draw_lines(ax, grid)
        ax.set_ylabel(grid.label, fontsize=9)
        if any(grid.pols):
            fig.legend(handles=lines, loc="lower right", bbox_to_anchor=(right, 0.0), ncols=len(lines), fontsize=8,
                       frameon=False)
    _draw_panels(ax, grid, x_ticks[1], y_ticks[1])
    ax.set_xticks(x_ticks[1], [f"{v:.4g}" for v in x_ticks[0]])
    ax.set_yticks(y_ticks[1], [f"{v:.4g}" for v in y_ticks[0]])
    ax.set(xlim=(0, tiling.size[0]), ylim=(0, tiling.size[1]))
    ax.set_xlabel("frequency (MHz)" if kind == "freq" else "time (min)", fontsize=9)
    fig.suptitle(grid.title, fontsize=10)
    return fig


def plot_solution_grid(h5parm: Path, outdir: Path, *, soltabs: Sequence[str] | None = None,
                       solset: str | None = None, reference: str | None = None, prefix: str = "") -> list[Path]:
    """Solutions of every station, one PNG per soltab with a panel per station (like LoSoTo's PLOT).

    Phase-like soltabs (:data:`REFERENCED_TYPES`: phase, rotation, clock, TEC, rotation
    measure) are shown relative to the reference station, which the title names; phases are
    wrapped into (-pi, pi], rotation angles into (-pi/2, pi/2]. A soltab with more than one
    time and frequency is drawn as time x frequency waterfalls, one figure per shown
    polarisation (XX and YY, RR and LL, else the first); otherwise as lines against the axis
    it has, the shown polarisations in one panel. Several directions give one figure each.
    Flagged solutions (weight 0) and NaN are blank; a station without any shows "no data".

    Parameters
    ----------
    h5parm, outdir
        The h5parm (read with the validating reader); the directory of the PNGs (created).
    soltabs, solset
        Soltabs to plot (default: all) of the solset (default: the first).
    reference
        Reference station (default: the first station with data in each soltab).
    prefix
        Start of every file name (made safe).

    Returns
    -------
    list of Path
        The PNGs, ``<prefix><soltab>[_<direction>][_<pol>].png``, all inside ``outdir``.

    Raises
    ------
    InputError
        An h5parm the reader refuses, a missing solset or soltab, or a reference that is not a station.
    """
    grids = solution_grids(h5parm, soltabs=soltabs, solset=solset, reference=reference, prefix=prefix)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for grid in grids:
        inside(outdir, f"{grid.file_stem}.png")  # refuses a name that would leave the directory
        png = outdir / f"{grid.file_stem}.png"
        fig = grid_figure(grid)
        try:
            with atomic_output(png, overwrite=True) as tmp:
                fig.savefig(tmp, format="png", dpi=GRID_DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
        finally:
            fig.clear()
        written.append(png)
    log.info("wrote %d solution grid(s) of %s to %s", len(written), Path(h5parm).name, outdir)
    return written


def _pipeline_reference(h5parm: Path, reference: str | None) -> str | None:
    """The reference station the pipeline's fits use in this file (its fallbacks included)."""
    if reference is None:
        return None
    from lofar_hires.calibration.effects import reference_index

    names = read_h5parm(h5parm, None, []).antenna_names
    return names[reference_index(names, reference)]


def _file_prefixes(h5parms: Sequence[Path]) -> list[str]:
    """``<file stem>_`` for each h5parm; a stem that repeats gets its index."""
    stems = [safe_name(Path(p).stem, what="h5parm") for p in h5parms]
    lowered = [s.lower() for s in stems]
    return [f"{s}_" if lowered.count(s.lower()) == 1 else f"{s}_{k}_" for k, s in enumerate(stems)]


def _soltabs_of_type(h5parm: Path, soltypes: Sequence[str]) -> list[str]:
    """Names of the soltabs (first solset) of the given types, without reading their values."""
    with StreamingReader(h5parm) as reader:
        return [name for name in reader.soltab_names if reader.info(name).soltype in soltypes]


def _plot_files(h5parms: Sequence[Path], outdir: Path, reference: str | None,
                soltabs: Callable[[Path], Sequence[str] | None]) -> list[Path]:
    """The grids of the ``soltabs(h5)`` of each h5parm (None: all), files named ``<h5parm stem>_...``."""
    written: list[Path] = []
    for h5, prefix in zip(h5parms, _file_prefixes(h5parms)):
        tabs = soltabs(h5)
        if tabs is None or tabs:
            written += plot_solution_grid(h5, outdir, soltabs=tabs, reference=_pipeline_reference(h5, reference),
                                          prefix=prefix)
    return written


def calibrator_grids(products: Path, outdir: Path, reference: str) -> list[Path]:
    """Station grids of every soltab of ``cal_solutions.h5`` and of the phase soltabs of each solve
    (``solve*_*.h5``; why: see the module notes). The reference is resolved as the calibrator's fits
    resolve it (the named station, else a CS002 field, else the first core station)."""
    cal = Path(products) / "cal_solutions.h5"
    return _plot_files([*sorted(Path(products).glob("solve*_*.h5")), cal], outdir, reference,
                       lambda h5: None if h5 == cal else _soltabs_of_type(h5, SOLVE_TYPES))


def product_grids(solves: Sequence[Path], products: Sequence[Path], outdir: Path, reference: str) -> list[Path]:
    """Station grids of the calibrator pipeline's step products (``lofar-hires dical plots``): every
    soltab of each fitted product and the phase soltabs of each solve, as :func:`calibrator_grids`."""
    solve_set = {Path(s) for s in solves}
    return _plot_files([*map(Path, solves), *map(Path, products)], outdir, reference,
                       lambda h5: _soltabs_of_type(h5, SOLVE_TYPES) if h5 in solve_set else None)


def target_plots(h5parm_paths: Sequence[Path], outdir: Path, reference: str | None) -> list[Path]:
    """Station grids of the target's phase solutions: every soltab of each h5parm. ``reference`` is
    resolved as in :func:`calibrator_grids`; None: the first station with data."""
    written = _plot_files([Path(p) for p in h5parm_paths], outdir, reference, lambda h5: None)
    log.info("wrote %d target solution grid(s) to %s", len(written), outdir)
    return written
