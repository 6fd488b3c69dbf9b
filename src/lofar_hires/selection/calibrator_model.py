"""The calibrators of the Dutch direction-dependent solve, as a starting sky model (de Jong et al. 2025, section 6.4.1).

The Dutch core and remote stations are calibrated on the calibrators whose peak brightness in
the 6 arcsec catalogue is above 85 mJy/beam (15 in ELAIS-N1). :func:`dd_calibrators` picks them
from a calibrator table (:mod:`lofar_hires.selection.table`):

* a selection table (``select classify``, any row of category ``main``): its main calibrators;
* a plain catalogue (no ``main`` row): every row whose ``peak_flux_jy`` is at least
  ``skymodel.min_peak_flux_jy`` of ``configs/select_calibrators.yaml``.

The flux of a calibrator is its peak brightness, else its total flux
(:func:`calibrator_flux_jy`). :func:`calibrator_skymodel` makes one point source per calibrator,
each in its own patch named after it, so that the solve has one direction per calibrator;
:func:`write_calibrator_skymodel` writes it as a makesourcedb file with its provenance. The
faintest calibrator (:func:`faintest_calibrator`) sets the solution intervals of the Dutch recipe
(``lofar-hires recipe dutch --calibrators TABLE``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lofar_hires.calibration.step_products import check_new_output
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.skymodel import SkyModel, write_makesourcedb
from lofar_hires.provenance import Provenance
from lofar_hires.selection.config import SkymodelConfig
from lofar_hires.selection.table import CalibratorRow, provenance_path, read_table

log = logging.getLogger(__name__)


def _table_name(table: Path | str | None) -> str:
    return f"calibrator table {table}" if table is not None else "the calibrator table"


def has_main(rows: Sequence[CalibratorRow]) -> bool:
    """Whether the table is a selection table (some row of category ``main``)."""
    return any(row.category == "main" for row in rows)


def selection_rule(rows: Sequence[CalibratorRow], min_peak_flux_jy: float) -> str:
    """How :func:`dd_calibrators` chooses from ``rows``, in words (for logs and records)."""
    if has_main(rows):
        return "the main calibrators of the selection table"
    return f"the sources with peak_flux_jy >= {min_peak_flux_jy:g} Jy/beam"


def calibrator_flux_jy(row: CalibratorRow, table: Path | str | None = None) -> float:
    """The flux of a calibrator: its peak brightness (Jy/beam), else its total flux (Jy).

    Raises
    ------
    InputError
        The row has neither, or the one used is not a positive finite number; the message names
        the row (and the table).
    """
    for key in ("peak_flux_jy", "total_flux_jy"):
        value = getattr(row, key)
        if value is None:
            continue
        if not (math.isfinite(value) and value > 0.0):
            raise InputError(f"{_table_name(table)}: calibrator {row.name} has {key} {value:g}; a calibrator of the "
                             "Dutch direction-dependent solve needs a positive flux")
        return float(value)
    raise InputError(f"{_table_name(table)}: calibrator {row.name} has no peak_flux_jy or total_flux_jy; a "
                     "calibrator of the Dutch direction-dependent solve needs a flux")


def dd_calibrators(rows: Sequence[CalibratorRow], min_peak_flux_jy: float, *,
                   table: Path | str | None = None) -> list[CalibratorRow]:
    """The calibrators of the Dutch direction-dependent solve (de Jong et al. 2025, section 6.4.1).

    Parameters
    ----------
    rows
        A calibrator table (:func:`lofar_hires.selection.table.read_table`).
    min_peak_flux_jy
        Of a plain catalogue (no row of category ``main``), the rows whose ``peak_flux_jy`` is at
        least this (Jy/beam) are chosen; a selection table gives its main calibrators whatever
        their brightness.
    table
        Where the rows came from, for the messages.

    Returns
    -------
    list of CalibratorRow
        The chosen rows, in table order; each has a positive flux (:func:`calibrator_flux_jy`).

    Raises
    ------
    InputError
        A threshold that is not a non-negative number, a chosen row without a positive flux, or
        no row chosen.
    """
    if isinstance(min_peak_flux_jy, bool) or not isinstance(min_peak_flux_jy, (int, float)) \
            or not math.isfinite(min_peak_flux_jy) or min_peak_flux_jy < 0.0:
        raise InputError(f"skymodel.min_peak_flux_jy must be a non-negative number of Jy/beam, got "
                         f"{min_peak_flux_jy}", setting="skymodel.min_peak_flux_jy")
    if has_main(rows):
        chosen = [row for row in rows if row.category == "main"]
    else:
        chosen = [row for row in rows if row.peak_flux_jy is not None and row.peak_flux_jy >= min_peak_flux_jy]
    if not chosen:
        raise InputError(f"{_table_name(table)} has no main calibrator and no source with peak_flux_jy >= "
                         f"{min_peak_flux_jy:g} Jy/beam", setting="skymodel.min_peak_flux_jy")
    for row in chosen:
        calibrator_flux_jy(row, table)
    return chosen


def faintest_calibrator(rows: Sequence[CalibratorRow]) -> tuple[CalibratorRow, float]:
    """The faintest of ``rows`` (by :func:`calibrator_flux_jy`) and its flux; the first of equals."""
    if not rows:
        raise InputError("no calibrator to take the faintest of")
    fluxes = [calibrator_flux_jy(row) for row in rows]
    index = int(np.argmin(fluxes))
    return rows[index], fluxes[index]


def calibrator_skymodel(rows: Sequence[CalibratorRow], reference_freq_hz: float, spectral_index: float) -> SkyModel:
    """One point source per calibrator, each in its own patch named after the calibrator.

    Parameters
    ----------
    rows
        The calibrators (:func:`dd_calibrators`).
    reference_freq_hz
        Frequency of the catalogue fluxes: each component's flux is its peak brightness (else
        total flux) at this frequency.
    spectral_index
        Spectral index of every component (logarithmic spectrum).

    Returns
    -------
    SkyModel
        The model; each patch has the position of its calibrator.

    Raises
    ------
    InputError
        No rows, a row without a positive flux, or a reference frequency or spectral index that
        is not a finite number (the frequency also positive).
    """
    if not rows:
        raise InputError("no calibrator for the sky model")
    if not (math.isfinite(reference_freq_hz) and reference_freq_hz > 0.0):
        raise InputError(f"skymodel.reference_freq_hz must be a positive number of Hz, got {reference_freq_hz}",
                         setting="skymodel.reference_freq_hz")
    if not math.isfinite(spectral_index):
        raise InputError(f"skymodel.spectral_index must be a finite number, got {spectral_index}",
                         setting="skymodel.spectral_index")
    n = len(rows)
    names = [row.name for row in rows]
    ra_rad = np.radians([row.ra_deg for row in rows])
    dec_rad = np.radians([row.dec_deg for row in rows])
    return SkyModel(
        names=names,
        types=["POINT"] * n,
        patches=list(names),
        ra_rad=ra_rad,
        dec_rad=dec_rad,
        i_jy=np.array([calibrator_flux_jy(row) for row in rows]),
        ref_freq_hz=np.full(n, float(reference_freq_hz)),
        spectral_index=np.full((n, 1), float(spectral_index)),
        log_si=np.ones(n, dtype=bool),
        major_arcsec=np.zeros(n),
        minor_arcsec=np.zeros(n),
        orientation_deg=np.zeros(n),
        patch_positions={name: (float(ra), float(dec)) for name, ra, dec in zip(names, ra_rad, dec_rad)},
    )


def write_calibrator_skymodel(table: Path, output: Path, config: SkymodelConfig, *, overwrite: bool = False,
                              parameters: Mapping[str, object] | None = None) -> list[CalibratorRow]:
    """Write the calibrators of a table as the starting sky model of the Dutch direction-dependent solve.

    Parameters
    ----------
    table
        A selection table (``select classify``) or a plain catalogue (CSV with ``name``,
        ``ra_deg``, ``dec_deg`` and ``peak_flux_jy`` and/or ``total_flux_jy``).
    output
        The makesourcedb sky model (written atomically); the provenance goes to
        ``<stem>.provenance.json``.
    config
        The ``skymodel`` settings (threshold, reference frequency, spectral index).
    overwrite
        Replace existing outputs.
    parameters
        The request, recorded in the provenance.

    Returns
    -------
    list of CalibratorRow
        The calibrators written, in table order.
    """
    log.info("settings: %r", config)
    rows = read_table(table)
    chosen = dd_calibrators(rows, config.min_peak_flux_jy, table=table)
    rule = selection_rule(rows, config.min_peak_flux_jy)
    prov_path = provenance_path(output)
    for path in (output, prov_path):
        check_new_output(path, overwrite, [table], setting="output")
    model = calibrator_skymodel(chosen, config.reference_freq_hz, config.spectral_index)
    faintest, flux = faintest_calibrator(chosen)
    header = [f"Calibrators of the Dutch direction-dependent solve (de Jong et al. 2025, section 6.4.1): {rule}",
              f"of {Path(table).name}, one point source per calibrator in its own patch; flux: the peak "
              f"brightness (else the total flux) at {config.reference_freq_hz / 1e6:g} MHz, spectral index "
              f"{config.spectral_index:g}."]
    with atomic_output(Path(output), overwrite) as tmp:
        write_makesourcedb(model, tmp, header)
    prov = Provenance(task="select skymodel", parameters={
        **(parameters or {}), "settings": asdict(config), "rule": rule, "calibrators": len(chosen),
        "faintest": faintest.name, "faintest_flux_jy": flux})
    prov.add_input(table)
    prov.write(prov_path)
    for row in chosen:
        log.info("%-20s %-9s %8.4f Jy", row.name, row.category, calibrator_flux_jy(row))
    log.info("%d calibrator(s) (%s); the faintest is %s at %.4g Jy", len(chosen), rule, faintest.name, flux)
    return chosen
