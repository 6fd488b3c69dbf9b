"""``lofar-hires mosaic``: facet images reprojected onto one wide-field grid, each pixel from its own facet.

Library: :mod:`lofar_hires.mosaic` (:func:`~lofar_hires.mosaic.run.plan_mosaic` checks everything
before a pixel is combined, :func:`~lofar_hires.mosaic.run.make_mosaic` combines and measures the
noise map). With ``--restored-models`` the images are the facets' residual images and every facet's
restored-model image is added across the facet boundaries. Writes the mosaic (``-o``), its noise map
(``--noise-map``, default ``<mosaic>-rms.fits``), a summary ``<mosaic>.json`` and the provenance
``<mosaic>.fits.provenance.json``. Prints the mosaic's path.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "combine facet images into one wide-field mosaic (each pixel from its facet, or beam-weighted) with a noise map"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.mosaic.run import MODES, MosaicSettings

    d = MosaicSettings()
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="facet images (WSClean FITS, one plane each, one per facet; primary-beam corrected for "
                             "--mode beam-weighted; the facets' residual images with --restored-models)")
    parser.add_argument("--facet-regions", type=Path, required=True,
                        help="ds9 region file of the facets (lofar-hires facets): each image belongs to the polygon "
                             "holding its centre")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the mosaic (FITS)")
    parser.add_argument("--noise-map", type=Path, default=None,
                        help="the mosaic's noise map (FITS; default <mosaic>-rms.fits next to the mosaic)")
    parser.add_argument("--mode", choices=MODES, default=d.mode,
                        help="polygon: each pixel from the image of the facet holding it (default); beam-weighted: "
                             "the images covering a pixel averaged with weights beam^2/noise^2 (needs "
                             "--beam-images)")
    parser.add_argument("--beam-images", nargs="+", type=Path, default=None, metavar="BEAM",
                        help="primary-beam images of the facet images, in the same order and on the same grids "
                             "(beam-weighted mode)")
    parser.add_argument("--restored-models", nargs="+", type=Path, default=None, metavar="MODEL",
                        help="polygon mode: the facets' restored-model images (image - residual: CLEAN components "
                             "convolved with the restoring beam), in the order and on the grids of the images, "
                             "which are then the residual images; the mosaic is the polygon mosaic of the "
                             "residuals plus every model added across the facet boundaries (for facet datasets "
                             "that hold only their own sources), and the noise map is measured on the residuals")
    parser.add_argument("--min-beam", type=float, default=d.min_beam,
                        help="beam-weighted mode: leave out pixels where the beam is below this fraction of its "
                             f"peak (default {d.min_beam:g})")
    parser.add_argument("--pixel-scale-arcsec", type=float, default=None,
                        help="pixel scale of the mosaic (arcsec; default: the finest of the images)")
    parser.add_argument("--centre-deg", type=float, nargs=2, default=None, metavar=("RA", "DEC"),
                        help="centre of the mosaic's SIN projection (deg; default: the mean of the facet centres)")
    parser.add_argument("--noise-box-beams", type=float, default=d.noise_box_beams,
                        help="side of the noise map's boxes, in restoring beams (default "
                             f"{d.noise_box_beams:g})")
    parser.add_argument("--allow-beam-mismatch", action="store_true",
                        help="accept images whose restoring beams differ by more than 5 %% (the header carries the "
                             "largest)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def output_paths(output: Path, noise_map: Path | None) -> tuple[Path, Path, Path, Path]:
    """The mosaic, its noise map, the summary and the provenance record."""
    stem = output.name[:-5] if output.name.lower().endswith(".fits") else output.name
    noise = noise_map if noise_map is not None else output.with_name(f"{stem}-rms.fits")
    return output, noise, output.with_name(f"{stem}.json"), output.with_name(f"{output.name}.provenance.json")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.mosaic.run import (
        MosaicSettings,
        check_outputs,
        make_mosaic,
        plan_mosaic,
        write_mosaic,
    )

    settings = MosaicSettings(mode=args.mode, pixel_scale_arcsec=args.pixel_scale_arcsec,
                              centre_deg=None if args.centre_deg is None else tuple(args.centre_deg),
                              min_beam=args.min_beam, noise_box_beams=args.noise_box_beams,
                              allow_beam_mismatch=args.allow_beam_mismatch)
    output, noise, summary, record = output_paths(args.output, args.noise_map)
    inputs = [*args.images, args.facet_regions, *(args.beam_images or []), *(args.restored_models or [])]
    check_outputs([output, noise, summary, record], inputs, args.overwrite)
    plan = plan_mosaic(args.images, args.facet_regions, settings, args.beam_images, args.restored_models)
    prov = new_provenance("mosaic", command_parameters(args), inputs, settings)
    result = make_mosaic(plan, settings)
    write_mosaic(result, plan, settings, output, noise, summary, args.overwrite)
    prov.write(record)
    log.info("wrote %s, its noise map %s and summary %s", output, noise, summary)
    print(output)
    return 0
