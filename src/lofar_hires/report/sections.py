"""The sections of the run report, each made from its part of the run tree.

Every section is a generator of HTML text (written to the page as it comes, so that only one
picture at a time is in memory) and has a stable ``id``: ``summary``, ``modules``, ``gate``,
``di``, ``calibrators``, ``selfcal``, ``images`` and ``warnings``. A part of the run that is
absent (a module that did not run, a folder that is not there) is shown as such; a part that
cannot be read (a corrupt plot, table or image) is named in its section and listed under
``warnings``, and the rest of the page is still made.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lofar_hires.errors import LofarHiresError
from lofar_hires.report import html as h
from lofar_hires.report.figures import MAX_IMAGE_PIX, data_uri, read_png, render_fits
from lofar_hires.report.manifest import RunManifest

log = logging.getLogger(__name__)

#: Most files one section shows from one folder tree (a run has tens of facets, not thousands).
MAX_FILES = 500
#: Largest self-calibration report or metrics file read (bytes).
MAX_JSON_BYTES = 16 * 1024 * 1024
#: The modules whose diagnostic plots the ``di`` section shows.
DI_MODULES = ("di_calibrator", "di_target")
#: The module that writes the calibrator table and the facet layout.
SELECTION_MODULE = "select_calibrators"
#: The module whose verdicts the ``gate`` section shows.
GATE_MODULE = "calibratability"
#: Names of a self-calibration run's report (the first found is read).
SELFCAL_REPORTS = ("selfcal_report.json", "report.json")
#: File name endings of FITS images.
FITS_SUFFIXES = (".fits", ".fit", ".fts")


@dataclass
class Context:
    """What the sections share: the run, and what they could not show."""

    run_dir: Path
    manifest: RunManifest
    max_image_pix: int = MAX_IMAGE_PIX
    problems: list[str] = field(default_factory=list)  # parts of the run that could not be shown
    embedded: list[str] = field(default_factory=list)  # files of the run inlined, relative to the run directory

    def problem(self, text: str) -> str:
        """Record a part that could not be shown; returns it as a paragraph for its section."""
        self.problems.append(text)
        log.warning("report: %s", text)
        return f'<p class="problem">{h.esc(text)}</p>\n'

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.run_dir).as_posix()

    def state(self, module: str) -> str:
        """How a module's absence reads: not run, or its status and message."""
        record = self.manifest.module(module)
        if record is None or record.status == "pending":
            return f"{module}: not run"
        if record.status == "done":
            return f"{module}: done"
        return f"{module}: {record.status}" + (f" ({record.message})" if record.message else "")

    def files(self, sub: str, suffixes: tuple[str, ...]) -> list[Path]:
        """Files under ``RUN_DIR/sub`` ending in one of ``suffixes``, in sorted order.

        Hidden files (partial products) are left out, and so is any file whose real path lies
        outside the run directory (a link pointing elsewhere), which is named as a problem.
        """
        base = self.run_dir / sub
        if not base.is_dir():
            return []
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.lower().endswith(suffixes):
                    continue
                path = Path(dirpath) / name
                if self.outside(path):
                    self.problem(f"{self.rel(path)} points outside the run directory; left out")
                    continue
                if not path.is_file():
                    continue
                if len(found) == MAX_FILES:
                    self.problem(f"more than {MAX_FILES} files under {sub}/; the first {MAX_FILES} are shown")
                    return found
                found.append(path)
        return found

    def outside(self, path: Path) -> bool:
        """Whether the real path of ``path`` (links followed) lies outside the run directory."""
        return self.run_dir.resolve() not in Path(path).resolve().parents

    def png_figure(self, path: Path, caption: str) -> str:
        """An inlined PNG of the run with a plain-text caption, or the problem that kept it out."""
        if self.outside(path):
            return self.problem(f"{self.rel(path)} points outside the run directory; left out")
        try:
            png = read_png(path)
        except (LofarHiresError, OSError) as exc:
            return self.problem(f"{self.rel(path)} not shown: {exc}")
        self.embedded.append(self.rel(path))
        return h.figure(data_uri(png), h.esc(caption), caption)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    try:
        a = _dt.datetime.fromisoformat(start)  # type: ignore[arg-type]
        b = _dt.datetime.fromisoformat(end)  # type: ignore[arg-type]
        return (b - a).total_seconds()
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- summary and modules


def summary(ctx: Context) -> Iterator[str]:
    """Configuration, runner, times, observations, data dimensions and the totals of the modules."""
    m = ctx.manifest
    wall = sum(r.wall_s or 0.0 for r in m.modules)
    core = sum(r.core_s or 0.0 for r in m.modules)
    disk = sum(r.disk_bytes or 0 for r in m.modules)
    elapsed = _seconds_between(m.started_utc, m.finished_utc)
    statuses = Counter(r.status for r in m.modules)
    counts = ", ".join(f"{n} {s}" for s, n in statuses.items()) or "none recorded"
    yield h.definitions([
        ("Run directory", f"<code>{h.esc(ctx.run_dir.resolve())}</code>"),
        ("Configuration", f"<code>{h.esc(m.config)}</code>" if m.config else "\u2013"),
        ("Runner", h.esc(m.runner or "\u2013")),
        ("Started (UTC)", h.esc(m.started_utc or "\u2013")),
        ("Finished (UTC)", h.esc(m.finished_utc or "not finished")),
        ("Elapsed", "\u2013" if elapsed is None else f"{h.number(elapsed)} s ({h.number(elapsed / 3600, 2)} h)"),
        ("Observations", h.esc(", ".join(m.observations) or "\u2013")),
        ("Modules", h.esc(counts)),
        ("Wall time of the modules", f'<span id="total-wall-s">{h.number(wall)}</span> s'),
        ("CPU time of the modules", f'<span id="total-core-s">{h.number(core)}</span> core-s '
                                    f"({h.number(core / 3600, 2)} core-h)"),
        ("Disk written", h.esc(h.size_bytes(disk))),
    ])
    if m.data:
        yield "<h3>Data</h3>\n"
        yield h.definitions((key, h.esc(value)) for key, value in m.data)


def modules(ctx: Context) -> Iterator[str]:
    """One row per module of the chain: status, wall and CPU seconds, bytes written, warnings, message."""
    rows, classes = [], []
    for name in ctx.manifest.module_order():
        records = [r for r in ctx.manifest.modules if r.name == name]
        if not records:
            rows.append([h.cell(h.esc(name)), h.cell('<span class="status-notrun">not run</span>'),
                         *(h.cell("\u2013", numeric=True) for _ in range(4)), h.cell(""), h.cell("")])
            classes.append("notrun")
            continue
        for r in records:
            ratio = r.core_s / r.wall_s if r.core_s is not None and r.wall_s else None
            rows.append([
                h.cell(h.esc(name)),
                h.cell(f'<span class="status-{h.esc(r.status)}">{h.esc(r.status)}</span>'),
                h.cell(h.number(r.wall_s), True, r.wall_s),
                h.cell(h.number(r.core_s), True, r.core_s),
                h.cell(h.number(ratio, 2), True, ratio),
                h.cell(h.esc(h.size_bytes(r.disk_bytes)), True, r.disk_bytes),
                h.cell(str(len(r.warnings)), True, len(r.warnings)),
                h.cell(h.esc(r.message or "")),
            ])
            classes.append(r.status)
    yield h.table(["module", "status", "wall (s)", "CPU (core-s)", "cores used", "disk written", "warnings",
                   "message"], rows, table_id="module-table", row_classes=classes)


def gate(ctx: Context) -> Iterator[str]:
    """The calibratability verdict of each observation, with its reasons."""
    verdicts = ctx.manifest.gate
    if verdicts is None:
        yield h.not_run(ctx.state(GATE_MODULE) + "; no verdicts recorded")
        return
    seen = {v.observation for v in verdicts}
    rows = []
    for v in verdicts:
        verdict = "\u2013" if v.passed is None else ("passed" if v.passed else "failed")
        klass = "status-done" if v.passed else "status-failed" if v.passed is False else ""
        reasons = h.bullet_list(v.reasons) if v.reasons else ""
        rows.append([h.cell(h.esc(v.observation)), h.cell(f'<span class="{klass}">{verdict}</span>'),
                     h.cell(h.significant(v.score), True, v.score), h.cell(reasons)])
    for obs in ctx.manifest.observations:
        if obs not in seen:
            rows.append([h.cell(h.esc(obs)), h.cell("no verdict"), h.cell("\u2013", True), h.cell("")])
    yield h.table(["observation", "verdict", "score", "reasons"], rows, table_id="gate-table")


# --------------------------------------------------------------------------- plots and the calibrator table


def di(ctx: Context) -> Iterator[str]:
    """Every PNG of the direction-independent calibration (plots/di_calibrator/, plots/di_target/)."""
    for module in DI_MODULES:
        yield f"<h3>{h.esc(module)}</h3>\n"
        pngs = ctx.files(f"plots/{module}", (".png",))
        if not pngs:
            yield h.not_run(f"{ctx.state(module)}; no plots under plots/{module}/")
            continue
        for path in pngs:
            yield ctx.png_figure(path, path.relative_to(ctx.run_dir / "plots" / module).as_posix())


#: Columns of the calibrator table shown: (heading, field, kind).
_CALIBRATOR_COLUMNS = (("name", "name", "text"), ("RA (deg)", "ra_deg", "deg"), ("Dec (deg)", "dec_deg", "deg"),
                       ("peak (Jy/beam)", "peak_flux_jy", "num"), ("total (Jy)", "total_flux_jy", "num"),
                       ("origin", "origin", "text"), ("phasediff score (rad)", "score_rad", "num"),
                       ("noise threshold (rad)", "noise_threshold_rad", "num"),
                       ("solution interval (min)", "solint_min", "num"), ("category", "category", "text"),
                       ("reason", "reason", "text"))


def calibrators(ctx: Context) -> Iterator[str]:
    """The calibrator table (facets/calibrators.csv) and the facet layout (facets/facets.png)."""
    from lofar_hires.selection.table import read_table

    path = ctx.run_dir / "facets" / "calibrators.csv"
    if not path.exists():
        yield h.not_run(f"{ctx.state(SELECTION_MODULE)}; no calibrator table facets/calibrators.csv")
    elif ctx.outside(path):
        yield ctx.problem("facets/calibrators.csv points outside the run directory; left out")
    else:
        try:
            table_rows = read_table(path)
        except (LofarHiresError, OSError) as exc:
            yield ctx.problem(f"facets/calibrators.csv not shown: {exc}")
        else:
            counts = Counter(r.category for r in table_rows)
            yield f"<p>{len(table_rows)} sources: " + h.esc(", ".join(f"{n} {c}" for c, n in counts.items())) + "</p>\n"
            rows = []
            for r in table_rows:
                cells = []
                for _, key, kind in _CALIBRATOR_COLUMNS:
                    value = getattr(r, key)
                    if kind == "text":
                        cells.append(h.cell(h.esc(value)))
                    else:
                        cells.append(h.cell(h.number(value, 5) if kind == "deg" else h.significant(value), True,
                                            value))
                rows.append(cells)
            yield h.table([c[0] for c in _CALIBRATOR_COLUMNS], rows, table_id="calibrator-table",
                          row_classes=[r.category for r in table_rows])
    layout = ctx.run_dir / "facets" / "facets.png"
    if layout.is_file():
        yield ctx.png_figure(layout, "facets/facets.png: facet layout")
    else:
        yield h.not_run("no facet layout facets/facets.png")


# --------------------------------------------------------------------------- self-calibration


def _read_json(ctx: Context, path: Path) -> dict | None:
    """A JSON object of the run, or None (the problem recorded)."""
    if ctx.outside(path):
        ctx.problem(f"{ctx.rel(path)} points outside the run directory; not read")
        return None
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            ctx.problem(f"{ctx.rel(path)} is larger than {MAX_JSON_BYTES} bytes; not read")
            return None
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        ctx.problem(f"{ctx.rel(path)} not read: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return None
    if not isinstance(content, dict):
        ctx.problem(f"{ctx.rel(path)} not read: not a JSON object")
        return None
    return content


def _num(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _cycles(ctx: Context, run: Path, report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The per-cycle metrics of a run: the report's own ``cycles`` if it has them, else metrics.json."""
    rows = report.get("cycles")
    if not isinstance(rows, list):
        metrics = run / "metrics.json"
        content = _read_json(ctx, metrics) if metrics.is_file() else None
        rows = content.get("cycles") if content else None
    if not isinstance(rows, list):
        return []
    rows = [r for r in rows if isinstance(r, Mapping)]
    scores = report.get("classifier_scores")
    if isinstance(scores, list) and len(scores) == len(rows):
        rows = [{**r, "classifier_score": r["classifier_score"] if r.get("classifier_score") is not None else s}
                for r, s in zip(rows, scores)]
    return rows


def _cycle_table(rows: list[Mapping[str, Any]], best: Any, stop_cycle: Any, reason: str) -> str:
    table_rows, classes = [], []
    for r in rows:
        cycle = _num(r, "cycle")
        note = []
        if cycle is not None and cycle == best:
            note.append("best")
        if cycle is not None and cycle == stop_cycle:
            note.append(f"stopped: {reason}" if reason else "last")
        rms = _num(r, "rms_jy")
        table_rows.append([
            h.cell("\u2013" if cycle is None else str(int(cycle)), True, cycle),
            h.cell(h.significant(None if rms is None else rms * 1e3), True, rms),
            h.cell(h.significant(_num(r, "peak_jy")), True, _num(r, "peak_jy")),
            h.cell(h.number(_num(r, "dynamic_range")), True, _num(r, "dynamic_range")),
            h.cell(h.significant(_num(r, "min_max_ratio")), True, _num(r, "min_max_ratio")),
            h.cell(h.significant(_num(r, "phase_stability_rad")), True, _num(r, "phase_stability_rad")),
            h.cell(h.significant(_num(r, "amplitude_stability")), True, _num(r, "amplitude_stability")),
            h.cell(h.significant(_num(r, "classifier_score")), True, _num(r, "classifier_score")),
            h.cell(h.number(_num(r, "wall_time_s")), True, _num(r, "wall_time_s")),
            h.cell(h.esc("; ".join(note))),
        ])
        classes.append("best" if cycle is not None and cycle == best else "")
    return h.table(["cycle", "rms (mJy/beam)", "peak (Jy/beam)", "dynamic range", "|min/max|",
                    "phase stability (rad)", "amplitude stability", "classifier score", "wall (s)", ""],
                   table_rows, row_classes=classes)


def _selfcal_run(ctx: Context, module: str, run: Path) -> Iterator[str]:
    yield f'<h3>{h.esc(module)} / {h.esc(run.name)}</h3>\n'
    report_path = next((run / n for n in SELFCAL_REPORTS if (run / n).is_file()), None)
    report = _read_json(ctx, report_path) if report_path is not None else None
    if report_path is None:
        yield h.not_run(f"no report ({' or '.join(SELFCAL_REPORTS)}): the run did not finish")
    if report is not None:
        items = [("status", h.esc(report.get("status", "\u2013")))]
        for label, key in (("calibrates", "name"), ("strategy", "strategy"), ("stopping reason", "stopped_by"),
                           ("stop criterion", "stop_criterion"), ("cycles", "n_cycles"), ("best cycle", "best_cycle"),
                           ("dynamic range gain", "dynamic_range_gain"), ("classifier", "classifier"),
                           ("error", "error")):
            value = report.get(key)
            if value is not None:
                shown = h.significant(value) if isinstance(value, float) else value
                items.append((label, f'<span class="selfcal-{h.esc(key)}">{h.esc(shown)}</span>'))
        yield h.definitions(items)
    montage = run / "montage.png"
    if not montage.is_file():
        montage = ctx.run_dir / "plots" / module / run.name / "montage.png"
    if montage.is_file():
        yield ctx.png_figure(montage, f"{ctx.rel(montage)}: the image of every cycle")
    else:
        yield h.not_run("no montage")
    rows = _cycles(ctx, run, report or {})
    if rows:
        report = report or {}
        yield _cycle_table(rows, report.get("best_cycle"), report.get("stop_cycle"),
                           str(report.get("stopped_by") or ""))
    else:
        yield h.not_run("no per-cycle metrics")


def selfcal(ctx: Context) -> Iterator[str]:
    """Each self-calibration run (selfcal/<module>/<run>/): montage, stopping reason and per-cycle metrics."""
    base = ctx.run_dir / "selfcal"
    found = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")) \
        if base.is_dir() else []
    if not found:
        yield h.not_run("no self-calibration runs under selfcal/ (" + "; ".join(
            ctx.state(m) for m in ("dd_dutch", "dd_international", "dd_refine")) + ")")
        return
    order = ctx.manifest.module_order()
    found.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
    for module in found:
        runs = sorted(d for d in (base / module).iterdir() if d.is_dir() and not d.name.startswith("."))
        if not runs:
            yield h.not_run(f"{module}: no runs under selfcal/{module}/")
        for run in runs:
            if ctx.outside(run):
                yield ctx.problem(f"{ctx.rel(run)} points outside the run directory; left out")
                continue
            yield from _selfcal_run(ctx, module, run)


# --------------------------------------------------------------------------- images and warnings


def _image_caption(rel: str, preview) -> str:
    ny, nx = preview.shape
    parts = [f"{rel}: {nx} \u00d7 {ny} pixels"]
    if preview.step > 1:
        parts.append(f"shown averaged in {preview.step} \u00d7 {preview.step} blocks")
    if preview.n_planes > 1:
        parts.append(f"first plane of {preview.n_planes}")
    if preview.pixel_arcsec is not None:
        parts.append(f"pixel {h.significant(preview.pixel_arcsec)}\u2033")
    if preview.beam_arcsec is not None:
        bmaj, bmin, bpa = preview.beam_arcsec
        parts.append(f"beam {h.significant(bmaj)}\u2033 \u00d7 {h.significant(bmin)}\u2033, PA {bpa:.0f}\u00b0")
    if preview.rms is not None:
        unit = preview.bunit or "(pixel units)"
        if unit.upper() == "JY/BEAM":
            parts.append(f"rms {h.flux_density(preview.rms)}/beam")
        else:
            parts.append(f"rms {h.significant(preview.rms)} {unit}")
    return h.esc("; ".join(parts))


def images(ctx: Context) -> Iterator[str]:
    """Every FITS image under images/, mosaics first, rendered to PNG with its size, beam and noise."""
    paths = ctx.files("images", FITS_SUFFIXES)
    if not paths:
        yield h.not_run("no images under images/ (" + "; ".join(
            ctx.state(m) for m in ("dd_refine", "final_imaging")) + ")")
        return
    order = ctx.manifest.module_order()

    def key(path: Path) -> tuple:
        rel = path.relative_to(ctx.run_dir / "images")
        module = rel.parts[0] if len(rel.parts) > 1 else ""
        return ("mosaic" not in path.name.lower(), order.index(module) if module in order else len(order),
                rel.as_posix())

    for path in sorted(paths, key=key):
        rel = ctx.rel(path)
        try:
            preview = render_fits(path, path.name, ctx.max_image_pix)
        except (LofarHiresError, OSError, ValueError, MemoryError) as exc:
            yield ctx.problem(f"{rel} not shown: {exc}")
            continue
        ctx.embedded.append(rel)
        yield h.figure(data_uri(preview.png), _image_caption(rel, preview), path.name)


def warnings(ctx: Context) -> Iterator[str]:
    """Every warning the modules logged, by module, and the parts of the run this page could not show."""
    total = 0
    for name in ctx.manifest.module_order():
        for record in (r for r in ctx.manifest.modules if r.name == name):
            if record.warnings:
                total += len(record.warnings)
                yield f"<h3>{h.esc(name)} ({len(record.warnings)})</h3>\n"
                yield h.bullet_list(record.warnings)
    if total == 0:
        yield "<p>No module logged a warning.</p>\n"
    if ctx.problems:
        yield f"<h3>Parts of the run this report could not show ({len(ctx.problems)})</h3>\n"
        yield h.bullet_list(ctx.problems)


#: The sections of the page, in order: (id, heading, generator).
SECTIONS: tuple[tuple[str, str, Callable[[Context], Iterator[str]]], ...] = (
    ("summary", "Summary", summary),
    ("modules", "Modules", modules),
    ("gate", "Calibratability", gate),
    ("di", "Direction-independent calibration", di),
    ("calibrators", "Calibrators and facets", calibrators),
    ("selfcal", "Self-calibration", selfcal),
    ("images", "Images", images),
    ("warnings", "Warnings", warnings),
)
