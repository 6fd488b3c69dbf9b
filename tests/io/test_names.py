"""Names from data become safe file names; product paths never leave their output directory."""

from __future__ import annotations

import os

import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.names import MAX_NAME_LENGTH, inside, safe_name, safe_names


@pytest.mark.parametrize("name, expected", [
    ("3C196", "3C196"),
    ("[P1]", "P1_"),
    ("a/b", "a_b"),
    ("../x", "x"),
    ("/abs/path", "abs_path"),
    ("..", None),
    ("", None),
    ("...", None),
    ("with space", "with_space"),
    ("nul\x00byte", "nul_byte"),
    ("ünïcode", "n_code"),
    (".hidden", "hidden"),
    ("J1234+5678", "J1234+5678"),
], ids=repr)
def test_safe_name(name, expected):
    if expected is None:
        with pytest.raises(InputError, match="no character usable in a file name"):
            safe_name(name, what="calibrator")
    else:
        result = safe_name(name)
        assert result == expected
        assert "/" not in result and "\x00" not in result and not result.startswith(".")


def test_long_names_are_cut_and_kept_apart():
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    sa, sb = safe_name(a), safe_name(b)
    assert len(sa) == len(sb) == MAX_NAME_LENGTH and sa != sb
    assert safe_name(a) == sa  # deterministic


def test_collisions_and_duplicates_are_refused():
    assert safe_names(["a", "b/c"]) == {"a": "a", "b/c": "b_c"}
    with pytest.raises(InputError, match="'a/b' and 'a_b' both become the file name 'a_b'"):
        safe_names(["a/b", "a_b"], what="calibrator")
    with pytest.raises(InputError, match="both become"):
        safe_names(["Src", "src"])  # case-insensitive file systems
    with pytest.raises(InputError, match="given twice"):
        safe_names(["s", "s"])


def test_inside_refuses_paths_outside_the_root(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    assert inside(root, "a.h5") == (root / "a.h5").resolve()
    assert inside(root, "sub", "b.h5").parent == (root / "sub").resolve()
    for parts in (("../x",), ("/etc/passwd",), ("a", "..", ".."), (".",)):
        with pytest.raises(InputError, match="outside the output directory"):
            inside(root, *parts)
    os.symlink(tmp_path, root / "link")
    with pytest.raises(InputError, match="outside the output directory"):
        inside(root, "link", "escaped.h5")
