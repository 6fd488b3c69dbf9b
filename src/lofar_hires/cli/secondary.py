"""``lofar-hires secondary``: secondary (weak) calibrators inside a refined facet (de Jong et al. 2025, section
6.4.4).

Library: :mod:`lofar_hires.refine.secondary`. The facet is split by Voronoi between its main and weak
calibrators; the main calibrator's part of the model is subtracted from the data corrected by its refined
solutions, and each weak calibrator is self-calibrated with the ``refine-final`` recipe of its own
delta_t. Writes ``<facet>.subfacets.reg``, ``<weak>.<obs>.secondary.h5`` per weak calibrator and
observation, ``<facet>.secondary.json`` and a self-calibration directory per weak calibrator. Prints
the region file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "secondary (weak) calibrators of a facet: Voronoi sub-facets, each weak calibrator self-calibrated"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli.refine import add_common_arguments
    from lofar_hires.refine.run import RefineSettings

    d = RefineSettings()
    parser.add_argument("msin", type=Path, nargs="+", metavar="MSIN",
                        help="the facet's datasets, one per observation (read only), calibrated jointly")
    parser.add_argument("--refined", type=Path, nargs="+", required=True, metavar="H5",
                        help="the main calibrator's refined solutions, one per MSIN in the same order "
                             "(<facet>.<obs>.refined.h5 of lofar-hires refine)")
    parser.add_argument("--calibrators", type=Path, required=True,
                        help="the calibrator selection table: the facet's main calibrator and the weak ones")
    parser.add_argument("--facet", required=True, help="the facet's name (its main calibrator's)")
    parser.add_argument("--facet-regions", type=Path, required=True,
                        help="ds9 region file of the facets (facets.reg of lofar-hires facets)")
    parser.add_argument("--skymodel", type=Path, required=True,
                        help="makesourcedb model of the facet (the 1.2 arcsec model); the components in the main "
                             "calibrator's sub-facet are subtracted")
    parser.add_argument("--weak", action="append", default=None, metavar="NAME",
                        help="a weak calibrator of the table to calibrate (repeatable; default: every weak "
                             "calibrator inside the facet with 2.0 <= sigma_c < 2.6 rad)")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="directory for the sub-facet regions, the solutions, the summary and the runs")
    parser.add_argument("--set-final", dest="final_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value of the weak calibrators' strategy (repeatable)")
    add_common_arguments(parser, "the comparison images")
    parser.add_argument("--compare", action="store_true",
                        help="image each weak calibrator with the main solutions only and with its own, and report "
                             "the peak and rms of both")
    parser.add_argument("--data-column", default=d.data_column, help="column of MSIN to use (default DATA)")
    parser.add_argument("--threads", type=int, default=d.threads,
                        help=f"DP3 and WSClean threads (default {d.threads})")
    parser.add_argument("--overwrite", action="store_true", help="replace the products of an earlier run")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.cli.subtract import _check_outdir
    from lofar_hires.errors import InputError, MissingInputError
    from lofar_hires.io.h5parm import read_h5parm, require_values
    from lofar_hires.io.ms import require_ms
    from lofar_hires.io.names import inside, safe_name
    from lofar_hires.io.regions import read_ds9_polygons
    from lofar_hires.io.skymodel import read_makesourcedb, require_skymodel
    from lofar_hires.refine.plan import facet_calibrator
    from lofar_hires.refine.run import RefineSettings, observation_names
    from lofar_hires.refine.secondary import plan_secondary, run_secondary, weak_calibrators, write_summary
    from lofar_hires.selection.table import read_table
    from lofar_hires.selfcal.recipes import load_recipe_config

    settings = RefineSettings(final_overrides=tuple(args.final_overrides), image_size_pix=args.image_size_pix,
                              image_scale_arcsec=args.image_scale_arcsec, image_taper_arcsec=args.image_taper_arcsec,
                              image_niter=args.image_niter, compare=args.compare, data_column=args.data_column,
                              threads=args.threads)
    if len(args.refined) != len(args.msin):
        raise InputError(f"{len(args.refined)} refined solution file(s) for {len(args.msin)} measurement set(s); give "
                         "one per measurement set, in the same order", setting="refined")
    for ms in args.msin:
        if args.outdir.resolve() == ms.resolve() or ms.resolve() in args.outdir.resolve().parents:
            raise InputError(f"output directory {args.outdir} lies inside the input measurement set {ms}",
                             setting="outdir")
        require_ms(ms, (args.data_column,))
    for h5 in args.refined:
        try:
            require_values(read_h5parm(h5), h5)
        except (InputError, MissingInputError) as exc:
            raise InputError(f"refined solutions (--refined): {exc}", setting="refined") from None
    model = read_makesourcedb(require_skymodel(args.skymodel))
    names = observation_names(args.msin, args.facet)
    _check_outdir(args.outdir)
    config = load_recipe_config(args.recipe_overrides)
    main = facet_calibrator(args.calibrators, args.facet, config)
    polygons = {p.name: p for p in read_ds9_polygons(args.facet_regions)}
    if args.facet not in polygons:
        raise InputError(f"no facet {args.facet} in {args.facet_regions} (has "
                         f"{', '.join(str(n) for n in polygons)})", setting="facet_regions")
    vertices = polygons[args.facet].vertices_deg
    weak = weak_calibrators(read_table(args.calibrators), vertices, args.weak or (), args.calibrators, config,
                            args.facet)
    plan = plan_secondary(vertices, main, weak)
    summary_path = inside(args.outdir, f"{safe_name(args.facet, what='facet name')}.secondary.json")
    if summary_path.exists() and not args.overwrite:
        raise InputError(f"{summary_path} exists: facet {args.facet}'s secondary calibrators were made into "
                         f"{args.outdir} before; give --overwrite or another --outdir", setting="outdir")
    for f in plan.subfacets:
        log.info("sub-facet %s: %.4f deg2 about (%.5f, %.5f)", f.name, f.area_deg2, f.centre_ra_deg, f.centre_dec_deg)
    prov = new_provenance("secondary", command_parameters(args),
                          [*args.msin, *args.refined, args.calibrators, args.facet_regions, args.skymodel], settings)
    result = run_secondary(args.msin, names, args.refined, model, plan, config, args.outdir, settings, prov,
                           overwrite=args.overwrite)
    summary = write_summary(summary_path, result)
    prov.write(summary_path.with_name(summary_path.name.replace(".json", ".provenance.json")))
    for weak_name, metrics in result.metrics.items():
        log.info("weak calibrator %s: peak %s Jy/beam with the main solutions only, %s with its own", weak_name,
                 metrics["main_only"]["peak_jy"], metrics["secondary"]["peak_jy"])
    log.info("facet %s: secondary calibrators done, summary %s", args.facet, summary)
    print(result.regions)
    return 0
