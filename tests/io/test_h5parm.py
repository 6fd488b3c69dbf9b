"""h5parm writing/reading in the standard layout, checked with LoSoTo and DP3 conventions."""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.h5parm import Soltab, read_soltab, write_h5parm


def _example(tmp_path):
    times = np.array([0.0, 10.0, 20.0])
    ants = np.array(["CS002HBA0", "RS106HBA"])
    phase = Soltab("phase000", "phase", {"time": times, "ant": ants, "dir": np.array(["a", "b"])},
                   np.arange(12, dtype=float).reshape(3, 2, 2))
    path = write_h5parm(tmp_path / "s.h5", [phase], ants, np.zeros((2, 3)),
                        {"a": (-0.5, 0.9), "b": (1.0, 0.9)}, attrs={"made_by": "test", "settings": {"x": 1}})
    return path


def test_roundtrip_and_conventions(tmp_path):
    path = _example(tmp_path)
    tab = read_soltab(path, "phase000")
    assert tab.soltype == "phase" and list(tab.axes) == ["time", "ant", "dir"]
    assert tab.axes["dir"].tolist() == ["[a]", "[b]"]
    np.testing.assert_array_equal(tab.val, np.arange(12).reshape(3, 2, 2))
    assert np.all(tab.weight == 1)
    from losoto.h5parm import h5parm

    h5 = h5parm(str(path))
    try:
        ss = h5.getSolset("sol000")
        src = ss.getSou()
        assert set(src) == {"[a]", "[b]"}
        assert 0 <= src["[a]"][0] < 2 * np.pi and src["[a]"][0] == pytest.approx(2 * np.pi - 0.5, abs=1e-6)
        assert ss.obj._v_attrs["made_by"] == "test"
    finally:
        h5.close()


def test_refuses_bad_soltabs(tmp_path):
    with pytest.raises(InputError, match="unknown axes"):
        Soltab("x", "phase", {"tim": np.zeros(2)}, np.zeros(2))
    with pytest.raises(InputError, match="unknown type"):
        Soltab("x", "phasor", {"time": np.zeros(2)}, np.zeros(2))
    with pytest.raises(InputError, match="shape"):
        Soltab("x", "phase", {"time": np.zeros(2)}, np.zeros(3))
    path = _example(tmp_path)
    with pytest.raises(InputError, match="already exists"):
        write_h5parm(path, [], ["a"], np.zeros((1, 3)))
    with pytest.raises(InputError, match="no soltab 'amplitude000'"):
        read_soltab(path, "amplitude000")
    with pytest.raises(MissingInputError):
        read_soltab(tmp_path / "absent.h5", "phase000")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="not a readable h5parm"):
        read_soltab(junk, "phase000")
