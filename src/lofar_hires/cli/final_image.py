"""``lofar-hires final-image``: one facet's final images (0.3, 0.6 and 1.2 arcsec by default), primary-beam corrected.

Library: :mod:`lofar_hires.final_imaging` (:func:`~lofar_hires.final_imaging.run.plan_facet` checks the
datasets, resolutions and solutions before any tool runs; :func:`~lofar_hires.final_imaging.run.image_facet`
applies the solutions (DP3), images (WSClean) and corrects for the primary beam (EveryBeam)). Settings:
configs/final_imaging.yaml (``--config``, ``--set``). Writes, per resolution ``R``,
``<facet>.<R>asec-image.fits`` (and WSClean's residual, model, psf and dirty images), ``-beam.fits``,
``-image-pb.fits`` and ``<facet>.<R>asec.final.json``. Prints the corrected images (the uncorrected ones
with ``--no-beam``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "image one facet at the final resolutions with its solutions, corrected for the primary beam"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", type=Path, nargs="+", metavar="MSIN",
                        help="the facet's datasets, one per observation or one averaged set (read only)")
    parser.add_argument("--facet", required=True, help="the facet's name (its label in --facet-regions)")
    parser.add_argument("--facet-regions", type=Path, required=True,
                        help="ds9 region file of the facet layout (lofar-hires facets)")
    parser.add_argument("-o", "--outdir", type=Path, required=True, help="directory for the images and summaries")
    parser.add_argument("--resolution", action="append", default=None, metavar="NAME",
                        help="a resolution of the configuration (0.3, 0.6 or 1.2 by default; repeatable; default "
                             "all)")
    parser.add_argument("--solutions", type=Path, nargs="+", default=None, metavar="H5PARM",
                        help="solutions to apply before imaging: one h5parm for every dataset or one per dataset, in "
                             "order (default: the data are imaged as given)")
    parser.add_argument("--direction", default=None, metavar="NAME",
                        help="h5parm direction to apply (default: the facet's, when the h5parm has several)")
    parser.add_argument("--config", type=Path, default=None, help="YAML file overriding configs/final_imaging.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. robust=-1.0 or primary_beam.min_beam=0.2 (repeatable)")
    parser.add_argument("--no-beam", dest="beam", action="store_false",
                        help="no primary-beam correction (no -beam.fits and -image-pb.fits)")
    parser.add_argument("--threads", type=int, default=2, help="DP3 and WSClean threads (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace the products of an earlier run")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.cli.subtract import _check_outdir
    from lofar_hires.errors import InputError
    from lofar_hires.final_imaging.config import load_final_imaging_config
    from lofar_hires.final_imaging.run import check_products, image_facet, plan_facet
    from lofar_hires.io.ms import read_ms_info, require_ms
    from lofar_hires.io.regions import read_ds9_polygons
    from lofar_hires.subtract.plan import facets_from_regions

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}", setting="threads")
    cfg = load_final_imaging_config(args.config, args.overrides)
    resolutions = args.resolution or list(cfg.resolutions)
    for res in resolutions:
        cfg.resolution(res)
    if len(set(resolutions)) != len(resolutions):
        raise InputError(f"resolution(s) given twice: {', '.join(resolutions)}", setting="resolution")
    for ms in args.msin:
        if args.outdir.resolve() == ms.resolve() or ms.resolve() in args.outdir.resolve().parents:
            raise InputError(f"output directory {args.outdir} lies inside the input measurement set {ms}",
                             setting="outdir")
        require_ms(ms, (cfg.data_column,))
    if len({m.resolve() for m in args.msin}) != len(args.msin):
        raise InputError("a dataset is given twice", setting="msin")
    facets = {f.name: f for f in facets_from_regions(read_ds9_polygons(args.facet_regions), args.facet_regions)}
    if args.facet not in facets:
        raise InputError(f"facet {args.facet!r} is not in {args.facet_regions} (facets {', '.join(facets)})",
                         setting="facet")
    _check_outdir(args.outdir)
    infos = [read_ms_info(ms) for ms in args.msin]
    plan = plan_facet(facets[args.facet], infos, resolutions, cfg, solutions=args.solutions or (),
                      direction=args.direction, beam=args.beam, other_facets=[f for f in facets if f != args.facet])
    check_products(args.outdir, plan, args.overwrite)
    inputs = [*args.msin, args.facet_regions, *(args.solutions or ())]
    prov = new_provenance("final-image", command_parameters(args), inputs, cfg)
    result = image_facet(plan, cfg, args.outdir, threads=args.threads, overwrite=args.overwrite, prov=prov)
    for res in resolutions:
        print(result.products[res]["image_pb" if args.beam else "image"])
    return 0
