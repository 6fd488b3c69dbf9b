"""The mosaic's grid: one SIN-projected image centred on the field, covering the union of the facet polygons.

The centre is given or the mean direction of the facet centres; the pixel scale is given or the
finest of the facet images. The facet polygons' edges are great circles, which are curved in
the SIN plane, so every edge is sampled along its great circle before the grid's extent is
taken. The grid follows WSClean's convention: ``CRPIX = N/2 + 1`` (1-based) at the centre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lofar_hires.errors import InputError
from lofar_hires.selection.facets import Facet, sin_offsets_deg
from lofar_hires.selection.sky import angular_distance_deg, radec_to_xyz, xyz_to_radec

#: Pixels added around the polygons' extent on every side.
MARGIN_PIX = 2
#: Larger grids are refused (a pixel scale typed wrong); 1e10 pixels are 40 GB per float32 plane.
MAX_PIXELS = 10_000_000_000
#: Largest distance of a polygon vertex from the mosaic centre: SIN images end at 90 deg.
MAX_RADIUS_DEG = 60.0
#: Great-circle samples per polygon edge when the extent is taken.
EDGE_SAMPLES = 32


@dataclass(frozen=True)
class MosaicGrid:
    """A SIN-projected grid of ``nx`` x ``ny`` square pixels of ``pixel_deg``, centred on (RA, Dec)."""

    centre_ra_deg: float
    centre_dec_deg: float
    pixel_deg: float
    nx: int
    ny: int

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx): the numpy shape of one image plane."""
        return self.ny, self.nx

    @property
    def crpix(self) -> tuple[float, float]:
        """1-based reference pixel (x, y): WSClean's ``N/2 + 1``."""
        return self.nx // 2 + 1.0, self.ny // 2 + 1.0

    def wcs(self):
        """The celestial WCS (astropy) of the grid."""
        from astropy.wcs import WCS

        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
        w.wcs.crval = [self.centre_ra_deg, self.centre_dec_deg]
        w.wcs.crpix = list(self.crpix)
        w.wcs.cdelt = [-self.pixel_deg, self.pixel_deg]
        w.wcs.cunit = ["deg", "deg"]
        w.wcs.radesys = "ICRS"
        return w

    def pixel_of(self, ra_deg: ArrayLike, dec_deg: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """0-based pixel coordinates (x, y) of sky positions (SIN about the centre, exact)."""
        xyz = radec_to_xyz(np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float))
        lm = sin_offsets_deg(xyz, self.centre_ra_deg, self.centre_dec_deg)
        x0, y0 = self.crpix
        return x0 - 1.0 - lm[..., 0] / self.pixel_deg, y0 - 1.0 + lm[..., 1] / self.pixel_deg


def edge_points_deg(vertices_deg: ArrayLike, samples: int = EDGE_SAMPLES) -> np.ndarray:
    """(n * samples, 2) RA, Dec along a polygon's great-circle edges (vertices included)."""
    v = np.asarray(vertices_deg, dtype=float).reshape(-1, 2)
    p = radec_to_xyz(v[:, 0], v[:, 1])
    q = np.roll(p, -1, axis=0)
    t = np.arange(samples) / samples
    pts = p[:, None, :] * (1.0 - t)[None, :, None] + q[:, None, :] * t[None, :, None]  # chords, then normalised
    pts = pts.reshape(-1, 3)
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    ra, dec = xyz_to_radec(pts)
    return np.stack([np.asarray(ra) % 360.0, np.asarray(dec)], axis=1)


def field_centre_deg(facets: Sequence[Facet]) -> tuple[float, float]:
    """The mean direction of the facet centres (RA in [0, 360), Dec), in degrees."""
    xyz = radec_to_xyz(np.array([f.centre_ra_deg for f in facets]), np.array([f.centre_dec_deg for f in facets]))
    mean = xyz.sum(axis=0)
    if np.linalg.norm(mean) < 1e-9:
        raise InputError("the facet centres have no mean direction (they surround the sphere); give the centre",
                         setting="centre_deg")
    ra, dec = xyz_to_radec(mean / np.linalg.norm(mean))
    return float(ra) % 360.0, float(dec)


def mosaic_grid(facets: Sequence[Facet], pixel_deg: float, centre_deg: tuple[float, float] | None = None,
                margin_pix: int = MARGIN_PIX) -> MosaicGrid:
    """The smallest grid about the centre (WSClean's reference pixel) that holds every facet polygon.

    Raises
    ------
    InputError
        No facet, a bad pixel scale or centre, a polygon 60 deg or more from the centre,
        or a grid of more than :data:`MAX_PIXELS` pixels.
    """
    if not facets:
        raise InputError("no facet to make a mosaic of", setting="facet_regions")
    if not (math.isfinite(pixel_deg) and pixel_deg > 0):
        raise InputError(f"the pixel scale must be a positive number, got {pixel_deg * 3600.0:g} arcsec",
                         setting="pixel_scale_arcsec")
    ra0, dec0 = field_centre_deg(facets) if centre_deg is None else (float(centre_deg[0]), float(centre_deg[1]))
    if not (math.isfinite(ra0) and math.isfinite(dec0) and 0.0 <= ra0 < 360.0 and -90.0 <= dec0 <= 90.0):
        raise InputError(f"the mosaic centre ({ra0}, {dec0}) deg is not a sky position (RA in [0, 360), Dec in "
                         "[-90, 90])", setting="centre_deg")
    pts = np.concatenate([edge_points_deg(f.vertices_deg) for f in facets])
    xyz = radec_to_xyz(pts[:, 0], pts[:, 1])
    centre = radec_to_xyz(np.array(ra0), np.array(dec0))
    far_deg = float(angular_distance_deg(xyz, centre).max())
    if far_deg >= MAX_RADIUS_DEG:
        raise InputError(f"a facet polygon reaches {far_deg:.1f} deg from the mosaic centre ({ra0:.4f}, "
                         f"{dec0:.4f}); a SIN mosaic holds at most {MAX_RADIUS_DEG:g} deg", setting="centre_deg")
    lm = np.abs(sin_offsets_deg(xyz, ra0, dec0)).max(axis=0) / pixel_deg
    nx, ny = (2 * (math.ceil(float(v) - 1e-9) + margin_pix) for v in lm)  # even sizes: N/2 + 1 at the centre
    if nx * ny > MAX_PIXELS:
        raise InputError(f"a mosaic of {nx} x {ny} pixels of {pixel_deg * 3600.0:.4g} arcsec is larger than "
                         f"{MAX_PIXELS:.0e} pixels; choose a coarser pixel scale", setting="pixel_scale_arcsec")
    return MosaicGrid(centre_ra_deg=ra0, centre_dec_deg=dec0, pixel_deg=float(pixel_deg), nx=nx, ny=ny)
