"""``lofar-hires subtract``: one small dataset per facet (de Jong et al. 2025, section 6.5).

Library: :mod:`lofar_hires.subtract` (:func:`~lofar_hires.subtract.plan.plan_subtraction`
decides and checks everything before the data are touched;
:func:`~lofar_hires.subtract.run.run_subtraction` runs DP3). Writes
``<outdir>/<ms>.<facet>.ms`` per facet with ``.provenance.json`` next to it, and
``<outdir>/<ms>.subtract.json`` (facets, averaging, outputs, the cost of every DP3 run).
Prints the facet datasets, one per line.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from lofar_hires.cli.dysco_options import add_dysco_arguments, check_dysco_arguments, dysco_settings

log = logging.getLogger(__name__)

HELP = "one phase-shifted, corrected and averaged dataset per facet, with every other facet's sources subtracted"

#: Soltabs applied by default, in this order, where the h5parm has them (what `lofar-hires h5 merge-dd` writes).
DEFAULT_SOLTABS = ("amplitude000", "phase000")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("msin", type=Path, metavar="MSIN",
                        help="direction-independently calibrated measurement set (one observation or subband; "
                             "read only)")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--skymodel", type=Path, default=None,
                       help="makesourcedb sky model of the field; each component is predicted with the solutions of "
                            "the facet it lies in")
    model.add_argument("--model-images", type=Path, nargs="+", default=None, metavar="FITS",
                       help="WSClean model images of the field, one per channel (<name>-<channel>-model.fits of "
                            "the 1.2 arcsec image); every non-zero pixel is a component")
    parser.add_argument("--h5parm", type=Path, required=True,
                        help="multi-direction solutions, one direction per facet, named like the facets "
                             "(e.g. the merged DD solutions of `lofar-hires h5 merge-dd`)")
    parser.add_argument("--facet-regions", type=Path, required=True,
                        help="ds9 region file of the facets (facets.reg of `lofar-hires facets`)")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="directory for <ms>.<facet>.ms, their provenance, <ms>.subtract.json and logs/")
    parser.add_argument("--method", choices=("new", "old"), default="new",
                        help="new: subtract the whole field once, then add each facet back (default); old: per "
                             "facet, copy the data without every other facet's sources")
    parser.add_argument("--facet", action="append", default=None, metavar="NAME",
                        help="make only this facet's dataset (repeatable; default all), e.g. to rerun a failed one")
    parser.add_argument("--soltabs", default=None, metavar="NAME[,NAME...]",
                        help="soltabs of --h5parm to use (default: amplitude000 and phase000, those present)")
    parser.add_argument("--resolution-arcsec", type=float, default=0.3,
                        help="resolution the facet datasets are imaged at; sets how far they may be averaged "
                             "(arcsec, default 0.3, the final images)")
    parser.add_argument("--max-smearing-loss", type=float, default=0.05,
                        help="largest fractional peak loss by bandwidth and time smearing at a facet's farthest "
                             "vertex (default 0.05)")
    parser.add_argument("--max-distance-deg", type=float, default=2.5,
                        help="refuse facets whose centre is farther than this from the phase centre (deg, "
                             "default 2.5)")
    parser.add_argument("--no-beam", dest="beam", action="store_false",
                        help="the data carry no station beam (already corrected, or simulated without): predict "
                             "without it and do not correct it towards the facet centres")
    add_dysco_arguments(parser, switch=True, what="the facet datasets")
    parser.add_argument("--data-column", default="DATA", help="column of MSIN to use (default DATA)")
    parser.add_argument("--keep-empty", type=Path, default=None, metavar="PATH",
                        help="with --empty-only: where to write the measurement set with the whole field subtracted")
    parser.add_argument("--empty-ms", type=Path, default=None, metavar="PATH",
                        help="new method: reuse this measurement set with the whole field subtracted (from "
                             "--keep-empty of an earlier run) instead of making it")
    parser.add_argument("--empty-only", action="store_true",
                        help="new method: only make the measurement set with the whole field subtracted "
                             "(at --keep-empty) and stop; facets are then made from it by separate runs with "
                             "--empty-ms and --facet (the layout of workflows/facet_subtract.cwl)")
    parser.add_argument("--threads", type=int, default=2, help="DP3 threads (default 2)")
    parser.add_argument("--resume", action="store_true",
                        help="skip facets whose dataset (and its provenance) already exists")
    parser.add_argument("--overwrite", action="store_true", help="replace existing facet datasets")


def _check_args(args: argparse.Namespace) -> None:
    import math

    from lofar_hires.errors import InputError

    for key, what in (("resolution_arcsec", "arcsec"), ("max_distance_deg", "deg")):
        value = getattr(args, key)
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"--{key.replace('_', '-')} must be a positive number of {what}, got {value}",
                             setting=key)
    if not (math.isfinite(args.max_smearing_loss) and 0 < args.max_smearing_loss < 1):
        raise InputError(f"--max-smearing-loss must be a fraction in (0, 1), got {args.max_smearing_loss}",
                         setting="max_smearing_loss")
    check_dysco_arguments(args)
    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}", setting="threads")
    if args.method == "old" and (args.keep_empty or args.empty_ms or args.empty_only):
        raise InputError("--keep-empty, --empty-ms and --empty-only belong to the new method", setting="method")
    if args.keep_empty is not None and not args.empty_only:
        raise InputError("--keep-empty goes with --empty-only (the facets are made in one pass without an empty "
                         "data set on disk)", setting="keep_empty")
    if args.empty_only and args.keep_empty is None:
        raise InputError("--empty-only needs --keep-empty PATH to write the measurement set to",
                         setting="keep_empty")
    if args.empty_only and (args.empty_ms is not None or args.facet):
        raise InputError("--empty-only makes the empty measurement set; it takes neither --empty-ms nor --facet",
                         setting="empty_only")
    if args.resume and args.overwrite:
        raise InputError("--resume keeps complete facet datasets, --overwrite replaces them: give one",
                         setting="resume")
    for path, option in ((args.keep_empty, "keep_empty"), (args.empty_ms, "empty_ms")):
        if path is not None and path.resolve() == args.msin.resolve():
            raise InputError(f"{path} is the input measurement set", setting=option)
    if args.outdir.resolve() == args.msin.resolve() or args.msin.resolve() in args.outdir.resolve().parents:
        raise InputError(f"output directory {args.outdir} lies inside the input measurement set", setting="outdir")


def _soltabs(solset, requested: str | None, h5parm: Path) -> tuple[str, ...]:
    from lofar_hires.errors import InputError
    from lofar_hires.solutions.apply import parse_soltabs

    names = parse_soltabs(requested)
    if names is None:
        names = tuple(n for n in DEFAULT_SOLTABS if n in solset.soltabs)
        if not names:
            raise InputError(f"{h5parm} has neither amplitude000 nor phase000 (has {', '.join(solset.soltabs)}); "
                             "name the soltabs to use", setting="soltabs")
    missing = [n for n in names if n not in solset.soltabs]
    if missing:
        raise InputError(f"no soltab {', '.join(missing)} in {h5parm} (has {', '.join(solset.soltabs)})",
                         setting="soltabs")
    for name in names:
        tab = solset.soltabs[name]
        if "dir" not in tab.axes:
            raise InputError(f"soltab {name} of {h5parm} has no direction axis: facet subtraction needs "
                             "direction-dependent solutions", setting="h5parm")
        if "pol" in tab.axes and len(tab.axes["pol"]) == 4:
            raise InputError(f"soltab {name} of {h5parm} is full-Jones; the facet subtraction applies scalar or "
                             "diagonal solutions", setting="soltabs")
    return names


def _existing_ancestor(path: Path) -> Path:
    probe = path.resolve()
    while not probe.exists() and not probe.is_symlink():
        probe = probe.parent
    return probe


def _check_outdir(outdir: Path) -> None:
    """The output directory must be a directory, or creatable (its nearest existing ancestor a writable directory)."""
    import os

    from lofar_hires.errors import InputError

    probe = _existing_ancestor(outdir)
    if not probe.is_dir():
        raise InputError(f"cannot create output directory {outdir}: {probe} is not a directory", setting="outdir")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"output directory {outdir} cannot be written ({probe} is not writable)", setting="outdir")


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(_existing_ancestor(path)).free


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import check_output_path
    from lofar_hires.io.h5parm import read_h5parm, require_values
    from lofar_hires.io.ms import read_ms_info, require_ms
    from lofar_hires.io.regions import read_ds9_polygons
    from lofar_hires.io.skymodel import read_makesourcedb, require_skymodel
    from lofar_hires.solutions.apply import check_stations, check_times
    from lofar_hires.subtract.model_images import model_from_images
    from lofar_hires.subtract.plan import (
        check_directions,
        check_disk,
        facets_from_regions,
        full_bytes,
        output_bytes,
        plan_subtraction,
    )
    from lofar_hires.subtract.run import SubtractSettings, check_empty_ms, ms_stem, run_subtraction, write_summary

    _check_args(args)
    _check_outdir(args.outdir)
    dysco = dysco_settings(args, require_ms(args.msin, (args.data_column,)), data_column=args.data_column,
                           threads=args.threads)
    settings = SubtractSettings(method=args.method, beam=args.beam, data_column=args.data_column,
                                threads=args.threads, dysco=dysco)
    require_ms(args.msin, (args.data_column,))
    info = read_ms_info(args.msin)
    polygons = read_ds9_polygons(args.facet_regions)
    solset = read_h5parm(args.h5parm)
    check_directions(facets_from_regions(polygons, args.facet_regions), solset, args.h5parm)
    if args.facet:
        unknown = [name for name in args.facet if name not in {p.name for p in polygons}]
        if unknown:
            raise InputError(f"no facet {', '.join(unknown)} in {args.facet_regions} (has "
                             f"{', '.join(str(p.name) for p in polygons)})", setting="facet")
    soltabs = _soltabs(solset, args.soltabs, args.h5parm)
    require_values(solset, args.h5parm, list(soltabs))
    tabs = [solset.soltabs[n] for n in soltabs]
    check_stations(info.station_names, tabs)
    check_times(info.times_mjd_s, tabs)
    if args.skymodel is not None:
        model = read_makesourcedb(require_skymodel(args.skymodel))
    else:
        model = model_from_images(args.model_images, info.freqs_hz, info.chan_width_hz,
                                  facets_from_regions(polygons, args.facet_regions))
    plan = plan_subtraction(info, polygons, args.facet_regions, solset, args.h5parm, model,
                            resolution_arcsec=args.resolution_arcsec, max_smearing_loss=args.max_smearing_loss,
                            max_distance_deg=args.max_distance_deg, soltabs=soltabs)
    jobs = [plan.job(name) for name in args.facet] if args.facet else list(plan.jobs)
    if args.empty_ms is not None:
        check_empty_ms(require_ms(args.empty_ms), info)
    need = 0 if args.empty_only else sum(output_bytes(info, job) for job in jobs)
    if args.empty_ms is None:
        need += full_bytes(info)
    check_disk(need, _free_bytes(args.outdir), args.outdir,
               f"{len(jobs)} facet dataset(s) and a full-size intermediate" if args.empty_ms is None
               else f"{len(jobs)} facet dataset(s)")
    if args.keep_empty is not None:
        check_output_path(args.keep_empty, args.overwrite)
    inputs = [args.msin, *(args.model_images or [args.skymodel]), args.h5parm, args.facet_regions]
    if args.empty_ms is not None:
        inputs.append(args.empty_ms)
    prov = new_provenance("subtract", command_parameters(args), inputs, settings)
    result = run_subtraction(args.msin, plan, args.h5parm, args.outdir, settings, prov, facets=args.facet or (),
                             empty_ms=args.empty_ms, keep_empty=args.keep_empty, empty_only=args.empty_only,
                             overwrite=args.overwrite, resume=args.resume)
    summary = write_summary(args.outdir / f"{ms_stem(args.msin)}.subtract.json", plan, result, settings)
    if args.empty_only:
        log.info("%s: the field subtracted into %s, summary %s", args.msin, result.empty_ms, summary)
        print(result.empty_ms)
        return 0
    log.info("facet datasets of %s: %d written, summary %s", args.msin, len(result.outputs), summary)
    for path in result.outputs.values():
        print(path)
    return 0
