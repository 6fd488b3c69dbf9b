"""Sky models in the makesourcedb text format used by DP3, WSClean and LSMTool.

A :class:`SkyModel` holds point and Gaussian components as numpy arrays.
Spectra follow makesourcedb: with ``LogarithmicSI`` true,
``I(nu) = I0 * (nu/nu0) ** (a0 + a1*log10(nu/nu0) + ...)``; otherwise the ordinary
polynomial ``I(nu) = I0 + a0*(nu/nu0 - 1) + a1*(nu/nu0 - 1)**2 + ...``.
Gaussian sizes are FWHM in arcsec and the orientation is the position angle of
the major axis in degrees, north through east.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

FORMAT_LINE = (
    "FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, ReferenceFrequency='150e6', "
    "SpectralIndex='[]', LogarithmicSI='true', MajorAxis, MinorAxis, Orientation"
)
_KNOWN_TYPES = ("POINT", "GAUSSIAN")


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


def parse_ra(text: str) -> float:
    """Parse RA (``hh:mm:ss``, ``hhhmmmss.s`` or degrees) to radians."""
    t = text.strip().lower()
    m = re.fullmatch(r"([+-]?\d+)[:h ](\d+)[:m ](\d+(?:\.\d*)?)s?", t)
    if m:
        h, mi, s = float(m.group(1)), float(m.group(2)), float(m.group(3))
        if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 60):
            raise InputError(f"right ascension {text!r} is out of range")
        return math.radians((h + mi / 60 + s / 3600) * 15.0)
    try:
        deg = float(t.rstrip("d").replace("deg", ""))
    except ValueError:
        raise InputError(f"cannot parse right ascension {text!r}") from None
    if not 0 <= deg < 360:
        raise InputError(f"right ascension {deg} deg is outside [0, 360)")
    return math.radians(deg)


def parse_dec(text: str) -> float:
    """Parse Dec (``+dd.mm.ss.s``, ``dd:mm:ss``, ``ddXmmYss`` or degrees) to radians."""
    t = text.strip().lower()
    m = re.fullmatch(r"([+-]?)(\d+)[.:d ](\d+)[.:m' ](\d+(?:\.\d*)?)(?:s|\")?", t)
    if m:
        sign = -1.0 if m.group(1) == "-" else 1.0
        d, mi, s = float(m.group(2)), float(m.group(3)), float(m.group(4))
        if mi >= 60 or s >= 60:
            raise InputError(f"declination {text!r} has minutes or seconds >= 60")
        deg = sign * (d + mi / 60 + s / 3600)
    else:
        try:
            deg = float(t.rstrip("d").replace("deg", ""))
        except ValueError:
            raise InputError(f"cannot parse declination {text!r}") from None
    if not -90 <= deg <= 90:
        raise InputError(f"declination {deg} deg is outside [-90, 90]")
    return math.radians(deg)


def _split_fields(line: str) -> list[str]:
    """Split on commas outside square brackets."""
    out, depth, cur = [], 0, []
    for ch in line:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def _parse_format(line: str) -> tuple[list[str], dict[str, str]]:
    body = line.split("=", 1)[1].strip()
    if body.startswith("("):
        body = body.strip("()")
    names, defaults = [], {}
    for item in _split_fields(body):
        if not item:
            continue
        if "=" in item:
            key, val = item.split("=", 1)
            key = key.strip()
            defaults[key.lower()] = val.strip().strip("'\"")
        else:
            key = item.strip()
        names.append(key.lower())
    return names, defaults


def require_skymodel(path: Path, option: str = "--skymodel") -> Path:
    """A makesourcedb sky model that exists, parses and holds components with finite values; the
    one-line error names ``option`` (checked before any tool runs)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{option} {path} does not exist or is not a file")
    try:
        read_makesourcedb(path)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"{option}: {exc}") from None
    return path


def read_makesourcedb(path: Path) -> SkyModel:
    """Read a makesourcedb sky model; patch-definition lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"sky model {path} does not exist")
    columns: list[str] | None = None
    defaults: dict[str, str] = {}
    rows: dict[str, list] = {k: [] for k in (
        "name", "type", "patch", "ra", "dec", "i", "ref", "si", "log", "maj", "min", "pa")}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"sky model {path} is not a makesourcedb text file (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(f"sky model {path} cannot be read: {exc.strerror}") from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("format"):
            columns, defaults = _parse_format(line)
            continue
        if columns is None:
            raise InputError(f"{path}:{lineno}: no FORMAT line before the first component")
        values = _split_fields(line)
        rec = {c: (values[i] if i < len(values) else "") for i, c in enumerate(columns)}
        for key, val in defaults.items():
            if not rec.get(key):
                rec[key] = val
        if not rec.get("name") and not rec.get("type"):
            if not rec.get("patch"):
                raise InputError(f"{path}:{lineno}: cannot parse line {_excerpt(line)} (not a component or "
                                 "patch definition of the FORMAT line)")
            continue  # patch definition line
        try:
            rows["name"].append(rec["name"])
            ctype = rec.get("type", "POINT").upper() or "POINT"
            rows["type"].append(ctype)
            rows["patch"].append(rec.get("patch", "") or rec["name"])
            rows["ra"].append(parse_ra(rec["ra"]))
            rows["dec"].append(parse_dec(rec["dec"]))
            rows["i"].append(float(rec.get("i", "0") or 0.0))
            rows["ref"].append(float(rec.get("referencefrequency", "150e6") or 150e6))
            si_text = rec.get("spectralindex", "[]").strip().strip("[]")
            rows["si"].append([float(x) for x in si_text.split(",") if x.strip()])
            rows["log"].append(rec.get("logarithmicsi", "true").strip().lower() != "false")
            rows["maj"].append(float(rec.get("majoraxis", "0") or 0.0))
            rows["min"].append(float(rec.get("minoraxis", "0") or 0.0))
            rows["pa"].append(float(rec.get("orientation", "0") or 0.0))
        except (KeyError, ValueError, InputError) as exc:
            raise InputError(f"{path}:{lineno}: cannot parse component: {exc}") from None
        for key, what in (("i", "flux (I)"), ("ref", "reference frequency"), ("maj", "major axis"),
                          ("min", "minor axis"), ("pa", "orientation")):
            if not math.isfinite(rows[key][-1]):
                raise InputError(f"{path}:{lineno}: component {rec['name']!r} has a non-finite {what}")
        if not all(math.isfinite(x) for x in rows["si"][-1]):
            raise InputError(f"{path}:{lineno}: component {rec['name']!r} has a non-finite spectral index")
    if columns is None:
        raise InputError(f"sky model {path} has no FORMAT line and no components (not a makesourcedb file)")
    if not rows["name"]:
        raise InputError(f"sky model {path} contains no components")
    try:
        return _model_from_rows(rows)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _excerpt(line: str, limit: int = 40) -> str:
    """A line for an error message: quoted, control characters escaped, at most ``limit`` characters."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


def _model_from_rows(rows: dict[str, list]) -> SkyModel:
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
    )


def write_makesourcedb(model: SkyModel, path: Path, header: Sequence[str] = ()) -> Path:
    """Write ``model`` as makesourcedb text (patch lines first, one per patch)."""
    lines = [f"# {h}" for h in header] + [FORMAT_LINE, ""]
    patches: dict[str, tuple[float, float]] = {}
    for i, patch in enumerate(model.patches):
        patches.setdefault(patch, (model.ra_rad[i], model.dec_rad[i]))
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
