"""``lofar-hires facets``: the facet layout from a calibrator table, from the command line.

Checks the products (region file, CSV, JSON, PNG, provenance) against the library
and the table, the field centre and data resolution taken from a measurement set,
source counting, and that bad input gives one line, exit status 2 and no output.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, tree_sha256
from lofar_hires.cli import main
from lofar_hires.io.ms import read_ms_info
from lofar_hires.io.regions import read_ds9_polygons
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.selection.facets import ClipRegion, make_facets
from lofar_hires.selection.table import CalibratorRow, write_table

CENTRE = (242.75, 55.0)

#: (name, RA, Dec, score, category)
ROWS = [
    ("calA", 242.95, 55.30, 0.9, "main"),
    ("calB", 242.30, 55.10, 1.4, "main"),
    ("calC", 243.10, 54.70, 1.8, "main"),
    ("calD", 242.40, 54.60, None, "main"),
    ("calFar", 246.00, 55.00, 1.0, "main"),  # 2 deg east: outside a 2.5 deg box
    ("weak1", 242.90, 55.35, 2.2, "weak"),
    ("weak2", 242.35, 54.55, 2.5, "weak"),
    ("rej1", 242.75, 55.00, 2.9, "rejected"),
]


def make_table(path: Path, rows=ROWS) -> Path:
    return write_table(path, [CalibratorRow(name=n, ra_deg=ra, dec_deg=dec, score_rad=s, category=c,
                                            peak_flux_jy=0.5, total_flux_jy=0.6) for n, ra, dec, s, c in rows])


@pytest.fixture()
def table(tmp_path) -> Path:
    return make_table(tmp_path / "calibrators.csv")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_task_is_registered_and_has_help(capsys):
    assert main(["facets", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: lofar-hires facets" in out and "--centre-deg RA DEC" in out


def test_products_match_the_library(table, tmp_path, capsys):
    out = tmp_path / "layout"
    args = ["facets", str(table), "-o", str(out), "--centre-deg", *map(str, CENTRE), "--integration-s", "1",
            "--chan-width-hz", "12207.03125", "--freq-hz", "120e6", "--resolution-arcsec", "6"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "1 calibrator(s) outside the clip region (box 2.5 deg wide) left out: calFar" in captured.err
    assert "facet calA: centre RA" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["facets.csv", "facets.json", "facets.png", "facets.reg",
                                                     "provenance.json"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]

    main_rows = [r for r in ROWS if r[4] == "main"]
    want = make_facets([r[0] for r in main_rows], [r[1] for r in main_rows], [r[2] for r in main_rows], CENTRE,
                       ClipRegion("box", 2.5), 0.05)
    csv_rows = read_csv(out / "facets.csv")
    assert [r["name"] for r in csv_rows] == want.names == ["calA", "calB", "calC", "calD"]
    for row, facet in zip(csv_rows, want.facets):
        assert float(row["area_deg2"]) == facet.area_deg2
        assert (float(row["centre_ra_deg"]), float(row["centre_dec_deg"])) == (facet.centre_ra_deg,
                                                                               facet.centre_dec_deg)
        assert int(row["n_vertices"]) == len(facet.vertices_deg)
        assert row["n_sources"] == ""  # no --sources
        assert int(row["avg_time_factor"]) >= 1 and row["smearing_ok"] == "True"
    assert {r["name"]: r["weak_calibrators"] for r in csv_rows} == {"calA": "weak1", "calB": "", "calC": "",
                                                                   "calD": "weak2"}
    assert {r["name"]: r["score_rad"] for r in csv_rows} == {"calA": "0.9", "calB": "1.4", "calC": "1.8", "calD": ""}

    doc = json.loads((out / "facets.json").read_text())
    assert doc["centre_deg"] == list(CENTRE) and doc["clip"] == {"shape": "box", "size_deg": 2.5}
    assert doc["dropped_calibrators"] == ["calFar"]
    assert doc["settings"]["data"] == {"integration_s": 1.0, "chan_width_hz": 12207.03125, "freq_min_hz": 120e6,
                                       "n_chan": None}
    for rec, facet in zip(doc["facets"], want.facets):
        np.testing.assert_array_equal(np.array(rec["vertices_deg"]), facet.vertices_deg)
        assert rec["averaging"]["distance_deg"] == pytest.approx(facet.radius_deg)

    regions = read_ds9_polygons(out / "facets.reg")
    assert [r.name for r in regions] == want.names
    for region, row in zip(regions, main_rows):
        assert region.point_deg == pytest.approx((row[1], row[2]), abs=1e-7)
    assert (out / "facets.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["task"] == "facets" and Path(prov["inputs"][0]["path"]).name == "calibrators.csv"
    assert prov["inputs"][0]["sha256"] and prov["parameters"]["settings"]["clip"] == "box 2.5 deg wide"


def test_centre_and_resolution_from_ms_and_sources(simulated, tmp_path, capsys):
    sim = simulated("facets_cli", preset="tiny", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",))
    ms = sim.targets()[0].ms
    sky = read_makesourcedb(sim.sky_model)
    ra, dec = np.degrees(sky.ra_rad), np.degrees(sky.dec_rad)
    brightest = np.argsort(-sky.i_jy)[:3]
    rows = [(sky.names[i], float(ra[i]), float(dec[i]), 1.0, "main") for i in brightest]
    table = make_table(tmp_path / "cal.csv", rows)
    out = tmp_path / "layout"
    assert main(["facets", str(table), "-o", str(out), "--msin", str(ms), "--circle-deg", "0.45",
                 "--sources", str(sim.sky_model), "--resolution-arcsec", "20"]) == 0
    err = capsys.readouterr().err
    doc = json.loads((out / "facets.json").read_text())
    assert doc["centre_deg"] == pytest.approx([242.75, 55.0], abs=1e-9)
    info = read_ms_info(ms)
    assert doc["settings"]["data"] == {"integration_s": 10.0, "chan_width_hz": 390625.0,
                                       "freq_min_hz": float(info.freqs_hz.min()), "n_chan": 8}
    csv_rows = read_csv(out / "facets.csv")
    assert all(8 % int(r["avg_chan_factor"]) == 0 for r in csv_rows)
    # Sources: counted per facet; those beyond the 0.45 deg circle reported.
    sep = np.degrees(np.arccos(np.clip(np.sin(np.radians(dec)) * np.sin(np.radians(55.0)) + np.cos(np.radians(dec))
                                       * np.cos(np.radians(55.0)) * np.cos(np.radians(ra - 242.75)), -1, 1)))
    far = sorted(n for n, s in zip(sky.names, sep) if s > 0.45)
    assert sorted(doc["sources_outside"]) == far
    assert sum(int(r["n_sources"]) for r in csv_rows) == len(sky) - len(far)
    assert far and f"{len(far)} of {len(sky)} source(s) of {sim.sky_model} lie in no facet" in err


BAD = [
    (["{table}", "-o", "{out}"], "one of the arguments --msin --centre-deg is required"),
    (["{table}", "-o", "{out}", "--centre-deg", "242", "55", "--msin", "{table}"],
     "argument --msin: not allowed with argument --centre-deg"),
    (["{table}", "-o", "{out}", "--centre-deg", "242", "55", "--box-deg", "2", "--circle-deg", "1"],
     "argument --circle-deg: not allowed with argument --box-deg"),
    (["{table}", "-o", "{out}", "--centre-deg", "242", "95"], "centre_deg 242.0 95.0 is not a sky position"),
    (["{nomain}", "-o", "{out}", "--centre-deg", "242.75", "55"], "has no calibrator of category main"),
    (["{dupes}", "-o", "{out}", "--centre-deg", "242.75", "55"],
     "calibrators calA and calA2 are 0.36 arcsec apart (less than 1 arcsec); keep only one of them"),
    (["{table}", "-o", "{out}", "--centre-deg", "10", "-30"], "no main calibrator lies inside the clip region"),
    (["{table}", "-o", "{out}", "--centre-deg", "242.75", "55", "--integration-s", "1"],
     "integration_s given without chan_width_hz, freq_hz; give all three (or a measurement set)"),
    (["{table}", "-o", "{out}", "--centre-deg", "242.75", "55", "--box-deg", "-1"],
     "box_deg must be a positive number, got -1.0"),
    (["{table}", "-o", "{out}", "--centre-deg", "242.75", "55", "--max-smearing-loss", "5"],
     "max_smearing_loss is a fraction in (0, 1), got 5.0"),
    (["{missing}", "-o", "{out}", "--centre-deg", "242.75", "55"], "does not exist"),
    (["{table}", "-o", "{out}", "--msin", "{missing}"], "does not exist"),
    (["{table}", "-o", "{out}", "--centre-deg", "242.75", "55", "--sources", "{table}"],
     "no FORMAT line before the first component"),
    (["{table}", "-o", "{table}", "--centre-deg", "242.75", "55", "--overwrite"], "is an input"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[
    "no-centre", "two-centres", "two-clips", "bad-centre", "no-main", "duplicates", "all-outside",
    "partial-resolution", "bad-box", "bad-loss", "missing-table", "missing-ms", "bad-sources", "output-is-input"])
def test_bad_input_exits_2_with_one_line(table, tmp_path, capsys, args, message):
    nomain = make_table(tmp_path / "nomain.csv", [r for r in ROWS if r[4] != "main"])
    dupes = make_table(tmp_path / "dupes.csv", ROWS[:1] + [("calA2", 242.95, 55.3001, 1.0, "main")] + ROWS[1:])
    paths = {"table": str(table), "out": str(tmp_path / "out"), "nomain": str(nomain), "dupes": str(dupes),
             "missing": str(tmp_path / "missing.csv")}
    before = table.read_bytes()
    code = main(["facets", *[a.format(**paths) for a in args]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()
    assert table.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_existing_output_needs_overwrite(table, tmp_path, capsys):
    out = tmp_path / "layout"
    out.mkdir()
    (out / "earlier.txt").write_text("earlier product\n")
    args = ["facets", str(table), "-o", str(out), "--centre-deg", *map(str, CENTRE)]
    assert main(args) == 2
    assert "overwrite it or choose another output" in capsys.readouterr().err
    assert (out / "earlier.txt").read_text() == "earlier product\n"
    assert main([*args, "--overwrite"]) == 0
    assert not (out / "earlier.txt").exists() and (out / "facets.reg").is_file()


# ---------------------------------------------------------------------------- names and every bad input


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_hostile_names_stay_labels_and_write_nothing_outside(tmp_path):
    long_name = "J" + "1234567890" * 30
    rows = [("../x", 242.95, 55.30, 0.9, "main"), ("/abs", 242.30, 55.10, 1.4, "main"),
            (long_name, 243.10, 54.70, 1.8, "main"), ("a/b", 242.90, 55.35, 2.2, "weak")]
    work = tmp_path / "work"
    work.mkdir()
    table = make_table(work / "cal.csv", rows)
    before = listing(tmp_path)
    assert main(["facets", str(table), "-o", str(work / "layout"), "--centre-deg", *map(str, CENTRE)]) == 0
    assert sorted(set(listing(tmp_path)) - set(before)) == sorted(["work/layout"] + [f"work/layout/{p}" for p in (
        "facets.csv", "facets.json", "facets.png", "facets.reg", "provenance.json")])
    assert [r.name for r in read_ds9_polygons(work / "layout" / "facets.reg")] == ["../x", "/abs", long_name]
    assert {r["name"]: r["weak_calibrators"] for r in read_csv(work / "layout" / "facets.csv")}["../x"] == "a/b"


@pytest.fixture(scope="module")
def bad_ms(simulated, tmp_path_factory) -> dict[str, Path]:
    """A zero-row and an all-flagged copy of a tiny MS."""
    import shutil

    from casacore.tables import table, taql

    sim = simulated("facets_cli", preset="tiny", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",))
    root = tmp_path_factory.mktemp("facets_bad_ms")
    zero, flagged = root / "zero_rows.MS", root / "all_flagged.MS"
    taql(f"select from {sim.targets()[0].ms} where ANTENNA1 < 0 giving {zero} as plain")
    shutil.copytree(sim.targets()[0].ms, flagged)
    with table(str(flagged), readonly=False, ack=False) as t:
        t.putcol("FLAG", np.ones_like(t.getcol("FLAG")))
    return {"zero": zero, "flagged": flagged}


#: Bad calibrator tables: content and message.
BAD_TABLES = {
    "empty": ("", "no header with the column(s) name, ra_deg, dec_deg"),
    "garbage": (bytes(range(256)) * 8, "is not a calibrator table (not UTF-8 text)"),
    "wrong_columns": ("source,ra,dec\na,1,2\n", "no header with the column(s) name, ra_deg, dec_deg"),
    "ra_text": ("name,ra_deg,dec_deg,category\na,16h11m,55.0,main\n", "ra_deg/dec_deg are not numbers"),
    "ra_out_of_range": ("name,ra_deg,dec_deg,category\na,400.0,55.0,main\n", "ra_deg 400.0 is outside [0, 360)"),
    "header_only": ("name,ra_deg,dec_deg,category\n", "has no calibrator of category main"),
    "nul_name": ("name,ra_deg,dec_deg,category\na\x00b,242.8,55.0,main\n", "control characters"),
}



def run_bad(args: list[str], inputs: list[Path], out: Path, message: str, capsys) -> None:
    sums = {p: tree_sha256(p) for p in inputs}
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "ERROR" in line]
    assert len(err) == 1 and message in err[0], err
    assert {p: tree_sha256(p) for p in inputs} == sums
    assert not out.exists() and not [p for p in out.parent.iterdir() if ".partial-" in p.name]


@pytest.mark.parametrize("kind", list(BAD_TABLES))
def test_bad_tables(tmp_path, capsys, kind):
    content, message = BAD_TABLES[kind]
    table = tmp_path / "t.csv"
    table.write_bytes(content) if isinstance(content, bytes) else table.write_text(content)
    out = tmp_path / "layout"
    run_bad(["facets", str(table), "-o", str(out), "--centre-deg", *map(str, CENTRE)], [table], out, message, capsys)


@pytest.mark.parametrize("kind, message", [
    ("zero", "has no rows (no data to work on)"),
    ("flagged", "all data are flagged (nothing to work on)"),
    ("not_an_ms", "is not a measurement set"),
])
def test_bad_measurement_sets(table, bad_ms, tmp_path, capsys, kind, message):
    empty_dir = tmp_path / "not.MS"
    empty_dir.mkdir()
    ms = {"zero": bad_ms["zero"], "flagged": bad_ms["flagged"], "not_an_ms": empty_dir}[kind]
    out = tmp_path / "layout"
    run_bad(["facets", str(table), "-o", str(out), "--msin", str(ms)], [table, ms], out, message, capsys)


@pytest.mark.parametrize("centre, message", [
    (("400", "55"), "centre_deg 400.0 55.0 is not a sky position in degrees (RA must be in [0, 360)"),
    (("-117.25", "55"), "RA must be in [0, 360)"),
    (("nan", "55"), "is not a sky position"),
], ids=["ra_400", "ra_negative", "nan"])
def test_centre_in_wrong_units(table, tmp_path, capsys, centre, message):
    out = tmp_path / "layout"
    run_bad(["facets", str(table), "-o", str(out), "--centre-deg", *centre], [table], out, message, capsys)


@pytest.mark.parametrize("kind, message", [
    ("unwritable", "not writable"),
    ("parent_is_a_file", "cannot create output directory"),
])
def test_unwritable_output(table, tmp_path, capsys, kind, message):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file\n")
    out = {"unwritable": Path("/proc/lofar_hires_facets"), "parent_is_a_file": blocker / "sub" / "layout"}[kind]
    sums = tree_sha256(table)
    assert main(["facets", str(table), "-o", str(out), "--centre-deg", *map(str, CENTRE)]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "ERROR" in line]
    assert len(err) == 1 and message in err[0], err
    assert tree_sha256(table) == sums and sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "calibrators.csv"]
