"""Direction-assigned merge inputs: single-direction solutions applied to chosen output directions only."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.solutions.merge import MergeInput, merge_h5parms

DUTCH = ["CS002HBA0", "CS002HBA1", "RS106HBA"]
ALL = [*DUTCH, "DE601HBA", "FR606HBA"]
POS = {name: np.array([3826577.0 + 100 * i, 461022.0, 5064892.0]) for i, name in enumerate(ALL)}
T = 4.9e9 + np.arange(0.0, 80.0, 10.0)
T_COARSE = 4.9e9 + np.arange(0.0, 80.0, 20.0)
F = 140e6 + 2e6 * np.arange(3)
POLS = np.array(["XX", "YY"])
DIRS = {"d0": (np.radians(242.75), np.radians(55.0)), "d1": (np.radians(243.25), np.radians(55.3)),
        "d2": (np.radians(243.75), np.radians(55.6))}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dutch(tmp_path, rng):
    axes = {"time": T, "freq": F, "ant": np.array(DUTCH), "dir": np.array(list(DIRS)), "pol": POLS}
    shape = tuple(len(v) for v in axes.values())
    phase = rng.uniform(-np.pi, np.pi, shape)
    amp = rng.uniform(0.5, 1.5, shape)
    path = write_h5parm(tmp_path / "dutch.h5", [Soltab("phase000", "phase", axes, phase),
                                                Soltab("amplitude000", "amplitude", axes, amp)],
                        DUTCH, np.array([POS[a] for a in DUTCH]), DIRS)
    return path, phase, amp


def _single(tmp_path, rng, name, direction, position=(np.radians(243.0), np.radians(55.2)), times=T):
    """All stations, one direction (the calibrator's), on a coarser time grid when ``times`` is."""
    axes = {"time": times, "freq": F, "ant": np.array(ALL), "dir": np.array([direction]), "pol": POLS}
    shape = tuple(len(v) for v in axes.values())
    phase = rng.uniform(-np.pi, np.pi, shape)
    amp = rng.uniform(0.5, 1.5, shape)
    path = write_h5parm(tmp_path / f"{name}.h5", [Soltab("phase000", "phase", axes, phase),
                                                  Soltab("amplitude000", "amplitude", axes, amp)],
                        ALL, np.array([POS[a] for a in ALL]), {direction: position})
    return path, phase, amp


def _wrapped(a):
    return np.angle(np.exp(1j * a))


def test_assigned_inputs_apply_to_their_directions_only(tmp_path):
    rng = np.random.default_rng(3)
    dutch, dph, damp = _dutch(tmp_path, rng)
    # cal_a is at d0's position; cal_b's source table puts its direction at a conflicting position for
    # the name [d1] (0.3 deg off): an assigned input's own direction plays no part, so no refusal.
    a, aph, aamp = _single(tmp_path, rng, "cal_a", "cal_a", DIRS["d0"])
    b, bph, bamp = _single(tmp_path, rng, "cal_b", "d1", (DIRS["d1"][0] + 0.005, DIRS["d1"][1]))
    inputs = (dutch, a, b)
    before = {p: _sha(p) for p in inputs}
    out = tmp_path / "merged.h5"
    summary = merge_h5parms([MergeInput(dutch), MergeInput(a, directions=("d0",)),
                             MergeInput(b, directions=("[d1]", "d2"))], out)
    assert summary.directions == ["[d0]", "[d1]", "[d2]"]
    got = read_h5parm(out)
    assert list(got.directions) == ["[d0]", "[d1]", "[d2]"]
    for name, (ra, dec) in DIRS.items():
        np.testing.assert_allclose(got.directions[f"[{name}]"], (ra - 2 * np.pi if ra > np.pi else ra, dec),
                                   atol=1e-12)
    assert got.antenna_names == ALL
    ph, amp = got.soltabs["phase000"], got.soltabs["amplitude000"]
    assert ph.axis_names == ["time", "freq", "ant", "dir", "pol"]
    n = len(DUTCH)
    for d, (sph, samp) in enumerate([(aph, aamp), (bph, bamp), (bph, bamp)]):
        # Dutch stations: Dutch(d) followed by the assigned calibrator's solutions.
        np.testing.assert_allclose(_wrapped(ph.val[:, :, :n, d] - dph[:, :, :, d] - sph[:, :, :n, 0]), 0,
                                   atol=1e-9)
        np.testing.assert_allclose(amp.val[:, :, :n, d], damp[:, :, :, d] * samp[:, :, :n, 0], rtol=1e-9)
        # International stations: the Dutch file has none (identity), so the calibrator's solutions alone.
        np.testing.assert_allclose(_wrapped(ph.val[:, :, n:, d] - sph[:, :, n:, 0]), 0, atol=1e-9)
        np.testing.assert_allclose(amp.val[:, :, n:, d], samp[:, :, n:, 0], rtol=1e-9)
    assert any("DE601HBA" in w and "dutch.h5" in w for w in summary.warnings)
    assert {p: _sha(p) for p in inputs} == before


def test_unassigned_directions_keep_the_dutch_values(tmp_path):
    rng = np.random.default_rng(4)
    dutch, dph, damp = _dutch(tmp_path, rng)
    a, aph, aamp = _single(tmp_path, rng, "cal_a", "cal_a", times=T_COARSE)  # nearest-neighbour in time
    out = tmp_path / "merged.h5"
    merge_h5parms([MergeInput(dutch), MergeInput.parse(f"{a}:sol000/phase000,amplitude000@d1")], out)
    got = read_h5parm(out)
    ph, amp = got.soltabs["phase000"].val, got.soltabs["amplitude000"].val
    n = len(DUTCH)
    for d in (0, 2):
        np.testing.assert_allclose(_wrapped(ph[:, :, :n, d] - dph[:, :, :, d]), 0, atol=1e-9)
        np.testing.assert_allclose(amp[:, :, :n, d], damp[:, :, :, d], rtol=1e-12)
        np.testing.assert_array_equal(ph[:, :, n:, d], 0.0)  # identity from both inputs
        np.testing.assert_array_equal(amp[:, :, n:, d], 1.0)
    nearest = np.repeat(np.arange(len(T_COARSE)), 2)  # 0, 10 s -> 0 s; 20, 30 s -> 20 s; ...
    np.testing.assert_allclose(_wrapped(ph[:, :, :n, 1] - dph[:, :, :, 1] - aph[nearest][:, :, :n, 0]), 0, atol=1e-9)
    np.testing.assert_allclose(amp[:, :, :n, 1], damp[:, :, :, 1] * aamp[nearest][:, :, :n, 0], rtol=1e-9)


def test_weights_of_unassigned_directions_are_not_flagged_by_the_assigned_input(tmp_path):
    rng = np.random.default_rng(5)
    dutch, _, _ = _dutch(tmp_path, rng)
    axes = {"time": T, "ant": np.array(ALL), "dir": np.array(["cal"])}
    weight = np.zeros((len(T), len(ALL), 1))
    a = write_h5parm(tmp_path / "flagged.h5", [Soltab("phase000", "phase", axes, np.zeros(weight.shape), weight)],
                     ALL, np.array([POS[x] for x in ALL]), {"cal": DIRS["d2"]})
    out = tmp_path / "merged.h5"
    merge_h5parms([MergeInput(dutch), MergeInput(a, directions=("d2",))], out)
    w = read_h5parm(out).soltabs["phase000"].weight
    assert np.all(w[..., 2, :] == 0)
    assert np.all(w[..., :2, :] == 1)


@pytest.mark.parametrize("problem", ["unknown", "multi", "no-output-directions", "empty"])
def test_bad_assignments_refused_without_output(tmp_path, problem):
    rng = np.random.default_rng(6)
    dutch, _, _ = _dutch(tmp_path, rng)
    a, _, _ = _single(tmp_path, rng, "cal_a", "cal_a")
    specs = [MergeInput(dutch), MergeInput(a, directions=("d0",))]
    if problem == "unknown":
        specs[1] = MergeInput(a, directions=("d0", "nosuchdir", "[other]"))
        message = r"unknown direction\(s\) \[nosuchdir\], \[other\]; the output directions are \[d0\], \[d1\], \[d2\]"
    elif problem == "multi":
        specs[1] = MergeInput(dutch, directions=("d0",))
        specs[0] = MergeInput(a)
        message = "has 3 directions"
    elif problem == "no-output-directions":
        axes = {"time": T, "ant": np.array(DUTCH)}
        plain = write_h5parm(tmp_path / "nodir.h5", [Soltab("phase000", "phase", axes, np.zeros((len(T), 3)))],
                             DUTCH, np.array([POS[x] for x in DUTCH]))
        specs[0] = MergeInput(plain)
        message = "no other input has directions"
    else:
        with pytest.raises(InputError, match="no output direction"):
            MergeInput.parse(f"{a}@")
        return
    out = tmp_path / "m.h5"
    with pytest.raises(InputError, match=message):
        merge_h5parms(specs, out)
    assert not out.exists() and not list(tmp_path.glob(".m.h5.partial*"))


def test_parse_directions():
    spec = MergeInput.parse("cal.h5:sol000/phase000,amplitude000@facet_0,[facet_1]")
    assert spec.path.name == "cal.h5" and spec.solset == "sol000"
    assert spec.soltabs == ("phase000", "amplitude000")
    assert spec.directions == ("[facet_0]", "[facet_1]")
    assert MergeInput.parse("cal.h5@facet_2").directions == ("[facet_2]",)
    assert MergeInput.parse("cal.h5").directions is None
    assert MergeInput.parse("/data/a@b/cal.h5").directions is None  # an @ in a directory name
