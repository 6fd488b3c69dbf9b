"""``lofar-hires sva``: average many observations of one field onto one template grid in sidereal time.

Library: :mod:`lofar_hires.sva` (:func:`~lofar_hires.sva.run.plan_sva` checks the observations and
decides the grid before the data are read; :func:`~lofar_hires.sva.run.run_sva` streams every
observation once into the output). Writes ``<outdir>/<name>.ms`` with its provenance and
``<outdir>/<name>.sva.json`` (the template, the measured baseline offsets, the time resolution and
why, rows and weights in and out). Prints the averaged measurement set.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "sidereal visibility averaging: many observations of one field onto one template grid in sidereal time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.sva.run import SvaSettings

    d = SvaSettings()
    parser.add_argument("msin", type=Path, nargs="+", metavar="MSIN",
                        help="measurement sets of the same field (or facet), one per observation (read only)")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="directory for <name>.ms, its provenance and <name>.sva.json")
    parser.add_argument("--name", default="sva", help="output name: <outdir>/<name>.ms (default sva)")
    parser.add_argument("--data-column", default=d.data_column, help="column of MSIN to average (default DATA)")
    parser.add_argument("--image-radius-deg", type=float, default=None,
                        help="radius of the image (facet) to keep the smearing budget at (deg; default the half-power "
                             "radius of the widest station beam at the lowest frequency)")
    parser.add_argument("--max-smearing-loss", type=float, default=d.max_smearing_loss,
                        help="largest peak loss of a source at the image radius from the averaging "
                             f"(default {d.max_smearing_loss:g})")
    parser.add_argument("--time-res-s", type=float, default=None,
                        help="output time resolution (s) instead of the one the smearing budget gives")
    parser.add_argument("--max-centre-offset-arcsec", type=float, default=d.max_centre_offset_arcsec,
                        help="refuse observations whose phase centres differ by more (arcsec, default "
                             f"{d.max_centre_offset_arcsec:g})")
    parser.add_argument("--chunk-mb", type=float, default=d.chunk_mb,
                        help=f"memory for one block of the output and one chunk of an input (MiB, default "
                             f"{d.chunk_mb:g})")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.cli.subtract import _check_outdir
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import check_output_path
    from lofar_hires.sva.run import SvaSettings, output_path, plan_sva, run_sva, write_summary

    settings = SvaSettings(data_column=args.data_column, image_radius_deg=args.image_radius_deg,
                           max_smearing_loss=args.max_smearing_loss, time_res_s=args.time_res_s,
                           max_centre_offset_arcsec=args.max_centre_offset_arcsec, chunk_mb=args.chunk_mb)
    outdir = args.outdir.resolve()
    for ms in args.msin:
        if outdir == ms.resolve() or ms.resolve() in outdir.parents:
            raise InputError(f"output directory {args.outdir} lies inside the input measurement set {ms}",
                             setting="outdir")
    _check_outdir(args.outdir)
    out = output_path(args.outdir, args.name)
    summary_path = out.with_name(out.name[: -len(".ms")] + ".sva.json")
    plan = plan_sva(list(args.msin), settings)
    for path in (out, summary_path):
        check_output_path(path, args.overwrite)
    prov = new_provenance("sva", command_parameters(args), list(args.msin), settings)
    result = run_sva(plan, out, prov, overwrite=args.overwrite)
    write_summary(summary_path, plan, result)
    log.info("averaged %d observation(s) into %s (%d rows, %.3g of the input rows), summary %s", len(args.msin),
             result.output, result.engine.rows_out, result.engine.rows_out / sum(o.n_rows for o in plan.observations),
             summary_path)
    print(result.output)
    return 0
