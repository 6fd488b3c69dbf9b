"""``lofar-hires compare-sky``: recovered fluxes and positions of a sky model in an image."""

from __future__ import annotations

import argparse
import csv
import json
import logging
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
                        help="write the table here (.json or .csv); default: print JSON")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.imaging.compare import compare_with_skymodel, comparison_table
    from lofar_hires.provenance import sha256_file

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
    elif args.output.suffix == ".csv":
        with args.output.open("w", newline="") as fh:
            fields = list(table[0]) if table else ["name"]
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(table)
    else:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0
