"""LOFAR HBA stations: real positions from ``lofarantpos`` and their antenna fields.

Station names follow the MS convention: split core stations ``CS002HBA0`` /
``CS002HBA1`` (24 tiles each), remote ``RS106HBA`` (48 tiles) and international
``DE601HBA`` (96 tiles).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.physics import station_kind

#: Number of dipoles in an HBA tile.
DIPOLES_PER_TILE = 16


@functools.lru_cache(maxsize=1)
def _database():
    # lofarantpos reads its CSV tables on construction; do it once per process.
    from lofarantpos.db import LofarAntennaDatabase

    return LofarAntennaDatabase()


def known_hba_stations() -> list[str]:
    """All HBA antenna-field names usable as MS stations (split core, remote, international)."""
    db = _database()
    names = []
    for name in db.phase_centres:
        if name.startswith("CS") and name[-4:] in ("HBA0", "HBA1"):
            names.append(name)
        elif not name.startswith("CS") and name.endswith("HBA"):
            names.append(name)
    return sorted(names)


def station_group(name: str) -> str:
    """``core``, ``remote`` or ``international`` from a station name."""
    return station_kind(name)


@dataclass(frozen=True)
class StationField:
    """One antenna field of a station as LOFAR_ANTENNA_FIELD describes it.

    Attributes
    ----------
    name
        Field name: ``HBA0``, ``HBA1`` or ``HBA``.
    centre_itrf_m
        Field centre (ITRF/ETRS, metres).
    axes
        Rows are the P, Q, R unit vectors of the field coordinate system (ITRF).
    tile_offsets_m
        Tile centres relative to the field centre, shape ``(ntile, 3)``.
    tile_element_offsets_m
        Dipole positions within a tile relative to the tile centre, ``(16, 3)``.
    tile_rotation_rad
        Rotation of the tiles with respect to the field coordinates.
    """

    name: str
    centre_itrf_m: np.ndarray
    axes: np.ndarray
    tile_offsets_m: np.ndarray
    tile_element_offsets_m: np.ndarray
    tile_rotation_rad: float


@dataclass(frozen=True)
class StationLayout:
    """The stations of a simulated observation, in MS antenna order."""

    names: tuple[str, ...]
    groups: tuple[str, ...]
    itrf_m: np.ndarray
    fields: tuple[StationField, ...]

    @property
    def n_stations(self) -> int:
        return len(self.names)

    @property
    def n_tiles(self) -> np.ndarray:
        return np.array([f.tile_offsets_m.shape[0] for f in self.fields])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise InputError(f"station {name} is not in this observation") from None


def validate_station_names(names: Sequence[str], group: str | None = None) -> None:
    """Raise :class:`InputError` for unknown or misgrouped station names."""
    known = set(known_hba_stations())
    for name in names:
        if name not in known:
            close = sorted(k for k in known if k[:2] == name[:2])[:8]
            hint = f"; e.g. {', '.join(close)}" if close else ""
            raise InputError(f"unknown LOFAR HBA station {name!r}{hint}")
        if group is not None and station_group(name) != group:
            raise InputError(f"station {name} is not a {group} station")
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if dupes:
        raise InputError(f"duplicate station names: {', '.join(dupes)}")


def load_stations(names: Sequence[str]) -> StationLayout:
    """Build the layout (positions and antenna fields) of the named stations."""
    if len(names) < 2:
        raise InputError(f"an interferometer needs at least 2 stations, got {len(names)}")
    validate_station_names(names)
    db = _database()
    fields = []
    for name in names:
        centre = np.asarray(db.phase_centres[name], dtype=float)
        tiles = np.asarray(db.antenna_etrs(name), dtype=float)
        dipoles = np.asarray(db.hba_dipole_etrs(name), dtype=float).reshape(
            tiles.shape[0], DIPOLES_PER_TILE, 3
        )
        element_offsets = dipoles[0] - tiles[0]
        fields.append(
            StationField(
                name=name[5:] if name.startswith("CS") else "HBA",
                centre_itrf_m=centre,
                axes=np.asarray(db.pqr_to_etrs[name], dtype=float).T,
                tile_offsets_m=tiles - centre,
                tile_element_offsets_m=element_offsets,
                tile_rotation_rad=float(db.hba_rotations[name]),
            )
        )
    return StationLayout(
        names=tuple(names),
        groups=tuple(station_group(n) for n in names),
        itrf_m=np.array([f.centre_itrf_m for f in fields]),
        fields=tuple(fields),
    )


def enu_offsets_m(itrf_m: np.ndarray, reference_itrf_m: np.ndarray) -> np.ndarray:
    """East/north/up offsets (m) of ITRF positions from a reference position."""
    x, y, z = reference_itrf_m
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, np.hypot(x, y))
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    d = np.asarray(itrf_m) - reference_itrf_m
    return np.stack([d @ east, d @ north, d @ up], axis=-1)
