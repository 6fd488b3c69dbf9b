"""The radiometer equation for given imaging weights (``thermal_image_noise_jy``) against WSClean's images.

A source-free observation with thermal noise only (the tiny array, 10 minutes): with natural weighting the
prediction is the simulator's own radiometer figure; with Briggs weighting (robust -1.5, the final images') it is
higher, and WSClean's dirty image of the same data has that rms.
"""

from __future__ import annotations

import json

import pytest

from conftest import ALL_CORRUPTIONS_OFF, image
from lofar_hires.imaging.imaging_weights import ImagingWeighting, thermal_image_noise_jy, weight_grid
from lofar_hires.imaging.measure import load_image, sigma_clipped_rms

SIZE_PIX = 1024
SCALE_ARCSEC = 2.0


@pytest.fixture(scope="module")
def noise_only(simulated):
    overrides = [o for o in ALL_CORRUPTIONS_OFF if not o.startswith("corruptions.noise")] + [
        "calibrator.enabled=false", "sky.n_bright=0", "sky.n_resolved=0", "sky.n_faint=0",
        "observation.n_observations=1"]
    (target,) = simulated("noise_only_tiny", overrides=overrides).targets()
    return target


def test_natural_weights_give_the_simulators_radiometer_noise(noise_only):
    expected = json.loads(noise_only.truth_json.read_text())["noise"]["expected_stokes_i_image_rms_natural_jy"]
    # 0.2 arcsec pixels: the weighting grid holds every baseline (WSClean leaves out those beyond the image's
    # Nyquist limit, which with 2 arcsec pixels are all but the Dutch ones)
    weighting = ImagingWeighting(mode="natural", size_pix=(SIZE_PIX, SIZE_PIX), scale_arcsec=0.2)
    got = thermal_image_noise_jy([noise_only.ms], weight_grid([noise_only.ms], weighting))
    assert got == pytest.approx(expected, rel=1e-3)
    coarse = ImagingWeighting(mode="natural", size_pix=(SIZE_PIX, SIZE_PIX), scale_arcsec=SCALE_ARCSEC)
    assert thermal_image_noise_jy([noise_only.ms], weight_grid([noise_only.ms], coarse)) > 1.2 * expected


def test_briggs_prediction_matches_the_dirty_image(noise_only, tmp_path):
    weighting = ImagingWeighting(mode="briggs", robust=-1.5, size_pix=(SIZE_PIX, SIZE_PIX),
                                 scale_arcsec=SCALE_ARCSEC)
    predicted = thermal_image_noise_jy([noise_only.ms], weight_grid([noise_only.ms], weighting))
    natural = json.loads(noise_only.truth_json.read_text())["noise"]["expected_stokes_i_image_rms_natural_jy"]
    assert predicted > 1.2 * natural  # the weighting's noise penalty
    fits = image(noise_only.ms, tmp_path, "noise", size_pix=SIZE_PIX, scale_arcsec=SCALE_ARCSEC, weighting="briggs",
                 robust=-1.5)
    measured = sigma_clipped_rms(load_image(fits["image"]).data)
    assert measured == pytest.approx(predicted, rel=0.1)
