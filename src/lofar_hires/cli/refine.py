"""``lofar-hires refine``: the DD refinement of one facet on its datasets of every observation (de Jong et al.
2025, section 6.4.4).

Library: :mod:`lofar_hires.refine` (:func:`~lofar_hires.refine.plan.facet_calibrator` finds the facet's
calibrator and its delta_t; :func:`~lofar_hires.refine.run.refine_facet` runs the 6 arcsec Dutch
self-calibration, skipped for delta_t above 3 min, and the final joint self-calibration towards the
calibrator). Writes ``<outdir>/<facet>.<obs>.refined.h5`` per observation, ``<facet>-image.fits``,
``<facet>.refine.json`` and the two self-calibration directories ``dutch/`` and ``final/``. Prints the
refined solutions, one per line. A refinement that changes the facet calibrator's peak at 6 arcsec
beyond ``refine_check.max_peak_change_fraction`` (:mod:`lofar_hires.refine.check`) is rejected: no
refined solutions, exit status 4 (0 with ``--failure-ok``, the summary saying why, a WARNING).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "DD refinement of one facet: 6 arcsec Dutch self-calibration, then the final joint self-calibration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.refine.run import RefineSettings

    d = RefineSettings()
    parser.add_argument("msin", type=Path, nargs="+", metavar="MSIN",
                        help="the facet's datasets, one per observation (<ms>.<facet>.ms of lofar-hires subtract; "
                             "read only), calibrated jointly")
    parser.add_argument("--calibrators", type=Path, required=True,
                        help="the calibrator selection table (lofar-hires select classify): the facet's main "
                             "calibrator gives the phase centre of the final step and, through its phasediff score, "
                             "delta_t")
    parser.add_argument("--facet", required=True, help="the facet's name (its main calibrator's)")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="directory for the refined solutions, the image, the summary and the two "
                             "self-calibration runs")
    parser.add_argument("--set-dutch", dest="dutch_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value of the 6 arcsec Dutch strategy (as lofar-hires selfcal --set; "
                             "repeatable)")
    parser.add_argument("--set-final", dest="final_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value of the final strategy (repeatable)")
    add_common_arguments(parser, "the facet image")
    parser.add_argument("--image-on-calibrator", action="store_true",
                        help="centre the facet image on the facet calibrator (default: on the facet centre, the "
                             "data's phase centre)")
    parser.add_argument("--compare", action="store_true",
                        help="also image the data as given and report the peak and rms of both")
    parser.add_argument("--data-column", default=d.data_column, help="column of MSIN to use (default DATA)")
    parser.add_argument("--threads", type=int, default=d.threads, help=f"DP3 and WSClean threads (default "
                                                                       f"{d.threads})")
    parser.add_argument("--failure-ok", action="store_true",
                        help="when a self-calibration or imaging step fails or the check rejects the refinement, "
                             "write <facet>.refine.json with status failed and the reason and exit 0, so that a "
                             "workflow refining many facets keeps the others (bad input still ends with exit status "
                             "2)")
    parser.add_argument("--overwrite", action="store_true", help="replace the products of an earlier run")


def add_common_arguments(parser: argparse.ArgumentParser, images: str) -> None:
    """The options ``refine`` and ``secondary`` share: recipe overrides and the settings of ``images``."""
    from lofar_hires.refine.run import RefineSettings

    d = RefineSettings()
    parser.add_argument("--set-recipe", dest="recipe_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value of configs/recipes.yaml, e.g. refine_final.min_cycles=3 "
                             "(repeatable)")
    parser.add_argument("--image-size-pix", type=int, default=d.image_size_pix,
                        help=f"size of {images} (pixels, default {d.image_size_pix})")
    parser.add_argument("--image-scale-arcsec", type=float, default=d.image_scale_arcsec,
                        help=f"pixel size of {images} (arcsec, default {d.image_scale_arcsec:g})")
    parser.add_argument("--image-taper-arcsec", type=float, default=d.image_taper_arcsec,
                        help=f"Gaussian taper of {images} (arcsec, default {d.image_taper_arcsec:g}; 0: none)")
    parser.add_argument("--image-niter", type=int, default=d.image_niter,
                        help=f"clean iterations of {images} (default {d.image_niter})")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.cli.subtract import _check_outdir
    from lofar_hires.errors import InputError, LofarHiresError
    from lofar_hires.io.ms import require_ms
    from lofar_hires.io.names import inside, safe_name
    from lofar_hires.refine.check import RefinementRejected
    from lofar_hires.refine.plan import facet_calibrator
    from lofar_hires.refine.run import RefineSettings, observation_names, refine_facet, write_failure, write_summary
    from lofar_hires.selfcal.recipes import load_recipe_config

    settings = RefineSettings(dutch_overrides=tuple(args.dutch_overrides), final_overrides=tuple(args.final_overrides),
                              image_size_pix=args.image_size_pix, image_scale_arcsec=args.image_scale_arcsec,
                              image_taper_arcsec=args.image_taper_arcsec, image_niter=args.image_niter,
                              image_on_calibrator=args.image_on_calibrator, compare=args.compare,
                              data_column=args.data_column, threads=args.threads)
    for ms in args.msin:
        if args.outdir.resolve() == ms.resolve() or ms.resolve() in args.outdir.resolve().parents:
            raise InputError(f"output directory {args.outdir} lies inside the input measurement set {ms}",
                             setting="outdir")
        require_ms(ms, (args.data_column,))
    observation_names(args.msin, args.facet)
    _check_outdir(args.outdir)
    config = load_recipe_config(args.recipe_overrides)
    calibrator = facet_calibrator(args.calibrators, args.facet, config)
    summary_path = inside(args.outdir, f"{safe_name(args.facet, what='facet name')}.refine.json")
    if summary_path.exists() and not args.overwrite:
        raise InputError(f"{summary_path} exists: facet {args.facet} was refined into {args.outdir} before; give "
                         "--overwrite or another --outdir", setting="outdir")
    log.info("facet %s: calibrator at (%.5f, %.5f) deg, sigma_c %.3g rad, delta_t %.3g min", args.facet,
             calibrator.ra_deg, calibrator.dec_deg, calibrator.sigma_c_rad, calibrator.delta_t_min)
    prov = new_provenance("refine", command_parameters(args), [*args.msin, args.calibrators], settings)
    try:
        result = refine_facet(args.msin, calibrator, config, args.outdir, settings, prov, overwrite=args.overwrite)
    except LofarHiresError as exc:
        if not args.failure_ok:
            raise
        write_failure(summary_path, calibrator, exc)
        level = logging.WARNING if isinstance(exc, RefinementRejected) else logging.ERROR
        log.log(level, "facet %s: refinement failed: %s; recorded in %s (--failure-ok: exit 0)", args.facet, exc,
                summary_path)
        return 0
    summary = write_summary(summary_path, result, settings)
    prov.write(summary_path.with_name(summary_path.name.replace(".refine.json", ".refine.provenance.json")))
    for name, metrics in result.metrics.items():
        peak = "-" if metrics["peak_jy"] is None else f"{metrics['peak_jy']:.4g}"
        log.info("facet %s image (%s): peak %s Jy/beam at the calibrator, rms %.3g Jy/beam", args.facet, name, peak,
                 metrics["rms_jy"])
    log.info("facet %s refined: summary %s", args.facet, summary)
    for path in result.solutions.values():
        print(path)
    return 0
