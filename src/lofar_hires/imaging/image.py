"""Image measurement sets with WSClean; products appear only when complete."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lofar_hires.errors import InputError, OutputExistsError, QualityError
from lofar_hires.io.atomic import check_output_path, remove_path
from lofar_hires.io.ms import require_ms
from lofar_hires.io.names import safe_name
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
    after it succeeded and every image was found finite (:func:`check_fits_image`).
    Everything is checked before WSClean starts: the options, the name, every
    measurement set (rows, the data column, some unflagged data) and the output
    directory (writable, no earlier images unless ``overwrite``).

    Raises
    ------
    InputError
        Bad options, name, measurement set or output directory.
    OutputExistsError
        Images of this name exist and ``overwrite`` is false.
    ToolError
        WSClean failed or wrote no image.
    QualityError
        An image has no finite pixel, NaN pixels where none may be, or only zeros (WSClean
        skips NaN visibilities: data that are all NaN give an image of zeros).
    """
    options.validate()
    name = str(options.name)
    if not name or "/" in name or safe_name(name, what="image") != name:
        raise InputError(f"image name {name!r} must be a plain file name prefix (letters, digits, _ + - .)")
    if not ms_paths:
        raise InputError("give at least one measurement set to image")
    for ms in ms_paths:
        require_ms(ms, (options.data_column,))
    outdir = Path(outdir)
    # Refuses an output directory that cannot be created or written (e.g. a path under a file).
    check_output_path(outdir / f"{name}.provenance.json", overwrite=True)
    existing = sorted(outdir.glob(f"{name}-*.fits"))
    if existing and not overwrite:
        raise OutputExistsError(f"images {existing[0]} ... already exist; overwrite them or choose another name",
                                setting="overwrite")
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
        for path in result.fits:
            if path.name[len(name) + 1:-len(".fits")].endswith(("image", "dirty")):
                check_image_has_signal(path, options.data_column)
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


def check_image_has_signal(path: Path, data_column: str, rows_per_block: int = 1024) -> None:
    """Refuse an image whose pixels are all zero: WSClean gridded no visibility (read in blocks, memory-mapped).

    Raises
    ------
    QualityError
        Every pixel is 0 (the data column is all NaN, all flagged or outside the uv range).
    """
    import numpy as np
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdus:
        plane = hdus[0].data.reshape(-1, hdus[0].data.shape[-1])
        for start in range(0, plane.shape[0], rows_per_block):
            if np.any(np.asarray(plane[start:start + rows_per_block]) != 0):
                return
    raise QualityError(f"image {path.name} is all zeros: WSClean used no visibility of {data_column} (all NaN, "
                       "all flagged, or outside the uv range?)")
