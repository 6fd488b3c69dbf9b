"""Which calibrator a facet refines on, and what its delta_t decides (de Jong et al. 2025, section 6.4.4).

A facet of ``lofar-hires facets`` is named after its main calibrator; the selection table gives
that calibrator's position, flux and phasediff score sigma_c, from which the solution-interval
metric delta_t follows (section 6.3.2). A facet whose calibrator has delta_t above 3 min skips
the 6 arcsec Dutch step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.selection.table import read_table
from lofar_hires.selfcal.recipes import RecipeConfig, delta_t_min, refine_dutch_needed


@dataclass(frozen=True)
class FacetCalibrator:
    """The calibrator of one facet and its delta_t."""

    facet: str
    ra_deg: float
    dec_deg: float
    flux_jy: float | None
    sigma_c_rad: float
    delta_t_min: float
    dt_formula: str

    def describe(self) -> dict[str, object]:
        return {"facet": self.facet, "ra_deg": self.ra_deg, "dec_deg": self.dec_deg, "flux_jy": self.flux_jy,
                "sigma_c_rad": self.sigma_c_rad, "delta_t_min": self.delta_t_min, "dt_formula": self.dt_formula}


def facet_calibrator(table: Path, facet: str, config: RecipeConfig) -> FacetCalibrator:
    """The main calibrator named ``facet`` in a selection table, with its delta_t.

    Raises
    ------
    InputError
        No such calibrator (the table's main calibrators are listed), a calibrator that is not a main one,
        or one without a phasediff score.
    """
    rows = read_table(table)
    by_name = {r.name: r for r in rows}
    main = [r.name for r in rows if r.category == "main"]
    row = by_name.get(facet)
    if row is None:
        raise InputError(f"facet {facet} has no calibrator in {table} (its main calibrators: "
                         f"{', '.join(main) or 'none'}); facets are named after their main calibrator",
                         setting="facet")
    if row.category != "main":
        raise InputError(f"{facet} is a {row.category} calibrator in {table}, not a main one: it has no facet of its "
                         "own to refine (a weak calibrator is refined with lofar-hires secondary)", setting="facet")
    if row.score_rad is None:
        raise InputError(f"calibrator {facet} has no phasediff score (score_rad) in {table}; score it with "
                         "lofar-hires select score first", setting="calibrators")
    formula = config.delta_t.formula
    flux = row.total_flux_jy if row.total_flux_jy is not None else row.peak_flux_jy
    return FacetCalibrator(facet=facet, ra_deg=row.ra_deg % 360.0, dec_deg=row.dec_deg, flux_jy=flux,
                           sigma_c_rad=row.score_rad, delta_t_min=delta_t_min(row.score_rad, formula, config.delta_t),
                           dt_formula=formula)


def dutch_step_needed(calibrator: FacetCalibrator, config: RecipeConfig) -> bool:
    """Whether the facet gets the 6 arcsec Dutch self-calibration (delta_t at most 3 min)."""
    return refine_dutch_needed(calibrator.delta_t_min, config.refine_dutch)
