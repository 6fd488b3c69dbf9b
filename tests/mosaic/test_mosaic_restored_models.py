"""Restored-model mode (``--restored-models``) against the truth of a field whose facet datasets hold only their
own sources (the other facets' sources subtracted), as after ``lofar-hires subtract``.

Each facet has a residual image (noise only: white noise convolved with the restoring beam, 1 mJy,
independent between facets) and a restored-model image (its own sources convolved with the 8 arcsec
restoring beam, nothing else). Three bright sources lie 1-1.1 pixels from a facet boundary (one at the
corner shared by all four facets), two in facet interiors. Tolerances:

* with restored models every source's fitted peak and its integrated flux (sum in a radius of 7 pixels,
  1.75 beam FWHM, which holds 99.98 % of a beam, over the beam area) within 1 % of the truth: the
  integrated flux's noise is about 4 mJy, 0.2 % of the 2-3 Jy sources;
* plain polygon mode on image = residual + model cuts every boundary source: its integrated flux below
  0.9 of the truth (a Gaussian beam of 4 pixels FWHM loses 28 % beyond a straight boundary 1 pixel away,
  more at the corner; measured 0.63-0.82 of the truth);
* mosaic minus the true sky (rendered on the mosaic's grid) has the injected noise within 10 % around
  the sources (a cut source leaves hundreds of mJy there);
* the noise map (measured on the residual mosaic, boxes of 20 beams: about 90 beams of correlated
  noise each, 7 % scatter) within 10 % of the injected noise, in its median and at every source.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from mosaic_field import (
    BEAM_ARCSEC,
    N_PIX,
    NOISE_RMS,
    PIXEL_ARCSEC,
    Source,
    correlated_noise,
    facet_wcs,
    field_facets,
    fit_source,
    lm_to_radec,
    render,
    write_image,
)

from lofar_hires.cli import main

BEAM_PIX = BEAM_ARCSEC / PIXEL_ARCSEC
#: Aperture radius (pixels) of the integrated flux.
APERTURE_PIX = 7.0
#: Beam area in pixels (a Gaussian of FWHM BEAM_PIX).
BEAM_AREA_PIX = math.pi * BEAM_PIX**2 / (4.0 * math.log(2.0))


def subtracted_sources() -> list[Source]:
    """Two interior sources and three 1-1.1 pixels from the facet boundaries (l = 0 and m = 0)."""
    p = PIXEL_ARCSEC / 3600.0
    positions = [((0.06, 0.03), False), ((-0.03, 0.065), False),
                 ((1.0 * p, 0.05), True), ((0.02, -1.0 * p), True), ((-1.1 * p, 1.0 * p), True)]
    fluxes = [2.0, 2.5, 2.0, 3.0, 2.5]
    return [Source(*lm_to_radec(l, m), flux, edge) for ((l, m), edge), flux in zip(positions, fluxes)]


@pytest.fixture(scope="module")
def field(tmp_path_factory) -> dict:
    """Per facet its residual, restored model and image (= residual + model), and the region file."""
    folder = tmp_path_factory.mktemp("subtracted_field")
    layout, regions = field_facets(folder)
    sources = subtracted_sources()
    owner = layout.facet_index(np.array([s.ra_deg for s in sources]), np.array([s.dec_deg for s in sources]))
    assert (owner >= 0).all()
    rng = np.random.default_rng(5)
    residuals, models, images = [], [], []
    for i, facet in enumerate(layout.facets):
        centre = (facet.centre_ra_deg, facet.centre_dec_deg)
        own = [s for s, o in zip(sources, owner) if o == i]
        noise = correlated_noise(rng, N_PIX, NOISE_RMS, BEAM_PIX)
        model = render(facet_wcs(centre), (N_PIX, N_PIX), own, BEAM_PIX)
        residuals.append(write_image(folder / f"{facet.name}-residual.fits", noise, centre))
        models.append(write_image(folder / f"{facet.name}-model-restored.fits", model, centre))
        images.append(write_image(folder / f"{facet.name}-image.fits", noise + model, centre))
    return {"regions": regions, "sources": sources, "residuals": residuals, "models": models, "images": images}


def run_mosaic(images: list[Path], regions: Path, out: Path, *extra: str):
    assert main(["mosaic", *map(str, images), "--facet-regions", str(regions), "-o", str(out / "mosaic.fits"),
                 "--noise-box-beams", "20", *extra]) == 0
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(out / "mosaic.fits") as hdul:
        image = hdul[0].data.reshape(hdul[0].data.shape[-2:]).astype(float)
        wcs = WCS(hdul[0].header).celestial
    noise = fits.getdata(out / "mosaic-rms.fits").reshape(image.shape).astype(float)
    return image, noise, wcs, json.loads((out / "mosaic.json").read_text())


@pytest.fixture(scope="module")
def with_models(field: dict, tmp_path_factory):
    return run_mosaic(field["residuals"], field["regions"], tmp_path_factory.mktemp("with_models"),
                      "--restored-models", *map(str, field["models"]))


@pytest.fixture(scope="module")
def plain(field: dict, tmp_path_factory):
    return run_mosaic(field["images"], field["regions"], tmp_path_factory.mktemp("plain"))


def pixel_of(wcs, s: Source) -> tuple[float, float]:
    px, py = wcs.all_world2pix([s.ra_deg], [s.dec_deg], 0)
    return float(px[0]), float(py[0])


def integrated_flux(image: np.ndarray, px: float, py: float) -> float:
    y, x = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    aperture = np.hypot(x - px, y - py) <= APERTURE_PIX
    assert np.isfinite(image[aperture]).all()
    return float(image[aperture].sum() / BEAM_AREA_PIX)


def test_boundary_sources_whole_with_restored_models(field: dict, with_models) -> None:
    image, _, wcs, _ = with_models
    for s in field["sources"]:
        px, py = pixel_of(wcs, s)
        amp, x, y = fit_source(image, px, py)
        assert amp == pytest.approx(s.flux_jy, rel=0.01), s
        assert math.hypot(x - px, y - py) < 0.1, s
        assert integrated_flux(image, px, py) == pytest.approx(s.flux_jy, rel=0.01), s


def test_plain_polygon_mode_cuts_boundary_sources(field: dict, plain) -> None:
    image, _, wcs, _ = plain
    for s in field["sources"]:
        flux = integrated_flux(image, *pixel_of(wcs, s))
        if s.near_edge:
            assert flux < 0.9 * s.flux_jy, (s, flux)
        else:
            assert flux == pytest.approx(s.flux_jy, rel=0.01), s


def test_mosaic_is_truth_plus_noise(field: dict, with_models, plain) -> None:
    """Around the sources, mosaic - true sky is the injected noise (restored models), not a cut blob (plain)."""
    image, _, wcs, _ = with_models
    truth = render(wcs, image.shape, field["sources"], BEAM_PIX)
    y, x = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    near = np.zeros(image.shape, bool)
    for s in field["sources"]:
        px, py = pixel_of(wcs, s)
        near |= np.hypot(x - px, y - py) <= 3 * BEAM_PIX
    assert (image - truth)[near].std() == pytest.approx(NOISE_RMS, rel=0.10)
    cut, _, _, _ = plain
    assert (cut - truth)[near].std() > 20 * NOISE_RMS


def test_noise_map_from_residuals(field: dict, with_models) -> None:
    image, noise, wcs, summary = with_models
    assert np.array_equal(np.isnan(noise), np.isnan(image))
    assert np.nanmedian(noise) == pytest.approx(NOISE_RMS, rel=0.10)
    for s in field["sources"]:
        px, py = pixel_of(wcs, s)
        assert noise[int(round(py)), int(round(px))] == pytest.approx(NOISE_RMS, rel=0.10), s
    assert summary["restored_models"] is True and summary["mode"] == "polygon"
    assert summary["noise_measured_on"] == "residual mosaic (no sources)"
    for row, model in zip(summary["facets"], field["models"]):
        assert row["restored_model"] == model.name and row["model_pixels"] >= row["facet_pixels"]
        assert row["median_noise"] == pytest.approx(NOISE_RMS, rel=0.10)
        assert row["coverage"] == 1.0


def test_plain_summary(plain) -> None:
    *_, summary = plain
    assert summary["restored_models"] is False and summary["noise_measured_on"] == "mosaic"
    assert all("restored_model" not in row for row in summary["facets"])
