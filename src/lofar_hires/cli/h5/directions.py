"""``lofar-hires h5 directions``: list, select, rename or add directions of an h5parm."""

from __future__ import annotations

import argparse
import json

from lofar_hires.cli.h5.common import (
    add_input_arguments,
    add_output_arguments,
    split_list,
    write_solset,
)
from lofar_hires.errors import InputError
from lofar_hires.solutions.products import check_solset_output, read_solset

HELP = "list, select, rename or add directions (source table and every soltab's dir axis together)"

ACTIONS = ("list", "select", "rename", "add")
#: Options that only one action uses.
ACTION_OPTIONS = {"select": ("names",), "rename": ("map",), "add": ("name", "ra_deg", "dec_deg", "copy_from")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("action", choices=ACTIONS,
                        help="list: print the directions; select: keep --names; rename: apply --map; "
                             "add: append --name at --ra-deg/--dec-deg with solutions from --copy-from")
    parser.add_argument("--names", default=None, help="select: comma-separated directions to keep")
    parser.add_argument("--map", action="append", default=None, metavar="OLD=NEW",
                        help="rename: rename direction OLD to NEW (repeatable)")
    parser.add_argument("--name", default=None, help="add: name of the new direction")
    parser.add_argument("--ra-deg", default=None,
                        help="add: right ascension in degrees, or sexagesimal (16h11m00s, 16:11:00)")
    parser.add_argument("--dec-deg", default=None,
                        help="add: declination in degrees, or sexagesimal (+55d00m00s, 55:00:00); "
                             "write negative sexagesimal values as --dec-deg=-30:00:00")
    parser.add_argument("--copy-from", default=None,
                        help="add: solutions of this direction, 'nearest' (default) or 'identity' "
                             "(phase 0, amplitude 1)")
    parser.add_argument("--json", action="store_true", help="list: print JSON instead of text")
    add_output_arguments(parser, required=False)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options of another action, missing options of this one, and a misplaced --output."""
    for action, options in ACTION_OPTIONS.items():
        for opt in options:
            if action != args.action and getattr(args, opt) is not None:
                raise InputError(f"{_flag(opt)} is only used by 'directions {action}'")
    required = [o for o in ACTION_OPTIONS.get(args.action, ()) if o != "copy_from"]
    missing = [_flag(o) for o in required if getattr(args, o) is None]
    if missing:
        raise InputError(f"directions {args.action} needs {', '.join(missing)}")
    if args.action == "list":
        if args.output is not None:
            raise InputError("directions list writes nothing; leave out --output")
    else:
        if args.json:
            raise InputError("--json is only used by 'directions list'")
        if args.output is None:
            raise InputError(f"directions {args.action} needs --output (a new h5parm)")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.io.skymodel import parse_dec, parse_ra
    from lofar_hires.solutions import directions as d

    _check_options(args)
    if args.action == "list":
        solset = read_solset(args.h5parm, args.solset, values_required=False)
        items = d.list_directions(solset)
        if args.json:
            print(json.dumps([vars(i) for i in items], indent=2))
        else:
            for i in items:
                print(f"{i.name}\t{i.ra_deg:.6f}\t{i.dec_deg:.6f}")
        return 0
    check_solset_output(args.output, args.overwrite, [args.h5parm])
    solset = read_solset(args.h5parm, args.solset)
    if args.action == "select":
        result = d.select_directions(solset, split_list(args.names) or [])
    elif args.action == "rename":
        result = d.rename_directions(solset, d.parse_rename_map(args.map))
    else:
        result = d.add_direction(solset, args.name, parse_ra(args.ra_deg), parse_dec(args.dec_deg),
                                 args.copy_from or d.COPY_NEAREST)
    write_solset(result, args, [args.h5parm])
    return 0
