"""What a final facet image looks like, decided before any data are read: its grid, its
baseline-dependent averaging and its WSClean settings (pure functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.final_imaging.config import FinalImagingConfig, ResolutionConfig
from lofar_hires.imaging.imaging_weights import WSCLEAN_PADDING, padded_size, super_weight_for_cell
from lofar_hires.io.names import safe_name
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.selection.facets import Facet, sin_offsets_deg
from lofar_hires.selection.sky import radec_to_xyz

#: Largest offset between a facet dataset's phase centre and the image centre that needs no shift (pixels).
SHIFT_TOLERANCE_PIX = 0.01


@dataclass(frozen=True)
class ImageGeometry:
    """The grid of one facet image: centred on ``centre_deg`` (RA, Dec), ``size_pix`` (x, y) pixels."""

    centre_deg: tuple[float, float]
    size_pix: tuple[int, int]
    pixel_arcsec: float
    #: Largest distance of the facet polygon from the image centre (deg): where smearing is worst.
    max_distance_deg: float


def image_geometry(facet: Facet, centre_deg: tuple[float, float], resolution: ResolutionConfig, padding: float,
                   max_image_pix: int) -> ImageGeometry:
    """The smallest even-sized grid of ``resolution``'s pixels, centred on ``centre_deg``, that covers the facet
    polygon with ``padding`` (a fraction of its extent) on each side.

    Raises
    ------
    InputError
        The centre lies outside the polygon's hemisphere, or the image would exceed ``max_image_pix``.
    """
    xyz = radec_to_xyz(facet.vertices_deg[:, 0], facet.vertices_deg[:, 1])
    centre_xyz = radec_to_xyz(*centre_deg)
    if np.any(xyz @ centre_xyz <= 0.0):
        raise InputError(f"facet {facet.name}: its polygon reaches 90 deg or more from the image centre "
                         f"{centre_deg[0]:.5f}, {centre_deg[1]:.5f} deg")
    lm_deg = sin_offsets_deg(xyz, *centre_deg)
    half_deg = np.abs(lm_deg).max(axis=0) * (1.0 + padding)
    pixel_deg = resolution.pixel_arcsec / 3600.0
    size = tuple(max(64, 2 * int(math.ceil(h / pixel_deg))) for h in half_deg)
    if max(size) > max_image_pix:
        raise InputError(f"facet {facet.name}: a {size[0]} x {size[1]} pixel image of {resolution.pixel_arcsec:g} "
                         f"arcsec is larger than max_image_pix ({max_image_pix}); split the facet or raise the "
                         "limit", setting="max_image_pix")
    distance = float(np.degrees(np.arccos(np.clip(xyz @ centre_xyz, -1.0, 1.0))).max())
    return ImageGeometry((float(centre_deg[0]) % 360.0, float(centre_deg[1])), (int(size[0]), int(size[1])),
                         resolution.pixel_arcsec, distance)


def smearing_free_track_lambda(distance_deg: float, max_loss: float) -> float:
    """Length of uv track (wavelengths) that may be averaged for a source ``distance_deg`` from the phase centre
    to lose at most ``max_loss`` of its peak: a box average over a track of length ``L`` multiplies its
    visibility by sinc(L r) (normalised sinc, r in radians); WSClean's ``-baseline-averaging`` takes ``L``."""
    if not 0.0 < max_loss < 1.0:
        raise InputError(f"the smearing loss must lie in (0, 1), got {max_loss}", setting="max_smearing_loss")
    if distance_deg <= 0.0:
        raise InputError(f"the facet's largest distance from the image centre must be positive, got {distance_deg}")
    lo, hi = 0.0, 1.0  # sinc falls monotonically from 1 to 0 on [0, 1]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if 1.0 - np.sinc(mid) > max_loss:
            hi = mid
        else:
            lo = mid
    return lo / math.radians(distance_deg)


def product_prefix(facet: str, resolution: str) -> str:
    """File-name prefix of a facet's images at one resolution: ``<facet>.<resolution>asec``."""
    return f"{safe_name(facet, what='facet name')}.{safe_name(resolution, what='resolution name')}asec"


def weighting_super_weight(cfg: FinalImagingConfig, resolution: ResolutionConfig, geometry: ImageGeometry) -> float:
    """WSClean's ``-super-weight`` that gives the image weighting cells of ``cfg.weighting_cell_lambda`` along its
    longer axis (1, the image's own grid, when that is 0 or the image's cells are already larger)."""
    if not cfg.weighting_cell_lambda:
        return 1.0
    padded = padded_size(max(geometry.size_pix), WSCLEAN_PADDING)
    return super_weight_for_cell(padded, resolution.pixel_arcsec, cfg.weighting_cell_lambda)


def wsclean_options(cfg: FinalImagingConfig, resolution: ResolutionConfig, geometry: ImageGeometry, name: str, *,
                    shift: bool, threads: int, data_column: str | None = None, temp_dir: Path | None = None,
                    local_rms: bool = True) -> WSCleanOptions:
    """WSClean's settings for one facet image at one resolution (de Jong et al. 2025, section 6.4.5).

    ``local_rms=False`` thresholds on the image's global rms instead (for WSClean builds that cannot combine a
    local-rms map with multi-scale cleaning)."""
    bda = (smearing_free_track_lambda(geometry.max_distance_deg, cfg.max_smearing_loss)
           if cfg.baseline_averaging else None)
    super_weight = weighting_super_weight(cfg, resolution, geometry)
    return WSCleanOptions(
        name=Path(name), size_pix=geometry.size_pix, scale_arcsec=resolution.pixel_arcsec, niter=cfg.niter,
        weighting=cfg.weighting, robust=cfg.robust, data_column=data_column or cfg.data_column, mgain=cfg.mgain,
        auto_mask_sigma=cfg.auto_mask_sigma, auto_threshold_sigma=cfg.auto_threshold_sigma, local_rms=local_rms,
        local_rms_window_beams=cfg.local_rms_window_beams if local_rms else None, multiscale=cfg.multiscale,
        taper_gaussian_arcsec=resolution.taper_arcsec or None, minuv_lambda=cfg.minuv_lambda or None,
        super_weight=super_weight if super_weight > 1.0 else None, baseline_averaging=bda,
        no_update_model_required=True,
        restoring_beam_arcsec=resolution.restoring_beam_arcsec or None,
        shift_radec_deg=geometry.centre_deg if shift else None, threads=threads, temp_dir=temp_dir)
