"""``h5 reset``: identity solutions for chosen stations; checked directly and with DP3's applycal."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, example_solset
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab, write_solset
from lofar_hires.solutions.reset import identity_values, reset_stations
from lofar_hires.solutions.stations import resolve_stations

FULL = ("XX", "XY", "YX", "YY")


def _copy(ss: Solset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {n: (t.val.copy(), t.weight.copy()) for n, t in ss.soltabs.items()}


def test_identity_for_every_soltab_type_and_others_untouched():
    ss = example_solset(pols=FULL, soltypes=("phase", "amplitude", "tec", "clock"))
    before = _copy(ss)
    stations = resolve_stations("core", ss.antenna_names)
    assert stations == ["CS001HBA0", "CS002HBA0", "CS002HBA1"]
    out = reset_stations(ss, stations)
    reset = np.isin(ss.antenna_names, stations)
    for name, tab in out.soltabs.items():
        val, weight = before[name]
        np.testing.assert_array_equal(ss.soltabs[name].val, val)  # input not modified
        np.testing.assert_array_equal(tab.weight, weight)  # weights kept
        np.testing.assert_array_equal(tab.val[:, :, ~reset], val[:, :, ~reset])
        got = tab.val[:, :, reset]
        if name == "amplitude000":
            np.testing.assert_array_equal(got[..., [0, 3]], 1.0)  # XX, YY
            np.testing.assert_array_equal(got[..., [1, 2]], 0.0)  # XY, YX
        else:
            np.testing.assert_array_equal(got, 0.0)


def test_named_soltabs_only_and_any_axis_order():
    ss = example_solset(pols=("XX", "YY"))
    amp = ss.soltabs["amplitude000"].transposed(["ant", "pol", "dir", "freq", "time"])
    ss.soltabs["amplitude000"] = amp
    out = reset_stations(ss, ["RS106HBA", "FR606HBA"], soltabs=["amplitude000"])
    np.testing.assert_array_equal(out.soltabs["phase000"].val, ss.soltabs["phase000"].val)
    got = out.soltabs["amplitude000"]
    assert got.axis_names == ["ant", "pol", "dir", "freq", "time"]
    np.testing.assert_array_equal(got.val[[3, 8]], 1.0)
    np.testing.assert_array_equal(got.val[:3], amp.val[:3])


def test_identity_values():
    axes = {"ant": np.array(["a", "b"]), "pol": np.array(["RR", "RL", "LR", "LL"])}
    np.testing.assert_array_equal(identity_values("amplitude", axes), [[1, 0, 0, 1]] * 2)
    np.testing.assert_array_equal(identity_values("scalaramplitude", {"ant": axes["ant"]}), [1, 1])
    for soltype in ("phase", "scalarphase", "tec", "clock", "rotation", "rotationmeasure"):
        np.testing.assert_array_equal(identity_values(soltype, {"ant": axes["ant"]}), [0, 0])


def test_errors():
    ss = example_solset()
    with pytest.raises(InputError, match=r"soltabs: no soltab 'tec000' in sol000 \(has phase000, amplitude000\)"):
        reset_stations(ss, ["CS001HBA0"], soltabs=["tec000"])
    ss.soltabs["phase001"] = Soltab("phase001", "phase", {"time": np.arange(3.0)}, np.ones(3))
    with pytest.raises(InputError, match="soltab phase001 has no antenna axis"):
        reset_stations(ss, ["CS001HBA0"], soltabs=["phase001"])
    out = reset_stations(ss, ["CS001HBA0"])  # without --soltabs: copied unchanged
    np.testing.assert_array_equal(out.soltabs["phase001"].val, 1.0)


@pytest.fixture(scope="module")
def ms(simulated):
    return simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms


def test_dp3_applies_reset_solutions_as_identity(ms, tmp_path):
    """DP3 applycal (full Jones) with reset core stations leaves core-core baselines exactly unchanged.

    Every other baseline changes (random gains). Tolerance: float32 visibilities, relative 1e-6.
    """
    from casacore.tables import table

    from lofar_hires.io.ms import read_ms_info
    from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3

    info = read_ms_info(ms)
    rng = np.random.default_rng(3)
    axes = {"time": info.times_mjd_s, "freq": info.freqs_hz, "ant": np.array(info.station_names),
            "pol": np.array(FULL)}
    shape = tuple(len(v) for v in axes.values())
    amp = 1 + 0.3 * rng.standard_normal(shape)
    amp[..., [1, 2]] = 0.2 * rng.uniform(size=shape[:-1] + (2,))
    ss = Solset("sol000", list(info.station_names), info.station_positions_m, {},
                {"amplitude000": Soltab("amplitude000", "amplitude", axes, amp),
                 "phase000": Soltab("phase000", "phase", axes, rng.uniform(-np.pi, np.pi, shape))})
    core = resolve_stations("core", info.station_names)
    path = write_solset(tmp_path / "reset.h5", reset_stations(ss, core))
    out = tmp_path / "applied.MS"
    step = Dp3Step("apply", "applycal", {"parmdb": path, "correction": "fulljones",
                                         "soltab": ["amplitude000", "phase000"]})
    run_dp3(Dp3Run(msin=ms, msout=out, steps=[step]), tmp_path, "apply")
    with table(str(ms), ack=False) as t:
        data, a1, a2 = t.getcol("DATA"), t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
    with table(str(out), ack=False) as t:
        corrected = t.getcol("DATA")
    is_core = np.isin(np.array(info.station_names), core)
    both = is_core[a1] & is_core[a2]
    assert both.any() and (~both).any()
    np.testing.assert_allclose(corrected[both], data[both], rtol=1e-6, atol=1e-6 * np.abs(data).max())
    changed = np.abs(corrected[~both] - data[~both]).max(axis=(1, 2)) > 1e-3 * np.abs(data).max()
    assert changed.all()
