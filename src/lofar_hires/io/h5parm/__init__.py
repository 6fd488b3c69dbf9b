"""h5parm files (calibration solutions) in the standard layout, read and written with h5py.

A file holds solsets (``sol000``, ``calibrator``, ...) with an ``antenna`` table (``name``,
``position``), a ``source`` table (``name``, ``dir`` = RA, Dec in radians) and
soltabs (``phase000``, ``amplitude000``, ``tec000``, ...). A soltab is a group
whose ``TITLE`` attribute is its type, with one dataset per axis (``time``,
``freq``, ``ant``, ``dir``, ``pol``), a ``val`` dataset whose ``AXES`` attribute
lists the axis order, and a ``weight`` dataset of the same shape (0 = flagged).
This is what DP3 writes and what DP3, WSClean and LoSoTo read.

Direction names are written as ``[name]`` and RA is written in (-pi, pi], as DP3
writes it. WSClean 3.1 matches facets to h5parm directions by comparing RA values
in (-pi, pi] without wrapping: an h5parm with RA in [0, 2 pi) makes it apply one
direction's solutions to every facet of a field at RA > 180 deg (shown by
``tests/solutions/test_merge_wsclean.py``).

The package has four parts: :mod:`.model` (:class:`Soltab`, :class:`Solset` and the
conventions), :mod:`.read` (every read validates the file's structure first),
:mod:`.write` (DP3's exact layout) and :mod:`.solsets` (LINC's solset names:
``calibrator`` for the calibrator solutions, ``target`` for the target's; DP3 writes
``sol000``). Import from the package.
"""

from lofar_hires.io.h5parm.model import (
    ANTENNA_NAME_BYTES,
    CIRCULAR_POLS,
    H5PARM_VERSION,
    KNOWN_AXES,
    KNOWN_TYPES,
    LINEAR_POLS,
    SOURCE_NAME_BYTES,
    Solset,
    Soltab,
    direction_name,
    iter_blocks,
    pol_basis,
    wrap_ra,
)
from lofar_hires.io.h5parm.read import (
    SoltabInfo,
    StreamingReader,
    copy_solsets,
    read_h5parm,
    read_soltab,
    require_values,
    solset_names,
    validate_h5parm,
)
from lofar_hires.io.h5parm.solsets import (
    CALIBRATOR_SOLSET,
    CALIBRATOR_SOLSET_ORDER,
    CALIBRATOR_SOLTAB_TYPES,
    DP3_SOLSET,
    SOLTAB_ALIASES,
    TARGET_SOLSET,
    calibrator_solset,
    read_calibrator_solutions,
    rename_solset,
    soltab_names_in,
)
from lofar_hires.io.h5parm.write import H5parmWriter, check_group_name, write_h5parm, write_solset

__all__ = [
    "CALIBRATOR_SOLSET", "CALIBRATOR_SOLSET_ORDER", "CALIBRATOR_SOLTAB_TYPES", "DP3_SOLSET", "SOLTAB_ALIASES",
    "TARGET_SOLSET", "calibrator_solset", "read_calibrator_solutions", "rename_solset",
    "soltab_names_in",
    "ANTENNA_NAME_BYTES", "CIRCULAR_POLS", "H5PARM_VERSION", "KNOWN_AXES", "KNOWN_TYPES", "LINEAR_POLS",
    "SOURCE_NAME_BYTES", "H5parmWriter", "Solset", "Soltab", "SoltabInfo", "StreamingReader", "check_group_name",
    "copy_solsets", "direction_name", "iter_blocks", "pol_basis", "read_h5parm", "read_soltab", "require_values",
    "solset_names", "validate_h5parm", "wrap_ra", "write_h5parm", "write_solset",
]
