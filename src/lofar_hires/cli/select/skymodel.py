"""``lofar-hires select skymodel``: the calibrators of the Dutch direction-dependent solve as a sky model.

The Dutch stations are calibrated on the calibrators above 85 mJy/beam in the 6 arcsec catalogue
(de Jong et al. 2025, section 6.4.1).

Reads a selection table (``lofar-hires select classify``: its main calibrators) or a plain
catalogue (CSV with ``name``, ``ra_deg``, ``dec_deg`` and ``peak_flux_jy``: every source at or
above ``skymodel.min_peak_flux_jy``, 85 mJy/beam) and writes one point source per calibrator, each
in its own patch, as a makesourcedb sky model (atomically) with its provenance
(``<stem>.provenance.json``).
Library: :func:`lofar_hires.selection.calibrator_model.write_calibrator_skymodel`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "starting sky model of the Dutch DD solve: one patch per calibrator (main, or peak >= 85 mJy/beam)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", type=Path,
                        help="selection table (lofar-hires select classify; its main calibrators) or a catalogue "
                             "CSV with name, ra_deg, dec_deg and peak_flux_jy (its sources at or above "
                             "skymodel.min_peak_flux_jy)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="sky model, makesourcedb text (provenance in <stem>.provenance.json)")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML overriding configs/select_calibrators.yaml (the skymodel section is used)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. skymodel.min_peak_flux_jy=0.1 (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.selection.calibrator_model import write_calibrator_skymodel
    from lofar_hires.selection.config import load_selection_config

    config = load_selection_config(args.config, args.overrides)
    write_calibrator_skymodel(args.table, args.output, config.skymodel, overwrite=args.overwrite,
                              parameters=command_parameters(args))
    print(args.output)
    return 0
