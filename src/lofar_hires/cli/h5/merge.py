"""``lofar-hires h5 merge``: merge h5parms into one phase000 + amplitude000 solution."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "merge h5parms (applied in the given order) into one phase000+amplitude000 h5parm"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("h5parms", nargs="+", metavar="IN",
                        help="input h5parms in the order they are applied: FILE, FILE:SOLSET or "
                             "FILE:SOLSET/SOLTAB,SOLTAB, each optionally followed by @DIR,DIR: a single-direction "
                             "input that applies only to those output directions (identity for the others)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output h5parm")
    parser.add_argument("--interpolation", choices=["nearest", "linear"], default="nearest",
                        help="how inputs are put on the common grid (default nearest)")
    parser.add_argument("--time-grid", default="finest",
                        help="finest (default), first, or an h5parm / measurement set whose times to use")
    parser.add_argument("--freq-grid", default="finest",
                        help="finest (default), first, or an h5parm / measurement set whose frequencies to use")
    parser.add_argument("--output-kind", choices=["auto", "scalar", "diagonal", "full"], default="auto",
                        help="polarisation structure of the output (default: what the inputs need)")
    parser.add_argument("--solset", default="sol000", help="name of the output solset (default sol000)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.solutions.merge import MergeInput, MergeOptions, merge_h5parms

    options = MergeOptions(interpolation=args.interpolation, time_grid=args.time_grid, freq_grid=args.freq_grid,
                           output_kind=args.output_kind, solset=args.solset)
    summary = merge_h5parms([MergeInput.parse(s) for s in args.h5parms], args.output, options,
                            overwrite=args.overwrite)
    axes = ", ".join(f"{k} {n}" for k, n in summary.axes.items())
    print(f"{summary.output}: {summary.kind} solutions ({axes}), {100 * summary.flagged_fraction:.2f}% flagged")
    return 0
