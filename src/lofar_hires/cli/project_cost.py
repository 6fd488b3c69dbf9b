"""``lofar-hires project-cost``: core-hours per module of a run, projected to real LOFAR observations.

Library: :mod:`lofar_hires.accounting` (:func:`~lofar_hires.accounting.manifest.read_run_costs` reads a
run manifest, :func:`~lofar_hires.accounting.projection.comparison` projects its costs with the scaling
model of ``configs/lofar_dimensions.yaml`` and compares them with de Jong et al. 2025, Figure 6.14).
Writes ``project_cost.json`` (inputs, assumptions, per-module projections), ``project_cost.csv`` (the
table) and ``project_cost.png`` (stacked bars per number of observations) into the output directory,
and prints the table.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "project a run's core-hours per module to 8-hour LOFAR observations and compare with the paper"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifests", nargs="+", type=Path, metavar="RUN_JSON",
                        help="run manifests (run.json of lofar-hires run); several runs (e.g. of 1 and 2 "
                             "observations) are pooled and their observations exponents fitted")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="output directory (project_cost.json, project_cost.csv, project_cost.png)")
    parser.add_argument("--observations", type=int, nargs="+", default=None, metavar="N",
                        help="numbers of observations combined (default: those of the dimensions file, 1 16 64)")
    parser.add_argument("--dimensions", type=Path, default=None,
                        help="YAML file replacing entries of the shipped configs/lofar_dimensions.yaml (target "
                             "dimensions, module scalings, the paper's figures)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.accounting.config import EXCLUDED, load_cost_model
    from lofar_hires.accounting.manifest import read_run_costs
    from lofar_hires.accounting.projection import comparison
    from lofar_hires.accounting.report import PRODUCTS, build_record, table_text, write_products
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import check_output_path

    model = load_cost_model(args.dimensions)
    observations = args.observations if args.observations is not None else model.observations
    bad = [n for n in observations if n < 1]
    if bad:
        raise InputError(f"--observations {bad[0]}: numbers of observations must be at least 1",
                         setting="observations")
    observations = sorted(set(observations))
    runs = [read_run_costs(path) for path in args.manifests]
    for r in runs:
        unknown = sorted(set(r.core_h) - set(model.modules))
        if unknown:
            raise InputError(f"run manifest {r.path}: module {unknown[0]} has no scaling in the dimensions file "
                             f"(known: {', '.join(model.modules)})", setting="dimensions")
        if all(model.modules[m].category == EXCLUDED for m in r.core_h):
            raise InputError(f"run manifest {r.path}: only {', '.join(r.core_h)} finished, which the projection "
                             "leaves out; account a run that has processed its data")
        if r.unmeasured:
            log.warning("%s: not measured (skipped or pending), left out: %s", r.path, ", ".join(r.unmeasured))
    log.info("projecting %d run(s) to %s observation(s) of %s", len(runs), ", ".join(map(str, observations)),
             model.target)
    for name in PRODUCTS:
        check_output_path(args.outdir / name, args.overwrite)
    rows = comparison(runs, model, observations)
    record = build_record(runs, model, observations, rows, args.dimensions)
    for module, exponent in record["fitted_observation_exponents"].items():
        log.info("%s: observations exponent %.2f across the runs (model %.2f)", module, exponent,
                 model.modules[module].observations_exponent)
    paths = write_products(args.outdir, record, rows, args.overwrite)
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    print(table_text(rows))
    return 0
