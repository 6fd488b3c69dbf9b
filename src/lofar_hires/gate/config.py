"""Settings of the calibratability gate (one schema; the default values, with their sources, live in
``configs/calibratability.yaml``). The phasediff score itself is measured with the score settings of
:class:`lofar_hires.selection.config.SelectionConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, option, shipped_defaults
from lofar_hires.errors import InputError


@dataclass(frozen=True)
@shipped_defaults("calibratability.yaml", "phasediff")
class PhasediffGateConfig:
    max_score_rad: float = option(help="the calibrator's phasediff score must be below this", unit="rad",
                                  min=0.01, max=3.14)


@dataclass(frozen=True)
@shipped_defaults("calibratability.yaml", "flags")
class FlagGateConfig:
    max_flagged_fraction: float = option(help="at most this fraction of the visibilities may be flagged", min=0.0,
                                         max=1.0)


@dataclass(frozen=True)
@shipped_defaults("calibratability.yaml", "ionosphere")
class IonosphereGateConfig:
    max_dtec_rate_tecu_per_min: float = option(help="the rms rate of change of the differential TEC may be at most "
                                               "this", unit="TECU/min", min=1e-6)
    window_s: float = option(help="the TEC rate is the change from the start to the end of windows this long "
                             "(at least one solution interval)", unit="s", min=1.0)
    stations: str = option(help="stations whose TEC rate is measured (station groups of "
                           "configs/station_groups.yaml, names or patterns)")
    reference_stations: str = option(help="the TEC of each time is relative to the mean of these stations")


@dataclass(frozen=True)
@shipped_defaults("calibratability.yaml")
class CalibratabilityConfig:
    phasediff: PhasediffGateConfig = option(help="phasediff score of the in-field calibrator")
    flags: FlagGateConfig = option(help="flagged visibilities")
    ionosphere: IonosphereGateConfig = option(help="ionospheric activity from the direction-independent solutions")


def load_calibratability_config(config_file: Path | None = None, overrides=()) -> CalibratabilityConfig:
    """Shipped defaults (configs/calibratability.yaml), then a YAML file, then ``key=value`` overrides."""
    data = load_yaml(config_file) if config_file else {}
    return from_mapping(CalibratabilityConfig, apply_overrides(data, list(overrides)))


def require_settings_file(path: Path | None, setting: str) -> None:
    """Refuse a settings file that holds no setting (empty, or only comments): most likely the wrong file."""
    if path is not None and not load_yaml(path):
        raise InputError(f"the settings file {path} holds no setting", setting=setting)
