"""Model images as the subtraction's model: WSClean per-channel model images become one component per pixel with
the spectrum through the channels; images of another band or that miss a facet are refused; on a field whose
sources lie on pixel centres the facet datasets made from the images equal the truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import sin_wcs
from lofar_hires.cli import main
from lofar_hires.errors import InputError
from lofar_hires.io.regions import Ds9Polygon
from lofar_hires.subtract.model_images import model_from_images
from lofar_hires.subtract.plan import facets_from_regions

CENTRE = (242.75, 55.0)
FREQS = (140.5e6, 142.0e6)


def model_image(path: Path, freq_hz: float, pixels: dict[tuple[int, int], float], n_pix: int = 64,
                centre=CENTRE, width_hz: float = 1.5e6) -> Path:
    w = sin_wcs(centre, n_pix, 10.0)
    plane = np.zeros((1, 1, n_pix, n_pix), np.float32)
    for (x, y), flux in pixels.items():
        plane[0, 0, y, x] = flux
    header = w.to_header()
    header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"] = "FREQ", freq_hz, width_hz, 1.0
    header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    fits.PrimaryHDU(plane, header=header).writeto(path)
    return path


def facet(half_deg: float = 0.05):
    d = half_deg / np.cos(np.radians(CENTRE[1]))
    verts = np.array([[CENTRE[0] - d, CENTRE[1] - half_deg], [CENTRE[0] + d, CENTRE[1] - half_deg],
                      [CENTRE[0] + d, CENTRE[1] + half_deg], [CENTRE[0] - d, CENTRE[1] + half_deg]])
    return facets_from_regions([Ds9Polygon("f", verts)], Path("f.reg"))


def test_pixels_become_components_with_their_spectra(tmp_path):
    paths = [model_image(tmp_path / "m-0001-model.fits", FREQS[1], {(10, 20): 1.5, (30, 31): -0.2}),
             model_image(tmp_path / "m-0000-model.fits", FREQS[0], {(10, 20): 2.0, (40, 41): 0.3})]
    ms_freqs = np.linspace(140.0e6, 142.5e6, 8)
    model = model_from_images(paths, ms_freqs, ms_freqs[1] - ms_freqs[0], facet())
    assert model.names == ["px10_20", "px30_31", "px40_41"]
    w = sin_wcs(CENTRE, 64, 10.0)
    ra, dec = w.wcs_pix2world([10, 30, 40], [20, 31, 41], 0)
    assert np.allclose(np.degrees(model.ra_rad), ra % 360, atol=1e-9)
    assert np.allclose(np.degrees(model.dec_rad), dec, atol=1e-9)
    values = model.flux_jy(np.array(FREQS))  # the images' values at their frequencies
    assert np.allclose(values, [[2.0, 1.5], [0.0, -0.2], [0.3, 0.0]], atol=1e-6)
    assert not model.log_si.any() and model.spectral_index.shape == (3, 1)


def test_images_of_another_band_or_that_miss_a_facet_are_refused(tmp_path):
    paths = [model_image(tmp_path / "a.fits", FREQS[0], {(10, 20): 1.0}),
             model_image(tmp_path / "b.fits", FREQS[1], {(10, 20): 1.0})]
    with pytest.raises(InputError, match="another frequency grid"):
        model_from_images(paths, np.linspace(150e6, 152e6, 8), 0.25e6, facet())
    ms_freqs = np.linspace(140.0e6, 142.5e6, 8)
    with pytest.raises(InputError, match="do not cover facet"):
        model_from_images(paths, ms_freqs, ms_freqs[1] - ms_freqs[0], facet(half_deg=0.2))
    other = model_image(tmp_path / "c.fits", FREQS[1], {(10, 20): 1.0}, n_pix=80)
    with pytest.raises(InputError, match="another size or sky grid"):
        model_from_images([paths[0], other], ms_freqs, ms_freqs[1] - ms_freqs[0], facet())
    empty = [model_image(tmp_path / "d.fits", FREQS[0], {}), model_image(tmp_path / "e.fits", FREQS[1], {})]
    with pytest.raises(InputError, match="no component"):
        model_from_images(empty, ms_freqs, ms_freqs[1] - ms_freqs[0], facet())


@pytest.mark.slow
def test_facets_from_model_images_equal_the_truth(simulated, tmp_path):
    from subtract_field import (
        RESOLUTION_ARCSEC,
        corrected_reference,
        make_subtract_field,
        read_data,
        reference,
        write_model_images,
    )

    field = make_subtract_field(simulated, tmp_path / "field", 33, on_pixels=True)
    images = write_model_images(field, tmp_path / "images")
    common = ["--h5parm", str(field.h5parm), "--facet-regions", str(field.regions), "--no-beam",
              "--resolution-arcsec", str(RESOLUTION_ARCSEC)]
    assert main(["--log-level", "WARNING", "subtract", str(field.ms), "--model-images", *map(str, images), "-o",
                 str(tmp_path / "from_images"), *common]) == 0
    summary = json.loads((tmp_path / "from_images" / f"{field.ms.name[:-3]}.subtract.json").read_text())
    for record in summary["facets"]:
        got = read_data(Path(summary["outputs"][record["facet"]]))
        want = read_data(corrected_reference(field, reference(simulated, field, record["facet"]), record,
                                             tmp_path / f"ref_{record['facet']}.ms"))
        rel = np.sqrt(np.mean(np.abs(got - want) ** 2) / np.mean(np.abs(want) ** 2))
        # the straight-line spectrum through two channels stands in for the sources' power laws
        assert rel < 1e-3, (record["facet"], rel)
