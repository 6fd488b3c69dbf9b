"""``lofar-hires select candidates``: the candidate calibrators of a field (de Jong et al. 2025, section 6.3.1).

Reads a makesourcedb sky model, a source table (CSV or FITS, e.g. a LoTSS catalogue)
or an image (sources found with PyBDSF), keeps the sources bright enough to be
scored, and writes the calibrator table (category ``candidate``) with its
provenance next to it as ``<table stem>.provenance.json``. With ``--split-dir``,
each candidate also gets a one-row table ``<dir>/<name>.csv`` for a CWL scatter (the
name made safe as a file name by :func:`lofar_hires.io.names.safe_names`; names that
collide after conversion are refused before anything is written).
An image's PyBDSF source list and log are kept in ``<table stem>_pybdsf/``.
``--delay-calibrators`` reads the LOFAR-VLBI pipeline's ``delay_calibrators.csv`` (the
LBCS calibrators cross-matched with LoTSS; Morabito et al. 2022, A&A 658, A1) with the
table's own peak and total fluxes (mJy) and positions.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lofar_hires.io.delay_calibrators import DelayCalibrator
from lofar_hires.selection.candidates import (
    DEFAULT_MIN_PEAK_FLUX_JY,
    DEFAULT_RESOLUTION_ARCSEC,
    DEFAULT_THRESH_ISL,
    DEFAULT_THRESH_PIX,
    SourceList,
)
from lofar_hires.selection.table import provenance_path

log = logging.getLogger(__name__)

HELP = "candidate calibrators from a sky model, a source table, an image (PyBDSF) or a delay-calibrator table"

#: Input option dest -> what the input is (for messages).
SOURCE_KINDS: dict[str, str] = {"skymodel": "sky model", "catalogue": "source table", "image": "image",
                                "delay_calibrators": "delay-calibrator table"}

#: Options that apply to one kind of input only: option dest -> (input dest, default).
ONLY_FOR: dict[str, tuple[str, object]] = {
    "resolution_arcsec": ("skymodel", DEFAULT_RESOLUTION_ARCSEC),
    "freq_hz": ("skymodel", None),
    "flux_unit": ("catalogue", "Jy"),
    "pybdsf_thresh_isl": ("image", DEFAULT_THRESH_ISL),
    "pybdsf_thresh_pix": ("image", DEFAULT_THRESH_PIX),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--skymodel", type=Path, default=None,
                        help="makesourcedb sky model: one candidate per patch (per component without patches)")
    source.add_argument("--catalogue", type=Path, default=None,
                        help="source table, CSV with a header row or FITS binary table (e.g. a LoTSS or PyBDSF "
                             "source list); columns found by name: Source_Name/Source_id/name/id, RA/ra_deg/RAJ2000, "
                             "DEC/dec_deg/DEJ2000, Peak_flux/peak_flux_jy, Total_flux/total_flux_jy/flux/I")
    source.add_argument("--image", type=Path, default=None,
                        help="FITS image (with its restoring beam in the header): sources found with PyBDSF")
    source.add_argument("--delay-calibrators", type=Path, default=None, metavar="CSV",
                        help="delay_calibrators.csv of the LOFAR-VLBI pipeline (VLBI-cwl's delay_calibrator input): "
                             "columns Source_id, RA, DEC (degrees), Peak_flux, Total_flux (mJy); its own fluxes are "
                             "used")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="candidate table, CSV (written atomically; provenance in <stem>.provenance.json)")
    parser.add_argument("--min-peak-flux-jy", type=float, default=DEFAULT_MIN_PEAK_FLUX_JY,
                        help="minimum peak brightness in Jy/beam (default %(default)s: 25 mJy/beam at 6 arcsec, the "
                             "pre-selection of de Jong et al. 2024 revisited in de Jong et al. 2025 sect. 6.3.1); "
                             "0 keeps every source")
    parser.add_argument("--centre-deg", type=float, nargs=2, metavar=("RA", "DEC"), default=None,
                        help="field centre in degrees, for --max-distance-deg")
    parser.add_argument("--max-distance-deg", type=float, default=None,
                        help="keep sources within this great-circle distance of --centre-deg (degrees)")
    parser.add_argument("--max-candidates", type=int, default=None,
                        help="keep at most this many candidates, brightest peak first (default: all)")
    parser.add_argument("--group-radius-arcsec", type=float, default=None,
                        help="merge sources closer than this into one candidate (default: no grouping)")
    parser.add_argument("--resolution-arcsec", type=float, default=DEFAULT_RESOLUTION_ARCSEC,
                        help="--skymodel: resolution (FWHM of a circular beam) of the peak brightness, arcsec "
                             "(default %(default)s, the LoTSS catalogues of de Jong et al. 2025 sect. 6.3.1)")
    parser.add_argument("--freq-hz", type=float, default=None,
                        help="--skymodel: frequency of the fluxes in Hz (default: each component's "
                             "ReferenceFrequency)")
    parser.add_argument("--flux-unit", choices=["Jy", "mJy"], default="Jy",
                        help="--catalogue: unit of CSV flux columns without a _jy suffix (default Jy; LoTSS "
                             "catalogues are in mJy); FITS columns use their own units")
    parser.add_argument("--pybdsf-thresh-isl", type=float, default=DEFAULT_THRESH_ISL,
                        help="--image: PyBDSF island threshold in sigma (default %(default)s)")
    parser.add_argument("--pybdsf-thresh-pix", type=float, default=DEFAULT_THRESH_PIX,
                        help="--image: PyBDSF source detection threshold in sigma (default %(default)s)")
    parser.add_argument("--split-dir", type=Path, default=None,
                        help="also write one single-row table per candidate, <DIR>/<name>.csv (for a CWL scatter)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def delay_calibrator_sources(calibrators: Sequence[DelayCalibrator], where: str) -> SourceList:
    """The rows of a delay-calibrator table as sources to select candidates from.

    Names are the calibrators' safe names (unique, usable as file names); positions in
    degrees (RA in [0, 360)); the table's LoTSS peak brightness and total flux in Jy, NaN
    where a row has none (LBCS-only rows have a total flux only).
    """
    def flux(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return SourceList(names=np.array([c.safe_name for c in calibrators], dtype=object),
                      ra_deg=np.array([c.ra_deg % 360.0 for c in calibrators], dtype=float),
                      dec_deg=np.array([c.dec_deg for c in calibrators], dtype=float),
                      peak_flux_jy=flux([c.peak_flux_jy for c in calibrators]),
                      total_flux_jy=flux([c.total_flux_jy for c in calibrators]),
                      origin="catalogue", where=where)


def pybdsf_workdir(table: Path) -> Path:
    """Where PyBDSF's source list and log go: ``<stem>_pybdsf/`` next to the table."""
    return Path(table).with_name(f"{Path(table).stem}_pybdsf")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import check_new_output, require_file
    from lofar_hires.cli import command_parameters
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import remove_path
    from lofar_hires.io.delay_calibrators import read_delay_calibrators
    from lofar_hires.provenance import Provenance
    from lofar_hires.selection import candidates as cd
    from lofar_hires.selection.table import write_table

    kind = next(k for k in SOURCE_KINDS if getattr(args, k) is not None)
    source = require_file(getattr(args, kind), SOURCE_KINDS[kind], setting=kind)
    settings = cd.CandidateSettings(
        min_peak_flux_jy=args.min_peak_flux_jy,
        centre_deg=None if args.centre_deg is None else (args.centre_deg[0], args.centre_deg[1]),
        max_distance_deg=args.max_distance_deg, max_candidates=args.max_candidates,
        group_radius_arcsec=args.group_radius_arcsec)
    for dest, (only, default) in ONLY_FOR.items():
        if only != kind and getattr(args, dest) != default:
            log.warning("--%s applies to --%s only; ignored for --%s", dest.replace("_", "-"), only,
                        kind.replace("_", "-"))
    outputs = [args.output, provenance_path(args.output)]
    if args.split_dir is not None:
        outputs.append(args.split_dir)
    workdir = pybdsf_workdir(args.output) if kind == "image" else None
    if workdir is not None:
        outputs.append(workdir)
    for path in outputs:
        check_new_output(path, args.overwrite, [source])
    if len({Path(p).resolve() for p in outputs}) < len(outputs):
        raise InputError(f"--split-dir {args.split_dir} collides with another output of {args.output}")

    log.info("candidates from %s %s: %r", kind, source, settings)
    prov = Provenance(task="select candidates", parameters=command_parameters(args))
    prov.add_input(source)

    written: list[Path] = []  # products of this run, removed again if it fails: no partial product
    try:
        if kind == "skymodel":
            rows = cd.candidates_from_skymodel(source, settings, args.resolution_arcsec, args.freq_hz)
        elif kind == "catalogue":
            rows = cd.candidates_from_table(source, settings, flux_unit=args.flux_unit)
        elif kind == "delay_calibrators":
            rows = cd.select_candidates(delay_calibrator_sources(read_delay_calibrators(source), str(source)),
                                        settings)
        else:
            remove_path(workdir)  # a work directory of an earlier run (checked above)
            written.append(workdir)
            rows = cd.candidates_from_image(source, workdir, settings, args.pybdsf_thresh_isl,
                                            args.pybdsf_thresh_pix, provenance=prov)
        if args.split_dir is not None:
            cd.split_table_names(rows)  # names that cannot be file names are refused before anything is written
        write_table(args.output, rows, overwrite=args.overwrite)
        written.append(args.output)
        if args.split_dir is not None:
            cd.write_split_tables(rows, args.split_dir, overwrite=args.overwrite)
            written.append(args.split_dir)
            log.info("wrote %d single-candidate table(s) in %s", len(rows), args.split_dir)
        prov.write(provenance_path(args.output))
    except BaseException:
        for path in written:
            remove_path(Path(path))
        raise

    peaks = [r.peak_flux_jy for r in rows if r.peak_flux_jy is not None]
    totals = [r.total_flux_jy for r in rows if r.total_flux_jy is not None]
    ranges = [f"{what} {min(v):.4g} to {max(v):.4g} {unit}" for what, v, unit in
              (("peak", peaks, "Jy/beam"), ("total", totals, "Jy")) if v]
    log.info("%d candidate(s) (%s): %s", len(rows), "; ".join(ranges), ", ".join(r.name for r in rows[:10])
             + (" ..." if len(rows) > 10 else ""))
    print(args.output)
    return 0
