"""``lofar-hires peel`` refuses what it cannot do before touching the data: a source not in the sky model, a source
too faint to solve on (with its estimated signal to noise), the reverse order without a list; exit 2, one line,
nothing written, the input untouched."""

from __future__ import annotations

import re

import pytest

from conftest import tree_sha256
from lofar_hires.cli import main


@pytest.fixture(scope="module")
def tiny(simulated):
    sim = simulated("tiny-peel", preset="tiny")
    return sim.targets()[0].ms, sim.sky_model


@pytest.mark.parametrize("args, message", [
    (("--source", "nosuch"), "nosuch are not in the sky model"),
    (("--source", "bright02", "--source", "faint002"), r"too faint to solve on: faint002 \(S/N 0\.\d\)"),
    (("--min-flux-jy", "0.01"), r"too faint to solve on: .*faint"),
    (("--min-flux-jy", "100"), "no source of the sky model is brighter than 100 Jy"),
    (("--min-flux-jy", "0.5", "--order", "given"), "--order given needs the sources named"),
    (("--source", "bright02", "--solint-s", "0"), "solint_s must be a positive number"),
], ids=["unknown-source", "too-faint", "too-faint-by-threshold", "nothing-above-threshold", "given-order-no-list",
        "zero-interval"])
def test_refused_before_the_data_are_touched(tiny, tmp_path, capsys, args, message):
    ms, skymodel = tiny
    before = tree_sha256(ms)
    out = tmp_path / "out"
    assert main(["peel", str(ms), "--skymodel", str(skymodel), "-o", str(out), "--no-beam", *args]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert re.search(message, errors[0]), errors[0]
    assert tree_sha256(ms) == before
    assert not out.exists() or not any(out.iterdir()), "nothing written"


def test_peels_into_the_output_directory_only(tiny, tmp_path):
    ms, skymodel = tiny
    out = tmp_path / "out"
    assert main(["--log-level", "WARNING", "peel", str(ms), "--skymodel", str(skymodel), "-o", str(out),
                 "--no-beam", "--source", "bright02"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([
        f"{ms.name[:-3]}.peeled.ms", f"{ms.name[:-3]}.peeled.ms.provenance.json", f"{ms.name[:-3]}.peel.json",
        f"{ms.name[:-3]}.peel.bright02.h5", "logs"])
    assert main(["--log-level", "WARNING", "peel", str(ms), "--skymodel", str(skymodel), "-o", str(out),
                 "--no-beam", "--source", "bright02"]) == 2, "existing products are kept without --overwrite"
