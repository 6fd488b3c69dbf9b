"""The scaling model of compute accounting (one schema; the values, with their sources, live in
``configs/lofar_dimensions.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lofar_hires.config_schema import from_mapping, load_yaml, merge_mappings, option, shipped_defaults, shipped_section
from lofar_hires.errors import InputError

#: The categories of de Jong et al. (2025, Figure 6.14), in the order of the plot and table.
CATEGORIES = ("dd_calibration", "subtraction", "imaging", "other")
#: How the table and plot name each category.
CATEGORY_LABELS = {"dd_calibration": "DD calibration", "subtraction": "1.2\" subtraction", "imaging": "imaging",
                   "other": "other"}
#: A module whose cost is left out of the projection (e.g. the simulation of the toy observation).
EXCLUDED = "excluded"


@dataclass(frozen=True)
@shipped_defaults("lofar_dimensions.yaml", "target")
class Dimensions:
    """The data dimensions of one observation (the keys of a run manifest's ``data``, less ``n_observations``)."""

    n_stations: int = option(help="stations, international ones included", min=2)
    n_international: int = option(help="international stations among them", min=0)
    n_times: int = option(help="time slots of one observation", min=1)
    integration_s: float = option(help="integration time of a slot", unit="s", min=1e-6)
    n_channels: int = option(help="frequency channels", min=1)
    channel_width_hz: float = option(help="width of a channel", unit="Hz", min=1e-6)
    n_directions: int = option(help="directions (facets, calibrators) of the field", min=1)

    def __post_init__(self) -> None:
        if self.n_stations - self.n_international < 2:
            raise InputError(f"n_international ({self.n_international}) leaves fewer than 2 Dutch stations of "
                             f"n_stations ({self.n_stations})", setting="n_international")


@dataclass(frozen=True)
class ModuleScaling:
    """How the cost of one module scales (an item of ``modules``, every key given in the file).

    ``category`` is its part of Figure 6.14 (or ``excluded``), ``baselines`` ``all`` or ``dutch`` (the
    international stations removed first), ``average_time_s`` / ``average_freq_hz`` the resolution the
    module averages to before its work (0: the data's own; never finer than the data), the exponents of
    visibilities, directions and observations, ``target_directions`` a number of directions of its own on
    the target (0: the target's), and the reuse of a deep model: beyond ``model_observations`` observations
    (0: none) each further observation costs ``model_cost_factor`` times one.
    """

    category: str = field(metadata={"choices": (*CATEGORIES, EXCLUDED)})
    baselines: str = field(metadata={"choices": ("all", "dutch")})
    average_time_s: float = field(metadata={"unit": "s", "min": 0.0})
    average_freq_hz: float = field(metadata={"unit": "Hz", "min": 0.0})
    visibilities_exponent: float = field(metadata={"min": 0.0, "max": 4.0})
    directions_exponent: float = field(metadata={"min": 0.0, "max": 4.0})
    observations_exponent: float = field(metadata={"min": 0.0, "max": 4.0})
    target_directions: int = field(metadata={"min": 0})
    model_observations: int = field(metadata={"min": 0})
    model_cost_factor: float = field(metadata={"min": 0.0, "max": 1.0})


@dataclass(frozen=True)
@shipped_defaults("lofar_dimensions.yaml")
class CostModel:
    target: Dimensions = option(help="the observation the measured costs are projected to")
    observations: list[int] = option(help="numbers of observations combined, as in Figure 6.14")
    modules: dict[str, ModuleScaling] = option(help="module name -> how its cost scales")
    paper: dict[int, dict[str, float]] = option(
        help="number of observations -> category (or total) -> the paper's core-hours per observation")

    def __post_init__(self) -> None:
        if not self.observations or min(self.observations) < 1:
            raise InputError("observations must be whole numbers of at least 1", setting="observations")
        for n, values in self.paper.items():
            unknown = sorted(set(values) - {*CATEGORIES, "total"})
            if unknown:
                raise InputError(f"paper.{n}: unknown categor{'ies' if len(unknown) > 1 else 'y'} "
                                 f"{', '.join(unknown)}; valid: {', '.join(CATEGORIES)}, total",
                                 setting=f"paper.{n}.{unknown[0]}")


def load_cost_model(path: Path | None = None) -> CostModel:
    """The shipped model (``configs/lofar_dimensions.yaml``), its values replaced by those of ``path``.

    A file given replaces whole entries: ``target`` keys one by one, ``modules`` one module at a time,
    ``observations`` and ``paper`` as a whole.

    Raises
    ------
    InputError
        The file is no YAML mapping, names an unknown key or module field, or a value is out of range.
    """
    data = shipped_section("lofar_dimensions.yaml")
    if path is not None:
        given = load_yaml(Path(path))
        if not given:
            raise InputError(f"dimensions file {path} is empty; give the entries it replaces", setting="dimensions")
        try:
            data = {**data, **{k: v for k, v in given.items() if k not in ("target", "modules")}}
            if "target" in given:
                data["target"] = merge_mappings(data["target"], given["target"]) if isinstance(
                    given["target"], dict) else given["target"]
            if "modules" in given:
                data["modules"] = {**data["modules"], **given["modules"]} if isinstance(
                    given["modules"], dict) else given["modules"]
            return from_mapping(CostModel, data)
        except InputError as exc:
            raise InputError(f"{path}: {exc}", setting=exc.setting) from None
    return from_mapping(CostModel, data)
