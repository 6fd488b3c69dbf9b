"""``lofar-hires classifier <command>``: make the training images, train and evaluate the
self-calibration image classifier, and import public backbone weights (docs/classifier.md).

Each command lives in its own module with ``HELP``, ``add_arguments(parser)`` and ``run(args)``;
the work is done by :mod:`lofar_hires.classifier`.
"""

from __future__ import annotations

import argparse

HELP = "self-calibration image classifier: dataset, train, evaluate, import-backbone"

#: Command name -> module implementing it.
COMMANDS: dict[str, str] = {
    "dataset": "lofar_hires.cli.classifier.dataset",
    "train": "lofar_hires.cli.classifier.train",
    "evaluate": "lofar_hires.cli.classifier.evaluate",
    "import-backbone": "lofar_hires.cli.classifier.import_backbone",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli import add_command_group

    add_command_group(parser, COMMANDS, "classifier_command", "COMMAND")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import run_command_group

    return run_command_group(args)
