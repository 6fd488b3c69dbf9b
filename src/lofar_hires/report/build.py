"""The run report written: one self-contained HTML file and its provenance record.

The page (default ``RUN_DIR/report/index.html``) is written section by section into a
temporary sibling and renamed when complete (:func:`lofar_hires.io.atomic.atomic_output`);
its provenance record goes next to it as ``<stem>.provenance.json`` (``index.provenance.json``)
and names the manifest it was made from, every file of the run it inlines and every part it
could not show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.provenance import Provenance
from lofar_hires.report import html as h
from lofar_hires.report.figures import MAX_IMAGE_PIX
from lofar_hires.report.manifest import read_manifest
from lofar_hires.report.sections import SECTIONS, Context

log = logging.getLogger(__name__)

#: Where the report goes in a run directory.
DEFAULT_REPORT = Path("report") / "index.html"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote."""

    report: Path
    provenance: Path
    embedded: tuple[str, ...]  # files of the run inlined (relative to the run directory)
    problems: tuple[str, ...]  # parts of the run that could not be shown


def report_paths(run_dir: Path, output: Path | None = None) -> tuple[Path, Path]:
    """The report (``output``, default ``RUN_DIR/report/index.html``) and its provenance record."""
    report = Path(output) if output is not None else Path(run_dir) / DEFAULT_REPORT
    stem = report.name[:-len(report.suffix)] if report.suffix else report.name
    return report, report.with_name(f"{stem}.provenance.json")


def render_page(ctx: Context):
    """The page as a sequence of HTML pieces (written as they come)."""
    yield h.page_start(f"lofar-hires run report: {ctx.run_dir.resolve().name}",
                       [(ident, heading) for ident, heading, _ in SECTIONS])
    for ident, heading, make in SECTIONS:
        yield f'<section id="{ident}">\n<h2>{h.esc(heading)}</h2>\n'
        yield from make(ctx)
        yield "</section>\n"
    yield h.page_end()


def write_report(run_dir: Path, output: Path | None = None, overwrite: bool = False,
                 parameters: dict[str, Any] | None = None, max_image_pix: int = MAX_IMAGE_PIX) -> ReportResult:
    """Write the report of a run directory.

    Parameters
    ----------
    run_dir
        The output directory of ``lofar-hires run`` (with ``run.json``).
    output
        The HTML file (default ``RUN_DIR/report/index.html``).
    overwrite
        Replace an existing report.
    parameters
        The command's parameters, for the provenance record.
    max_image_pix
        Longest side of a FITS image after block averaging (pixels).

    Returns
    -------
    ReportResult

    Raises
    ------
    InputError, MissingInputError
        No run directory, a missing or corrupt ``run.json``.
    OutputExistsError
        The report or its provenance record exists and ``overwrite`` is false.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    report, record = report_paths(run_dir, output)
    if report.resolve() == manifest.path.resolve() or record.resolve() == manifest.path.resolve():
        raise InputError(f"the report {report} would replace the run manifest {manifest.path}; choose another output",
                         setting="output")
    for path in (report, record):
        check_output_path(path, overwrite)
    log.info("report of %s (%d modules recorded) -> %s", run_dir, len(manifest.modules), report)
    prov = Provenance(task="report", parameters=dict(parameters or {}))
    prov.add_input(manifest.path)
    ctx = Context(run_dir=run_dir, manifest=manifest, max_image_pix=max_image_pix)
    with atomic_output(report, overwrite) as tmp:
        with tmp.open("w", encoding="utf-8") as fh:
            for piece in render_page(ctx):
                fh.write(piece)
    prov.parameters["embedded"] = list(ctx.embedded)
    prov.parameters["problems"] = list(ctx.problems)
    prov.write(record)
    log.info("wrote %s (%d files of the run inlined, %d parts not shown)", report, len(ctx.embedded),
             len(ctx.problems))
    return ReportResult(report, record, tuple(ctx.embedded), tuple(ctx.problems))
