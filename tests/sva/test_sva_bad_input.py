"""``lofar-hires sva`` refuses observations it cannot average before writing anything: another field, observations
that do not overlap in sidereal time, another frequency grid, no baseline in common, a smearing budget no time
resolution meets, an input given twice; exit 2, one line that says why, nothing written, inputs untouched.
One observation alone is allowed (it is averaged in time)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from test_sva_truth import SVA_FIELD, columns

from conftest import tree_sha256
from lofar_hires.cli import main


@pytest.fixture(scope="module")
def mss(simulated):
    return [o.ms for o in simulated("sva-field", preset="tiny", overrides=SVA_FIELD).targets()]


def edit(ms, subtable: str, column: str, change) -> None:
    from casacore.tables import table

    with table(str(ms / subtable), readonly=False, ack=False) as t:
        t.putcol(column, change(t.getcol(column)))


def other_field(ms):
    edit(ms, "FIELD", "PHASE_DIR", lambda d: d + np.radians(0.1))


def other_channels(ms):
    edit(ms, "SPECTRAL_WINDOW", "CHAN_FREQ", lambda f: f + 1e6)


def other_stations(ms):
    edit(ms, "ANTENNA", "NAME", lambda names: [f"XX{i:03d}" for i in range(len(names))])


@pytest.mark.parametrize("change, extra, message", [
    (other_field, (), r"phased to another direction: 4\d\d arcsec from"),
    (other_channels, (), r"another frequency grid"),
    (other_stations, (), r"no baseline in common"),
    (None, ("--image-radius-deg", "5"), r"finer than 1/8 of the input integration"),
    (None, ("--max-smearing-loss", "0"), r"max_smearing_loss must be in \(0, 1\)"),
], ids=["other-field", "other-channels", "no-common-baseline", "budget-unreachable", "zero-budget"])
def test_refused_before_anything_is_written(mss, tmp_path, capsys, change, extra, message):
    inputs = list(mss)
    if change is not None:
        inputs[1] = tmp_path / "changed.MS"
        shutil.copytree(mss[1], inputs[1])
        change(inputs[1])
    before = [tree_sha256(ms) for ms in inputs]
    out = tmp_path / "out"
    assert main(["sva", *map(str, inputs), "-o", str(out), *extra]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert [tree_sha256(ms) for ms in inputs] == before
    assert not out.exists() or not any(out.iterdir()), "nothing written"


def test_observations_apart_in_sidereal_time_are_refused(simulated, tmp_path, capsys):
    apart = simulated("sva-apart", preset="tiny", overrides=(
        *(x for x in SVA_FIELD if "n_observations" not in x), "observation.n_observations=2",
        "observation.lst_step_h=1"))
    mss = [o.ms for o in apart.targets()]
    assert main(["sva", *map(str, mss), "-o", str(tmp_path / "out"), "--image-radius-deg", "0.04"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "does not overlap in sidereal time" in errors[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_same_observation_twice_is_refused(mss, tmp_path):
    assert main(["sva", str(mss[0]), str(mss[0]), "-o", str(tmp_path / "out")]) == 2


def test_one_observation_is_averaged_in_time(mss, tmp_path):
    """Alone, an observation is averaged to the budget's step: 20 s from 10 s at 0.02 deg (pairs of samples)."""
    out = tmp_path / "out"
    assert main(["--log-level", "WARNING", "sva", str(mss[0]), "-o", str(out), "--image-radius-deg", "0.02"]) == 0
    data_in, weight_in = columns(mss[0], "DATA", "WEIGHT_SPECTRUM")
    data, weight = columns(out / "sva.ms", "DATA", "WEIGHT_SPECTRUM")
    assert data.shape[0] == data_in.shape[0] // 2
    nb = 36
    pairs = (data_in * weight_in).reshape(-1, 2, nb, *data_in.shape[1:]).sum(1) / \
        weight_in.reshape(-1, 2, nb, *data_in.shape[1:]).sum(1)
    assert np.max(np.abs(data - pairs.reshape(data.shape))) < 1e-6
    assert sorted(p.name for p in out.iterdir()) == ["sva.ms", "sva.ms.provenance.json", "sva.sva.json"]
    assert main(["--log-level", "WARNING", "sva", str(mss[0]), "-o", str(out), "--image-radius-deg", "0.02"]) == 2, \
        "existing products are kept without --overwrite"
