"""Sky models in the makesourcedb text format used by DP3, WSClean and LSMTool.

A :class:`SkyModel` holds point and Gaussian components as numpy arrays.
Spectra follow makesourcedb: with ``LogarithmicSI`` true,
``I(nu) = I0 * (nu/nu0) ** (a0 + a1*log10(nu/nu0) + ...)``; otherwise the ordinary
polynomial ``I(nu) = I0 + a0*(nu/nu0 - 1) + a1*(nu/nu0 - 1)**2 + ...``.
Gaussian sizes are FWHM in arcsec and the orientation is the position angle of
the major axis in degrees, north through east.

The reader follows the parsing rules of LSMTool 1.9 (``lsmtool.tableio``), so that
every file LSMTool loads is read here with the same names, positions, fluxes,
spectra, shapes and patches:

* the format line is ``FORMAT = Name, Type, ...`` or ``# (Name, Type, ...) = format``
  (the GSM form), in any letter case; an uncommented format line wins over a
  commented one;
* columns come in any order and letter case, with defaults (``ReferenceFrequency='150e6'``,
  ``SpectralIndex='[0.0]'``) used for empty fields and missing trailing fields;
  a ``fixed'value'`` default (``Patch=fixed'name'``, as in GSM files) is a column
  absent from the data lines;
* the columns LSMTool knows are accepted (:data:`KNOWN_COLUMNS`); ``Name``, ``Type``,
  ``Ra``, ``Dec`` and ``I`` are required;
* a row with an empty name (``, , P1, 12:00:00, +50.00.00``) defines the position of
  a patch;
* RA as ``hh:mm:ss``, ``hhhmmmss`` (``12h30m00s``), ``hh mm ss`` or degrees;
  Dec as ``+dd.mm.ss``, ``dd:mm:ss``, ``ddXmmYss`` (``52d30m00s``) or degrees;
* rows with every field empty are skipped.

Deliberate differences, all refused with a one-line :class:`InputError` naming the file
and line where LSMTool would carry on: a NaN or infinite value (LSMTool drops rows
holding NaN with a warning and keeps infinite values), a declination beyond the poles
(LSMTool moves it over the pole), an RA in degrees outside [-360, 360), a component
without a name but with a type (LSMTool takes it for a patch row), a model without
components, and a second, different format line. A missing reference frequency is
150 MHz here (LSMTool: 0 Hz, which no spectrum can use). This reader also accepts a
file mixing position notations in one column, which LSMTool does not. Only Stokes I
is used: Q, U, V and the polarisation columns are accepted and ignored.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

log = logging.getLogger(__name__)

FORMAT_LINE = (
    "FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, ReferenceFrequency='150e6', "
    "SpectralIndex='[]', LogarithmicSI='true', MajorAxis, MinorAxis, Orientation"
)
_KNOWN_TYPES = ("POINT", "GAUSSIAN")
#: Columns of the makesourcedb format that LSMTool 1.9 accepts: lower-case name -> spelling.
KNOWN_COLUMNS: dict[str, str] = {c.lower(): c for c in (
    "Name", "Type", "Patch", "Ra", "Dec", "I", "Q", "U", "V", "MajorAxis", "MinorAxis", "Orientation",
    "OrientationIsAbsolute", "IShapelet", "QShapelet", "UShapelet", "VShapelet", "Category", "LogarithmicSI",
    "RotationMeasure", "PolarizationAngle", "PolarizedFraction", "ReferenceWavelength", "ReferenceFrequency",
    "SpectralIndex")}
#: Columns every format line must list (as LSMTool requires).
REQUIRED_COLUMNS = ("name", "type", "ra", "dec", "i")
#: Known columns whose values are not used (Stokes I only); a non-zero value is logged once per file.
_IGNORED_NUMERIC = ("q", "u", "v", "rotationmeasure", "polarizationangle", "polarizedfraction")
#: Format lines: ``FORMAT = ...`` and ``(...) = format``, either one possibly commented out.
_FORMAT_FORWARD = re.compile(r"^(?P<comment>#)?\s*format\s*=(?P<body>.*)$", re.IGNORECASE)
_FORMAT_BACKWARD = re.compile(r"^(?P<comment>#)?\s*(?P<body>.*?)\s*=\s*format\s*$", re.IGNORECASE)


@dataclass
class SkyModel:
    """Point and Gaussian components (Stokes I) with spectra.

    Attributes
    ----------
    names, types, patches
        Per component; ``types`` are ``POINT`` or ``GAUSSIAN``.
    ra_rad, dec_rad
        J2000 position.
    i_jy
        Stokes I at ``ref_freq_hz``.
    ref_freq_hz
        Reference frequency per component.
    spectral_index
        ``(n, nterms)`` spectral terms (zero-padded).
    log_si
        Per component: logarithmic (true) or ordinary polynomial spectrum.
    major_arcsec, minor_arcsec, orientation_deg
        Gaussian FWHM axes and position angle; zero for points.
    comments
        Header lines kept with the model.
    patch_positions
        Patch name -> (RA, Dec) in radians, from the patch rows of a file (patches without a
        row have none).
    """

    names: list[str]
    types: list[str]
    patches: list[str]
    ra_rad: np.ndarray
    dec_rad: np.ndarray
    i_jy: np.ndarray
    ref_freq_hz: np.ndarray
    spectral_index: np.ndarray
    log_si: np.ndarray
    major_arcsec: np.ndarray
    minor_arcsec: np.ndarray
    orientation_deg: np.ndarray
    comments: list[str] = field(default_factory=list)
    patch_positions: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.names)
        for name in ("types", "patches"):
            if len(getattr(self, name)) != n:
                raise InputError(f"sky model: {name} has {len(getattr(self, name))} entries, expected {n}")
        for name in ("ra_rad", "dec_rad", "i_jy", "ref_freq_hz", "log_si", "major_arcsec",
                     "minor_arcsec", "orientation_deg"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                raise InputError(f"sky model: {name} has shape {arr.shape}, expected ({n},)")
            setattr(self, name, arr)
        si = np.asarray(self.spectral_index, dtype=float)
        self.spectral_index = si.reshape(n, -1) if si.size else np.zeros((n, 0))
        if self.spectral_index.shape[0] != n:
            raise InputError(f"sky model: spectral_index has {self.spectral_index.shape[0]} rows, expected {n}")
        bad = sorted({t for t in self.types if t not in _KNOWN_TYPES})
        if bad:
            raise InputError(f"sky model: unknown component type(s) {bad}; use POINT or GAUSSIAN")
        if len(set(self.names)) != n:
            dupes = sorted({x for x in self.names if self.names.count(x) > 1})
            raise InputError(f"sky model: duplicate component names {dupes[:5]}")
        self.patch_positions = {str(k): (float(v[0]), float(v[1])) for k, v in self.patch_positions.items()}
        for patch, (ra, dec) in self.patch_positions.items():
            if not (math.isfinite(ra) and math.isfinite(dec) and abs(dec) <= math.pi / 2 + 1e-12):
                raise InputError(f"sky model: patch {patch!r} has no valid position (RA, Dec in radians)")
        self._check_values()

    def _check_values(self) -> None:
        """Refuse values DP3 and WSClean would turn into NaN visibilities or silently misplace."""
        empty = [i for i, name in enumerate(self.names) if not str(name).strip()]
        if empty:
            raise InputError(f"sky model: component {empty[0] + 1} has no name")
        for name, what in (("ra_rad", "right ascension"), ("dec_rad", "declination"), ("i_jy", "flux (I)"),
                           ("ref_freq_hz", "reference frequency"), ("major_arcsec", "major axis"),
                           ("minor_arcsec", "minor axis"), ("orientation_deg", "orientation")):
            bad = np.flatnonzero(~np.isfinite(np.asarray(getattr(self, name), dtype=float)))
            if bad.size:
                raise InputError(f"sky model: component {self.names[bad[0]]!r} has a non-finite {what} "
                                 f"({getattr(self, name)[bad[0]]}); {bad.size} component(s) affected")
        bad_si = np.flatnonzero(~np.all(np.isfinite(self.spectral_index), axis=1))
        if bad_si.size:
            raise InputError(f"sky model: component {self.names[bad_si[0]]!r} has a non-finite spectral index")
        outside = np.flatnonzero(np.abs(self.dec_rad) > math.pi / 2 + 1e-12)
        if outside.size:
            raise InputError(f"sky model: component {self.names[outside[0]]!r} has declination "
                             f"{math.degrees(self.dec_rad[outside[0]]):.6g} deg, outside [-90, 90]")
        if np.any(self.ref_freq_hz <= 0):
            raise InputError("sky model: reference frequencies must be positive (Hz)")
        negative = np.flatnonzero((self.major_arcsec < 0) | (self.minor_arcsec < 0))
        if negative.size:
            raise InputError(f"sky model: component {self.names[negative[0]]!r} has a negative Gaussian axis")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def is_gaussian(self) -> np.ndarray:
        return np.array([t == "GAUSSIAN" for t in self.types], dtype=bool)

    def flux_jy(self, freqs_hz: np.ndarray) -> np.ndarray:
        """Stokes I of every component at ``freqs_hz``, shape ``(n, nfreq)``."""
        freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
        ratio = freqs[None, :] / self.ref_freq_hz[:, None]
        out = np.empty((len(self), len(freqs)))
        logr = np.log10(ratio)
        exponent = np.zeros_like(ratio)
        for k in range(self.spectral_index.shape[1]):
            exponent += self.spectral_index[:, k, None] * logr**k
        log_flux = self.i_jy[:, None] * ratio**exponent
        poly = np.repeat(self.i_jy[:, None], len(freqs), axis=1)
        for k in range(self.spectral_index.shape[1]):
            poly = poly + self.spectral_index[:, k, None] * (ratio - 1) ** (k + 1)
        out[:] = np.where(self.log_si[:, None], log_flux, poly)
        return out

    def select(self, mask: np.ndarray) -> SkyModel:
        """Return the components where ``mask`` is true."""
        idx = np.flatnonzero(mask)
        return SkyModel(
            names=[self.names[i] for i in idx],
            types=[self.types[i] for i in idx],
            patches=[self.patches[i] for i in idx],
            ra_rad=self.ra_rad[idx],
            dec_rad=self.dec_rad[idx],
            i_jy=self.i_jy[idx],
            ref_freq_hz=self.ref_freq_hz[idx],
            spectral_index=self.spectral_index[idx],
            log_si=self.log_si[idx],
            major_arcsec=self.major_arcsec[idx],
            minor_arcsec=self.minor_arcsec[idx],
            orientation_deg=self.orientation_deg[idx],
            comments=list(self.comments),
            patch_positions={p: pos for p, pos in self.patch_positions.items()
                             if p in {self.patches[i] for i in idx}},
        )


def format_ra(ra_rad: float) -> str:
    """RA as makesourcedb ``hh:mm:ss.ssssss``."""
    hours = (math.degrees(ra_rad) % 360.0) / 15.0
    total = round(hours * 3600.0, 6)
    h, rem = divmod(total, 3600.0)
    m, s = divmod(rem, 60.0)
    return f"{int(h) % 24:02d}:{int(m):02d}:{s:09.6f}"


def format_dec(dec_rad: float) -> str:
    """Dec as makesourcedb ``+dd.mm.ss.sssss``."""
    deg = math.degrees(dec_rad)
    sign = "-" if deg < 0 else "+"
    total = round(abs(deg) * 3600.0, 5)
    d, rem = divmod(total, 3600.0)
    m, s = divmod(rem, 60.0)
    return f"{sign}{int(d):02d}.{int(m):02d}.{s:08.5f}"


_RA_SEXAGESIMAL = re.compile(r"([+-]?)(\d+)\s*[:h ]\s*(\d+)\s*(?:[:m ]\s*(?:(\d+(?:\.\d*)?)\s*s?)?)?")
_DEC_DOTTED = re.compile(r"([+-]?)(\d+)\.(\d+)\.(\d+(?:\.\d*)?)")
_DEC_SEXAGESIMAL = re.compile(r"([+-]?)(\d+)\s*[:d ]\s*(\d+)\s*(?:[:m' ]\s*(?:(\d+(?:\.\d*)?)\s*[s\"]?)?)?")


def _degrees(text: str, what: str) -> float:
    """A plain number of degrees (``12.5``, ``12.5d``, ``12.5deg``)."""
    try:
        return float(re.sub(r"(deg|d)$", "", text))
    except ValueError:
        raise InputError(f"cannot parse {what} {text!r}") from None


def parse_ra(text: str) -> float:
    """Parse RA (``hh:mm:ss``, ``hhhmmmss.s``, ``hh mm ss``, ``hh:mm`` or degrees) to radians in [0, 2 pi).

    Degrees in [-360, 0) are read as RA + 360 (as LSMTool does); hours, minutes and
    seconds must lie in [0, 24), [0, 60) and [0, 60).
    """
    t = text.strip().lower()
    m = _RA_SEXAGESIMAL.fullmatch(t)
    if m:
        h, mi, s = float(m.group(2)), float(m.group(3)), float(m.group(4) or 0.0)
        if not (h < 24 and mi < 60 and s < 60):
            raise InputError(f"right ascension {text!r} is out of range (hours < 24, minutes and seconds < 60)")
        hours = (-1.0 if m.group(1) == "-" else 1.0) * (h + mi / 60 + s / 3600)
        return math.radians((hours * 15.0) % 360.0)
    deg = _degrees(t, "right ascension")
    if not -360 <= deg < 360:
        raise InputError(f"right ascension {deg} deg is outside [0, 360) (negative values down to -360 are read "
                         "as RA + 360)")
    return math.radians(deg % 360.0)


def parse_dec(text: str) -> float:
    """Parse Dec (``+dd.mm.ss.s``, ``dd:mm:ss``, ``ddXmmYss``, ``dd mm ss``, ``dd:mm`` or degrees) to radians."""
    t = text.strip().lower()
    m = _DEC_DOTTED.fullmatch(t) or _DEC_SEXAGESIMAL.fullmatch(t)
    if m:
        sign = -1.0 if m.group(1) == "-" else 1.0
        d, mi, s = float(m.group(2)), float(m.group(3)), float(m.group(4) or 0.0)
        if mi >= 60 or s >= 60:
            raise InputError(f"declination {text!r} has minutes or seconds >= 60")
        deg = sign * (d + mi / 60 + s / 3600)
    else:
        deg = _degrees(t, "declination")
    if not -90 <= deg <= 90:
        raise InputError(f"declination {deg} deg is outside [-90, 90]")
    return math.radians(deg)


#: A comma outside square brackets (``[a, b]`` holds spectral terms).
_FIELD_SEPARATOR = re.compile(r",(?![^\[\]]*\])")


def _split_fields(line: str) -> list[str]:
    """Split on commas outside square brackets."""
    parts = line.split(",") if "[" not in line else _FIELD_SEPARATOR.split(line)
    return [part.strip() for part in parts]


@dataclass(frozen=True)
class SkyModelFormat:
    """The columns of a makesourcedb file, from its format line.

    Attributes
    ----------
    columns
        Lower-case names of the columns of the data lines, in order.
    defaults
        Lower-case name -> default text for empty fields.
    fixed
        Lower-case name -> value of the columns given in the format line only (``Patch=fixed'P1'``).
    """

    columns: tuple[str, ...]
    defaults: dict[str, str]
    fixed: dict[str, str]


def _format_body(line: str) -> tuple[str, bool] | None:
    """The column list of a format line and whether it is commented out; None for any other line."""
    text = line.strip()
    if "format" not in text.lower():
        return None
    m = _FORMAT_FORWARD.match(text) or _FORMAT_BACKWARD.match(text)
    if m is None:
        return None
    body = m.group("body").strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    return body, m.group("comment") is not None


def parse_format(body: str, where: str) -> SkyModelFormat:
    """The columns of a format line's column list (``Name, Type, ..., ReferenceFrequency='150e6'``).

    Raises
    ------
    InputError
        An unknown, empty or repeated column, or a required column missing; ``where``
        (file and line) starts the message.
    """
    columns: list[str] = []
    defaults: dict[str, str] = {}
    fixed: dict[str, str] = {}
    for item in _split_fields(body):
        key, has_value, value = (part.strip() for part in item.partition("="))
        name = key.lower()
        if not name:
            raise InputError(f"{where}: the format line has an empty column name (columns cannot be skipped)")
        if name not in KNOWN_COLUMNS:
            raise InputError(f"{where}: the format line lists the unknown column {key!r}; known columns: "
                             f"{', '.join(KNOWN_COLUMNS.values())}")
        if name in columns or name in fixed:
            raise InputError(f"{where}: the format line lists the column {KNOWN_COLUMNS[name]} twice")
        if has_value and value.lower().startswith("fixed"):
            fixed[name] = value[len("fixed"):].strip().strip("'\"")
            continue
        if has_value:
            defaults[name] = value.strip("'\"")
        columns.append(name)
    missing = [KNOWN_COLUMNS[c] for c in REQUIRED_COLUMNS if c not in columns and c not in fixed]
    if missing:
        raise InputError(f"{where}: the format line has no {', '.join(missing)} column "
                         f"(required: {', '.join(KNOWN_COLUMNS[c] for c in REQUIRED_COLUMNS)})")
    return SkyModelFormat(tuple(columns), defaults, fixed)


def find_format(lines: Sequence[str], path: Path) -> tuple[SkyModelFormat, int] | None:
    """The format of a file and the index of its format line (None when it has none).

    An uncommented format line wins over a commented one; a second uncommented format
    line that lists other columns is refused (which one applies would be ambiguous).
    """
    found: list[tuple[int, str, bool]] = []
    for index, line in enumerate(lines):
        parsed = _format_body(line)
        if parsed is not None:
            found.append((index, *parsed))
    if not found:
        return None
    active = [f for f in found if not f[2]] or found[:1]
    index, body, _ = active[0]
    fmt = parse_format(body, f"{path}:{index + 1}")
    for other, other_body, _ in active[1:]:
        if parse_format(other_body, f"{path}:{other + 1}") != fmt:
            raise InputError(f"{path}:{other + 1}: a second format line with other columns than line {index + 1}")
    return fmt, index


def require_skymodel(path: Path, setting: str = "skymodel") -> Path:
    """A makesourcedb sky model that exists, parses and holds components with finite values (checked
    before any tool runs); the one-line error carries ``setting``, the input it came from."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sky model {path} does not exist or is not a file", setting=setting)
    try:
        read_makesourcedb(path)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"sky model: {exc}", setting=setting) from None
    return path


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise MissingInputError(f"sky model {path} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"sky model {path} is not a makesourcedb text file (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(f"sky model {path} cannot be read: {exc.strerror}") from None


def read_makesourcedb(path: Path) -> SkyModel:
    """Read a makesourcedb sky model with LSMTool's parsing rules (see the module description).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Not UTF-8 text, no format line, an unknown or missing column, a line that is
        neither a component nor a patch definition, a value that cannot be parsed or is
        out of range, or no component at all; the one-line message names the file and line.
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    found = find_format(lines, path)
    rows: dict[str, list] = {k: [] for k in (
        "name", "type", "patch", "ra", "dec", "i", "ref", "si", "log", "maj", "min", "pa")}
    patch_positions: dict[str, tuple[float, float]] = {}
    ignored: set[str] = set()
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or _format_body(line) is not None:
            continue
        if found is None or lineno - 1 < found[1]:
            raise InputError(f"{path}:{lineno}: no FORMAT line before the first component")
        fmt = found[0]
        values = _split_fields(line)
        if all(not v for v in values):
            continue  # a row of empty fields, skipped as LSMTool does
        if any(values[len(fmt.columns):]):
            raise InputError(f"{path}:{lineno}: {len(values)} fields but the format line lists "
                             f"{len(fmt.columns)} columns")
        given = {c: v for c, v in zip(fmt.columns, values)}
        if not given.get("name") and not given.get("type"):
            patch = given.get("patch") or fmt.fixed.get("patch", "")
            if not patch:
                raise InputError(f"{path}:{lineno}: cannot parse line {_excerpt(line)} (not a component or "
                                 "patch definition of the FORMAT line)")
            if given.get("ra") and given.get("dec"):
                try:
                    patch_positions[patch] = (parse_ra(given["ra"]), parse_dec(given["dec"]))
                except InputError as exc:
                    raise InputError(f"{path}:{lineno}: patch {patch!r}: {exc}") from None
            continue
        rec = {**fmt.fixed, **{c: fmt.defaults.get(c, "") for c in fmt.columns},
               **{c: v for c, v in given.items() if v}}
        try:
            _append_component(rows, rec)
        except (KeyError, ValueError, InputError) as exc:
            raise InputError(f"{path}:{lineno}: cannot parse component: {exc}") from None
        for key, what in (("i", "flux (I)"), ("ref", "reference frequency"), ("maj", "major axis"),
                          ("min", "minor axis"), ("pa", "orientation")):
            if not math.isfinite(rows[key][-1]):
                raise InputError(f"{path}:{lineno}: component {rec['name']!r} has a non-finite {what}")
        if not all(math.isfinite(x) for x in rows["si"][-1]):
            raise InputError(f"{path}:{lineno}: component {rec['name']!r} has a non-finite spectral index")
        ignored.update(c for c in _IGNORED_NUMERIC if rec.get(c) and _nonzero(rec[c]))
    if found is None:
        raise InputError(f"sky model {path} has no FORMAT line and no components (not a makesourcedb file)")
    if not rows["name"]:
        raise InputError(f"sky model {path} contains no components")
    if ignored:
        log.info("%s: columns %s are not used (Stokes I only)", path,
                 ", ".join(KNOWN_COLUMNS[c] for c in _IGNORED_NUMERIC if c in ignored))
    try:
        return _model_from_rows(rows, patch_positions)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _nonzero(text: str) -> bool:
    try:
        return float(text) != 0.0
    except ValueError:
        return True


def _append_component(rows: dict[str, list], rec: dict[str, str]) -> None:
    """Parse one component (its fields with the defaults filled in) into ``rows``."""
    name = rec["name"]
    log_si = rec.get("logarithmicsi", "true").strip().lower() or "true"
    if log_si not in ("true", "false"):
        raise InputError(f"LogarithmicSI {rec['logarithmicsi']!r} is not true or false")
    si_text = rec.get("spectralindex", "").strip().strip("[]")
    rows["si"].append([float(x) for x in si_text.split(",") if x.strip()])
    rows["name"].append(name)
    rows["type"].append(rec.get("type", "").upper() or "POINT")
    rows["patch"].append(rec.get("patch") or name)
    rows["ra"].append(parse_ra(rec["ra"]))
    rows["dec"].append(parse_dec(rec["dec"]))
    rows["i"].append(float(rec.get("i") or 0.0))
    rows["ref"].append(float(rec.get("referencefrequency") or 150e6))
    rows["log"].append(log_si == "true")
    rows["maj"].append(float(rec.get("majoraxis") or 0.0))
    rows["min"].append(float(rec.get("minoraxis") or 0.0))
    rows["pa"].append(float(rec.get("orientation") or 0.0))


def _excerpt(line: str, limit: int = 40) -> str:
    """A line for an error message: quoted, control characters escaped, at most ``limit`` characters."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


def _model_from_rows(rows: dict[str, list], patch_positions: dict[str, tuple[float, float]]) -> SkyModel:
    """The :class:`SkyModel` of the parsed rows of :func:`read_makesourcedb` (validated on creation)."""
    nterms = max(len(s) for s in rows["si"])
    si = np.array([s + [0.0] * (nterms - len(s)) for s in rows["si"]]).reshape(len(rows["si"]), nterms)
    return SkyModel(
        names=rows["name"],
        types=rows["type"],
        patches=rows["patch"],
        ra_rad=np.array(rows["ra"]),
        dec_rad=np.array(rows["dec"]),
        i_jy=np.array(rows["i"]),
        ref_freq_hz=np.array(rows["ref"]),
        spectral_index=si,
        log_si=np.array(rows["log"], dtype=bool),
        major_arcsec=np.array(rows["maj"]),
        minor_arcsec=np.array(rows["min"]),
        orientation_deg=np.array(rows["pa"]),
        patch_positions=patch_positions,
    )


def write_makesourcedb(model: SkyModel, path: Path, header: Sequence[str] = ()) -> Path:
    """Write ``model`` as makesourcedb text (patch lines first, one per patch, at the patch's position or
    else its first component's)."""
    lines = [f"# {h}" for h in header] + [FORMAT_LINE, ""]
    patches: dict[str, tuple[float, float]] = {}
    for i, patch in enumerate(model.patches):
        patches.setdefault(patch, model.patch_positions.get(patch, (model.ra_rad[i], model.dec_rad[i])))
    for patch, (ra, dec) in patches.items():
        lines.append(f", , {patch}, {format_ra(ra)}, {format_dec(dec)}")
    lines.append("")
    for i, name in enumerate(model.names):
        si = ",".join(f"{v:.6g}" for v in model.spectral_index[i])
        gauss = model.types[i] == "GAUSSIAN"
        lines.append(
            ", ".join(
                [
                    name,
                    model.types[i],
                    model.patches[i],
                    format_ra(model.ra_rad[i]),
                    format_dec(model.dec_rad[i]),
                    f"{model.i_jy[i]:.8g}",
                    "0.0",
                    "0.0",
                    "0.0",
                    f"{model.ref_freq_hz[i]:.10g}",
                    f"[{si}]",
                    "true" if model.log_si[i] else "false",
                    f"{model.major_arcsec[i]:.6g}" if gauss else "",
                    f"{model.minor_arcsec[i]:.6g}" if gauss else "",
                    f"{model.orientation_deg[i]:.6g}" if gauss else "",
                ]
            )
        )
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
