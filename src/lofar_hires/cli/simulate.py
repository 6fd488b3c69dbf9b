"""``lofar-hires simulate``: simulate LOFAR observations with known corruptions."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lofar_hires.config_schema import describe, to_mapping
from lofar_hires.simulation.config import SimulationConfig, load_simulation_config, preset_names

HELP = "simulate LOFAR observations (MS + ground truth) of a field and a calibrator"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="small", choices=preset_names(),
                        help="starting configuration (default small)")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML file with settings that override the preset")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. observation.n_chan=32 (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (overrides the configuration)")
    parser.add_argument("--outdir", type=Path, default=Path("simulation"),
                        help="output directory (default ./simulation)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument("--list-options", action="store_true",
                        help="print every setting with its default, unit and help, then exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate the configuration and print it as YAML, then exit")


def run(args: argparse.Namespace) -> int:
    if args.list_options:
        for key, default, unit, text in describe(SimulationConfig):
            unit_text = f" [{unit}]" if unit else ""
            print(f"{key} = {default!r}{unit_text}\n    {text}")
        return 0
    config = load_simulation_config(args.preset, args.config, args.overrides, args.seed)
    if args.dry_run:
        import yaml

        print(yaml.safe_dump(to_mapping(config), sort_keys=False), end="")
        return 0
    from lofar_hires.simulation.simulate import run_simulation

    result = run_simulation(config, args.outdir, overwrite=args.overwrite)
    print(f"simulation written to {result.outdir}")
    print(f"  sky model (truth): {result.sky_model}")
    if result.calibrator_model is not None:
        print(f"  calibrator model:  {result.calibrator_model}")
    for obs in result.observations:
        print(f"  {obs.kind:10s} {obs.ms}")
        print(f"  {'':10s} {obs.truth_h5}")
        print(f"  {'':10s} {obs.truth_json}")
    return 0
