"""``h5 lin2circ`` / ``h5 circ2lin``: basis conversion of amplitude/phase solutions."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import example_solset
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_solset
from lofar_hires.solutions.polconv import convert_basis

FULL = ("XX", "XY", "YX", "YY")


def _gains(ss, pols):
    """Complex gains A exp(i phi) per polarisation label (a dict label -> array)."""
    amp = ss.soltabs["amplitude000"].canonical() if "amplitude000" in ss.soltabs else None
    ph = ss.soltabs["phase000"].canonical()
    labels = list(ph.axes["pol"])
    out = {}
    for p in pols:
        a = amp.val[..., list(amp.axes["pol"]).index(p)] if amp is not None and p in amp.axes["pol"] else 1.0
        out[p] = a * np.exp(1j * ph.val[..., labels.index(p)])
    return out


def test_diagonal_gains_follow_the_analytic_formula():
    """T diag(gx, gy) T^-1 = [[gx+gy, gx-gy], [gx-gy, gx+gy]] / 2 with T = [[1, i], [1, -i]] / sqrt(2)."""
    ss = example_solset(pols=("XX", "YY"))
    lin = _gains(ss, ("XX", "YY"))
    out = convert_basis(ss, "circular")
    assert list(out.soltabs) == ["phase000", "amplitude000"]
    assert list(out.soltabs["amplitude000"].axes["pol"]) == ["RR", "RL", "LR", "LL"]
    assert out.soltabs["amplitude000"].basis == "circular" and out.soltabs["phase000"].soltype == "phase"
    circ = _gains(out, ("RR", "RL", "LR", "LL"))
    gx, gy = lin["XX"], lin["YY"]
    for p, want in (("RR", (gx + gy) / 2), ("RL", (gx - gy) / 2), ("LR", (gx - gy) / 2), ("LL", (gx + gy) / 2)):
        np.testing.assert_allclose(circ[p], want, atol=1e-12)


@pytest.mark.parametrize("pols", [("XX", "YY"), FULL], ids=["diagonal", "full"])
def test_round_trip_through_files(tmp_path, pols):
    ss = example_solset(pols=pols)
    for tab in ss.soltabs.values():  # weights equal across polarisations survive the round trip
        tab.weight[...] = tab.weight[..., :1]
    circ = read_h5parm(write_solset(tmp_path / "circ.h5", convert_basis(ss, "circular")))
    back = convert_basis(circ, "linear")
    assert list(back.soltabs["phase000"].axes["pol"]) == list(FULL)
    got, want = _gains(back, FULL), _gains(ss, pols)
    for p in FULL:
        if p in want:
            np.testing.assert_allclose(got[p], want[p], atol=1e-6)
        else:
            np.testing.assert_allclose(np.abs(got[p]), 0.0, atol=1e-6)
    flags = np.minimum(ss.soltabs["phase000"].weight[..., 0], ss.soltabs["amplitude000"].weight[..., 0])
    for name in ("phase000", "amplitude000"):  # a cell flagged in either input is flagged in both outputs
        np.testing.assert_array_equal(back.soltabs[name].weight, np.repeat(flags[..., None], 4, axis=-1))


def test_weights_flag_every_element_that_depends_on_a_flagged_one():
    ss = example_solset(pols=("XX", "YY"))
    ss.soltabs["amplitude000"].weight[...] = 1.0
    ss.soltabs["phase000"].weight[...] = 1.0
    ss.soltabs["phase000"].weight[0, 0, 0, 0, 1] = 0.0  # YY of one cell
    out = convert_basis(ss, "circular")
    for tab in out.soltabs.values():
        np.testing.assert_array_equal(tab.weight[0, 0, 0, 0], 0.0)
        assert tab.weight.sum() == tab.weight.size - 4


def test_phase_only_input_gets_an_amplitude_and_scalar_soltabs_are_copied():
    ss = example_solset(pols=("XX", "YY"), soltypes=("phase", "tec", "amplitude"))
    ss.soltabs["amplitude000"] = Soltab("amplitude000", "amplitude", {"ant": np.array(ss.antenna_names)},
                                        np.ones(len(ss.antenna_names)))  # scalar: copied unchanged
    out = convert_basis(ss, "circular")
    assert list(out.soltabs) == ["phase000", "tec000", "amplitude000", "amplitude001"]
    np.testing.assert_array_equal(out.soltabs["tec000"].val, ss.soltabs["tec000"].val)
    np.testing.assert_array_equal(out.soltabs["amplitude000"].val, 1.0)
    gx, gy = (np.exp(1j * ss.soltabs["phase000"].val[..., k]) for k in (0, 1))
    np.testing.assert_allclose(out.soltabs["amplitude001"].val[..., 1], np.abs(gx - gy) / 2, atol=1e-12)


def test_refusals():
    with pytest.raises(InputError, match="lin2circ: no soltab in sol000 has a polarisation axis"):
        convert_basis(example_solset(pols=None), "circular")
    circ = convert_basis(example_solset(), "circular")
    with pytest.raises(InputError, match=r"lin2circ: soltab phase000 is already circular \(RR, RL, LR, LL\)"):
        convert_basis(circ, "circular")
    with pytest.raises(InputError, match="circ2lin: soltab phase000 is already linear"):
        convert_basis(example_solset(), "linear")
    ss = example_solset()
    ss.soltabs["rotation000"] = Soltab("rotation000", "rotation", {"ant": np.array(ss.antenna_names)},
                                       np.zeros(len(ss.antenna_names)))
    with pytest.raises(InputError, match="soltab rotation000 is a rotation defined in the linear basis"):
        convert_basis(ss, "circular")
    ss = example_solset(n_time=4)
    ss.soltabs["phase000"] = example_solset(n_time=3).soltabs["phase000"]
    with pytest.raises(InputError, match="amplitude000 and phase000 are on different axes"):
        convert_basis(ss, "circular")
    ss = example_solset(soltypes=("phase", "phase"))
    with pytest.raises(InputError, match=r"2 phase soltabs with a polarisation axis \(phase000, phase001\)"):
        convert_basis(ss, "circular")
