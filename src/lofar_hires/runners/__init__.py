"""External tool runners: DP3 and WSClean as logged subprocesses with provenance."""

from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, build_parset, run_dp3
from lofar_hires.runners.process import run_logged
from lofar_hires.runners.wsclean import WSCleanOptions, WSCleanResult, build_wsclean_command, run_wsclean

__all__ = [
    "Dp3Run",
    "Dp3Step",
    "WSCleanOptions",
    "WSCleanResult",
    "build_parset",
    "build_wsclean_command",
    "run_dp3",
    "run_logged",
    "run_wsclean",
]
