"""Every command that writes a solutions product: existing outputs, unwritable and wrong output locations.

For each writing command (``h5 directions select|rename|add``, ``h5 reset``, ``h5 expand-core``,
``h5 lin2circ``, ``h5 circ2lin``, ``h5 merge``, ``apply-solutions``): an existing product is kept
unless ``--overwrite`` is given; a directory is never replaced by a product; an output location
that cannot be written gives one line and exit status 2, with nothing written and the inputs
unchanged.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from merge_helpers import grid, soltab, write

from conftest import ALL_CORRUPTIONS_OFF, example_solset
from lofar_hires.cli import main
from lofar_hires.io.h5parm import write_solset

#: Writing commands; ``{out}`` is the product path.
WRITERS = {
    "directions-select": ["h5", "directions", "{lin}", "select", "--names", "dir0", "-o", "{out}"],
    "directions-rename": ["h5", "directions", "{lin}", "rename", "--map", "dir0=calA", "-o", "{out}"],
    "directions-add": ["h5", "directions", "{lin}", "add", "--name", "new", "--ra-deg", "243", "--dec-deg", "55",
                       "-o", "{out}"],
    "reset": ["h5", "reset", "{lin}", "--stations", "core", "-o", "{out}"],
    "collapse-core": ["h5", "expand-core", "{lin}", "--collapse", "-o", "{out}"],
    "lin2circ": ["h5", "lin2circ", "{lin}", "-o", "{out}"],
    "circ2lin": ["h5", "circ2lin", "{circ}", "-o", "{out}"],
    "merge": ["h5", "merge", "{lin}", "{circ2}", "-o", "{out}"],
    "apply-solutions": ["apply-solutions", "{ms}", "--solutions", "{applyh5}", "-o", "{out}"],
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        digest.update(f.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def inputs(simulated, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("writer_inputs")
    ms = simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms
    g = grid(ms)
    phase = np.zeros((len(g["time"]), len(g["freq"]), len(g["ant"]), 2))
    return {
        "lin": write_solset(folder / "lin.h5", example_solset(pols=("XX", "YY"))),
        "circ": write_solset(folder / "circ.h5", example_solset(pols=("RR", "RL", "LR", "LL"))),
        "circ2": write_solset(folder / "tec.h5", example_solset(seed=2, soltypes=("phase", "tec"))),
        "applyh5": write(folder / "apply.h5", g, [soltab("phase000", "phase", g, ["time", "freq", "ant", "pol2"],
                                                         phase)]),
        "ms": ms,
    }


def _run(command: str, inputs: dict[str, Path], out: Path, *extra: str) -> int:
    args = [a.format(**inputs, out=out) for a in WRITERS[command]]
    return main(["--log-level", "WARNING", *args, *extra])


def _errors(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("command", list(WRITERS))
def test_existing_products_wrong_and_unwritable_locations(inputs, tmp_path, capsys, command):
    before = {k: _sha256(p) for k, p in inputs.items()}
    product = "out.MS" if command == "apply-solutions" else "out.h5"

    # an existing product is kept without --overwrite
    out = tmp_path / product
    out.write_text("earlier product\n")
    assert _run(command, inputs, out) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "already exists; overwrite it or choose another output" in errors[0], errors
    assert out.read_text() == "earlier product\n"
    out.unlink()

    # a directory is never replaced by a product, not even with --overwrite
    folder = tmp_path / "folder"
    (folder / "keep").mkdir(parents=True)
    (folder / "keep" / "notes.txt").write_text("mine\n")
    assert _run(command, inputs, folder, "--overwrite") == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and ("is a directory" in errors[0] or "is not a measurement set" in errors[0]), errors
    assert (folder / "keep" / "notes.txt").read_text() == "mine\n"

    # an output location that cannot be written. Tests run as root, which writes into a read-only
    # (0o555) directory anyway, so a path below a regular file and one in /proc stand in for it.
    regular = tmp_path / "file.txt"
    regular.write_text("a file, not a directory\n")
    for location, message in ((regular / product, "is not a directory"),
                              (regular / "sub" / product, "cannot create output directory"),
                              (Path("/proc") / product, "is not writable")):
        assert _run(command, inputs, location) == 2, location
        errors = _errors(capsys)
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in errors[0], errors
    if os.geteuid() != 0:
        locked = tmp_path / "readonly"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            assert _run(command, inputs, locked / product) == 2
            assert "is not writable" in _errors(capsys)[0]
            assert not any(locked.iterdir())
        finally:
            locked.chmod(0o755)
    assert regular.read_text() == "a file, not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder"]  # nothing else written
    assert {k: _sha256(p) for k, p in inputs.items()} == before


@pytest.mark.parametrize("command", ["reset", "merge", "apply-solutions"])
def test_overwrite_replaces_an_earlier_product(inputs, tmp_path, capsys, command):
    out = tmp_path / ("out.MS" if command == "apply-solutions" else "out.h5")
    assert _run(command, inputs, out) == 0
    first = _sha256(out)
    assert _run(command, inputs, out) == 2
    assert _sha256(out) == first
    assert _run(command, inputs, out, "--overwrite") == 0
    assert out.exists() and not list(tmp_path.glob(".*partial*"))
