"""``lofar-hires compress``: a given bit rate, the report and provenance, the input untouched, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import tree_sha256
from lofar_hires.cli import main


def _exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # usage errors (an unknown choice) exit from the argument parser
        return int(exc.code)


@pytest.fixture(scope="module")
def tiny_ms(simulated) -> Path:
    return simulated("dysco_cli").targets()[0].ms


def test_given_bit_rate_report_and_input_untouched(tiny_ms, tmp_path):
    before = tree_sha256(tiny_ms)
    out = tmp_path / "c.ms"
    assert main(["--log-level", "WARNING", "compress", str(tiny_ms), "-o", str(out), "--data-bits", "4",
                 "--max-rms-increase", "0.5"]) == 0
    assert tree_sha256(tiny_ms) == before
    report = json.loads((tmp_path / "c.ms.compress.json").read_text())
    assert report["compressed"] and report["data_bits"] == 4 and report["weight_bits"] == 12
    assert [c["data_bits"] for c in report["candidates"]] == [4]  # only the rate asked for is measured
    assert 0 < report["candidates"][0]["predicted_rms_increase"] < 0.5
    assert 0 < report["bytes_after"] < report["bytes_before"] and report["volume_saved_percent"] > 30
    prov = json.loads((tmp_path / "c.ms.provenance.json").read_text())
    assert prov["task"] == "compress" and prov["parameters"]["dysco"]["data_bits"] == 4
    assert len(prov["tool_runs"]) == 2 and all("DP3" in json.dumps(run) for run in prov["tool_runs"])  # sample, copy
    assert not list(tmp_path.glob(".*"))  # no work or partial files left


@pytest.mark.parametrize("args,message", [
    (["--data-bits", "5"], "--data-bits"),
    (["--max-rms-increase", "0"], "--max-rms-increase"),
    (["--max-rms-increase", "1"], "--max-rms-increase"),
    (["--data-column", "CORRECTED_DATA"], "CORRECTED_DATA"),
], ids=["unknown-bits", "bound-0", "bound-1", "no-column"])
def test_bad_input_is_refused(tiny_ms, tmp_path, capsys, args, message):
    assert _exit_status(["compress", str(tiny_ms), "-o", str(tmp_path / "c.ms"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_existing_output_needs_overwrite(tiny_ms, tmp_path, capsys):
    out = tmp_path / "c.ms"
    out.mkdir()
    (out / "table.dat").write_text("earlier product")
    assert _exit_status(["compress", str(tiny_ms), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "table.dat").read_text() == "earlier product"
