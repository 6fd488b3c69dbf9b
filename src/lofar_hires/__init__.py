"""lofar-hires: deep 0.3-arcsecond wide-field imaging of LOFAR observations.

The package is organised by job: ``io`` (measurement sets, h5parms, sky models,
atomic outputs), ``runners`` (DP3 and WSClean as subprocesses), ``simulation``
(the built-in LOFAR observation simulator with ground truth) and ``cli`` (one
thin command-line layer per task).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lofar-hires")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
