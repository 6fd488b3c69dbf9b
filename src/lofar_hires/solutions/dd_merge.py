"""Direction-dependent solutions of a field: the Dutch DD solve followed by the international self-calibrations.

The field is calibrated in two stages. The Dutch direction-dependent solve gives one
multi-direction h5parm per observation (Dutch stations, one direction per facet,
``[facet]`` names at the facet points). For each main calibrator, a self-calibration
(``lofar-hires selfcal``) on data phase-shifted to the calibrator, with the Dutch
solutions of the nearest direction applied, gives single-direction solutions for
every station, Dutch and international.

The solution of facet direction ``d`` is ``Dutch(d)`` followed by
``International(c(d))``, where ``c(d)`` is the calibrator whose position is nearest to
``d`` (facets are made around the calibrators, so normally the facet's own calibrator
at the facet point). A direction whose own calibrator failed, or with no calibrator
within ``match_deg``, takes the nearest calibrator that succeeded (a fallback, logged
and listed in the table). The merge itself is :func:`lofar_hires.solutions.merge.merge_h5parms`
with each international h5parm assigned to its directions (identity elsewhere); the
output keeps the Dutch directions, names and positions, so it matches the facet
regions that WSClean images with.

Products: the merged h5parm and, next to it, ``<stem>.directions.csv`` with one row per
direction (direction, ra_deg, dec_deg, calibrator, separation_deg, fallback, note).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import StreamingReader, direction_name, read_h5parm, write_solset
from lofar_hires.io.regions import read_ds9_polygons, wrap_ra_deg
from lofar_hires.physics import angular_separation_rad
from lofar_hires.provenance import Provenance
from lofar_hires.solutions.merge import GAIN_TYPES, MergeInput, merge_h5parms
from lofar_hires.solutions.reset import reset_stations
from lofar_hires.solutions.stations import check_station_spec, resolve_stations

log = logging.getLogger(__name__)

#: Largest distance (degrees) between a direction and a calibrator that is its own: project choice: facet
#: points are the calibrator positions; one arcminute absorbs rounding.
DEFAULT_MATCH_DEG = 1.0 / 60.0
#: Largest distance (arcsec) between a facet's point in the region file and its solutions' direction.
REGION_MATCH_ARCSEC = 1.0
#: The report ``lofar-hires selfcal`` writes into its output directory.
REPORT_NAME = "selfcal_report.json"
#: Columns of the direction table.
TABLE_COLUMNS = ("direction", "ra_deg", "dec_deg", "calibrator", "separation_deg", "fallback", "note")


@dataclass(frozen=True)
class InternationalRun:
    """One international self-calibration run: its calibrator and its best solutions for one observation."""

    name: str  # calibrator name
    position_rad: tuple[float, float]  # calibrator RA, Dec (radians)
    h5parm: Path | None  # its best solutions for this observation; None when the run failed
    failure: str = ""  # why it failed ("" when it succeeded)


@dataclass(frozen=True)
class FacetAssignment:
    """Which calibrator's international solutions a direction gets, and why."""

    direction: str  # bracketed output direction name
    calibrator: str  # calibrator whose international solutions this direction gets
    separation_deg: float  # between the direction and that calibrator
    fallback: bool  # True when the direction's own calibrator failed or none lies within match_deg
    note: str  # one line for the log and the table ("" when the direction gets its own calibrator)


@dataclass
class DdMergeSummary:
    """What :func:`merge_dd` produced."""

    output: Path
    assignments: list[FacetAssignment]
    dropped: list[InternationalRun]
    table: Path


# --------------------------------------------------------------------------- self-calibration reports


def _report_key(data: dict, key: str, report: Path):
    if key not in data:
        raise InputError(f"{report}: no {key!r} key; not a report of 'lofar-hires selfcal'", setting="international")
    return data[key]


def read_selfcal_run(outdir: Path, observation: str | None = None) -> InternationalRun:
    """The calibrator, position and best solutions of a ``lofar-hires selfcal`` output directory.

    Reads ``<outdir>/selfcal_report.json``: ``status`` (``ok`` or ``failed``), ``name``,
    ``phase_centre_deg`` ([RA, Dec] in degrees), ``error`` (failed runs) and
    ``best_solutions`` (observation -> h5parm file name in ``outdir``). A successful run
    with one observation gives that one's solutions; with several, ``observation`` names one.

    Raises
    ------
    InputError
        No such directory or report, a report that is not JSON or lacks a key (both named),
        a position that is not (RA, Dec) in degrees, an unknown observation, or best
        solutions of a successful run that are not in ``outdir``.
    """
    outdir = Path(outdir)
    if not outdir.is_dir():
        what = "is not a directory" if outdir.exists() else "does not exist"
        raise InputError(f"self-calibration output {outdir} {what}", setting="international")
    report = outdir / REPORT_NAME
    if not report.is_file():
        raise InputError(f"{report} does not exist or is not a file: {outdir} holds no finished 'lofar-hires "
                         "selfcal' run", setting="international")
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{report} is not a JSON report of 'lofar-hires selfcal' ({exc})",
                         setting="international") from None
    if not isinstance(data, dict):
        raise InputError(f"{report} is not a JSON object; not a report of 'lofar-hires selfcal'",
                         setting="international")
    status = _report_key(data, "status", report)
    if status not in ("ok", "failed"):
        raise InputError(f"{report}: 'status' is {status!r}, expected 'ok' or 'failed'", setting="international")
    name = _report_key(data, "name", report)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{report}: 'name' must be the calibrator's name, got {name!r}", setting="international")
    position = _position(_report_key(data, "phase_centre_deg", report), report)
    if status == "failed":
        error = _report_key(data, "error", report)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no reason recorded"
        return InternationalRun(name, position, None, reason)
    best = _report_key(data, "best_solutions", report)
    if not isinstance(best, dict) or not best:
        raise InputError(f"{report}: 'best_solutions' names no solutions of a successful run",
                         setting="international")
    if observation is not None:
        if observation not in best:
            raise InputError(f"{report}: 'best_solutions' has no observation {observation!r} (has "
                             f"{', '.join(map(str, best))})", setting="observation")
        entry = best[observation]
    elif len(best) == 1:
        observation, entry = next(iter(best.items()))
    else:
        raise InputError(f"{report}: 'best_solutions' holds several observations ({', '.join(map(str, best))}); "
                         "name the one to merge", setting="observation")
    rel = Path(str(entry))
    if not str(entry) or rel.is_absolute() or ".." in rel.parts:
        raise InputError(f"{report}: 'best_solutions' of {observation} must be a file name in {outdir}, got "
                         f"{entry!r}", setting="international")
    h5parm = outdir / rel
    if not h5parm.is_file():
        raise InputError(f"{report}: 'best_solutions' of {observation} is {h5parm}, which does not exist",
                         setting="international")
    return InternationalRun(name, position, h5parm)


def _position(value, report: Path) -> tuple[float, float]:
    """``phase_centre_deg`` of a report as (RA, Dec) in radians."""
    try:
        ra_deg, dec_deg = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{report}: 'phase_centre_deg' must be [RA, Dec] in degrees, got {value!r} (the run was "
                         "not phase-shifted to its calibrator)", setting="international") from None
    if not (math.isfinite(ra_deg) and math.isfinite(dec_deg)) or abs(dec_deg) > 90.0:
        raise InputError(f"{report}: 'phase_centre_deg' {value!r} is not a position (RA, Dec in degrees)",
                         setting="international")
    return math.radians(ra_deg), math.radians(dec_deg)


# --------------------------------------------------------------------------- assignment


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason recorded"


def assign_directions(directions: Mapping[str, tuple[float, float]], runs: Sequence[InternationalRun],
                      match_deg: float) -> list[FacetAssignment]:
    """The calibrator of each direction (in the given order): the nearest run, or the nearest successful one.

    ``directions`` maps names to (RA, Dec) in radians. A direction gets the nearest run
    when it succeeded and lies within ``match_deg``; otherwise (its own calibrator failed,
    or none is that close) the nearest successful run, marked as a fallback with a note.

    Raises
    ------
    InputError
        ``match_deg`` not a finite non-negative number, no run, or no successful run (the
        failures listed).
    """
    if not (math.isfinite(match_deg) and match_deg >= 0):
        raise InputError(f"match_deg must be a finite number of degrees >= 0, got {match_deg}", setting="match_deg")
    if not runs:
        raise InputError("no international self-calibration run given", setting="international")
    working = np.array([run.h5parm is not None for run in runs])
    if not working.any():
        failures = "; ".join(f"{run.name}: {_first_line(run.failure)}" for run in runs)
        raise InputError(f"no international calibrator succeeded: {failures}", setting="international")
    if not directions:
        return []
    names = [direction_name(n) for n in directions]
    d_ra, d_dec = (np.array(v, dtype=float) for v in zip(*directions.values()))
    c_ra, c_dec = (np.array(v, dtype=float) for v in zip(*(run.position_rad for run in runs)))
    sep_deg = np.degrees(angular_separation_rad(d_ra[:, None], d_dec[:, None], c_ra[None, :], c_dec[None, :]))
    nearest = np.argmin(sep_deg, axis=1)
    nearest_ok = np.argmin(np.where(working[None, :], sep_deg, np.inf), axis=1)
    out = []
    for i, name in enumerate(names):
        k, j = int(nearest[i]), int(nearest_ok[i])
        near, use = runs[k], runs[j]
        if working[k] and sep_deg[i, k] <= match_deg:
            out.append(FacetAssignment(name, near.name, float(sep_deg[i, k]), False, ""))
            continue
        if working[k]:
            why = f"no calibrator within {match_deg:.4g} deg"
        elif sep_deg[i, k] <= match_deg:
            why = f"own calibrator {near.name} failed ({_first_line(near.failure)})"
        else:
            why = (f"no calibrator within {match_deg:.4g} deg; nearest {near.name} ({sep_deg[i, k]:.3f} deg) failed "
                   f"({_first_line(near.failure)})")
        note = f"{why}; nearest working calibrator {use.name} at {sep_deg[i, j]:.3f} deg"
        out.append(FacetAssignment(name, use.name, float(sep_deg[i, j]), True, note))
    return out


# --------------------------------------------------------------------------- facet regions


def read_dutch_directions(path: Path) -> dict[str, tuple[float, float]]:
    """Directions of the Dutch solutions (the ``dir`` axis of the gain soltabs, in order) with their positions.

    The file is checked as the merge will read it (structure, and some finite values in every
    gain soltab), so that a command can refuse it before it reads anything else.
    """
    with StreamingReader(path) as reader:
        names: list[str] = []
        for tab in reader.soltab_names:
            info = reader.info(tab)
            if info.soltype in GAIN_TYPES:
                reader.require_values(tab)
                names += [d for d in info.axes.get("dir", []) if d not in names]
        positions = dict(reader.directions)
    if not names:
        raise InputError(f"{path} has no directions: the Dutch direction-dependent solutions have one per facet",
                         setting="dutch_h5")
    unplaced = [n for n in names if n not in positions]
    if unplaced:
        raise InputError(f"{path}: directions {', '.join(unplaced)} have no position in the source table",
                         setting="dutch_h5")
    return {n: positions[n] for n in names}


def check_facet_regions(regions: Path, directions: Mapping[str, tuple[float, float]], h5parm: Path) -> None:
    """Refuse facet regions whose facets are not the directions of the solutions.

    Every polygon's ``text={name}`` must have the direction ``[name]`` at its ``point``
    (within :data:`REGION_MATCH_ARCSEC`), and every direction must have a facet.
    """
    regions = Path(regions)
    polygons = read_ds9_polygons(regions)
    where = f"facet regions {regions} do not match the solutions {h5parm}"
    if not polygons:
        raise InputError(f"{where}: the region file holds no polygon", setting="facet_regions")
    unnamed = [str(k + 1) for k, p in enumerate(polygons) if not p.name or p.point_deg is None]
    if unnamed:
        raise InputError(f"{where}: polygon(s) {', '.join(unnamed)} lack a text={{name}} label or a point(ra,dec) "
                         "line", setting="facet_regions")
    facets = {direction_name(p.name): p.point_deg for p in polygons}
    missing = [n for n in facets if n not in directions]
    extra = [n for n in directions if n not in facets]
    moved = []
    for name, (ra_deg, dec_deg) in facets.items():
        if name in directions:
            ra, dec = directions[name]
            off_arcsec = 3600.0 * float(np.degrees(angular_separation_rad(
                math.radians(wrap_ra_deg(ra_deg)), math.radians(dec_deg), ra, dec)))
            if off_arcsec > REGION_MATCH_ARCSEC:
                moved.append(f"{name} ({off_arcsec:.1f} arcsec from its facet point)")
    if missing or extra or moved:
        parts = []
        if missing:
            parts.append(f"facets without solutions: {', '.join(missing)}")
        if extra:
            parts.append(f"directions without a facet: {', '.join(extra)}")
        if moved:
            parts.append(f"at other positions: {', '.join(moved)}")
        raise InputError(f"{where}: {'; '.join(parts)}", setting="facet_regions")


# --------------------------------------------------------------------------- the merge


def _write_table(path: Path, assignments: Sequence[FacetAssignment],
                 directions: Mapping[str, tuple[float, float]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(TABLE_COLUMNS)
        for a in assignments:
            ra, dec = directions[a.direction]
            writer.writerow([a.direction, f"{math.degrees(ra) % 360.0:.7f}", f"{math.degrees(dec):.7f}",
                             a.calibrator, f"{a.separation_deg:.6f}", "true" if a.fallback else "false", a.note])


def _keep_stations(run: InternationalRun, spec: str, path: Path) -> Path:
    """A copy of ``run``'s solutions at ``path`` where the stations outside ``spec`` are the identity."""
    solset = read_h5parm(run.h5parm)
    keep = set(resolve_stations(spec, solset.antenna_names, where="international_stations"))
    others = [n for n in solset.antenna_names if n not in keep]
    log.info("international calibrator %s: solutions of %d station(s) used, %d left to the Dutch solutions (%s)",
             run.name, len(keep), len(others), ", ".join(others) or "none")
    write_solset(path, reset_stations(solset, others) if others else solset)
    return path


def table_path(output: Path) -> Path:
    """The direction table written next to ``output``: ``<stem>.directions.csv``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.directions.csv")


def merge_dd(dutch_h5: Path, runs: Sequence[InternationalRun], output: Path, *, facet_regions: Path | None = None,
             match_deg: float, international_stations: str | None = None, overwrite: bool = False,
             provenance: Provenance | None = None) -> DdMergeSummary:
    """Merge the Dutch DD solutions with the international solutions of each direction's calibrator.

    Parameters
    ----------
    dutch_h5
        The Dutch direction-dependent solutions of one observation (one direction per facet).
    runs
        The international self-calibration runs of that observation (:func:`read_selfcal_run`).
    output
        The merged h5parm; the direction table is written next to it (:func:`table_path`).
    facet_regions
        Optional ds9 facet regions: checked to have exactly the solutions' directions.
    match_deg
        Largest separation between a direction and its own calibrator.
    international_stations
        Station specification (groups, names, patterns; :func:`resolve_stations`) of the stations
        whose international solutions are used; the others keep their Dutch solutions alone (their
        international solutions are taken as the identity). Default: every station (the paper's
        merge). ``international`` drops the international runs' re-solves of the Dutch stations.
    overwrite
        Replace existing products.
    provenance
        Record to store in the output (default: task ``h5 merge-dd``).

    Raises
    ------
    InputError
        Unreadable or direction-less Dutch solutions, regions that do not match them, no
        successful run, duplicate calibrator names, or anything :func:`merge_h5parms` refuses.
    OutputExistsError
        The output or its table exists and ``overwrite`` is false.
    """
    dutch_h5, output = Path(dutch_h5), Path(output)
    table = table_path(output)
    if international_stations is not None:
        check_station_spec(international_stations, where="international_stations")
    names = [run.name for run in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"international calibrator(s) {', '.join(twice)} given more than once",
                         setting="international")
    directions = read_dutch_directions(dutch_h5)
    if facet_regions is not None:
        check_facet_regions(facet_regions, directions, dutch_h5)
    assignments = assign_directions(directions, runs, match_deg)
    served: dict[str, list[str]] = {}
    for a in assignments:
        served.setdefault(a.calibrator, []).append(a.direction)
        if a.fallback:
            log.warning("direction %s: %s", a.direction, a.note)
    dropped = [run for run in runs if run.name not in served]
    for run in dropped:
        if run.h5parm is None:
            log.warning("international calibrator %s failed (%s): not used", run.name, _first_line(run.failure))
        else:
            log.warning("international calibrator %s is the nearest working calibrator of no direction: not used",
                        run.name)
    used = [run for run in runs if run.name in served]
    log.info("merging %s (%d directions) with the international solutions of %d calibrator(s): %s", dutch_h5,
             len(directions), len(used), "; ".join(f"{run.name} -> {', '.join(served[run.name])}" for run in used))
    for path in (output, table):
        check_output_path(path, overwrite)
    prov = provenance or Provenance(task="h5 merge-dd")
    prov.parameters.update({"match_deg": match_deg, "assignments": [asdict(a) for a in assignments],
                            "dropped": [{"name": run.name, "failure": run.failure} for run in dropped]})
    if facet_regions is not None:
        prov.add_input(Path(facet_regions))
    if international_stations is not None:
        prov.parameters["international_stations"] = international_stations
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.parent) as scratch:
        files = {run.name: run.h5parm for run in used}
        if international_stations is not None:
            # the scratch files are numbered: calibrator names come from the reports and are not file names
            files = {run.name: _keep_stations(run, international_stations, Path(scratch) / f"run{k}.h5")
                     for k, run in enumerate(used)}
        specs = [MergeInput(dutch_h5), *[MergeInput(files[run.name], directions=tuple(served[run.name]))
                                         for run in used]]
        with atomic_output(table, overwrite) as tmp:
            _write_table(tmp, assignments, directions)
            merge_h5parms(specs, output, overwrite=overwrite, provenance=prov)
    log.info("wrote %s and %s", output, table)
    return DdMergeSummary(output=output, assignments=assignments, dropped=dropped, table=table)
