"""The calibrator table: one row per candidate, from the candidate list to the classified selection.

Every stage of calibrator selection reads and writes the same CSV table, so a user
can inspect it in a spreadsheet and edit it by hand between stages. Columns (in this
order; empty cells mean "not known yet"):

``name``            unique source name (used as the h5parm direction name later)
``ra_deg``          right ascension J2000, degrees in [0, 360)
``dec_deg``         declination J2000, degrees
``peak_flux_jy``    peak brightness (Jy/beam) of the catalogue or image, if known
``total_flux_jy``   total flux density (Jy), if known
``origin``          where the candidate came from: skymodel, catalogue, pybdsf, manual
``score_rad``       phasediff score sigma_c (circular standard deviation, rad)
``score_stations``  the stations the score was computed over, ``;``-separated
``category``        candidate, main, weak, rejected, pruned or removed
``reason``          why the category was chosen (thresholds, neighbour, manual edit)
``solint_min``      solution-interval metric delta_t for the score (minutes)
``n_values``        number of phase values the score pooled
``noise_median_rad`` median score of pure noise for those values (rad)
``noise_threshold_rad`` score that pure noise stays below with probability ``false_alarm`` (rad):
                    only a score below it is significant (:mod:`lofar_hires.selection.noise`)
``false_alarm``     the false-alarm probability of ``noise_threshold_rad``

The last four columns came with the significance test; a table without them (written
before, or by hand) still reads, its scores then have no noise level and ``select
classify`` classifies them by the thresholds alone, with a warning.

Names are kept as given (they become h5parm direction names and ds9 labels later); a name
must not be empty, start with ``#`` (a comment line) or contain spaces, commas, ``;``,
brackets, braces or control characters. Wherever a name
becomes a file name it goes through :func:`lofar_hires.io.names.safe_names`.

The table is written atomically; its provenance goes next to it as
``<stem>.provenance.json`` (:func:`provenance_path`) and the details of a scored table
(settings, per-station scores) as ``<stem>.json`` (:func:`details_path`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.atomic import atomic_output

#: Categories of a row, in the order a table is sorted by.
CATEGORIES = ("main", "weak", "candidate", "rejected", "pruned", "removed")
#: Where candidates come from.
ORIGINS = ("skymodel", "catalogue", "pybdsf", "manual")
#: Optional numeric columns (empty: not known).
_OPTIONAL_FLOATS = ("peak_flux_jy", "total_flux_jy", "score_rad", "solint_min", "noise_median_rad",
                    "noise_threshold_rad", "false_alarm")


@dataclass(frozen=True)
class CalibratorRow:
    """One candidate calibrator and what selection decided about it."""

    name: str
    ra_deg: float
    dec_deg: float
    peak_flux_jy: float | None = None
    total_flux_jy: float | None = None
    origin: str = "catalogue"
    score_rad: float | None = None
    score_stations: tuple[str, ...] = ()
    category: str = "candidate"
    reason: str = ""
    solint_min: float | None = None
    n_values: int | None = None
    noise_median_rad: float | None = None
    noise_threshold_rad: float | None = None
    false_alarm: float | None = None

    def __post_init__(self) -> None:
        if (not self.name or self.name.startswith("#") or any(c in self.name for c in " ,;[]{}")
                or any(ord(c) < 32 or ord(c) == 127 for c in self.name)):
            raise InputError(f"calibrator name {self.name!r} is empty, starts with #, or contains spaces, commas, ;, "
                             "brackets, braces or control characters")
        if not (math.isfinite(self.ra_deg) and 0.0 <= self.ra_deg < 360.0):
            raise InputError(f"{self.name}: ra_deg {self.ra_deg} is outside [0, 360)")
        if not (math.isfinite(self.dec_deg) and -90.0 <= self.dec_deg <= 90.0):
            raise InputError(f"{self.name}: dec_deg {self.dec_deg} is outside [-90, 90]")
        if self.category not in CATEGORIES:
            raise InputError(f"{self.name}: unknown category {self.category!r}; one of {', '.join(CATEGORIES)}")
        if self.origin not in ORIGINS:
            raise InputError(f"{self.name}: unknown origin {self.origin!r}; one of {', '.join(ORIGINS)}")
        for key in _OPTIONAL_FLOATS:
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise InputError(f"{self.name}: {key} is not a finite number")
        if self.n_values is not None and self.n_values < 0:
            raise InputError(f"{self.name}: n_values {self.n_values} is negative")
        if self.false_alarm is not None and not 0.0 < self.false_alarm < 1.0:
            raise InputError(f"{self.name}: false_alarm {self.false_alarm} is not a probability in (0, 1)")

    def with_(self, **changes) -> CalibratorRow:
        """A copy with some fields changed."""
        return replace(self, **changes)


COLUMNS = tuple(f.name for f in fields(CalibratorRow))


def _format(key: str, value) -> str:
    if value is None:
        return ""
    if key == "score_stations":
        return ";".join(value)
    if isinstance(value, float):
        return f"{value:.10g}" if key not in ("ra_deg", "dec_deg") else f"{value:.8f}"
    return str(value)


def _parse_row(raw: dict[str, str], where: str) -> CalibratorRow:
    values: dict = {}
    try:
        values["name"] = raw["name"].strip()
        values["ra_deg"] = float(raw["ra_deg"])
        values["dec_deg"] = float(raw["dec_deg"])
    except KeyError as exc:
        raise InputError(f"{where}: missing column {exc.args[0]}") from None
    except (TypeError, ValueError):
        raise InputError(f"{where}: ra_deg/dec_deg are not numbers") from None
    for key in _OPTIONAL_FLOATS:
        text = (raw.get(key) or "").strip()
        if text:
            try:
                values[key] = float(text)
            except ValueError:
                raise InputError(f"{where}: {key} {text!r} is not a number") from None
    text = (raw.get("n_values") or "").strip()
    if text:
        try:
            values["n_values"] = int(text)
        except ValueError:
            raise InputError(f"{where}: n_values {text!r} is not a whole number") from None
    for key in ("origin", "category", "reason"):
        text = (raw.get(key) or "").strip()
        if text:
            values[key] = text
    stations = (raw.get("score_stations") or "").strip()
    if stations:
        values["score_stations"] = tuple(s for s in stations.split(";") if s)
    try:
        return CalibratorRow(**values)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def check_unique_names(rows: Sequence[CalibratorRow], where: str) -> None:
    seen: set[str] = set()
    for row in rows:
        if row.name in seen:
            raise InputError(f"{where}: calibrator name {row.name} appears more than once")
        seen.add(row.name)


def read_table(path: Path) -> list[CalibratorRow]:
    """Read a calibrator table written by :func:`write_table` (or edited by hand)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"calibrator table {path} does not exist")
    if not path.is_file():
        raise InputError(f"calibrator table {path} is not a file")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            numbered = [(n, line) for n, line in enumerate(fh, start=1)
                        if line.strip() and not line.lstrip().startswith("#")]
        reader = csv.DictReader(line for _, line in numbered)
        header = reader.fieldnames or []
        missing = [c for c in ("name", "ra_deg", "dec_deg") if c not in header]
        if missing:
            raise InputError(f"{path} is not a calibrator table (no header with the column(s) {', '.join(missing)})")
        # reader.line_num counts the kept lines read so far; report the row's line in the file.
        rows = [_parse_row(raw, f"{path} line {numbered[reader.line_num - 1][0]}") for raw in reader]
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a calibrator table (not UTF-8 text)") from None
    except csv.Error as exc:
        raise InputError(f"{path} is not a calibrator table (CSV error: {exc})") from None
    check_unique_names(rows, str(path))
    return rows


def sort_rows(rows: Iterable[CalibratorRow]) -> list[CalibratorRow]:
    """Rows ordered by category (main first), then score (best first), then flux (brightest first)."""
    def key(row: CalibratorRow):
        score = row.score_rad if row.score_rad is not None else math.inf
        flux = -(row.total_flux_jy or row.peak_flux_jy or 0.0)
        return (CATEGORIES.index(row.category), score, flux, row.name)
    return sorted(rows, key=key)


def write_table(path: Path, rows: Sequence[CalibratorRow], overwrite: bool = True) -> Path:
    """Write the rows as CSV (atomically)."""
    check_unique_names(rows, str(path))
    with atomic_output(Path(path), overwrite) as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for row in rows:
                data = asdict(row)
                writer.writerow([_format(k, data[k]) for k in COLUMNS])
    return Path(path)


def provenance_path(table: Path) -> Path:
    """Where the provenance of a table goes: ``<stem>.provenance.json`` next to it."""
    return Path(table).with_suffix(".provenance.json")


def details_path(table: Path) -> Path:
    """Where the details of a scored table go: ``<stem>.json`` next to it."""
    return Path(table).with_suffix(".json")


def rows_in(rows: Iterable[CalibratorRow], *categories: str) -> list[CalibratorRow]:
    """The rows of the given categories, in table order."""
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise InputError(f"unknown categories {sorted(unknown)}")
    return [r for r in rows if r.category in categories]
