"""The facet layout of a calibrator table and its products (de Jong et al. 2025, section 6.3).

:func:`make_facet_products` reads a classified calibrator table; its ``main`` rows
define one facet each (the Voronoi cell of the calibrator on the sphere, clipped to
the field, :func:`lofar_hires.selection.facets.make_facets`), its ``weak`` rows are
drawn and listed in the facet that holds them. It writes a new directory (atomically)
with

* ``facets.reg``: ds9 polygons with the calibrator as each facet's ``point``, for
  WSClean ``-facet-regions`` and DP3;
* ``facets.csv`` and ``facets.json``: one record per facet (centre, size, source count,
  averaging suggestion of :mod:`lofar_hires.selection.smearing`);
* ``facets.png`` and ``provenance.json``.

The field centre is the phase centre of a measurement set or given in degrees; the
data resolution of the averaging suggestion comes from the measurement set, with
explicit values overriding it.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.ms import MsInfo
from lofar_hires.selection.facets import ClipRegion, FacetLayout
from lofar_hires.selection.smearing import DataResolution
from lofar_hires.selection.table import CalibratorRow

log = logging.getLogger(__name__)

#: Products in the output directory.
PRODUCTS = ("facets.reg", "facets.csv", "facets.json", "facets.png", "provenance.json")


@dataclass(frozen=True)
class FacetSettings:
    """How the facets are cut and what their averaging suggestion aims at.

    The facets are clipped to a square image ``box_deg`` wide (as WSClean's ``-size`` x
    ``-scale``) or, with ``circle_deg``, to a circle of that radius about the field centre.
    ``integration_s``, ``chan_width_hz`` and ``freq_hz`` (the lowest frequency) override the
    measurement set's data resolution; without a measurement set all three or none are given.
    """

    box_deg: float = 2.5
    circle_deg: float | None = None
    max_edge_deg: float = 0.05
    resolution_arcsec: float = 0.3
    max_smearing_loss: float = 0.05
    integration_s: float | None = None
    chan_width_hz: float | None = None
    freq_hz: float | None = None

    def __post_init__(self) -> None:
        for key in ("box_deg", "circle_deg", "max_edge_deg", "resolution_arcsec", "integration_s", "chan_width_hz",
                    "freq_hz"):
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InputError(f"{key} must be a positive number, got {value}", setting=key)
        if not 0.0 < self.max_smearing_loss < 1.0:
            raise InputError(f"max_smearing_loss is a fraction in (0, 1), got {self.max_smearing_loss}",
                             setting="max_smearing_loss")
        _ = self.clip  # the clip region checks its own limits, before any work

    @property
    def clip(self) -> ClipRegion:
        """The region the facets are clipped to."""
        if self.circle_deg is not None:
            return ClipRegion("circle", self.circle_deg)
        return ClipRegion("box", self.box_deg)

    def describe(self, centre_deg: tuple[float, float], data: DataResolution | None) -> dict[str, object]:
        """The resolved settings, as recorded in ``facets.json`` and the provenance."""
        return {"centre_deg": list(centre_deg), "clip": self.clip.describe(), "max_edge_deg": self.max_edge_deg,
                "resolution_arcsec": self.resolution_arcsec, "max_smearing_loss": self.max_smearing_loss,
                "data": None if data is None else asdict(data)}


# --------------------------------------------------------------------------- field and data


def field_centre(ms_info: MsInfo | None, centre_deg: tuple[float, float] | None) -> tuple[float, float]:
    """The field centre (deg): the phase centre of the measurement set, else ``centre_deg``."""
    if ms_info is not None:
        return math.degrees(ms_info.phase_centre_rad[0]) % 360.0, math.degrees(ms_info.phase_centre_rad[1])
    if centre_deg is None:
        raise InputError("the facets need a field centre: give a measurement set or centre_deg", setting="centre_deg")
    ra, dec = centre_deg
    if not (math.isfinite(ra) and math.isfinite(dec) and 0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0):
        raise InputError(f"centre_deg {ra} {dec} is not a sky position in degrees (RA must be in [0, 360), "
                         "Dec in [-90, 90])", setting="centre_deg")
    return float(ra), float(dec)


def data_resolution(ms_info: MsInfo | None, settings: FacetSettings) -> DataResolution | None:
    """The data resolution for the averaging suggestion: the measurement set's, with explicit settings overriding it.

    Without a measurement set all of ``integration_s``, ``chan_width_hz`` and ``freq_hz`` are needed
    (the channel count is then unknown); with none of them there is no suggestion (None).
    """
    explicit = {"integration_s": settings.integration_s, "chan_width_hz": settings.chan_width_hz,
                "freq_hz": settings.freq_hz}
    if ms_info is None:
        given = [k for k, v in explicit.items() if v is not None]
        if not given:
            return None
        if len(given) < 3:
            missing = [k for k in explicit if k not in given]
            raise InputError(f"{', '.join(given)} given without {', '.join(missing)}; give all three "
                             f"(or a measurement set) for the averaging suggestion", setting=missing[0])
        return DataResolution(settings.integration_s, settings.chan_width_hz, settings.freq_hz, None)
    return DataResolution(
        integration_s=(settings.integration_s if settings.integration_s is not None
                       else float(ms_info.integration_s)),
        chan_width_hz=(settings.chan_width_hz if settings.chan_width_hz is not None
                       else abs(float(ms_info.chan_width_hz))),
        freq_min_hz=settings.freq_hz if settings.freq_hz is not None else float(min(ms_info.freqs_hz)),
        n_chan=len(ms_info.freqs_hz) if settings.chan_width_hz is None else None)


# --------------------------------------------------------------------------- products


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back to the same number
    return str(value)


def write_facet_products(outdir: Path, layout: FacetLayout, *, main_rows: Sequence[CalibratorRow],
                         weak_rows: Sequence[CalibratorRow], settings: Mapping[str, object],
                         sources_outside: Sequence[str]) -> list[Path]:
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
        record = {k: v for k, v in row.items()
                  if k != "weak_calibrators" and not k.startswith(("avg_", "smearing"))}
        record["weak_calibrators"] = list(facet.weak)
        record["averaging"] = None if facet.averaging is None else asdict(facet.averaging)
        record["vertices_deg"] = facet.vertices_deg.tolist()
        records.append(record)
    document = {
        "centre_deg": [layout.centre_ra_deg, layout.centre_dec_deg],
        "clip": {"shape": layout.clip.shape, "size_deg": layout.clip.size_deg},
        "max_edge_deg": layout.max_edge_deg,
        "settings": dict(settings),
        "dropped_calibrators": list(layout.dropped),
        "sources_outside": list(sources_outside),
        "facets": records,
    }
    js = outdir / "facets.json"
    js.write_text(json.dumps(document, indent=2) + "\n")
    weak_deg = [[r.ra_deg, r.dec_deg] for r in weak_rows]
    png = plot_facet_layout(layout, outdir / "facets.png", main_scores_rad=[scores.get(f.name) for f in facets],
                            weak_names=[r.name for r in weak_rows], weak_deg=weak_deg or None,
                            weak_scores_rad=[r.score_rad for r in weak_rows])
    return [reg, table, js, png]


def _log_layout(layout: FacetLayout, weak_rows: Sequence[CalibratorRow], resolution_arcsec: float) -> None:
    """One line per facet; warnings for weak calibrators outside every facet and unreachable smearing targets."""
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
                        "%.3g arcsec", f.name, 100 * (1 - avg.reduction), f.radius_deg, resolution_arcsec)


# --------------------------------------------------------------------------- the layout


def make_facet_products(table: Path, outdir: Path, settings: FacetSettings, *, msin: Path | None = None,
                        centre_deg: tuple[float, float] | None = None, sources: Path | None = None,
                        overwrite: bool = False, parameters: Mapping[str, object] | None = None) -> FacetLayout:
    """Cut the field into the facets of the main calibrators of ``table`` and write the products to ``outdir``.

    Parameters
    ----------
    table
        Calibrator table (:func:`lofar_hires.selection.table.read_table`): rows of category ``main`` define the
        facets, rows of category ``weak`` are drawn and assigned to facets.
    outdir
        New directory for :data:`PRODUCTS` (written atomically).
    settings
        Clip region, edge length and the target of the averaging suggestion.
    msin
        Measurement set: its phase centre is the field centre, and its integration time, channel width,
        lowest frequency and channel count set the averaging suggestion. Give this or ``centre_deg``.
    centre_deg
        Field centre (RA, Dec) in degrees, without a measurement set.
    sources
        makesourcedb sky model whose sources are counted per facet (those in no facet are reported).
    overwrite
        Replace an existing output directory.
    parameters
        The request, recorded in the provenance.

    Returns
    -------
    FacetLayout
        The annotated facets.
    """
    from lofar_hires.calibration.step_products import check_new_output
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.ms import read_ms_info, require_ms
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.provenance import Provenance
    from lofar_hires.selection.facets import annotate_facets, make_facets
    from lofar_hires.selection.table import read_table, rows_in

    if (msin is None) == (centre_deg is None):
        raise InputError("give either a measurement set or centre_deg for the field centre, not both or neither",
                         setting="msin")
    rows = read_table(table)
    main_rows, weak_rows = rows_in(rows, "main"), rows_in(rows, "weak")
    if not main_rows:
        raise InputError(f"{table} has no calibrator of category main; the facets need at least one "
                         f"(classify the candidates first, or set a row's category to main)", setting="table")
    ms_info = read_ms_info(require_ms(msin)) if msin is not None else None
    centre = field_centre(ms_info, centre_deg)
    data = data_resolution(ms_info, settings)
    model = read_makesourcedb(sources) if sources is not None else None
    inputs = [p for p in (table, msin, sources) if p is not None]
    check_new_output(outdir, overwrite, inputs, setting="outdir")

    layout = make_facets([r.name for r in main_rows], [r.ra_deg for r in main_rows],
                         [r.dec_deg for r in main_rows], centre, settings.clip, settings.max_edge_deg)
    resolved = settings.describe(centre, data)
    log.info("field centre RA %.6f, Dec %.6f deg (%s); clip: %s; edges <= %g deg", centre[0], centre[1],
             "phase centre of the measurement set" if ms_info is not None else "given", settings.clip.describe(),
             settings.max_edge_deg)
    log.info("%d main and %d weak calibrator(s) in %s", len(main_rows), len(weak_rows), table)
    if data is None:
        log.info("no data resolution (a measurement set, or integration time, channel width and frequency): "
                 "no averaging suggestion")
    else:
        log.info("averaging suggestion for %.3g arcsec, loss <= %.3g: data %.4g s, %.6g Hz channels (%s), "
                 "lowest frequency %.6g Hz", settings.resolution_arcsec, settings.max_smearing_loss,
                 data.integration_s, data.chan_width_hz,
                 f"{data.n_chan} channels" if data.n_chan else "channel count unknown", data.freq_min_hz)
    prov = Provenance(task="facets", parameters=json.loads(json.dumps(
        {**(parameters or {}), "settings": resolved}, default=str)))
    for path in inputs:
        prov.add_input(path)
    sources_deg = np.degrees(np.stack([model.ra_rad, model.dec_rad], axis=1)) if model is not None else None
    layout, source_index = annotate_facets(
        layout, sources_deg=sources_deg, weak_names=[r.name for r in weak_rows],
        weak_deg=np.array([[r.ra_deg, r.dec_deg] for r in weak_rows]).reshape(-1, 2), data=data,
        resolution_arcsec=settings.resolution_arcsec, max_loss=settings.max_smearing_loss)
    sources_outside: list[str] = []
    if model is not None:
        sources_outside = [n for n, i in zip(model.names, source_index) if i < 0]
        if sources_outside:
            shown = ", ".join(sources_outside[:10]) + (" ..." if len(sources_outside) > 10 else "")
            log.warning("%d of %d source(s) of %s lie in no facet (outside the clip region): %s",
                        len(sources_outside), len(model), sources, shown)
    _log_layout(layout, weak_rows, settings.resolution_arcsec)

    with atomic_output(outdir, overwrite) as tmp:
        write_facet_products(tmp, layout, main_rows=main_rows, weak_rows=weak_rows, settings=resolved,
                             sources_outside=sources_outside)
        prov.write(tmp / "provenance.json")
    log.info("wrote %d facet(s) to %s", len(layout.facets), outdir)
    return layout
