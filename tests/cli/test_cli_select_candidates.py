"""``lofar-hires select candidates``: tables, provenance and split tables written; errors in one line.

The sky-model, catalogue and image (PyBDSF) paths each run once from the command line;
the library's numbers are checked in ``tests/selection/test_candidates.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.cli.select.candidates import pybdsf_workdir
from lofar_hires.io.names import safe_name
from lofar_hires.provenance import sha256_file
from lofar_hires.selection.candidates import CandidateSettings, candidates_from_skymodel
from lofar_hires.selection.table import provenance_path, read_table

SKYMODEL = """\
FORMAT = Name, Type, Patch, Ra, Dec, I, ReferenceFrequency='150e6', SpectralIndex='[]', MajorAxis, MinorAxis, \
Orientation

, , 3C_a, 242.5, 55.0
, , b, 243.0, 55.2
, , far, 250.0, 60.0
, , weak, 242.8, 54.9
a1, POINT, 3C_a, 242.5, 55.0, 0.8, 150e6, [-0.7]
a2, GAUSSIAN, 3C_a, 242.501, 55.0, 0.4, 150e6, [-0.7], 10.0, 5.0, 0
b1, POINT, b, 243.0, 55.2, 0.3, 150e6, [-0.7]
f1, POINT, far, 250.0, 60.0, 5.0, 150e6, [-0.7]
w1, POINT, weak, 242.8, 54.9, 0.01, 150e6, [-0.7]
"""


@pytest.fixture
def skymodel(tmp_path: Path) -> Path:
    path = tmp_path / "sky.skymodel"
    path.write_text(SKYMODEL)
    return path


def select(*args: str) -> int:
    return main(["select", "candidates", *args])


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " ERROR " in line]


def test_help_names_the_paper_defaults(capsys):
    assert select("--help") == 0
    out = capsys.readouterr().out
    assert "usage: lofar-hires select candidates" in out
    assert "0.025" in out and "6.3.1" in out and "mJy" in out


def test_skymodel_table_provenance_and_split_dir(skymodel, tmp_path, capsys):
    out = tmp_path / "out" / "cands.csv"
    split = tmp_path / "out" / "split"
    assert select("--skymodel", str(skymodel), "-o", str(out), "--centre-deg", "242.75", "55.0",
                  "--max-distance-deg", "1.0", "--split-dir", str(split)) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{out}\n"  # only the table path on stdout
    assert "2 candidate(s)" in captured.err and "peak 0.3 to 0.8 Jy/beam" in captured.err

    rows = read_table(out)
    assert [r.name for r in rows] == ["3C_a", "b"]  # 'far' is 4.6 deg away, 'weak' below 25 mJy/beam
    # The library's candidates, as written (8 decimals in degrees).
    want = candidates_from_skymodel(skymodel, CandidateSettings(centre_deg=(242.75, 55.0), max_distance_deg=1.0))
    for got, row in zip(rows, want, strict=True):
        assert got == row.with_(ra_deg=got.ra_deg, dec_deg=got.dec_deg, total_flux_jy=got.total_flux_jy)
        assert (got.ra_deg, got.dec_deg, got.total_flux_jy) == (
            pytest.approx(row.ra_deg, abs=1e-8), pytest.approx(row.dec_deg, abs=1e-8), pytest.approx(row.total_flux_jy))
    assert rows[0].total_flux_jy == pytest.approx(1.2) and {r.category for r in rows} == {"candidate"}

    prov = json.loads(provenance_path(out).read_text())
    assert provenance_path(out).name == "cands.provenance.json"
    assert prov["task"] == "select candidates"
    assert prov["parameters"]["max_distance_deg"] == 1.0 and prov["parameters"]["centre_deg"] == [242.75, 55.0]
    assert prov["inputs"][0]["sha256"] == sha256_file(skymodel)

    assert sorted(p.name for p in split.iterdir()) == ["3C_a.csv", "b.csv"]
    assert [read_table(split / f"{r.name}.csv") for r in rows] == [[r] for r in rows]
    assert not [p for p in out.parent.iterdir() if ".partial-" in p.name]

    # An existing table is kept unless --overwrite.
    before = sha256_file(out)
    assert select("--skymodel", str(skymodel), "-o", str(out), "--min-peak-flux-jy", "0") == 2
    assert "already exists; overwrite it" in capsys.readouterr().err and sha256_file(out) == before
    assert select("--skymodel", str(skymodel), "-o", str(out), "--min-peak-flux-jy", "0", "--overwrite",
                  "--max-candidates", "3") == 0
    assert [r.name for r in read_table(out)] == ["far", "3C_a", "b"]


def test_catalogue_in_mjy(tmp_path, capsys):
    cat = tmp_path / "lotss.csv"
    cat.write_text("Source_Name,RA,DEC,Peak_flux,Total_flux\n"
                   "ILTJ160454.72+555949.7,16:04:54.72,+55:59:49.7,120.0,150.0\n"
                   "ILTJ161000.00+550000.0,242.5,55.0,20.0,40.0\n")
    out = tmp_path / "cands.csv"
    assert select("--catalogue", str(cat), "-o", str(out), "--flux-unit", "mJy") == 0
    (row,) = read_table(out)
    assert (row.name, row.origin, row.peak_flux_jy, row.total_flux_jy) == (
        "ILTJ160454.72+555949.7", "catalogue", 0.12, 0.15)
    assert "--resolution-arcsec applies to --skymodel only" not in capsys.readouterr().err
    # An option for another input is ignored, with a warning.
    assert select("--catalogue", str(cat), "-o", str(out), "--flux-unit", "mJy", "--resolution-arcsec", "1",
                  "--overwrite") == 0
    assert "--resolution-arcsec applies to --skymodel only" in capsys.readouterr().err


def write_image(path: Path, sources_pix_jy, n: int = 160, scale_arcsec: float = 2.0, beam_arcsec: float = 10.0) -> Path:
    """A small FITS image with restored point sources and 1 mJy/beam of noise."""
    from astropy.io import fits

    yy, xx = np.mgrid[:n, :n]
    data = np.random.default_rng(5).normal(0.0, 1e-3, (n, n))
    sigma = beam_arcsec / scale_arcsec / (2 * math.sqrt(2 * math.log(2)))
    for x, y, flux in sources_pix_jy:
        data += flux * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    header = fits.Header()
    for key, value in {"CTYPE1": "RA---SIN", "CRPIX1": n / 2 + 1, "CRVAL1": 242.75, "CDELT1": -scale_arcsec / 3600,
                       "CTYPE2": "DEC--SIN", "CRPIX2": n / 2 + 1, "CRVAL2": 55.0, "CDELT2": scale_arcsec / 3600,
                       "CTYPE3": "FREQ", "CRPIX3": 1, "CRVAL3": 144e6, "CDELT3": 1e6, "CTYPE4": "STOKES",
                       "CRPIX4": 1, "CRVAL4": 1, "CDELT4": 1, "BMAJ": beam_arcsec / 3600,
                       "BMIN": beam_arcsec / 3600, "BPA": 0.0}.items():
        header[key] = value
    fits.PrimaryHDU(data[None, None].astype(np.float32), header).writeto(path)
    return path


def test_image_runs_pybdsf_quietly(tmp_path, capsys):
    import bdsf

    img = write_image(tmp_path / "field.fits", [(50, 60, 0.4), (110, 100, 0.06), (80, 130, 0.015)])
    out = tmp_path / "cands.csv"
    log_file = tmp_path / "select.log"
    assert main(["--log-file", str(log_file), "select", "candidates", "--image", str(img), "-o", str(out),
                 "--min-peak-flux-jy", "0.05", "--pybdsf-thresh-pix", "6", "--split-dir", str(tmp_path / "split")]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{out}\n"
    assert "Number of islands" not in captured.err and "Wrote FITS file" not in captured.err  # PyBDSF's chatter
    assert "PyBDSF: " in log_file.read_text()  # ... goes to the log file
    rows = read_table(out)
    assert [(r.name, r.origin) for r in rows] == [("cand000", "pybdsf"), ("cand001", "pybdsf")]
    assert rows[0].peak_flux_jy == pytest.approx(0.4, rel=0.05)
    assert (pybdsf_workdir(out) / "field.srl.fits").is_file()
    prov = json.loads(provenance_path(out).read_text())
    (run,) = prov["tool_runs"]
    assert (run["tool"], run["version"], run["exit_status"]) == ("PyBDSF", bdsf.__version__, 0)
    assert "thresh_pix=6.0" in run["command"]
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == ["cand000.csv", "cand001.csv"]


@pytest.mark.parametrize("args, message", [
    (["--skymodel", "{tmp}/missing.skymodel"], "sky model {tmp}/missing.skymodel does not exist"),
    (["--skymodel", "{sky}", "--min-peak-flux-jy", "10"],
     "no candidate left: the minimum peak flux 10 Jy removed all 4 source(s) (brightest peak brightness 5 Jy)"),
    (["--skymodel", "{sky}", "--max-distance-deg", "1"], "centre_deg and max_distance_deg go together"),
    (["--catalogue", "{tmp}/bad.csv"], "no RA/Dec columns"),
    (["--image", "{tmp}/bad.csv"], "is not a readable FITS image"),
    (["--skymodel", "{sky}", "--split-dir", "{tmp}/cands.csv"], "collides with another output"),
], ids=["missing", "nothing-left", "centre", "no-radec", "not-fits", "split-collides"])
def test_errors_exit_2_with_one_line(skymodel, tmp_path, capsys, args, message):
    (tmp_path / "bad.csv").write_text("name,x,y,flux\na,1,2,3\n")
    fill = {"tmp": str(tmp_path), "sky": str(skymodel)}
    out = tmp_path / "cands.csv"
    assert select(*[a.format(**fill) for a in args], "-o", str(out)) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message.format(**fill) in errors[0], errors
    assert not out.exists() and not provenance_path(out).exists()


def test_usage_errors_exit_2(skymodel, tmp_path, capsys):
    out = str(tmp_path / "c.csv")
    assert select("-o", out) == 2  # no input
    assert select("--skymodel", str(skymodel), "--catalogue", str(skymodel), "-o", out) == 2
    assert select("--skymodel", str(skymodel), "-o", out, "--flux-unit", "uJy") == 2
    err = capsys.readouterr().err
    assert "one of the arguments --skymodel --catalogue --image --delay-calibrators is required" in err
    assert "not allowed with argument" in err and "invalid choice: 'uJy'" in err


# ------------------------------------------------------------------------------------ names and bad input


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def write_catalogue(path: Path, names: list[str]) -> Path:
    rows = "".join(f"{name},{242.5 + 0.01 * i},55.0,{1.0 - 0.01 * i}\n" for i, name in enumerate(names))
    path.write_text("name,ra_deg,dec_deg,peak_flux_jy\n" + rows)
    return path


def test_hostile_names_become_safe_split_file_names(tmp_path, capsys):
    long_name = "J" + "1234567890" * 30
    work = tmp_path / "work"
    work.mkdir()
    cat = write_catalogue(work / "cat.csv", ["../x", "/abs", "a/b", long_name, "a\x00c", ".."])
    before = listing(tmp_path)
    assert select("--catalogue", str(cat), "-o", str(work / "c.csv"), "--split-dir", str(work / "split")) == 0
    new = sorted(set(listing(tmp_path)) - set(before))
    assert all(p.startswith("work/") for p in new), new
    rows = read_table(work / "c.csv")
    # Table names: separators and control characters become _; ".." has no usable name and gets a rank name.
    assert [r.name for r in rows] == [".._x", "_abs", "a_b", long_name, "a_c", "cand005"]
    files = sorted(p.name for p in (work / "split").iterdir())
    assert files == sorted(["x.csv", "abs.csv", "a_b.csv", f"{safe_name(long_name)}.csv", "a_c.csv", "cand005.csv"])
    assert all(len(f) <= 84 for f in files)
    assert read_table(work / "split" / "x.csv")[0].name == ".._x"  # the row keeps its name


@pytest.mark.parametrize("names, message", [
    (["x", "../x"], "candidate names 'x' and '.._x' both become the file name 'x'"),
    (["Cal", "cal"], "candidate names 'Cal' and 'cal' both become the file name 'cal'"),
], ids=["dotdot", "case"])
def test_split_names_that_collide_are_refused_before_anything_is_written(tmp_path, capsys, names, message):
    cat = write_catalogue(tmp_path / "cat.csv", names)
    before = listing(tmp_path)
    assert select("--catalogue", str(cat), "-o", str(tmp_path / "c.csv"), "--split-dir", str(tmp_path / "s")) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0], errors
    assert listing(tmp_path) == before


#: (input option, file content, message) for every class of bad input.
BAD_INPUTS = {
    "missing_skymodel": ("--skymodel", None, "does not exist"),
    "empty_skymodel": ("--skymodel", "", "has no FORMAT line and no components"),
    "garbage_skymodel": ("--skymodel", bytes(range(256)) * 8, "not a makesourcedb text file"),
    "missing_catalogue": ("--catalogue", None, "does not exist"),
    "empty_catalogue": ("--catalogue", "", "is empty (expected a header row)"),
    "garbage_catalogue": ("--catalogue", bytes(range(256)) * 8, "is not a CSV text file (not UTF-8 text)"),
    "wrong_columns": ("--catalogue", "a,b,c\n1,2,3\n", "no RA/Dec columns"),
    "ra_text": ("--catalogue", "name,RA,DEC,Peak_flux\nx,abc,55,1\n", "column RA: cannot parse right ascension 'abc'"),
    "ra_out_of_range": ("--catalogue", "name,RA,DEC,Peak_flux\nx,400,55,1\n",
                        "400 is not a valid right ascension (-360 to 360 deg)"),
    "dec_out_of_range": ("--catalogue", "name,RA,DEC,Peak_flux\nx,242,95,1\n", "95 is not a valid declination"),
    "flux_text": ("--catalogue", "name,RA,DEC,Peak_flux\nx,242,55,bright\n", "'bright' is not a number"),
    "no_rows": ("--catalogue", "name,RA,DEC,Peak_flux\n", "lists no sources"),
    "garbage_image": ("--image", bytes(range(256)) * 8, "is not a readable FITS image"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_classes(tmp_path, capsys, kind):
    option, content, message = BAD_INPUTS[kind]
    source = tmp_path / {"--skymodel": "in.skymodel", "--catalogue": "in.csv", "--image": "in.fits"}[option]
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        source.write_text(content)
    before = sha256_file(source) if source.exists() else None
    out = tmp_path / "out" / "cands.csv"
    assert select(option, str(source), "-o", str(out), "--split-dir", str(tmp_path / "out" / "split")) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0], errors
    assert (sha256_file(source) if source.exists() else None) == before
    assert not out.exists() and not (tmp_path / "out" / "split").exists()
    assert not [p for p in tmp_path.rglob("*") if ".partial-" in p.name or "_pybdsf" in p.name]


@pytest.mark.parametrize("kind, message", [
    ("unwritable", "not writable"),
    ("parent_is_a_file", "cannot create output directory"),
    ("exists", "already exists; overwrite it"),
    ("is_input", "is an input"),
])
def test_bad_outputs(skymodel, tmp_path, capsys, kind, message):
    exists = tmp_path / "exists.csv"
    exists.write_text("an earlier product\n")
    out = {"unwritable": Path("/proc/lofar_hires_cands.csv"), "parent_is_a_file": exists / "sub" / "c.csv",
           "exists": exists, "is_input": skymodel}[kind]
    before = {p: sha256_file(p) for p in (skymodel, exists)}
    assert select("--skymodel", str(skymodel), "-o", str(out)) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0], errors
    assert {p: sha256_file(p) for p in (skymodel, exists)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.csv", "sky.skymodel"]
