"""``lofar-hires facets``: the Voronoi facet layout of the main calibrators (SPEC section 3).

Reads the classified calibrator table; its ``main`` rows define one facet each
(the Voronoi cell of the calibrator on the sphere, clipped to the field), its
``weak`` rows are drawn and listed in the facet that holds them. Writes a new
directory (atomically) with ``facets.reg`` (ds9 polygons with the calibrator as
each facet's ``point``, for WSClean ``-facet-regions`` and DP3), ``facets.csv``
and ``facets.json`` (one record per facet: centre, size, source count, averaging
suggestion), ``facets.png`` and ``provenance.json``. Prints the directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lofar_hires.io.ms import MsInfo
    from lofar_hires.selection.facets import FacetLayout
    from lofar_hires.selection.smearing import DataResolution
    from lofar_hires.selection.table import CalibratorRow

HELP = "Voronoi facets of the main calibrators: ds9 region file, facet table, plot"

log = logging.getLogger(__name__)

#: Products in the output directory.
PRODUCTS = ("facets.reg", "facets.csv", "facets.json", "facets.png", "provenance.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", type=Path,
                        help="calibrator table (CSV of lofar-hires select): rows of category main define the "
                             "facets, rows of category weak are drawn and assigned to facets")
    parser.add_argument("-o", "--outdir", type=Path, required=True,
                        help="new directory for facets.reg, facets.csv, facets.json, facets.png and "
                             "provenance.json (written atomically)")
    centre = parser.add_mutually_exclusive_group(required=True)
    centre.add_argument("--ms", type=Path, default=None,
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


# --------------------------------------------------------------------------- settings


def _positive(value: float | None, option: str) -> None:
    from lofar_hires.errors import InputError

    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{option} must be a positive number, got {value}")


def field_centre(args: argparse.Namespace, ms_info: MsInfo | None) -> tuple[float, float]:
    """The field centre (deg): the MS's phase centre or ``--centre-deg``."""
    from lofar_hires.errors import InputError

    if ms_info is not None:
        return math.degrees(ms_info.phase_centre_rad[0]) % 360.0, math.degrees(ms_info.phase_centre_rad[1])
    ra, dec = args.centre_deg
    if not (math.isfinite(ra) and math.isfinite(dec) and 0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0):
        raise InputError(f"--centre-deg {ra} {dec} is not a sky position in degrees (RA must be in [0, 360), "
                         "Dec in [-90, 90])")
    return ra, dec


def data_resolution(args: argparse.Namespace, ms_info: MsInfo | None) -> DataResolution | None:
    """The data resolution for the averaging suggestion: the MS's, with explicit options overriding it.

    Without an MS all of ``--integration-s``, ``--chan-width-hz`` and ``--freq-hz`` are needed
    (the channel count is then unknown); with none of them there is no suggestion (None).
    """
    from lofar_hires.errors import InputError
    from lofar_hires.selection.smearing import DataResolution

    explicit = {"--integration-s": args.integration_s, "--chan-width-hz": args.chan_width_hz,
                "--freq-hz": args.freq_hz}
    for option, value in explicit.items():
        _positive(value, option)
    if ms_info is None:
        given = [k for k, v in explicit.items() if v is not None]
        if not given:
            return None
        if len(given) < 3:
            missing = [k for k in explicit if k not in given]
            raise InputError(f"{', '.join(given)} given without {', '.join(missing)}; give all three "
                             f"(or --ms) for the averaging suggestion")
        return DataResolution(args.integration_s, args.chan_width_hz, args.freq_hz, None)
    return DataResolution(
        integration_s=args.integration_s if args.integration_s is not None else float(ms_info.integration_s),
        chan_width_hz=args.chan_width_hz if args.chan_width_hz is not None else abs(float(ms_info.chan_width_hz)),
        freq_min_hz=args.freq_hz if args.freq_hz is not None else float(min(ms_info.freqs_hz)),
        n_chan=len(ms_info.freqs_hz) if args.chan_width_hz is None else None)


# --------------------------------------------------------------------------- products


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back to the same number
    return str(value)


def write_facet_products(outdir: Path, layout: FacetLayout, *, main_rows: Sequence[CalibratorRow],
                         weak_rows: Sequence[CalibratorRow], settings: dict,
                         sources_outside: list[str]) -> list[Path]:
    """Write ``facets.reg``, ``facets.csv``, ``facets.json`` and ``facets.png`` into ``outdir``.

    Parameters
    ----------
    outdir
        Directory to write into (created if needed).
    layout
        The annotated facets.
    main_rows, weak_rows
        The table's main calibrators (their scores go into the table and the plot) and weak ones.
    settings
        Resolved settings, recorded in ``facets.json``.
    sources_outside
        Names of sky-model sources in no facet, recorded in ``facets.json``.

    Returns
    -------
    list of Path
        The four products.
    """
    from lofar_hires.io.regions import write_ds9_polygons
    from lofar_hires.selection.facet_plot import plot_facet_layout
    from lofar_hires.selection.facets import FACET_COLUMNS, facet_row

    outdir.mkdir(parents=True, exist_ok=True)
    scores = {r.name: r.score_rad for r in main_rows}
    facets = layout.facets
    reg = write_ds9_polygons(outdir / "facets.reg", [f.vertices_deg.tolist() for f in facets],
                             [f.name for f in facets], [(f.cal_ra_deg, f.cal_dec_deg) for f in facets])
    rows = [{**facet_row(f), "score_rad": scores.get(f.name)} for f in facets]
    columns = [*FACET_COLUMNS, "score_rad"]
    table = outdir / "facets.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row[c]) for c in columns])
    records = []
    for facet, row in zip(facets, rows):
        record = {k: v for k, v in row.items() if k not in ("weak_calibrators",) and not k.startswith(("avg_",
                                                                                                     "smearing"))}
        record["weak_calibrators"] = list(facet.weak)
        record["averaging"] = None if facet.averaging is None else asdict(facet.averaging)
        record["vertices_deg"] = facet.vertices_deg.tolist()
        records.append(record)
    document = {
        "centre_deg": [layout.centre_ra_deg, layout.centre_dec_deg],
        "clip": {"shape": layout.clip.shape, "size_deg": layout.clip.size_deg},
        "max_edge_deg": layout.max_edge_deg,
        "settings": settings,
        "dropped_calibrators": list(layout.dropped),
        "sources_outside": sources_outside,
        "facets": records,
    }
    js = outdir / "facets.json"
    js.write_text(json.dumps(document, indent=2) + "\n")
    weak_deg = [[r.ra_deg, r.dec_deg] for r in weak_rows]
    png = plot_facet_layout(layout, outdir / "facets.png", main_scores_rad=[scores.get(f.name) for f in facets],
                            weak_names=[r.name for r in weak_rows], weak_deg=weak_deg or None,
                            weak_scores_rad=[r.score_rad for r in weak_rows])
    return [reg, table, js, png]


# --------------------------------------------------------------------------- the task


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from lofar_hires.cli.dical import check_new_output
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.ms import read_ms_info, require_ms
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.provenance import Provenance
    from lofar_hires.selection.facets import ClipRegion, annotate_facets, make_facets
    from lofar_hires.selection.table import read_table, rows_in

    for value, option in ((args.max_edge_deg, "--max-edge-deg"), (args.resolution_arcsec, "--resolution-arcsec"),
                          (args.circle_deg, "--circle-deg"), (args.box_deg, "--box-deg")):
        _positive(value, option)
    if not 0.0 < args.max_smearing_loss < 1.0:
        raise InputError(f"--max-smearing-loss is a fraction in (0, 1), got {args.max_smearing_loss}")
    rows = read_table(args.table)
    main_rows, weak_rows = rows_in(rows, "main"), rows_in(rows, "weak")
    if not main_rows:
        raise InputError(f"{args.table} has no calibrator of category main; the facets need at least one "
                         f"(classify the candidates first, or set a row's category to main)")
    ms_info = read_ms_info(require_ms(args.ms)) if args.ms is not None else None
    centre = field_centre(args, ms_info)
    clip = ClipRegion("circle", args.circle_deg) if args.circle_deg is not None else ClipRegion("box", args.box_deg)
    data = data_resolution(args, ms_info)
    model = read_makesourcedb(args.sources) if args.sources is not None else None
    inputs = [p for p in (args.table, args.ms, args.sources) if p is not None]
    check_new_output(args.outdir, args.overwrite, inputs)

    layout = make_facets([r.name for r in main_rows], [r.ra_deg for r in main_rows], [r.dec_deg for r in main_rows],
                         centre, clip, args.max_edge_deg)

    settings = {"centre_deg": list(centre), "clip": clip.describe(), "max_edge_deg": args.max_edge_deg,
                "resolution_arcsec": args.resolution_arcsec, "max_smearing_loss": args.max_smearing_loss,
                "data": None if data is None else asdict(data)}
    log.info("field centre RA %.6f, Dec %.6f deg (%s); clip: %s; edges <= %g deg", centre[0], centre[1],
             "phase centre of --ms" if ms_info is not None else "--centre-deg", clip.describe(), args.max_edge_deg)
    log.info("%d main and %d weak calibrator(s) in %s", len(main_rows), len(weak_rows), args.table)
    if data is None:
        log.info("no data resolution (--ms, or --integration-s, --chan-width-hz and --freq-hz): "
                 "no averaging suggestion")
    else:
        log.info("averaging suggestion for %.3g arcsec, loss <= %.3g: data %.4g s, %.6g Hz channels (%s), "
                 "lowest frequency %.6g Hz", args.resolution_arcsec, args.max_smearing_loss, data.integration_s,
                 data.chan_width_hz, f"{data.n_chan} channels" if data.n_chan else "channel count unknown",
                 data.freq_min_hz)
    prov = Provenance(task="facets", parameters=json.loads(json.dumps(
        {**{k: v for k, v in vars(args).items() if not k.startswith("_")}, "settings": settings}, default=str)))
    for path in inputs:
        prov.add_input(path)
    sources_deg = (np.degrees(np.stack([model.ra_rad, model.dec_rad], axis=1)) if model is not None else None)
    layout, source_index = annotate_facets(
        layout, sources_deg=sources_deg, weak_names=[r.name for r in weak_rows],
        weak_deg=np.array([[r.ra_deg, r.dec_deg] for r in weak_rows]).reshape(-1, 2), data=data,
        resolution_arcsec=args.resolution_arcsec, max_loss=args.max_smearing_loss)
    sources_outside: list[str] = []
    if model is not None:
        sources_outside = [n for n, i in zip(model.names, source_index) if i < 0]
        if sources_outside:
            shown = ", ".join(sources_outside[:10]) + (" ..." if len(sources_outside) > 10 else "")
            log.warning("%d of %d source(s) of %s lie in no facet (outside the clip region): %s",
                        len(sources_outside), len(model), args.sources, shown)
    weak_in = {w for f in layout.facets for w in f.weak}
    weak_out = [r.name for r in weak_rows if r.name not in weak_in]
    if weak_out:
        log.warning("weak calibrator(s) in no facet (outside the clip region): %s", ", ".join(weak_out))
    for f in layout.facets:
        avg = f.averaging
        log.info("facet %s: centre RA %.5f, Dec %.5f deg; radius %.3f deg; %.3f x %.3f deg; area %.4f deg2%s%s%s",
                 f.name, f.centre_ra_deg, f.centre_dec_deg, f.radius_deg, f.width_deg, f.height_deg, f.area_deg2,
                 "" if f.n_sources is None else f"; {f.n_sources} source(s)",
                 f"; weak: {', '.join(f.weak)}" if f.weak else "",
                 "" if avg is None else (f"; average x{avg.time_factor} in time ({avg.time_s:.4g} s), "
                                         f"x{avg.chan_factor} in frequency ({avg.chan_width_hz:.6g} Hz), "
                                         f"peak kept {avg.reduction:.3f}"))
        if avg is not None and not avg.meets_target:
            log.warning("facet %s: even unaveraged data lose %.1f %% at its farthest vertex (%.3f deg) at "
                        "%.3g arcsec", f.name, 100 * (1 - avg.reduction), f.radius_deg, args.resolution_arcsec)

    with atomic_output(args.outdir, args.overwrite) as tmp:
        write_facet_products(tmp, layout, main_rows=main_rows, weak_rows=weak_rows, settings=settings,
                             sources_outside=sources_outside)
        prov.write(tmp / "provenance.json")
    log.info("wrote %d facet(s) to %s", len(layout.facets), args.outdir)
    print(args.outdir)
    return 0
