"""``lofar-hires image`` and ``compare-sky`` on bad input: one ERROR line, the right exit status,
untouched inputs (checksums) and no partial product.

``image`` runs the real WSClean on copies of the ``tiny`` simulation: data that are all NaN make
WSClean grid nothing (it skips NaN visibilities), and the all-zero image is refused with exit
status 4; zero-row and all-flagged measurement sets, bad options and unusable output locations are
refused with exit status 2 before WSClean starts. ``compare-sky`` works on small synthetic FITS images.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from lofar_hires.cli import main


def errors(stderr: str) -> list[str]:
    """The ERROR lines of a command's log; the error must be the last line."""
    lines = stderr.strip().splitlines()
    found = [line for line in lines if " ERROR " in line]
    assert found and lines[-1] == found[-1], lines
    return found


@pytest.fixture(scope="module")
def mss(simulated, tmp_path_factory) -> dict[str, Path]:
    """The tiny target MS and broken copies of it: DATA all NaN, zero rows, FLAG all set."""
    from casacore.tables import table

    good = next(o.ms for o in simulated("tiny").observations if o.kind == "target")
    root = tmp_path_factory.mktemp("image_bad")
    out = {"good": good, "nan": root / "nan.MS", "zero_rows": root / "zero_rows.MS",
           "all_flagged": root / "all_flagged.MS"}
    shutil.copytree(good, out["nan"])
    with table(str(out["nan"]), readonly=False, ack=False) as t:
        t.putcol("DATA", np.full(t.getcol("DATA").shape, np.nan, dtype=np.complex64))
    with table(str(good), ack=False) as t, t.query("ROWNUMBER() < 0") as empty:
        empty.copy(str(out["zero_rows"]), deep=True, valuecopy=True).close()
    shutil.copytree(good, out["all_flagged"])
    with table(str(out["all_flagged"]), readonly=False, ack=False) as t:
        t.putcol("FLAG", np.ones(t.getcol("FLAG").shape, dtype=bool))
    # Tests run as root, which chmod cannot stop from writing: a path under a regular file is an
    # output location nobody can create.
    out["a_file"] = root / "somefile.txt"
    out["a_file"].write_text("a regular file\n")
    return out


SMALL = ["--size-pix", "64", "64", "--scale-arcsec", "20", "--niter", "0"]


def test_image_of_all_nan_data_exits_4_without_images(mss, tmp_path, capsys):
    before = tree_sha256(mss["nan"])
    outdir = tmp_path / "img"
    code = main(["image", str(mss["nan"]), "--outdir", str(outdir), *SMALL])
    captured = capsys.readouterr()
    assert code == 4
    err = errors(captured.err)
    assert len(err) == 1 and "all zeros" in err[0] and "DATA" in err[0], err
    assert captured.out == ""
    # Only WSClean's log is left, for diagnosis: no image, no provenance, nothing partial.
    assert sorted(p.name for p in outdir.iterdir()) == ["image.wsclean.log"]
    assert tree_sha256(mss["nan"]) == before


IMAGE_BAD = [
    (["{zero_rows}"], "has no rows"),
    (["{all_flagged}"], "all data are flagged"),
    (["{good}", "--data-column", "CORRECTED_DATA"], "lacks column(s) CORRECTED_DATA"),
    (["{good}", "--outdir", "{a_file}/img"], "cannot create output directory"),
    (["{good}", "--outdir", "{existing}"], "already exist; overwrite them"),
    (["{good}", "--name", "../escape"], "plain file name prefix"),
    (["{good}", "--pol", "zz"], "--pol 'zz'"),
    (["{good}", "--mgain", "1.5"], "--mgain must be in (0, 1]"),
    (["{good}", "--threads", "0"], "--threads must be at least 1"),
    (["{good}", "--scale-arcsec", "nan"], "--scale-arcsec must be a positive number"),
    (["{good}", "--minuv-lambda", "500", "--maxuv-lambda", "100"], "must exceed --minuv-lambda"),
]


@pytest.mark.parametrize("args, message", IMAGE_BAD, ids=[
    "zero-rows", "all-flagged", "missing-column", "outdir-under-file", "existing-images", "name-with-path",
    "bad-pol", "bad-mgain", "zero-threads", "nan-scale", "uv-range"])
def test_image_bad_input_exits_2_before_wsclean(mss, tmp_path, capsys, args, message):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "image-image.fits").write_bytes(b"an earlier image")
    paths = {k: str(v) for k, v in mss.items()} | {"existing": str(existing)}
    argv = [a.format(**paths) for a in args]
    outdir = tmp_path / "img"
    if "--outdir" not in argv:
        argv += ["--outdir", str(outdir)]
    inputs = [mss[k] for k in mss if "{" + k + "}" in " ".join(args)]
    before = {p: tree_sha256(p) for p in inputs}
    code = main(["image", *SMALL, *argv])  # the options of the case come last and win
    err = errors(capsys.readouterr().err)
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not outdir.exists()
    assert [p.name for p in existing.iterdir()] == ["image-image.fits"]
    assert (existing / "image-image.fits").read_bytes() == b"an earlier image"
    assert {p: tree_sha256(p) for p in inputs} == before


# --------------------------------------------------------------------------- compare-sky


def _write_image(path: Path, data: np.ndarray, scale_arcsec: float = 2.0, centre=(242.75, 55.0)) -> Path:
    from astropy.io import fits

    h = fits.Header()
    n = data.shape[0]
    for k, v in {"CTYPE1": "RA---SIN", "CRPIX1": n / 2 + 1, "CRVAL1": centre[0], "CDELT1": -scale_arcsec / 3600,
                 "CTYPE2": "DEC--SIN", "CRPIX2": n / 2 + 1, "CRVAL2": centre[1], "CDELT2": scale_arcsec / 3600,
                 "CTYPE3": "FREQ", "CRPIX3": 1, "CRVAL3": 150e6, "CDELT3": 1e6, "CTYPE4": "STOKES", "CRPIX4": 1,
                 "CRVAL4": 1, "CDELT4": 1, "BMAJ": 10 / 3600, "BMIN": 10 / 3600, "BPA": 0.0}.items():
        h[k] = v
    fits.PrimaryHDU(data[None, None].astype(np.float32), h).writeto(path)
    return path


@pytest.fixture
def sky_inputs(tmp_path) -> dict[str, Path]:
    """A 64-pixel image with one point source, its sky model, an all-NaN image and broken sky models."""
    from conftest import on_grid_skymodel

    folder = tmp_path / "inputs"
    folder.mkdir()
    img = np.random.default_rng(1).normal(0, 1e-3, (64, 64))
    img[32, 40] += 1.0
    paths = {"image": _write_image(folder / "img.fits", img),
             "nan_image": _write_image(folder / "nan.fits", np.full((64, 64), np.nan)),
             "skymodel": on_grid_skymodel(folder / "sky.skymodel", (242.75, 55.0), 64, 2.0, [(40, 32)], [1.0])}
    paths["not_fits"] = folder / "notes.fits"
    paths["not_fits"].write_text("not a FITS file\n")
    paths["garbage_sky"] = folder / "garbage.skymodel"
    paths["garbage_sky"].write_bytes(b"\x00\xff\xfe garbage")
    paths["nan_sky"] = folder / "nan.skymodel"
    paths["nan_sky"].write_text("FORMAT = Name, Type, Ra, Dec, I\ns1, POINT, 16:11:00, +55.00.00, inf\n")
    paths["a_file"] = folder / "somefile.txt"
    paths["a_file"].write_text("a regular file\n")
    return paths


COMPARE_BAD = [
    (["{nan_image}", "{skymodel}"], "no finite pixels"),
    (["{not_fits}", "{skymodel}"], "not a readable FITS image"),
    (["{image}", "{garbage_sky}"], "not a makesourcedb text file"),
    (["{image}", "{nan_sky}"], "non-finite flux"),
    (["{image}", "{skymodel}", "--output", "{existing}"], "already exists; overwrite it"),
    (["{image}", "{skymodel}", "--output", "{a_file}/table.json"], "is not a directory"),
    (["{image}", "{skymodel}", "--output", "{image}", "--overwrite"], "is an input"),
]


@pytest.mark.parametrize("args, message", COMPARE_BAD, ids=[
    "all-nan-image", "not-fits", "binary-skymodel", "infinite-flux", "existing-output", "output-under-file",
    "output-is-input"])
def test_compare_sky_bad_input_exits_2(sky_inputs, tmp_path, capsys, args, message):
    existing = tmp_path / "existing.json"
    existing.write_text("an earlier table\n")
    paths = {k: str(v) for k, v in sky_inputs.items()} | {"existing": str(existing)}
    before = {p: tree_sha256(p) for p in sky_inputs.values()}
    code = main(["compare-sky", *[a.format(**paths) for a in args]])
    captured = capsys.readouterr()
    err = errors(captured.err)
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert captured.out == ""
    assert existing.read_text() == "an earlier table\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.json", "inputs"]
    assert {p: tree_sha256(p) for p in sky_inputs.values()} == before


def test_compare_sky_replaces_output_only_with_overwrite(sky_inputs, tmp_path, capsys):
    import json

    out = tmp_path / "table.json"
    args = ["compare-sky", str(sky_inputs["image"]), str(sky_inputs["skymodel"]), "--output", str(out)]
    assert main(args) == 0
    first = json.loads(out.read_text())
    assert [s["name"] for s in first["sources"]] == ["grid01"]
    assert first["sources"][0]["peak_ratio"] == pytest.approx(1.0, abs=0.01)
    out.write_text("edited\n")
    assert main(args) == 2 and out.read_text() == "edited\n"
    assert "overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert json.loads(out.read_text())["sources"] == first["sources"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "table.json"]
