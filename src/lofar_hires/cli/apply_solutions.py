"""``lofar-hires apply-solutions``: a new measurement set corrected by calibration solutions.

DP3 ``applycal`` removes the solutions of an h5parm (e.g. ``best_<obs>.h5`` of
``lofar-hires selfcal``) from a column of the input measurement set and writes
the result as the DATA column of a new measurement set; the input is never
modified. Full-Jones soltabs (4 polarisations) are applied as one matrix,
others one soltab after the other; a multi-direction h5parm needs
``--direction``. The provenance goes to ``<output>.provenance.json`` and into a
HISTORY row of the new measurement set.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "apply calibration solutions (h5parm) to a measurement set, writing a new measurement set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", type=Path, metavar="MSIN", help="measurement set to correct (read only)")
    parser.add_argument("--solutions", type=Path, required=True,
                        help="h5parm with the solutions (first solset), e.g. best_<obs>.h5 of `lofar-hires selfcal`")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="new measurement set (written atomically)")
    parser.add_argument("--data-column", default="DATA", help="column of the input to correct (default DATA)")
    parser.add_argument("--soltabs", default=None, metavar="NAME[,NAME...]",
                        help="comma-separated soltabs to apply, e.g. amplitude000,phase000 (default: all)")
    parser.add_argument("--direction", default=None, metavar="NAME",
                        help="direction of a multi-direction h5parm to apply (its source name)")
    parser.add_argument("--threads", type=int, default=2, help="DP3 threads (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import record_ms_history
    from lofar_hires.cli import command_parameters
    from lofar_hires.errors import InputError, OutputExistsError
    from lofar_hires.provenance import Provenance
    from lofar_hires.solutions.apply import ApplyPlan, apply_solutions, parse_soltabs

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    soltabs = parse_soltabs(args.soltabs)
    record = args.output.with_name(args.output.name + ".provenance.json")
    if record.exists() and not args.overwrite:
        raise OutputExistsError(f"output {record} already exists; overwrite it or choose another output",
                                setting="overwrite")
    parameters = command_parameters(args)
    log.info("settings: %s", json.dumps(parameters))
    prov = Provenance(task="apply-solutions", parameters=parameters)

    def finalize(ms: Path, plan: ApplyPlan) -> None:
        for path in (args.msin, args.solutions):
            prov.add_input(path)
        prov.parameters["applied"] = {"soltabs": list(plan.soltabs), "fulljones": plan.fulljones,
                                      "direction": plan.direction}
        record_ms_history(ms, prov)

    apply_solutions(args.msin, args.solutions, args.output, data_column=args.data_column, soltabs=soltabs,
                    direction=args.direction, threads=args.threads, overwrite=args.overwrite, provenance=prov,
                    finalize=finalize)
    prov.write(record)
    print(args.output)
    return 0
