"""``h5 expand-core``: superstation solutions copied to the core stations of an MS, and back."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, example_solset
from lofar_hires.cli import main
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import read_h5parm, write_solset
from lofar_hires.io.ms import read_antennas
from lofar_hires.solutions.superstation import collapse_to_superstation, expand_superstation

PHASED_UP = ("RS106HBA", "ST001", "RS305HBA", "DE601HBA")
CORE = ["CS001HBA0", "CS002HBA0", "CS002HBA1", "CS003HBA0"]


def _core_positions(rng):
    return np.array([3826577.0, 461022.0, 5064892.0]) + rng.normal(0, 500, (len(CORE), 3))


def test_expand_copies_the_superstation_and_collapse_restores_it_exactly():
    ss = example_solset(stations=PHASED_UP, pols=("XX", "XY", "YX", "YY"), soltypes=("phase", "amplitude", "tec"))
    ss.soltabs["tec000"] = ss.soltabs["tec000"].transposed(["ant", "dir", "freq", "time"])
    positions = _core_positions(np.random.default_rng(1))
    ss.antenna_positions_m[1] = positions.mean(axis=0)
    expanded = expand_superstation(ss, "ST001", CORE, positions)
    assert expanded.antenna_names == ["RS106HBA", *CORE, "RS305HBA", "DE601HBA"]
    np.testing.assert_array_equal(expanded.antenna_positions_m[1:5], positions)
    for name, tab in expanded.soltabs.items():
        orig = ss.soltabs[name]
        axis = tab.axis_names.index("ant")
        assert list(tab.axes["ant"]) == expanded.antenna_names
        for k in range(1, 5):
            np.testing.assert_array_equal(np.take(tab.val, k, axis), np.take(orig.val, 1, axis))
            np.testing.assert_array_equal(np.take(tab.weight, k, axis), np.take(orig.weight, 1, axis))
    back = collapse_to_superstation(expanded, "ST001", CORE)
    assert back.antenna_names == ss.antenna_names
    np.testing.assert_allclose(back.antenna_positions_m, ss.antenna_positions_m, rtol=0, atol=1e-6)
    for name, tab in back.soltabs.items():
        assert tab.axis_names == ss.soltabs[name].axis_names
        np.testing.assert_array_equal(tab.val, ss.soltabs[name].val)
        np.testing.assert_array_equal(tab.weight, ss.soltabs[name].weight)


def test_collapse_takes_the_first_core_station_and_warns_with_the_difference(caplog):
    ss = example_solset(stations=["RS106HBA", "CS002HBA0", "CS001HBA0", "DE601HBA"], soltypes=("phase",))
    tab = ss.soltabs["phase000"]
    tab.val[:, :, 2] = tab.val[:, :, 1]
    tab.val[0, 0, 2, 0, 0] = np.angle(np.exp(1j * (tab.val[0, 0, 1, 0, 0] + 0.25)))
    with caplog.at_level(logging.WARNING, logger="lofar_hires"):
        out = collapse_to_superstation(ss, "ST001", ["CS001HBA0", "CS002HBA0"])
    assert out.antenna_names == ["RS106HBA", "ST001", "DE601HBA"]
    np.testing.assert_array_equal(out.soltabs["phase000"].val[:, :, 1], tab.val[:, :, 1])  # CS002HBA0 comes first
    np.testing.assert_allclose(out.antenna_positions_m[1], ss.antenna_positions_m[1:3].mean(axis=0))
    assert "phase000: the core stations' solutions differ (max |difference| 0.25 rad); ST001 gets those of " \
           "CS002HBA0" in caplog.text


def test_errors():
    ss = example_solset(stations=PHASED_UP)
    positions = _core_positions(np.random.default_rng(0))
    with pytest.raises(InputError, match="superstation: ST002 is not in solset sol000"):
        expand_superstation(ss, "ST002", CORE, positions)
    with pytest.raises(InputError, match="already holds core station"):
        expand_superstation(ss, "ST001", ["RS106HBA"], positions[:1])
    with pytest.raises(InputError, match="no core stations to expand into"):
        expand_superstation(ss, "ST001", [], positions[:0])
    with pytest.raises(InputError, match="already holds ST001"):
        collapse_to_superstation(ss, "ST001", ["RS106HBA"])
    with pytest.raises(InputError, match="has no core stations to collapse"):
        collapse_to_superstation(ss, "ST002", ["CS001HBA0"])


@pytest.fixture(scope="module")
def ms(simulated):
    return simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms


def test_cli_expands_into_the_core_stations_of_the_ms_and_collapses_back(ms, tmp_path):
    names, positions = read_antennas(ms)
    core = [n for n in names if n.startswith("CS")]
    assert len(core) == 4
    ss = example_solset(stations=PHASED_UP, soltypes=("phase", "amplitude"))
    ss.antenna_positions_m[1] = positions[[names.index(n) for n in core]].mean(axis=0)
    src = write_solset(tmp_path / "phased.h5", ss)
    assert main(["h5", "expand-core", str(src), "--msin", str(ms), "-o", str(tmp_path / "exp.h5")]) == 0
    exp = read_h5parm(tmp_path / "exp.h5")
    assert exp.antenna_names == ["RS106HBA", *core, "RS305HBA", "DE601HBA"]
    np.testing.assert_allclose(exp.antenna_positions_m[1:5], positions[[names.index(n) for n in core]], atol=0.5)
    for name, tab in exp.soltabs.items():
        for k in range(1, 5):
            np.testing.assert_array_equal(tab.val[:, :, k], ss.soltabs[name].val[:, :, 1])
    assert main(["h5", "expand-core", str(tmp_path / "exp.h5"), "--collapse", "-o", str(tmp_path / "back.h5")]) == 0
    back = read_h5parm(tmp_path / "back.h5")
    assert back.antenna_names == ss.antenna_names
    np.testing.assert_allclose(back.antenna_positions_m, ss.antenna_positions_m, atol=0.5)  # float32 in the file
    for name, tab in back.soltabs.items():
        np.testing.assert_array_equal(tab.val, ss.soltabs[name].val)
        np.testing.assert_array_equal(tab.weight, ss.soltabs[name].weight)
