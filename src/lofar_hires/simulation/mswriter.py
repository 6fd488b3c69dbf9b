"""Create LOFAR measurement sets that DP3, WSClean, EveryBeam and sva accept.

Besides the standard MS subtables, the LOFAR-specific metadata that beam models
need is written: the ``LOFAR_ANTENNA_FIELD`` and ``LOFAR_STATION`` subtables
(referenced from main-table keywords), the ANTENNA columns ``LOFAR_STATION_ID``
and ``LOFAR_PHASE_REFERENCE`` and the FIELD column ``LOFAR_TILE_BEAM_DIR``.

Rows are time-major; within a time slot baselines are ordered (0,0), (0,1), ...,
(0,N-1), (1,1), ... with or without the autocorrelations. The main-table
columns are filled chunk by chunk with :class:`MsChunkWriter`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.simulation.stations import StationLayout

log = logging.getLogger(__name__)

#: CORR_TYPE codes of linear feeds XX, XY, YX, YY.
LINEAR_CORR_TYPES = (9, 10, 11, 12)
#: MEAS_FREQ_REF code of TOPO.
FREQ_REF_TOPO = 5
_POSITION_MEASINFO = {"type": "position", "Ref": "ITRF"}
_DIRECTION_MEASINFO = {"type": "direction", "Ref": "J2000"}


@dataclass(frozen=True)
class MsLayout:
    """Everything that fixes the shape and metadata of a simulated MS.

    Attributes
    ----------
    stations
        Stations in antenna order.
    freqs_hz
        Channel centre frequencies.
    chan_width_hz
        Channel width.
    times_mjd_s
        Time-slot centroids (MJD, UTC, seconds).
    integration_s
        Integration time per slot.
    phase_centre_rad
        (RA, Dec) of the phase centre, J2000, radians; also the beam pointing.
    field_name
        FIELD name.
    autocorrelations
        Whether rows with ANTENNA1 == ANTENNA2 are written.
    """

    stations: StationLayout
    freqs_hz: np.ndarray
    chan_width_hz: float
    times_mjd_s: np.ndarray
    integration_s: float
    phase_centre_rad: tuple[float, float]
    field_name: str = "TARGET"
    autocorrelations: bool = False
    observer: str = "lofar-hires simulator"
    project: str = "lofar-hires"

    @property
    def n_chan(self) -> int:
        return int(len(self.freqs_hz))

    @property
    def n_time(self) -> int:
        return int(len(self.times_mjd_s))

    def baselines(self) -> tuple[np.ndarray, np.ndarray]:
        """ANTENNA1 and ANTENNA2 of one time slot, in MS order."""
        n = self.stations.n_stations
        k = 0 if self.autocorrelations else 1
        a1, a2 = np.triu_indices(n, k=k)
        return a1.astype(np.int32), a2.astype(np.int32)

    @property
    def n_baselines(self) -> int:
        return int(len(self.baselines()[0]))


def _main_table_desc(n_chan: int) -> tuple[dict, dict]:
    from casacore import tables as ct

    shape = [n_chan, 4]
    columns = [
        ct.makearrcoldesc("DATA", 0j, shape=shape, valuetype="complex",
                          datamanagertype="TiledColumnStMan", datamanagergroup="TiledDATA"),
        ct.makearrcoldesc("FLAG", False, shape=shape, valuetype="boolean",
                          datamanagertype="TiledColumnStMan", datamanagergroup="TiledFLAG"),
        ct.makearrcoldesc("WEIGHT_SPECTRUM", 0.0, shape=shape, valuetype="float",
                          datamanagertype="TiledColumnStMan", datamanagergroup="TiledWEIGHT"),
    ]
    desc = ct.maketabdesc(columns)
    rows_per_tile = max(1, 32768 // (4 * n_chan))
    dminfo = {}
    for i, (col, group) in enumerate(
        [("DATA", "TiledDATA"), ("FLAG", "TiledFLAG"), ("WEIGHT_SPECTRUM", "TiledWEIGHT")]
    ):
        dminfo[f"*{i + 1}"] = {
            "TYPE": "TiledColumnStMan",
            "NAME": group,
            "SPEC": {"DEFAULTTILESHAPE": np.array([4, n_chan, rows_per_tile], dtype=np.int32)},
            "COLUMNS": np.array([col]),
        }
    return desc, dminfo


def create_ms(path: Path, layout: MsLayout) -> None:
    """Create the MS at ``path`` with all subtables and empty main-table rows.

    The caller fills the main table with :class:`MsChunkWriter`.
    """
    from casacore import tables as ct

    desc, dminfo = _main_table_desc(layout.n_chan)
    ms = ct.default_ms(str(path), desc, dminfo)
    ms.addrows(layout.n_time * layout.n_baselines)
    ms.putcolkeyword("DATA", "LOFAR_APPLIED_BEAM_MODE", "None")
    ms.close()
    _write_antenna(path, layout)
    _write_feed(path, layout)
    _write_spectral_window(path, layout)
    _write_polarization(path)
    _write_data_description(path)
    _write_field(path, layout)
    _write_observation(path, layout)
    _write_lofar_station(path, layout)
    _write_lofar_antenna_field(path, layout)
    _write_state_and_processor(path)


def _open(path: Path):
    from casacore import tables as ct

    return ct.table(str(path), readonly=False, ack=False)


def _add_column(table, desc) -> None:
    from casacore import tables as ct

    table.addcols(ct.maketabdesc([desc]))


def _write_antenna(path: Path, layout: MsLayout) -> None:
    from casacore import tables as ct

    st = layout.stations
    with _open(path / "ANTENNA") as t:
        t.addrows(st.n_stations)
        t.putcol("NAME", list(st.names))
        t.putcol("STATION", ["LOFAR"] * st.n_stations)
        t.putcol("TYPE", ["GROUND-BASED"] * st.n_stations)
        t.putcol("MOUNT", ["X-Y"] * st.n_stations)
        t.putcol("POSITION", st.itrf_m)
        t.putcol("OFFSET", np.zeros((st.n_stations, 3)))
        # Effective diameter of the tiled aperture (about 5 m per tile side).
        t.putcol("DISH_DIAMETER", np.sqrt(st.n_tiles * 25.0 * 4 / np.pi))
        t.putcol("FLAG_ROW", np.zeros(st.n_stations, dtype=bool))
        _add_column(t, ct.makescacoldesc("LOFAR_STATION_ID", 0, comment="ID in LOFAR_STATION"))
        _add_column(
            t,
            ct.makearrcoldesc(
                "LOFAR_PHASE_REFERENCE", 0.0, shape=[3],
                comment="Phase reference position of the station",
                keywords={"QuantumUnits": ["m", "m", "m"], "MEASINFO": _POSITION_MEASINFO},
            ),
        )
        t.putcol("LOFAR_STATION_ID", np.arange(st.n_stations, dtype=np.int32))
        t.putcol("LOFAR_PHASE_REFERENCE", st.itrf_m)


def _write_feed(path: Path, layout: MsLayout) -> None:
    n = layout.stations.n_stations
    with _open(path / "FEED") as t:
        t.addrows(n)
        t.putcol("ANTENNA_ID", np.arange(n, dtype=np.int32))
        t.putcol("FEED_ID", np.zeros(n, dtype=np.int32))
        t.putcol("SPECTRAL_WINDOW_ID", np.full(n, -1, dtype=np.int32))
        t.putcol("TIME", np.full(n, layout.times_mjd_s[0]))
        t.putcol("INTERVAL", np.full(n, 1e30))
        t.putcol("NUM_RECEPTORS", np.full(n, 2, dtype=np.int32))
        t.putcol("BEAM_ID", np.full(n, -1, dtype=np.int32))
        t.putcol("BEAM_OFFSET", np.zeros((n, 2, 2)))
        t.putcol("POLARIZATION_TYPE", np.array([["X", "Y"]] * n))
        t.putcol("POL_RESPONSE", np.tile(np.eye(2, dtype=np.complex64), (n, 1, 1)))
        t.putcol("POSITION", np.zeros((n, 3)))
        t.putcol("RECEPTOR_ANGLE", np.tile([-np.pi / 4, np.pi / 4], (n, 1)))


def _write_spectral_window(path: Path, layout: MsLayout) -> None:
    nchan = layout.n_chan
    width = np.full((1, nchan), layout.chan_width_hz)
    with _open(path / "SPECTRAL_WINDOW") as t:
        t.addrows(1)
        t.putcol("NAME", ["SB-0"])
        t.putcol("NUM_CHAN", np.array([nchan], dtype=np.int32))
        t.putcol("CHAN_FREQ", layout.freqs_hz[None, :])
        t.putcol("CHAN_WIDTH", width)
        t.putcol("EFFECTIVE_BW", width)
        t.putcol("RESOLUTION", width)
        t.putcol("REF_FREQUENCY", np.array([float(np.mean(layout.freqs_hz))]))
        t.putcol("TOTAL_BANDWIDTH", np.array([nchan * layout.chan_width_hz]))
        t.putcol("MEAS_FREQ_REF", np.array([FREQ_REF_TOPO], dtype=np.int32))
        t.putcol("NET_SIDEBAND", np.array([1], dtype=np.int32))
        t.putcol("IF_CONV_CHAIN", np.array([0], dtype=np.int32))
        t.putcol("FREQ_GROUP", np.array([0], dtype=np.int32))
        t.putcol("FREQ_GROUP_NAME", ["LOFAR"])
        t.putcol("FLAG_ROW", np.array([False]))


def _write_polarization(path: Path) -> None:
    with _open(path / "POLARIZATION") as t:
        t.addrows(1)
        t.putcol("NUM_CORR", np.array([4], dtype=np.int32))
        t.putcol("CORR_TYPE", np.array([LINEAR_CORR_TYPES], dtype=np.int32))
        t.putcol("CORR_PRODUCT", np.array([[[0, 0], [0, 1], [1, 0], [1, 1]]], dtype=np.int32))
        t.putcol("FLAG_ROW", np.array([False]))


def _write_data_description(path: Path) -> None:
    with _open(path / "DATA_DESCRIPTION") as t:
        t.addrows(1)
        t.putcol("SPECTRAL_WINDOW_ID", np.array([0], dtype=np.int32))
        t.putcol("POLARIZATION_ID", np.array([0], dtype=np.int32))
        t.putcol("FLAG_ROW", np.array([False]))


def _write_field(path: Path, layout: MsLayout) -> None:
    from casacore import tables as ct

    direction = np.array([[[layout.phase_centre_rad[0], layout.phase_centre_rad[1]]]])
    with _open(path / "FIELD") as t:
        t.addrows(1)
        t.putcol("NAME", [layout.field_name])
        t.putcol("CODE", [""])
        t.putcol("TIME", np.array([layout.times_mjd_s[0]]))
        t.putcol("NUM_POLY", np.array([0], dtype=np.int32))
        t.putcol("SOURCE_ID", np.array([-1], dtype=np.int32))
        t.putcol("FLAG_ROW", np.array([False]))
        for col in ("DELAY_DIR", "PHASE_DIR", "REFERENCE_DIR"):
            t.putcol(col, direction)
        _add_column(
            t,
            ct.makearrcoldesc(
                "LOFAR_TILE_BEAM_DIR", 0.0, ndim=2,
                comment="Tile beam direction",
                keywords={"QuantumUnits": ["rad", "rad"], "MEASINFO": _DIRECTION_MEASINFO},
            ),
        )
        t.putcol("LOFAR_TILE_BEAM_DIR", direction)


def _write_observation(path: Path, layout: MsLayout) -> None:
    half = layout.integration_s / 2
    t_range = np.array([[layout.times_mjd_s[0] - half, layout.times_mjd_s[-1] + half]])
    with _open(path / "OBSERVATION") as t:
        t.addrows(1)
        t.putcol("TELESCOPE_NAME", ["LOFAR"])
        t.putcol("TIME_RANGE", t_range)
        t.putcol("OBSERVER", [layout.observer])
        t.putcol("PROJECT", [layout.project])
        t.putcol("SCHEDULE_TYPE", ["LOFAR"])
        t.putcol("RELEASE_DATE", np.array([t_range[0, 1]]))
        t.putcol("FLAG_ROW", np.array([False]))


def _write_state_and_processor(path: Path) -> None:
    with _open(path / "PROCESSOR") as t:
        t.addrows(1)
        t.putcol("TYPE", ["CORRELATOR"])
        t.putcol("SUB_TYPE", ["SIMULATOR"])
        t.putcol("TYPE_ID", np.array([-1], dtype=np.int32))
        t.putcol("MODE_ID", np.array([-1], dtype=np.int32))
        t.putcol("FLAG_ROW", np.array([False]))


def _write_lofar_station(path: Path, layout: MsLayout) -> None:
    from casacore import tables as ct

    st = layout.stations
    desc = ct.maketabdesc(
        [
            ct.makescacoldesc("NAME", "", comment="Station name"),
            ct.makescacoldesc("CLOCK_ID", 0, comment="Clock shared by stations with this ID"),
            ct.makescacoldesc("FLAG_ROW", False, comment="Row flag"),
        ]
    )
    sub = path / "LOFAR_STATION"
    with ct.table(str(sub), desc, nrow=st.n_stations, ack=False) as t:
        t.putcol("NAME", list(st.names))
        # All core stations share one clock (ID 0); every other station has its own.
        clock_ids = [0 if g == "core" else i + 1 for i, g in enumerate(st.groups)]
        t.putcol("CLOCK_ID", np.array(clock_ids, dtype=np.int32))
        t.putcol("FLAG_ROW", np.zeros(st.n_stations, dtype=bool))
    with _open(path) as ms:
        ms.putkeyword("LOFAR_STATION", f"Table: {sub}")


def _write_lofar_antenna_field(path: Path, layout: MsLayout) -> None:
    from casacore import tables as ct

    metres = {"QuantumUnits": ["m", "m", "m"]}
    desc = ct.maketabdesc(
        [
            ct.makescacoldesc("ANTENNA_ID", 0, comment="Antenna ID in ANTENNA table"),
            ct.makescacoldesc("NAME", "", comment="Antenna field name"),
            ct.makearrcoldesc("POSITION", 0.0, shape=[3], comment="Centre of the antenna field",
                              keywords={**metres, "MEASINFO": _POSITION_MEASINFO}),
            ct.makearrcoldesc("COORDINATE_AXES", 0.0, shape=[3, 3],
                              comment="P,Q,R axes of the field (ITRF direction vectors)",
                              keywords={**metres, "MEASINFO": {"type": "direction", "Ref": "ITRF"}}),
            ct.makearrcoldesc("ELEMENT_OFFSET", 0.0, ndim=2,
                              comment="Tile offsets from the field centre",
                              keywords={**metres, "MEASINFO": _POSITION_MEASINFO}),
            ct.makearrcoldesc("ELEMENT_RCU", 0, ndim=2, comment="RCU of the X and Y receptors"),
            ct.makearrcoldesc("ELEMENT_FLAG", False, ndim=2,
                              comment="True for inactive X and Y receptors"),
            ct.makescacoldesc("TILE_ROTATION", 0.0, comment="Tile rotation (rad)",
                              keywords={"QuantumUnits": ["rad"]}),
            ct.makearrcoldesc("TILE_ELEMENT_OFFSET", 0.0, ndim=2,
                              comment="Dipole offsets from the tile centre",
                              keywords={**metres, "MEASINFO": _POSITION_MEASINFO}),
        ]
    )
    st = layout.stations
    sub = path / "LOFAR_ANTENNA_FIELD"
    with ct.table(str(sub), desc, nrow=st.n_stations, ack=False) as t:
        t.putcol("ANTENNA_ID", np.arange(st.n_stations, dtype=np.int32))
        t.putcol("NAME", [f.name for f in st.fields])
        t.putcol("POSITION", st.itrf_m)
        t.putcol("COORDINATE_AXES", np.array([f.axes for f in st.fields]))
        t.putcol("TILE_ROTATION", np.array([f.tile_rotation_rad for f in st.fields]))
        for row, fld in enumerate(st.fields):
            ntile = fld.tile_offsets_m.shape[0]
            t.putcell("ELEMENT_OFFSET", row, fld.tile_offsets_m)
            rcu = np.arange(2 * ntile, dtype=np.int32).reshape(ntile, 2)
            t.putcell("ELEMENT_RCU", row, rcu)
            t.putcell("ELEMENT_FLAG", row, np.zeros((ntile, 2), dtype=bool))
            t.putcell("TILE_ELEMENT_OFFSET", row, fld.tile_element_offsets_m)
    with _open(path) as ms:
        ms.putkeyword("LOFAR_ANTENNA_FIELD", f"Table: {sub}")


class MsChunkWriter:
    """Fill the main table of an MS made by :func:`create_ms`, a block of time slots at a time."""

    def __init__(self, path: Path, layout: MsLayout) -> None:
        from casacore import tables as ct

        self.layout = layout
        self._table = ct.table(str(path), readonly=False, ack=False)
        self._a1, self._a2 = layout.baselines()

    def write(
        self,
        first_time: int,
        uvw_m: np.ndarray,
        data: np.ndarray,
        weight_spectrum: np.ndarray,
    ) -> None:
        """Write time slots ``first_time .. first_time + len(uvw_m) - 1``.

        Parameters
        ----------
        first_time
            Index of the first time slot of the block.
        uvw_m
            ``(ntime, nbl, 3)`` baseline UVW (ANTENNA2 - ANTENNA1), metres.
        data
            ``(ntime, nbl, nchan, 4)`` complex visibilities.
        weight_spectrum
            ``(ntime, nbl, nchan, 4)`` weights.
        """
        lay = self.layout
        nt, nbl = uvw_m.shape[:2]
        rows = nt * nbl
        start = first_time * nbl
        times = np.repeat(lay.times_mjd_s[first_time:first_time + nt], nbl)
        t = self._table
        t.putcol("TIME", times, start, rows)
        t.putcol("TIME_CENTROID", times, start, rows)
        t.putcol("INTERVAL", np.full(rows, lay.integration_s), start, rows)
        t.putcol("EXPOSURE", np.full(rows, lay.integration_s), start, rows)
        t.putcol("ANTENNA1", np.tile(self._a1, nt), start, rows)
        t.putcol("ANTENNA2", np.tile(self._a2, nt), start, rows)
        t.putcol("UVW", uvw_m.reshape(rows, 3), start, rows)
        t.putcol("DATA", data.reshape(rows, lay.n_chan, 4).astype(np.complex64), start, rows)
        ws = weight_spectrum.reshape(rows, lay.n_chan, 4).astype(np.float32)
        t.putcol("WEIGHT_SPECTRUM", ws, start, rows)
        t.putcol("WEIGHT", ws.mean(axis=1), start, rows)
        t.putcol("SIGMA", 1.0 / np.sqrt(np.maximum(ws.mean(axis=1), 1e-30)), start, rows)
        t.putcol("FLAG", np.zeros((rows, lay.n_chan, 4), dtype=bool), start, rows)
        t.putcol("FLAG_ROW", np.zeros(rows, dtype=bool), start, rows)
        scan = np.ones(rows, dtype=np.int32)
        t.putcol("SCAN_NUMBER", scan, start, rows)
        t.putcol("ARRAY_ID", np.zeros(rows, dtype=np.int32), start, rows)
        t.putcol("OBSERVATION_ID", np.zeros(rows, dtype=np.int32), start, rows)
        t.putcol("PROCESSOR_ID", np.zeros(rows, dtype=np.int32), start, rows)
        t.putcol("STATE_ID", np.full(rows, -1, dtype=np.int32), start, rows)

    def close(self) -> None:
        self._table.close()

    def __enter__(self) -> MsChunkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
