"""``lofar-hires select skymodel`` and ``lofar-hires recipe dutch --calibrators`` from the command line.

``select skymodel`` writes the calibrators of the Dutch direction-dependent solve (de Jong et al.
2025, section 6.4.1) as a makesourcedb file that ``read_makesourcedb`` reads back with one patch per
calibrator and the table's fluxes (peak, else total) at 144 MHz; a table without main calibrators or
sources above 85 mJy/beam, and an existing output, are one-line errors with exit status 2.
``recipe dutch --calibrators`` takes the faintest calibrator's peak brightness: step 1 is 32 s below
300 mJy/beam (faintest 0.2 Jy) and 16 s when every calibrator is at least 0.3 Jy/beam.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.selection.table import CalibratorRow, write_table
from lofar_hires.selfcal.strategy import load_strategy

HEADER = "name,ra_deg,dec_deg,peak_flux_jy,total_flux_jy\n"


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if " ERROR " in line]


def catalogue(path: Path, rows: list[tuple[str, float, float, str, str]]) -> Path:
    path.write_text(HEADER + "".join(f"{n},{ra},{dec},{peak},{total}\n" for n, ra, dec, peak, total in rows))
    return path


def selection(path: Path, fluxes: dict[str, tuple[float | None, float | None]]) -> Path:
    """A selection table: the named calibrators are main (with peak, total flux), plus a bright weak one."""
    rows = [CalibratorRow(name, 242.0 + 0.3 * k, 55.0 + 0.1 * k, peak_flux_jy=peak, total_flux_jy=total,
                          origin="skymodel", score_rad=1.0 + 0.1 * k, category="main", solint_min=5.0)
            for k, (name, (peak, total)) in enumerate(fluxes.items())]
    rows.append(CalibratorRow("weak1", 243.5, 54.5, peak_flux_jy=3.0, origin="skymodel", score_rad=2.3,
                              category="weak"))
    return write_table(path, rows)


def test_select_skymodel_writes_one_patch_per_calibrator(tmp_path: Path, capsys):
    table = catalogue(tmp_path / "cat.csv", [("srcA", 242.5, 55.0, "0.5", "0.6"), ("srcB", 243.0, 55.2, "0.085", ""),
                                             ("srcC", 243.5, 54.8, "0.05", "0.2"), ("srcD", 242.9, 54.9, "", "3.0")])
    out = tmp_path / "dd" / "calibrators.skymodel"
    assert main(["select", "skymodel", str(table), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "2 calibrator(s)" in captured.err and "the faintest is srcB at 0.085 Jy" in captured.err
    model = read_makesourcedb(out)
    assert model.names == ["srcA", "srcB"] and model.patches == ["srcA", "srcB"]
    assert set(model.patch_positions) == {"srcA", "srcB"}
    np.testing.assert_allclose(model.i_jy, [0.5, 0.085])
    np.testing.assert_allclose(model.ref_freq_hz, 144.0e6)
    np.testing.assert_allclose(model.spectral_index[:, 0], -0.7)
    np.testing.assert_allclose(np.degrees(model.ra_rad), [242.5, 243.0], atol=1e-6)
    np.testing.assert_allclose(np.degrees(model.dec_rad), [55.0, 55.2], atol=1e-6)
    prov = json.loads((tmp_path / "dd" / "calibrators.provenance.json").read_text())
    assert prov["task"] == "select skymodel" and prov["parameters"]["calibrators"] == 2
    assert prov["parameters"]["settings"]["min_peak_flux_jy"] == 0.085
    assert prov["inputs"][0]["path"] == str(table.resolve())
    assert sorted(p.name for p in (tmp_path / "dd").iterdir()) == ["calibrators.provenance.json",
                                                                  "calibrators.skymodel"]


def test_select_skymodel_of_a_selection_table_and_set_threshold(tmp_path: Path):
    table = selection(tmp_path / "sel.csv", {"m1": (0.02, None), "m2": (None, 0.4)})
    out = tmp_path / "sel.skymodel"
    assert main(["select", "skymodel", str(table), "-o", str(out)]) == 0
    model = read_makesourcedb(out)
    assert model.patches == ["m1", "m2"]  # the main calibrators, not the bright weak one
    np.testing.assert_allclose(model.i_jy, [0.02, 0.4])
    # a catalogue with the threshold raised by --set
    cat = catalogue(tmp_path / "cat.csv", [("a", 242.5, 55.0, "0.5", ""), ("b", 243.0, 55.2, "0.09", "")])
    assert main(["select", "skymodel", str(cat), "-o", str(tmp_path / "cat.skymodel"), "--set",
                 "skymodel.min_peak_flux_jy=0.1", "--set", "skymodel.spectral_index=-0.8"]) == 0
    model = read_makesourcedb(tmp_path / "cat.skymodel")
    assert model.names == ["a"] and model.spectral_index[0, 0] == pytest.approx(-0.8)


def test_select_skymodel_without_calibrators_is_one_line_and_exit_2(tmp_path: Path, capfd):
    table = catalogue(tmp_path / "faint.csv", [("a", 242.5, 55.0, "0.05", "1.0"), ("b", 243.0, 55.2, "", "2.0")])
    out = tmp_path / "never.skymodel"
    assert main(["select", "skymodel", str(table), "-o", str(out)]) == 2
    (line,) = error_lines(capfd.readouterr().err)
    assert (f"calibrator table {table} has no main calibrator and no source with peak_flux_jy >= 0.085 Jy/beam"
            in line)
    assert not out.exists() and not (tmp_path / "never.provenance.json").exists()


def test_select_skymodel_refuses_a_main_calibrator_without_flux(tmp_path: Path, capfd):
    table = selection(tmp_path / "sel.csv", {"m1": (0.5, None), "fluxless": (None, None)})
    assert main(["select", "skymodel", str(table), "-o", str(tmp_path / "x.skymodel")]) == 2
    (line,) = error_lines(capfd.readouterr().err)
    assert "fluxless has no peak_flux_jy or total_flux_jy" in line
    assert not (tmp_path / "x.skymodel").exists()


def test_select_skymodel_refuses_an_existing_output(tmp_path: Path, capfd):
    table = catalogue(tmp_path / "cat.csv", [("a", 242.5, 55.0, "0.5", "")])
    out = tmp_path / "cal.skymodel"
    out.write_text("keep me\n")
    assert main(["select", "skymodel", str(table), "-o", str(out)]) == 2
    (line,) = error_lines(capfd.readouterr().err)
    assert "already exists" in line and "--overwrite" in line
    assert out.read_text() == "keep me\n" and not list(tmp_path.glob(".*partial*"))
    assert main(["select", "skymodel", str(table), "-o", str(out), "--overwrite"]) == 0
    assert read_makesourcedb(out).names == ["a"]


@pytest.mark.parametrize("fluxes, step1_s, gain_s", [
    ({"m1": (0.2, 0.5), "m2": (0.8, None), "m3": (None, 1.5)}, 32.0, 2400.0),  # faintest 0.2 Jy/beam
    ({"m1": (0.3, None), "m2": (0.8, None), "m3": (None, 1.5)}, 16.0, 1200.0),  # all >= 0.3 Jy/beam
], ids=["faintest-0.2", "all-bright"])
def test_recipe_dutch_takes_the_faintest_calibrator(tmp_path: Path, capsys, fluxes, step1_s, gain_s):
    table = selection(tmp_path / "sel.csv", fluxes)
    out = tmp_path / "dutch.yaml"
    assert main(["recipe", "dutch", "--calibrators", str(table), "--output", str(out), "--explain"]) == 0
    explained = capsys.readouterr().out
    strategy = load_strategy(out)
    assert [s.solint_s for s in strategy.solves] == [step1_s, 64.0, gain_s]
    faintest = min((p if p is not None else t) for p, t in fluxes.values())
    assert strategy.recipe.kind == "dutch" and strategy.recipe.peak_flux_jy == pytest.approx(faintest)
    assert "the faintest of the 3 calibrator(s) of sel.csv" in strategy.description
    assert "the faintest of the 3 calibrator(s) of sel.csv" in explained
    assert f"# Self-calibration strategy made by `lofar-hires recipe dutch --calibrators {table}`" in out.read_text()


def test_recipe_dutch_with_the_peak_brightness_of_a_catalogue(tmp_path: Path):
    """A plain catalogue: the faintest of its sources at or above 85 mJy/beam (0.09), not the fainter 0.05."""
    table = catalogue(tmp_path / "cat.csv", [("a", 242.5, 55.0, "0.5", ""), ("b", 243.0, 55.2, "0.09", ""),
                                             ("c", 243.5, 54.8, "0.05", "")])
    assert main(["recipe", "dutch", "--calibrators", str(table), "--output", str(tmp_path / "d.yaml")]) == 0
    assert load_strategy(tmp_path / "d.yaml").recipe.peak_flux_jy == pytest.approx(0.09)


@pytest.mark.parametrize("argv, named", [
    (["dutch", "--peak-flux", "0.5", "--calibrators", "{table}"], "--calibrators"),
    (["international", "--sigma-c", "0.8", "--calibrators", "{table}"], "--calibrators"),
    (["dutch", "--calibrators", "{faint}"], "no main calibrator"),
    (["dutch", "--calibrators", "{missing}"], "does not exist"),
], ids=["both", "international", "no-calibrator", "missing-table"])
def test_recipe_calibrators_bad_input_is_one_line_and_exit_2(tmp_path: Path, capfd, argv, named):
    paths = {"{table}": str(catalogue(tmp_path / "cat.csv", [("a", 242.5, 55.0, "0.5", "")])),
             "{faint}": str(catalogue(tmp_path / "faint.csv", [("a", 242.5, 55.0, "0.01", "")])),
             "{missing}": str(tmp_path / "missing.csv")}
    out = tmp_path / "never.yaml"
    assert main(["recipe", *[paths.get(a, a) for a in argv], "--output", str(out)]) == 2
    (line,) = error_lines(capfd.readouterr().err)
    assert named in line
    assert not out.exists()
