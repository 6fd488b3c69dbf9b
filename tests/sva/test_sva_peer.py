"""Our engine against the public ``sva`` (sidereal-visibility-avg 2.1.0, when installed) on the same three simulated
observations at the same 10 s grid: the same visibilities (1e-5 of the largest amplitude) and weights (rtol 1e-6)
slot by slot (``sva`` puts its grid on another date: slots are compared in order)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_sva_truth import SVA_FIELD, columns, run_sva

SVA = Path(sys.executable).parent / "sva"


@pytest.mark.slow
@pytest.mark.skipif(not SVA.exists(), reason="the public sva (sidereal-visibility-avg) is not installed")
def test_same_visibilities_as_the_public_sva(simulated, tmp_path):
    sim = simulated("sva-field", preset="tiny", overrides=SVA_FIELD)
    mss = [o.ms for o in sim.targets()]
    ours = run_sva(mss, tmp_path / "ours", "--time-res-s", "10")
    work = tmp_path / "peer"
    work.mkdir()
    copies = []
    for ms in mss:  # sva writes its mapping files next to its inputs' names in its working directory
        copies.append(work / ms.name)
        shutil.copytree(ms, copies[-1])
    proc = subprocess.run([str(SVA), *map(str, copies), "--msout", str(work / "peer.ms"), "--time_res", "10",
                           "--ncpu", "2", "--tmp", str(work), "--logfile", str(work / "sva.log")],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:]
    p_time, p_a1, p_a2, p_data, p_weight = columns(work / "peer.ms", "TIME", "ANTENNA1", "ANTENNA2", "DATA",
                                                   "WEIGHT_SPECTRUM")
    o_time, o_a1, o_a2, o_data, o_weight = columns(tmp_path / "ours" / "sva.ms", "TIME", "ANTENNA1", "ANTENNA2",
                                                   "DATA", "WEIGHT_SPECTRUM")
    assert ours["rows_out"] == p_time.size
    p_order = np.lexsort((p_a2, p_a1, np.searchsorted(np.unique(p_time), p_time)))
    o_order = np.lexsort((o_a2, o_a1, np.searchsorted(np.unique(o_time), o_time)))
    assert np.array_equal(p_a1[p_order], o_a1[o_order]) and np.array_equal(p_a2[p_order], o_a2[o_order])
    assert np.max(np.abs(p_data[p_order] - o_data[o_order])) < 1e-5 * np.max(np.abs(o_data))
    np.testing.assert_allclose(p_weight[p_order], o_weight[o_order], rtol=1e-6)
