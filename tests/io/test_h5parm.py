"""h5parm reading/writing in DP3's layout with h5py, checked with LoSoTo."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.h5parm import (
    H5parmWriter,
    Soltab,
    StreamingReader,
    read_h5parm,
    read_soltab,
    solset_names,
    write_h5parm,
)

ANTS = np.array(["CS002HBA0", "RS106HBA"])


def _example(tmp_path, name="s.h5"):
    times = np.array([0.0, 10.0, 20.0])
    phase = Soltab("phase000", "phase", {"time": times, "ant": ANTS, "dir": np.array(["a", "b"])},
                   np.arange(12, dtype=float).reshape(3, 2, 2))
    amp = Soltab("amplitude000", "amplitude", {"ant": ANTS, "time": times, "pol": np.array(["XX", "YY"])},
                 np.ones((2, 3, 2)), np.zeros((2, 3, 2)))
    return write_h5parm(tmp_path / name, [phase, amp], ANTS, np.arange(6.0).reshape(2, 3),
                        {"a": (2 * np.pi - 0.5, 0.9), "b": (1.0, 0.9)},
                        attrs={"made_by": "test", "settings": {"x": 1}})


def test_roundtrip_layout_and_conventions(tmp_path):
    path = _example(tmp_path)
    ss = read_h5parm(path)
    assert ss.name == "sol000" and solset_names(path) == ["sol000"]
    assert ss.antenna_names == ["CS002HBA0", "RS106HBA"]
    np.testing.assert_allclose(ss.antenna_positions_m, np.arange(6.0).reshape(2, 3))
    assert list(ss.directions) == ["[a]", "[b]"]
    assert ss.directions["[a]"][0] == pytest.approx(-0.5)
    tab = ss.soltabs["phase000"]
    assert tab.soltype == "phase" and tab.axis_names == ["time", "ant", "dir"]
    assert tab.axes["dir"].tolist() == ["[a]", "[b]"]
    np.testing.assert_array_equal(tab.val, np.arange(12).reshape(3, 2, 2))
    amp = read_soltab(path, "amplitude000")
    assert amp.axis_names == ["ant", "time", "pol"] and np.all(amp.weight == 0)
    assert amp.canonical().axis_names == ["time", "ant", "pol"] and amp.basis == "linear"
    assert ss.attrs["made_by"] == "test" and ss.attrs["settings"] == '{"x": 1}'
    with h5py.File(path, "r") as f:  # DP3's layout
        assert f["sol000/phase000"].attrs["TITLE"] == b"phase"
        assert f["sol000/phase000/val"].attrs["AXES"] == b"time,ant,dir"
        assert f["sol000/source"].dtype.names == ("name", "dir")


def test_losoto_reads_what_we_write(tmp_path):
    from losoto.h5parm import h5parm

    h5 = h5parm(str(_example(tmp_path)))
    try:
        ss = h5.getSolset("sol000")
        assert sorted(ss.getSoltabNames()) == ["amplitude000", "phase000"]
        st = ss.getSoltab("phase000")
        assert st.getType() == "phase" and st.getAxesNames() == ["time", "ant", "dir"]
        np.testing.assert_array_equal(st.getValues(retAxesVals=False), np.arange(12).reshape(3, 2, 2))
        assert list(ss.getAnt()) == ["CS002HBA0", "RS106HBA"]
        assert ss.getSou()["[a]"][0] == pytest.approx(-0.5)
    finally:
        h5.close()


def test_streaming_reader_and_block_writer(tmp_path):
    path = tmp_path / "big.h5"
    times = np.arange(100.0)
    with H5parmWriter(path, "sol000", ANTS, np.zeros((2, 3))) as w:
        w.create_soltab("phase000", "phase", {"time": times, "ant": ANTS})
        for start in range(0, 100, 30):
            stop = min(100, start + 30)
            w.write_block("phase000", np.tile(times[start:stop, None], (1, 2)), np.ones((stop - start, 2)),
                          "time", start)
    with StreamingReader(path) as r:
        assert r.soltab_names == ["phase000"] and r.info("phase000").shape == (100, 2)
        val, weight = r.read("phase000", "time", 40, 50)
        np.testing.assert_array_equal(val[:, 1], np.arange(40.0, 50.0))


def test_ra_convention():
    from lofar_hires.io.h5parm import wrap_ra

    assert wrap_ra(np.radians(242.75)) == pytest.approx(np.radians(242.75 - 360))
    assert wrap_ra(0.1) == pytest.approx(0.1) and wrap_ra(np.pi) == pytest.approx(np.pi)
    assert wrap_ra(-np.pi) == pytest.approx(np.pi)


def test_refuses_bad_soltabs(tmp_path):
    with pytest.raises(InputError, match="unknown axes"):
        Soltab("x", "phase", {"tim": np.zeros(2)}, np.zeros(2))
    with pytest.raises(InputError, match="unknown type"):
        Soltab("x", "phasor", {"time": np.zeros(2)}, np.zeros(2))
    with pytest.raises(InputError, match="shape"):
        Soltab("x", "phase", {"time": np.zeros(2)}, np.zeros(3))
    with pytest.raises(InputError, match="neither linear"):
        Soltab("x", "phase", {"pol": np.array(["XX", "RR"])}, np.zeros(2))


@pytest.mark.parametrize("damage, message", [
    (lambda f: f["sol000/phase000/val"].attrs.__setitem__("AXES", b"time,ant,direction"), "unknown axes"),
    (lambda f: f["sol000/phase000"].attrs.__delitem__("TITLE"), "has no type"),
    (lambda f: f["sol000/phase000"].attrs.__setitem__("TITLE", b"gainz"), "unknown type 'gainz'"),
    (lambda f: f["sol000"].__delitem__("antenna"), "has no antenna table"),
    (lambda f: f["sol000/phase000"].__delitem__("dir"), "lists axis 'dir' but has no 'dir' dataset"),
], ids=["axes", "no-title", "bad-type", "no-antennas", "missing-axis"])
def test_damaged_files(tmp_path, damage, message):
    path = _example(tmp_path)
    with h5py.File(path, "a") as f:
        damage(f)
    with pytest.raises(InputError, match=message):
        read_h5parm(path)


def test_not_an_h5parm(tmp_path):
    with pytest.raises(MissingInputError):
        read_h5parm(tmp_path / "absent.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="not a readable h5parm"):
        read_h5parm(junk)
    good = _example(tmp_path, "good.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="not a readable h5parm|truncated"):
        read_h5parm(truncated)
    with pytest.raises(InputError, match="already exists"):
        write_h5parm(good, [], ["a"], np.zeros((1, 3)))
    with pytest.raises(InputError, match="no soltab 'tec000'"):
        read_soltab(good, "tec000")


def test_rename_solset_keeps_everything_else(tmp_path):
    from lofar_hires.io.h5parm import rename_solset

    path = _example(tmp_path)
    before = read_h5parm(path)
    rename_solset(path, "sol000", "target")
    after = read_h5parm(path)
    assert solset_names(path) == ["target"] and after.name == "target"
    assert after.antenna_names == before.antenna_names and after.directions == before.directions
    for name, tab in before.soltabs.items():
        np.testing.assert_array_equal(after.soltabs[name].val, tab.val)
        np.testing.assert_array_equal(after.soltabs[name].weight, tab.weight)
    with pytest.raises(InputError, match=r"no solset 'sol000' to rename \(has target\)"):
        rename_solset(path, "sol000", "other")
    with h5py.File(path, "a") as f:
        f.copy("target", "calibrator")
    with pytest.raises(InputError, match="cannot rename solset 'target' to 'calibrator': 'calibrator' exists"):
        rename_solset(path, "target", "calibrator")
    with pytest.raises(InputError, match="solset name 'a/b' cannot be written"):
        rename_solset(path, "target", "a/b")


@pytest.mark.parametrize("solsets, named, expected", [
    (["calibrator", "target"], None, "calibrator"),  # LINC's cal_solutions.h5
    (["sol000"], None, "sol000"),  # ours before LINC's names, or DP3's
    (["sol000", "calibrator"], None, "calibrator"),
    (["mine"], None, "mine"),  # a file's only solset
    (["calibrator", "target"], "target", "target"),
    (["a", "b"], None, "no solset 'calibrator' or 'sol000' among a, b"),
    (["calibrator"], "target", "no solset 'target' (has calibrator)"),
], ids=["linc", "dp3", "both", "only-one", "named", "ambiguous", "named-missing"])
def test_calibrator_solset_choice(tmp_path, solsets, named, expected):
    from lofar_hires.io.h5parm import calibrator_solset

    path = _example(tmp_path)
    with h5py.File(path, "a") as f:
        for name in solsets:
            if name != "sol000":
                f.copy("sol000", name)
        if "sol000" not in solsets:
            del f["sol000"]
    if expected.startswith("no solset"):
        with pytest.raises(InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            calibrator_solset(path, named)
    else:
        assert calibrator_solset(path, named) == expected
