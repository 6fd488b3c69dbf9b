"""Final imaging's plan: image grids that cover the facet, the baseline-dependent averaging from the smearing
budget, WSClean's settings from the configuration, and what is refused before any tool runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.final_imaging.config import ResolutionConfig, load_final_imaging_config
from lofar_hires.final_imaging.plan import (
    image_geometry,
    product_prefix,
    smearing_free_track_lambda,
    wsclean_options,
)
from lofar_hires.runners.wsclean import build_wsclean_command
from lofar_hires.selection.facets import facet_from_polygon, sin_offsets_deg
from lofar_hires.selection.sky import radec_to_xyz

#: A square facet of 0.2 x 0.2 deg around (150, 50) deg.
CENTRE = (150.0, 50.0)


def square_facet(half_deg: float = 0.1, name: str = "f1"):
    ra0, dec0 = CENTRE
    c = 1.0 / math.cos(math.radians(dec0))
    vertices = [(ra0 - half_deg * c, dec0 - half_deg), (ra0 + half_deg * c, dec0 - half_deg),
                (ra0 + half_deg * c, dec0 + half_deg), (ra0 - half_deg * c, dec0 + half_deg)]
    return facet_from_polygon(name, vertices)


def test_shipped_resolutions_follow_the_paper():
    cfg = load_final_imaging_config()
    assert {k: (r.taper_arcsec, r.pixel_arcsec, r.restoring_beam_arcsec) for k, r in cfg.resolutions.items()} == {
        "0.3": (0.3, 0.1, 0.3), "0.6": (0.6, 0.2, 0.6), "1.2": (1.2, 0.4, 1.2)}
    assert (cfg.weighting, cfg.robust, cfg.minuv_lambda, cfg.local_rms_window_beams) == ("briggs", -1.5, 80.0, 50.0)
    assert cfg.multiscale and cfg.baseline_averaging


def test_geometry_covers_the_polygon_with_padding():
    facet = square_facet()
    res = ResolutionConfig(taper_arcsec=6.0, pixel_arcsec=2.0)
    geo = image_geometry(facet, CENTRE, res, padding=0.05, max_image_pix=20000)
    lm = sin_offsets_deg(radec_to_xyz(facet.vertices_deg[:, 0], facet.vertices_deg[:, 1]), *CENTRE)
    half_pix = np.abs(lm).max(axis=0) * 3600.0 / 2.0
    assert all(s % 2 == 0 for s in geo.size_pix)
    assert np.all(np.array(geo.size_pix) / 2 >= half_pix * 1.05)
    assert np.all(np.array(geo.size_pix) / 2 <= half_pix * 1.05 + 1)
    # the farthest corner of a 0.2 deg square seen from its centre
    assert geo.max_distance_deg == pytest.approx(0.1 * math.sqrt(2), rel=0.01)
    # an off-centre image centre needs a larger grid
    off = image_geometry(facet, (CENTRE[0], CENTRE[1] + 0.05), res, 0.05, 20000)
    assert off.size_pix[1] > geo.size_pix[1]


def test_too_large_image_is_refused():
    with pytest.raises(InputError, match="max_image_pix"):
        image_geometry(square_facet(0.5), CENTRE, ResolutionConfig(0.3, 0.1), 0.05, 20000)


def test_smearing_free_track_meets_its_loss():
    for distance_deg, loss in ((0.1, 0.01), (1.0, 0.05), (2.5, 0.001)):
        track = smearing_free_track_lambda(distance_deg, loss)
        assert 1.0 - np.sinc(track * math.radians(distance_deg)) == pytest.approx(loss, rel=1e-6)
    # small losses: 1 - sinc(x) ~ (pi x)^2 / 6
    assert smearing_free_track_lambda(0.1, 1e-4) == pytest.approx(
        math.sqrt(6e-4) / (math.pi * math.radians(0.1)), rel=1e-3)
    with pytest.raises(InputError):
        smearing_free_track_lambda(0.1, 0.0)


def test_wsclean_command_has_the_final_settings(tmp_path):
    cfg = load_final_imaging_config()
    facet = square_facet(0.01)
    res = cfg.resolution("1.2")
    geo = image_geometry(facet, CENTRE, res, cfg.padding, cfg.max_image_pix)
    args = build_wsclean_command(wsclean_options(cfg, res, geo, product_prefix("f1", "1.2"), shift=False,
                                                 threads=2), [tmp_path / "a.ms"])
    text = " ".join(args)
    for expected in ("-weight briggs -1.5", "-minuv-l 80.0", "-taper-gaussian 1.2asec", "-scale 0.4asec",
                     "-auto-mask 3.0", "-auto-threshold 1.0", "-beam-size 1.2", "-local-rms -local-rms-window 50.0",
                     "-multiscale", "-no-update-model-required", "-name f1.1.2asec"):
        assert expected in text, expected
    bda = float(args[args.index("-baseline-averaging") + 1])
    assert bda == pytest.approx(smearing_free_track_lambda(geo.max_distance_deg, cfg.max_smearing_loss))
    assert "-shift" not in args
    assert "-super-weight" not in args  # the shipped weighting: each image's own grid


@pytest.mark.parametrize("half_deg", [0.05, 0.1, 0.15])
def test_weighting_cells_are_the_same_for_every_facet(half_deg):
    """weighting_cell_lambda gives facet images of any size the same weighting cells (WSClean's -super-weight
    chosen per image, and the weighting computed for the beam uses it)."""
    from lofar_hires.imaging.imaging_weights import ImagingWeighting

    cfg = load_final_imaging_config(overrides=["weighting_cell_lambda=550"])
    res = cfg.resolution("0.3")
    geo = image_geometry(square_facet(half_deg), CENTRE, res, cfg.padding, cfg.max_image_pix)
    opts = wsclean_options(cfg, res, geo, "f1.0.3asec", shift=False, threads=2)
    args = build_wsclean_command(opts, [Path("a.ms")])
    assert float(args[args.index("-super-weight") + 1]) == opts.super_weight > 1.0
    weighting = ImagingWeighting.from_wsclean_options(opts)
    assert weighting.super_weight == opts.super_weight
    cells_lambda = [1.0 / (n * weighting.scale_rad) for n in weighting.grid_size]
    own = [1.0 / (n * 1.2 * weighting.scale_rad) for n in geo.size_pix]
    print(f"{geo.size_pix} pixels: cells {cells_lambda} lambda, the image's own {own}")
    assert max(own) < 550.0
    assert min(cells_lambda) == pytest.approx(550.0, rel=0.01)
    # a cell smaller than the image's own is not asked of WSClean
    small = load_final_imaging_config(overrides=["weighting_cell_lambda=10"])
    assert wsclean_options(small, res, geo, "f1.0.3asec", shift=False, threads=2).super_weight is None


def test_unknown_resolution_and_hostile_names_are_refused():
    cfg = load_final_imaging_config()
    with pytest.raises(InputError, match="unknown resolution '0.15'"):
        cfg.resolution("0.15")
    for hostile in ("../x", "/abs", "a/b"):
        assert "/" not in product_prefix(hostile, "../0.3")
    with pytest.raises(InputError):
        load_final_imaging_config(overrides=["robust=-3"])


def test_a_diverged_clean_is_refused(tmp_path):
    """A restored image 1e9 times brighter than its dirty image is a diverged clean (exit status 4); a restored image
    that keeps the dirty image's peak passes."""
    from astropy.io import fits

    from lofar_hires.errors import QualityError
    from lofar_hires.final_imaging.run import check_clean_converged

    rng = np.random.default_rng(3)
    dirty = rng.normal(0, 0.01, (1, 1, 32, 32))
    dirty[0, 0, 16, 16] = 1.0
    paths = {}
    for name, data in {"dirty": dirty, "good": dirty * 0.2 + np.where(dirty > 0.5, 0.9, 0.0),
                       "diverged": dirty * 1e9}.items():
        paths[name] = tmp_path / f"{name}.fits"
        fits.PrimaryHDU(data.astype(np.float32)).writeto(paths[name])
    check_clean_converged(paths["good"], paths["dirty"])
    with pytest.raises(QualityError, match="the clean diverged"):
        check_clean_converged(paths["diverged"], paths["dirty"])
