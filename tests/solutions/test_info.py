"""``h5 info``: axes, ranges, value ranges, flags and basis of every soltab."""

from __future__ import annotations

import pytest

from conftest import example_solset
from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.h5parm import write_solset
from lofar_hires.solutions import info
from lofar_hires.solutions.info import describe_h5parm, format_info


@pytest.fixture()
def example(tmp_path):
    ss = example_solset(pols=("RR", "RL", "LR", "LL"), soltypes=("phase", "amplitude", "tec"))
    ss.soltabs["amplitude000"].val[0, 0, 0, 0, 0] = 100.0  # flagged: not in the value range
    ss.soltabs["amplitude000"].weight[0, 0, 0, 0, 0] = 0.0
    return ss, write_solset(tmp_path / "ex.h5", ss)


def test_describe(example):
    ss, path = example
    desc = describe_h5parm(path)
    (solset,) = desc["solsets"]
    assert solset["name"] == "sol000" and solset["antennas"] == ss.antenna_names
    assert solset["directions"][1] == {"name": "[dir1]", "ra_deg": pytest.approx(243.25),
                                       "dec_deg": pytest.approx(55.3)}
    tabs = {t["name"]: t for t in solset["soltabs"]}
    assert list(tabs) == ["amplitude000", "phase000", "tec000"]  # HDF5 lists groups by name
    amp = tabs["amplitude000"]
    assert amp["type"] == "amplitude" and amp["basis"] == "circular" and tabs["tec000"]["basis"] is None
    axes = amp["axes"]
    assert {a: v["length"] for a, v in axes.items()} == {"time": 5, "freq": 3, "ant": 9, "dir": 2, "pol": 4}
    assert axes["time"]["span_s"] == pytest.approx(40.0) and axes["time"]["step_s"] == pytest.approx(10.0)
    assert (axes["freq"]["min_mhz"], axes["freq"]["max_mhz"]) == pytest.approx((140.0, 144.0))
    assert axes["ant"]["names"] == ss.antenna_names and axes["pol"]["labels"] == ["RR", "RL", "LR", "LL"]
    assert axes["dir"]["directions"][0]["ra_deg"] == pytest.approx(242.75)
    for name, tab in ss.soltabs.items():
        good = tab.weight > 0
        assert tabs[name]["value_min"] == pytest.approx(tab.val[good].min())
        assert tabs[name]["value_max"] == pytest.approx(tab.val[good].max())
        assert tabs[name]["flagged_fraction"] == pytest.approx(1 - good.mean())
    text = format_info(desc)
    assert "soltab amplitude000 (amplitude, circular basis): time 5 (span 40 s, step 10 s), " \
           "freq 3 (140.000000 - 144.000000 MHz), ant 9, dir 2, pol 4 (RR, RL, LR, LL)" in text
    assert "direction [dir0]: RA 242.750000 deg, Dec 55.000000 deg" in text


def test_block_reads_give_the_same_answer(example, monkeypatch):
    _, path = example
    whole = describe_h5parm(path)
    monkeypatch.setattr(info, "BLOCK_VALUES", 7)  # one time slot per block
    assert describe_h5parm(path) == whole


def test_all_flagged_and_bad_files(tmp_path):
    ss = example_solset(soltypes=("phase",))
    ss.soltabs["phase000"].weight[...] = 0
    desc = describe_h5parm(write_solset(tmp_path / "flagged.h5", ss))
    tab = desc["solsets"][0]["soltabs"][0]
    assert tab["value_min"] is None and tab["flagged_fraction"] == 1.0
    assert "values all flagged, 100.00% flagged" in format_info(desc)
    (tmp_path / "text.h5").write_text("not hdf5\n")
    with pytest.raises(InputError, match="is not a readable h5parm"):
        describe_h5parm(tmp_path / "text.h5")
    with pytest.raises(MissingInputError):
        describe_h5parm(tmp_path / "missing.h5")
