"""`lofar-hires subtract` against the truth, on two seeds and one hard case (the station beam in the data,
amplitude scintillation in the solutions, Gaussian sources): every facet dataset equals the simulation of
that facet's sources alone (same noise), corrected and averaged the same way; its image shows its own
sources at their true flux and nothing of the other facets; the old method gives the same datasets;
one facet can be rerun alone from a kept empty set (the layout of the workflow's scattered facet jobs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.imaging.image import make_image
from lofar_hires.imaging.measure import load_image, measure_source, sigma_clipped_rms
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.selection.sky import radec_to_xyz
from subtract_field import (
    HARD,
    RESOLUTION_ARCSEC,
    SubtractField,
    corrected_reference,
    has_beam,
    make_subtract_field,
    read_data,
    reference,
)

pytestmark = pytest.mark.slow

#: (seed, simulator settings): two easy fields and the hard case.
CASES = ((31, ()), (32, ()), (41, HARD))
#: Relative rms of (facet dataset - reference): the model is the truth and the data are not smeared, so
#: only single-precision rounding and DP3's interpolation of the solutions are left.
MAX_RELATIVE_RMS = 1e-3
#: Largest peak loss the averaging may cause (the setting) and the flux tolerance of the facets' sources
#: (plus three times the image noise: the faint sources have a signal to noise of 20-50).
MAX_SMEARING_LOSS = 0.02
FLUX_TOLERANCE = 0.05
#: Longest baseline of the facet images: 1 / 20 arcsec.
MAXUV_LAMBDA = 10000.0
#: New and old method: identical DP3 arithmetic in another order.
MAX_METHOD_DIFFERENCE = 1e-4


def run_subtract(field: SubtractField, outdir: Path, *extra: str) -> int:
    return main(["--log-level", "WARNING", "subtract", str(field.ms), "--skymodel", str(field.skymodel),
                 "--h5parm", str(field.h5parm), "--facet-regions", str(field.regions), "-o", str(outdir),
                 *([] if has_beam(field) else ["--no-beam"]), "--resolution-arcsec", str(RESOLUTION_ARCSEC),
                 "--max-smearing-loss", str(MAX_SMEARING_LOSS), *extra])


def facet_image(ms: Path, outdir: Path, name: str) -> Path:
    """A 20 arcsec image (baselines up to 10 k lambda), cleaned into a mask to half the noise (little clean bias)."""
    opts = WSCleanOptions(name=name, size_pix=(512, 512), scale_arcsec=3.0, niter=20000, mgain=0.7,
                          weighting="briggs", robust=0.0, maxuv_lambda=MAXUV_LAMBDA, auto_mask_sigma=4.0,
                          auto_threshold_sigma=0.5, restoring_beam_arcsec=RESOLUTION_ARCSEC, threads=2)
    return make_image([ms], outdir, opts).fits["image"]


@pytest.fixture(scope="module", params=CASES, ids=[f"seed{s}{'_hard' if e else ''}" for s, e in CASES])
def subtracted(request, simulated, tmp_path_factory):
    seed, extra = request.param
    folder = tmp_path_factory.mktemp(f"subtract{seed}")
    field = make_subtract_field(simulated, folder / "field", seed, extra)
    out = folder / "new"
    assert run_subtract(field, out) == 0
    assert run_subtract(field, folder / "empty_job", "--empty-only", "--keep-empty", str(folder / "empty.ms")) == 0
    summary = json.loads((out / f"{field.ms.name[:-3]}.subtract.json").read_text())
    return field, folder, out, summary


def test_every_facet_equals_its_sources_alone(subtracted, simulated):
    field, folder, out, summary = subtracted
    assert [f["facet"] for f in summary["facets"]] == field.facets
    averaged = 0
    for record in summary["facets"]:
        facet_ms = Path(summary["outputs"][record["facet"]])
        ref = corrected_reference(field, reference(simulated, field, record["facet"]), record,
                                  folder / f"ref_{record['facet']}.ms")
        got, want = read_data(facet_ms), read_data(ref)
        assert got.shape == want.shape
        rel = np.sqrt(np.mean(np.abs(got - want) ** 2) / np.mean(np.abs(want) ** 2))
        assert rel < MAX_RELATIVE_RMS, (record["facet"], rel)
        averaged += record["averaging"]["time_factor"] * record["averaging"]["chan_factor"] > 1
        provenance = json.loads(facet_ms.with_name(facet_ms.name + ".provenance.json").read_text())
        assert provenance["parameters"]["facet"] == record["facet"]
        assert provenance["parameters"]["averaging"] == record["averaging"]
        assert [r["tool"] for r in provenance["tool_runs"]] == ["DP3.py"]  # one pass made every facet
    assert averaged == len(summary["facets"]), "every facet is averaged at 20 arcsec"


def test_facet_images_hold_their_own_sources_only(subtracted):
    field, folder, out, summary = subtracted
    index = field.facet_of()
    xyz = radec_to_xyz(np.degrees(field.sky.ra_rad), np.degrees(field.sky.dec_rad))
    separation_arcsec = 3600 * np.degrees(np.arccos(np.clip(xyz @ xyz.T, -1, 1)))
    np.fill_diagonal(separation_arcsec, np.inf)
    isolated = separation_arcsec.min(axis=1) > 2 * RESOLUTION_ARCSEC  # no neighbour within two beams
    freq_flux = None
    checked_bright = 0
    for k, record in enumerate(summary["facets"]):
        image = load_image(facet_image(Path(summary["outputs"][record["facet"]]), folder / "images", record["facet"]))
        rms = sigma_clipped_rms(image.data)
        if freq_flux is None:
            freq_flux = field.sky.flux_jy(np.array([image.freq_hz]))[:, 0]
        ny, nx = image.data.shape
        mine = other = bright = 0
        for i, name in enumerate(field.sky.names):
            ra, dec = np.degrees(field.sky.ra_rad[i]), np.degrees(field.sky.dec_rad[i])
            x, y = (float(v) for v in image.wcs.world_to_pixel_values(ra, dec))
            if not (8 <= x < nx - 8 and 8 <= y < ny - 8) or not isolated[i]:
                continue
            m = measure_source(image, ra, dec)
            if index[i] == k:
                mine += 1
                if field.sky.types[i] != "POINT":
                    continue  # a Gaussian's peak is not its flux
                peak = m.peak_interpolated_jy_per_beam or m.peak_jy_per_beam
                tolerance = FLUX_TOLERANCE * freq_flux[i] + 3 * rms
                assert abs(peak - freq_flux[i]) < tolerance, (record["facet"], name, m, rms)
                bright += freq_flux[i] > 100 * rms
            else:
                other += 1
                # the brightness at the source's position: what is left of it (noise alone stays below 3 sigma)
                at_source = image.data[int(round(y)), int(round(x))]
                assert abs(at_source) < 3 * rms, (record["facet"], name, at_source, rms)
        assert 1 <= mine <= record["n_components"]
        checked_bright += bright
        assert other > 0, "the image also covers sources of other facets"
    assert checked_bright >= 2, "sources bright enough (100 sigma) for the 5 % to matter were checked"


def test_old_method_gives_the_same_datasets(subtracted):
    field, folder, out, summary = subtracted
    old = folder / "old"
    assert run_subtract(field, old, "--method", "old") == 0
    old_summary = json.loads((old / f"{field.ms.name[:-3]}.subtract.json").read_text())
    assert [r["label"] for r in old_summary["runs"]] == ["copy_subtract", "facet"] * len(field.facets)
    for facet, path in summary["outputs"].items():
        new_data, old_data = read_data(Path(path)), read_data(Path(old_summary["outputs"][facet]))
        scale = np.sqrt(np.mean(np.abs(new_data) ** 2))
        assert np.max(np.abs(new_data - old_data)) / scale < MAX_METHOD_DIFFERENCE, facet
    assert not any(p.name.endswith(".work") for p in old.iterdir()), "the full-size copies are removed"


def test_one_facet_reruns_alone_from_the_kept_empty_set(subtracted):
    field, folder, out, summary = subtracted
    facet = field.facets[-1]
    first = Path(summary["outputs"][facet])
    rerun = folder / "rerun"
    rerun.mkdir()
    assert run_subtract(field, rerun, "--facet", facet, "--empty-ms", str(folder / "empty.ms")) == 0
    again = json.loads((rerun / f"{field.ms.name[:-3]}.subtract.json").read_text())
    assert list(again["outputs"]) == [facet]
    assert [r["label"] for r in again["runs"]] == ["facets"]
    # From the empty set the facet's model is added back instead of the others' subtracted: the same data to
    # single-precision rounding.
    got, want = read_data(Path(again["outputs"][facet])), read_data(first)
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))
    assert (folder / "empty.ms" / "table.dat").is_file(), "a reused empty set is kept"
    # --resume skips what is complete and redoes what is missing.
    shutil.rmtree(Path(summary["outputs"][field.facets[0]]))
    assert run_subtract(field, out, "--resume", "--empty-ms", str(folder / "empty.ms")) == 0
    resumed = json.loads((out / f"{field.ms.name[:-3]}.subtract.json").read_text())
    assert len(resumed["runs"]) == 1
    assert sorted(resumed["outputs"]) == sorted(field.facets)
    log = (out / "logs" / f"{field.ms.name[:-3]}.{field.facets[0]}.parset").read_text()
    assert f"[[{field.facets[0]}]]" in log and f"[[{field.facets[1]}]]" not in log, "only the missing facet is made"


def test_dysco_compressed_facet_dataset(subtracted):
    from casacore.tables import table

    field, folder, out, summary = subtracted
    facet = field.facets[0]
    packed = folder / "dysco"
    assert run_subtract(field, packed, "--facet", facet, "--dysco", "--dysco-data-bits", "10") == 0
    path = packed / Path(summary["outputs"][facet]).name
    with table(str(path), ack=False) as t:
        managers = {info["TYPE"] for info in t.getdminfo().values() if "DATA" in info["COLUMNS"]}
    assert managers == {"DyscoStMan"}
    got, want = read_data(path), read_data(Path(summary["outputs"][facet]))
    # 10-bit Dysco: errors of a few per cent of the noise-dominated visibilities at most
    assert np.sqrt(np.mean(np.abs(got - want) ** 2) / np.mean(np.abs(want) ** 2)) < 0.05
    assert sum(p.stat().st_size for p in path.rglob("*")) < sum(
        p.stat().st_size for p in Path(summary["outputs"][facet]).rglob("*"))
