"""DDECal's iteration counts read from DP3's log: intervals that stopped at maxiter are counted.

DP3 6.6 prints one line ``Iterations taken: [n, n, ...]`` per DDECal step in its timings (``n|m`` when
m of the iterations were approximate) and counts ``maxiter + 1`` for an interval that did not converge.
The calibrator tests (tests/calibration/test_di_convergence.py) read the lines of real DP3 runs.
"""

from __future__ import annotations

import pytest

from lofar_hires.errors import ToolError
from lofar_hires.runners.dp3 import SolveConvergence, ddecal_convergence, ddecal_iterations

LOG = """DDECal solve.
   98.8% ( 5052 ms) DDECal solve.
          Substeps taken:
           MsColumnReader solve.
Iterations taken: [201,201,57,201]
    0.2% (   10 ms) MSUpdater msout.
Iterations taken: [12|3,40]
"""


def test_iteration_counts_of_every_ddecal_step():
    assert ddecal_iterations(LOG) == [(201, 201, 57, 201), (12, 40)]
    assert ddecal_iterations("Total DP3 time 1.0 real\n") == []


def test_intervals_beyond_maxiter_are_counted():
    conv = SolveConvergence("solve4", 200, (201, 201, 57, 201))
    assert (conv.n_intervals, conv.n_at_maxiter, conv.fraction_at_maxiter) == (4, 3, 0.75)
    assert conv.to_dict() == {"maxiter": 200, "intervals": 4, "at_maxiter": 3, "fraction_at_maxiter": 0.75,
                              "iterations_min": 57, "iterations_median": 201, "iterations_max": 201}
    assert conv.message() == ("DDECal solve solve4: 3 of 4 solution intervals (75 %) stopped at maxiter=200 "
                              "without converging")
    assert SolveConvergence("s", 200, (200, 57)).n_at_maxiter == 0


def test_log_of_one_solve(tmp_path):
    log = tmp_path / "solve.log"
    log.write_text(LOG.split("    0.2%")[0])
    assert ddecal_convergence(log, "solve4", 200).n_at_maxiter == 3
    log.write_text(LOG)
    with pytest.raises(ToolError, match="2 lines 'Iterations taken'.*cannot tell whether solve solve4 converged"):
        ddecal_convergence(log, "solve4", 200)
    with pytest.raises(ToolError, match="cannot read the DP3 log"):
        ddecal_convergence(tmp_path / "missing.log", "solve4", 200)
    log.write_text("Iterations taken: [201,x]\n")
    with pytest.raises(ToolError, match="cannot read DDECal's iteration counts"):
        ddecal_convergence(log, "solve4", 200)
