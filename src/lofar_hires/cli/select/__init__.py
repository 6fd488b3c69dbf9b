"""``lofar-hires select <op>``: calibrator selection, one stage at a time (de Jong et al. 2025, section 6.3).

``candidates`` makes the candidate table (from a sky model, a source table or a
PyBDSF run on an image), ``score`` computes the phasediff score of candidates on
a DI-calibrated MS, ``classify`` gathers scores into the classified table (main,
weak, rejected, pruned neighbours, manual edits) with the solution-interval
metric, ``skymodel`` writes the calibrators of the Dutch direction-dependent solve
(the main calibrators, or the catalogue sources above 85 mJy/beam) as a starting sky model
with one patch per calibrator. ``lofar-hires facets`` then cuts the field around the main
calibrators.
Each op lives in ``lofar_hires.cli.select.<op>``.
"""

from __future__ import annotations

import argparse

HELP = "calibrator selection: candidates, score (phasediff), classify, skymodel (Dutch DD calibrators)"

#: Op name -> module implementing it.
COMMANDS: dict[str, str] = {
    "candidates": "lofar_hires.cli.select.candidates",
    "score": "lofar_hires.cli.select.score",
    "classify": "lofar_hires.cli.select.classify",
    "skymodel": "lofar_hires.cli.select.skymodel",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli import add_command_group

    add_command_group(parser, COMMANDS, "select_command", "OP")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import run_command_group

    return run_command_group(args)
