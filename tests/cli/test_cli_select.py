"""``lofar-hires select score`` and ``select classify`` from the command line, with bad input.

Runs on tiny simulations (real DP3). The ``tiny`` preset itself gives a score of 7 phase values
(one 10-minute interval, seven channel pairs, one distant international station), far fewer than a
main calibrator needs to be told from noise: ``select score`` refuses it before any DP3 run. A
variant with 32 channels and a 1-minute score interval (620 values) scores a 1 Jy source as a main
calibrator, and on a noise-only field rejects every candidate as not significant; the candidates
carry hostile names (``../a/b``, ``/abs``, 300 characters), which become sanitised file names inside
the solutions directory. Then one-line errors with exit status 2, untouched inputs and no product for
every class of bad input (table-driven).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from lofar_hires.cli import main
from lofar_hires.io.names import safe_name
from lofar_hires.selection.table import CalibratorRow, read_table, write_table

#: A 1 Jy source 0.016 deg from the pointing (242.75, 55.0), and a noise-only field (1 mJy far out).
SOURCE_DEG = (242.77, 55.01)
SKY = ("FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, ReferenceFrequency='150e6', SpectralIndex='[]', "
       "LogarithmicSI='true', MajorAxis, MinorAxis, Orientation\n"
       "{name}, POINT, {name}, {ra}, {dec}, {flux}, 0, 0, 0, 150e6, [-0.7], true, 0, 0, 0\n")
#: Noise and beam only, 32 channels with bandwidth and time smearing, no calibrator observation.
CLEAN = ("calibrator.enabled=false", "observation.n_chan=32", "observation.smearing=true",
         *(f"corruptions.{c}.enabled=false" for c in ("clock", "polalign", "bandpass", "faraday", "tec", "tecscreen",
                                                       "scintillation")))
#: 10 one-minute intervals x 31 channel pairs x 2 international stations = 620 values (at least 376 needed).
SCORE_SETTINGS = ["--set", "score.stations=international", "--set", "score.solint_s=60"]
LONG_NAME = "J" + "1234567890" * 30  # 301 characters


@pytest.fixture(scope="module")
def tiny(simulated):
    return simulated("tiny_select", preset="tiny", overrides=["calibrator.enabled=false"])


def field(simulated, tmp_path_factory, name: str, flux_jy: float, ra_deg: float, dec_deg: float):
    sky = tmp_path_factory.mktemp(name) / f"{name}.skymodel"
    sky.write_text(SKY.format(name="src", ra=ra_deg, dec=dec_deg, flux=flux_jy))
    return simulated(f"tiny32_{name}", preset="tiny", overrides=[*CLEAN, f"sky.skymodel={sky}"])


@pytest.fixture(scope="module")
def clean(simulated, tmp_path_factory):
    """One 1 Jy source near the pointing."""
    return field(simulated, tmp_path_factory, "one_source", 1.0, *SOURCE_DEG)


@pytest.fixture(scope="module")
def noise_only(simulated, tmp_path_factory):
    """Thermal noise and a 1 mJy source 0.6 deg out: every candidate position is a noise candidate."""
    return field(simulated, tmp_path_factory, "noise_only", 0.001, 243.5, 55.5)


@pytest.fixture(scope="module")
def bad_ms(tiny, tmp_path_factory) -> dict[str, Path]:
    """A zero-row and an all-flagged copy of the tiny MS."""
    from casacore.tables import table, taql

    root = tmp_path_factory.mktemp("bad_ms")
    ms = tiny.observations[0].ms
    zero = root / "zero_rows.MS"
    taql(f"select from {ms} where ANTENNA1 < 0 giving {zero} as plain")
    flagged = root / "all_flagged.MS"
    shutil.copytree(ms, flagged)
    with table(str(flagged), readonly=False, ack=False) as t:
        t.putcol("FLAG", np.ones_like(t.getcol("FLAG")))
    return {"zero": zero, "flagged": flagged}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "ERROR" in line]
    assert len(errors) == 1, err
    return errors[0]


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))



# ------------------------------------------------------------------------------ scores and their noise


def test_the_tiny_preset_has_too_few_values_and_is_refused_before_dp3(tiny, tmp_path, capsys):
    cands = write_table(tmp_path / "c.csv", [CalibratorRow("empty", 242.6, 55.2)])
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(tiny.observations[0].ms), "--candidates", str(cands), "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert ("the phasediff score needs at least 376 phase values to tell a main calibrator (sigma_c < 2 rad) from "
            "noise at false-alarm probability 0.001 (now 7: 1 solution interval of 10 min x 7 channel pairs x 1 "
            "score station); use longer data") in line
    assert listing(tmp_path) == ["c.csv"]  # no DP3 run, no log, no product


def score_into(work: Path, ms: Path, rows: list[CalibratorRow], capsys) -> dict[str, CalibratorRow]:
    """``select score`` then ``select classify`` in ``work``; the classified rows. Nothing may appear outside."""
    work.mkdir()
    cands = write_table(work / "candidates.csv", rows)
    before = listing(work.parent)
    assert main(["select", "score", str(ms), "--candidates", str(cands), "-o", str(work / "scores.csv"),
                 *SCORE_SETTINGS, "--solutions-dir", str(work / "sol")]) == 0
    assert main(["select", "classify", str(work / "scores.csv"), "-o", str(work / "sel.csv")]) == 0
    capsys.readouterr()
    assert [p for p in listing(work.parent) if p not in before and not p.startswith(f"{work.name}/")] == []
    return {r.name: r for r in read_table(work / "sel.csv")}


def check_noise_columns(row: CalibratorRow) -> None:
    assert (row.n_values, row.false_alarm) == (620, 1e-3)
    assert row.noise_median_rad == pytest.approx(2.60, abs=0.03)
    assert row.noise_threshold_rad == pytest.approx(2.12, abs=0.02)


def test_a_source_is_main_and_its_hostile_name_a_safe_file_name(clean, tmp_path, capsys):
    work = tmp_path / "work"
    rows = score_into(work, clean.observations[0].ms, [CalibratorRow("../a/b", *SOURCE_DEG),
                                                       CalibratorRow("far_away", 250.0, 55.0)], capsys)
    src = rows["../a/b"]
    assert src.category == "main" and src.score_rad < 0.6 and src.reason.startswith("sigma_c")
    check_noise_columns(src)
    far = rows["far_away"]
    assert far.category == "rejected" and far.n_values is None and "from the phase centre" in far.reason
    assert [p.name for p in (work / "sol").glob("*.h5")] == ["a_b.phasediff.h5"]
    assert not (work / "a").exists() and not (tmp_path / "a").exists()

    details = json.loads((work / "scores.json").read_text())
    assert details["plan"] == {"n_values": 620, "min_values": 376, "main_max_rad": 2.0,
                               "described": "10 solution intervals of 1 min x 31 channel pairs x 2 score stations"}
    assert details["noise"]["draws"] == 4000 and details["noise"]["false_alarm"] == 1e-3
    (scored,) = [c for c in details["candidates"] if c["name"] == "../a/b"]
    assert scored["file_stem"] == "a_b" and scored["n_effective"] == pytest.approx(620, rel=0.05)
    prov = json.loads((work / "scores.provenance.json").read_text())
    assert [r["tool"] for r in prov["tool_runs"]] == ["DP3.py", "DP3.py"]

    # Existing solutions are kept unless --overwrite.
    h5 = work / "sol" / "a_b.phasediff.h5"
    digest = tree_sha256(h5)
    assert main(["select", "score", str(clean.observations[0].ms), "--candidates", str(work / "candidates.csv"),
                 "-o", str(work / "again.csv"), *SCORE_SETTINGS, "--solutions-dir", str(work / "sol"),
                 "--name", "../a/b"]) == 2
    assert "a_b.phasediff.h5 already exists; overwrite it" in one_error_line(capsys)
    assert tree_sha256(h5) == digest and not (work / "again.csv").exists()


def test_noise_candidates_are_rejected_as_not_significant(noise_only, tmp_path, capsys):
    positions = [(242.77, 55.01), (242.45, 54.80), (243.15, 54.85)]
    names = ["/abs", LONG_NAME, "plain"]
    work = tmp_path / "work"
    rows = score_into(work, noise_only.observations[0].ms,
                      [CalibratorRow(n, *pos) for n, pos in zip(names, positions)], capsys)
    for name in names:
        row = rows[name]
        check_noise_columns(row)
        assert row.category == "rejected" and row.score_rad >= row.noise_threshold_rad, row
        assert row.reason == (f"not significant: sigma_c {row.score_rad:.2f} >= noise level "
                              f"{row.noise_threshold_rad:.2f} at false-alarm 0.001 for 620 values")
    long_stem = safe_name(LONG_NAME)
    assert len(long_stem) <= 80
    assert sorted(p.name for p in (work / "sol").glob("*.h5")) == sorted(
        ["abs.phasediff.h5", f"{long_stem}.phasediff.h5", "plain.phasediff.h5"])
    assert not Path("/abs.phasediff.h5").exists()


@pytest.mark.parametrize("names, message", [
    (["a/b", "a_b"], "calibrator names 'a/b' and 'a_b' both become the file name 'a_b'"),
    (["x", "../x"], "calibrator names 'x' and '../x' both become the file name 'x'"),
    (["Cal", "cal"], "both become the file name"),
    (["..", "ok"], "calibrator name '..' has no character usable in a file name"),
    (["/", "ok"], "calibrator name '/' has no character usable in a file name"),
], ids=["slash", "dotdot", "case", "dots_only", "slash_only"])
def test_names_that_cannot_be_file_names_are_refused_before_dp3(clean, tmp_path, capsys, names, message):
    cands = write_table(tmp_path / "c.csv", [CalibratorRow(n, 242.8, 55.0 + 0.01 * i) for i, n in enumerate(names)])
    before = listing(tmp_path.parent)
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(clean.observations[0].ms), "--candidates", str(cands), "-o", str(out),
                 *SCORE_SETTINGS, "--solutions-dir", str(tmp_path / "sol")]) == 2
    assert message in one_error_line(capsys)
    assert listing(tmp_path.parent) == before


@pytest.mark.parametrize("text, message", [
    ("name,ra_deg,dec_deg\n,242.8,55.0\n", "calibrator name '' is empty"),
    ("name,ra_deg,dec_deg\na\x00b,242.8,55.0\n", "control characters"),
    ("name,ra_deg,dec_deg\na\tb,242.8,55.0\n", "control characters"),
], ids=["empty", "nul", "tab"])
def test_unusable_names_in_a_table_are_refused(clean, tmp_path, capsys, text, message):
    cands = tmp_path / "c.csv"
    cands.write_text(text)
    for args in (["select", "score", str(clean.observations[0].ms), "--candidates", str(cands), "-o",
                  str(tmp_path / "s.csv")], ["select", "classify", str(cands), "-o", str(tmp_path / "k.csv")],
                 ["facets", str(cands), "-o", str(tmp_path / "f"), "--centre-deg", "242.75", "55"]):
        assert main(args) == 2
        assert message in one_error_line(capsys)
    assert listing(tmp_path) == ["c.csv"]


def test_classify_keeps_hostile_names_in_the_table_and_writes_only_its_outputs(tmp_path):
    names = ["../x", "/abs", "a/b", LONG_NAME]
    work = tmp_path / "w"
    work.mkdir()
    table = write_table(work / "s.csv", [CalibratorRow(n, 10.0 + i, 50.0, score_rad=1.0, n_values=1000,
                                                       noise_median_rad=2.7, noise_threshold_rad=2.2, false_alarm=1e-3)
                                         for i, n in enumerate(names)])
    before = listing(tmp_path)
    assert main(["select", "classify", str(table), "-o", str(work / "sel.csv")]) == 0
    assert sorted(set(listing(tmp_path)) - set(before)) == ["w/sel.csv", "w/sel.provenance.json"]
    assert sorted(r.name for r in read_table(work / "sel.csv") if r.category == "main") == sorted(names)


# ---------------------------------------------------------------------------------------------- bad input


def test_score_refuses_an_ms_without_international_stations(simulated, tmp_path, capsys):
    dutch = simulated("tiny_dutch", preset="tiny", overrides=["calibrator.enabled=false",
                                                               "stations.international=[]"])
    cands = write_table(tmp_path / "c.csv", [CalibratorRow("a", 242.8, 55.0)])
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(dutch.observations[0].ms), "--candidates", str(cands), "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert "score.stations" in line and "international" in line
    assert not out.exists() and not list(tmp_path.glob(".scores*"))


def test_score_refuses_an_unknown_name(clean, tmp_path, capsys):
    cands = write_table(tmp_path / "c.csv", [CalibratorRow("a", 242.8, 55.0)])
    out = tmp_path / "scores.csv"
    assert main(["select", "score", str(clean.observations[0].ms), "--candidates", str(cands), "--name", "nope",
                 "-o", str(out)]) == 2
    assert "candidate 'nope' is not in the candidate table" in one_error_line(capsys)


def test_classify_refuses_bad_manual_edits(tmp_path, capsys):
    table = write_table(tmp_path / "s.csv", [CalibratorRow("a", 10.0, 50.0, score_rad=1.0)])
    out = tmp_path / "sel.csv"
    assert main(["select", "classify", str(table), "-o", str(out), "--remove", "b"]) == 2
    assert "no candidate named b" in one_error_line(capsys)
    assert main(["select", "classify", str(table), "-o", str(out), "--add", "a,10,50"]) == 2
    assert "already exists" in one_error_line(capsys)
    assert main(["select", "classify", str(table), "-o", str(out), "--add", "x,10"]) == 2
    assert "NAME,RA,DEC" in one_error_line(capsys)
    # Scores measured with different solution intervals cannot be classified together.
    other = write_table(tmp_path / "t.csv", [CalibratorRow("b", 11.0, 50.0, score_rad=1.0)])
    table.with_suffix(".json").write_text(json.dumps({"settings": {"solint_min": 10.0}}))
    other.with_suffix(".json").write_text(json.dumps({"settings": {"solint_min": 5.0}}))
    assert main(["select", "classify", str(table), str(other), "-o", str(out)]) == 2
    assert "different solution intervals" in one_error_line(capsys)
    assert not out.exists()


def test_classify_uses_the_recorded_solution_interval(tmp_path):
    table = write_table(tmp_path / "s.csv", [CalibratorRow("a", 10.0, 50.0, score_rad=1.75)])
    table.with_suffix(".json").write_text(json.dumps({"settings": {"solint_min": 5.0}}))
    out = tmp_path / "sel.csv"
    assert main(["select", "classify", str(table), "-o", str(out)]) == 0
    assert read_table(out)[0].solint_min == pytest.approx(5.0)


#: Bad tables: file content (bytes or text) and the message.
BAD_TABLES = {
    "missing": (None, "does not exist"),
    "empty": ("", "is not a calibrator table (no header with the column(s) name, ra_deg, dec_deg)"),
    "header_only": ("name,ra_deg,dec_deg\n", None),  # no row: message depends on the command
    "garbage": (bytes(range(256)) * 8, "is not a calibrator table (not UTF-8 text)"),
    "wrong_columns": ("source,ra,dec\na,1,2\n", "no header with the column(s) name, ra_deg, dec_deg"),
    "ra_text": ("name,ra_deg,dec_deg\na,16h11m,55.0\n", "line 2: ra_deg/dec_deg are not numbers"),
    "ra_out_of_range": ("name,ra_deg,dec_deg\na,400.0,55.0\n", "a: ra_deg 400.0 is outside [0, 360)"),
    "ra_negative": ("name,ra_deg,dec_deg\na,-117.25,55.0\n", "a: ra_deg -117.25 is outside [0, 360)"),
    "dec_out_of_range": ("name,ra_deg,dec_deg\na,242.0,155.0\n", "a: dec_deg 155.0 is outside [-90, 90]"),
}
EMPTY_MESSAGE = {"score": "is empty; nothing to score", "classify": "no candidate in the scored tables"}


def write_bad_table(path: Path, kind: str) -> Path:
    content = BAD_TABLES[kind][0]
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    return path


def run_and_check(args: list[str], inputs: list[Path], outputs: list[Path], message: str, capsys) -> None:
    """Exit 2 with ``message`` in one line, inputs unchanged, no output or partial file."""
    sums = {p: tree_sha256(p) for p in inputs if p.exists()}
    assert main(args) == 2
    assert message in one_error_line(capsys)
    assert {p: tree_sha256(p) for p in inputs if p.exists()} == sums
    for out in outputs:
        assert not out.exists() or out.name == "exists.csv", out
        assert not [p for p in out.parent.glob(f".{out.stem}*")], list(out.parent.iterdir())


@pytest.mark.parametrize("command", ["score", "classify"])
@pytest.mark.parametrize("kind", list(BAD_TABLES))
def test_bad_tables(clean, tmp_path, capsys, command, kind):
    table = write_bad_table(tmp_path / "t.csv", kind)
    message = BAD_TABLES[kind][1] or EMPTY_MESSAGE[command]
    out = tmp_path / "o.csv"
    args = (["select", "score", str(clean.observations[0].ms), "--candidates", str(table), *SCORE_SETTINGS]
            if command == "score" else ["select", "classify", str(table)])
    run_and_check([*args, "-o", str(out)], [table], [out], message, capsys)


@pytest.mark.parametrize("kind, message", [
    ("zero", "has no rows (no data to work on)"),
    ("flagged", "all data are flagged (nothing to work on)"),
    ("missing", "does not exist"),
    ("not_an_ms", "is not a measurement set"),
    ("too_few_values", "the phasediff score needs at least 376 phase values"),
])
def test_score_refuses_bad_measurement_sets(tiny, bad_ms, tmp_path, capsys, kind, message):
    ms = {"zero": bad_ms.get("zero"), "flagged": bad_ms.get("flagged"), "missing": tmp_path / "missing.MS",
          "not_an_ms": tmp_path, "too_few_values": tiny.observations[0].ms}[kind]
    table = write_table(tmp_path / "c.csv", [CalibratorRow("a", 242.8, 55.0)])
    out = tmp_path / "o.csv"
    inputs = [table] + ([ms] if kind != "not_an_ms" else [])
    run_and_check(["select", "score", str(ms), "--candidates", str(table), "-o", str(out)], inputs, [out], message,
                  capsys)


@pytest.mark.parametrize("command", ["score", "classify"])
@pytest.mark.parametrize("kind, message", [
    ("unwritable", "not writable"),
    ("exists", "already exists; overwrite it"),
    ("parent_is_a_file", "cannot create output directory"),
    ("is_input", "is an input"),
])
def test_bad_outputs(clean, tmp_path, capsys, command, kind, message):
    table = write_table(tmp_path / "c.csv", [CalibratorRow("a", 242.8, 55.0, score_rad=1.0)])
    exists = tmp_path / "exists.csv"
    exists.write_text("an earlier product\n")
    out = {"unwritable": Path("/proc/lofar_hires_select.csv"), "exists": exists,
           "parent_is_a_file": exists / "sub" / "o.csv", "is_input": table}[kind]
    args = (["select", "score", str(clean.observations[0].ms), "--candidates", str(table), *SCORE_SETTINGS]
            if command == "score" else ["select", "classify", str(table)])
    run_and_check([*args, "-o", str(out)], [table, exists], [] if kind in ("exists", "is_input") else [out],
                  message, capsys)
    assert exists.read_text() == "an earlier product\n"


def test_unwritable_solutions_directory(clean, tmp_path, capsys):
    table = write_table(tmp_path / "c.csv", [CalibratorRow("a", 242.8, 55.0)])
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = tmp_path / "o.csv"
    run_and_check(["select", "score", str(clean.observations[0].ms), "--candidates", str(table), "-o", str(out),
                   *SCORE_SETTINGS, "--solutions-dir", str(blocker)], [table, blocker], [out],
                  "is not a directory", capsys)
