"""Products appear under their final name only when complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from lofar_hires.errors import InputError, OutputExistsError
from lofar_hires.io.atomic import atomic_output


def test_success_renames(tmp_path):
    final = tmp_path / "product"
    with atomic_output(final) as tmp:
        assert tmp != final and tmp.parent == final.parent
        tmp.mkdir()
        (tmp / "a.txt").write_text("ok")
    assert (final / "a.txt").read_text() == "ok"
    assert [p.name for p in tmp_path.iterdir()] == ["product"]


def test_failure_leaves_nothing_and_keeps_existing(tmp_path):
    final = tmp_path / "product.txt"
    final.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_output(final, overwrite=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert final.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["product.txt"]


def test_existing_output_needs_overwrite(tmp_path):
    final = tmp_path / "product.txt"
    final.write_text("previous")
    with pytest.raises(OutputExistsError, match="overwrite"):
        with atomic_output(final):
            pass
    assert final.read_text() == "previous"
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with atomic_output(empty) as tmp:
        tmp.mkdir()
    assert empty.is_dir()


def test_unwritable_location(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot create output directory|is not a directory"):
        with atomic_output(blocker / "sub" / "product"):
            pass
    with pytest.raises(InputError, match="not writable|cannot create"):
        with atomic_output(Path("/proc/lofar_hires_product")):
            pass


def test_a_product_written_meanwhile_by_another_run_is_never_replaced(tmp_path):
    """Two runs into one output: the one that finishes second fails instead of replacing the first's product."""
    from lofar_hires.errors import OutputExistsError
    from lofar_hires.io.atomic import atomic_output

    out = tmp_path / "product.txt"
    with pytest.raises(OutputExistsError, match="written by another run while this one ran"):
        with atomic_output(out) as tmp:
            tmp.write_text("second")
            out.write_text("first")  # the other run finishes first
    assert out.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["product.txt"]
