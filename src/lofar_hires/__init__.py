"""lofar-hires: deep 0.3-arcsecond wide-field imaging of LOFAR observations.

The package is organised by job: ``io`` (measurement sets, h5parms, sky models,
atomic outputs), ``runners`` (DP3 and WSClean as subprocesses), ``simulation``
(the built-in LOFAR observation simulator with ground truth) and ``cli`` (one
thin command-line layer per task).
"""

import os
from importlib.metadata import PackageNotFoundError, version

# Our numerical work is many small batched matrix products, which multi-threaded
# OpenBLAS slows down (and DP3 refuses to run with it). Parallelism comes from
# running steps side by side; users can override this before importing us.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:
    __version__ = version("lofar-hires")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
