"""``h5 directions`` and ``h5 nearest``: the source table and every dir axis stay consistent."""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from conftest import example_solset
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, read_h5parm, wrap_ra, write_solset
from lofar_hires.io.skymodel import parse_dec, parse_ra
from lofar_hires.solutions.directions import (
    add_direction,
    list_directions,
    nearest_direction,
    parse_rename_map,
    rename_directions,
    select_directions,
)


def _solset(n_dir=3):
    ss = example_solset(n_dir=n_dir, soltypes=("phase", "amplitude", "tec"))
    ss.soltabs["amplitude000"] = ss.soltabs["amplitude000"].transposed(["dir", "pol", "ant", "freq", "time"])
    ss.soltabs["clock000"] = Soltab("clock000", "clock", {"time": np.arange(2.0), "ant": np.array(ss.antenna_names)},
                                    np.zeros((2, len(ss.antenna_names))))
    return ss


def _consistent(ss):
    """Every soltab's dir axis lists the source table's directions, in its order."""
    for tab in ss.soltabs.values():
        if "dir" in tab.axes:
            assert list(tab.axes["dir"]) == list(ss.directions)
            assert tab.val.shape[tab.axis_names.index("dir")] == len(ss.directions)


def _dir_values(tab, name):
    i = list(tab.axes["dir"]).index(name)
    axis = tab.axis_names.index("dir")
    return np.take(tab.val, i, axis), np.take(tab.weight, i, axis)


def test_list():
    items = list_directions(_solset())
    assert [i.name for i in items] == ["[dir0]", "[dir1]", "[dir2]"]
    assert items[1].ra_deg == pytest.approx(243.25) and items[1].dec_deg == pytest.approx(55.3)


def test_select_keeps_file_order_and_values(tmp_path):
    ss = _solset()
    out = select_directions(ss, ["dir2", "[dir0]"])
    assert list(out.directions) == ["[dir0]", "[dir2]"]
    _consistent(out)
    for name in ("phase000", "amplitude000", "tec000"):
        for d in ("[dir0]", "[dir2]"):
            for got, want in zip(_dir_values(out.soltabs[name], d), _dir_values(ss.soltabs[name], d)):
                np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(out.soltabs["clock000"].val, ss.soltabs["clock000"].val)
    _consistent(read_h5parm(write_solset(tmp_path / "sel.h5", out)))
    with pytest.raises(InputError, match=r"names: no direction \[dir7\] in solset sol000 \(has \[dir0\], "):
        select_directions(ss, ["dir7"])


def test_rename_and_swap():
    ss = _solset()
    out = rename_directions(ss, parse_rename_map(["dir0=calA", "[dir1]=[calB]"]))
    assert list(out.directions) == ["[calA]", "[calB]", "[dir2]"]
    assert out.directions["[calA]"] == ss.directions["[dir0]"]
    _consistent(out)
    np.testing.assert_array_equal(_dir_values(out.soltabs["phase000"], "[calB]")[0],
                                  _dir_values(ss.soltabs["phase000"], "[dir1]")[0])
    swapped = rename_directions(ss, parse_rename_map(["dir0=dir1", "dir1=dir0"]))
    assert swapped.directions["[dir1]"] == ss.directions["[dir0]"]
    np.testing.assert_array_equal(_dir_values(swapped.soltabs["tec000"], "[dir1]")[0],
                                  _dir_values(ss.soltabs["tec000"], "[dir0]")[0])


@pytest.mark.parametrize("items, message", [
    (["dir0=dir1"], r"renaming \[dir0\] to \[dir1\] clashes with the existing direction \[dir1\]"),
    (["dir0=new", "dir1=new"], "clashes"),
    (["nope=new"], r"map: no direction \[nope\]"),
    (["dir0"], "is not of the form OLD=NEW"),
    (["dir0=a", "[dir0]=b"], r"renames \[dir0\] twice"),
])
def test_rename_errors(items, message):
    with pytest.raises(InputError, match=message):
        rename_directions(_solset(), parse_rename_map(items))


def test_add_copies_a_direction_the_nearest_or_the_identity(tmp_path):
    ss = _solset()
    ra, dec = np.radians(243.3), np.radians(55.25)
    near = add_direction(ss, "new", ra, dec, "nearest")
    named = add_direction(ss, "new", ra, dec, "dir1")
    assert list(near.directions)[-1] == "[new]" and near.directions["[new]"] == pytest.approx((wrap_ra(ra), dec))
    _consistent(near)
    for name in ("phase000", "amplitude000", "tec000"):
        for out in (near, named):
            for got, want in zip(_dir_values(out.soltabs[name], "[new]"), _dir_values(ss.soltabs[name], "[dir1]")):
                np.testing.assert_array_equal(got, want)
    ident = add_direction(ss, "[id]", ra, dec, "identity")
    phase, weight = _dir_values(ident.soltabs["phase000"], "[id]")
    np.testing.assert_array_equal(phase, 0.0)
    np.testing.assert_array_equal(weight, 1.0)
    np.testing.assert_array_equal(_dir_values(ident.soltabs["amplitude000"], "[id]")[0], 1.0)
    back = read_h5parm(write_solset(tmp_path / "add.h5", ident))
    _consistent(back)
    assert back.directions["[id]"] == pytest.approx((wrap_ra(ra), dec))


def test_add_errors():
    ss = _solset()
    with pytest.raises(InputError, match=r"name: direction \[dir1\] already exists"):
        add_direction(ss, "dir1", 0.0, 0.0, "identity")
    with pytest.raises(InputError, match=r"copy_from: no direction \[dirX\]"):
        add_direction(ss, "new", 0.0, 0.0, "dirX")


def test_nearest_is_the_great_circle_nearest():
    ss = example_solset(n_dir=3)
    ra, dec = parse_ra("16h11m00s"), parse_dec("+55d00m00s")
    assert (ra, dec) == (parse_ra("16:11:00"), parse_dec("55:00:00")) == (parse_ra("242.75"), parse_dec("55"))
    name, sep = nearest_direction(ss, ra, dec)
    assert name == "[dir0]" and sep == pytest.approx(0.0, abs=1e-9)
    target = SkyCoord(243.4, 55.4, unit="deg")
    name, sep = nearest_direction(ss, target.ra.rad, target.dec.rad)
    seps = {n: target.separation(SkyCoord(*np.degrees(p), unit="deg")).deg for n, p in ss.directions.items()}
    assert name == min(seps, key=seps.get) == "[dir1]" and sep == pytest.approx(seps[name], rel=1e-9)
    # Across RA = 0: 359.9 deg is 0.2 deg from 0.1 deg.
    ss.directions = {"[a]": (np.radians(0.1), 0.0), "[b]": (np.radians(359.0), 0.0)}
    assert nearest_direction(ss, np.radians(359.9), 0.0) == ("[a]", pytest.approx(0.2))
    ss.directions = {}
    with pytest.raises(InputError, match="has no directions"):
        nearest_direction(ss, 0.0, 0.0)


@pytest.mark.parametrize("name, message", [
    ("../x", "e.g. 'x'"), ("/abs", "e.g. 'abs'"), ("a/b", "e.g. 'a_b'"), ("", "no character usable"),
    ("[]", "no character usable"), ("a\0b", "e.g. 'a_b'"), ("x" * 300, "at most 80 characters"),
    (".hidden", "e.g. 'hidden'"), ("two words", "e.g. 'two_words'"),
], ids=["dotdot", "absolute", "slash", "empty", "empty-brackets", "nul", "long", "hidden", "space"])
def test_new_direction_names_must_be_safe_names(name, message):
    from lofar_hires.solutions.directions import check_new_name

    with pytest.raises(InputError, match=re.escape(message)):
        check_new_name(name, "name")
    assert check_new_name("[3C196_a+b-1.5]", "name") == "[3C196_a+b-1.5]"
    assert check_new_name("calA", "name") == "[calA]"
