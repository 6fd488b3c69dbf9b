"""``lofar-hires compare-sky``: recovered fluxes and positions of a sky model in an image."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
from pathlib import Path

HELP = "measure the sources of a sky model in an image (flux ratio, position offset)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="FITS image (e.g. WSClean <name>-image.fits)")
    parser.add_argument("skymodel", type=Path, help="makesourcedb sky model (the truth)")
    parser.add_argument("--min-flux-jy", type=float, default=0.1,
                        help="only components brighter than this at the image frequency")
    parser.add_argument("--include-extended", action="store_true",
                        help="also measure Gaussian components (peak != flux)")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the table here (.json or .csv; written atomically); default: print JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.imaging.compare import compare_with_skymodel, comparison_table
    from lofar_hires.io.atomic import atomic_output, check_output_path
    from lofar_hires.provenance import sha256_file

    if not math.isfinite(args.min_flux_jy):
        from lofar_hires.errors import InputError

        raise InputError(f"--min-flux-jy must be a finite number, got {args.min_flux_jy}")
    if args.output is not None:
        for path in (args.image, args.skymodel):
            if args.output.resolve() == Path(path).resolve():
                from lofar_hires.errors import InputError

                raise InputError(f"--output {args.output} is an input; write the table to a new path")
        check_output_path(args.output, args.overwrite)
    rows, rms = compare_with_skymodel(args.image, args.skymodel, args.min_flux_jy,
                                      compact_only=not args.include_extended)
    table = comparison_table(rows)
    for r in rows:
        integrated = "n/a" if r.integrated_ratio is None else f"x{r.integrated_ratio:.3f}"
        log.info("%-12s true %.4f Jy  peak %.4f Jy/beam (x%.3f)  integrated %s  offset %.2f arcsec",
                 r.name, r.true_flux_jy, r.peak_jy_per_beam, r.peak_ratio, integrated, r.offset_arcsec)
    log.info("image rms %.3g Jy/beam; %d source(s) measured", rms, len(rows))
    result = {"image": args.image.name, "image_sha256": sha256_file(args.image),
              "skymodel": args.skymodel.name, "skymodel_sha256": sha256_file(args.skymodel),
              "rms_jy_per_beam": rms, "sources": table}
    if args.output is None:
        print(json.dumps(result, indent=2))
        return 0
    with atomic_output(args.output, args.overwrite) as tmp:
        if args.output.suffix == ".csv":
            with tmp.open("w", newline="") as fh:
                fields = list(table[0]) if table else ["name"]
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(table)
        else:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
    return 0
