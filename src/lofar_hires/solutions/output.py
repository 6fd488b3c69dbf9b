"""Writing solution products: atomically, with provenance in the solset attributes."""

from __future__ import annotations

import logging
from pathlib import Path

from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.h5parm import Solset, copy_solsets, write_solset
from lofar_hires.provenance import Provenance

log = logging.getLogger(__name__)

#: Solset attribute that holds the provenance record (JSON).
PROVENANCE_ATTR = "lofar_hires_provenance"


def save_solset(solset: Solset, path: Path, provenance: Provenance, *, overwrite: bool = False,
                copy_other_solsets_from: Path | None = None) -> Path:
    """Write ``solset`` to ``path`` under a temporary name, with ``provenance`` as an attribute.

    With ``copy_other_solsets_from``, the other solsets of that file are copied
    unchanged into the output, so a command on one solset loses nothing.
    """
    solset.attrs[PROVENANCE_ATTR] = provenance.to_json()
    with atomic_output(Path(path), overwrite) as tmp:
        write_solset(tmp, solset)
        if copy_other_solsets_from is not None:
            copied = copy_solsets(Path(copy_other_solsets_from), tmp, exclude=solset.name)
            if copied:
                log.info("copied solset(s) %s unchanged from %s", ", ".join(copied), copy_other_solsets_from)
    log.info("wrote %s (%s)", path, ", ".join(solset.soltabs) or "no soltabs")
    return Path(path)
