"""``lofar-hires facets``: the Voronoi facet layout of the main calibrators (de Jong et al. 2025, section 6.3).

Library: :func:`lofar_hires.selection.facet_products.make_facet_products` (the products
written are described there). Prints the output directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Voronoi facets of the main calibrators: ds9 region file, facet table, plot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", type=Path,
                        help="calibrator table (CSV of lofar-hires select): rows of category main define the "
                             "facets, rows of category weak are drawn and assigned to facets")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="new directory for facets.reg, facets.csv, facets.json, facets.png and "
                             "provenance.json (written atomically)")
    centre = parser.add_mutually_exclusive_group(required=True)
    centre.add_argument("--msin", type=Path, default=None, metavar="MSIN",
                        help="measurement set: its phase centre is the field centre, and its integration time, "
                             "channel width, lowest frequency and channel count set the averaging suggestion")
    centre.add_argument("--centre-deg", type=float, nargs=2, metavar=("RA", "DEC"), default=None,
                        help="field centre (the phase centre of the image the facets tile), degrees")
    clip = parser.add_mutually_exclusive_group()
    clip.add_argument("--box-deg", type=float, default=2.5,
                      help="clip to a square image of this width about the centre, as WSClean's -size x -scale "
                           "(deg, default 2.5)")
    clip.add_argument("--circle-deg", type=float, default=None,
                      help="clip to a circle of this radius about the centre instead (deg)")
    parser.add_argument("--max-edge-deg", type=float, default=0.05,
                        help="largest distance between neighbouring polygon vertices, along the great-circle "
                             "edges (deg, default 0.05)")
    parser.add_argument("--resolution-arcsec", type=float, default=0.3,
                        help="target resolution for the averaging suggestion (arcsec, default 0.3)")
    parser.add_argument("--max-smearing-loss", type=float, default=0.05,
                        help="largest fractional peak loss by bandwidth and time smearing at a facet's farthest "
                             "vertex (default 0.05)")
    parser.add_argument("--integration-s", type=float, default=None,
                        help="integration time of the data (s); overrides the MS's")
    parser.add_argument("--chan-width-hz", type=float, default=None,
                        help="channel width of the data (Hz); overrides the MS's")
    parser.add_argument("--freq-hz", type=float, default=None,
                        help="lowest frequency of the data (Hz); overrides the MS's")
    parser.add_argument("--sources", type=Path, default=None,
                        help="makesourcedb sky model: sources are counted per facet, and those in no facet "
                             "are reported")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.cli import command_parameters
    from lofar_hires.selection.facet_products import FacetSettings, make_facet_products

    settings = FacetSettings(box_deg=args.box_deg, circle_deg=args.circle_deg, max_edge_deg=args.max_edge_deg,
                             resolution_arcsec=args.resolution_arcsec, max_smearing_loss=args.max_smearing_loss,
                             integration_s=args.integration_s, chan_width_hz=args.chan_width_hz,
                             freq_hz=args.freq_hz)
    centre = None if args.centre_deg is None else (args.centre_deg[0], args.centre_deg[1])
    make_facet_products(args.table, args.outdir, settings, msin=args.msin, centre_deg=centre, sources=args.sources,
                        overwrite=args.overwrite, parameters=command_parameters(args))
    print(args.outdir)
    return 0
