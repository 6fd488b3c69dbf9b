"""Delay calibrators from the LOFAR-VLBI pipeline's ``delay_calibrators.csv``.

The LOFAR-VLBI pipeline (Morabito et al. 2022, A&A 658, A1; its
``delay_calibrators.csv`` is the ``delay_calibrator`` input of VLBI-cwl's delay-calibration
workflow) selects the in-field calibrator of the international stations from the LOFAR
Long-Baseline Calibrator Survey (LBCS; Jackson et al. 2016, 2022) cross-matched with
LoTSS, and writes one
row per candidate, nearest to the pointing centre first. Its columns are the LBCS ones
(``Observation``, ``RA_LBCS``, ``DEC_LBCS``, ``Date``, ``Time``, ``Goodness``, ``Flags``,
``FT_Goodness``, ``Quality``, ``FT_total``), the LoTSS ones (``Source_id``, ``RA``,
``DEC``, ``Total_flux``, ``Peak_flux`` in mJy, ``Majax``, ``Minax``, ``PA``, ``DC_Maj``,
``DC_Min``, ``DC_PA``, ``Isl_rms``, ``Resolved``) and ``Radius`` (degrees from the
pointing centre). Outside the LoTSS area only the LBCS columns are written, with
``Observation`` renamed to ``Source_id`` and a placeholder ``Total_flux`` of 1000 mJy.

Positions are read from ``RA``/``DEC`` (degrees; ``RA_LOTSS``/``DEC_LOTSS`` or
``RA_LBCS``/``DEC_LBCS`` when those are absent), names from ``Source_id`` (a numeric
id becomes ``S<id>``, as VLBI-cwl names it). :func:`delay_calibrator_skymodel` turns
the rows into point sources, one patch each, at the LoTSS frequency.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.names import safe_names
from lofar_hires.io.skymodel import SkyModel, parse_dec, parse_ra

log = logging.getLogger(__name__)

#: Name columns, first found wins (case-insensitive).
NAME_COLUMNS = ("Source_id", "source", "Source_Name")
#: (RA, Dec) column pairs in degrees, first pair found wins (case-insensitive).
POSITION_COLUMNS = (("RA", "DEC"), ("RA_LOTSS", "DEC_LOTSS"), ("RA_LBCS", "DEC_LBCS"))
#: Flux columns of LoTSS, in mJy (integrated) and mJy/beam (peak at 6 arcsec).
TOTAL_FLUX_COLUMN = "Total_flux"
PEAK_FLUX_COLUMN = "Peak_flux"
#: Frequency of the LoTSS fluxes (Shimwell et al. 2022, LoTSS-DR2: 144 MHz).
LOTSS_FREQ_HZ = 144e6
_MJY = 1e-3


@dataclass(frozen=True)
class DelayCalibrator:
    """One row of a delay-calibrator table.

    Attributes
    ----------
    name
        ``Source_id`` as written (``S<id>`` for a numeric id).
    safe_name
        ``name`` as a file-name component (:func:`lofar_hires.io.names.safe_name`), unique in the table.
    ra_rad, dec_rad
        J2000 position.
    total_flux_jy, peak_flux_jy
        LoTSS integrated flux and peak brightness (6 arcsec) at 144 MHz; None where not given.
    radius_deg
        Distance from the pointing centre (``Radius``); None where not given.
    lbcs_observation, goodness, ft_goodness
        The LBCS observation and its per-station quality strings (empty where not given).
    """

    name: str
    safe_name: str
    ra_rad: float
    dec_rad: float
    total_flux_jy: float | None = None
    peak_flux_jy: float | None = None
    radius_deg: float | None = None
    lbcs_observation: str = ""
    goodness: str = ""
    ft_goodness: str = ""

    @property
    def ra_deg(self) -> float:
        return math.degrees(self.ra_rad)

    @property
    def dec_deg(self) -> float:
        return math.degrees(self.dec_rad)


def _column(fieldnames: Sequence[str], wanted: str) -> str | None:
    """The header name matching ``wanted`` exactly, else case-insensitively."""
    if wanted in fieldnames:
        return wanted
    return next((f for f in fieldnames if f.lower() == wanted.lower()), None)


def _resolve_columns(fieldnames: Sequence[str], path: Path) -> dict[str, str]:
    """Header names of the name and position columns (keys ``name``, ``ra``, ``dec``) and the optional ones."""
    found: dict[str, str] = {}
    name = next((c for c in (_column(fieldnames, n) for n in NAME_COLUMNS) if c), None)
    pair = next(((ra, dec) for ra, dec in ((_column(fieldnames, r), _column(fieldnames, d))
                                          for r, d in POSITION_COLUMNS) if ra and dec), None)
    missing = ([] if name else [NAME_COLUMNS[0]]) + ([] if pair else list(POSITION_COLUMNS[0]))
    if missing:
        raise InputError(f"{path}: delay-calibrator table without column(s) {', '.join(missing)} (has "
                         f"{', '.join(fieldnames) or 'no header'}); expected the LOFAR-VLBI delay_calibrators.csv "
                         "columns Source_id, RA, DEC (degrees), Total_flux, Peak_flux (mJy)")
    found["name"], (found["ra"], found["dec"]) = name, pair
    for key, wanted in (("total", TOTAL_FLUX_COLUMN), ("peak", PEAK_FLUX_COLUMN), ("radius", "Radius"),
                        ("observation", "Observation"), ("goodness", "Goodness"), ("ft_goodness", "FT_Goodness")):
        column = _column(fieldnames, wanted)
        if column is not None:
            found[key] = column
    if found.get("observation") == found["name"]:
        del found["observation"]  # LBCS-only tables: Observation was renamed to Source_id
    return found


def _optional_float(row: Mapping[str, str], column: str | None, scale: float, where: str) -> float | None:
    """A number of a column (times ``scale``); None for an absent column, an empty field or NaN."""
    if column is None:
        return None
    text = (row.get(column) or "").strip()
    if not text or text.lower() in ("nan", "--"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {column} {text!r} is not finite")
    return value * scale


def _name(text: str) -> str:
    """``Source_id`` as VLBI-cwl uses it: a numeric id becomes ``S<id>``."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return f"S{int(number)}" if number.is_integer() else f"S{text}"


def read_delay_calibrators(path: Path) -> list[DelayCalibrator]:
    """The rows of a delay-calibrator CSV, in file order (the LOFAR-VLBI pipeline writes the nearest first).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Not UTF-8 text, no ``Source_id``/``RA``/``DEC`` columns (the one-line message names the
        file and the missing columns), no rows, an empty name, a position or flux that is not a
        number or out of range, or two names that give the same file name.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"delay-calibrator table {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fieldnames = [c.strip() for c in (reader.fieldnames or [])]
            reader.fieldnames = fieldnames
            columns = _resolve_columns(fieldnames, path)
            rows = list(reader)
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a CSV text file (not UTF-8)") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV table: {exc}") from None
    if not rows:
        raise InputError(f"{path}: the delay-calibrator table has no rows")
    parsed = []
    for number, row in enumerate(rows, start=2):
        where = f"{path}:{number}"
        name = _name(row.get(columns["name"]) or "")
        if not name:
            raise InputError(f"{where}: empty {columns['name']}")
        try:
            ra, dec = parse_ra(row.get(columns["ra"]) or ""), parse_dec(row.get(columns["dec"]) or "")
        except InputError as exc:
            raise InputError(f"{where} ({name}): {exc}") from None
        parsed.append((name, ra, dec, row, where))
    safe = safe_names([p[0] for p in parsed], what="delay calibrator")
    out = [DelayCalibrator(
        name=name, safe_name=safe[name], ra_rad=ra, dec_rad=dec,
        total_flux_jy=_optional_float(row, columns.get("total"), _MJY, where),
        peak_flux_jy=_optional_float(row, columns.get("peak"), _MJY, where),
        radius_deg=_optional_float(row, columns.get("radius"), 1.0, where),
        lbcs_observation=(row.get(columns["observation"]) or "").strip() if "observation" in columns else "",
        goodness=(row.get(columns["goodness"]) or "").strip() if "goodness" in columns else "",
        ft_goodness=(row.get(columns["ft_goodness"]) or "").strip() if "ft_goodness" in columns else "",
    ) for name, ra, dec, row, where in parsed]
    log.info("%s: %d delay calibrator(s), first %s at RA %.5f, Dec %.5f deg", path, len(out), out[0].name,
             out[0].ra_deg, out[0].dec_deg)
    return out


def pick_delay_calibrator(calibrators: Sequence[DelayCalibrator], name: str | None = None) -> DelayCalibrator:
    """The calibrator named ``name`` (as written or as its safe name), or the table's first row.

    Raises
    ------
    InputError
        No calibrators, or none of that name (the names are listed).
    """
    if not calibrators:
        raise InputError("no delay calibrators to choose from")
    if name is None:
        return calibrators[0]
    for cal in calibrators:
        if name in (cal.name, cal.safe_name):
            return cal
    listed = ", ".join(c.name for c in calibrators[:10]) + (", ..." if len(calibrators) > 10 else "")
    raise InputError(f"no delay calibrator {name!r}; the table has {listed}")


def delay_calibrator_skymodel(calibrators: Sequence[DelayCalibrator], *, ref_freq_hz: float = LOTSS_FREQ_HZ,
                              spectral_index: Sequence[float] = ()) -> SkyModel:
    """Point sources at the calibrators, one patch each (named by the safe names), with the LoTSS total flux.

    A row without ``Total_flux`` uses its ``Peak_flux``. ``spectral_index`` (logarithmic terms)
    applies to every source; by default the spectrum is flat.

    Raises
    ------
    InputError
        A row with neither flux.
    """
    if not calibrators:
        raise InputError("no delay calibrators to make a sky model of")
    flux = []
    for cal in calibrators:
        value = cal.total_flux_jy if cal.total_flux_jy is not None else cal.peak_flux_jy
        if value is None:
            raise InputError(f"delay calibrator {cal.name} has no {TOTAL_FLUX_COLUMN} or {PEAK_FLUX_COLUMN}")
        flux.append(value)
    n = len(calibrators)
    names = [c.safe_name for c in calibrators]
    si = np.tile(np.asarray(spectral_index, dtype=float), (n, 1)).reshape(n, len(spectral_index))
    return SkyModel(names=names, types=["POINT"] * n, patches=list(names),
                    ra_rad=np.array([c.ra_rad for c in calibrators]),
                    dec_rad=np.array([c.dec_rad for c in calibrators]),
                    i_jy=np.array(flux), ref_freq_hz=np.full(n, float(ref_freq_hz)), spectral_index=si,
                    log_si=np.ones(n, dtype=bool), major_arcsec=np.zeros(n), minor_arcsec=np.zeros(n),
                    orientation_deg=np.zeros(n),
                    patch_positions={c.safe_name: (c.ra_rad, c.dec_rad) for c in calibrators})
