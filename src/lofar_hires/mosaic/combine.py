"""Facet images onto the mosaic's grid: which facet owns each pixel, interpolation, polygon and beam weighting.

* **Ownership.** Every mosaic pixel belongs to the facet whose polygon holds its centre
  (:func:`facet_index_map`); the test is :meth:`FacetLayout.facet_index` of the facets in one
  tangent plane (exact on the sphere, a pixel on a shared edge goes to one facet only), run per
  facet on the pixels of the polygon's bounding box only.
* **Interpolation.** A facet image is sampled at the sky positions of the mosaic pixels with a
  cubic spline (:class:`SplineImage`, ``scipy.ndimage.map_coordinates``, order 3). A restored image
  samples its beam with 3-5 pixels; the spline keeps a point source's peak within 0.3 % at 4
  pixels per beam FWHM (0.8 % at 3, 1.4 % at 2.5; bilinear interpolation loses 5-16 %). Blanked
  (NaN) pixels are zero-filled for the spline and every mosaic pixel whose spline support comes
  within :data:`NAN_GUARD_PIX` pixels of one is NaN; so is every pixel outside the image.
* **Polygon mode** (:func:`paste_polygon`): each pixel is taken from its own facet's image only.
  With restored models, the images are the facets' residuals and every facet's restored-model image
  (CLEAN components convolved with the restoring beam) is added to every pixel it covers
  (:func:`add_model`), across the facet boundaries: a facet's dataset holds only its own sources, so
  the part of a source's restored blob beyond its facet's boundary exists in no other image.
* **Beam-weighted mode** (:func:`accumulate_weighted`): each pixel inside the facets is the average
  of every primary-beam-corrected image that covers it, weighted by ``B^2 / sigma^2`` (``B`` the
  primary beam, ``sigma`` the image's noise before the correction, :func:`apparent_noise`), where
  ``B`` is at least ``min_beam`` of the beam image's peak: the minimum-variance combination of
  independent images, whose noise is ``1 / sqrt(sum B^2 / sigma^2)``.

Everything works on strips of at most :data:`STRIP_PIXELS` mosaic pixels at a time.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.imaging.islands import robust_rms
from lofar_hires.mosaic.grid import MosaicGrid, edge_points_deg
from lofar_hires.selection.facets import FacetLayout

#: Order of the interpolating spline.
SPLINE_ORDER = 3
#: Mosaic pixels nearer than this (input pixels, beyond the spline's support) to a blanked input pixel are NaN.
NAN_GUARD_PIX = 2
#: Mosaic pixels transformed and interpolated at once.
STRIP_PIXELS = 1 << 21
#: Pixels added around a bounding box.
BOX_MARGIN_PIX = 2


@dataclasses.dataclass(frozen=True)
class SplineImage:
    """An image ready for cubic-spline sampling: its spline coefficients and where it is blank."""

    coeffs: np.ndarray  # float64 (ny, nx), NaN pixels zero-filled
    blank: np.ndarray  # float32 (ny, nx), 1 within NAN_GUARD_PIX of a NaN pixel, else 0

    @classmethod
    def from_array(cls, data: np.ndarray) -> SplineImage:
        from scipy import ndimage

        data = np.asarray(data, dtype=float)
        finite = np.isfinite(data)
        coeffs = ndimage.spline_filter(np.where(finite, data, 0.0), order=SPLINE_ORDER, mode="mirror")
        blank = ~finite
        if blank.any():
            blank = ndimage.binary_dilation(blank, structure=np.ones((3, 3), bool), iterations=NAN_GUARD_PIX)
        return cls(coeffs=coeffs, blank=blank.astype(np.float32))

    @property
    def shape(self) -> tuple[int, int]:
        return self.coeffs.shape

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values at 0-based pixel positions (x, y); NaN outside the image and near blanked pixels."""
        from scipy import ndimage

        ny, nx = self.shape
        inside = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= nx - 1) & (y >= 0) & (y <= ny - 1)
        out = np.full(x.shape, np.nan)
        if not inside.any():
            return out
        coords = np.stack([y[inside], x[inside]])
        values = ndimage.map_coordinates(self.coeffs, coords, order=SPLINE_ORDER, mode="mirror", prefilter=False)
        blank = ndimage.map_coordinates(self.blank, coords, order=1, mode="nearest") > 0
        out[inside] = np.where(blank, np.nan, values)
        return out


def linear_sample(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear values of a smooth image (a primary beam) at pixel positions; NaN pixels count as 0, outside 0."""
    from scipy import ndimage

    filled = np.where(np.isfinite(data), data, 0.0)
    return ndimage.map_coordinates(filled, np.stack([y, x]), order=1, mode="constant", cval=0.0)


def strips(rows: tuple[int, int], cols: tuple[int, int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Flattened (x, y) pixel indices of a box, in strips of at most :data:`STRIP_PIXELS` pixels."""
    (r0, r1), (c0, c1) = rows, cols
    step = max(1, STRIP_PIXELS // max(1, c1 - c0))
    for start in range(r0, r1, step):
        y, x = np.mgrid[start:min(r1, start + step), c0:c1]
        yield x.ravel(), y.ravel()


def world_of(grid_wcs, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (deg) of 0-based mosaic pixels (NaN beyond the SIN horizon)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        ra, dec = grid_wcs.all_pix2world(x, y, 0)
    return np.asarray(ra), np.asarray(dec)


def image_pixels(image_wcs, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based pixel positions in a facet image of sky positions (NaN where they have none)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        x, y = image_wcs.all_world2pix(ra, dec, 0)
    return np.asarray(x), np.asarray(y)


def clip_box(grid: MosaicGrid, x: np.ndarray, y: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Rows and columns (half-open) of the mosaic that hold points at pixel positions (x, y), with a margin."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    c0 = max(0, int(np.floor(x[ok].min())) - BOX_MARGIN_PIX)
    c1 = min(grid.nx, int(np.ceil(x[ok].max())) + BOX_MARGIN_PIX + 1)
    r0 = max(0, int(np.floor(y[ok].min())) - BOX_MARGIN_PIX)
    r1 = min(grid.ny, int(np.ceil(y[ok].max())) + BOX_MARGIN_PIX + 1)
    if c0 >= c1 or r0 >= r1:
        return None
    return (r0, r1), (c0, c1)


def image_box(grid: MosaicGrid, image_wcs, shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The part of the mosaic an image covers (bounding box of its edge pixels), or None."""
    ny, nx = shape
    t = np.linspace(0.0, 1.0, 65)
    x = np.concatenate([t * (nx - 1), np.full_like(t, nx - 1.0), (1 - t) * (nx - 1), np.zeros_like(t)])
    y = np.concatenate([np.zeros_like(t), t * (ny - 1), np.full_like(t, ny - 1.0), (1 - t) * (ny - 1)])
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        ra, dec = image_wcs.all_pix2world(x, y, 0)
    return clip_box(grid, *grid.pixel_of(ra, dec))


def facet_index_map(grid: MosaicGrid, layout: FacetLayout) -> np.ndarray:
    """For every mosaic pixel the index of the facet holding it (-1: none), int32 (ny, nx)."""
    index = np.full(grid.shape, -1, dtype=np.int32)
    wcs = grid.wcs()
    for i, facet in enumerate(layout.facets):
        edge = edge_points_deg(facet.vertices_deg)
        box = clip_box(grid, *grid.pixel_of(edge[:, 0], edge[:, 1]))
        if box is None:
            continue
        alone = dataclasses.replace(layout, facets=(facet,))  # same tangent plane as its neighbours
        for x, y in strips(*box):
            todo = index[y, x] < 0
            if not todo.any():
                continue
            x, y = x[todo], y[todo]
            ra, dec = world_of(wcs, x, y)
            inside = alone.facet_index(ra, dec) == 0
            index[y[inside], x[inside]] = i
    return index


def image_samples(grid: MosaicGrid, image_wcs, shape: tuple[int, int],
                  select: Callable[[np.ndarray, np.ndarray], np.ndarray]
                  ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Mosaic pixels ``(x, y)`` that ``select(x, y)`` keeps inside the footprint of an image on ``image_wcs``,
    strip by strip, with their pixel coordinates ``(ix, iy)`` in that image."""
    box = image_box(grid, image_wcs, shape)
    if box is None:
        return
    wcs = grid.wcs()
    for x, y in strips(*box):
        keep = select(x, y)
        if keep.any():
            x, y = x[keep], y[keep]
            yield x, y, *image_pixels(image_wcs, *world_of(wcs, x, y))


def paste_polygon(mosaic: np.ndarray, index: np.ndarray, facet: int, grid: MosaicGrid, image: SplineImage,
                  image_wcs) -> int:
    """Write the pixels of ``facet`` (``index == facet``) that ``image`` covers; returns how many got a value."""
    filled = 0
    for x, y, ix, iy in image_samples(grid, image_wcs, image.shape, lambda x, y: index[y, x] == facet):
        values = image.sample(ix, iy)
        mosaic[y, x] = values
        filled += int(np.isfinite(values).sum())
    return filled


def add_model(mosaic: np.ndarray, grid: MosaicGrid, model: np.ndarray, image_wcs) -> int:
    """Add a restored-model image, reprojected, to every finite pixel of ``mosaic`` it covers (whatever facet
    owns the pixel); NaN model pixels and pixels outside the model count as 0. Returns how many finite
    mosaic pixels the model image covers."""
    image = SplineImage.from_array(np.where(np.isfinite(model), model, 0.0))
    added = 0
    for x, y, ix, iy in image_samples(grid, image_wcs, image.shape, lambda x, y: np.isfinite(mosaic[y, x])):
        values = image.sample(ix, iy)
        covered = np.isfinite(values)
        mosaic[y, x] += np.where(covered, values, 0.0).astype(mosaic.dtype)
        added += int(covered.sum())
    return added


def apparent_noise(data: np.ndarray, beam: np.ndarray, min_beam: float) -> float:
    """Robust rms of a primary-beam-corrected image times its beam (the noise before the correction),
    where the beam is at least ``min_beam`` of its peak.

    Raises
    ------
    InputError
        No pixel above the cut, or zero noise.
    """
    peak = float(np.nanmax(beam)) if np.isfinite(beam).any() else 0.0
    if not peak > 0:
        raise InputError("the beam image has no positive pixel", setting="beam_images")
    use = np.isfinite(data) & np.isfinite(beam) & (beam >= min_beam * peak)
    sigma = robust_rms((data * beam)[use]) if use.any() else float("nan")
    if not (np.isfinite(sigma) and sigma > 0):
        raise InputError(f"no usable noise where the beam is at least {min_beam:g} of its peak "
                         f"({int(use.sum())} pixels)", setting="min_beam")
    return sigma


def accumulate_weighted(sum_w: np.ndarray, sum_wv: np.ndarray, index: np.ndarray, grid: MosaicGrid,
                        image: SplineImage, beam: np.ndarray, image_wcs, sigma: float, min_beam: float) -> int:
    """Add ``B^2 / sigma^2`` and ``B^2 / sigma^2 * value`` of one image to the sums, on the pixels inside any
    facet where its beam reaches ``min_beam`` of its peak; returns how many pixels it added to."""
    peak = float(np.nanmax(beam))
    added = 0
    for x, y, ix, iy in image_samples(grid, image_wcs, image.shape, lambda x, y: index[y, x] >= 0):
        values = image.sample(ix, iy)
        ok = np.isfinite(values)
        b = np.zeros_like(values)
        b[ok] = linear_sample(beam, ix[ok], iy[ok])
        ok &= b >= min_beam * peak
        w = b[ok] ** 2 / sigma**2
        sum_w[y[ok], x[ok]] += w
        sum_wv[y[ok], x[ok]] += w * values[ok]
        added += int(ok.sum())
    return added


def weighted_mean(sum_w: np.ndarray, sum_wv: np.ndarray) -> np.ndarray:
    """``sum_wv / sum_w`` as float32, NaN where nothing was added."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sum_w > 0, sum_wv / np.where(sum_w > 0, sum_w, 1.0), np.nan).astype(np.float32)
