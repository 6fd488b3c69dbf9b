"""Self-calibration strategies as data: one schema for the YAML files in ``configs/selfcal/``.

A strategy lists the solves of a cycle (in the order they are solved and applied),
the imaging settings, the preparation of the data (averaging, phase-up of the core
into a superstation) and the stopping rule. The classes here hold types, units,
limits and help; the default of every value, with its source, lives in
``configs/selfcal_defaults.yaml`` (section ``solve`` for each entry of
``solves``, section ``strategy`` for the rest), and a strategy file lists only what
it changes. :func:`load_strategy` reads a shipped strategy or a user's YAML file
and applies ``key=value`` overrides (``solves.0.solint_s=32``).

Intervals are given in seconds and hertz and rounded to the data's grid by
:func:`lofar_hires.runners.dp3_steps.time_slots` and ``freq_channels``
(:func:`solint_slots`, :func:`solint_channels`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, option, shipped_defaults, to_mapping
from lofar_hires.errors import InputError
from lofar_hires.io.names import safe_name, safe_names
from lofar_hires.runners import dp3_steps
from lofar_hires.selfcal.stopping import StoppingRule

#: The shipped file with the default of every strategy setting.
DEFAULTS_FILE = "selfcal_defaults.yaml"

#: Solution types of a strategy -> the DDECal modes solved for it, in order. ``rotation+diagonal`` is
#: solved as a rotation followed by a diagonal gain (DDECal's combined mode is broken in DP3 6.6).
SOLTYPES: dict[str, tuple[str, ...]] = {
    "scalarphase": ("scalarphase",),
    "scalaramplitude": ("scalaramplitude",),
    "scalarcomplexgain": ("scalar",),
    "diagonalphase": ("diagonalphase",),
    "diagonalamplitude": ("diagonalamplitude",),
    "complexgain": ("diagonal",),
    "fulljones": ("fulljones",),
    "rotation": ("rotation",),
    "rotation+diagonal": ("rotation", "diagonal"),
    "tec": ("tec",),
}
#: Other names users know the solution types by (DP3's mode names).
SOLTYPE_ALIASES = {"scalar": "scalarcomplexgain", "diagonal": "complexgain", "phaseonly": "diagonalphase",
                   "amplitudeonly": "diagonalamplitude"}
#: DDECal modes whose solutions hold amplitudes.
AMPLITUDE_MODES = tuple(name for name, mode in dp3_steps.SOLVE_MODES.items() if mode.amplitude)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "solve")
class SolveSpec:
    soltype: str = option(help="solution type: " + ", ".join([*SOLTYPES, *SOLTYPE_ALIASES]),
                          choices=[*SOLTYPES, *SOLTYPE_ALIASES], required=True)
    name: str = option(help="name of the solve in logs and file names (default solveN); letters, digits, _ + - . "
                       "are kept, any other run of characters becomes _")
    solint_s: float | None = option(help="time interval of a solution, clipped to [min_solint_s, max_solint_s] "
                                    "and rounded to whole integrations of the data (null: one integration)",
                                    unit="s", min=0.0)
    min_solint_s: float = option(help="the solution interval is clipped to at least this", unit="s", min=0.0)
    max_solint_s: float | None = option(help="the solution interval is clipped to at most this (null: no limit)",
                                        unit="s", min=0.0)
    solint_hz: float | None = option(help="frequency interval of a solution, rounded to whole channels of the "
                                     "data (null: one channel; the band or more: one solution over the band)",
                                     unit="Hz", min=0.0)
    smoothness_hz: float = option(help="DDECal frequency smoothness kernel (0: none)", unit="Hz", min=0.0)
    smoothness_ref_hz: float = option(help="frequency at which the kernel has that width; it scales linearly "
                                      "with frequency (0: the same width everywhere)", unit="Hz", min=0.0)
    minuv_lambda: float = option(help="shortest baseline used in the solve", unit="lambda", min=0.0)
    reset: str = option(help="stations whose solutions are set to the identity after the solve: group names of "
                        "station_groups.yaml, names or patterns, comma-separated ('' : none)")
    antenna_constraint: list[str] = option(help="groups of stations that share one solution, each a station "
                                           "specification like `reset` (DDECal antennaconstraint)")
    start_cycle: int = option(help="first cycle (0 = the first) in which this solve is made", min=0)
    normalize_amplitudes: bool = option(help="divide amplitude solutions by their geometric mean over stations, "
                                        "times and frequencies, so the flux scale is kept")
    maxiter: int = option(help="maximum DDECal iterations", min=1)
    tolerance: float = option(help="DDECal convergence tolerance", min=0.0)

    @property
    def canonical_soltype(self) -> str:
        return SOLTYPE_ALIASES.get(self.soltype, self.soltype)

    @property
    def modes(self) -> tuple[str, ...]:
        return SOLTYPES[self.canonical_soltype]

    def validate(self, where: str, label: str = "") -> None:
        """Cross-field checks; ``where`` is the solve's dotted key (``solves.0``), ``label`` its name.

        Raises
        ------
        InputError
            A non-positive interval, or ``max_solint_s`` below ``min_solint_s``.
        """
        named = f" ({label})" if label else ""
        if self.solint_s is not None and self.solint_s <= 0:
            raise InputError(f"{where}.solint_s{named}: the solution interval must be positive, got "
                             f"{self.solint_s:g} s", setting=f"{where}.solint_s")
        if self.max_solint_s is not None and self.max_solint_s < self.min_solint_s:
            raise InputError(f"{where}.max_solint_s{named}: {self.max_solint_s:g} s is below min_solint_s "
                             f"{self.min_solint_s:g} s", setting=f"{where}.max_solint_s")


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "strategy.imaging")
class ImagingSpec:
    size_pix: int = option(help="image size (square)", unit="pixel", min=16, max=65536)
    scale_arcsec: float = option(help="pixel size", unit="arcsec", min=0.0)
    niter: int = option(help="maximum clean iterations", min=0)
    mgain: float = option(help="major-cycle gain", min=0.0, max=1.0)
    auto_mask_sigma: float = option(help="auto-mask threshold", unit="sigma", min=0.0)
    auto_threshold_sigma: float = option(help="clean down to this threshold inside the mask", unit="sigma",
                                         min=0.0)
    weighting: str = option(help="visibility weighting", choices=["briggs", "uniform", "natural"])
    robust: float = option(help="Briggs robustness", min=-2.0, max=2.0)
    multiscale: bool = option(help="multi-scale clean")
    channels_out: int = option(help="output channels (> 1 with join_channels gives a spectral model)", min=1)
    fit_spectral_pol: int | None = option(help="spectral polynomial terms of the model (with channels_out > 1; "
                                          "null: none)", min=1)
    minuv_lambda: float | None = option(help="shortest baseline used in imaging (null: all)", unit="lambda",
                                        min=0.0)
    taper_gaussian_arcsec: float | None = option(help="Gaussian taper (null: none)", unit="arcsec", min=0.0)
    mem_gb: float | None = option(help="WSClean's absolute memory limit (null: WSClean's own)", unit="GB",
                                  min=0.1)
    restoring_beam_arcsec: float | None = option(help="circular restoring beam of the images (null: the beam "
                                                 "WSClean fits to the PSF)", unit="arcsec", min=0.0)
    model_filter_sigma: float = option(help="multi-direction cycles: the solves use only the clean components in "
                                       "islands of the image whose peak reaches this many times the local rms "
                                       "(0: every component)", unit="sigma", min=0.0)
    model_filter_boundary_sigma: float = option(help="islands of the model filter extend down to this many times the "
                                                "local rms", unit="sigma", min=0.0)
    model_filter_box_pix: int = option(help="box in which the model filter measures the local rms (robust, from the "
                                       "median absolute deviation)", unit="pixel", min=2)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "strategy.prepare")
class PrepareSpec:
    time_resolution_s: float = option(help="average to this time resolution before self-calibration (0: keep; "
                                      "rounded to whole integrations)", unit="s", min=0.0)
    freq_resolution_hz: float = option(help="average to this channel width (0: keep)", unit="Hz", min=0.0)
    remove_stations: str = option(help="stations removed from the data before anything else (e.g. 'international' "
                                  "for the Dutch solve): group names of station_groups.yaml, names or patterns, "
                                  "comma-separated ('': none)")
    phaseup_core: bool = option(help="phase up the core stations into one superstation (DP3 stationadder) before "
                                "solving; solutions are expanded back to the core stations at the end")
    core_stations: str = option(help="the stations that are phased up")
    superstation: str = option(help="name of the superstation")


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "strategy.recipe")
class RecipeRecord:
    """How a strategy was generated by ``lofar-hires recipe`` (provenance only; self-calibration ignores it)."""

    kind: str = option(help="the recipe that generated the strategy: international, dutch, refine-dutch or "
                       "refine-final ('': not generated)", choices=["", "international", "dutch", "refine-dutch",
                                                                    "refine-final"])
    sigma_c_rad: float | None = option(help="phasediff score that delta_t was computed from (null: delta_t given "
                                       "or not used)", unit="rad", min=0.0)
    delta_t_min: float | None = option(help="solution-interval metric the intervals follow (null: not used)",
                                       unit="min", min=0.0)
    dt_formula: str = option(help="formula of delta_t from sigma_c: paper (eq. 6.2) or squared ('': not used)",
                             choices=["", "paper", "squared"])
    peak_flux_jy: float | None = option(help="peak brightness of the calibrator (null: not used)", unit="Jy/beam",
                                        min=0.0)
    integration_s: float | None = option(help="integration time the solution intervals were rounded to "
                                         "(null: not rounded)", unit="s", min=0.0)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "strategy")
class Strategy:
    name: str = option(help="name of the strategy")
    description: str = option(help="what the strategy is for, and where its numbers come from")
    solves: list[SolveSpec] = option(help="solves of each cycle, in order; each solves on the data corrected by "
                                     "the previous solves of the cycle")
    imaging: ImagingSpec = option(help="WSClean settings of each cycle")
    prepare: PrepareSpec = option(help="averaging and phase-up of the data")
    stopping: StoppingRule = option(help="when to stop")
    reference_station: str = option(help="reference of the phase-stability metric (the superstation is used when "
                                    "the core is phased up)")
    recipe: RecipeRecord = option(help="how the strategy was generated (lofar-hires recipe); not used by "
                                  "self-calibration")

    def validate(self) -> None:
        """Cross-field checks (the schema checks single values, finite numbers included)."""
        if not self.solves:
            raise InputError("strategy has no solves: list at least one under `solves`", setting="solves")
        try:
            safe_names([raw_solve_name(s, i) for i, s in enumerate(self.solves)], what="solve")
        except InputError as exc:
            raise InputError(f"strategy: {exc}", setting="solves") from None
        names = [solve_name(s, i) for i, s in enumerate(self.solves)]
        for i, solve in enumerate(self.solves):
            solve.validate(f"solves.{i}", names[i])
        if not any(s.start_cycle == 0 for s in self.solves):
            raise InputError("strategy: no solve starts in cycle 0 (set start_cycle: 0 on the first)",
                             setting="solves.0.start_cycle")
        self.stopping.validate()
        im = self.imaging
        if im.model_filter_sigma > 0 and not 0 < im.model_filter_boundary_sigma <= im.model_filter_sigma:
            raise InputError(f"imaging.model_filter_boundary_sigma is {im.model_filter_boundary_sigma:g}: it must be "
                             f"positive and at most imaging.model_filter_sigma ({im.model_filter_sigma:g})",
                             setting="imaging.model_filter_boundary_sigma")
        last_start = max(s.start_cycle for s in self.solves)
        if last_start + 2 > self.stopping.max_cycles:
            raise InputError(f"strategy: a solve starts in cycle {last_start}, so at least {last_start + 2} cycles are "
                             f"needed to judge it, but stopping.max_cycles is {self.stopping.max_cycles}",
                             setting="stopping.max_cycles")

    def digest(self) -> str:
        """A hash of the settings (what a resumed run must match).

        A strategy without a recipe record hashes as it did before the record existed.
        """
        settings = to_mapping(self)
        if self.recipe == RecipeRecord():
            del settings["recipe"]
        text = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def raw_solve_name(solve: SolveSpec, index: int) -> str:
    """The solve's name as the strategy gives it (``solveN`` when it gives none)."""
    return solve.name or f"solve{index + 1}"


def solve_name(solve: SolveSpec, index: int) -> str:
    """The solve's name as used in logs and file names: a safe file-name component.

    Raises
    ------
    InputError
        The name has no character usable in a file name (see :func:`lofar_hires.io.names.safe_name`).
    """
    return safe_name(raw_solve_name(solve, index), what="solve")


def solint_slots(solve: SolveSpec, integration_s: float, n_times: int) -> int:
    """Time slots per solution: the interval clipped to [min, max], rounded to whole integrations.

    The rounding is :func:`lofar_hires.runners.dp3_steps.time_slots`; when whole
    integrations fit between the limits, the result stays inside them. At most
    ``n_times`` (the whole observation).

    Raises
    ------
    InputError
        A non-positive integration time.
    """
    if integration_s <= 0:
        raise InputError(f"the data have an integration time of {integration_s} s")
    interval = integration_s if solve.solint_s is None else solve.solint_s
    interval = max(interval, solve.min_solint_s)
    if solve.max_solint_s is not None:
        interval = min(interval, solve.max_solint_s)
    slots = dp3_steps.time_slots(interval, integration_s)
    # Rounding never takes the interval outside the limits (when whole integrations fit inside them).
    if solve.max_solint_s is not None and slots * integration_s > solve.max_solint_s * (1 + 1e-9):
        slots = max(1, slots - 1)
    elif slots * integration_s < solve.min_solint_s * (1 - 1e-9):
        slots += 1
    return min(slots, max(1, n_times))


def solint_channels(solve: SolveSpec, chan_width_hz: float, n_chan: int) -> int:
    """Channels per solution: ``solint_hz`` rounded to whole channels (one for null; at most the band).

    The rounding is :func:`lofar_hires.runners.dp3_steps.freq_channels`.
    """
    if solve.solint_hz is None:
        return 1
    return dp3_steps.freq_channels(solve.solint_hz, chan_width_hz, n_chan)


def shipped_strategies() -> list[str]:
    folder = resources.files("lofar_hires.configs") / "selfcal"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def strategy_path(name_or_path: str | Path) -> Path:
    """A YAML path, or the path of a shipped strategy given by name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InputError(f"strategy file {path} does not exist")
        return path
    if str(name_or_path) not in shipped_strategies():
        raise InputError(f"unknown strategy {name_or_path!r}: give a YAML file or one of "
                         f"{', '.join(shipped_strategies())}")
    return Path(str(resources.files("lofar_hires.configs") / "selfcal" / f"{name_or_path}.yaml"))


def load_strategy(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Strategy:
    """Read, override and validate a strategy (clear one-line errors for bad YAML or values)."""
    path = strategy_path(name_or_path)
    data = apply_overrides(load_yaml(path), list(overrides))
    strategy = from_mapping(Strategy, data)
    strategy.validate()
    return strategy
