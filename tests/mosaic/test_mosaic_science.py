"""The mosaic against the truth of a synthetic field (tests/mosaic/mosaic_field.py).

Tolerances (the facet images sample their 8 arcsec beam with 4 pixels; cubic-spline interpolation):

* every source's fitted peak within 1 % of its true flux and its fitted position within 0.1 pixel of
  the true position (sources in facet interiors and 1-3 pixels from the boundaries alike): the
  spline keeps a point sample of the beam within 0.3 % at this sampling and the noise (1 mJy)
  is 0.1-0.3 % of the fluxes;
* no double counting: every pixel of a facet comes from that facet's image (checked with images
  of constant value, against an independent point-in-polygon test), and the number of sources
  found above 20 sigma equals the number injected;
* the rms in strips along the facet boundaries within 10 % of the rms of the facet interiors;
* the noise map's median (whole mosaic and per facet) within 10 % of the injected rms;
* beam-weighted mode: the rms of (mosaic / predicted noise) within 10 % of 1 both where two
  images overlap and where one image covers a pixel (predicted 1 / sqrt(sum B^2 / sigma^2)), and
  the rms in the overlaps at most 0.8 of the single-image noise there (1/sqrt(2) for equal beams).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from mosaic_field import (
    NOISE_RMS,
    PB_FWHM_DEG,
    PIXEL_ARCSEC,
    Field,
    fit_source,
    lm_to_radec,
    make_field,
    write_image,
)

from lofar_hires.cli import main
from lofar_hires.selection.facets import sky_polygon_contains


def load(path: Path):
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        return hdul[0].data.reshape(hdul[0].data.shape[-2:]).astype(float), WCS(hdul[0].header).celestial, \
            hdul[0].header


def mosaic(field: Field, out: Path, *extra: str) -> tuple[np.ndarray, np.ndarray, object, dict, Path]:
    """Run ``lofar-hires mosaic`` into ``out``: the mosaic, its noise map, its WCS, the summary and ``out``."""
    assert main(["mosaic", *map(str, field.images), "--facet-regions", str(field.regions), "-o",
                 str(out / "mosaic.fits"), "--noise-box-beams", "10", *extra]) == 0
    image, wcs, _ = load(out / "mosaic.fits")
    noise, _, _ = load(out / "mosaic-rms.fits")
    return image, noise, wcs, json.loads((out / "mosaic.json").read_text()), out


def pixel_world(wcs, shape) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    return wcs.all_pix2world(x, y, 0)


def owners(field: Field, wcs, shape) -> np.ndarray:
    """The facet of every pixel by an independent test (each polygon on its own), -1 outside all."""
    ra, dec = pixel_world(wcs, shape)
    index = np.full(shape, -1)
    for i, facet in enumerate(field.layout.facets):
        inside = sky_polygon_contains(facet.vertices_deg, ra, dec)
        assert not (inside & (index >= 0)).any(), "the test polygons overlap"
        index[inside] = i
    return index


def source_mask(field: Field, wcs, shape, radius_pix: float = 8.0) -> np.ndarray:
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    mask = np.zeros(shape, bool)
    for s in field.sources:
        px, py = wcs.all_world2pix([s.ra_deg], [s.dec_deg], 0)
        mask |= np.hypot(x - px[0], y - py[0]) < radius_pix
    return mask


def boundary_distance(index: np.ndarray) -> np.ndarray:
    """Distance (pixels) of every pixel to the nearest pixel of another facet (inf for a single facet)."""
    from scipy import ndimage

    dist = np.full(index.shape, np.inf)
    for i in np.unique(index[index >= 0]):
        other = (index >= 0) & (index != i)
        if other.any():
            d = ndimage.distance_transform_edt(~other)
            dist = np.where(index == i, d, dist)
    return dist


@pytest.fixture(scope="module")
def field(tmp_path_factory) -> Field:
    return make_field(tmp_path_factory.mktemp("mosaic_field"))


@pytest.fixture(scope="module")
def polygon_run(field: Field, tmp_path_factory):
    return mosaic(field, tmp_path_factory.mktemp("polygon"))


def test_sources_keep_flux_and_position(field: Field, polygon_run) -> None:
    image, _, wcs, _, _ = polygon_run
    for s in field.sources:
        px, py = (float(v[0]) for v in wcs.all_world2pix([s.ra_deg], [s.dec_deg], 0))
        amp, x, y = fit_source(image, px, py)
        assert amp == pytest.approx(s.flux_jy, rel=0.01), f"source at ({s.ra_deg:.4f}, {s.dec_deg:.4f})"
        assert math.hypot(x - px, y - py) < 0.1, f"source at ({s.ra_deg:.4f}, {s.dec_deg:.4f}) moved"


def test_each_source_once(field: Field, polygon_run) -> None:
    """Peaks above 20 sigma: one per injected source, also for those on the boundaries."""
    from scipy import ndimage

    image, _, _, _, _ = polygon_run
    filled = np.nan_to_num(image, nan=0.0)
    peaks = (filled == ndimage.maximum_filter(filled, size=5)) & (filled > 20 * NOISE_RMS)
    assert int(peaks.sum()) == len(field.sources)


def test_every_pixel_from_its_own_facet(field: Field, tmp_path: Path) -> None:
    """Images of constant value i + 1: each mosaic pixel holds the value of the facet whose polygon holds it,
    and NaN outside the facets."""
    const = []
    for i, (path, facet) in enumerate(zip(field.images, field.layout.facets)):
        const.append(write_image(tmp_path / f"const{i}.fits", np.full((200, 200), float(i + 1)),
                                 (facet.centre_ra_deg, facet.centre_dec_deg)))
    # a centre and pixel scale that put no pixel centre exactly on a facet edge (the test would be a tie)
    ra0, dec0 = lm_to_radec(0.37 * PIXEL_ARCSEC / 3600.0, 0.21 * PIXEL_ARCSEC / 3600.0)
    assert main(["mosaic", *map(str, const), "--facet-regions", str(field.regions), "-o", str(tmp_path / "m.fits"),
                 "--centre-deg", str(ra0), str(dec0), "--pixel-scale-arcsec", "1.7"]) == 0
    image, wcs, _ = load(tmp_path / "m.fits")
    index = owners(field, wcs, image.shape)
    assert np.isnan(image[index < 0]).all()
    np.testing.assert_allclose(image[index >= 0], index[index >= 0] + 1.0, atol=1e-5)


def test_noise_flat_across_boundaries(field: Field, polygon_run) -> None:
    image, _, wcs, _, _ = polygon_run
    clean = np.isfinite(image) & ~source_mask(field, wcs, image.shape)
    dist = boundary_distance(owners(field, wcs, image.shape))
    edge = clean & (dist <= 5)
    interior = clean & (dist >= 20)
    assert edge.sum() > 2000 and interior.sum() > 20000
    ratio = image[edge].std() / image[interior].std()
    assert ratio == pytest.approx(1.0, abs=0.10), ratio
    assert image[interior].std() == pytest.approx(NOISE_RMS, rel=0.10)


def test_noise_map_matches_injected_rms(field: Field, polygon_run) -> None:
    image, noise, wcs, summary, _ = polygon_run
    assert np.isnan(noise[np.isnan(image)]).all()
    assert np.nanmedian(noise) == pytest.approx(NOISE_RMS, rel=0.10)
    for row in summary["facets"]:
        assert row["median_noise"] == pytest.approx(NOISE_RMS, rel=0.10), row["facet"]
        assert row["coverage"] == 1.0, row


def test_products(polygon_run, field: Field) -> None:
    """The mosaic carries the full WCS (SIN about the field centre, the images' FREQ and STOKES axes), the
    restoring beam and unit; the noise map, summary and provenance lie next to it."""
    from astropy.io import fits

    _, _, wcs, summary, out = polygon_run
    assert list(wcs.wcs.ctype) == ["RA---SIN", "DEC--SIN"]
    assert summary["grid"]["pixel_arcsec"] == pytest.approx(PIXEL_ARCSEC)
    assert summary["grid"]["centre_deg"] == pytest.approx([242.75, 55.0], abs=1e-6)
    assert summary["facets_without_image"] == []
    with fits.open(out / "mosaic.fits") as hdul:
        h = hdul[0].header
    with fits.open(field.images[0]) as hdul:
        facet = hdul[0].header
    assert h["NAXIS"] == 4 and h["CTYPE3"] == "FREQ" and h["CTYPE4"] == "STOKES"
    assert h["CRVAL3"] == facet["CRVAL3"] and h["CRVAL1"] == pytest.approx(242.75)
    assert (h["BMAJ"], h["BMIN"], h["BPA"]) == pytest.approx((facet["BMAJ"], facet["BMIN"], facet["BPA"]))
    assert h["BUNIT"] == "JY/BEAM"
    record = json.loads((out / "mosaic.fits.provenance.json").read_text())
    assert record["task"] == "mosaic" and len(record["inputs"]) == len(field.images) + 1


def test_beam_weighted_lowers_noise_in_overlaps(tmp_path_factory) -> None:
    field = make_field(tmp_path_factory.mktemp("pb_field"), pb=True, seed=2)
    out = tmp_path_factory.mktemp("beam_weighted")
    image, noise, wcs, summary, _ = mosaic(field, out, "--mode", "beam-weighted", "--beam-images",
                                        *map(str, field.beams))
    assert summary["mode"] == "beam-weighted"
    for row in summary["facets"]:
        assert row["apparent_noise"] == pytest.approx(NOISE_RMS, rel=0.05)
        assert row["coverage"] == 1.0, row
    # predicted noise: 1 / sqrt(sum B^2 / sigma^2) over the images covering each pixel
    ra, dec = pixel_world(wcs, image.shape)
    weight = np.zeros(image.shape)
    cover = np.zeros(image.shape, int)
    for path in field.images:
        _, iwcs, _ = load(path)
        x, y = iwcs.all_world2pix(ra, dec, 0)
        inside = (x >= 0) & (x <= 199) & (y >= 0) & (y <= 199)
        r_deg = np.hypot(x - 100, y - 100) * PIXEL_ARCSEC / 3600.0
        b = np.exp(-4 * math.log(2) * (r_deg / PB_FWHM_DEG) ** 2)
        weight += np.where(inside, b**2 / NOISE_RMS**2, 0.0)
        cover += inside
    predicted = 1.0 / np.sqrt(weight)
    clean = np.isfinite(image) & ~source_mask(field, wcs, image.shape)
    two = clean & (cover == 2)
    one = clean & (cover == 1)
    assert two.sum() > 2000 and one.sum() > 20000
    for where in (two, one):
        assert (image[where] / predicted[where]).std() == pytest.approx(1.0, abs=0.10)
    # the noise in the overlaps is lower than one image's there (NOISE_RMS / B of the better image)
    single = NOISE_RMS / np.sqrt(weight * NOISE_RMS**2 / cover.clip(1))
    assert image[two].std() / single[two].mean() < 0.8
    for s in field.sources:
        px, py = (float(v[0]) for v in wcs.all_world2pix([s.ra_deg], [s.dec_deg], 0))
        amp, x, y = fit_source(image, px, py)
        assert amp == pytest.approx(s.flux_jy, rel=0.01)
        assert math.hypot(x - px, y - py) < 0.1
