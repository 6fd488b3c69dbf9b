"""workflows/final_imaging.cwl against the truth: the facet datasets of a simulated field with the station beam
in the data (the subtraction's output, tests/final_field.py), imaged per facet and resolution (scattered), corrected
for the primary beam and mosaicked per resolution.

In the finer mosaic every isolated point source above 10 sigma, those on facet boundaries included, is within 5 % of
its true flux (the simulator's sky; the flux integrated over two restoring beams: with three pixels per beam the
restored peak of a source between pixel centres is a few per cent low, in real images as here) and 0.2 restoring
beams of its position, and the noise along the facet boundaries is within 10 % of the noise inside the facets (no
seams)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dd_field import run_workflow
from final_field import RESOLUTIONS, make_final_field
from lofar_hires.imaging.measure import load_image, measure_source, sigma_clipped_rms
from lofar_hires.io.regions import read_ds9_polygons
from lofar_hires.selection.facets import sky_polygon_contains
from lofar_hires.selection.sky import radec_to_xyz

pytestmark = pytest.mark.slow

#: The proof's bounds.
FLUX_TOLERANCE = 0.05
POSITION_TOLERANCE_BEAMS = 0.2
MIN_SNR = 10.0
SEAM_TOLERANCE = 0.10


@pytest.fixture(scope="module")
def final_run(simulated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("final_imaging")
    field = make_final_field(simulated, folder)
    job = {"facet_ms": [{"class": "Directory", "path": str(ms)} for ms in field.facet_ms],
           "facets": field.facets, "facet_regions": {"class": "File", "path": str(field.regions)},
           "resolutions": list(RESOLUTIONS), "config": {"class": "File", "path": str(field.config)}}
    run = run_workflow("final_imaging", job, folder / "workflow", (*field.facet_ms, field.regions, field.config))
    return field, run


def mosaic_of(run, resolution: str) -> Path:
    (path,) = [Path(m["path"]) for m in run.outputs["mosaics"] if m["basename"] == f"mosaic.{resolution}asec.fits"]
    return path


def test_every_facet_and_resolution_is_imaged_and_mosaicked(final_run):
    field, run = final_run
    assert run.unchanged
    names = sorted(f["basename"] for job in run.outputs["images"] for f in job)
    assert names == sorted(f"{facet}.{res}asec-image-pb.fits" for facet in field.facets for res in RESOLUTIONS)
    assert sum(len(job) for job in run.outputs["beams"]) == len(names)
    assert sorted(f["basename"] for job in run.outputs["tool_logs"] for f in job) == sorted(
        f"{facet}.{res}asec.wsclean.log" for facet in field.facets for res in RESOLUTIONS)
    assert [m["basename"] for m in run.outputs["mosaics"]] == [f"mosaic.{r}asec.fits" for r in RESOLUTIONS]
    assert len(run.outputs["noise_maps"]) == len(RESOLUTIONS)
    for summary in (f for job in run.outputs["summaries"] for f in job):
        record = json.loads(Path(summary["path"]).read_text())
        assert record["facet"] in field.facets and record["resolution"] in RESOLUTIONS
        # the facet datasets were corrected for the beam towards their facet centre: the beam image is relative
        assert record["primary_beam"]["reference"]["mode"] == "relative"
        assert record["primary_beam"]["beam_max"] == pytest.approx(1.0, abs=0.05)
        # every clean ended at its threshold, not at the iteration limit
        assert record["clean"]["minor_iterations"] > 0 and not record["clean"]["stopped_at_niter"]
    assert len(run.outputs["mosaic_summaries"]) == len(RESOLUTIONS)


def isolated_points(sky, beam_arcsec: float) -> np.ndarray:
    xyz = radec_to_xyz(np.degrees(sky.ra_rad), np.degrees(sky.dec_rad))
    separation_arcsec = 3600 * np.degrees(np.arccos(np.clip(xyz @ xyz.T, -1, 1)))
    np.fill_diagonal(separation_arcsec, np.inf)
    return (separation_arcsec.min(axis=1) > 2 * beam_arcsec) & np.array([t == "POINT" for t in sky.types])


def test_mosaic_recovers_every_source_above_10_sigma(final_run):
    field, run = final_run
    res = next(iter(RESOLUTIONS))
    image = load_image(mosaic_of(run, res))
    noise = load_image(mosaic_of(run, res).with_name(f"mosaic.{res}asec-rms.fits")).data
    bmaj_arcsec, bmin_arcsec = image.beam_deg[0] * 3600, image.beam_deg[1] * 3600
    flux = field.sky.flux_jy(np.array([image.freq_hz]))[:, 0]
    candidates = isolated_points(field.sky, bmaj_arcsec)
    checked = []
    ny, nx = image.data.shape
    for i in np.flatnonzero(candidates):
        ra, dec = math.degrees(field.sky.ra_rad[i]), math.degrees(field.sky.dec_rad[i])
        x, y = (int(round(float(v))) for v in image.wcs.world_to_pixel_values(ra, dec))
        if not (0 <= x < nx and 0 <= y < ny) or not np.isfinite(image.data[y, x]):
            continue
        sigma = float(noise[y, x])
        if flux[i] < MIN_SNR * sigma:
            continue
        m = measure_source(image, ra, dec)
        checked.append((field.sky.names[i], flux[i], m.integrated_jy, m.offset_arcsec))
        assert abs(m.integrated_jy / flux[i] - 1) < FLUX_TOLERANCE, checked[-1]
        assert m.offset_arcsec < POSITION_TOLERANCE_BEAMS * bmin_arcsec, checked[-1]
    assert len(checked) >= 8, checked  # most of the field's 16 sources are isolated and far above the noise


def boundary_distance_deg(image, polygons) -> np.ndarray:
    """Distance of every pixel to the nearest facet edge (deg, approximate: in the image plane)."""
    ny, nx = image.data.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    best = np.full((ny, nx), np.inf)
    for poly in polygons:
        v = np.asarray(image.wcs.world_to_pixel_values(poly.vertices_deg[:, 0], poly.vertices_deg[:, 1])).T
        for a, b in zip(v, np.roll(v, -1, axis=0)):
            d = b - a
            t = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / max(float(d @ d), 1e-12), 0, 1)
            dist = np.hypot(xx - a[0] - t * d[0], yy - a[1] - t * d[1])
            best = np.minimum(best, dist)
    return best * image.pixel_deg


def test_no_seams_at_the_facet_boundaries(final_run):
    field, run = final_run
    res = next(iter(RESOLUTIONS))
    image = load_image(mosaic_of(run, res))
    polygons = read_ds9_polygons(field.regions)
    beam_deg = image.beam_deg[1]
    edge = boundary_distance_deg(image, polygons)
    ny, nx = image.data.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    ra, dec = image.wcs.pixel_to_world_values(xx, yy)
    inside_any = np.zeros((ny, nx), bool)
    for poly in polygons:
        inside_any |= sky_polygon_contains(poly.vertices_deg, ra, dec)
    # away from the sources (their sidelobes are not noise)
    sources = np.zeros((ny, nx), bool)
    for s_ra, s_dec in zip(np.degrees(field.sky.ra_rad), np.degrees(field.sky.dec_rad)):
        sx, sy = image.wcs.world_to_pixel_values(s_ra, s_dec)
        sources |= np.hypot(xx - sx, yy - sy) * image.pixel_deg < 6 * image.beam_deg[0]
    usable = np.isfinite(image.data) & inside_any & ~sources
    boundary = usable & (edge < 2 * beam_deg)
    interior = usable & (edge > 4 * beam_deg)
    assert boundary.sum() > 200 and interior.sum() > 200
    rms_boundary, rms_interior = sigma_clipped_rms(image.data[boundary]), sigma_clipped_rms(image.data[interior])
    assert abs(rms_boundary / rms_interior - 1) < SEAM_TOLERANCE, (rms_boundary, rms_interior)
