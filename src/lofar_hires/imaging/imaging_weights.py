"""WSClean's imaging weights (natural, uniform, Briggs; Gaussian taper; uv cuts), computed without WSClean.

A Briggs or uniform image holds its visibilities weighted by the data weight times an imaging
weight that depends on the density of the uv coverage. WSClean can store that factor in the
measurement set (``-store-imaging-weights``), but that writes into the data. This module gives
the same factor, reading the measurement sets only. It follows WSClean 3.1's documented
behaviour (checked against its ``IMAGING_WEIGHT_SPECTRUM`` in tests/imaging/test_primary_beam.py):

* the weighting grid is the padded image (``ceil(n * padding)`` pixels, rounded up to a multiple
  of 4) in the uv plane, so a cell is ``1 / (n_padded * scale)`` wavelengths wide, and holds only
  the half plane ``v >= 0``: a visibility with ``v < 0`` is gridded at ``(-u, -v)``. With
  ``-super-weight s`` the grid has ``round(n_padded / s)`` cells (made even), each ``s`` times wider;
* pass 1 sums the Stokes I data weights of every unflagged visibility (all channels of all given
  measurement sets, as WSClean images them jointly) in its cell ``W_k``. The Stokes I weight of a
  visibility is ``4 min(w_XX, w_YY)`` (``RR``/``LL`` for circular feeds), zero when either is flagged;
* Briggs: ``1 / (1 + W_k f^2)`` with ``f^2 = (5 * 10^-R)^2 / (sum_k W_k^2 / sum w)``; uniform:
  ``1 / W_k``; natural: 1 where the cell has data;
* the weighting rank filter (WSClean's default, level 3 in a 16-cell window) caps a cell at 3 times
  the mean of the non-zero cells around it;
* the Gaussian taper and the uv cuts act on the cells, at the cell's corner nearest ``u = -inf``,
  ``v = 0`` (where WSClean evaluates them), not on each visibility's own uv distance;
* pass 2 gives every visibility the value of its cell (zero outside the grid).

Not modelled: WSClean's baseline-dependent averaging (``-baseline-averaging``) grids averaged
visibilities, which moves some weight between neighbouring cells; separate weights per output
channel (``-channels-out`` without ``-join-channels``); Tukey and edge tapers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

WeightingMode = Literal["natural", "uniform", "briggs"]

#: Speed of light (m/s), as WSClean converts frequencies to wavelengths.
SPEED_OF_LIGHT_M_S = 299792458.0
#: Visibility samples (rows x channels x correlations) read at a time.
CHUNK_SAMPLES = 8_000_000
#: WSClean's default ``-padding``: the gridded image is this much larger than the output image.
WSCLEAN_PADDING = 1.2
#: WSClean options that change the imaging weights in ways this module does not model.
UNMODELLED_ARGS = frozenset({"-taper-tukey", "-taper-inner-tukey", "-taper-edge", "-taper-edge-tukey",
                             "-use-weights-as-taper", "-no-mf-weighting", "-minuvw-m", "-maxuvw-m", "-weight",
                             "-visibility-weighting-mode"})
#: CORR_TYPE codes of the two parallel hands (linear XX/YY, circular RR/LL).
PARALLEL_HANDS = ((9, 12), (5, 8))


@dataclass(frozen=True)
class ImagingWeighting:
    """WSClean's weighting settings of an image (``-weight``, ``-size``, ``-scale``, ``-taper-gaussian``,
    ``-minuv-l``, ``-maxuv-l``, ``-padding``, ``-weighting-rank-filter[-size]``, ``-super-weight``); defaults are
    WSClean's."""

    mode: WeightingMode
    robust: float = 0.0
    size_pix: tuple[int, int] = field(kw_only=True)  # (nx, ny), as -size
    scale_arcsec: float = field(kw_only=True)
    taper_gaussian_arcsec: float | None = None
    minuv_lambda: float | None = None
    maxuv_lambda: float | None = None
    padding: float = WSCLEAN_PADDING
    rank_filter_level: float = 3.0
    rank_filter_size: int = 16
    #: ``-super-weight``: the weighting grid has this many times fewer cells than the padded image, each as much
    #: larger in uv (1: the image's own grid).
    super_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in ("natural", "uniform", "briggs"):
            raise InputError(f"weighting mode must be natural, uniform or briggs, not {self.mode!r}",
                             setting="weighting")
        if len(self.size_pix) != 2 or min(int(n) for n in self.size_pix) < 1:
            raise InputError(f"size_pix must be two positive pixel counts, not {self.size_pix}", setting="size_pix")
        for name in ("robust", "scale_arcsec", "padding", "rank_filter_level", "super_weight"):
            if not math.isfinite(getattr(self, name)):
                raise InputError(f"{name} must be finite, not {getattr(self, name)}", setting=name)
        if self.scale_arcsec <= 0:
            raise InputError(f"scale_arcsec must be positive, not {self.scale_arcsec}", setting="scale_arcsec")
        if self.super_weight <= 0:
            raise InputError(f"super_weight must be positive, not {self.super_weight}", setting="super_weight")
        if self.padding < 1.0:
            raise InputError(f"padding must be >= 1, not {self.padding}", setting="padding")
        if self.rank_filter_size < 1:
            raise InputError(f"rank_filter_size must be >= 1, not {self.rank_filter_size}",
                             setting="rank_filter_size")
        for name in ("taper_gaussian_arcsec", "minuv_lambda", "maxuv_lambda"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be positive (or None for none), not {value}", setting=name)
        if self.minuv_lambda and self.maxuv_lambda and self.minuv_lambda >= self.maxuv_lambda:
            raise InputError(f"minuv_lambda {self.minuv_lambda} is not below maxuv_lambda {self.maxuv_lambda}",
                             setting="minuv_lambda")

    @classmethod
    def from_wsclean_options(cls, opts) -> ImagingWeighting:
        """The weighting of a :class:`lofar_hires.runners.wsclean.WSCleanOptions` image; ``-padding`` and
        ``-weighting-rank-filter[-size]`` are read from its ``extra_args`` (else WSClean's defaults), and extra
        arguments that change the weights in ways not modelled here are refused."""
        if opts.channels_out > 1 and not opts.join_channels:
            raise InputError("-channels-out without -join-channels weights every output channel on its own grid; "
                             "imaging weights are computed for the joint (MF) weighting only")
        extra = [str(a) for a in opts.extra_args]
        unsupported = sorted(set(extra) & UNMODELLED_ARGS)
        if unsupported:
            raise InputError(f"imaging weights with WSClean's {', '.join(unsupported)} are not modelled")
        if opts.super_weight is not None and "-super-weight" in extra:
            raise InputError("-super-weight is given twice: as the super_weight option and among the extra arguments")
        numbers = {}
        for key in ("-padding", "-weighting-rank-filter", "-weighting-rank-filter-size", "-super-weight"):
            if key in extra:
                i = extra.index(key)
                try:
                    numbers[key] = float(extra[i + 1])
                except (IndexError, ValueError):
                    raise InputError(f"WSClean option {key} needs a number") from None
        return cls(mode=opts.weighting, robust=float(opts.robust), size_pix=tuple(int(n) for n in opts.size_pix),
                   scale_arcsec=float(opts.scale_arcsec), taper_gaussian_arcsec=opts.taper_gaussian_arcsec,
                   minuv_lambda=opts.minuv_lambda, maxuv_lambda=opts.maxuv_lambda,
                   padding=numbers.get("-padding", WSCLEAN_PADDING),
                   rank_filter_level=numbers.get("-weighting-rank-filter", 3.0),
                   rank_filter_size=int(numbers.get("-weighting-rank-filter-size", 16)),
                   super_weight=numbers.get("-super-weight", 1.0) if opts.super_weight is None else opts.super_weight)

    @property
    def grid_size(self) -> tuple[int, int]:
        """``(width, height)`` of WSClean's weighting grid: the padded image size divided by the super weight."""
        return tuple(weighting_grid_size(padded_size(n, self.padding), self.super_weight)  # type: ignore[return-value]
                     for n in self.size_pix)

    @property
    def cell_lambda(self) -> float:
        """Width of the weighting grid's cells along the image's longer axis (wavelengths)."""
        return 1.0 / (max(self.grid_size) * self.scale_rad)

    @property
    def scale_rad(self) -> float:
        return math.radians(self.scale_arcsec / 3600.0)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "robust": self.robust, "size_pix": list(self.size_pix),
                "scale_arcsec": self.scale_arcsec, "taper_gaussian_arcsec": self.taper_gaussian_arcsec,
                "minuv_lambda": self.minuv_lambda, "maxuv_lambda": self.maxuv_lambda, "padding": self.padding,
                "rank_filter_level": self.rank_filter_level, "rank_filter_size": self.rank_filter_size,
                "super_weight": self.super_weight}


@dataclass(frozen=True)
class WeightGrid:
    """The imaging weight of every cell of the half uv plane: ``values`` ``(height // 2, width)``."""

    values: np.ndarray
    width: int
    height: int
    scale_rad: float

    def weights_at(self, u_lambda: np.ndarray, v_lambda: np.ndarray) -> np.ndarray:
        """Imaging weight of visibilities at ``(u, v)`` (zero off the grid)."""
        x, y, inside = uv_cells(u_lambda, v_lambda, self.width, self.height, self.scale_rad)
        out = np.zeros(np.shape(x))
        out[inside] = self.values[y[inside], x[inside]]
        return out


# --------------------------------------------------------------------------------------------- pure functions


def padded_size(n_pix: int, padding: float) -> int:
    """WSClean's padded image size: ``ceil(n * padding)`` rounded up to a multiple of 4."""
    n = int(math.ceil(int(n_pix) * padding))
    return n + (4 - n % 4) % 4


def weighting_grid_size(padded_pix: int, super_weight: float = 1.0) -> int:
    """WSClean's weighting grid cells along one axis: the padded image size over the super weight, rounded (half
    away from zero) and made even."""
    n = int(math.floor(int(padded_pix) / float(super_weight) + 0.5))
    return max(2, n + n % 2)


def super_weight_for_cell(padded_pix: int, scale_arcsec: float, cell_lambda: float) -> float:
    """The ``-super-weight`` that gives a padded image of ``padded_pix`` pixels of ``scale_arcsec`` weighting cells
    of ``cell_lambda`` wavelengths; at least 1 (never a finer grid than the image's own)."""
    if not (cell_lambda > 0 and scale_arcsec > 0):
        raise InputError(f"a weighting cell of {cell_lambda} lambda with {scale_arcsec} arcsec pixels: both must be "
                         "positive", setting="weighting_cell_lambda")
    return max(1.0, int(padded_pix) * math.radians(scale_arcsec / 3600.0) * float(cell_lambda))


def uv_cells(u_lambda: np.ndarray, v_lambda: np.ndarray, width: int, height: int,
             scale_rad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell ``(x, y)`` of each ``(u, v)`` on the half-plane grid, and whether it lies on the grid.

    ``v < 0`` is mirrored to ``(-u, -v)``; ``x = floor(u * width * scale + width / 2)``,
    ``y = floor(v * height * scale)``."""
    u = np.asarray(u_lambda, dtype=float)
    v = np.asarray(v_lambda, dtype=float)
    flip = v < 0
    u = np.where(flip, -u, u)
    v = np.where(flip, -v, v)
    x = np.floor(u * width * scale_rad + width // 2)
    y = np.floor(v * height * scale_rad)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height // 2)
    return np.where(inside, x, 0).astype(np.int64), np.where(inside, y, 0).astype(np.int64), inside


def cell_uv(width: int, height: int, scale_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """``(u, v)`` (wavelengths) of each cell's corner, ``(height // 2, width)`` each: where tapers are evaluated."""
    u = (np.arange(width) - width // 2) / (width * scale_rad)
    v = np.arange(height // 2) / (height * scale_rad)
    return np.broadcast_to(u, (height // 2, width)), np.broadcast_to(v[:, None], (height // 2, width))


def density_to_weights(density: np.ndarray, total: float, mode: WeightingMode, robust: float) -> np.ndarray:
    """Imaging weight of each cell from its summed data weight ``W_k`` (``total``: the sum of all gridded
    weights). Briggs leaves cells without data at 1, as WSClean 3.1 does (it matters for the rank filter)."""
    w = np.asarray(density, dtype=float)
    if mode == "natural":
        return (w != 0).astype(float)
    if mode == "uniform":
        out = np.zeros_like(w)
        np.divide(1.0, w, out=out, where=w != 0)
        return out
    if total <= 0:
        raise InputError("no unflagged visibility with positive weight on the weighting grid")
    f2 = (5.0 * 10.0 ** (-robust)) ** 2 / (float(np.sum(w * w)) / total)
    return 1.0 / (1.0 + w * f2)


def rank_filter(grid: np.ndarray, level: float, size: int) -> np.ndarray:
    """Cap every non-zero cell at ``level`` times the mean of the non-zero cells in the window ``[x - size/2,
    x + size/2)`` by ``[y - size/2, y + size/2)`` (clipped to the grid) around it; off below level 1."""
    d = int(size) // 2
    if level < 1.0 or d == 0:
        return grid
    nz = grid != 0

    def box(a: np.ndarray, axis: int) -> np.ndarray:
        n = a.shape[axis]
        c = np.concatenate([np.zeros_like(np.take(a, [0], axis=axis)), np.cumsum(a, axis=axis)], axis=axis)
        lo, hi = np.clip(np.arange(n) - d, 0, n), np.clip(np.arange(n) + d, 0, n)
        return np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)

    def window_sum(a: np.ndarray) -> np.ndarray:
        return box(box(a, 1), 0)

    total = window_sum(np.where(nz, grid, 0.0))
    count = window_sum(nz.astype(float))
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    cap = level * mean
    return np.where(nz & (grid > cap), cap, grid)


def apply_tapers(grid: np.ndarray, weighting: ImagingWeighting) -> np.ndarray:
    """The rank filter, Gaussian taper and uv cuts on the cells, in WSClean's order."""
    width, height = weighting.grid_size
    out = rank_filter(grid, weighting.rank_filter_level, weighting.rank_filter_size)
    u, v = cell_uv(width, height, weighting.scale_rad)
    r2 = u * u + v * v
    if weighting.taper_gaussian_arcsec:
        # WSClean's convention: sigma_uv = 2 sqrt(2 ln 2) / (2 pi theta) for a taper "beam size" theta.
        theta = math.radians(weighting.taper_gaussian_arcsec / 3600.0)
        sigma = 2.0 * math.sqrt(2.0 * math.log(2.0)) / (2.0 * math.pi * theta)
        out = out * np.exp(-r2 / (2.0 * sigma * sigma))
    if weighting.minuv_lambda:
        out = np.where(r2 < weighting.minuv_lambda ** 2, 0.0, out)
    if weighting.maxuv_lambda:
        out = np.where(r2 > weighting.maxuv_lambda ** 2, 0.0, out)
    return out


def stokes_i_weights(weight: np.ndarray, flag: np.ndarray, hands: tuple[int, int]) -> np.ndarray:
    """WSClean's Stokes I data weight ``4 min(w_a, w_b)`` of the two parallel hands ``(n, nchan, ncorr)`` ->
    ``(n, nchan)``; zero where either hand is flagged."""
    a, b = hands
    w = 4.0 * np.minimum(weight[..., a], weight[..., b]).astype(float)
    return np.where(flag[..., a] | flag[..., b], 0.0, w)


# --------------------------------------------------------------------------------------------- reading data


@dataclass(frozen=True)
class VisibilityChunk:
    """Rows ``start .. start + len(time)`` of a measurement set, with per-visibility weights ``(n, nchan)``."""

    start: int
    time: np.ndarray
    antenna1: np.ndarray
    antenna2: np.ndarray
    u_lambda: np.ndarray  # (n, nchan)
    v_lambda: np.ndarray
    data_weight: np.ndarray  # Stokes I data weight, zero where flagged or an autocorrelation


def _parallel_hands(ms_path: Path) -> tuple[int, int]:
    from casacore.tables import table

    with table(str(ms_path / "POLARIZATION"), ack=False) as t:
        corr = [int(c) for c in np.asarray(t.getcol("CORR_TYPE"))[0]]
    for a, b in PARALLEL_HANDS:
        if a in corr and b in corr:
            return corr.index(a), corr.index(b)
    raise InputError(f"{ms_path}: correlations {corr} have no XX/YY or RR/LL pair to make Stokes I from")


def iter_visibilities(ms_path: Path, chunk_samples: int = CHUNK_SAMPLES) -> Iterator[VisibilityChunk]:
    """Chunks of rows with uv (wavelengths) and Stokes I data weights (``WEIGHT_SPECTRUM``, else ``WEIGHT``)."""
    from casacore.tables import table

    from lofar_hires.io.ms import require_ms

    ms_path = Path(ms_path)
    require_ms(ms_path)
    hands = _parallel_hands(ms_path)
    with table(str(ms_path / "SPECTRAL_WINDOW"), ack=False) as t:
        freqs = np.asarray(t.getcol("CHAN_FREQ")[0], dtype=float)
    wavelength = SPEED_OF_LIGHT_M_S / freqs
    with table(str(ms_path), ack=False) as t:
        spectrum = "WEIGHT_SPECTRUM" in t.colnames() and t.iscelldefined("WEIGHT_SPECTRUM", 0)
        if not spectrum:
            log.warning("%s has no WEIGHT_SPECTRUM; using WEIGHT for every channel (as WSClean does)", ms_path)
        n_corr = int(np.asarray(t.getcell("FLAG", 0)).shape[-1])
        rows = max(1, chunk_samples // (len(freqs) * n_corr))
        for start in range(0, t.nrows(), rows):
            n = min(rows, t.nrows() - start)
            a1 = np.asarray(t.getcol("ANTENNA1", start, n))
            a2 = np.asarray(t.getcol("ANTENNA2", start, n))
            uvw = np.asarray(t.getcol("UVW", start, n), dtype=float)
            flag = np.asarray(t.getcol("FLAG", start, n), bool)
            if spectrum:
                weight = np.asarray(t.getcol("WEIGHT_SPECTRUM", start, n), dtype=np.float32)
            else:
                weight = np.broadcast_to(np.asarray(t.getcol("WEIGHT", start, n), np.float32)[:, None, :],
                                         flag.shape)
            w = stokes_i_weights(weight, flag, hands)
            skip = (a1 == a2) | np.asarray(t.getcol("FLAG_ROW", start, n), bool)
            w[skip] = 0.0
            yield VisibilityChunk(start=start, time=np.asarray(t.getcol("TIME", start, n), dtype=float),
                                  antenna1=a1, antenna2=a2, u_lambda=uvw[:, :1] / wavelength,
                                  v_lambda=uvw[:, 1:2] / wavelength, data_weight=w)


# --------------------------------------------------------------------------------------------- the two passes


def weight_grid(ms_paths: Sequence[Path], weighting: ImagingWeighting) -> WeightGrid:
    """Pass 1: grid the Stokes I data weights of all measurement sets together; the imaging weight per cell."""
    if not ms_paths:
        raise InputError("give at least one measurement set")
    width, height = weighting.grid_size
    scale = weighting.scale_rad
    density = np.zeros(height // 2 * width)
    for path in ms_paths:
        for chunk in iter_visibilities(Path(path)):
            x, y, inside = uv_cells(chunk.u_lambda, chunk.v_lambda, width, height, scale)
            keep = inside & (chunk.data_weight != 0)
            cells, which = np.unique((y * width + x)[keep], return_inverse=True)
            density[cells] += np.bincount(which.ravel(), weights=chunk.data_weight[keep], minlength=len(cells))
    total = float(density.sum())
    if total <= 0:
        raise InputError("the measurement sets have no unflagged visibility with positive weight on the "
                         f"{width} x {height} weighting grid")
    values = density_to_weights(density.reshape(height // 2, width), total, weighting.mode, weighting.robust)
    values = apply_tapers(values, weighting)
    log.info("%s weighting grid %d x %d cells of %.4g lambda: %d cells with data", weighting.mode, width,
             height // 2, 1.0 / (width * scale), int(np.count_nonzero(density)))
    return WeightGrid(values=values, width=width, height=height, scale_rad=scale)


def iter_imaging_weights(ms_path: Path, grid: WeightGrid) -> Iterator[tuple[VisibilityChunk, np.ndarray]]:
    """Pass 2: each chunk of rows with the imaging weight of every visibility ``(n, nchan)`` (what WSClean
    stores in ``IMAGING_WEIGHT_SPECTRUM``, flagged ones included)."""
    for chunk in iter_visibilities(Path(ms_path)):
        yield chunk, grid.weights_at(chunk.u_lambda, chunk.v_lambda)


def imaging_weights(ms_path: Path, grid: WeightGrid) -> np.ndarray:
    """The imaging weight of every visibility of one measurement set ``(nrow, nchan)`` (for small sets)."""
    return np.concatenate([w for _, w in iter_imaging_weights(ms_path, grid)], axis=0)


def thermal_image_noise_jy(ms_paths: Sequence[Path], grid: WeightGrid) -> float:
    """The Stokes I image noise the radiometer equation gives for these data with these imaging weights (Jy/beam,
    at the phase centre, before any primary-beam correction).

    The data weights are taken as ``1 / sigma^2`` of each correlation's real part (DP3 and the simulator keep them
    so through averaging), so a Stokes I visibility of weight ``w_I = 4 min(w_XX, w_YY)`` has a real-part variance of
    ``2 / w_I``; with total weights ``T = w_I * imaging weight`` the image noise is ``sqrt(sum T^2 2 / w_I) / sum T``
    (natural weighting: ``1 / sqrt(2 sum 1 / sigma^2)``, :func:`lofar_hires.simulation.noise.natural_image_noise_jy`).
    """
    numerator = 0.0
    total = 0.0
    for path in ms_paths:
        for chunk, imaging in iter_imaging_weights(Path(path), grid):
            w = np.asarray(chunk.data_weight, dtype=float)
            t = w * imaging
            used = t > 0
            numerator += float(np.sum(t[used] ** 2 * 2.0 / w[used]))
            total += float(np.sum(t[used]))
    if total <= 0:
        raise InputError("no visibility has a positive imaging weight: no thermal noise to compute")
    return math.sqrt(numerator) / total
