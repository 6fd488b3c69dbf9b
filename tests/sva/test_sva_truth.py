"""Sidereal visibility averaging against the truth: three simulated observations of the tiny field on successive
days (thermal noise, no other corruption).

* the averaged data image like all observations imaged jointly (WSClean, natural weighting, dirty): the rms of the
  difference image is below 0.3 of the thermal rms of the joint image (the simulator's expected natural-weighting
  rms over sqrt(3)), and the brightest source's peak agrees within 1 %; also when the observations' samples are
  misaligned in sidereal time (each starts 2.5 s later), with the time resolution the 5 % budget gives at 0.1 deg;
* the output has the rows of one observation (ratio 1/3) and the sum of the input weights (rtol 1e-5), its UVW
  follow the template's (1 mm) and its DATA are the weighted mean of the inputs (1e-6 Jy);
* an observation with every baseline the other way round (conjugated data, XY and YX swapped, UVW negated) gives
  the same result (1e-6 Jy);
* DP3 reads the output.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, tree_sha256
from lofar_hires.cli import main

#: Thermal noise only: every other corruption off, three observations, no calibrator.
SVA_FIELD = (*(x for x in ALL_CORRUPTIONS_OFF if not x.startswith("corruptions.noise")),
             "observation.n_observations=3", "calibrator.enabled=false")
#: The same with each observation starting 2.5 s of sidereal time after the one before.
MISALIGNED_FIELD = (*SVA_FIELD, "observation.lst_step_h=0.000694444444")


def run_sva(mss: list[Path], outdir: Path, *args: str) -> dict:
    assert main(["--log-level", "WARNING", "sva", *map(str, mss), "-o", str(outdir), *args]) == 0
    return json.loads((outdir / "sva.sva.json").read_text())


@pytest.fixture(scope="module")
def field(simulated):
    sim = simulated("sva-field", preset="tiny", overrides=SVA_FIELD)
    return sim, [o.ms for o in sim.targets()]


@pytest.fixture(scope="module")
def averaged(field, tmp_path_factory):
    _, mss = field
    before = [tree_sha256(ms) for ms in mss]
    out = tmp_path_factory.mktemp("sva-avg")
    summary = run_sva(mss, out, "--image-radius-deg", "0.04")
    assert [tree_sha256(ms) for ms in mss] == before, "inputs untouched"
    return out / "sva.ms", summary


def columns(ms: Path, *names: str) -> list[np.ndarray]:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return [t.getcol(n) for n in names]


def test_rows_of_one_observation_and_weights_conserved(field, averaged):
    _, mss = field
    out, summary = averaged
    rows_in = [columns(ms, "TIME")[0].size for ms in mss]
    weights_in = sum(float(np.sum(np.where(f, 0, w))) for f, w in (columns(ms, "FLAG", "WEIGHT_SPECTRUM")
                                                                   for ms in mss))
    flag, weight = columns(out, "FLAG", "WEIGHT_SPECTRUM")
    assert flag.shape[0] == rows_in[0] and summary["rows_ratio"] == pytest.approx(1 / 3)
    assert summary["time_resolution"]["step_s"] == 10.0
    assert float(weight.sum()) == pytest.approx(weights_in, rel=1e-5)
    assert not flag.any()


def test_weighted_mean_on_the_template_grid(field, averaged):
    _, mss = field
    out, summary = averaged
    data = [columns(ms, "DATA", "WEIGHT_SPECTRUM", "UVW") for ms in mss]
    expected = sum(d * w for d, w, _ in data) / sum(w for _, w, _ in data)
    got, uvw = columns(out, "DATA", "UVW")
    assert np.max(np.abs(got - expected)) < 1e-6
    assert np.max(np.abs(uvw - data[0][2])) < 1e-3, "UVW of the template"
    offsets = [o["offset"] for o in summary["observations"]]
    assert offsets[0]["residual_uv_m"] < 1e-3
    assert 0 < offsets[1]["residual_uv_m"] < offsets[2]["residual_uv_m"] < 1.0, "offsets grow with the date"
    assert offsets[2]["shift_s"] == pytest.approx(2 * offsets[1]["shift_s"], rel=0.05), "precession: linear in date"


def image(mss: list[Path], outdir: Path, name: str):
    from astropy.io import fits
    from astropy.wcs import WCS

    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.wsclean import WSCleanOptions

    opts = WSCleanOptions(name=Path(name), size_pix=(512, 512), scale_arcsec=3.0, niter=0, weighting="natural",
                          threads=2, no_update_model_required=True)
    path = make_image(mss, outdir, opts).fits["image"]
    return fits.getdata(path).squeeze(), WCS(fits.getheader(path)).celestial


def compare_images(sim, mss: list[Path], averaged_ms: Path, outdir: Path) -> tuple[float, float]:
    """(rms of the difference / thermal rms of the joint image, relative peak difference of the brightest source)."""
    from lofar_hires.io.skymodel import read_makesourcedb

    joint, wcs = image(mss, outdir, "joint")
    avg, _ = image([averaged_ms], outdir, "averaged")
    truth = json.loads(Path(str(mss[0]).replace(".MS", ".truth.json")).read_text())
    thermal = truth["noise"]["expected_stokes_i_image_rms_natural_jy"] / math.sqrt(len(mss))
    sky = read_makesourcedb(sim.sky_model)
    brightest = int(np.argmax(sky.i_jy))
    x, y = (int(round(float(v))) for v in wcs.wcs_world2pix(math.degrees(sky.ra_rad[brightest]),
                                                            math.degrees(sky.dec_rad[brightest]), 0))
    return float(np.std(avg - joint)) / thermal, float(avg[y, x] / joint[y, x] - 1)


def test_image_equals_the_joint_image(field, averaged, tmp_path):
    sim, mss = field
    rms_ratio, peak = compare_images(sim, mss, averaged[0], tmp_path)
    assert rms_ratio < 0.3
    assert abs(peak) < 0.01


def test_misaligned_observations_within_the_budget(simulated, tmp_path):
    sim = simulated("sva-misaligned", preset="tiny", overrides=MISALIGNED_FIELD)
    mss = [o.ms for o in sim.targets()]
    summary = run_sva(mss, tmp_path / "avg", "--image-radius-deg", "0.1")
    assert summary["time_resolution"]["loss_at_radius"] <= 0.05
    rms_ratio, peak = compare_images(sim, mss, tmp_path / "avg" / "sva.ms", tmp_path)
    assert rms_ratio < 0.3
    assert abs(peak) < 0.01


def reverse_baselines(ms: Path) -> None:
    """Store every baseline the other way round: ANTENNA1/2 swapped, UVW negated, V_qp = V_pq^H."""
    from casacore.tables import table

    with table(str(ms), readonly=False, ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        t.putcol("ANTENNA1", a2)
        t.putcol("ANTENNA2", a1)
        t.putcol("UVW", -t.getcol("UVW"))
        t.putcol("DATA", np.conj(t.getcol("DATA")[:, :, [0, 2, 1, 3]]))
        t.putcol("WEIGHT_SPECTRUM", t.getcol("WEIGHT_SPECTRUM")[:, :, [0, 2, 1, 3]])


def test_reversed_baselines_give_the_same_average(field, averaged, tmp_path):
    _, mss = field
    swapped = tmp_path / "swapped.MS"
    shutil.copytree(mss[1], swapped)
    reverse_baselines(swapped)
    summary = run_sva([mss[0], swapped, mss[2]], tmp_path / "out", "--image-radius-deg", "0.04")
    assert summary["observations"][1]["conjugated_rows"] == summary["observations"][1]["rows_used"] > 0
    assert summary["observations"][0]["conjugated_rows"] == 0
    (ref,) = columns(averaged[0], "DATA")
    (got,) = columns(tmp_path / "out" / "sva.ms", "DATA")
    assert np.max(np.abs(got - ref)) < 1e-6


def test_dp3_reads_the_output(averaged, tmp_path):
    from lofar_hires.runners import dp3_steps
    from lofar_hires.runners.dp3_steps import run_steps

    out = tmp_path / "avg2.ms"
    run_steps(averaged[0], out, list(dp3_steps.averager(2, 2)), tmp_path / "logs", "avg", data_column="DATA")
    (time,) = columns(out, "TIME")
    assert np.unique(time).size == 30
