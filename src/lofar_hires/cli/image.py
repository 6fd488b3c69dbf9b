"""``lofar-hires image``: image measurement sets with WSClean."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lofar_hires.runners.wsclean import WSCleanOptions

HELP = "image measurement sets with WSClean (FITS products and provenance)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", nargs="+", type=Path, metavar="MSIN", help="measurement set(s) to image")
    parser.add_argument("--outdir", type=Path, default=Path("."), help="directory for the FITS files")
    parser.add_argument("--name", default="image", help="product name prefix (default image)")
    parser.add_argument("--size-pix", type=int, nargs=2, default=[1024, 1024], metavar=("NX", "NY"),
                        help="image size in pixels")
    parser.add_argument("--scale-arcsec", type=float, default=2.0, help="pixel size (arcsec)")
    parser.add_argument("--niter", type=int, default=10000, help="maximum clean iterations (0: dirty)")
    parser.add_argument("--weighting", choices=["natural", "uniform", "briggs"], default="briggs")
    parser.add_argument("--robust", type=float, default=-0.5, help="Briggs robust parameter")
    parser.add_argument("--data-column", default="DATA", help="column to image")
    parser.add_argument("--pol", default="i", help="polarisation(s) to image (WSClean -pol)")
    parser.add_argument("--mgain", type=float, default=0.6, help="major-cycle gain")
    parser.add_argument("--threshold-sigma", type=float, default=None,
                        help="stop cleaning at this many times the residual rms (WSClean -auto-threshold)")
    parser.add_argument("--auto-mask-sigma", type=float, default=None, help="WSClean -auto-mask")
    parser.add_argument("--multiscale", action="store_true", help="multi-scale clean")
    parser.add_argument("--minuv-lambda", type=float, default=None, help="minimum uv distance (wavelengths)")
    parser.add_argument("--maxuv-lambda", type=float, default=None, help="maximum uv distance (wavelengths)")
    parser.add_argument("--taper-arcsec", type=float, default=None, help="Gaussian uv taper (arcsec)")
    parser.add_argument("--super-weight", type=float, default=None,
                        help="a Briggs/uniform weighting grid this many times coarser than the image's "
                             "(WSClean -super-weight; default 1)")
    parser.add_argument("--restoring-beam-arcsec", type=float, default=None,
                        help="circular restoring beam (default: fitted to the PSF)")
    parser.add_argument("--facet-regions", type=Path, default=None, metavar="REG",
                        help="ds9 facet regions (lofar-hires facets): image facet by facet (WSClean -facet-regions)")
    parser.add_argument("--facet-solutions", type=Path, nargs="+", default=None, metavar="H5PARM",
                        help="with --facet-regions: multi-direction solutions applied per facet, one h5parm per "
                             "measurement set in the same order (WSClean -apply-facet-solutions); their directions "
                             "must be the facets (names and points)")
    parser.add_argument("--facet-soltabs", default="amplitude000,phase000",
                        help="soltabs of --facet-solutions to apply (default amplitude000,phase000)")
    parser.add_argument("--channels-out", type=int, default=1, help="output channels (joined when > 1)")
    parser.add_argument("--threads", type=int, default=1, help="WSClean threads")
    parser.add_argument("--update-model", action="store_true",
                        help="let WSClean write MODEL_DATA into the measurement sets (default: inputs untouched)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing images")


#: Polarisation names WSClean's ``-pol`` accepts (a comma-separated list, or Stokes letters run together).
POLARISATIONS = ("i", "q", "u", "v", "xx", "xy", "yx", "yy", "rr", "rl", "lr", "ll")


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before WSClean starts, option values it would reject or turn into a wrong image."""
    import math

    from lofar_hires.errors import InputError

    positive = {"--scale-arcsec": args.scale_arcsec, "--threshold-sigma": args.threshold_sigma,
                "--auto-mask-sigma": args.auto_mask_sigma, "--taper-arcsec": args.taper_arcsec,
                "--restoring-beam-arcsec": args.restoring_beam_arcsec, "--super-weight": args.super_weight}
    for option, value in positive.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{option} must be a positive number, got {value}")
    for option, value in {"--minuv-lambda": args.minuv_lambda, "--maxuv-lambda": args.maxuv_lambda}.items():
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InputError(f"{option} must be a number >= 0, got {value}")
    if args.minuv_lambda is not None and args.maxuv_lambda is not None and args.maxuv_lambda <= args.minuv_lambda:
        raise InputError(f"--maxuv-lambda {args.maxuv_lambda} must exceed --minuv-lambda {args.minuv_lambda}")
    if not (math.isfinite(args.mgain) and 0 < args.mgain <= 1):
        raise InputError(f"--mgain must be in (0, 1], got {args.mgain}")
    if not math.isfinite(args.robust):
        raise InputError(f"--robust must be a finite number, got {args.robust}")
    for option, value in {"--threads": args.threads, "--channels-out": args.channels_out}.items():
        if value < 1:
            raise InputError(f"{option} must be at least 1, got {value}")
    if args.facet_regions is not None and not Path(args.facet_regions).is_file():
        raise InputError(f"--facet-regions {args.facet_regions} is not a file (a ds9 region file of "
                         "lofar-hires facets)", setting="facet_regions")
    if args.facet_solutions is not None:
        if args.facet_regions is None:
            raise InputError("--facet-solutions are applied per facet: give --facet-regions too",
                             setting="facet_regions")
        if len(args.facet_solutions) != len(args.msin):
            raise InputError(f"--facet-solutions: {len(args.facet_solutions)} h5parm(s) for {len(args.msin)} "
                             "measurement set(s); give one per measurement set, in the same order",
                             setting="facet_solutions")
    tokens = args.pol.lower().split(",")
    if not all(t in POLARISATIONS or (t and set(t) <= set("iquv")) for t in tokens):
        raise InputError(f"--pol {args.pol!r} is not a WSClean polarisation (e.g. i, iquv, xx,yy)")


def check_facet_solutions(regions: Path, h5parms, soltabs) -> None:
    """Refuse solutions whose directions are not the facets of ``regions``, or that lack a soltab."""
    from lofar_hires.errors import InputError
    from lofar_hires.io.h5parm import read_h5parm
    from lofar_hires.solutions.dd_merge import check_facet_regions

    for path in h5parms:
        solset = read_h5parm(Path(path))
        missing = [t for t in soltabs if t not in solset.soltabs]
        if missing:
            raise InputError(f"--facet-solutions {path}: no soltab {missing[0]} (has {', '.join(solset.soltabs)})",
                             setting="facet_soltabs")
        check_facet_regions(Path(regions), solset.directions, Path(path))


def run(args: argparse.Namespace) -> int:
    from lofar_hires.imaging.image import make_image

    check_arguments(args)
    facet_solutions = None
    if args.facet_solutions is not None:
        facet_solutions = (tuple(args.facet_solutions), tuple(t for t in args.facet_soltabs.split(",") if t))
        check_facet_solutions(args.facet_regions, args.facet_solutions, facet_solutions[1])
    options = WSCleanOptions(
        name=Path(args.name),
        size_pix=(args.size_pix[0], args.size_pix[1]),
        scale_arcsec=args.scale_arcsec,
        niter=args.niter,
        weighting=args.weighting,
        robust=args.robust,
        pol=args.pol,
        data_column=args.data_column,
        mgain=args.mgain if args.niter > 0 else None,
        auto_threshold_sigma=args.threshold_sigma,
        auto_mask_sigma=args.auto_mask_sigma,
        multiscale=args.multiscale,
        minuv_lambda=args.minuv_lambda,
        maxuv_lambda=args.maxuv_lambda,
        taper_gaussian_arcsec=args.taper_arcsec,
        super_weight=args.super_weight,
        restoring_beam_arcsec=args.restoring_beam_arcsec,
        facet_regions=args.facet_regions,
        apply_facet_solutions=facet_solutions,
        channels_out=args.channels_out,
        join_channels=args.channels_out > 1,
        threads=args.threads,
        no_update_model_required=not args.update_model,
    )
    products = make_image(args.msin, args.outdir, options, overwrite=args.overwrite)
    print(json.dumps({k: str(v) for k, v in sorted(products.fits.items())}, indent=2))
    return 0
