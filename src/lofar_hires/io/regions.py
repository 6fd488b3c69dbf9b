"""ds9 region files of facet polygons, as WSClean's ``-facet-regions`` reads them.

One facet is a ``polygon(ra_0,dec_0,...,ra_n,dec_n)`` line in degrees (fk5),
optionally labelled ``# text={name}`` on the same line, optionally followed by a
``point(ra,dec)`` line: the facet's direction. WSClean 3.1 (schaapcommon's
``DS9FacetFile``) picks the h5parm direction whose solutions it applies to a facet
as the one nearest to that point, or to the polygon's centroid without one; the
text label plays no part in it. Like the h5parm direction table, the nearest
search compares RA values in (-180, 180] deg without wrapping, so points are
written with RA in (-180, 180] (as DP3 writes h5parm directions): a point with RA
in [0, 360) picks the wrong direction for a field at RA > 180 deg (all verified
with the installed WSClean 3.1, see ``tests/selection/test_facets_wsclean.py``).
Polygon vertices are converted to pixels by WSClean and are written in [0, 360).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

HEADER = "# Region file format: DS9 version 4.1\nglobal color=green dashlist=8 3 width=1\nfk5\n"

#: Coordinate-system lines of a region file that mean J2000 degrees.
_SKY_SYSTEMS = ("fk5", "icrs", "j2000")
#: Coordinate systems a facet file must not use (pixels or other frames).
_OTHER_SYSTEMS = ("image", "physical", "fk4", "b1950", "galactic", "ecliptic", "linear", "amplifier", "detector")
_SHAPE = re.compile(r"^\s*([+-]?)(polygon|point)\s*\(([^)]*)\)\s*(?:#(.*))?$", re.IGNORECASE)
_TEXT = re.compile(r"text\s*=\s*(?:\{([^}]*)\}|\"([^\"]*)\"|'([^']*)'|(\S+))")


@dataclass(frozen=True)
class Ds9Polygon:
    """One facet of a region file: its label (None if unlabelled), vertices and direction point."""

    name: str | None
    vertices_deg: np.ndarray
    point_deg: tuple[float, float] | None = None


def write_ds9_polygons(path: Path, polygons: Sequence[Sequence[tuple[float, float]]],
                       names: Sequence[str] | None = None,
                       points: Sequence[tuple[float, float] | None] | None = None) -> Path:
    """Write polygons given as (RA, Dec) vertices in degrees (fk5), one facet each.

    Each polygon gets a ``text={name}`` label when names are given, and a
    ``point(ra,dec)`` line (the facet's direction) after it when ``points`` gives one;
    the point's RA is written in (-180, 180] deg, the convention WSClean 3.1 compares
    with the h5parm directions.
    """
    if names is not None and len(names) != len(polygons):
        raise InputError(f"{len(names)} facet names for {len(polygons)} polygons")
    if points is not None and len(points) != len(polygons):
        raise InputError(f"{len(points)} facet points for {len(polygons)} polygons")
    lines = [HEADER.rstrip("\n")]
    for i, poly in enumerate(polygons):
        if len(poly) < 3:
            raise InputError(f"facet polygon {i} has {len(poly)} vertices; at least 3 are needed")
        coords = ",".join(f"{ra % 360.0:.7f},{dec:.7f}" for ra, dec in poly)
        label = f" # text={{{names[i]}}}" if names is not None else ""
        lines.append(f"polygon({coords}){label}")
        if points is not None and points[i] is not None:
            ra, dec = points[i]
            lines.append(f"point({wrap_ra_deg(ra):.7f},{dec:.7f})")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def wrap_ra_deg(ra_deg: float) -> float:
    """RA in (-180, 180] deg (the h5parm convention, which WSClean 3.1 compares facet points with)."""
    wrapped = (float(ra_deg) + 180.0) % 360.0 - 180.0
    return 180.0 if wrapped == -180.0 else wrapped


def _numbers(text: str, where: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in text.split(",") if v.strip()], dtype=float)
    except ValueError:
        raise InputError(f"{where}: coordinates must be numbers in degrees (sexagesimal is not supported)") from None
    if not np.isfinite(values).all():
        raise InputError(f"{where}: coordinates are not finite numbers")
    return values


def read_ds9_polygons(path: Path) -> list[Ds9Polygon]:
    """Read the facets of a ds9 region file: polygons in degrees (fk5), labels, direction points.

    A ``point`` belongs to the polygon before it (the last one wins, as in WSClean);
    other shapes are ignored. Labels are the ``text=`` of the polygon line (braces or
    quotes removed). RA values are returned in [0, 360).
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"region file {path} does not exist")
    if not path.is_file():
        raise InputError(f"region file {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"region file {path} is not a ds9 region file (not UTF-8 text)") from None
    facets: list[Ds9Polygon] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{path} line {number}"
        if not line or line.startswith("#"):
            continue
        word = re.split(r"[\s;(]", line, maxsplit=1)[0].lower()
        if word in _OTHER_SYSTEMS:
            raise InputError(f"{where}: coordinate system {word!r}; facet regions must be fk5 degrees")
        if word in _SKY_SYSTEMS or word == "global":
            continue
        match = _SHAPE.match(line)
        if match is None:
            continue
        _, shape, coords, comment = match.groups()
        values = _numbers(coords, where)
        if shape.lower() == "polygon":
            if len(values) % 2 or len(values) < 6:
                raise InputError(f"{where}: a polygon needs at least 3 (RA, Dec) pairs, got {len(values)} numbers")
            text = _TEXT.search(comment or "")
            name = next((g for g in text.groups() if g is not None), None) if text else None
            vertices = values.reshape(-1, 2)
            vertices[:, 0] %= 360.0
            facets.append(Ds9Polygon(name=name, vertices_deg=vertices))
        else:
            if len(values) != 2:
                raise InputError(f"{where}: a point needs one (RA, Dec) pair, got {len(values)} numbers")
            if facets:
                last = facets[-1]
                facets[-1] = Ds9Polygon(last.name, last.vertices_deg, (float(values[0]) % 360.0, float(values[1])))
    return facets
