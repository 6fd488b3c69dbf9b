"""The facet layout drives WSClean 3.1 facet imaging of a simulated field.

A short simulated observation (no corruptions but thermal noise) of four bright
point sources and a few fainter ones, all on pixel centres of the image (so that
the peaks are not lowered by pixelisation); the four bright sources are the main
calibrators, two faint ones weak calibrators. ``lofar-hires facets`` cuts the image (a little larger than WSClean's
image) into their Voronoi cells, and WSClean images the field with
``-facet-regions``:

* every image pixel lies in exactly one facet polygon of the region file, and the
  pixels of every facet are finite and not all zero (WSClean gridded every facet);
* every true source lies in exactly one facet, that of its nearest calibrator;
* the bright sources' peaks in the facet image are within 5 % of the truth.

Then the region file's ``point`` lines are checked to be what WSClean uses to pick
each facet's solutions: with ``-apply-facet-solutions`` and a different, constant
amplitude per calibrator direction, every facet's pixels are scaled by its own
calibrator's 1 / amplitude^2 (the field is at RA > 180 deg, where a point written
with RA in [0, 360) would pick the wrong direction in WSClean 3.1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, on_grid_skymodel
from lofar_hires.cli import main
from lofar_hires.imaging.image import make_image
from lofar_hires.imaging.measure import load_image, measure_source
from lofar_hires.io.h5parm import Soltab, write_h5parm
from lofar_hires.io.ms import read_ms_info
from lofar_hires.io.regions import read_ds9_polygons
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.selection.facets import radec_to_xyz, sky_polygon_contains
from lofar_hires.selection.table import CalibratorRow, write_table

N_PIX, SCALE_ARCSEC = 640, 6.0
CENTRE = (242.75, 55.0)
#: Pixels and fluxes (Jy) of the sources: four bright ones (the main calibrators), then faint ones.
BRIGHT = ([(480, 400), (170, 450), (220, 150), (470, 170)], [1.2, 0.8, 1.6, 1.0])
FAINT = ([(320, 330), (90, 300), (560, 560), (300, 600), (600, 60)], [0.05, 0.04, 0.03, 0.03, 0.02])
#: 20 minutes of the small preset's Dutch stations, 8 channels, thermal noise only.
NOISE_ONLY = tuple(o for o in ALL_CORRUPTIONS_OFF if not o.startswith("corruptions.noise")) + (
    "observation.n_observations=1", "observation.duration_s=1200", "observation.n_chan=8",
    "observation.chan_width_hz=390625", "calibrator.enabled=false", "stations.international=[]")


def _options(name: str, regions, **kw) -> WSCleanOptions:
    return WSCleanOptions(name=name, size_pix=(N_PIX, N_PIX), scale_arcsec=SCALE_ARCSEC, weighting="briggs",
                          robust=-0.5, maxuv_lambda=8000.0, no_update_model_required=True, facet_regions=regions,
                          threads=2, **kw)


def _pixel_facets(image_path, polygons) -> tuple[np.ndarray, np.ndarray]:
    """Image data and, per facet polygon, a mask of the pixels whose centres it holds."""
    image = load_image(image_path)
    ny, nx = image.data.shape
    yy, xx = np.mgrid[:ny, :nx]
    ra, dec = image.wcs.pixel_to_world_values(xx.ravel(), yy.ravel())
    masks = np.array([sky_polygon_contains(p.vertices_deg, ra % 360.0, dec).reshape(ny, nx) for p in polygons])
    return image.data, masks


@pytest.mark.slow
def test_wsclean_images_every_facet_of_the_layout(simulated, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("facets_wsclean")
    model = on_grid_skymodel(tmp / "grid.skymodel", CENTRE, N_PIX, SCALE_ARCSEC, BRIGHT[0] + FAINT[0],
                             BRIGHT[1] + FAINT[1])
    sim = simulated("facets_wsclean", preset="small", overrides=NOISE_ONLY + (f"sky.skymodel={model}",))
    ms = sim.targets()[0].ms
    sky = read_makesourcedb(sim.sky_model)
    ra, dec = np.degrees(sky.ra_rad), np.degrees(sky.dec_rad)
    bright = list(range(len(BRIGHT[1])))
    faint = [len(bright), len(bright) + 1]
    table = write_table(tmp / "calibrators.csv", [
        CalibratorRow(name=sky.names[i], ra_deg=float(ra[i]) % 360.0, dec_deg=float(dec[i]), category=cat,
                      score_rad=score, total_flux_jy=float(sky.i_jy[i]))
        for idx, cat, score in ((bright, "main", 1.0), (faint, "weak", 2.3)) for i in idx])

    # A clip box a little larger than the image, so that the outermost pixel centres are inside.
    box_deg = (N_PIX + 4) * SCALE_ARCSEC / 3600.0
    layout = tmp / "layout"
    assert main(["--log-level", "WARNING", "facets", str(table), "-o", str(layout), "--msin", str(ms),
                 "--box-deg", str(box_deg), "--sources", str(sim.sky_model), "--resolution-arcsec", "30"]) == 0
    regions = layout / "facets.reg"
    polygons = read_ds9_polygons(regions)
    assert [p.name for p in polygons] == [sky.names[i] for i in bright]

    # Every true source lies in exactly one facet: that of its nearest calibrator.
    holders = np.array([sky_polygon_contains(p.vertices_deg, ra % 360.0, dec) for p in polygons])
    assert (holders.sum(axis=0) == 1).all()
    xyz = radec_to_xyz(ra, dec)
    nearest = np.argmax(xyz @ xyz[bright].T, axis=1)
    np.testing.assert_array_equal(np.argmax(holders, axis=0), nearest)

    fits = make_image([ms], tmp, _options("facets", regions, niter=3000, mgain=0.6, restoring_beam_arcsec=30.0,
                                          extra_args=("-threshold", "0.003"))).fits
    data, masks = _pixel_facets(fits["image"], polygons)
    assert (masks.sum(axis=0) == 1).all(), "pixels in no facet or in two"
    for p, mask in zip(polygons, masks):
        values = data[mask]
        assert mask.sum() > 1000 and np.isfinite(values).all() and np.any(values != 0), p.name

    image = load_image(fits["image"])
    flux = sky.flux_jy(np.array([image.freq_hz]))[:, 0]
    for i in bright:
        peak = measure_source(image, float(ra[i]) % 360.0, float(dec[i])).peak_jy_per_beam
        assert peak / flux[i] == pytest.approx(1.0, abs=0.05), sky.names[i]

    # The point lines pick each facet's solutions: amplitude a_k for calibrator k scales facet k by 1/a_k^2.
    info = read_ms_info(ms)
    amplitudes = 1.0 + 0.15 * np.arange(1, len(bright) + 1)
    axes = {"time": info.times_mjd_s, "freq": np.array([float(info.freqs_hz.mean())]),
            "ant": np.array(info.station_names), "dir": np.array([sky.names[i] for i in bright])}
    shape = (len(info.times_mjd_s), 1, len(info.station_names), len(bright))
    amp = np.broadcast_to(amplitudes, shape).copy()
    h5 = write_h5parm(tmp / "amplitudes.h5", [Soltab("amplitude000", "amplitude", axes, amp, np.ones(shape)),
                                               Soltab("phase000", "phase", axes, np.zeros(shape), np.ones(shape))],
                      info.station_names, info.station_positions_m,
                      {sky.names[i]: (math.radians(ra[i]), math.radians(dec[i])) for i in bright})
    fits = make_image([ms], tmp, _options("applied", regions, niter=0,
                                          apply_facet_solutions=(h5, ["amplitude000", "phase000"]))).fits
    flat, masks = _pixel_facets(fits["image"], polygons)
    corrected = load_image(fits["image-pb"]).data
    for k, (p, mask) in enumerate(zip(polygons, masks)):
        scale = np.sum(corrected[mask] * flat[mask]) / np.sum(flat[mask] ** 2)
        assert scale == pytest.approx(1.0 / amplitudes[k] ** 2, rel=0.01), p.name
