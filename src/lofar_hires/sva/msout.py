"""The averaged measurement set: a real casacore MS with the template observation's subtables.

The main table is new (fixed-shape DATA, FLAG, WEIGHT_SPECTRUM in tiled storage, so that DP3 and
WSClean read it whatever storage manager the inputs used); every subtable is a copy of the template
observation's (ANTENNA, FIELD, SPECTRAL_WINDOW, the LOFAR tables, ...), with the OBSERVATION time
range set to the output grid. Rows are written block by block, time-major in the order of the
output baselines.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Main-table columns that are tiled with a fixed [channel, correlation] shape.
_ARRAY_COLUMNS = (("DATA", 0j, "complex", "TiledDATA"), ("FLAG", False, "boolean", "TiledFLAG"),
                  ("WEIGHT_SPECTRUM", 0.0, "float", "TiledWEIGHT"))


def _main_description(n_chan: int, n_corr: int) -> tuple[dict, dict]:
    from casacore import tables as ct

    shape = [n_chan, n_corr]
    columns = [ct.makearrcoldesc(name, value, shape=shape, valuetype=vtype, datamanagertype="TiledColumnStMan",
                                 datamanagergroup=group) for name, value, vtype, group in _ARRAY_COLUMNS]
    rows_per_tile = max(1, 32768 // (n_corr * n_chan))
    dminfo = {f"*{i + 1}": {"TYPE": "TiledColumnStMan", "NAME": group,
                            "SPEC": {"DEFAULTTILESHAPE": np.array([n_corr, n_chan, rows_per_tile], dtype=np.int32)},
                            "COLUMNS": np.array([name])}
              for i, (name, _, _, group) in enumerate(_ARRAY_COLUMNS)}
    return ct.maketabdesc(columns), dminfo


def create_output(path: Path, template_ms: Path, data_column: str, n_chan: int, n_corr: int, n_rows: int,
                  time_range_mjd_s: tuple[float, float]) -> None:
    """Create the output MS at ``path`` with ``n_rows`` empty rows and the template's subtables."""
    from casacore import tables as ct

    desc, dminfo = _main_description(n_chan, n_corr)
    out = ct.default_ms(str(path), desc, dminfo)
    try:
        out.addrows(n_rows)
        with ct.table(str(template_ms), ack=False) as tmpl:
            keywords = tmpl.getkeywords()
            column_keywords = tmpl.getcolkeywords(data_column) if data_column in tmpl.colnames() else {}
        for key, value in column_keywords.items():
            if key.startswith("LOFAR_"):
                out.putcolkeyword("DATA", key, value)
        subtables = {k: v for k, v in keywords.items() if isinstance(v, str) and v.startswith("Table: ")}
        out.flush()
    finally:
        out.close()
    for name in subtables:
        source = Path(template_ms) / name
        if not (source / "table.dat").is_file():
            log.warning("%s: subtable %s is not inside the measurement set; not copied", template_ms, name)
            continue
        target = Path(path) / name
        if target.exists():
            shutil.rmtree(target)
        with ct.table(str(source), ack=False) as sub:
            sub.copy(str(target), deep=True, valuecopy=True)
    with ct.table(str(path), readonly=False, ack=False) as out:
        for name in subtables:
            if (Path(path) / name / "table.dat").is_file():
                out.putkeyword(name, f"Table: {Path(path).resolve() / name}")
    with ct.table(str(Path(path) / "OBSERVATION"), readonly=False, ack=False) as obs:
        if obs.nrows():
            obs.putcol("TIME_RANGE", np.tile(np.array(time_range_mjd_s, float), (obs.nrows(), 1)))


def write_rows(path: Path, first_row: int, *, time_mjd_s: np.ndarray, interval_s: float, ant1: np.ndarray,
               ant2: np.ndarray, uvw_m: np.ndarray, data: np.ndarray, weight: np.ndarray) -> None:
    """Write consecutive rows from ``first_row``: FLAG where no weight, WEIGHT the mean over channels."""
    from casacore.tables import table

    n = len(time_mjd_s)
    flag = weight <= 0
    mean_weight = weight.mean(axis=1)
    with table(str(path), readonly=False, ack=False) as t:
        put = {"TIME": time_mjd_s, "TIME_CENTROID": time_mjd_s, "INTERVAL": np.full(n, interval_s),
               "EXPOSURE": np.full(n, interval_s), "ANTENNA1": ant1.astype(np.int32), "ANTENNA2": ant2.astype(np.int32),
               "UVW": uvw_m, "DATA": data.astype(np.complex64), "FLAG": flag,
               "WEIGHT_SPECTRUM": weight.astype(np.float32), "FLAG_ROW": np.all(flag, axis=(1, 2)),
               "WEIGHT": mean_weight.astype(np.float32),
               "SIGMA": np.where(mean_weight > 0, 1.0 / np.sqrt(np.maximum(mean_weight, 1e-30)),
                                 0.0).astype(np.float32)}
        for col in ("ARRAY_ID", "DATA_DESC_ID", "FEED1", "FEED2", "FIELD_ID", "OBSERVATION_ID", "PROCESSOR_ID",
                    "SCAN_NUMBER", "STATE_ID"):
            put[col] = np.zeros(n, np.int32)
        for col, values in put.items():
            t.putcol(col, values, startrow=first_row, nrow=n)
