"""``lofar-hires report``: the run report, one self-contained HTML page of a ``lofar-hires run`` directory.

Library: :mod:`lofar_hires.report` (:func:`~lofar_hires.report.build.write_report`). Reads
``RUN_DIR/run.json`` and the run tree; writes ``RUN_DIR/report/index.html`` (or ``-o``), with every
picture inline, and ``index.provenance.json`` next to it. Prints the report's path.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "the run report: one self-contained HTML page of a run (modules, times, plots, calibrators, images, warnings)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="output directory of lofar-hires run (holds run.json); read only, except for the "
                             "default report")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="the report (HTML; default RUN_DIR/report/index.html); its provenance record goes "
                             "next to it as <name>.provenance.json")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.report.build import write_report

    result = write_report(args.run_dir, args.output, args.overwrite, command_parameters(args))
    if result.problems:
        log.warning("%d part(s) of the run could not be shown; they are listed in the report's warnings",
                    len(result.problems))
    print(result.report)
    return 0
