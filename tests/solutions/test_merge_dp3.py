"""A merged h5parm applied by DP3 equals its inputs applied one after another.

Inputs are on different grids (some coarser than the data, some without a
frequency axis); the merge uses the finest grid and nearest-neighbour
interpolation, as DP3's applycal does.
"""

from __future__ import annotations

import numpy as np
import pytest
from merge_helpers import apply, applycal_steps, grid, smooth, soltab, write

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.solutions.merge import MergeInput, merge_h5parms


@pytest.fixture(scope="module")
def ms(simulated):
    return simulated("merge_data", overrides=ALL_CORRUPTIONS_OFF[:-1] + ("calibrator.enabled=false",)).targets()[0].ms


def _scalarphase_diagamp(ms, tmp, rng):
    fine, coarse = grid(ms), grid(ms, 3, 2)
    nt, nf, na = len(fine["time"]), len(fine["freq"]), len(fine["ant"])
    a = write(tmp / "a.h5", fine, [soltab("phase000", "phase", fine, ["time", "freq", "ant"],
                                          smooth(rng, (nt, nf, na), 2.0))])
    ct, cf = len(coarse["time"]), len(coarse["freq"])
    b = write(tmp / "b.h5", coarse, [soltab("amplitude000", "amplitude", coarse, ["time", "freq", "ant", "pol2"],
                                            1 + smooth(rng, (ct, cf, na, 2), 0.2))])
    return [(a, "soltabs", ["phase000"]), (b, "soltabs", ["amplitude000"])]


def _tec_phase(ms, tmp, rng):
    fine, coarse = grid(ms), grid(ms, 3, 1)
    nt, nf, na = len(fine["time"]), len(fine["freq"]), len(fine["ant"])
    a = write(tmp / "tec.h5", coarse, [soltab("tec000", "tec", coarse, ["time", "ant"],
                                              smooth(rng, (len(coarse["time"]), na), 0.05))])
    b = write(tmp / "ph.h5", fine, [soltab("phase000", "phase", fine, ["time", "freq", "ant", "pol2"],
                                           smooth(rng, (nt, nf, na, 2), 1.0))])
    return [(a, "soltabs", ["tec000"]), (b, "soltabs", ["phase000"])]


def _rotation_diagonal(ms, tmp, rng):
    fine = grid(ms)
    nt, nf, na = len(fine["time"]), len(fine["freq"]), len(fine["ant"])
    a = write(tmp / "rot.h5", fine, [soltab("rotation000", "rotation", fine, ["time", "ant"],
                                            smooth(rng, (nt, na), 0.6))])
    b = write(tmp / "diag.h5", fine, [
        soltab("amplitude000", "amplitude", fine, ["time", "freq", "ant", "pol2"],
               1 + smooth(rng, (nt, nf, na, 2), 0.2)),
        soltab("phase000", "phase", fine, ["time", "freq", "ant", "pol2"], smooth(rng, (nt, nf, na, 2), 2.0)),
    ])
    return [(a, "soltabs", ["rotation000"]), (b, "soltabs", ["amplitude000", "phase000"])]


def _fulljones(ms, tmp, rng):
    fine, coarse = grid(ms), grid(ms, 3, 2)
    nt, nf, na = len(fine["time"]), len(fine["freq"]), len(fine["ant"])
    ct, cf = len(coarse["time"]), len(coarse["freq"])
    amp = np.abs(smooth(rng, (ct, cf, na, 4), 0.1))
    amp[..., [0, 3]] += 1
    a = write(tmp / "fj.h5", coarse, [
        soltab("amplitude000", "amplitude", coarse, ["time", "freq", "ant", "pol4"], amp),
        soltab("phase000", "phase", coarse, ["time", "freq", "ant", "pol4"], smooth(rng, (ct, cf, na, 4), 2.0)),
    ])
    b = write(tmp / "sp.h5", fine, [soltab("phase000", "phase", fine, ["time", "freq", "ant"],
                                           smooth(rng, (nt, nf, na), 1.5))])
    c = write(tmp / "fj2.h5", fine, [
        soltab("amplitude000", "amplitude", fine, ["time", "freq", "ant", "pol4"],
               np.abs(smooth(rng, (nt, nf, na, 4), 0.1)) + np.array([1, 0, 0, 1])),
        soltab("phase000", "phase", fine, ["time", "freq", "ant", "pol4"], smooth(rng, (nt, nf, na, 4), 2.0)),
    ])
    return [(a, "full", None), (b, "soltabs", ["phase000"]), (c, "full", None)]


#: Case -> (inputs as (file, how DP3 applies it, soltabs), expected kind of the merged solutions).
CASES = {"scalarphase+diagonal-amplitude": (_scalarphase_diagamp, "diagonal"),
         "tec+phase": (_tec_phase, "diagonal"),
         "rotation+diagonal": (_rotation_diagonal, "full"),
         "fulljones": (_fulljones, "full")}


@pytest.mark.parametrize("case", list(CASES))
def test_merged_equals_sequential(case, ms, tmp_path):
    make, expected_kind = CASES[case]
    inputs = make(ms, tmp_path, np.random.default_rng(sorted(CASES).index(case)))
    seq_steps = [applycal_steps(f"in{i}", path, how, tabs or []) for i, (path, how, tabs) in enumerate(inputs)]
    sequential = apply(ms, tmp_path, "sequential", seq_steps)
    merged = tmp_path / "merged.h5"
    summary = merge_h5parms([MergeInput(p) for p, _, _ in inputs], merged)
    assert summary.kind == expected_kind
    step = applycal_steps("merged", merged, summary.kind, ["amplitude000", "phase000"])
    result = apply(ms, tmp_path, "merged", [step])
    raw = apply(ms, tmp_path, "raw", [])
    scale = np.abs(sequential).max()
    assert np.abs(sequential - raw).max() > 0.1 * scale  # the corrections do something
    assert np.abs(result - sequential).max() < 1e-5 * scale
