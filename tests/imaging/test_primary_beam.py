"""Primary-beam images (lofar_hires.imaging.primary_beam) against the simulator's beam.

Closed loop: the tiny observation is simulated with the station beam as its only effect (no
noise, no other corruption), one point source per observation so that no other source's
sidelobes fall on it; DP3 shifts the phase centre onto the source (as the facet datasets are
made), WSClean images it (natural weighting, dirty: the centre pixel holds the weighted mean
of the visibilities exactly), and the image is divided by the beam image. With applybeam
towards the pointing centre before the shift, the beam is the one relative to that direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import ALL_CORRUPTIONS_OFF, sin_wcs
from lofar_hires.errors import InputError
from lofar_hires.imaging import primary_beam as pb
from lofar_hires.io.ms import applied_beam, read_ms_info

#: Distances (deg) and position angles (deg) of the test sources from the pointing centre; the tiny
#: observation's beam is about 0.93, 0.76 and 0.54 there.
SOURCES = ((0.5, 30.0), (1.0, 150.0), (1.5, 270.0))
FLUX_JY = 1.0
BEAM_ONLY = (*ALL_CORRUPTIONS_OFF, "corruptions.beam.enabled=true", "calibrator.enabled=false")
#: Image of each source: small, with pixels that keep the longest (international) baselines on the grid.
IMAGE_PIX, IMAGE_SCALE_ARCSEC = 64, 0.25
RECOVERY_TOL = 0.03
#: Pointing (and phase) centre of the tiny preset's target.
POINTING_DEG = (242.75, 55.0)


def offset_deg(centre_deg: tuple[float, float], dist_deg: float, pa_deg: float) -> tuple[float, float]:
    """The position ``dist_deg`` from ``centre_deg`` at position angle ``pa_deg`` (east of north)."""
    ra0, dec0 = np.radians(centre_deg)
    d, pa = np.radians(dist_deg), np.radians(pa_deg)
    dec = math.asin(math.sin(dec0) * math.cos(d) + math.cos(dec0) * math.sin(d) * math.cos(pa))
    ra = ra0 + math.atan2(math.sin(pa) * math.sin(d) * math.cos(dec0),
                          math.cos(d) - math.sin(dec0) * math.sin(dec))
    return math.degrees(ra) % 360.0, math.degrees(dec)


def one_source_skymodel(path: Path, ra_deg: float, dec_deg: float) -> Path:
    from lofar_hires.io.skymodel import SkyModel, write_makesourcedb

    model = SkyModel(names=["src"], types=["POINT"], patches=["src"], ra_rad=np.radians([ra_deg]),
                     dec_rad=np.radians([dec_deg]), i_jy=np.array([FLUX_JY]), ref_freq_hz=np.array([150e6]),
                     spectral_index=np.zeros((1, 1)), log_si=np.ones(1, bool), major_arcsec=np.zeros(1),
                     minor_arcsec=np.zeros(1), orientation_deg=np.zeros(1))
    return write_makesourcedb(model, path)


@dataclass(frozen=True)
class Shifted:
    """One source's observation shifted onto the source and imaged."""

    dist_deg: float
    ms: Path
    image: Path

    def centre_value(self, path: Path | None = None) -> float:
        data = fits.getdata(path or self.image).squeeze()
        return float(data[IMAGE_PIX // 2, IMAGE_PIX // 2])


def shift_and_image(ms: Path, ra_deg: float, dec_deg: float, folder: Path, *, apply_beam: bool) -> tuple[Path, Path]:
    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.dp3 import Dp3Run, run_dp3
    from lofar_hires.runners.dp3_steps import applybeam, phaseshift
    from lofar_hires.runners.wsclean import WSCleanOptions

    out = folder / "shifted.ms"
    steps = [*(applybeam() if apply_beam else []), phaseshift(ra_deg, dec_deg)]
    run_dp3(Dp3Run(msin=ms, msout=out, steps=steps), folder, "shift")
    opts = WSCleanOptions(name=Path("src"), size_pix=(IMAGE_PIX, IMAGE_PIX), scale_arcsec=IMAGE_SCALE_ARCSEC,
                          weighting="natural", threads=2, no_update_model_required=True)
    return out, make_image([out], folder, opts).fits["dirty"]


@pytest.fixture(scope="module")
def observations(simulated, tmp_path_factory) -> dict[float, Path]:
    """The tiny observation with one 1 Jy source at each distance (beam only), by distance."""
    folder = tmp_path_factory.mktemp("pb_sky")
    out = {}
    for dist, pa in SOURCES:
        sky = one_source_skymodel(folder / f"s{dist}.skymodel", *offset_deg(POINTING_DEG, dist, pa))
        out[dist] = simulated(f"pb_{dist}", overrides=(*BEAM_ONLY, f"sky.skymodel={sky}")).targets()[0].ms
        np.testing.assert_allclose(np.degrees(read_ms_info(out[dist]).phase_centre_rad), POINTING_DEG)
    return out


def _shifted(observations, tmp_path_factory, apply_beam: bool) -> dict[float, Shifted]:
    result = {}
    for (dist, pa) in SOURCES:
        ms = observations[dist]
        ra, dec = offset_deg(POINTING_DEG, dist, pa)
        folder = tmp_path_factory.mktemp(f"pb_{'rel' if apply_beam else 'abs'}_{dist}")
        shifted, image = shift_and_image(ms, ra, dec, folder, apply_beam=apply_beam)
        result[dist] = Shifted(dist, shifted, image)
    return result


@pytest.fixture(scope="module")
def absolute(observations, tmp_path_factory) -> dict[float, Shifted]:
    return _shifted(observations, tmp_path_factory, apply_beam=False)


@pytest.fixture(scope="module")
def relative(observations, tmp_path_factory) -> dict[float, Shifted]:
    return _shifted(observations, tmp_path_factory, apply_beam=True)


def corrected_ratio(item: Shifted, tmp_path: Path, **kwargs) -> tuple[float, float, float]:
    """(apparent / true, corrected / true, beam at the source) of one source."""
    beam = pb.beam_for_image([item.ms], item.image, time_step_s=300.0, freq_step_hz=2e6,
                             weight_column="WEIGHT_SPECTRUM", **kwargs)
    out = pb.correct_image(item.image, beam.values, tmp_path / f"corrected_{item.dist_deg}.fits",
                           overwrite=True)
    return (item.centre_value() / FLUX_JY, item.centre_value(out) / FLUX_JY,
            float(beam.values[IMAGE_PIX // 2, IMAGE_PIX // 2]))


# ------------------------------------------------------------------------------------------------ closed loop


@pytest.mark.slow
def test_absolute_beam_recovers_flux(absolute, tmp_path) -> None:
    """Data with the full beam: the corrected flux is the true one within 3 % out to the half-power distance,
    and the uncorrected image is visibly attenuated there."""
    rows = {d: corrected_ratio(item, tmp_path) for d, item in absolute.items()}
    print("absolute (apparent, corrected, beam):", rows)
    for dist, (apparent, corrected, beam) in rows.items():
        assert abs(corrected - 1.0) < RECOVERY_TOL, (dist, rows)
        assert abs(apparent - beam) < RECOVERY_TOL * beam, (dist, rows)
    assert rows[1.0][0] < 0.97 and rows[1.5][0] < 0.97, rows
    assert rows[1.5][2] < 0.6, rows  # the farthest source is near the half-power distance


@pytest.mark.slow
def test_relative_beam_after_applybeam(relative, absolute, tmp_path) -> None:
    """Data corrected by applybeam at the pointing centre: the beam image is read as relative to that direction
    (recorded by DP3 and kept through the phase shift) and recovers the flux within 3 %."""
    for item in relative.values():
        assert applied_beam(item.ms).mode is not None
    rows = {d: corrected_ratio(item, tmp_path) for d, item in relative.items()}
    print("relative (apparent, corrected, beam):", rows)
    for dist, (apparent, corrected, _) in rows.items():
        assert abs(corrected - 1.0) < RECOVERY_TOL, (dist, rows)
    assert rows[1.5][0] < 0.97, rows
    ref = pb.beam_reference([relative[1.5].ms])
    assert ref.mode == "relative"
    centre = np.degrees(read_ms_info(absolute[1.5].ms).phase_centre_rad)  # the shifted centre: the source
    assert not np.allclose(ref.direction_deg, centre, atol=1e-3)
    # The absolute beam would over-correct these data: the relative one differs from it.
    absolute_beam = corrected_ratio(relative[1.5], tmp_path, relative_to_phase_centre=False)[2]
    assert abs(absolute_beam - rows[1.5][2]) > 1e-3


@pytest.mark.slow
def test_station_mean_overestimates_far_beam(absolute) -> None:
    """The mean station power is an upper bound of the baseline average; with core, remote and international
    stations it misses the half-power distance's beam by more than the baseline average does."""
    item = absolute[1.5]
    header = fits.getheader(item.image)
    kwargs = dict(time_step_s=300.0, freq_step_hz=2e6, grid_step_pix=32, weight_column="WEIGHT_SPECTRUM")
    by_baseline = pb.beam_image([item.ms], header, **kwargs)[IMAGE_PIX // 2, IMAGE_PIX // 2]
    by_station = pb.beam_image([item.ms], header, average="stations", **kwargs)[IMAGE_PIX // 2, IMAGE_PIX // 2]
    apparent = item.centre_value() / FLUX_JY
    print(f"at 1.5 deg: apparent {apparent:.4f}, baseline mean {by_baseline:.4f}, station mean {by_station:.4f}")
    assert by_station > by_baseline * 1.01
    assert abs(by_baseline - apparent) < abs(by_station - apparent)


# ------------------------------------------------------------------------------------------------ the beam itself


@pytest.fixture(scope="module")
def field_beams(observations) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Absolute and relative beams of the tiny observation on a 5 deg image centred on the pointing."""
    ms = observations[0.5]
    n, scale = 121, 150.0
    wcs = sin_wcs(tuple(np.degrees(read_ms_info(ms).phase_centre_rad)), n, scale)
    kwargs = dict(shape=(n, n), time_step_s=300.0, freq_step_hz=2e6, grid_step_pix=8)
    return (pb.beam_image([ms], wcs, relative_to_phase_centre=False, **kwargs),
            pb.beam_image([ms], wcs, relative_to_phase_centre=True, **kwargs), n, scale)


def test_relative_beam_is_one_at_the_pointing(field_beams) -> None:
    absolute, relative, n, _ = field_beams
    c = n // 2  # pixel CRPIX - 1: the pointing centre
    assert abs(relative[c, c] - 1.0) < 1e-3
    assert 0.97 < absolute[c, c] < 1.0  # the raw response of EveryBeam's element model at the pointing
    np.testing.assert_allclose(relative, absolute / absolute[c, c], rtol=0.02)


def test_beam_is_smooth_symmetric_and_falls_off(field_beams) -> None:
    absolute, _, n, scale = field_beams
    c = n // 2
    assert np.unravel_index(np.argmax(absolute), absolute.shape) in {(c + i, c + j) for i in (-1, 0, 1)
                                                                      for j in (-1, 0, 1)}
    half = int(1.5 * 3600 / scale)
    for profile in (absolute[c, c:c + half], absolute[c, c - half:c + 1][::-1], absolute[c:c + half, c],
                    absolute[c - half:c + 1, c][::-1]):
        assert np.all(np.diff(profile) < 0)
    # Near the zenith at transit the beam is close to circular: east/west and north/south mirror each other.
    r = int(1.0 * 3600 / scale)
    assert abs(absolute[c, c + r] - absolute[c, c - r]) < 0.02
    assert abs(absolute[c + r, c] - absolute[c - r, c]) < 0.03
    assert abs(absolute[c, c + r] - absolute[c + r, c]) < 0.03
    # Smooth: second differences are small against the value.
    assert np.abs(np.diff(absolute, 2, axis=1)).max() < 2e-3


def test_interpolation_matches_a_fine_evaluation(observations) -> None:
    ms = observations[0.5]
    n, scale = 41, 300.0
    wcs = sin_wcs(tuple(np.degrees(read_ms_info(ms).phase_centre_rad)), n, scale)
    kwargs = dict(shape=(n, n), time_step_s=600.0, freq_step_hz=4e6)
    coarse = pb.beam_image([ms], wcs, grid_step_pix=5, **kwargs)  # every 0.42 deg
    fine = pb.beam_image([ms], wcs, grid_step_pix=1, **kwargs)
    assert np.abs(coarse - fine).max() < 2e-3


def test_flag_weights_and_reference(observations, tmp_path) -> None:
    ms = observations[0.5]
    s = pb.read_sampling(ms)
    assert s.tf_weight.shape == (len(s.times_mjd_s), len(s.freqs_hz))
    n_st = s.baseline_weight.shape[0]
    np.testing.assert_array_equal(s.baseline_weight, s.baseline_weight.T)
    assert s.tf_weight.sum() == n_st * (n_st - 1) / 2 * len(s.times_mjd_s) * len(s.freqs_hz)
    assert s.applied_direction_rad is None
    assert pb.beam_reference([ms]).as_dict() == {"mode": "absolute"}
    assert pb.beam_reference([ms], relative_to_phase_centre=True).mode == "relative"


# ------------------------------------------------------------------------------------------------ pure functions


def test_stokes_i_gain_baselines_vs_stations() -> None:
    rng = np.random.default_rng(1)
    e = rng.normal(size=(5, 6, 2, 2)) + 1j * rng.normal(size=(5, 6, 2, 2))  # (npix, nst, 2, 2)
    w = rng.uniform(0.5, 2.0, (6, 6))
    w = w + w.T
    np.fill_diagonal(w, 0.0)
    by_bl = pb.stokes_i_gain(e, w)
    brute = np.array([sum(w[p, q] * 0.5 * np.trace(e[k, p] @ e[k, q].conj().T).real for p in range(6)
                          for q in range(6)) / w.sum() for k in range(5)])
    np.testing.assert_allclose(by_bl, brute, rtol=1e-12)
    assert np.all(pb.stokes_i_gain(e, w, "stations") >= by_bl)
    same = np.broadcast_to(e[:, :1], e.shape)  # identical stations: both averages agree
    np.testing.assert_allclose(pb.stokes_i_gain(same, w), pb.stokes_i_gain(same, w, "stations"), rtol=1e-12)
    with pytest.raises(InputError):
        pb.stokes_i_gain(e, w, "pixels")


def test_relative_jones_is_identity_at_the_reference() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(3, 4, 2, 2, 2)) + 1j * rng.normal(size=(3, 4, 2, 2, 2))  # (nt, nst, nf, 2, 2)
    jones = np.stack([ref, 2 * ref], axis=1)  # (nt, ndir, nst, nf, 2, 2)
    rel = pb.relative_jones(jones, ref)
    np.testing.assert_allclose(rel[:, 0], np.broadcast_to(np.eye(2), rel[:, 0].shape), atol=1e-12)
    np.testing.assert_allclose(rel[:, 1], 2 * np.broadcast_to(np.eye(2), rel[:, 1].shape), atol=1e-12)


def test_hat_weights_and_nodes() -> None:
    x = np.linspace(10.0, 70.0, 13)
    nodes = pb.coarse_nodes(x, 25.0)
    assert nodes[0] == 10.0 and nodes[-1] == 70.0 and np.all(np.diff(nodes) <= 25.0)
    h = pb.hat_weights(nodes, x)
    np.testing.assert_allclose(h.sum(axis=1), 1.0)
    np.testing.assert_allclose(h @ (3 * nodes + 1), 3 * x + 1)  # linear functions are exact
    assert pb.hat_weights(np.array([5.0]), x).sum() == len(x)
    assert list(pb.grid_nodes(10, 4, 100)) == [0, 4, 8, 9]
    assert len(pb.grid_nodes(10_001, 16, 65)) <= 66


def test_fit_rotation_recovers_a_rotation() -> None:
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_euler("zyx", [0.3, -0.2, 1.1]).as_matrix()
    src = pb.radec_to_xyz(np.array([0.1, 0.12, 0.09, 0.11]), np.array([0.9, 0.91, 0.92, 0.88]))
    np.testing.assert_allclose(pb.fit_rotation(src, src @ rot.T), rot, atol=1e-9)


# ------------------------------------------------------------------------------------------------ FITS products


def _image(path: Path, n: int = 16, value: float = 2.0) -> Path:
    w = sin_wcs((242.75, 55.0), n, 10.0)
    header = w.to_header()
    header["BUNIT"] = "JY/BEAM"
    fits.PrimaryHDU(np.full((1, 1, n, n), value, dtype=np.float32), header).writeto(path)
    return path


def test_correct_and_write_fits(tmp_path) -> None:
    image = _image(tmp_path / "img.fits")
    beam = np.linspace(0.05, 1.0, 256).reshape(16, 16)
    out = pb.correct_image(image, beam, tmp_path / "pb.fits", min_beam=0.2)
    data = fits.getdata(out).squeeze()
    keep = beam >= 0.2
    np.testing.assert_allclose(data[keep], 2.0 / beam[keep], rtol=1e-6)
    assert np.all(np.isnan(data[~keep]))
    written = pb.write_beam_fits(beam, image, tmp_path / "beam.fits")
    np.testing.assert_allclose(fits.getdata(written).squeeze(), beam, rtol=1e-6)
    assert fits.getheader(written)["CRVAL1"] == fits.getheader(image)["CRVAL1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beam.fits", "img.fits", "pb.fits"]  # nothing partial
    with pytest.raises(InputError):
        pb.correct_image(image, beam[:8], tmp_path / "bad.fits")
    with pytest.raises(InputError):
        pb.correct_image(image, -beam, tmp_path / "bad.fits")
    with pytest.raises(InputError):
        pb.correct_image(image, beam, tmp_path / "bad.fits", min_beam=1.5)
    with pytest.raises(FileExistsError):
        pb.write_beam_fits(beam, image, written)
    assert not (tmp_path / "bad.fits").exists()


@pytest.mark.slow
def test_briggs_image_needs_the_imaging_weights(absolute, tmp_path) -> None:
    """Briggs weighting changes the baselines' shares, so the beam is averaged with WSClean's stored imaging
    weights times the data weights; counting visibilities alone misses the half-power beam by far more."""
    import shutil

    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.wsclean import WSCleanOptions

    ms = tmp_path / "briggs.ms"
    shutil.copytree(absolute[1.5].ms, ms)
    opts = WSCleanOptions(name=Path("briggs"), size_pix=(IMAGE_PIX, IMAGE_PIX), scale_arcsec=IMAGE_SCALE_ARCSEC,
                          weighting="briggs", robust=-0.5, threads=2, no_update_model_required=True,
                          extra_args=("-store-imaging-weights",))
    image = make_image([ms], tmp_path, opts).fits["dirty"]
    apparent = float(fits.getdata(image).squeeze()[IMAGE_PIX // 2, IMAGE_PIX // 2]) / FLUX_JY
    header = fits.getheader(image)
    kwargs = dict(time_step_s=300.0, freq_step_hz=2e6, grid_step_pix=32)
    weighted = pb.beam_image([ms], header, weight_column=("WEIGHT_SPECTRUM", "IMAGING_WEIGHT_SPECTRUM"), **kwargs)
    counted = pb.beam_image([ms], header, **kwargs)
    computed = pb.beam_image([ms], header, weighting=pb.ImagingWeighting.from_wsclean_options(opts), **kwargs)
    c = IMAGE_PIX // 2
    print(f"briggs at 1.5 deg: apparent {apparent:.4f}, beam with imaging weights {weighted[c, c]:.4f} "
          f"(computed {computed[c, c]:.4f}), counting visibilities {counted[c, c]:.4f}")
    assert abs(apparent / weighted[c, c] - 1.0) < RECOVERY_TOL
    assert abs(apparent / computed[c, c] - 1.0) < RECOVERY_TOL
    assert abs(apparent / counted[c, c] - 1.0) > 0.1


# ------------------------------------------------------------------------------------------------ imaging weights

#: WSClean's weighting of the imaging-weight tests: the test images' grid, a taper that matters on the
#: international baselines (about 0.07 at the longest) and a cut that removes the core's cell.
TAPER_ARCSEC, MINUV_LAMBDA = 0.5, 15000.0
#: Largest relative difference per visibility from WSClean's IMAGING_WEIGHT_SPECTRUM (float32; found ~6e-8).
WEIGHT_RTOL = 1e-3
#: Largest difference of the beams averaged with computed and with WSClean's stored imaging weights.
BEAM_TOL = 2e-3


#: The weightings compared with WSClean's: (robust, super weight); 2.5 gives a grid of 32 cells, not 80.
WEIGHTINGS = ((-1.5, 1.0), (-0.5, 1.0), (-1.5, 2.5))


def _weighting(robust: float, super_weight: float = 1.0) -> pb.ImagingWeighting:
    return pb.ImagingWeighting("briggs", robust=robust, size_pix=(IMAGE_PIX, IMAGE_PIX),
                               scale_arcsec=IMAGE_SCALE_ARCSEC, taper_gaussian_arcsec=TAPER_ARCSEC,
                               minuv_lambda=MINUV_LAMBDA, super_weight=super_weight)


@pytest.fixture(scope="module")
def wsclean_weighted(observations, tmp_path_factory) -> dict[tuple[float, float], Path]:
    """Copies of the tiny observation in which WSClean stored its Briggs imaging weights (robust -1.5 and -0.5 on
    the image's own weighting grid, robust -1.5 on a grid of cells 2.5 times as large)."""
    import shutil

    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.wsclean import WSCleanOptions

    out = {}
    for robust, super_weight in WEIGHTINGS:
        folder = tmp_path_factory.mktemp(f"pb_weights{robust}_{super_weight}")
        ms = folder / "copy.ms"
        shutil.copytree(observations[0.5], ms)
        w = _weighting(robust, super_weight)
        opts = WSCleanOptions(name=Path("w"), size_pix=w.size_pix, scale_arcsec=w.scale_arcsec, weighting="briggs",
                              robust=robust, taper_gaussian_arcsec=TAPER_ARCSEC, minuv_lambda=MINUV_LAMBDA,
                              super_weight=super_weight if super_weight != 1.0 else None,
                              threads=2, no_update_model_required=True,
                              extra_args=("-store-imaging-weights", "-no-reorder"))
        assert pb.ImagingWeighting.from_wsclean_options(opts) == w
        make_image([ms], folder, opts)
        out[(robust, super_weight)] = ms
    return out


def test_imaging_weights_equal_wsclean_stored_weights(wsclean_weighted, observations) -> None:
    """The imaging weights computed from the data equal WSClean's IMAGING_WEIGHT_SPECTRUM per visibility, and
    computing them writes nothing into the measurement set."""
    from casacore.tables import table

    from lofar_hires.imaging import imaging_weights as iw

    original = observations[0.5]
    stored_by_key = {}
    for key, ms in wsclean_weighted.items():
        with table(str(ms), ack=False) as t:
            stored = np.asarray(t.getcol("IMAGING_WEIGHT_SPECTRUM"))  # (nrow, nchan, 4): XX = YY = I's weight
        computed = iw.imaging_weights(original, iw.weight_grid([original], _weighting(*key)))
        ref = stored[..., 0]
        np.testing.assert_array_equal(stored[..., 3], ref)
        assert computed.shape == ref.shape
        cut = ref == 0  # the core's cell, below the uv cut
        assert 0.05 < cut.mean() < 0.9, cut.mean()
        np.testing.assert_array_equal(computed[cut], 0.0)
        rel = np.abs(computed[~cut] / ref[~cut] - 1.0)
        print(f"robust, super weight {key}: {ref.size} visibilities, weights {ref[~cut].min():.3g} .. "
              f"{ref.max():.3g}, largest relative difference {rel.max():.2g}")
        assert rel.max() < WEIGHT_RTOL
        assert ref[~cut].max() / ref[~cut].min() > 10  # the weighting is far from natural
        stored_by_key[key] = ref
    # the coarser grid weights differently: its cells pool the visibilities of 2.5 x 2.5 of the image's own
    own, coarse = stored_by_key[(-1.5, 1.0)], stored_by_key[(-1.5, 2.5)]
    both = (own > 0) & (coarse > 0)
    assert np.median(np.abs(coarse[both] / own[both] - 1.0)) > 0.1
    with table(str(original), ack=False) as t:
        assert "IMAGING_WEIGHT_SPECTRUM" not in t.colnames()


def test_beam_with_computed_imaging_weights(wsclean_weighted) -> None:
    """The beam averaged with the computed imaging weights equals the one averaged with WSClean's stored ones,
    out to beyond the half-power distance; counting visibilities gives a visibly different beam."""
    n, scale = 41, 300.0
    c, far = n // 2, int(round(1.5 * 3600 / scale))
    for key, ms in wsclean_weighted.items():
        wcs = sin_wcs(tuple(np.degrees(read_ms_info(ms).phase_centre_rad)), n, scale)
        kwargs = dict(shape=(n, n), time_step_s=600.0, freq_step_hz=4e6, grid_step_pix=10)
        computed = pb.beam_image([ms], wcs, weighting=_weighting(*key), **kwargs)
        stored = pb.beam_image([ms], wcs, weight_column=("WEIGHT_SPECTRUM", "IMAGING_WEIGHT_SPECTRUM"), **kwargs)
        counted = pb.beam_image([ms], wcs, **kwargs)
        diff = np.abs(computed - stored).max()
        print(f"robust, super weight {key}: beam at 1.5 deg {computed[c, c + far]:.4f} "
              f"(stored weights {stored[c, c + far]:.4f}, counted {counted[c, c + far]:.4f}); "
              f"largest difference {diff:.2g}")
        assert diff < BEAM_TOL
        assert abs(counted[c, c + far] / computed[c, c + far] - 1.0) > 0.05
    with pytest.raises(InputError):
        pb.beam_image([ms], wcs, weighting=_weighting(-0.5), weight_column="WEIGHT_SPECTRUM", **kwargs)


def test_weighting_grid_conventions() -> None:
    from lofar_hires.imaging import imaging_weights as iw

    assert [iw.padded_size(n, 1.2) for n in (64, 33, 100, 1)] == [80, 40, 120, 4]
    # -super-weight: round(padded / s), half away from zero, made even
    assert [iw.weighting_grid_size(80, s) for s in (1.0, 2.5, 3.0, 1.6, 100.0)] == [80, 32, 28, 50, 2]
    assert _weighting(-1.5, 2.5).grid_size == (32, 32)
    sw = iw.super_weight_for_cell(80, 1.0, 3000.0)
    assert 1.0 / (iw.weighting_grid_size(80, sw) * np.radians(1.0 / 3600)) == pytest.approx(3000.0, rel=0.03)
    assert iw.super_weight_for_cell(80, 1.0, 100.0) == 1.0  # never finer than the image's own grid
    with pytest.raises(InputError, match="super_weight"):
        _weighting(-1.5, 0.0)
    scale = np.radians(1.0 / 3600)
    width, height = 80, 80
    cell = 1.0 / (width * scale)
    u = np.array([0.5, -0.5, 0.5, 1.5, -39.5, 39.9, 0.5]) * cell
    v = np.array([0.5, -0.5, -0.5, 0.2, 0.5, 0.5, 40.5]) * cell
    x, y, inside = iw.uv_cells(u, v, width, height, scale)
    assert list(inside) == [True, True, True, True, True, True, False]  # v beyond the half plane's rows
    assert list(zip(x[:6], y[:6])) == [(40, 0), (40, 0), (39, 0), (41, 0), (0, 0), (79, 0)]  # (-u, -v) mirrored
    # Briggs: 1 / (1 + W f^2) with f^2 = (5 10^-R)^2 / (sum W^2 / sum w); uniform 1/W; natural 1 where data.
    density = np.array([[0.0, 1.0, 3.0]])
    f2 = 25.0 / (10.0 / 4.0)
    np.testing.assert_allclose(iw.density_to_weights(density, 4.0, "briggs", 0.0), 1.0 / (1.0 + density * f2))
    np.testing.assert_allclose(iw.density_to_weights(density, 4.0, "uniform", 0.0), [[0.0, 1.0, 1.0 / 3.0]])
    np.testing.assert_allclose(iw.density_to_weights(density, 4.0, "natural", 0.0), [[0.0, 1.0, 1.0]])
    # The rank filter caps a cell at level x the mean of the non-zero cells of its window (brute force).
    rng = np.random.default_rng(3)
    grid = rng.uniform(0.1, 1.0, (9, 12)) * (rng.uniform(size=(9, 12)) > 0.3)
    grid[4, 5] = 50.0
    filtered = iw.rank_filter(grid, 3.0, 4)
    brute = grid.copy()
    for j in range(9):
        for i in range(12):
            win = grid[max(0, j - 2):min(9, j + 2), max(0, i - 2):min(12, i + 2)]
            if grid[j, i] != 0 and grid[j, i] > 3.0 * win[win != 0].mean():
                brute[j, i] = 3.0 * win[win != 0].mean()
    np.testing.assert_allclose(filtered, brute)
    assert filtered[4, 5] < 50.0
    from lofar_hires.runners.wsclean import WSCleanOptions

    opts = WSCleanOptions(name=Path("x"), size_pix=(100, 60), scale_arcsec=2.0, weighting="uniform",
                          extra_args=("-padding", "1.5", "-weighting-rank-filter", "0"))
    w = pb.ImagingWeighting.from_wsclean_options(opts)
    assert (w.mode, w.padding, w.rank_filter_level, w.grid_size) == ("uniform", 1.5, 0.0, (152, 92))
    with pytest.raises(InputError):
        pb.ImagingWeighting.from_wsclean_options(WSCleanOptions(name=Path("x"), size_pix=(64, 64), scale_arcsec=1.0,
                                                                extra_args=("-taper-tukey", "100")))
    with pytest.raises(InputError):
        pb.ImagingWeighting("robust", size_pix=(64, 64), scale_arcsec=1.0)
    with pytest.raises(InputError):
        pb.ImagingWeighting("briggs", size_pix=(64, 64), scale_arcsec=1.0, minuv_lambda=-5.0)
