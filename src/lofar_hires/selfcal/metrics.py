"""Per-cycle metrics of self-calibration: image statistics and the stability of the solutions.

* :func:`image_metrics`: rms (sigma-clipped), peak, minimum, dynamic range
  (peak / rms) and |min / max| of a WSClean image;
* :func:`phase_stability_rad`: circular standard deviation of the phase change
  between two cycles' solutions, ``sqrt(-2 ln R)`` with ``R = |<exp(i d)>|``
  (equal to sigma for Gaussian changes of width sigma);
* :func:`amplitude_stability`: standard deviation of ``ln(amp_now / amp_before)``;
* :class:`CycleMetrics` rows, written as JSON and CSV by :func:`write_metrics`.

The two solution files may use different solution intervals: the previous
cycle's solutions are mapped onto the current grid by nearest neighbour in time
and frequency. Directions and polarisations are matched by name; an axis that
one file lacks is broadcast.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.imaging.measure import load_image, sigma_clipped_rms
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.h5parm import KNOWN_AXES, Soltab, StreamingReader

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageMetrics:
    """Noise and extremes of one image (Jy/beam)."""

    rms_jy: float
    peak_jy: float
    min_jy: float
    dynamic_range: float  # peak / rms
    min_max_ratio: float  # |min / max|


def image_metrics(fits_path: Path, clip_sigma: float = 4.0) -> ImageMetrics:
    """Rms, peak, minimum, dynamic range and |min/max| of a (WSClean) FITS image.

    Parameters
    ----------
    fits_path
        The image (first plane is used).
    clip_sigma
        Clipping threshold of the iterative rms, in units of the rms.

    Returns
    -------
    ImageMetrics

    Raises
    ------
    InputError
        No finite pixels, a constant (e.g. all-zero) image, or zero rms.
    """
    fits_path = Path(fits_path)
    data = load_image(fits_path).data
    values = data[np.isfinite(data)]
    if values.size == 0:
        raise InputError(f"image {fits_path} has no finite pixels (all NaN or inf); check the imaging step")
    peak = float(values.max())
    low = float(values.min())
    if peak == low:
        if peak == 0.0:
            raise InputError(f"image {fits_path} is empty (all pixels 0): the imager saw no (unflagged) data")
        raise InputError(f"image {fits_path} is constant (all pixels {peak:g}); check the imaging step")
    rms = sigma_clipped_rms(values, clip_sigma)
    if rms <= 0.0:
        raise InputError(f"image {fits_path} has zero rms after {clip_sigma:g}-sigma clipping (mostly blank?)")
    ratio = abs(low / peak) if peak != 0.0 else math.inf
    return ImageMetrics(rms_jy=rms, peak_jy=peak, min_jy=low, dynamic_range=peak / rms, min_max_ratio=ratio)


# --------------------------------------------------------------------------- solutions


@dataclass(frozen=True)
class _Grid:
    """A soltab as a 5-d array (time, freq, ant, dir, pol); a missing axis has length 1 and labels None."""

    axes: dict[str, np.ndarray | None]
    val: np.ndarray
    weight: np.ndarray


def _read_grid(path: Path, soltab: str) -> _Grid | None:
    """The soltab in canonical 5-d form, or None when the file has no such soltab."""
    path = Path(path)
    with StreamingReader(path) as reader:
        if soltab not in reader.soltab_names:
            return None
        info = reader.info(soltab)
        val, weight = reader.read(soltab)
    tab = Soltab(soltab, info.soltype, info.axes, val, weight).canonical()
    shape = tuple(len(tab.axes[a]) if a in tab.axes else 1 for a in KNOWN_AXES)
    return _Grid(axes={a: tab.axes.get(a) for a in KNOWN_AXES}, val=np.asarray(tab.val, dtype=float).reshape(shape),
                 weight=np.asarray(tab.weight, dtype=float).reshape(shape))


def _nearest(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Index into ``source`` of the nearest value for each ``target`` value."""
    order = np.argsort(source)
    ordered = source[order]
    pos = np.clip(np.searchsorted(ordered, target), 1, max(len(ordered) - 1, 1))
    left = np.clip(pos - 1, 0, len(ordered) - 1)
    right = np.clip(pos, 0, len(ordered) - 1)
    pick = np.where(np.abs(target - ordered[left]) <= np.abs(ordered[right] - target), left, right)
    return order[pick]


def _broadcast(current: np.ndarray | None, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Index pairs when one file lacks the axis (its single value pairs with every value of the other)."""
    if current is not None and previous is not None:
        return None
    n = len(current) if current is not None else len(previous) if previous is not None else 1
    return (np.arange(n) if current is not None else np.zeros(n, int),
            np.arange(n) if previous is not None else np.zeros(n, int))


def _match_labels(axis: str, current: np.ndarray | None, previous: np.ndarray | None,
                  where: str) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (current, previous) of the labels of a named axis (``dir``, ``pol``) found in both."""
    pairs = _broadcast(current, previous)
    if pairs is not None:
        return pairs
    lookup = {str(v): i for i, v in enumerate(previous)}
    cur_idx = np.array([i for i, v in enumerate(current) if str(v) in lookup], dtype=int)
    if cur_idx.size == 0:
        raise InputError(f"{where}: no {axis} in common ({', '.join(map(str, current))} vs "
                         f"{', '.join(map(str, previous))})")
    return cur_idx, np.array([lookup[str(current[i])] for i in cur_idx], dtype=int)


def _map_axis(current: np.ndarray | None, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (current, previous) of a numeric axis: each current value with the nearest previous one."""
    pairs = _broadcast(current, previous)
    if pairs is not None:
        return pairs
    return np.arange(len(current)), _nearest(np.asarray(current, dtype=float), np.asarray(previous, dtype=float))


def _referenced(grid: _Grid, reference: str, path: Path) -> _Grid:
    """Phases minus the reference station's phases (per time, freq, dir, pol); weights combined."""
    ants = [] if grid.axes["ant"] is None else [str(a) for a in grid.axes["ant"]]
    if reference not in ants:
        raise InputError(f"reference station {reference} is not in {path} (has {', '.join(ants) or 'no ant axis'})")
    r = ants.index(reference)
    val = grid.val - grid.val[:, :, r:r + 1]
    weight = grid.weight * (grid.weight[:, :, r:r + 1] > 0)
    return _Grid(grid.axes, val, weight)


def _paired_values(current: Path, previous: Path, cur: _Grid, prev: _Grid, stations: Sequence[str],
                   exclude: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Values of the selected stations in both files on the current grid, where both weights are > 0."""
    where = f"{current} vs {previous}"
    cur_ants = [] if cur.axes["ant"] is None else [str(a) for a in cur.axes["ant"]]
    prev_ants = [] if prev.axes["ant"] is None else [str(a) for a in prev.axes["ant"]]
    selected = []
    for name in dict.fromkeys(str(s) for s in stations):
        if name == exclude:
            log.debug("station %s is the phase reference; left out of the stability measure", name)
        elif name not in cur_ants:
            log.debug("station %s not in %s; skipped", name, current)
        elif name not in prev_ants:
            log.debug("station %s not in %s; skipped", name, previous)
        else:
            selected.append(name)
    if not selected:
        raise InputError(f"none of the stations {', '.join(stations) or '(none given)'} is in both {current} "
                         f"and {previous}; check the stability station group")
    ant_cur = np.array([cur_ants.index(s) for s in selected])
    ant_prev = np.array([prev_ants.index(s) for s in selected])
    t_cur, t_prev = _map_axis(cur.axes["time"], prev.axes["time"])
    f_cur, f_prev = _map_axis(cur.axes["freq"], prev.axes["freq"])
    d_cur, d_prev = _match_labels("dir", cur.axes["dir"], prev.axes["dir"], where)
    p_cur, p_prev = _match_labels("pol", cur.axes["pol"], prev.axes["pol"], where)
    idx_cur = np.ix_(t_cur, f_cur, ant_cur, d_cur, p_cur)
    idx_prev = np.ix_(t_prev, f_prev, ant_prev, d_prev, p_prev)
    a, b = cur.val[idx_cur], prev.val[idx_prev]
    ok = (cur.weight[idx_cur] > 0) & (prev.weight[idx_prev] > 0) & np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        raise InputError(f"{where}: no solutions of {', '.join(selected)} with weight > 0 in both files")
    log.debug("comparing %d solutions of %d stations", int(ok.sum()), len(selected))
    return a[ok], b[ok]


def circular_std_rad(phase_rad: np.ndarray) -> float:
    """Circular standard deviation ``sqrt(-2 ln R)``, ``R = |mean(exp(i phase))|`` (inf when R = 0)."""
    resultant = float(np.abs(np.mean(np.exp(1j * np.asarray(phase_rad, dtype=float)))))
    if resultant <= 0.0:
        return math.inf
    return float(np.sqrt(-2.0 * np.log(min(resultant, 1.0))))


def phase_stability_rad(current: Path, previous: Path, stations: Sequence[str], reference: str | None = None,
                        soltab: str = "phase000") -> float:
    """Circular standard deviation of the phase change between two cycles' solutions.

    Parameters
    ----------
    current, previous
        h5parms of this cycle and of the previous one (solution grids may differ:
        the previous is mapped onto the current by nearest neighbour in time and
        frequency).
    stations
        Stations to compare; those missing from either file are skipped.
    reference
        Station whose phase is subtracted from each file's phases first (DDECal
        phases carry an arbitrary common offset); it is left out of the measure.
    soltab
        Phase soltab name.

    Returns
    -------
    float
        ``sqrt(-2 ln R)`` in rad, over all time/freq/dir/pol values with weight > 0 in both.

    Raises
    ------
    InputError
        A file without the soltab, no selected station in both files, or no
        solutions with weight > 0 in both.
    """
    grids = []
    for path in (current, previous):
        grid = _read_grid(path, soltab)
        if grid is None:
            raise InputError(f"no soltab {soltab} in {path}; phase stability needs phase solutions of both cycles")
        grids.append(_referenced(grid, reference, Path(path)) if reference is not None else grid)
    a, b = _paired_values(Path(current), Path(previous), grids[0], grids[1], stations, exclude=reference)
    return circular_std_rad(a - b)


def amplitude_stability(current: Path, previous: Path, stations: Sequence[str],
                        soltab: str = "amplitude000") -> float | None:
    """Standard deviation of ``ln(amp_current / amp_previous)`` over the same selection as the phases.

    Returns
    -------
    float or None
        None when either file has no ``soltab``.
    """
    grids = [_read_grid(path, soltab) for path in (current, previous)]
    if grids[0] is None or grids[1] is None:
        log.debug("no soltab %s in %s; no amplitude stability", soltab, current if grids[0] is None else previous)
        return None
    a, b = _paired_values(Path(current), Path(previous), grids[0], grids[1], stations)
    positive = (a > 0) & (b > 0)
    if not positive.any():
        raise InputError(f"{current} vs {previous}: no positive amplitudes in {soltab} to compare")
    return float(np.std(np.log(a[positive] / b[positive])))


# --------------------------------------------------------------------------- cycle table


@dataclass
class CycleMetrics:
    """Metrics of one self-calibration cycle (cycle 0: the image before self-calibration).

    ``classifier_score`` is the 'continue' probability of an image classifier; it
    stays None while no such model is available.
    """

    cycle: int
    rms_jy: float
    peak_jy: float
    min_jy: float
    dynamic_range: float
    min_max_ratio: float
    phase_stability_rad: float | None
    amplitude_stability: float | None
    classifier_score: float | None = None
    n_solves: int = 0
    wall_time_s: float = 0.0
    image: str = ""
    solutions: str | None = None

    @classmethod
    def from_image(cls, cycle: int, image: ImageMetrics, **kwargs: Any) -> CycleMetrics:
        """A row from an :class:`ImageMetrics` plus the other fields as keywords."""
        kwargs.setdefault("phase_stability_rad", None)
        kwargs.setdefault("amplitude_stability", None)
        return cls(cycle=cycle, **dataclasses.asdict(image), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CycleMetrics:
        """Build a row from :meth:`to_dict` output; unknown or missing keys are refused."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InputError(f"cycle metrics: unknown key(s) {', '.join(unknown)}; valid: {', '.join(fields)}")
        missing = [n for n, f in fields.items()
                   if n not in data and f.default is dataclasses.MISSING]
        if missing:
            raise InputError(f"cycle metrics: missing key(s) {', '.join(missing)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if value is None and name in _NULLABLE:
                kwargs[name] = None
                continue
            try:
                kwargs[name] = (int(value) if name in ("cycle", "n_solves") else str(value)
                                if name in ("image", "solutions") else float(value))
            except (TypeError, ValueError):
                raise InputError(f"cycle metrics: {name} must be a number, not {value!r}") from None
        return cls(**kwargs)


_FIELDS = [f.name for f in dataclasses.fields(CycleMetrics)]
_NULLABLE = ("phase_stability_rad", "amplitude_stability", "classifier_score", "solutions")


def write_metrics(rows: Sequence[CycleMetrics], json_path: Path, csv_path: Path) -> None:
    """Write the cycle table as JSON (``{"cycles": [...]}``) and CSV (header; empty cell for None).

    Both files are written atomically and replaced when they exist.
    """
    rows = list(rows)
    with atomic_output(Path(json_path), overwrite=True) as tmp:
        tmp.write_text(json.dumps({"cycles": [r.to_dict() for r in rows]}, indent=2) + "\n")
    with atomic_output(Path(csv_path), overwrite=True) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(_FIELDS)
            for row in rows:
                values = row.to_dict()
                writer.writerow(["" if values[k] is None else values[k] for k in _FIELDS])
    log.info("wrote metrics of %d cycles to %s and %s", len(rows), json_path, csv_path)


def read_metrics(json_path: Path) -> list[CycleMetrics]:
    """Read the cycle table written by :func:`write_metrics`.

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Not valid JSON or not a cycle table.
    """
    json_path = Path(json_path)
    if not json_path.is_file():
        raise MissingInputError(f"metrics file {json_path} does not exist")
    try:
        data = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{json_path} is not valid JSON ({exc}); delete it to recompute the metrics") from None
    if not isinstance(data, dict) or not isinstance(data.get("cycles"), list):
        raise InputError(f"{json_path} is not a cycle metrics table (expected a mapping with a 'cycles' list)")
    rows = []
    for i, item in enumerate(data["cycles"]):
        if not isinstance(item, Mapping):
            raise InputError(f"{json_path}: cycle entry {i} is not a mapping")
        try:
            rows.append(CycleMetrics.from_dict(item))
        except InputError as exc:
            raise InputError(f"{json_path}: cycle entry {i}: {exc}") from None
    return rows
