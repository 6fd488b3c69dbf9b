"""``lofar-hires run``: the whole chain, from the observations (or a simulated field) to the mosaic.

Library: :mod:`lofar_hires.chain` (:func:`~lofar_hires.chain.run.run_chain`). Without a configuration it runs
the embedded default, ``configs/run/medium.yaml``: a simulated field with all six international stations taken
through every module to a 0.3 arcsec mosaic (``tiny``: a quicker field imaged at 10 arcsec).
Each module's workflow runs with the runner of the cluster profile (``local``: cwltool; ``toil``: Toil on this machine;
``slurm``: Toil submitting SLURM jobs); the products go into a fixed tree (``solutions/``, ``images/``,
``plots/``, ``facets/``, ``selfcal/``, ``logs/``, ``report/``) with the manifest ``run.json``. Running the same
command again continues after the last complete module.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "run the whole chain (or --from/--to part of it) on observations or a simulated field, locally or on SLURM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.chain.modules import MODULE_NAMES

    parser.add_argument("config", nargs="?", type=Path, default=None, metavar="CONFIG",
                        help="run configuration (YAML), or the name of a shipped one (configs/run/; default: medium, "
                             "a simulated field taken to a 0.3 arcsec mosaic; tiny: a quicker one at 10 arcsec)")
    parser.add_argument("-o", "--outdir", type=Path, default=Path("lofar_hires_run"),
                        help="run folder (default ./lofar_hires_run); a second run of the same configuration in "
                             "it continues after the last complete module")
    parser.add_argument("--cluster", default=None, metavar="PROFILE",
                        help="cluster profile: local (cwltool), podman (cwltool, the steps in the lofar-hires "
                             "image), toil (Toil on this machine), slurm (Toil on SLURM), or a YAML file (default: "
                             "the configuration's, else local)")
    parser.add_argument("--from", dest="first", choices=MODULE_NAMES, default=None, metavar="MODULE",
                        help=f"start at this module, on the products of the earlier ones in the run folder "
                             f"({', '.join(MODULE_NAMES)})")
    parser.add_argument("--to", dest="last", choices=MODULE_NAMES, default=None, metavar="MODULE",
                        help="stop after this module")
    parser.add_argument("--rerun", action="store_true",
                        help="run the selected modules again even when their products are complete")
    parser.add_argument("--list-modules", action="store_true", help="list the chain's modules and exit")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.chain.config import load_run_config, resolve_config_path
    from lofar_hires.chain.modules import MODULES, SIMULATE
    from lofar_hires.chain.profiles import load_profile
    from lofar_hires.chain.run import product_locations, run_chain

    if args.list_modules:
        print(f"{SIMULATE:20s} workflows/simulate.cwl  (the embedded default's simulated observations)")
        for m in MODULES:
            print(f"{m.name:20s} {m.workflow}  {m.summary}")
        return 0
    config = load_run_config(resolve_config_path(args.config))
    profile = load_profile(args.cluster or config.cluster)
    log.info("run of %s with the %s profile (%s) in %s", config.path, args.cluster or config.cluster, profile.label,
             args.outdir)
    manifest = run_chain(config, profile, args.outdir.absolute(), args.first, args.last, rerun=args.rerun)
    for rec in manifest.modules:
        print(f"{rec.name:20s} {rec.status:8s} {rec.wall_s:9.1f} s {rec.core_s or 0.0:9.1f} core-s"
              + (f"  {rec.message}" if rec.message else ""))
    for folder, path in product_locations(args.outdir.absolute()).items():
        print(f"{folder + '/':12s} {path}")
    print(f"manifest     {args.outdir.absolute() / 'run.json'}")
    return 0
