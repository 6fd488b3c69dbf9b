"""``lofar-hires h5 merge`` on the command line: output, summary, and one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import example_solset
from lofar_hires.cli import main
from lofar_hires.io.h5parm import read_h5parm, write_solset
from lofar_hires.provenance import sha256_file


@pytest.fixture()
def inputs(tmp_path) -> dict[str, Path]:
    paths = {
        "a": write_solset(tmp_path / "a.h5", example_solset(seed=1)),
        "b": write_solset(tmp_path / "b.h5", example_solset(seed=2, soltypes=("phase", "tec"))),
        "circ": write_solset(tmp_path / "circ.h5", example_solset(seed=3, pols=("RR", "LL"))),
        "text": tmp_path / "text.h5",
    }
    paths["text"].write_text("not an h5parm\n")
    return paths


def test_merge_writes_and_summarises(inputs, tmp_path, capsys):
    out = tmp_path / "m.h5"
    assert main(["h5", "merge", str(inputs["a"]), f"{inputs['b']}:sol000/tec000", "-o", str(out)]) == 0
    assert "m.h5: diagonal solutions (time 5, freq 3, ant 9, dir 2, pol 2)" in capsys.readouterr().out
    assert sorted(read_h5parm(out).soltabs) == ["amplitude000", "phase000"]


@pytest.mark.parametrize("case, message", [
    ("basis", "is linear and .* is circular"),
    ("text", "is not a readable h5parm"),
    ("missing", "does not exist"),
    ("soltab", "no soltab 'phase009'"),
    ("exists", "already exists; overwrite it"),
])
def test_merge_bad_input(inputs, tmp_path, capsys, case, message):
    import re

    out = tmp_path / "m.h5"
    args = {"basis": [str(inputs["a"]), str(inputs["circ"])], "text": [str(inputs["a"]), str(inputs["text"])],
            "missing": [str(tmp_path / "absent.h5")], "soltab": [f"{inputs['a']}:sol000/phase009"],
            "exists": [str(inputs["a"])]}[case]
    if case == "exists":
        out.write_text("previous product")
    before = {k: sha256_file(p) for k, p in inputs.items()}
    assert main(["h5", "merge", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert {k: sha256_file(p) for k, p in inputs.items()} == before
    assert (out.read_text() == "previous product") if case == "exists" else not out.exists()
    assert not list(tmp_path.glob(".m.h5.partial*"))
