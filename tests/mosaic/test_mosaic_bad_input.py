"""``lofar-hires mosaic`` refuses what it cannot combine before a pixel is written: images of other pixel scales,
frequencies or Stokes parameters, other restoring beams (unless allowed), an image in no facet or two in one,
blank images, region files that do not parse, beam images or restored-model images that do not fit; exit 2,
one line, nothing written, the inputs untouched. A facet without an image is a warning: its pixels stay blank."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from mosaic_field import N_PIX, Field, make_field, write_image

from conftest import tree_sha256
from lofar_hires.cli import main


@pytest.fixture(scope="module")
def field(tmp_path_factory) -> Field:
    return make_field(tmp_path_factory.mktemp("mosaic_bad_field"), pb=True, seed=3)


def facet_centre(field: Field, i: int) -> tuple[float, float]:
    facet = field.layout.facets[i]
    return facet.centre_ra_deg, facet.centre_dec_deg


def replaced(field: Field, folder: Path, **kwargs) -> list[str]:
    """The images with the second one replaced by an image of other properties (``write_image`` keywords)."""
    data = np.zeros((N_PIX, N_PIX))
    data[0, 0] = 1.0
    centre = kwargs.pop("centre", facet_centre(field, 1))
    path = write_image(folder / "other.fits", data, centre, **kwargs)
    return [str(field.images[0]), str(path), *map(str, field.images[2:])]


def all_nan(field: Field, folder: Path) -> list[str]:
    path = write_image(folder / "nan.fits", np.full((N_PIX, N_PIX), np.nan), facet_centre(field, 1))
    return [str(field.images[0]), str(path), *map(str, field.images[2:])]


def nan_beam(field: Field, folder: Path) -> list[str]:
    """The beam images with the second one blank."""
    path = write_image(folder / "nanbeam.fits", np.full((N_PIX, N_PIX), np.nan), facet_centre(field, 1))
    return [str(field.beams[0]), str(path), *map(str, field.beams[2:])]


def text(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def images(field: Field) -> list[str]:
    return list(map(str, field.images))


def beams(field: Field) -> list[str]:
    return ["--mode", "beam-weighted", "--beam-images", *map(str, field.beams)]


#: case id -> (arguments from (field, folder): images + options (the region file is added unless given), message)
CASES = {
    "other-pixel-scale": (lambda f, d: replaced(f, d, pixel_arcsec=2.5), r"pixels of 2\.5 and 2 arcsec"),
    "other-frequency": (lambda f, d: replaced(f, d, freq_hz=150e6), r"different frequencies"),
    "other-stokes": (lambda f, d: replaced(f, d, stokes=2.0), r"different Stokes parameters"),
    "other-unit": (lambda f, d: replaced(f, d, bunit="JY/PIXEL"), r"different units"),
    "other-beam": (lambda f, d: replaced(f, d, beam_arcsec=9.0),
                   r"f0-image-pb\.fits \(8 x 8 arcsec.*other\.fits \(9 x 9 arcsec.*--allow-beam-m"),
    "no-beam": (lambda f, d: replaced(f, d, beam_arcsec=None), r"other\.fits has no restoring beam"),
    "centre-in-no-facet": (lambda f, d: replaced(f, d, centre=(243.5, 55.0)), r"other\.fits is centred at .* in none"),
    "two-in-one-facet": (lambda f, d: replaced(f, d, centre=facet_centre(f, 0)), r"both lie in facet f0"),
    "all-nan": (all_nan, r"nan\.fits has no finite pixels"),
    "image-twice": (lambda f, d: [*images(f), str(f.images[0])], r"given more than once"),
    "region-garbage": (lambda f, d: [*images(f), "--facet-regions", str(text(d, "g.reg", b"\x00\xff\xfe" * 50))],
                       r"g\.reg is not a ds9 region file"),
    "region-no-polygon": (lambda f, d: [*images(f), "--facet-regions", str(text(d, "c.reg", "circle(1,2,3)"))],
                          r"c\.reg holds no polygon"),
    "region-pixels": (lambda f, d: [*images(f), "--facet-regions", str(text(d, "p.reg", "image\npolygon(1,1,2,2)"))],
                      r"p\.reg line 1: coordinate system 'image'"),
    "region-two-vertices": (lambda f, d: [*images(f), "--facet-regions",
                                          str(text(d, "v.reg", "fk5\npolygon(242.7,55,242.8,55)\n"))],
                            r"v\.reg line 2: a polygon needs at least 3"),
    "region-missing": (lambda f, d: [*images(f), "--facet-regions", str(d / "none.reg")], r"none\.reg does not exist"),
    "beam-weighted-without-beams": (lambda f, d: [*images(f), "--mode", "beam-weighted"],
                                    r"needs the primary-beam image .*--beam-images"),
    "beams-in-polygon-mode": (lambda f, d: [*images(f), "--beam-images", *map(str, f.beams)],
                              r"only in the beam-weighted mode"),
    "too-few-beams": (lambda f, d: [*images(f), *beams(f)[:-1]], r"3 beam image\(s\) for 4 image\(s\)"),
    "beams-out-of-order": (lambda f, d: [*images(f), "--mode", "beam-weighted", "--beam-images",
                                         *map(str, [f.beams[1], f.beams[0], *f.beams[2:]])],
                           r"f1-beam\.fits is not on the grid of its image f0-image-pb\.fits"),
    "models-in-beam-weighted-mode": (lambda f, d: [*images(f), *beams(f), "--restored-models", *map(str, f.beams)],
                                     r"restored-model images are used only in polygon mode.*--restored-models"),
    "too-few-models": (lambda f, d: [*images(f), "--restored-models", *map(str, f.beams[:3])],
                       r"3 restored-model image\(s\) for 4 \(residual\) image\(s\).*--restored-models"),
    "models-out-of-order": (lambda f, d: [*images(f), "--restored-models",
                                          *map(str, [f.beams[1], f.beams[0], *f.beams[2:]])],
                            r"restored-model image .*f1-beam\.fits is not on the grid of its image f0-image-pb"),
    "model-is-an-image": (lambda f, d: [*images(f), "--restored-models", *images(f)],
                          r"f0-image-pb\.fits is given both as a \(residual\) image and as a restored-model"),
    "model-twice": (lambda f, d: [*images(f), "--restored-models", *map(str, [f.beams[0], *f.beams[:3]])],
                    r"restored-model image is given more than once"),
    "model-other-unit": (lambda f, d: [*images(f), "--restored-models", *map(str, f.beams)],
                         r"restored-model images: image .*f0-beam\.fits and f0-image-pb\.fits have different units"),
    "beam-all-nan": (lambda f, d: [*images(f), "--mode", "beam-weighted", "--beam-images", *nan_beam(f, d)],
                     r"nanbeam\.fits has no finite pixels"),
    "zero-pixel-scale": (lambda f, d: [*images(f), "--pixel-scale-arcsec", "0"], r"pixel scale .*--pixel-scale-arcsec"),
    "centre-ra-400": (lambda f, d: [*images(f), "--centre-deg", "400", "55"], r"\(400\.0, 55\.0\).*--centre-deg"),
    "centre-far-away": (lambda f, d: [*images(f), "--centre-deg", "60", "-30"], r"reaches .* deg from the mosaic"),
    "min-beam-above-1": (lambda f, d: [*images(f), *beams(f), "--min-beam", "1.5"], r"min_beam .*--min-beam"),
    "zero-noise-box": (lambda f, d: [*images(f), "--noise-box-beams", "0"], r"noise box .*--noise-box-beams"),
    "tiny-pixels": (lambda f, d: [*images(f), "--pixel-scale-arcsec", "0.0001"], r"larger than 1e\+10 pixels"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_before_anything_is_written(field: Field, tmp_path: Path, capsys, case: str) -> None:
    build, message = CASES[case]
    folder = tmp_path / "inputs"
    folder.mkdir()
    args = build(field, folder)
    if "--facet-regions" not in args:
        args += ["--facet-regions", str(field.regions)]
    before = tree_sha256(field.regions.parent)
    out = tmp_path / "out"
    assert main(["mosaic", *args, "-o", str(out / "mosaic.fits")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert re.search(message, errors[0]), errors[0]
    assert tree_sha256(field.regions.parent) == before
    assert not out.exists() or not any(out.iterdir()), "nothing written"


def test_beam_mismatch_allowed(field: Field, tmp_path: Path) -> None:
    """--allow-beam-mismatch: the header carries the largest beam."""
    from astropy.io import fits

    args = replaced(field, tmp_path, beam_arcsec=9.0)
    assert main(["mosaic", *args, "--facet-regions", str(field.regions), "-o", str(tmp_path / "m.fits"),
                 "--allow-beam-mismatch"]) == 0
    assert fits.getheader(tmp_path / "m.fits")["BMAJ"] == pytest.approx(9.0 / 3600.0)


def test_facet_without_image_stays_blank(field: Field, tmp_path: Path, capsys) -> None:
    assert main(["mosaic", *map(str, field.images[:3]), "--facet-regions", str(field.regions), "-o",
                 str(tmp_path / "m.fits"), "--noise-map", str(tmp_path / "noise.fits")]) == 0
    assert "have no image; their pixels are blank in the mosaic: f3" in capsys.readouterr().err
    summary = json.loads((tmp_path / "m.json").read_text())
    assert summary["facets_without_image"] == ["f3"] and summary["noise_map"] == "noise.fits"
    assert summary["pixels_with_data"] == sum(row["pixels_with_data"] for row in summary["facets"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fits", "m.fits.provenance.json", "m.json", "noise.fits"]


def test_existing_output_kept(field: Field, tmp_path: Path) -> None:
    out = tmp_path / "m.fits"
    argv = ["mosaic", *map(str, field.images), "--facet-regions", str(field.regions), "-o", str(out)]
    assert main(argv) == 0
    first = out.read_bytes()
    assert main(argv) == 2, "existing products are kept without --overwrite"
    assert out.read_bytes() == first
    assert main([*argv, "--overwrite"]) == 0
    copy = tmp_path / "copy.fits"
    shutil.copyfile(field.images[0], copy)
    assert main(["mosaic", str(copy), *map(str, field.images[1:]), "--facet-regions", str(field.regions), "-o",
                 str(copy), "--overwrite"]) == 2, "an input is never overwritten"
