"""Calibrator candidates: the first stage of calibrator selection (de Jong et al. 2025, section 6.3.1).

Candidates are the compact bright sources of the field that the next stage
(``lofar-hires select score``) scores with a phasediff solve. They come from

* a makesourcedb sky model (:func:`candidates_from_skymodel`): one candidate per
  patch (per component when the model has no patches) at the flux-weighted
  centroid of its components, with the total flux of the patch and the peak
  brightness of its brightest component at the catalogue resolution;
* a source table (:func:`candidates_from_table`): CSV with a header row, or a FITS
  binary table such as a LoTSS or PyBDSF source list;
* an image (:func:`candidates_from_image`): PyBDSF finds the sources and its source
  list is read like a source table.

The pre-selection follows de Jong et al. (2024), whose method section 6.3.1 of
de Jong et al. (2025) revisits: sources with a peak brightness above 25 mJy/beam at
the 6 arcsec resolution of the LoTSS catalogues (the ``peak_flux_cut`` default of
0.025 Jy/beam of the LOFAR-VLBI pipeline that implements it) are scored. The
stricter 85 mJy/beam at 6 arcsec of section 6.4.1 selects the calibrators of the
Dutch-station direction-dependent solve, not candidates.

Every function returns :class:`~lofar_hires.selection.table.CalibratorRow` rows of
category ``candidate``, brightest (in peak brightness) first.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, LofarHiresWarning, MissingInputError, ToolError
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.names import inside, safe_names
from lofar_hires.io.skymodel import SkyModel, parse_dec, parse_ra, read_makesourcedb
from lofar_hires.provenance import Provenance, ToolRun, utc_now
from lofar_hires.selection import sky
from lofar_hires.selection.sky import radec_to_xyz, xyz_to_radec
from lofar_hires.selection.table import CalibratorRow, write_table

log = logging.getLogger(__name__)

#: Minimum peak brightness of a candidate (Jy/beam at ``DEFAULT_RESOLUTION_ARCSEC``): de Jong et al. (2024),
#: as revisited in de Jong et al. (2025) section 6.3.1 (LOFAR-VLBI pipeline ``peak_flux_cut``).
DEFAULT_MIN_PEAK_FLUX_JY = 0.025
#: Resolution of the catalogues the threshold refers to (LoTSS, 6 arcsec; de Jong et al. 2025, section 6.3.1).
DEFAULT_RESOLUTION_ARCSEC = 6.0
#: PyBDSF island and peak thresholds (sigma): the LoTSS source-finding settings.
DEFAULT_THRESH_ISL = 4.0
DEFAULT_THRESH_PIX = 5.0
#: Sources closer than this are the same source listed twice: the brighter is kept.
DUPLICATE_RADIUS_ARCSEC = 1.0
#: Flux units of a source table, and their value in Jy.
FLUX_UNITS: dict[str, float] = {"Jy": 1.0, "mJy": 1e-3, "uJy": 1e-6}
#: Column aliases (case-insensitive), first match wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("Source_Name", "Source_id", "name", "id"),
    "ra": ("RA", "ra_deg", "RAJ2000"),
    "dec": ("DEC", "dec_deg", "DEJ2000"),
    "peak": ("Peak_flux", "peak_flux_jy"),
    "total": ("Total_flux", "total_flux_jy", "flux", "I"),
}
#: File name endings of the table formats.
CSV_SUFFIXES = (".csv", ".txt")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
#: Characters a calibrator name may not contain (table separators, brackets, braces, path separators, control
#: characters, a leading # that would make its table row a comment).
_BAD_NAME_CHARS = re.compile(r"[\s,;\[\]{}/\\\x00-\x1f\x7f]|^#")
_UNIT_SCALE = {"jy": 1.0, "mjy": 1e-3, "ujy": 1e-6, "µjy": 1e-6, "μjy": 1e-6, "microjy": 1e-6}


@dataclass(frozen=True)
class CandidateSettings:
    """Which sources become candidates.

    Attributes
    ----------
    min_peak_flux_jy
        Minimum peak brightness (Jy/beam); 0 keeps every source.
    centre_deg
        Field centre (RA, Dec) for ``max_distance_deg``.
    max_distance_deg
        Keep sources within this great-circle distance of ``centre_deg``.
    max_candidates
        Keep at most this many, brightest first.
    group_radius_arcsec
        Merge sources closer than this (friends of friends) into one candidate; None: no grouping.
    """

    min_peak_flux_jy: float = DEFAULT_MIN_PEAK_FLUX_JY
    centre_deg: tuple[float, float] | None = None
    max_distance_deg: float | None = None
    max_candidates: int | None = None
    group_radius_arcsec: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_peak_flux_jy) and self.min_peak_flux_jy >= 0):
            raise InputError(f"min_peak_flux_jy {self.min_peak_flux_jy} must be a number >= 0")
        if (self.centre_deg is None) != (self.max_distance_deg is None):
            raise InputError("centre_deg and max_distance_deg go together: give both or neither")
        if self.centre_deg is not None:
            ra, dec = self.centre_deg
            if not (0 <= ra < 360 and -90 <= dec <= 90):
                raise InputError(f"centre_deg ({ra}, {dec}) is outside RA [0, 360), Dec [-90, 90]")
        if self.max_distance_deg is not None and not (0 < self.max_distance_deg <= 180):
            raise InputError(f"max_distance_deg {self.max_distance_deg} must be in (0, 180]")
        if self.max_candidates is not None and self.max_candidates < 1:
            raise InputError(f"max_candidates {self.max_candidates} must be >= 1")
        if self.group_radius_arcsec is not None and not self.group_radius_arcsec > 0:
            raise InputError(f"group_radius_arcsec {self.group_radius_arcsec} must be > 0")


@dataclass(frozen=True)
class SourceList:
    """Sources read from a sky model, table or image, before selection (arrays of one length).

    ``names`` holds ``""`` where a source has no usable name; fluxes are NaN where unknown.
    """

    names: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    peak_flux_jy: np.ndarray
    total_flux_jy: np.ndarray
    origin: str
    where: str

    def __len__(self) -> int:
        return len(self.names)

    @property
    def brightness_jy(self) -> np.ndarray:
        """Peak brightness where known, else total flux: what "brightest" means here."""
        return np.where(np.isfinite(self.peak_flux_jy), self.peak_flux_jy, self.total_flux_jy)

    def take(self, idx: np.ndarray) -> SourceList:
        return SourceList(self.names[idx], self.ra_deg[idx], self.dec_deg[idx], self.peak_flux_jy[idx],
                          self.total_flux_jy[idx], self.origin, self.where)


# --------------------------------------------------------------------------- geometry and fluxes


def separation_deg(ra_deg: np.ndarray, dec_deg: np.ndarray, ra0_deg: float, dec0_deg: float) -> np.ndarray:
    """Great-circle distance (degrees) of each (RA, Dec) from (``ra0_deg``, ``dec0_deg``), as a 1-D array."""
    return np.atleast_1d(sky.separation_deg(ra_deg, dec_deg, ra0_deg, dec0_deg))


def weighted_centroids(ra_deg: np.ndarray, dec_deg: np.ndarray, weights: np.ndarray,
                       groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted centroids of groups of positions, averaged on unit vectors (right across RA 0 and the poles).

    Parameters
    ----------
    ra_deg, dec_deg
        Positions, degrees.
    weights
        Per position (fluxes); negative weights count as 0, and a group whose weights are all 0
        gets the plain mean.
    groups
        Group index (0 .. ``n_groups - 1``) of every position.
    n_groups
        Number of groups.

    Returns
    -------
    tuple of numpy.ndarray
        RA in [0, 360) and Dec of each group's centroid, degrees.
    """
    w = np.clip(np.nan_to_num(np.asarray(weights, dtype=float)), 0.0, None)
    w_sum = np.bincount(groups, weights=w, minlength=n_groups)
    w = np.where(w_sum[groups] > 0, w, 1.0)
    xyz = radec_to_xyz(ra_deg, dec_deg) * w[:, None]
    total = np.stack([np.bincount(groups, weights=xyz[:, k], minlength=n_groups) for k in range(3)], axis=-1)
    return xyz_to_radec(total)


def convolved_peak_jy(flux_jy: np.ndarray, major_arcsec: np.ndarray, minor_arcsec: np.ndarray,
                      beam_arcsec: float) -> np.ndarray:
    """Peak brightness (Jy/beam) of Gaussian sources seen with a circular Gaussian beam.

    The convolution of a Gaussian of FWHM axes (maj, min) with a circular beam of FWHM
    ``beam_arcsec`` is a Gaussian of axes ``sqrt(beam^2 + maj^2)``, ``sqrt(beam^2 + min^2)``
    with the same flux; its peak in Jy/beam is
    ``S * beam^2 / sqrt((beam^2 + maj^2) * (beam^2 + min^2))``. A point source (zero axes) gives ``S``.
    """
    if not beam_arcsec > 0:
        raise InputError(f"resolution_arcsec {beam_arcsec} must be > 0")
    b2 = beam_arcsec**2
    return flux_jy * b2 / np.sqrt((b2 + np.square(major_arcsec)) * (b2 + np.square(minor_arcsec)))


# --------------------------------------------------------------------------- sky models


def skymodel_sources(model: SkyModel, where: str, resolution_arcsec: float = DEFAULT_RESOLUTION_ARCSEC,
                     freq_hz: float | None = None) -> SourceList:
    """One source per patch of a sky model (per component when every component is its own patch).

    Parameters
    ----------
    model
        The sky model.
    where
        The model's file, for messages.
    resolution_arcsec
        FWHM of the circular beam the peak brightness refers to.
    freq_hz
        Frequency of the fluxes; None: each component's reference frequency.

    Returns
    -------
    SourceList
        Patch names, flux-weighted centroids, summed fluxes and the peak of the brightest component.
    """
    if freq_hz is None:
        flux = np.asarray(model.i_jy, dtype=float)
    elif not (math.isfinite(freq_hz) and freq_hz > 0):
        raise InputError(f"freq_hz {freq_hz} must be a positive frequency (Hz)")
    else:
        flux = model.flux_jy(np.array([freq_hz]))[:, 0]
    gaussian = model.is_gaussian
    peak = convolved_peak_jy(flux, np.where(gaussian, model.major_arcsec, 0.0),
                             np.where(gaussian, model.minor_arcsec, 0.0), resolution_arcsec)
    patches, groups = np.unique(np.asarray(model.patches, dtype=str), return_inverse=True)
    n = len(patches)
    ra, dec = weighted_centroids(np.degrees(model.ra_rad), np.degrees(model.dec_rad), flux, groups, n)
    total = np.bincount(groups, weights=flux, minlength=n)
    peak_max = np.full(n, -np.inf)
    np.maximum.at(peak_max, groups, peak)
    return SourceList(_names(patches), ra, dec, peak_max, total, "skymodel", where)


def candidates_from_skymodel(path: Path, settings: CandidateSettings = CandidateSettings(),
                             resolution_arcsec: float = DEFAULT_RESOLUTION_ARCSEC,
                             freq_hz: float | None = None) -> list[CalibratorRow]:
    """Candidates from a makesourcedb sky model (see :func:`skymodel_sources` and :func:`select_candidates`)."""
    model = read_makesourcedb(Path(path))
    sources = skymodel_sources(model, str(path), resolution_arcsec, freq_hz)
    log.info("%s: %d component(s) in %d patch(es); peak brightness at %g arcsec, fluxes at %s", path, len(model),
             len(sources), resolution_arcsec, "the reference frequencies" if freq_hz is None else f"{freq_hz:g} Hz")
    return select_candidates(sources, settings)


# --------------------------------------------------------------------------- source tables


def _find_column(columns: Sequence[str], key: str) -> str | None:
    lower = {c.lower(): c for c in reversed(list(columns))}
    return next((lower[a.lower()] for a in COLUMN_ALIASES[key] if a.lower() in lower), None)


def _unit_scale(unit: str, column: str, where: str) -> float:
    """Jy per unit of a flux column unit such as ``mJy`` or ``Jy/beam``."""
    text = re.sub(r"\s+", "", unit).lower()
    for beam in ("/beam", "beam-1", "/bm"):
        text = text.replace(beam, "")
    if text not in _UNIT_SCALE:
        raise InputError(f"{where}: column {column} has unit {unit!r}; use Jy, mJy or uJy (optionally per beam)")
    return _UNIT_SCALE[text]


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(FITS_SUFFIXES):
        return "fits"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    with path.open("rb") as fh:
        head = fh.read(80)
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    raise InputError(f"source table {path}: unknown format; use CSV with a header row ({', '.join(CSV_SUFFIXES)}) "
                     f"or a FITS binary table ({', '.join(FITS_SUFFIXES)})")


def _read_csv_columns(path: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip() and not line.lstrip().startswith("#")]
        reader = csv.reader(lines)
        header = next(reader, None)
        if not header:
            raise InputError(f"source table {path} is empty (expected a header row)")
        header = [h.strip() for h in header]
        rows = list(reader)
    except UnicodeDecodeError:
        raise InputError(f"source table {path} is not a CSV text file (not UTF-8 text)") from None
    except csv.Error as exc:
        raise InputError(f"source table {path} is not a valid CSV file: {exc}") from None
    columns = {h: [(r[i].strip() if i < len(r) else "") for r in rows] for i, h in enumerate(header)}
    return columns, {}


def _read_fits_columns(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from astropy.table import Table

    try:
        table = Table.read(path, format="fits")
    except Exception as exc:  # astropy raises several kinds for a bad file
        raise InputError(f"source table {path}: cannot read as a FITS binary table: {exc}") from None
    columns, units = {}, {}
    for name in table.colnames:
        col = table[name]
        if col.ndim != 1:
            continue
        data = np.ma.asarray(col)
        if data.dtype.kind in "fiu":
            columns[name] = np.ma.filled(data.astype(float), np.nan)
        else:
            values = np.ma.filled(data.astype(str), "")
            columns[name] = np.array([v.decode() if isinstance(v, bytes) else str(v).strip() for v in values])
        if col.unit is not None:
            units[name] = col.unit.to_string()
    return columns, units


def _positions(values, column: str, kind: str, where: str, unit: str | None) -> np.ndarray:
    """Degrees from numbers (degrees, or the column's angle unit) or sexagesimal/degree strings."""
    parse = parse_ra if kind == "ra" else parse_dec
    arr = np.asarray(values)
    scale = 1.0
    if arr.dtype.kind == "f":
        deg = arr.astype(float)
        if unit:
            from astropy import units as u

            try:
                scale = u.Unit(unit).to(u.deg)
            except (ValueError, u.UnitConversionError):
                raise InputError(f"{where}: column {column} has unit {unit!r}, not an angle") from None
    else:
        deg = np.empty(len(arr))
        for i, text in enumerate(arr):
            text = str(text).strip()
            try:
                deg[i] = float(text) if text else np.nan
            except ValueError:
                try:
                    deg[i] = math.degrees(parse(text))
                except InputError as exc:
                    raise InputError(f"{where} row {i + 1}, column {column}: {exc}") from None
    deg = deg * scale
    if kind == "ra":  # an equivalent negative RA is accepted (WSClean images, hence PyBDSF lists, use -180..180)
        lo, hi = -360.0, 360.0
        bad = ~(np.isfinite(deg) & (deg >= lo) & (deg < hi))
    else:
        lo, hi = -90.0, 90.0
        bad = ~(np.isfinite(deg) & (deg >= lo) & (deg <= hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where} row {i + 1}, column {column}: {str(arr[i]).strip() or 'empty'} is not a valid "
                         f"{'right ascension' if kind == 'ra' else 'declination'} ({lo:g} to {hi:g} deg)")
    if kind == "ra":
        deg = deg % 360.0
        deg[deg >= 360.0] = 0.0
    return deg


def _fluxes(values, column: str, scale: float, where: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind != "f":
        out = np.empty(len(arr))
        for i, text in enumerate(arr):
            text = str(text).strip()
            try:
                out[i] = float(text) if text else np.nan
            except ValueError:
                raise InputError(f"{where} row {i + 1}, column {column}: {text!r} is not a number") from None
        arr = out
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where} row {i + 1}, column {column}: the flux is missing or not finite")
    return arr * scale


def _names(values) -> np.ndarray:
    """Usable names (sanitised), ``""`` for missing or purely numeric values (row indices)."""
    out = []
    for v in np.asarray(values).astype(str):
        name = _BAD_NAME_CHARS.sub("_", v.strip())
        numeric = re.fullmatch(r"[+-]?\d+(\.\d*)?", name) is not None
        out.append("" if numeric or name.lower() in ("", "nan", "none", "--", ".", "..") else name)
    return np.array(out, dtype=object)


def read_source_table(path: Path, flux_unit: str = "Jy", origin: str = "catalogue") -> SourceList:
    """Read sources from a CSV (header row) or FITS binary table.

    Columns are found by case-insensitive aliases (:data:`COLUMN_ALIASES`). Positions are degrees
    or sexagesimal strings (``hh:mm:ss.s``, ``+dd:mm:ss.s``, ``+dd.mm.ss.s``). A flux column is
    converted to Jy from its FITS unit (``TUNIT``: Jy, mJy, uJy, optionally per beam), else from
    its name when it ends in ``_jy``, else from ``flux_unit`` (LoTSS CSV catalogues are in mJy).

    Parameters
    ----------
    path
        The table.
    flux_unit
        Unit of flux columns without a unit: ``Jy`` or ``mJy`` (or ``uJy``).
    origin
        Origin recorded in the rows (``catalogue`` or ``pybdsf``).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Unknown format, no RA/Dec column, no flux column, or an invalid value (named by row and column).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"source table {path} does not exist")
    if flux_unit not in FLUX_UNITS:
        raise InputError(f"flux_unit {flux_unit!r} is not one of {', '.join(FLUX_UNITS)}")
    fmt = _format_of(path)
    columns, units = _read_fits_columns(path) if fmt == "fits" else _read_csv_columns(path)
    where = str(path)
    found = {key: _find_column(list(columns), key) for key in COLUMN_ALIASES}
    if found["ra"] is None or found["dec"] is None:
        raise InputError(f"{where}: no RA/Dec columns (looked for {'/'.join(COLUMN_ALIASES['ra'])} and "
                         f"{'/'.join(COLUMN_ALIASES['dec'])}); columns seen: {', '.join(columns) or 'none'}")
    if found["peak"] is None and found["total"] is None:
        raise InputError(f"{where}: no flux column (looked for {'/'.join(COLUMN_ALIASES['peak'])} and "
                         f"{'/'.join(COLUMN_ALIASES['total'])}); columns seen: {', '.join(columns)}")
    n = len(columns[found["ra"]])
    if n == 0:
        raise InputError(f"{where} lists no sources")
    fluxes = {}
    for key in ("peak", "total"):
        column = found[key]
        if column is None:
            fluxes[key] = np.full(n, np.nan)
            continue
        if column in units:
            scale = _unit_scale(units[column], column, where)
        elif column.lower().endswith("_jy"):
            scale = 1.0
        else:
            scale = FLUX_UNITS[flux_unit]
        fluxes[key] = _fluxes(columns[column], column, scale, where)
    names = _names(columns[found["name"]]) if found["name"] else np.full(n, "", dtype=object)
    log.info("%s: %d source(s); columns %s", where, n,
             ", ".join(f"{k}={v}" for k, v in found.items() if v is not None))
    return SourceList(names,
                      _positions(columns[found["ra"]], found["ra"], "ra", where, units.get(found["ra"])),
                      _positions(columns[found["dec"]], found["dec"], "dec", where, units.get(found["dec"])),
                      fluxes["peak"], fluxes["total"], origin, where)


def candidates_from_table(path: Path, settings: CandidateSettings = CandidateSettings(), flux_unit: str = "Jy",
                          origin: str = "catalogue") -> list[CalibratorRow]:
    """Candidates from a CSV or FITS source table (see :func:`read_source_table` and :func:`select_candidates`)."""
    return select_candidates(read_source_table(path, flux_unit, origin), settings)


# --------------------------------------------------------------------------- images (PyBDSF)


def _check_image_header(image: Path) -> None:
    """PyBDSF needs a readable FITS image with finite pixels, coordinates and its restoring beam in the
    header (its own messages are obscure); checked before it runs."""
    from lofar_hires.imaging.measure import load_image

    if load_image(image).beam_deg is None:
        raise InputError(f"image {image} has no restoring beam (BMAJ, BMIN) in its header; PyBDSF needs it")


def run_pybdsf(image: Path, workdir: Path, thresh_isl: float = DEFAULT_THRESH_ISL,
               thresh_pix: float = DEFAULT_THRESH_PIX, provenance: Provenance | None = None) -> Path:
    """Find the sources of a FITS image with PyBDSF; write its source list (``srl``) as a FITS table.

    PyBDSF's console output and its log records go to this module's logger at DEBUG level (the
    ``--log-file``); its own log is ``workdir/<image>.pybdsf.log``.

    Parameters
    ----------
    image
        FITS image with the restoring beam (``BMAJ``, ``BMIN``, ``BPA``) and frequency in its header.
    workdir
        Directory for the source list and PyBDSF's log (created).
    thresh_isl, thresh_pix
        Island boundary and source detection thresholds, in units of the local rms.
    provenance
        Record the run (PyBDSF version, options, wall time) here.

    Returns
    -------
    Path
        ``workdir/<image stem>.srl.fits``.

    Raises
    ------
    MissingInputError
        The image does not exist.
    InputError
        Bad thresholds, not a FITS image with a restoring beam, or PyBDSF found no source.
    ToolError
        PyBDSF failed.
    """
    import bdsf

    image = Path(image)
    if not image.is_file():
        raise MissingInputError(f"image {image} does not exist")
    if not (thresh_pix > 0 and thresh_isl > 0 and thresh_isl <= thresh_pix):
        raise InputError(f"PyBDSF thresholds must satisfy 0 < thresh_isl ({thresh_isl}) <= thresh_pix ({thresh_pix})")
    _check_image_header(image)
    workdir.mkdir(parents=True, exist_ok=True)
    srl = workdir / f"{image.stem}.srl.fits"
    options = {"quiet": True, "thresh_isl": float(thresh_isl), "thresh_pix": float(thresh_pix),
               "outdir": str(workdir), "ncores": max(1, len(os.sched_getaffinity(0)))}
    log.info("running PyBDSF %s on %s: %s", bdsf.__version__, image,
             ", ".join(f"{k}={v}" for k, v in options.items()))
    console = io.StringIO()
    caught: list[warnings.WarningMessage] = []
    bdsf_log = logging.getLogger("PyBDSF")
    bdsf_log.propagate = False  # its records go to its own log file (and its console handlers, captured here)
    started, t0, status, wrote, img = utc_now(), time.monotonic(), 1, False, None
    try:
        with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                img = bdsf.process_image(str(image), **options)
                wrote = img.write_catalog(outfile=str(srl), format="fits", catalog_type="srl", clobber=True)
            except Exception as exc:  # PyBDSF raises RuntimeError and others for unusable images
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                raise ToolError(f"PyBDSF failed on {image}: {reason}", console.getvalue()[-3000:]) from None
        status = 0
    finally:
        for line in re.sub(r"\x1b\[[0-9;]*m", "", console.getvalue()).splitlines():
            if line.strip():
                log.debug("PyBDSF: %s", line)
        for w in caught:
            log.debug("PyBDSF warning: %s", w.message)
        for handler in list(bdsf_log.handlers):
            handler.close()
            bdsf_log.removeHandler(handler)
        if provenance is not None:
            command = ["bdsf.process_image", str(image)] + [f"{k}={v}" for k, v in options.items()]
            provenance.add_run(ToolRun(tool="PyBDSF", version=str(bdsf.__version__), command=command,
                                       cwd=str(Path.cwd()), started_utc=started,
                                       wall_time_s=round(time.monotonic() - t0, 3), exit_status=status,
                                       log_file=str(workdir / f"{image.name}.pybdsf.log")))
    if not wrote or not srl.is_file():
        raise InputError(f"PyBDSF found no source in {image} above {thresh_pix} sigma (thresh_pix)")
    log.info("PyBDSF found %d source(s) in %.1f s; source list %s", img.nsrc, time.monotonic() - t0, srl)
    return srl


def candidates_from_image(image: Path, workdir: Path, settings: CandidateSettings = CandidateSettings(),
                          thresh_isl: float = DEFAULT_THRESH_ISL, thresh_pix: float = DEFAULT_THRESH_PIX,
                          provenance: Provenance | None = None) -> list[CalibratorRow]:
    """Candidates from a FITS image: PyBDSF (:func:`run_pybdsf`), then its source list as a table."""
    srl = run_pybdsf(image, workdir, thresh_isl, thresh_pix, provenance)
    return candidates_from_table(srl, settings, origin="pybdsf")


# --------------------------------------------------------------------------- selection


def _close_pairs(sources: SourceList, radius_arcsec: float) -> np.ndarray:
    """Index pairs ``(k, 2)`` of sources closer than ``radius_arcsec``."""
    from scipy.spatial import cKDTree

    chord = 2.0 * math.sin(math.radians(radius_arcsec / 3600.0) / 2.0)
    return cKDTree(radec_to_xyz(sources.ra_deg, sources.dec_deg)).query_pairs(chord, output_type="ndarray")


def group_sources(sources: SourceList, radius_arcsec: float) -> SourceList:
    """Merge sources closer than ``radius_arcsec`` (friends of friends) into one source each.

    A group sits at the centroid weighted by total flux (peak where total is unknown), has the
    summed total flux, the highest peak and the name of its brightest member.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = _close_pairs(sources, radius_arcsec)
    if len(pairs) == 0:
        return sources
    n = len(sources)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    n_groups, groups = connected_components(graph, directed=False)
    weight = np.where(np.isfinite(sources.total_flux_jy), sources.total_flux_jy, sources.peak_flux_jy)
    ra, dec = weighted_centroids(sources.ra_deg, sources.dec_deg, weight, groups, n_groups)
    total = np.bincount(groups, weights=sources.total_flux_jy, minlength=n_groups)
    peak = np.full(n_groups, -np.inf)
    np.maximum.at(peak, groups, np.nan_to_num(sources.peak_flux_jy, nan=-np.inf))
    peak[~np.isfinite(peak)] = np.nan
    order = np.lexsort((-np.nan_to_num(sources.brightness_jy, nan=-np.inf), groups))
    first = order[np.r_[True, groups[order][1:] != groups[order][:-1]]]  # brightest member of each group
    log.info("grouped %d source(s) within %g arcsec into %d", n, radius_arcsec, n_groups)
    return SourceList(sources.names[first], ra, dec, peak, total, sources.origin, sources.where)


def drop_duplicates(sources: SourceList, radius_arcsec: float = DUPLICATE_RADIUS_ARCSEC) -> SourceList:
    """Keep the brighter of sources closer than ``radius_arcsec`` (the same source listed twice), with a warning."""
    pairs = _close_pairs(sources, radius_arcsec)
    if len(pairs) == 0:
        return sources
    rank = np.empty(len(sources), dtype=int)
    rank[np.argsort(-sources.brightness_jy, kind="stable")] = np.arange(len(sources))
    pairs = np.where((rank[pairs[:, 0]] < rank[pairs[:, 1]])[:, None], pairs, pairs[:, ::-1])  # (brighter, fainter)
    pairs = pairs[np.argsort(rank[pairs[:, 0]], kind="stable")]
    dropped = np.zeros(len(sources), dtype=bool)
    for bright, faint in pairs:
        if not dropped[bright]:
            dropped[faint] = True
    label = [f"{sources.names[i] or f'row {i + 1}'} at ({sources.ra_deg[i]:.5f}, {sources.dec_deg[i]:.5f})"
             for i in np.flatnonzero(dropped)]
    msg = (f"{sources.where}: {len(label)} source(s) within {radius_arcsec:g} arcsec of a brighter one "
           f"dropped as duplicates: {'; '.join(label[:5])}{' ...' if len(label) > 5 else ''}")
    log.warning("%s", msg)
    warnings.warn(msg, LofarHiresWarning, stacklevel=3)
    return sources.take(np.flatnonzero(~dropped))


def unique_names(names: Sequence[str]) -> list[str]:
    """Names (brightest first) made unique: empty ones become ``cand000``, ... by rank; repeats get ``_2``, ``_3``."""
    width = max(3, len(str(len(names) - 1)))
    wanted = [name or f"cand{i:0{width}d}" for i, name in enumerate(names)]
    taken = set(wanted)
    seen: set[str] = set()
    out = []
    for name in wanted:
        if name in seen:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return out


def select_candidates(sources: SourceList, settings: CandidateSettings = CandidateSettings()) -> list[CalibratorRow]:
    """Group (optional), drop duplicate positions, filter and name the sources; brightest first.

    Filters, in order: distance from ``settings.centre_deg``, minimum peak brightness (the total
    flux where a table has no peak column, with a warning), then the ``max_candidates`` brightest.

    Raises
    ------
    InputError
        No source is left; the message names the filter that removed the last ones.
    """
    if len(sources) == 0:
        raise InputError(f"{sources.where} lists no sources")
    if settings.group_radius_arcsec is not None:
        sources = group_sources(sources, settings.group_radius_arcsec)
    sources = drop_duplicates(sources)
    brightest = float(np.nanmax(sources.brightness_jy))
    if settings.centre_deg is not None:
        sep = separation_deg(sources.ra_deg, sources.dec_deg, *settings.centre_deg)
        keep = sep <= settings.max_distance_deg
        if not keep.any():
            raise InputError(f"{sources.where}: no candidate left: none of the {len(sources)} source(s) is within "
                             f"max_distance_deg {settings.max_distance_deg} of {settings.centre_deg} "
                             f"(nearest at {sep.min():.3f} deg; brightest {brightest:.4g} Jy)")
        log.info("%d of %d source(s) within %g deg of (%.5f, %.5f)", keep.sum(), len(sources),
                 settings.max_distance_deg, *settings.centre_deg)
        sources = sources.take(np.flatnonzero(keep))
    if settings.min_peak_flux_jy > 0:
        flux = sources.peak_flux_jy
        what = "peak brightness"
        if not np.isfinite(flux).any():
            flux, what = sources.total_flux_jy, "total flux"
            msg = f"{sources.where} has no peak-flux column: the minimum peak flux is applied to the total flux"
            log.warning("%s", msg)
            warnings.warn(msg, LofarHiresWarning, stacklevel=2)
        keep = flux >= settings.min_peak_flux_jy
        if not keep.any():
            raise InputError(f"{sources.where}: no candidate left: the minimum peak flux "
                             f"{settings.min_peak_flux_jy:g} Jy removed all {len(sources)} source(s) "
                             f"(brightest {what} {np.nanmax(flux):.4g} Jy)")
        log.info("%d of %d source(s) with %s >= %g Jy", keep.sum(), len(sources), what, settings.min_peak_flux_jy)
        sources = sources.take(np.flatnonzero(keep))
    order = np.lexsort((-np.nan_to_num(sources.total_flux_jy, nan=-np.inf),
                        -np.nan_to_num(sources.brightness_jy, nan=-np.inf)))
    if settings.max_candidates is not None and len(order) > settings.max_candidates:
        log.info("keeping the %d brightest of %d", settings.max_candidates, len(order))
        order = order[:settings.max_candidates]
    sources = sources.take(order)
    names = unique_names(list(sources.names))

    def opt(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    return [CalibratorRow(name=names[i], ra_deg=float(sources.ra_deg[i]), dec_deg=float(sources.dec_deg[i]),
                          peak_flux_jy=opt(sources.peak_flux_jy[i]), total_flux_jy=opt(sources.total_flux_jy[i]),
                          origin=sources.origin, category="candidate", reason=_reason(settings))
            for i in range(len(sources))]


def _reason(settings: CandidateSettings) -> str:
    parts = [f"peak>={settings.min_peak_flux_jy:g}Jy"] if settings.min_peak_flux_jy > 0 else []
    if settings.centre_deg is not None:
        parts.append(f"within {settings.max_distance_deg:g}deg of centre")
    return "pre-selected: " + " and ".join(parts) if parts else "pre-selected: all sources"


def split_table_names(rows: Sequence[CalibratorRow]) -> dict[str, str]:
    """File name of each candidate's single-row table, ``<safe name>.csv`` (:func:`lofar_hires.io.names.safe_names`).

    Raises
    ------
    InputError
        A name with no character usable in a file name, or two names that become the same file name.
    """
    return {name: f"{stem}.csv" for name, stem in safe_names([r.name for r in rows], what="candidate").items()}


def write_split_tables(rows: Sequence[CalibratorRow], directory: Path, overwrite: bool = False) -> list[Path]:
    """Write one single-row calibrator table per candidate, ``directory/<safe name>.csv`` (atomically, as a whole).

    The names are checked (:func:`split_table_names`) before anything is written, and every file is
    checked to lie inside the directory.
    """
    directory = Path(directory)
    files = split_table_names(rows)
    with atomic_output(directory, overwrite) as tmp:
        tmp.mkdir()
        for row in rows:
            write_table(inside(tmp, files[row.name]), [row])
    return [directory / files[row.name] for row in rows]
