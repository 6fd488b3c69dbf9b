"""Self-calibration strategies generated from the recipes of de Jong et al. (2025).

The recipes turn one number about a calibrator into a strategy for ``lofar-hires selfcal``
(a mapping that :func:`lofar_hires.selfcal.strategy.load_strategy` reads once written as YAML):

* :func:`international_strategy` (section 6.4.2): the DD self-calibration of the international
  stations on one calibrator, from its solution-interval metric delta_t (minutes), which
  :func:`delta_t_min` computes from the phasediff score sigma_c (section 6.3.2, eq. 6.2).
  Up to four solves per cycle: fast phases (interval sqrt(delta_t), then the Dutch stations and
  DE601/DE605 are reset), slower phases (sqrt(2 delta_t), Dutch stations reset), phases of a
  group of remote stations for delta_t < 3 min (2 sqrt(delta_t), reset chosen by delta_t), and
  from cycle 3 on phases and amplitudes (20 delta_t, at least 18 min, left out when 20 delta_t
  exceeds 4 h). The uv cut of every solve and of the imaging depends on delta_t.
* :func:`dutch_strategy` (section 6.4.1): the DD self-calibration of the Dutch stations on one
  calibrator, whose solution intervals depend on its peak brightness (300 mJy/beam split).
* :func:`refine_dutch_strategy` and :func:`refine_final_strategy` (section 6.4.4): the DD
  refinement on the facet datasets, (a) 6 arcsec Dutch self-calibration of a facet (skipped for
  delta_t > 3 min) and (b) the final joint self-calibration of its calibrator, intervals from delta_t.

Every number of the recipes lives in ``configs/recipes.yaml`` (schema :class:`RecipeConfig`,
overrides through :func:`load_recipe_config`). Solution intervals are written in seconds as whole
multiples of the data's integration time: the interval is clipped to the solve's limits and
rounded to the nearest whole number of integrations (halves up), then moved by one integration
back inside the limits if the rounding left them (:func:`round_solint_s`, the rule of
:func:`lofar_hires.selfcal.strategy.solint_slots`). Each strategy records how it was made in its
``recipe`` section (:class:`lofar_hires.selfcal.strategy.RecipeRecord`); :func:`explain` prints
a strategy as a table to check against the paper.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from lofar_hires.config_schema import apply_overrides, from_mapping, option, shipped_defaults, shipped_section
from lofar_hires.errors import InputError
from lofar_hires.selfcal.strategy import SOLTYPE_ALIASES, SOLTYPES, SolveSpec, Strategy, solint_slots

#: The shipped file with every number of the recipes.
RECIPES_FILE = "recipes.yaml"
#: Formulas of the solution-interval metric delta_t.
DT_FORMULAS: tuple[str, ...] = ("paper", "squared")
#: The recipes.
KINDS: tuple[str, ...] = ("international", "dutch", "refine-dutch", "refine-final")
_SOLTYPE_CHOICES = [*SOLTYPES, *SOLTYPE_ALIASES]


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "delta_t")
class DeltaTMetric:
    """The solution-interval metric delta_t (minutes) of a phasediff score sigma_c (de Jong et al. 2025, eq. 6.2)."""

    formula: str = option(help="paper: eq. 6.2, coefficient * ln(1-(s/pi)^2); squared: the later public variant, "
                          "reference * [ln(1-(s/pi)^2) / ln(1-(reference score/pi)^2)]^2", choices=list(DT_FORMULAS))
    paper_coefficient_min: float = option(help="coefficient of eq. 6.2", unit="min", max=0.0)
    squared_reference_min: float = option(help="delta_t of the squared variant at the reference score", unit="min",
                                          min=0.0)
    squared_reference_score_rad: float = option(help="phasediff score at which the squared variant gives its "
                                                "reference interval", unit="rad", min=0.0, max=math.pi)


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "international.fast_phase")
class InternationalSolveRecipe:
    """One solve of the international recipe; its interval in minutes is
    ``solint_factor * (solint_dt_scale * delta_t) ** solint_dt_power``."""

    name: str = option(help="name of the solve in the strategy")
    soltype: str = option(help="solution type (see lofar-hires selfcal)", choices=_SOLTYPE_CHOICES)
    solint_factor: float = option(help="factor in front of the interval formula", min=0.0)
    solint_dt_scale: float = option(help="factor of delta_t inside the power of the interval formula", min=0.0)
    solint_dt_power: float = option(help="power of delta_t in the interval formula (0.5: a square root)", min=0.0)
    min_solint_s: float = option(help="the interval is clipped to at least this", unit="s", min=0.0)
    max_solint_s: float | None = option(help="the interval is clipped to at most this (null: no limit)", unit="s",
                                        min=0.0)
    omit_above_s: float | None = option(help="the solve is left out when the formula gives more than this "
                                        "(null: never)", unit="s", min=0.0)
    smoothness_hz: float | None = option(help="DDECal frequency smoothness kernel (null: the delta_t range's "
                                         "gain_smoothness_hz, for the gain solve)", unit="Hz", min=0.0)
    reset: str | None = option(help="station groups reset after the solve (null: the delta_t range's "
                               "remote_phase_reset or gain_reset)")
    start_cycle: int = option(help="first cycle (0 = the first) in which the solve is made", min=0)


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "international.delta_t_ranges.brightest")
class DeltaTRange:
    """What the international recipe does in one range of delta_t."""

    below_min: float | None = option(help="the range ends below this delta_t (null: no end; it starts at the "
                                     "end of the range before it)", unit="min", min=0.0)
    minuv_lambda: float = option(help="uv cut of every solve and of the imaging", unit="lambda", min=0.0)
    remote_phase: bool = option(help="make the remote-station phase solve (step 3)")
    remote_phase_reset: str = option(help="station groups reset after the remote-station phase solve")
    gain_smoothness_hz: float = option(help="smoothness kernel of the phase+amplitude solve (step 4)", unit="Hz",
                                       min=0.0)
    gain_reset: str = option(help="station groups reset after the phase+amplitude solve ('': none)")


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "international.delta_t_ranges")
class DeltaTRanges:
    """The four delta_t ranges of the international recipe, from the brightest calibrators to the faintest."""

    brightest: DeltaTRange = option(help="the brightest calibrators (smallest delta_t)")
    bright: DeltaTRange = option(help="the next range")
    moderate: DeltaTRange = option(help="the next range")
    faint: DeltaTRange = option(help="the faintest calibrators (below_min null: no end)")

    def ordered(self) -> list[tuple[str, DeltaTRange]]:
        """The ranges by increasing delta_t, with their names."""
        return [(name, getattr(self, name)) for name in ("brightest", "bright", "moderate", "faint")]


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "international")
class InternationalRecipe:
    """International DD self-calibration of one calibrator (de Jong et al. 2025, section 6.4.2)."""

    name: str = option(help="name of the generated strategy")
    description: str = option(help="description of the generated strategy")
    time_resolution_s: float = option(help="the data are averaged to this before self-calibration", unit="s",
                                      min=0.0)
    freq_resolution_hz: float = option(help="the data are averaged to this channel width", unit="Hz", min=0.0)
    phaseup_core: bool = option(help="phase up the core stations into a superstation")
    min_cycles: int = option(help="self-calibration may stop once this many cycles exist", min=1)
    max_cycles: int = option(help="self-calibration stops once this many cycles exist", min=1)
    classifier_model: str = option(help="the image classifier of the stopping rule: 'none', 'shipped' or a model "
                                   "directory (stopping.classifier_model of the generated strategy)")
    fast_phase: InternationalSolveRecipe = option(help="step 1: fast phases of the international stations")
    slow_phase: InternationalSolveRecipe = option(help="step 2: slower phases of the international stations")
    remote_phase: InternationalSolveRecipe = option(help="step 3: phases of a group of remote stations")
    gain: InternationalSolveRecipe = option(help="step 4: phases and amplitudes")
    delta_t_ranges: DeltaTRanges = option(help="what depends on delta_t")

    def solves(self) -> list[tuple[str, InternationalSolveRecipe]]:
        """The solves in the order of a cycle, with their setting names."""
        return [(name, getattr(self, name)) for name in ("fast_phase", "slow_phase", "remote_phase", "gain")]


#: Settings of the international solves that a delta_t range gives when the solve's own is null.
RANGE_SETTINGS: dict[tuple[str, str], str] = {
    ("remote_phase", "reset"): "remote_phase_reset",
    ("gain", "reset"): "gain_reset",
    ("gain", "smoothness_hz"): "gain_smoothness_hz",
}


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "dutch.remote_phase")
class DutchSolveRecipe:
    """One solve of the Dutch recipe."""

    name: str = option(help="name of the solve in the strategy")
    soltype: str = option(help="solution type (see lofar-hires selfcal)", choices=_SOLTYPE_CHOICES)
    solint_s: float = option(help="solution interval below the peak-brightness split", unit="s", min=0.0)
    bright_solint_s: float = option(help="solution interval at or above the peak-brightness split", unit="s",
                                    min=0.0)
    smoothness_hz: float = option(help="DDECal frequency smoothness kernel", unit="Hz", min=0.0)
    reset: str = option(help="station groups reset after the solve ('': none)")
    start_cycle: int = option(help="first cycle (0 = the first) in which the solve is made", min=0)


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "dutch")
class DutchRecipe:
    """Dutch DD self-calibration of one calibrator (de Jong et al. 2025, section 6.4.1)."""

    name: str = option(help="name of the generated strategy")
    description: str = option(help="description of the generated strategy")
    time_resolution_s: float = option(help="the data are averaged to this before self-calibration", unit="s",
                                      min=0.0)
    freq_resolution_hz: float = option(help="the data are averaged to this channel width", unit="Hz", min=0.0)
    phaseup_core: bool = option(help="phase up the core stations into a superstation")
    remove_stations: str = option(help="stations removed before self-calibration (a station specification)")
    min_cycles: int = option(help="self-calibration may stop once this many cycles exist", min=1)
    max_cycles: int = option(help="self-calibration stops once this many cycles exist", min=1)
    bright_peak_jy: float = option(help="calibrators at or above this peak brightness get the bright_solint_s "
                                   "intervals", unit="Jy/beam", min=0.0)
    minuv_lambda: float = option(help="uv cut of every solve", unit="lambda", min=0.0)
    stability_stations: str = option(help="stations whose phases measure the stability (stopping rule)")
    image_scale_arcsec: float = option(help="pixel size of the self-calibration images", unit="arcsec", min=0.0)
    image_size_pix: int = option(help="size of the self-calibration images", unit="pixel", min=16, max=65536)
    image_taper_arcsec: float = option(help="Gaussian taper of the self-calibration images", unit="arcsec", min=0.0)
    model_filter_sigma: float = option(help="the solves use the clean components of islands whose peak reaches this "
                                       "many times the local rms (0: every component)", unit="sigma", min=0.0)
    model_filter_boundary_sigma: float = option(help="the islands extend down to this many times the local rms",
                                                unit="sigma", min=0.0)
    remote_phase: DutchSolveRecipe = option(help="step 1: phases of the remote stations")
    core_phase: DutchSolveRecipe = option(help="step 2: slow phases of the core stations")
    gain: DutchSolveRecipe = option(help="step 3: phases and amplitudes")

    def solves(self) -> list[tuple[str, DutchSolveRecipe]]:
        """The solves in the order of a cycle, with their setting names."""
        return [(name, getattr(self, name)) for name in ("remote_phase", "core_phase", "gain")]


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "refine_dutch.fast_phase")
class RefineSolveRecipe:
    """One solve of the 6 arcsec Dutch refinement (fixed interval)."""

    name: str = option(help="name of the solve in the strategy")
    soltype: str = option(help="solution type (see lofar-hires selfcal)", choices=_SOLTYPE_CHOICES)
    solint_s: float = option(help="solution interval", unit="s", min=0.0)
    smoothness_hz: float = option(help="DDECal frequency smoothness kernel", unit="Hz", min=0.0)
    reset: str = option(help="station groups reset after the solve ('': none)")
    start_cycle: int = option(help="first cycle (0 = the first) in which the solve is made", min=0)


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "refine_dutch")
class RefineDutchRecipe:
    """DD refinement (a): 6 arcsec self-calibration of the Dutch stations on a facet (section 6.4.4)."""

    name: str = option(help="name of the generated strategy")
    description: str = option(help="description of the generated strategy")
    time_factor: int = option(help="the facet data are averaged by this factor in time", min=1)
    freq_factor: int = option(help="the facet data are averaged by this factor in frequency", min=1)
    remove_stations: str = option(help="stations removed before self-calibration (a station specification)")
    phaseup_core: bool = option(help="phase up the core stations into a superstation")
    skip_above_delta_t_min: float = option(help="facets whose calibrator has a larger delta_t skip this step",
                                           unit="min", min=0.0)
    min_cycles: int = option(help="self-calibration may stop once this many cycles exist", min=1)
    max_cycles: int = option(help="self-calibration stops once this many cycles exist", min=1)
    minuv_lambda: float = option(help="uv cut of every solve", unit="lambda", min=0.0)
    stability_stations: str = option(help="stations whose phases measure the stability (stopping rule)")
    image_scale_arcsec: float = option(help="pixel size of the self-calibration images", unit="arcsec", min=0.0)
    image_size_pix: int = option(help="size of the self-calibration images", unit="pixel", min=16, max=65536)
    image_taper_arcsec: float = option(help="Gaussian taper of the self-calibration images", unit="arcsec", min=0.0)
    fast_phase: RefineSolveRecipe = option(help="step 1: fast phases of the remote stations")
    slow_phase: RefineSolveRecipe = option(help="step 2: slower phases")
    gain: RefineSolveRecipe = option(help="step 3: phases and amplitudes")

    def solves(self) -> list[tuple[str, RefineSolveRecipe]]:
        """The solves in the order of a cycle, with their setting names."""
        return [(name, getattr(self, name)) for name in ("fast_phase", "slow_phase", "gain")]


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "refine_final.gain_smoothness")
class GainSmoothness:
    """The kernel of the final refinement's phase+amplitude solve by delta_t."""

    below_1_min_hz: float = option(help="kernel for delta_t < 1 min", unit="Hz", min=0.0)
    below_3_min_hz: float = option(help="kernel for 1 <= delta_t < 3 min", unit="Hz", min=0.0)
    otherwise_hz: float = option(help="kernel for delta_t >= 3 min", unit="Hz", min=0.0)

    def for_delta_t(self, dt_min: float) -> float:
        return self.below_1_min_hz if dt_min < 1.0 else self.below_3_min_hz if dt_min < 3.0 else self.otherwise_hz


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "refine_final")
class RefineFinalRecipe:
    """DD refinement (b): final joint self-calibration of a facet calibrator (section 6.4.4)."""

    name: str = option(help="name of the generated strategy")
    description: str = option(help="description of the generated strategy")
    time_resolution_s: float = option(help="the data are averaged to this before self-calibration", unit="s",
                                      min=0.0)
    freq_resolution_hz: float = option(help="the data are averaged to this channel width", unit="Hz", min=0.0)
    phaseup_core: bool = option(help="phase up the core stations into a superstation")
    min_cycles: int = option(help="self-calibration may stop once this many cycles exist", min=1)
    max_cycles: int = option(help="self-calibration stops once this many cycles exist", min=1)
    minuv_lambda: float = option(help="uv cut of every solve and of the imaging", unit="lambda", min=0.0)
    classifier_model: str = option(help="the image classifier of the stopping rule: 'none', 'shipped' or a model "
                                   "directory (stopping.classifier_model of the generated strategy)")
    fast_phase: InternationalSolveRecipe = option(help="step 1: fast phases of the international stations")
    slow_phase: InternationalSolveRecipe = option(help="step 2: phases of all stations")
    gain: InternationalSolveRecipe = option(help="step 3: phases and amplitudes (kernel from gain_smoothness)")
    gain_smoothness: GainSmoothness = option(help="the kernel of step 3 by delta_t")

    def solves(self) -> list[tuple[str, InternationalSolveRecipe]]:
        """The solves in the order of a cycle, with their setting names."""
        return [(name, getattr(self, name)) for name in ("fast_phase", "slow_phase", "gain")]


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE, "refine_check")
class RefineCheck:
    """The check of a refined facet: its calibrator's peak in a dirty image of the refined data against that in one
    of the data as given (both centred on the calibrator, same settings)."""

    max_peak_change_fraction: float = option(help="the refinement is rejected when the calibrator's peak after it "
                                             "differs from that before by more than this factor (0.2: outside "
                                             "[1/1.2, 1.2] times); the upper side is max_peak_rise_fraction's "
                                             "when that is set", min=0.0)
    max_peak_rise_fraction: float | None = option(help="the refinement is rejected when the calibrator's peak "
                                                  "after it is more than 1 + this times that before (null: "
                                                  "max_peak_change_fraction, the same factor either way)", min=0.0)
    image_size_pix: int = option(help="size of the two check images", unit="pixel", min=16, max=65536)
    image_scale_arcsec: float = option(help="pixel size of the check images", unit="arcsec", min=0.0)
    image_taper_arcsec: float = option(help="Gaussian taper of the check images", unit="arcsec", min=0.0)


@dataclass(frozen=True)
@shipped_defaults(RECIPES_FILE)
class RecipeConfig:
    """Every number of the recipes (``configs/recipes.yaml``)."""

    delta_t: DeltaTMetric = option(help="the solution-interval metric delta_t")
    international: InternationalRecipe = option(help="international DD self-calibration (section 6.4.2)")
    dutch: DutchRecipe = option(help="Dutch DD self-calibration (section 6.4.1)")
    refine_dutch: RefineDutchRecipe = option(help="DD refinement (a): 6 arcsec Dutch facet self-calibration "
                                             "(section 6.4.4)")
    refine_final: RefineFinalRecipe = option(help="DD refinement (b): final joint self-calibration (section 6.4.4)")
    refine_check: RefineCheck = option(help="DD refinement (c): the check that the refined facet's calibrator "
                                       "keeps its flux")

    def validate(self) -> None:
        """Cross-field checks (the schema checks single values).

        Raises
        ------
        InputError
            delta_t ranges out of order, a null interval setting that no range gives, or
            ``max_cycles`` below ``min_cycles``.
        """
        previous = 0.0
        ranges = self.international.delta_t_ranges.ordered()
        for i, (name, rng) in enumerate(ranges):
            key = f"international.delta_t_ranges.{name}.below_min"
            last = i == len(ranges) - 1
            if last and rng.below_min is not None:
                raise InputError(f"{key}: the last delta_t range has no end (null), got {rng.below_min:g} min",
                                 setting=key)
            if not last and (rng.below_min is None or rng.below_min <= previous):
                raise InputError(f"{key}: the delta_t ranges must end at increasing delta_t (after {previous:g} "
                                 f"min), got {rng.below_min}", setting=key)
            previous = rng.below_min if rng.below_min is not None else previous
        for name, solve in self.international.solves():
            for setting in ("smoothness_hz", "reset"):
                if getattr(solve, setting) is None and (name, setting) not in RANGE_SETTINGS:
                    key = f"international.{name}.{setting}"
                    raise InputError(f"{key}: null, but no delta_t range gives it for this solve; set a value",
                                     setting=key)
        for name, solve in self.refine_final.solves():
            if solve.reset is None or (solve.smoothness_hz is None and name != "gain"):
                key = f"refine_final.{name}"
                raise InputError(f"{key}: smoothness_hz and reset must be set (only the gain's kernel comes from "
                                 "gain_smoothness)", setting=key)
        for section in ("international", "dutch", "refine_dutch", "refine_final"):
            recipe = getattr(self, section)
            if recipe.max_cycles < recipe.min_cycles:
                raise InputError(f"{section}.max_cycles ({recipe.max_cycles}) is below {section}.min_cycles "
                                 f"({recipe.min_cycles})", setting=f"{section}.max_cycles")


def load_recipe_config(overrides: Sequence[str] = ()) -> RecipeConfig:
    """The shipped recipe settings with ``key=value`` overrides (``international.max_cycles=12``), validated."""
    data = apply_overrides(shipped_section(RECIPES_FILE), list(overrides))
    config = from_mapping(RecipeConfig, data)
    config.validate()
    return config


# --------------------------------------------------------------------------- the metric and the rounding


def delta_t_min(sigma_c_rad: float, formula: str, metric: DeltaTMetric | None = None) -> float:
    """The solution-interval metric delta_t in minutes of a phasediff score (de Jong et al. 2025, section 6.3.2).

    Parameters
    ----------
    sigma_c_rad
        The phasediff score sigma_c (radians), in [0, pi).
    formula
        ``paper``: eq. 6.2, ``-26.92 ln(1 - (sigma_c/pi)^2)``; ``squared``: the later public
        variant ``10 [ln(1 - (sigma_c/pi)^2) / ln(1 - (1.75/pi)^2)]^2`` (the numbers are those of
        ``metric``).
    metric
        The constants (default: the shipped ``delta_t`` section of ``configs/recipes.yaml``).

    Returns
    -------
    float
        delta_t in minutes (0 for a score of 0).

    Raises
    ------
    InputError
        A score that is not a number, negative or at least pi (setting ``sigma_c_rad``), or an
        unknown formula (setting ``dt_formula``).
    """
    metric = metric or DeltaTMetric()
    if formula not in DT_FORMULAS:
        raise InputError(f"unknown delta_t formula {formula!r}; use one of {', '.join(DT_FORMULAS)}",
                         setting="dt_formula")
    if isinstance(sigma_c_rad, bool) or not isinstance(sigma_c_rad, (int, float)) or not math.isfinite(sigma_c_rad):
        raise InputError(f"sigma_c_rad must be a finite number of radians, got {sigma_c_rad}", setting="sigma_c_rad")
    if sigma_c_rad < 0:
        raise InputError(f"sigma_c_rad must not be negative, got {sigma_c_rad:g} rad", setting="sigma_c_rad")
    if sigma_c_rad >= math.pi:
        raise InputError(f"sigma_c_rad must be below pi (pure noise has no solution interval), got {sigma_c_rad:g} rad",
                         setting="sigma_c_rad")
    log_term = math.log1p(-(sigma_c_rad / math.pi) ** 2)
    if formula == "paper":
        return metric.paper_coefficient_min * log_term if log_term else 0.0  # no -0.0 for sigma_c = 0
    reference = math.log1p(-(metric.squared_reference_score_rad / math.pi) ** 2)
    return metric.squared_reference_min * (log_term / reference) ** 2


def round_solint_s(interval_s: float, integration_s: float, min_solint_s: float = 0.0,
                   max_solint_s: float | None = None) -> float:
    """A solution interval as a whole number of integrations, within the limits where whole integrations fit.

    The interval is clipped to ``[min_solint_s, max_solint_s]`` and rounded to the nearest whole
    number of integrations (halves up, at least one); a result above the maximum loses one
    integration, one below the minimum gains one (:func:`lofar_hires.selfcal.strategy.solint_slots`).
    """
    spec = SolveSpec(soltype="scalarphase", solint_s=interval_s, min_solint_s=min_solint_s, max_solint_s=max_solint_s)
    return solint_slots(spec, integration_s, sys.maxsize) * integration_s


def _check_integration(integration_s: float) -> None:
    if isinstance(integration_s, bool) or not isinstance(integration_s, (int, float)) \
            or not math.isfinite(integration_s) or integration_s <= 0:
        raise InputError(f"integration_s must be a positive number of seconds, got {integration_s}",
                         setting="integration_s")


def _validated(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` after checking that it is a valid strategy."""
    from_mapping(Strategy, mapping).validate()
    return mapping


# --------------------------------------------------------------------------- the recipes


def delta_t_range(dt_min: float, ranges: DeltaTRanges) -> tuple[str, DeltaTRange]:
    """The delta_t range (name and settings) that holds ``dt_min``."""
    ordered = ranges.ordered()
    for name, rng in ordered:
        if rng.below_min is None or dt_min < rng.below_min:
            return name, rng
    return ordered[-1]


def international_strategy(dt_min: float, integration_s: float, config: InternationalRecipe | None = None, *,
                           sigma_c_rad: float | None = None, dt_formula: str = "") -> dict[str, Any]:
    """The international DD self-calibration strategy of one calibrator (de Jong et al. 2025, section 6.4.2).

    Parameters
    ----------
    dt_min
        The calibrator's solution-interval metric delta_t (minutes, :func:`delta_t_min`).
    integration_s
        Integration time of the data the strategy calibrates (the recipe's averaging, 32 s);
        every solution interval is a whole multiple of it (:func:`round_solint_s`).
    config
        The recipe (default: the shipped ``international`` section of ``configs/recipes.yaml``).
    sigma_c_rad, dt_formula
        Where ``dt_min`` came from, for the strategy's ``recipe`` record (None and '' when
        delta_t was given).

    Returns
    -------
    dict
        A strategy mapping (the keys of a strategy file) that
        :func:`lofar_hires.selfcal.strategy.load_strategy` accepts once written as YAML.

    Raises
    ------
    InputError
        A delta_t that is not a non-negative number (setting ``delta_t_min``), a non-positive
        integration time (setting ``integration_s``), or settings that give no valid strategy.
    """
    config = config or InternationalRecipe()
    _check_delta_t(dt_min)
    _check_integration(integration_s)
    _, rng = delta_t_range(dt_min, config.delta_t_ranges)
    solves = []
    for name, recipe in config.solves():
        if name == "remote_phase" and not rng.remote_phase:
            continue
        range_value = {setting: getattr(rng, RANGE_SETTINGS[(name, setting)])
                       for setting in ("smoothness_hz", "reset") if (name, setting) in RANGE_SETTINGS}
        smoothness_hz = recipe.smoothness_hz if recipe.smoothness_hz is not None else range_value["smoothness_hz"]
        reset = recipe.reset if recipe.reset is not None else range_value["reset"]
        solve = _delta_t_solve(recipe, dt_min, integration_s, smoothness_hz, reset, rng.minuv_lambda)
        if solve is not None:
            solves.append(solve)
    return _delta_t_strategy(config, "international", dt_min, integration_s, solves, rng.minuv_lambda,
                             sigma_c_rad, dt_formula)


def _delta_t_solve(recipe: InternationalSolveRecipe, dt_min: float, integration_s: float, smoothness_hz: float,
                   reset: str, minuv_lambda: float) -> dict[str, Any] | None:
    """One solve whose interval follows delta_t (None when the formula exceeds ``omit_above_s``)."""
    interval_s = 60.0 * recipe.solint_factor * (recipe.solint_dt_scale * dt_min) ** recipe.solint_dt_power
    if recipe.omit_above_s is not None and interval_s > recipe.omit_above_s:
        return None
    return {
        "name": recipe.name,
        "soltype": recipe.soltype,
        "solint_s": round_solint_s(interval_s, integration_s, recipe.min_solint_s, recipe.max_solint_s),
        "min_solint_s": recipe.min_solint_s,
        "max_solint_s": recipe.max_solint_s,
        "smoothness_hz": smoothness_hz,
        "minuv_lambda": minuv_lambda,
        "reset": reset,
        "start_cycle": recipe.start_cycle,
    }


def _delta_t_strategy(config: InternationalRecipe | RefineFinalRecipe, kind: str, dt_min: float,
                      integration_s: float, solves: list[dict[str, Any]], minuv_lambda: float,
                      sigma_c_rad: float | None, dt_formula: str) -> dict[str, Any]:
    """The strategy mapping of a recipe whose intervals follow delta_t."""
    mapping = {
        "name": config.name,
        "description": f"{config.description}; delta_t {dt_min:.4g} min",
        "prepare": {"time_resolution_s": config.time_resolution_s, "freq_resolution_hz": config.freq_resolution_hz,
                    "phaseup_core": config.phaseup_core},
        "solves": solves,
        "imaging": {"minuv_lambda": minuv_lambda},
        "stopping": {"min_cycles": config.min_cycles, "max_cycles": config.max_cycles,
                     "classifier_model": config.classifier_model},
        "recipe": {"kind": kind, "sigma_c_rad": sigma_c_rad, "delta_t_min": float(dt_min),
                   "dt_formula": dt_formula if sigma_c_rad is not None else "", "peak_flux_jy": None,
                   "integration_s": float(integration_s)},
    }
    return _validated(mapping)


def dutch_strategy(peak_flux_jy: float, integration_s: float, config: DutchRecipe | None = None) -> dict[str, Any]:
    """The Dutch DD self-calibration strategy of one calibrator (de Jong et al. 2025, section 6.4.1).

    Parameters
    ----------
    peak_flux_jy
        The calibrator's peak brightness (Jy/beam, at 6 arcsec); at or above ``bright_peak_jy``
        (300 mJy/beam) the shorter intervals are used.
    integration_s
        Integration time of the data the strategy calibrates (the recipe's averaging, 16 s);
        every solution interval is a whole multiple of it (:func:`round_solint_s`).
    config
        The recipe (default: the shipped ``dutch`` section of ``configs/recipes.yaml``).

    Returns
    -------
    dict
        A strategy mapping (the keys of a strategy file).

    Raises
    ------
    InputError
        A peak brightness that is not a positive number (setting ``peak_flux_jy``) or a
        non-positive integration time (setting ``integration_s``).
    """
    config = config or DutchRecipe()
    if isinstance(peak_flux_jy, bool) or not isinstance(peak_flux_jy, (int, float)) \
            or not math.isfinite(peak_flux_jy) or peak_flux_jy <= 0:
        raise InputError(f"peak_flux_jy must be a positive number of Jy/beam, got {peak_flux_jy}",
                         setting="peak_flux_jy")
    _check_integration(integration_s)
    bright = peak_flux_jy >= config.bright_peak_jy
    solves = [{
        "name": recipe.name,
        "soltype": recipe.soltype,
        "solint_s": round_solint_s(recipe.bright_solint_s if bright else recipe.solint_s, integration_s),
        "smoothness_hz": recipe.smoothness_hz,
        "minuv_lambda": config.minuv_lambda,
        "reset": recipe.reset,
        "start_cycle": recipe.start_cycle,
    } for _, recipe in config.solves()]
    mapping = {
        "name": config.name,
        "description": f"{config.description}; peak {peak_flux_jy:.4g} Jy/beam",
        "prepare": {"time_resolution_s": config.time_resolution_s, "freq_resolution_hz": config.freq_resolution_hz,
                    "phaseup_core": config.phaseup_core, "remove_stations": config.remove_stations},
        "solves": solves,
        "imaging": {"scale_arcsec": config.image_scale_arcsec, "size_pix": config.image_size_pix,
                    "taper_gaussian_arcsec": config.image_taper_arcsec,
                    "model_filter_sigma": config.model_filter_sigma,
                    "model_filter_boundary_sigma": config.model_filter_boundary_sigma},
        "stopping": {"min_cycles": config.min_cycles, "max_cycles": config.max_cycles,
                     "stability_stations": config.stability_stations},
        "recipe": {"kind": "dutch", "sigma_c_rad": None, "delta_t_min": None, "dt_formula": "",
                   "peak_flux_jy": float(peak_flux_jy), "integration_s": float(integration_s)},
    }
    return _validated(mapping)


def _check_delta_t(dt_min: float) -> None:
    if isinstance(dt_min, bool) or not isinstance(dt_min, (int, float)) or not math.isfinite(dt_min) or dt_min < 0:
        raise InputError(f"delta_t_min must be a non-negative number of minutes, got {dt_min}", setting="delta_t_min")


def refine_dutch_needed(dt_min: float, config: RefineDutchRecipe | None = None) -> bool:
    """Whether a facet whose calibrator has ``dt_min`` gets the 6 arcsec Dutch refinement (section 6.4.4)."""
    config = config or RefineDutchRecipe()
    _check_delta_t(dt_min)
    return dt_min <= config.skip_above_delta_t_min


def refine_dutch_strategy(dt_min: float, integration_s: float, chan_width_hz: float,
                          config: RefineDutchRecipe | None = None, *, sigma_c_rad: float | None = None,
                          dt_formula: str = "") -> dict[str, Any]:
    """DD refinement (a): 6 arcsec self-calibration of the Dutch stations on one facet dataset (section 6.4.4).

    The facet data (``integration_s``, ``chan_width_hz``) are averaged by the recipe's factors (8 and 8);
    the intervals are whole multiples of the averaged integration. Internationals removed, uv cut 750
    lambda: fast phases (1 min, 10 MHz, core reset), slower phases (5 min, 20 MHz), and after two
    cycles phases and amplitudes (30 min, 15 MHz).

    Raises
    ------
    InputError
        A facet whose calibrator's delta_t is above ``skip_above_delta_t_min`` (it skips this step: check
        :func:`refine_dutch_needed` first), or a bad delta_t, integration or channel width.
    """
    config = config or RefineDutchRecipe()
    if not refine_dutch_needed(dt_min, config):
        raise InputError(f"delta_t {dt_min:.4g} min is above {config.skip_above_delta_t_min:g} min: this facet skips "
                         "the 6 arcsec Dutch refinement (its Dutch corrections were left unchanged)",
                         setting="delta_t_min")
    _check_integration(integration_s)
    if isinstance(chan_width_hz, bool) or not isinstance(chan_width_hz, (int, float)) \
            or not math.isfinite(chan_width_hz) or chan_width_hz <= 0:
        raise InputError(f"chan_width_hz must be a positive number of Hz, got {chan_width_hz}",
                         setting="chan_width_hz")
    averaged_s = integration_s * config.time_factor
    solves = [{
        "name": recipe.name, "soltype": recipe.soltype, "solint_s": round_solint_s(recipe.solint_s, averaged_s),
        "smoothness_hz": recipe.smoothness_hz, "minuv_lambda": config.minuv_lambda, "reset": recipe.reset,
        "start_cycle": recipe.start_cycle,
    } for _, recipe in config.solves()]
    mapping = {
        "name": config.name,
        "description": f"{config.description}; delta_t {dt_min:.4g} min",
        "prepare": {"time_resolution_s": averaged_s, "freq_resolution_hz": chan_width_hz * config.freq_factor,
                    "phaseup_core": config.phaseup_core, "remove_stations": config.remove_stations},
        "solves": solves,
        "imaging": {"scale_arcsec": config.image_scale_arcsec, "size_pix": config.image_size_pix,
                    "taper_gaussian_arcsec": config.image_taper_arcsec, "minuv_lambda": config.minuv_lambda},
        "stopping": {"min_cycles": config.min_cycles, "max_cycles": config.max_cycles,
                     "stability_stations": config.stability_stations},
        "recipe": {"kind": "refine-dutch", "sigma_c_rad": sigma_c_rad, "delta_t_min": float(dt_min),
                   "dt_formula": dt_formula if sigma_c_rad is not None else "", "peak_flux_jy": None,
                   "integration_s": float(averaged_s)},
    }
    return _validated(mapping)


def refine_final_strategy(dt_min: float, integration_s: float, config: RefineFinalRecipe | None = None, *,
                          sigma_c_rad: float | None = None, dt_formula: str = "") -> dict[str, Any]:
    """DD refinement (b): the final joint self-calibration of one facet calibrator (section 6.4.4).

    At 32 s and 390.72 kHz, uv cut 20000 lambda, 5 to 20 cycles: phases in ``sqrt(delta_t)`` (32 s to
    3 min, 5 MHz, Dutch stations reset), phases in ``2 sqrt(delta_t)`` (64 s to 10 min, 20 MHz), and
    from cycle 2 phases and amplitudes in ``20 delta_t`` (at least 18 min, left out above 4 h; 5, 10 or
    15 MHz for delta_t below 1, below 3 or from 3 min).
    """
    config = config or RefineFinalRecipe()
    _check_delta_t(dt_min)
    _check_integration(integration_s)
    solves = []
    for name, recipe in config.solves():
        smoothness_hz = recipe.smoothness_hz
        if name == "gain" and smoothness_hz is None:
            smoothness_hz = config.gain_smoothness.for_delta_t(dt_min)
        solve = _delta_t_solve(recipe, dt_min, integration_s, smoothness_hz, recipe.reset, config.minuv_lambda)
        if solve is not None:
            solves.append(solve)
    return _delta_t_strategy(config, "refine-final", dt_min, integration_s, solves, config.minuv_lambda,
                             sigma_c_rad, dt_formula)


# --------------------------------------------------------------------------- presentation


def _minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.3g} min"


def explain(mapping: Mapping[str, Any]) -> str:
    """A plain-text table of a strategy (one row per solve) to check against the paper.

    Rows: name, solution type, interval (seconds and minutes), smoothness kernel, reset, uv cut
    and first cycle of each solve; above them the recipe (delta_t and its formula, or the peak
    brightness), the data preparation, the cycles and the imaging uv cut.
    """
    strategy = from_mapping(Strategy, mapping)
    rec = strategy.recipe
    lines = [f"strategy {strategy.name}" + (f" ({rec.kind} recipe)" if rec.kind else "")]
    if rec.delta_t_min is not None:
        if rec.sigma_c_rad is not None:
            origin = f"from sigma_c {rec.sigma_c_rad:.4g} rad, formula {rec.dt_formula or 'paper'}"
        else:
            origin = "given"
        lines.append(f"delta_t {rec.delta_t_min:.4g} min ({origin})")
    if rec.peak_flux_jy is not None:
        lines.append(f"peak brightness {rec.peak_flux_jy:.4g} Jy/beam")
    prep = strategy.prepare
    data = [f"{prep.time_resolution_s:g} s" if prep.time_resolution_s else "time resolution kept",
            f"{prep.freq_resolution_hz / 1e3:.7g} kHz" if prep.freq_resolution_hz else "channels kept",
            "core phased up" if prep.phaseup_core else "core not phased up"]
    if rec.integration_s is not None:
        data.append(f"intervals in whole {rec.integration_s:g} s integrations")
    lines.append("data: " + ", ".join(data))
    uv = strategy.imaging.minuv_lambda
    lines.append(f"cycles {strategy.stopping.min_cycles}..{strategy.stopping.max_cycles}; imaging uv cut "
                 + (f"{uv:g} lambda" if uv else "none") + f"; image classifier {strategy.stopping.classifier_model}")
    im = strategy.imaging
    if im.model_filter_sigma > 0:
        lines.append(f"multi-direction model: clean components in islands above {im.model_filter_sigma:g} x the local "
                     f"rms (grown to {im.model_filter_boundary_sigma:g})")
    header = ("solve", "soltype", "solint", "kernel", "reset", "uv cut (lambda)", "start cycle")
    rows = []
    for solve in strategy.solves:
        if solve.solint_s is None:
            solint = "1 integration"
        else:
            solint = f"{solve.solint_s:g} s ({_minutes(solve.solint_s)})"
        kernel = f"{solve.smoothness_hz / 1e6:g} MHz" if solve.smoothness_hz else "none"
        rows.append((solve.name or "-", solve.soltype, solint, kernel, solve.reset or "-", f"{solve.minuv_lambda:g}",
                     str(solve.start_cycle)))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"


def strategy_yaml(mapping: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """The strategy as a YAML file: ``header`` lines and the :func:`explain` table as comments, then the mapping."""
    comments = [*header, *explain(mapping).splitlines()]
    text = "".join(f"# {line}".rstrip() + "\n" for line in comments)
    return text + yaml.safe_dump(dict(mapping), sort_keys=False, default_flow_style=False, width=110)
