"""Settings of the simulator: one schema (units, limits, help) for YAML and CLI.

The default of every setting, with its source, lives in
``configs/simulation_defaults.yaml``. Presets live in
``configs/simulation/<name>.yaml`` and list only what differs from those
defaults; ``lofar-hires simulate --preset small --set observation.n_chan=32``
overrides single values.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lofar_hires.config_schema import (
    apply_overrides,
    from_mapping,
    load_yaml,
    merge_mappings,
    option,
    shipped_defaults,
)
from lofar_hires.errors import InputError

#: The shipped file with the default of every simulator setting.
DEFAULTS_FILE = "simulation_defaults.yaml"


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "observation")
class ObservationConfig:
    field_name: str = option(help="name written to the FIELD table")
    pointing_ra_deg: float = option(help="phase centre right ascension (J2000)",
                                    unit="deg", min=0.0, max=360.0)
    pointing_dec_deg: float = option(help="phase centre declination (J2000)",
                                     unit="deg", min=-30.0, max=90.0)
    freq_min_hz: float = option(help="centre frequency of the first channel",
                                unit="Hz", min=110e6, max=190e6)
    n_chan: int = option(help="number of channels", min=1, max=65536)
    chan_width_hz: float = option(help="channel width", unit="Hz", min=1e3, max=20e6)
    integration_s: float = option(help="integration time per time slot", unit="s",
                                  min=0.1, max=600.0)
    duration_s: float = option(help="length of each observation", unit="s",
                               min=1.0, max=86400.0)
    start_date: str = option(help="UTC date (YYYY-MM-DD) of the first observation")
    start_lst_h: float | None = option(help="local sidereal time at the start of each observation (null: "
                                       "centred on the field's transit)", unit="h", min=0.0, max=24.0)
    n_observations: int = option(help="observations of the target on successive dates, "
                                 "covering the same LST range unless lst_step_h is set", min=1, max=50)
    date_step_days: int = option(help="days between successive observations", min=1, max=3650)
    lst_step_h: float = option(help="each further observation starts this many sidereal hours later in "
                               "LST than the one before (0: all cover the same LST range)", unit="h",
                               min=0.0, max=12.0)
    autocorrelations: bool = option(help="write autocorrelation rows (sva refuses them)")
    smearing: bool = option(help="average every visibility over its channel width and "
                            "integration time (bandwidth and time smearing, as the correlator and "
                            "averaging do); slower: sources are summed baseline by baseline")
    min_elevation_deg: float = option(help="refuse observations where the field is lower",
                                      unit="deg", min=0.0, max=90.0)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "stations")
class StationsConfig:
    core: list[str] = option(help="core stations (split HBA0/HBA1 names)")
    remote: list[str] = option(help="remote stations")
    international: list[str] = option(help="international stations")
    reference: str = option(help="reference station for truth tables (phases are "
                            "differential); must be one of the stations")


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "sky")
class SkyConfig:
    skymodel: Path | None = option(help="use this makesourcedb model instead of "
                                   "generating one (paths relative to the working directory)")
    field_radius_deg: float = option(help="radius within which sources are placed",
                                     unit="deg", min=0.001, max=10.0)
    n_bright: int = option(help="compact bright calibrator-like sources", min=0, max=1000)
    bright_flux_jy: tuple[float, float] = option(help="flux range of bright sources "
                                                 "at the reference frequency", unit="Jy", min=0.0)
    bright_min_separation_deg: float = option(help="minimum separation between bright "
                                              "sources", unit="deg", min=0.0, max=10.0)
    bright_min_radius_deg: float = option(help="bright sources lie at least this far from the "
                                          "pointing centre (0: anywhere in the field)", unit="deg",
                                          min=0.0, max=10.0)
    n_resolved: int = option(help="Gaussian sources resolved on international baselines",
                             min=0, max=1000)
    resolved_flux_jy: tuple[float, float] = option(help="flux range of resolved "
                                                   "sources", unit="Jy", min=0.0)
    resolved_fwhm_arcsec: tuple[float, float] = option(help="FWHM range of "
                                                       "resolved sources", unit="arcsec", min=0.0)
    n_faint: int = option(help="faint point sources (power-law flux distribution)",
                          min=0, max=100000)
    faint_flux_jy: tuple[float, float] = option(help="flux range of faint sources",
                                                unit="Jy", min=0.0)
    faint_count_slope: float = option(help="slope of dN/dS for faint sources",
                                      min=-4.0, max=0.0)
    n_faint_near_bright: int = option(help="extra faint sources placed next to each bright source "
                                      "(the non-calibrator of its facet)", min=0, max=100)
    faint_near_bright_deg: tuple[float, float] = option(help="range of the distance of those "
                                                        "sources from their bright source", unit="deg",
                                                        min=0.0)
    spectral_index_mean: float = option(help="mean spectral index", min=-5.0, max=5.0)
    spectral_index_std: float = option(help="spread of spectral indices", min=0.0, max=5.0)
    reference_freq_hz: float = option(help="reference frequency of the model",
                                      unit="Hz", min=1e6, max=1e10)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "calibrator")
class CalibratorConfig:
    enabled: bool = option(help="also simulate a calibrator observation per date")
    model: str = option(help="shipped calibrator model (3C196, 3C295) or a "
                        "makesourcedb path; the model's first patch sets the pointing")
    duration_s: float = option(help="length of the calibrator observation", unit="s",
                               min=1.0, max=86400.0)
    gap_s: float = option(help="time between calibrator end and target start",
                          unit="s", min=0.0, max=86400.0)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.clock")
class ClockConfig:
    enabled: bool = option(help="station clock delays (core stations share one clock)")
    offset_rms_ns: float = option(help="rms clock offset of remote/international stations",
                                  unit="ns", min=0.0, max=1e4)
    drift_rms_ns_per_hour: float = option(help="rms clock drift rate", unit="ns/h",
                                          min=0.0, max=1e4)
    gps_correction_interval_s: float = option(help="clocks are re-aligned (jump back) "
                                              "this often", unit="s", min=1.0)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.polalign")
class PolAlignConfig:
    enabled: bool = option(help="XX-YY polarisation delay per station")
    delay_rms_ns: float = option(help="rms XX-YY delay", unit="ns", min=0.0, max=1e3)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.bandpass")
class BandpassConfig:
    enabled: bool = option(help="station bandpass (diagonal, time independent)")
    gain_rms: float = option(help="rms relative gain between stations", min=0.0, max=1.0)
    ripple_fraction: float = option(help="amplitude of the ripple", min=0.0, max=0.5)
    ripple_period_hz: float = option(help="period of the ripple", unit="Hz", min=1e3)
    xy_difference_rms: float = option(help="rms X/Y gain difference", min=0.0, max=0.5)
    curvature: float = option(help="fractional drop of the gain 40 MHz from 150 MHz",
                              min=0.0, max=0.9)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.faraday")
class FaradayConfig:
    enabled: bool = option(help="differential Faraday rotation per station")
    rm_rms_at_100km_rad_m2: float = option(help="rms differential RM at 100 km from the core (scales as "
                                           "distance^(5/6))", unit="rad/m^2", min=0.0, max=100.0)
    variation_fraction: float = option(help="fraction of the RM that varies in time",
                                       min=0.0, max=10.0)
    timescale_s: float = option(help="correlation time of RM variations", unit="s",
                                min=1.0)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.tec")
class TecConfig:
    enabled: bool = option(help="direction-independent differential TEC per station")
    rms_at_100km_tecu: float = option(help="rms differential TEC at 100 km from the core "
                                      "(scales as distance^(5/6))", unit="TECU", min=0.0, max=100.0)
    timescale_s: float = option(help="correlation time of TEC variations", unit="s",
                                min=1.0)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.tecscreen")
class TecScreenConfig:
    enabled: bool = option(help="direction-dependent TEC from a frozen Kolmogorov screen")
    diffractive_scale_km: float = option(help="distance over which the phase structure "
                                         "function at 150 MHz reaches 1 rad^2", unit="km",
                                         min=0.01, max=1e5)
    height_km: float = option(help="height of the thin screen", unit="km", min=1.0,
                              max=2000.0)
    velocity_m_s: float = option(help="speed of the frozen-flow screen", unit="m/s",
                                 min=0.0, max=5000.0)
    direction_deg: float = option(help="direction the screen moves to (north through "
                                  "east)", unit="deg", min=0.0, max=360.0)
    outer_scale_km: float = option(help="largest structures of the screen", unit="km",
                                   min=1.0, max=1e5)
    inner_scale_km: float = option(help="smallest structures of the screen", unit="km",
                                   min=0.001, max=1e4)
    n_modes: int = option(help="Fourier modes used to synthesise the screen", min=16,
                          max=100000)
    relative_to_pointing: bool = option(help="subtract each station's screen value towards the "
                                        "pointing centre, as a direction-independent calibration "
                                        "does: the data keep only the differences between directions")


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.scintillation")
class ScintillationConfig:
    enabled: bool = option(help="amplitude scintillation (scalar, time variable)")
    rms_core: float = option(help="rms fractional amplitude, core stations", min=0.0, max=1.0)
    rms_remote: float = option(help="rms fractional amplitude, remote stations", min=0.0,
                               max=1.0)
    rms_international: float = option(help="rms fractional amplitude, international "
                                      "stations", min=0.0, max=1.0)
    timescale_s: float = option(help="correlation time", unit="s", min=0.1)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.beam")
class BeamConfig:
    enabled: bool = option(help="station beam (EveryBeam, Hamaker element model)")
    time_step_s: float = option(help="beam evaluated every this many seconds and "
                                "interpolated", unit="s", min=1.0)
    freq_step_hz: float = option(help="beam evaluated every this many Hz and "
                                 "interpolated", unit="Hz", min=1e3)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions.noise")
class NoiseConfig:
    enabled: bool = option(help="thermal noise from the radiometer equation")
    sefd_48_tiles_jy: float = option(help="SEFD of a 48-tile HBA field at "
                                     "reference_freq_hz (scales as 48/tiles)", unit="Jy", min=0.0)
    sefd_spectral_index: float = option(help="SEFD proportional to (nu/nu_ref)^index",
                                        min=-5.0, max=5.0)
    reference_freq_hz: float = option(help="frequency of sefd_48_tiles_jy", unit="Hz",
                                      min=1e6)


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE, "corruptions")
class CorruptionsConfig:
    clock: ClockConfig = option(help="station clocks")
    polalign: PolAlignConfig = option(help="polarisation delay")
    bandpass: BandpassConfig = option(help="bandpass")
    faraday: FaradayConfig = option(help="Faraday rotation")
    tec: TecConfig = option(help="direction-independent TEC")
    tecscreen: TecScreenConfig = option(help="direction-dependent TEC screen")
    scintillation: ScintillationConfig = option(help="amplitude scintillation")
    beam: BeamConfig = option(help="station beam")
    noise: NoiseConfig = option(help="thermal noise")


@dataclass(frozen=True)
@shipped_defaults(DEFAULTS_FILE)
class SimulationConfig:
    name: str = option(help="name of the configuration (preset name)")
    seed: int = option(help="random seed; equal seeds give identical outputs", min=0)
    observation: ObservationConfig = option(help="observation set-up")
    stations: StationsConfig = option(help="stations")
    sky: SkyConfig = option(help="sky model")
    calibrator: CalibratorConfig = option(help="calibrator observation")
    corruptions: CorruptionsConfig = option(help="instrumental and ionospheric corruptions")
    time_chunk: int = option(help="time slots predicted and written per chunk (memory)",
                             min=1, max=100000)

    @property
    def station_names(self) -> list[str]:
        return [*self.stations.core, *self.stations.remote, *self.stations.international]


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    folder = resources.files("lofar_hires.configs") / "simulation"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    """Path of a shipped preset YAML."""
    if name not in preset_names():
        raise InputError(f"unknown preset {name!r}; available: {', '.join(preset_names())}")
    return Path(str(resources.files("lofar_hires.configs") / "simulation" / f"{name}.yaml"))


def load_simulation_config(
    preset: str | None = None,
    config_file: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    seed: int | None = None,
) -> SimulationConfig:
    """Build a validated configuration: preset, then a YAML file, then ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if preset is not None:
        data = load_yaml(preset_path(preset))
        data.setdefault("name", preset)
    if config_file is not None:
        data = merge_mappings(data, load_yaml(config_file))
    data = apply_overrides(data, list(overrides))
    if seed is not None:
        data["seed"] = seed
    config = from_mapping(SimulationConfig, data)
    validate_simulation_config(config)
    return config


def validate_simulation_config(config: SimulationConfig) -> None:
    """Cross-field checks that the schema alone cannot express (errors name the setting).

    Raises
    ------
    InputError
        Unknown, misgrouped or duplicate stations, a reference outside the stations,
        a band beyond 190 MHz, an observation shorter than one integration, a range
        whose lower bound is above its upper bound, or a sky model that does not exist.
    """
    from lofar_hires.simulation.stations import validate_station_names

    st = config.stations
    for group in ("core", "remote", "international"):
        try:
            validate_station_names(getattr(st, group), group)
        except InputError as exc:
            raise InputError(f"stations.{group}: {exc}", setting=f"stations.{group}") from None
    names = config.station_names
    try:
        validate_station_names(names)
    except InputError as exc:
        raise InputError(f"stations: {exc}", setting="stations") from None
    if len(names) < 2:
        raise InputError("stations: at least 2 stations are needed", setting="stations")
    if st.reference not in names:
        raise InputError(f"stations.reference: {st.reference} is not among the stations",
                         setting="stations.reference")
    obs = config.observation
    top = obs.freq_min_hz + (obs.n_chan - 1) * obs.chan_width_hz
    if top > 190e6:
        raise InputError(f"observation.n_chan: the last channel ({top / 1e6:.2f} MHz) is above 190 MHz; reduce "
                         "observation.n_chan or observation.chan_width_hz", setting="observation.n_chan")
    if obs.duration_s < obs.integration_s:
        raise InputError(f"observation.duration_s: {obs.duration_s:g} s is shorter than one integration "
                         f"(observation.integration_s {obs.integration_s:g} s)", setting="observation.duration_s")
    for key in ("bright_flux_jy", "resolved_flux_jy", "resolved_fwhm_arcsec", "faint_flux_jy", "faint_near_bright_deg"):
        lo, hi = getattr(config.sky, key)
        if lo > hi:
            raise InputError(f"sky.{key}: lower bound {lo} is above upper bound {hi}", setting=f"sky.{key}")
    if config.sky.skymodel is not None and not Path(config.sky.skymodel).is_file():
        raise InputError(f"sky.skymodel: {config.sky.skymodel} does not exist", setting="sky.skymodel")
