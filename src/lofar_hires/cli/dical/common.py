"""Options shared by the ``lofar-hires dical`` ops, and their translation into library calls."""

from __future__ import annotations

import argparse
from pathlib import Path

from lofar_hires.calibration.step_products import new_provenance
from lofar_hires.provenance import Provenance


def add_msin_argument(parser: argparse.ArgumentParser, help_text: str, nargs: str | None = None) -> None:
    """The input measurement set(s), positional ``MSIN`` (dest ``msin``)."""
    parser.add_argument("msin", type=Path, nargs=nargs, metavar="MSIN", help=help_text)


def add_config_arguments(parser: argparse.ArgumentParser, pipeline: str) -> None:
    """``--config`` and ``--set`` of the calibrator or target settings (``pipeline``)."""
    shipped = {"calibrator": "configs/di_calibrator.yaml", "target": "configs/di_target.yaml"}[pipeline]
    parser.add_argument("--config", type=Path, default=None, help=f"YAML overriding {shipped}")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. threads=4 (repeatable)")


def add_output_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``-o/--output`` (required) and ``--overwrite``."""
    parser.add_argument("-o", "--output", type=Path, required=True, help=f"output {what} (written atomically)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def add_ms_output_argument(parser: argparse.ArgumentParser) -> None:
    """``--output-ms`` (required): the measurement set of an op whose main product is an h5parm."""
    parser.add_argument("--output-ms", type=Path, required=True,
                        help="output measurement set: a copy of MSIN with the op's columns (written atomically; "
                             "replaced only with --overwrite)")


def add_logdir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logdir", type=Path, default=None,
                        help="directory for DP3's parsets and logs (default: logs/ next to the product)")


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=2, help="DP3 threads (default 2)")


def check_threads(threads: int) -> None:
    if threads < 1:
        from lofar_hires.errors import InputError

        raise InputError(f"--threads must be at least 1, got {threads}")


def calibrator_config(args: argparse.Namespace):
    """The calibrator settings: shipped defaults, ``--config``, then ``--set``."""
    from lofar_hires.calibration.config import load_calibrator_config

    return load_calibrator_config(args.config, args.overrides)


def target_config(args: argparse.Namespace):
    """The target settings: shipped defaults, ``--config``, then ``--set``."""
    from lofar_hires.calibration.config import load_target_config

    return load_target_config(args.config, args.overrides)


def provenance(args: argparse.Namespace, inputs: list[Path], settings: object | None = None) -> Provenance:
    """The provenance record of this op (``dical <op>``), its arguments, ``settings`` and ``inputs``."""
    from lofar_hires.cli import command_parameters

    return new_provenance(f"dical {args.dical_command}", command_parameters(args), inputs, settings)
