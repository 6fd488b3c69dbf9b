"""Compare the sources in an image with a sky model (recovered flux and position)."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.imaging.measure import load_image, measure_source, sigma_clipped_rms
from lofar_hires.io.skymodel import read_makesourcedb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceComparison:
    """One sky-model component measured in an image."""

    name: str
    ra_deg: float
    dec_deg: float
    true_flux_jy: float
    peak_jy_per_beam: float
    integrated_jy: float | None
    peak_ratio: float
    integrated_ratio: float | None
    offset_arcsec: float
    offset_beams: float | None


def compare_with_skymodel(image_path: Path, skymodel_path: Path, min_flux_jy: float = 0.1,
                          compact_only: bool = True) -> tuple[list[SourceComparison], float]:
    """Measure every model component brighter than ``min_flux_jy`` that lies in the image.

    Returns the comparisons and the sigma-clipped image rms (Jy/beam). Both inputs are read and
    checked before anything is measured: :class:`InputError` for an unreadable or all-NaN image,
    one without a frequency axis, or a sky model the makesourcedb reader refuses.
    """
    image = load_image(image_path)
    if image.freq_hz is None:
        raise InputError(f"{image_path} has no frequency axis to evaluate model fluxes at")
    model = read_makesourcedb(skymodel_path)
    flux = model.flux_jy(np.array([image.freq_hz]))[:, 0]
    ny, nx = image.data.shape
    rows = []
    for i, name in enumerate(model.names):
        if flux[i] < min_flux_jy or (compact_only and model.types[i] != "POINT"):
            continue
        ra, dec = math.degrees(model.ra_rad[i]), math.degrees(model.dec_rad[i])
        x, y = (float(v) for v in image.wcs.world_to_pixel_values(ra, dec))
        if not (8 <= x < nx - 8 and 8 <= y < ny - 8):
            continue
        xi, yi = int(round(x)), int(round(y))
        if not np.isfinite(image.data[yi - 4:yi + 5, xi - 4:xi + 5]).any():
            log.warning("%s lies where the image has no finite pixel (e.g. outside the primary beam); skipped", name)
            continue
        m = measure_source(image, ra, dec)
        beam_arcsec = None if image.beam_deg is None else image.beam_deg[0] * 3600.0
        rows.append(SourceComparison(
            name=name, ra_deg=ra, dec_deg=dec, true_flux_jy=float(flux[i]),
            peak_jy_per_beam=m.peak_jy_per_beam, integrated_jy=m.integrated_jy,
            peak_ratio=m.peak_jy_per_beam / flux[i],
            integrated_ratio=None if m.integrated_jy is None else m.integrated_jy / flux[i],
            offset_arcsec=m.offset_arcsec,
            offset_beams=None if beam_arcsec is None else m.offset_arcsec / beam_arcsec,
        ))
    return rows, sigma_clipped_rms(image.data)


def comparison_table(rows: list[SourceComparison]) -> list[dict]:
    """Rows as plain dictionaries (for JSON/CSV)."""
    return [asdict(r) for r in rows]
