"""Image measurement sets with WSClean; products appear only when complete."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lofar_hires.errors import InputError, OutputExistsError
from lofar_hires.io.atomic import check_output_path, remove_path
from lofar_hires.io.ms import require_ms
from lofar_hires.provenance import Provenance
from lofar_hires.runners.wsclean import WSCleanOptions, run_wsclean

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageProducts:
    """FITS files written by :func:`make_image`, by kind, plus the provenance record."""

    fits: dict[str, Path]
    provenance: Path
    log: Path


def make_image(ms_paths: Sequence[Path], outdir: Path, options: WSCleanOptions, *,
               overwrite: bool = False) -> ImageProducts:
    """Run WSClean on ``ms_paths``; write ``<outdir>/<name>-*.fits`` and provenance.

    ``options.name`` is the bare product name (no directory). WSClean runs in a
    temporary sibling directory; its FITS files are moved into ``outdir`` only
    after it succeeded.
    """
    name = str(options.name)
    if not name or "/" in name:
        raise InputError(f"image name {name!r} must be a plain file name prefix")
    for ms in ms_paths:
        require_ms(ms)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    existing = sorted(outdir.glob(f"{name}-*.fits"))
    if existing and not overwrite:
        raise OutputExistsError(f"images {existing[0]} ... already exist; pass --overwrite to replace them")
    check_output_path(outdir / f"{name}.provenance.json", overwrite=True)
    tmp = outdir / f".{name}.partial-{os.getpid()}"
    remove_path(tmp)
    tmp.mkdir()
    prov = Provenance(task="image", parameters={"options": repr(options)})
    for ms in ms_paths:
        prov.add_input(ms)
    log_path = outdir / f"{name}.wsclean.log"
    try:
        result = run_wsclean(replace(options, name=tmp / name, temp_dir=tmp), ms_paths, log_path,
                             provenance=prov)
        for old in existing:
            old.unlink()
        fits = {}
        for path in result.fits:
            final = outdir / path.name
            shutil.move(str(path), final)
            kind = path.name[len(name) + 1:-len(".fits")]
            fits[kind] = final
    finally:
        remove_path(tmp)
    prov_path = prov.write(outdir / f"{name}.provenance.json")
    log.info("wrote %d image(s): %s", len(fits), ", ".join(sorted(p.name for p in fits.values())))
    return ImageProducts(fits=fits, provenance=prov_path, log=log_path)
