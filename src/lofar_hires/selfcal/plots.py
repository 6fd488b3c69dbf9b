"""Inspection plots of self-calibration.

* :func:`image_preview_png`: one image on a symmetric-log colour scale set by its rms;
* :func:`cycle_montage_png`: the image of every cycle on one colour scale, the kept
  cycle framed, above rms, dynamic range and phase stability against cycle.

Large images are reduced for display by keeping, in each block of pixels, the
pixel of largest absolute value (so compact sources and artefacts stay visible).
PNGs are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.imaging.measure import FitsImage, load_image, sigma_clipped_rms
from lofar_hires.io.atomic import atomic_output
from lofar_hires.selfcal.metrics import CycleMetrics

log = logging.getLogger(__name__)

#: Image panels per row of the montage.
PANELS_PER_ROW = 5
#: Colour scale: linear within +-rms, logarithmic beyond, from -NEG_RMS * rms up.
NEG_RMS = 5.0


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _reduce(data: np.ndarray, max_pix: int) -> tuple[np.ndarray, int]:
    """The image reduced by an integer factor to at most ``max_pix`` a side (largest-|value| pixel per block)."""
    factor = max(1, math.ceil(max(data.shape) / max_pix))
    if factor == 1:
        return data, 1
    ny, nx = (s // factor for s in data.shape)
    blocks = data[:ny * factor, :nx * factor].reshape(ny, factor, nx, factor).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(ny, nx, factor * factor)
    pick = np.argmax(np.where(np.isfinite(blocks), np.abs(blocks), -1.0), axis=-1)
    return np.take_along_axis(blocks, pick[..., None], axis=-1)[..., 0], factor


def _norm(rms_jy: float, peak_jy: float):
    from matplotlib.colors import SymLogNorm

    if not rms_jy > 0:
        raise InputError(f"cannot scale an image by an rms of {rms_jy} Jy/beam; it must be positive")
    return SymLogNorm(linthresh=rms_jy, linscale=1.0, vmin=-NEG_RMS * rms_jy, vmax=max(peak_jy, 10 * rms_jy),
                      base=10)


def _show(ax, image: FitsImage, norm, max_pix: int):
    """Draw an image with RA/Dec offsets (arcsec) from its centre; return the artist."""
    data, factor = _reduce(image.data, max_pix)
    pix_arcsec = image.pixel_deg * 3600.0 * factor
    ny, nx = data.shape
    extent = (nx / 2 * pix_arcsec, -nx / 2 * pix_arcsec, -ny / 2 * pix_arcsec, ny / 2 * pix_arcsec)
    artist = ax.imshow(data, origin="lower", cmap="inferno", norm=norm, extent=extent, interpolation="nearest")
    ax.set_xlabel("RA offset (arcsec)")
    ax.set_ylabel("Dec offset (arcsec)")
    return artist


def image_preview_png(fits_path: Path, png_path: Path, title: str = "", rms_jy: float | None = None, *,
                      max_pix: int = 1024) -> Path:
    """A PNG of an image on a symmetric-log colour scale (linear within +-rms).

    Parameters
    ----------
    fits_path
        The (WSClean) FITS image.
    png_path
        Output PNG (replaced when it exists).
    title
        Figure title (default: the image name).
    rms_jy
        Image rms in Jy/beam (default: the sigma-clipped rms of the image).
    max_pix
        Largest displayed size; larger images are reduced by an integer factor.

    Returns
    -------
    Path
        ``png_path``.
    """
    plt = _pyplot()
    image = load_image(fits_path)
    finite = image.data[np.isfinite(image.data)]
    if finite.size == 0:
        raise InputError(f"image {fits_path} has no finite pixels to show")
    rms = sigma_clipped_rms(finite) if rms_jy is None else float(rms_jy)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    try:
        artist = _show(ax, image, _norm(rms, float(finite.max())), max_pix)
        fig.colorbar(artist, ax=ax, label="Jy/beam")
        ax.set_title(title or Path(fits_path).name)
        with atomic_output(Path(png_path), overwrite=True) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    log.info("wrote %s", png_path)
    return Path(png_path)


def _panel_title(row: CycleMetrics, best: bool) -> str:
    stability = "-" if row.phase_stability_rad is None else f"{row.phase_stability_rad:.3f} rad"
    score = "" if row.classifier_score is None else f", P(continue) {row.classifier_score:.2f}"
    return (f"cycle {row.cycle}{' (best)' if best else ''}\n"
            f"rms {row.rms_jy * 1e3:.3g} mJy/beam, DR {row.dynamic_range:.0f}\nphase std {stability}{score}")


def cycle_montage_png(images: Sequence[Path], metrics: Sequence[CycleMetrics], png_path: Path,
                      best_cycle: int | None = None, *, phase_threshold_rad: float | None = None,
                      max_pix: int = 400) -> Path:
    """One panel per cycle on a common colour scale, and the metrics against cycle.

    Parameters
    ----------
    images
        One image per cycle, in cycle order.
    metrics
        The cycles' metrics (same length and order as ``images``); the colour
        scale follows the last cycle's rms and peak.
    png_path
        Output PNG (replaced when it exists).
    best_cycle
        Cycle whose panel is framed and marked.
    phase_threshold_rad
        Phase-stability threshold drawn on the stability plot.
    max_pix
        Largest displayed size of each panel.

    Returns
    -------
    Path
        ``png_path``.
    """
    if not images:
        raise InputError("cycle montage: no images given")
    if len(images) != len(metrics):
        raise InputError(f"cycle montage: {len(images)} images but {len(metrics)} metrics rows; give one row "
                         "per image")
    plt = _pyplot()
    n = len(images)
    ncols = min(PANELS_PER_ROW, n)
    nrows = math.ceil(n / ncols)
    grid_cols = 60  # divisible by 1..5 (image panels) and by 3 (metric plots)
    fig = plt.figure(figsize=(3.4 * max(ncols, 3), 3.6 * nrows + 2.8))
    try:
        grid = fig.add_gridspec(nrows + 1, grid_cols, height_ratios=[1.0] * nrows + [0.75], hspace=0.6,
                                wspace=2.0)
        norm = _norm(metrics[-1].rms_jy, metrics[-1].peak_jy)
        width = grid_cols // ncols
        panels = []
        artist = None
        for i, (path, row) in enumerate(zip(images, metrics)):
            r, c = divmod(i, ncols)
            ax = fig.add_subplot(grid[r, c * width:(c + 1) * width])
            artist = _show(ax, load_image(path), norm, max_pix)
            is_best = best_cycle is not None and row.cycle == best_cycle
            ax.set_title(_panel_title(row, is_best), fontsize=8, color="tab:green" if is_best else "black")
            if is_best:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:green")
                    spine.set_linewidth(4)
            if c:
                ax.set_ylabel("")
                ax.tick_params(labelleft=False)
            ax.tick_params(labelsize=7)
            panels.append(ax)
        fig.colorbar(artist, ax=panels, label="Jy/beam", shrink=0.8)
        _metric_plots(fig, grid, nrows, grid_cols, metrics, best_cycle, phase_threshold_rad)
        with atomic_output(Path(png_path), overwrite=True) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
    finally:
        plt.close(fig)
    log.info("wrote %s", png_path)
    return Path(png_path)


def _metric_plots(fig, grid, row: int, grid_cols: int, metrics: Sequence[CycleMetrics], best_cycle: int | None,
                  phase_threshold_rad: float | None) -> None:
    """rms, dynamic range and phase stability against cycle, in the bottom row."""
    cycles = np.array([m.cycle for m in metrics])
    width = grid_cols // 3
    stable = [(m.cycle, m.phase_stability_rad) for m in metrics if m.phase_stability_rad is not None]
    series = [
        ("rms (mJy/beam)", cycles, np.array([m.rms_jy for m in metrics]) * 1e3),
        ("dynamic range", cycles, np.array([m.dynamic_range for m in metrics])),
        ("phase stability (rad)", np.array([c for c, _ in stable]), np.array([v for _, v in stable])),
    ]
    for k, (label, x, y) in enumerate(series):
        ax = fig.add_subplot(grid[row, k * width + 2:(k + 1) * width - 2])
        if len(x):
            ax.plot(x, y, "o-", color="tab:blue")
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        if k == 2 and phase_threshold_rad is not None:
            ax.axhline(phase_threshold_rad, color="tab:red", ls="--", label=f"{phase_threshold_rad:g} rad")
            ax.legend(fontsize=7)
        if best_cycle is not None:
            ax.axvline(best_cycle, color="tab:green", ls=":")
        ax.set_xlabel("cycle")
        ax.set_ylabel(label, fontsize=8)
        ax.set_xticks(cycles)
        ax.tick_params(labelsize=7)
