"""``lofar-hires h5 info``: what an h5parm holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "describe an h5parm: solsets, soltabs, axes and their ranges, value ranges, flags, basis"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("h5parm", type=Path, help="h5parm to describe (read only)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.solutions.info import describe_h5parm, format_info

    description = describe_h5parm(args.h5parm)
    print(json.dumps(description, indent=2) if args.json else format_info(description))
    return 0
