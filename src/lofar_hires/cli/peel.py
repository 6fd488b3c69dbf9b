"""``lofar-hires peel``: subtract bright sources with their own direction-dependent gains, brightest first.

Library: :mod:`lofar_hires.peel` (:func:`~lofar_hires.peel.plan.plan_peel` decides and checks
everything before the data are touched; :func:`~lofar_hires.peel.run.run_peel` runs DP3).
Writes ``<outdir>/<ms>.peeled.ms`` (with its provenance), every source's solutions
``<outdir>/<ms>.peel.<source>.h5`` and ``<outdir>/<ms>.peel.json`` (what was peeled, how, and
the flux left at each source's position). Prints the peeled measurement set.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lofar_hires.cli.dysco_options import add_dysco_arguments, check_dysco_arguments, dysco_settings

log = logging.getLogger(__name__)

HELP = "subtract bright sources, brightest first, each with its own direction-dependent gains (peeling)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.peel.plan import PEEL_SOLVE_MODES, PeelSettings

    d = PeelSettings()
    parser.add_argument("msin", type=Path, metavar="MSIN", help="measurement set to peel (read only)")
    parser.add_argument("--skymodel", type=Path, required=True,
                        help="makesourcedb sky model holding the sources to peel and the other bright sources of "
                             "the field (a patch is one source)")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="directory for <ms>.peeled.ms, <ms>.peel.<source>.h5, <ms>.peel.json and logs/")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--source", action="append", default=None, metavar="NAME",
                       help="a source to peel: a patch or component of --skymodel (repeatable)")
    which.add_argument("--min-flux-jy", type=float, default=None,
                       help="peel every source of --skymodel brighter than this at the band centre (Jy)")
    parser.add_argument("--order", choices=("brightness", "given"), default="brightness",
                        help="brightness: brightest first (default); given: in the order of --source")
    parser.add_argument("--solve-mode", choices=PEEL_SOLVE_MODES, default=d.solve_mode,
                        help=f"DDECal mode of each source's solve (default {d.solve_mode}: amplitudes absorb the "
                             "beam and model errors)")
    parser.add_argument("--solint-s", type=float, default=d.solint_s,
                        help=f"solution interval (s, default {d.solint_s:g})")
    parser.add_argument("--solint-hz", type=float, default=d.solint_hz,
                        help=f"solution bandwidth (Hz, default {d.solint_hz:g})")
    parser.add_argument("--uvmin-lambda", type=float, default=d.uvmin_lambda,
                        help=f"shortest baseline of the solves (wavelengths, default {d.uvmin_lambda:g})")
    parser.add_argument("--min-snr", type=float, default=d.min_snr,
                        help=f"refuse sources whose estimated signal to noise per station and solution is lower "
                             f"(default {d.min_snr:g}: about 0.2 rad of phase noise)")
    parser.add_argument("--max-contaminators", type=int, default=d.max_contaminators,
                        help="at most this many other sources modelled in each solve (default "
                             f"{d.max_contaminators}; 0: the source alone)")
    parser.add_argument("--contaminator-fraction", type=float, default=d.contaminator_fraction,
                        help="model the sources left in the data that have at least this fraction of the peeled "
                             f"source's flux (default {d.contaminator_fraction:g})")
    parser.add_argument("--max-smearing-loss", type=float, default=d.max_smearing_loss,
                        help="largest smearing loss of the modelled contaminators in the averaged data of a solve "
                             f"(default {d.max_smearing_loss:g})")
    parser.add_argument("--no-beam", dest="beam", action="store_false",
                        help="predict without the station beam (data without it, e.g. simulations)")
    parser.add_argument("--data-column", default=d.data_column, help="column of MSIN to peel (default DATA)")
    parser.add_argument("--threads", type=int, default=d.threads, help=f"DP3 threads (default {d.threads})")
    add_dysco_arguments(parser, what="the peeled measurement set")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.cli.subtract import _check_outdir
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import check_output_path
    from lofar_hires.io.ms import read_ms_info, require_ms
    from lofar_hires.io.skymodel import read_makesourcedb, require_skymodel
    from lofar_hires.peel.measure import sample_noise_jy
    from lofar_hires.peel.plan import PeelSettings, peel_order, plan_peel
    from lofar_hires.peel.run import peeled_output, run_peel, solutions_output, write_summary
    from lofar_hires.subtract.run import ms_stem

    settings = PeelSettings(solve_mode=args.solve_mode, solint_s=args.solint_s, solint_hz=args.solint_hz,
                            uvmin_lambda=args.uvmin_lambda, min_snr=args.min_snr,
                            max_contaminators=args.max_contaminators,
                            contaminator_fraction=args.contaminator_fraction,
                            max_smearing_loss=args.max_smearing_loss, beam=args.beam, data_column=args.data_column,
                            threads=args.threads)
    check_dysco_arguments(args)
    if args.order == "given" and not args.source:
        raise InputError("--order given needs the sources named with --source", setting="order")
    if args.outdir.resolve() == args.msin.resolve() or args.msin.resolve() in args.outdir.resolve().parents:
        raise InputError(f"output directory {args.outdir} lies inside the input measurement set", setting="outdir")
    _check_outdir(args.outdir)
    require_ms(args.msin, (args.data_column,))
    dysco = dysco_settings(args, args.msin, data_column=args.data_column, threads=args.threads)
    info = read_ms_info(args.msin)
    model = read_makesourcedb(require_skymodel(args.skymodel))
    sources = peel_order(model, float(info.freqs_hz.mean()), min_flux_jy=args.min_flux_jy,
                         names=args.source or (), given_order=args.order == "given")
    noise = sample_noise_jy(args.msin, column=args.data_column)
    steps = plan_peel(model, info, sources, settings, noise)
    for path in (peeled_output(args.outdir, args.msin), *(solutions_output(args.outdir, args.msin, s) for s in steps)):
        check_output_path(path, args.overwrite)
    log.info("%s: peeling %d source(s) (noise %.3g Jy per visibility): %s", args.msin, len(steps), noise,
             ", ".join(f"{s.source.name} ({s.source.flux_jy:.3g} Jy)" for s in steps))
    prov = new_provenance("peel", command_parameters(args), [args.msin, args.skymodel], settings)
    result = run_peel(args.msin, model, steps, args.outdir, settings, prov, overwrite=args.overwrite, dysco=dysco)
    summary = write_summary(args.outdir / f"{ms_stem(args.msin)}.peel.json", steps, result, settings, noise)
    for step in steps:
        name = step.source.name
        log.info("%s: %.3g Jy at its position before, %.3g Jy after (%.2f %% of its flux)", name,
                 result.before_jy[name], result.after_jy[name], 100 * abs(result.after_jy[name]) / step.source.flux_jy)
    log.info("peeled %s into %s, summary %s", args.msin, result.output, summary)
    print(result.output)
    return 0
