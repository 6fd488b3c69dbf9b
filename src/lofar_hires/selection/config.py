"""Settings of calibrator selection (one schema; the default values, with their sources, live in
``configs/select_calibrators.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, option, shipped_defaults
from lofar_hires.errors import InputError


@dataclass(frozen=True)
@shipped_defaults("select_calibrators.yaml", "score")
class ScoreConfig:
    data_column: str = option(help="column with the DI-calibrated visibilities")
    time_resolution_s: float = option(help="averaging time after the phase shift (whole integrations)", unit="s",
                                      min=0.0)
    freq_resolution_hz: float = option(help="averaging bandwidth after the phase shift (whole channels; at least "
                                       "two channels must remain)", unit="Hz", min=0.0)
    phaseup_core: bool = option(help="add the core stations into one superstation (DP3 stationadder) and drop "
                                "them")
    core_stations: str = option(help="stations added into the superstation (station groups of "
                                "configs/station_groups.yaml, names or patterns)")
    superstation: str = option(help="name of the superstation")
    solint_s: float = option(help="solution interval of the RR/LL phase solve (rounded to whole time slots of the "
                             "averaged data)", unit="s", min=0.6)
    minuv_lambda: float = option(help="shortest baseline used in the solve", unit="lambda", min=0.0)
    stations: str = option(help="stations whose phase differences make the score")
    reference: str = option(help="station the R-L phase differences are referenced to: 'superstation', 'none', "
                            "or a station name")
    max_distance_deg: float = option(help="candidates farther from the phase centre are not scored", unit="deg",
                                     min=0.0, max=180.0)
    maxiter: int = option(help="DDECal iterations", min=1)
    tolerance: float = option(help="DDECal tolerance", min=0.0)
    threads: int = option(help="DP3 threads", min=1, max=1024)
    false_alarm: float = option(help="false-alarm probability of the significance test: a candidate is classified "
                                "only when its score is below the score that pure noise (for the same samples) "
                                "stays below with this probability", min=1e-12, max=0.49)
    noise_draws: int = option(help="simulated pure-noise scores per layout of samples (median and effective "
                              "number of values of the noise)", min=100, max=1_000_000)


@dataclass(frozen=True)
@shipped_defaults("select_calibrators.yaml", "classify")
class ClassifyConfig:
    main_max_rad: float = option(help="main (facet) calibrators score below this", unit="rad", min=0.0)
    weak_max_rad: float = option(help="weak calibrators score from main_max_rad up to this", unit="rad", min=0.0)
    prune_main_deg: float = option(help="of main calibrators closer than this keep the lower score", unit="deg",
                                   min=0.0)
    prune_weak_deg: float = option(help="weak calibrators closer than this to a kept calibrator are pruned",
                                   unit="deg", min=0.0)
    solint_formula: str = option(help="solution-interval metric: paper (eq. 6.2) or squared",
                                 choices=["paper", "squared"])
    optimal_score_rad: float = option(help="score that the metric's interval aims at", unit="rad", min=0.01,
                                      max=3.14)


@dataclass(frozen=True)
@shipped_defaults("select_calibrators.yaml", "skymodel")
class SkymodelConfig:
    min_peak_flux_jy: float = option(help="of a catalogue without main calibrators, the sources at or above this "
                                     "peak brightness are the calibrators of the Dutch direction-dependent solve",
                                     unit="Jy/beam", min=0.0)
    reference_freq_hz: float = option(help="frequency of the catalogue fluxes, the reference frequency of each "
                                      "component", unit="Hz", min=1.0e6, max=1.0e10)
    spectral_index: float = option(help="spectral index of each component (logarithmic)", min=-5.0, max=5.0)


@dataclass(frozen=True)
@shipped_defaults("select_calibrators.yaml")
class SelectionConfig:
    score: ScoreConfig = option(help="phasediff score")
    classify: ClassifyConfig = option(help="classification")
    skymodel: SkymodelConfig = option(help="starting sky model of the Dutch direction-dependent solve")


def load_selection_config(config_file: Path | None = None, overrides=()) -> SelectionConfig:
    """Shipped defaults (configs/select_calibrators.yaml), then a YAML file, then ``key=value`` overrides."""
    data = load_yaml(config_file) if config_file else {}
    cfg = from_mapping(SelectionConfig, apply_overrides(data, list(overrides)))
    if cfg.classify.weak_max_rad < cfg.classify.main_max_rad:
        raise InputError(f"classify.weak_max_rad ({cfg.classify.weak_max_rad}) is below classify.main_max_rad "
                         f"({cfg.classify.main_max_rad})", setting="classify.weak_max_rad")
    return cfg
