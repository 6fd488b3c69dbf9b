"""A merged two-direction h5parm applied by WSClean per facet restores both sources.

The simulated field has a different ionosphere (TEC screen) towards its two
sources plus direction-independent clock, TEC and amplitude scintillation. The
truth soltabs, as two inputs (direction-independent and direction-dependent),
are merged into one phase000+amplitude000 h5parm and handed to WSClean with a
region file of two facets. (WSClean 3.1 applies scalar facet solutions exactly;
diagonal ones it does not apply exactly when imaging Stokes I, so the
polarisation delay and bandpass are left out here.)

It is also the regression test of the RA convention: WSClean 3.1 compares facet
and h5parm RA values in (-pi, pi]; the same solutions with RA in [0, 2 pi) make
it apply one direction to both facets for a field at RA > 180 deg.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from astropy.wcs import WCS

from conftest import on_grid_skymodel
from lofar_hires.imaging.compare import compare_with_skymodel
from lofar_hires.imaging.image import make_image
from lofar_hires.io.regions import write_ds9_polygons
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.solutions.merge import MergeInput, MergeOptions, merge_h5parms

N_PIX, SCALE_ARCSEC, CENTRE = 1200, 3.0, (242.75, 55.0)


def _halves() -> list[list[tuple[float, float]]]:
    """East and west halves of the image (with a margin), as sky polygons."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crpix = [N_PIX / 2 + 1, N_PIX / 2 + 1]
    w.wcs.crval = list(CENTRE)
    w.wcs.cdelt = [-SCALE_ARCSEC / 3600, SCALE_ARCSEC / 3600]
    m, n, h = 20, N_PIX, N_PIX / 2
    boxes = [([-m, h, h, -m], [-m, -m, n + m, n + m]), ([h, n + m, n + m, h], [-m, -m, n + m, n + m])]
    return [[tuple(w.wcs_pix2world([[x, y]], 0)[0]) for x, y in zip(xs, ys)] for xs, ys in boxes]


def _image(ms, h5, regions, tmp, name):
    opts = WSCleanOptions(name=name, size_pix=(N_PIX, N_PIX), scale_arcsec=SCALE_ARCSEC, niter=5000, mgain=0.6,
                          weighting="briggs", robust=-0.5, maxuv_lambda=25000.0, restoring_beam_arcsec=15.0,
                          no_update_model_required=True, facet_regions=regions,
                          apply_facet_solutions=(h5, ["amplitude000", "phase000"]), threads=2,
                          extra_args=("-threshold", "0.001"))
    return make_image([ms], tmp, opts).fits["image"]


@pytest.mark.slow
def test_facet_solutions_restore_both_sources(simulated, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("facets")
    sky = on_grid_skymodel(tmp / "two.skymodel", CENTRE, N_PIX, SCALE_ARCSEC, [(350, 630), (850, 560)], [1.0, 0.8])
    sim = simulated("facets", preset="small", overrides=(
        "observation.n_observations=1", "observation.duration_s=1200", "observation.n_chan=8",
        "observation.chan_width_hz=390625", "calibrator.enabled=false", "stations.international=[]",
        "corruptions.beam.enabled=false", "corruptions.faraday.enabled=false", "corruptions.noise.enabled=false",
        "corruptions.polalign.enabled=false", "corruptions.bandpass.enabled=false",
        "corruptions.scintillation.rms_core=0.05", "corruptions.scintillation.rms_remote=0.1",
        f"sky.skymodel={sky}"))
    obs = sim.targets()[0]
    merged = tmp / "merged.h5"
    inputs = [MergeInput.parse(f"{obs.truth_h5}:sol000/clock,tec,scintillation"),
              MergeInput.parse(f"{obs.truth_h5}:sol000/tecscreen")]
    summary = merge_h5parms(inputs, merged, MergeOptions(freq_grid=str(obs.ms)))
    assert summary.kind == "scalar" and summary.directions == ["[grid01]", "[grid02]"]
    regions = write_ds9_polygons(tmp / "facets.reg", _halves(), ["grid01", "grid02"])

    rows, _ = compare_with_skymodel(_image(obs.ms, merged, regions, tmp, "merged"), sim.sky_model)
    assert [r.name for r in rows] == ["grid01", "grid02"]
    for r in rows:
        assert abs(r.peak_ratio - 1) < 0.03, r

    # The trap: the same solutions with RA in [0, 2 pi) go to the wrong facet.
    wrapped = tmp / "wrapped.h5"
    shutil.copy(merged, wrapped)
    with h5py.File(wrapped, "a") as f:
        src = f["sol000/source"][()]
        src["dir"][:, 0] = np.mod(src["dir"][:, 0], 2 * np.pi)
        f["sol000/source"][...] = src
    bad, _ = compare_with_skymodel(_image(obs.ms, wrapped, regions, tmp, "wrapped"), sim.sky_model)
    assert min(r.peak_ratio for r in bad) < 0.95
