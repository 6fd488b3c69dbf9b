"""ds9 region files of facet polygons, as WSClean's ``-facet-regions`` reads them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lofar_hires.errors import InputError

HEADER = "# Region file format: DS9 version 4.1\nglobal color=green dashlist=8 3 width=1\nfk5\n"


def write_ds9_polygons(path: Path, polygons: Sequence[Sequence[tuple[float, float]]],
                       names: Sequence[str] | None = None) -> Path:
    """Write polygons given as (RA, Dec) vertices in degrees (fk5), one facet each.

    Each polygon gets a ``text={name}`` label when names are given.
    """
    if names is not None and len(names) != len(polygons):
        raise InputError(f"{len(names)} facet names for {len(polygons)} polygons")
    lines = [HEADER.rstrip("\n")]
    for i, poly in enumerate(polygons):
        if len(poly) < 3:
            raise InputError(f"facet polygon {i} has {len(poly)} vertices; at least 3 are needed")
        coords = ",".join(f"{ra % 360.0:.7f},{dec:.7f}" for ra, dec in poly)
        label = f" # text={{{names[i]}}}" if names is not None else ""
        lines.append(f"polygon({coords}){label}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
