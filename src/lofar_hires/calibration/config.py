"""Settings of the direction-independent calibrator and target pipelines (one schema each).

Defaults follow the LOFAR calibrator strategy of de Gasperin et al. (2019,
A&A 622, A5; section 4) and the LINC pipelines; they are shipped as
``configs/di_calibrator.yaml`` and ``configs/di_target.yaml`` and every value can
be overridden with ``--config FILE`` or ``--set key=value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, merge_mappings, option


@dataclass(frozen=True)
class AveragingConfig:
    time_resolution_s: float = option(4.0, help="time resolution after averaging (rounded to whole "
                                      "integrations; never finer than the data)", unit="s", min=0.0)
    freq_resolution_hz: float = option(195312.5, help="frequency resolution after averaging (HBA: one "
                                       "channel per subband is enough)", unit="Hz", min=0.0)


@dataclass(frozen=True)
class FlaggingConfig:
    aoflagger: bool = option(False, help="run DP3's aoflagger step")
    aoflagger_strategy: str = option("lofar-default", help="AOFlagger strategy: a name shipped with DP3 "
                                     "(lofar-default, lofar-hba-wideband, ...) or a .lua path")
    flag_stations: list[str] = option([], help="stations to flag completely (names or globs)")


@dataclass(frozen=True)
class SolveConfig:
    uvlambdamin: float = option(300.0, help="shortest baseline used in the solves", unit="lambda", min=0.0)
    solint: int = option(1, help="time slots per solution", min=1)
    nchan: int = option(1, help="channels per solution", min=1)
    maxiter: int = option(200, help="maximum solver iterations", min=1)
    tolerance: float = option(1e-5, help="solver convergence tolerance", min=0.0)


@dataclass(frozen=True)
class FitConfig:
    polalign_offset: bool = option(True, help="fit a constant XX-YY phase offset besides the delay")
    reference_xy_delay: bool = option(True, help="include the reference station's own X-Y delay in the "
                                      "alignment (fitted from the doubled X-Y phases, assuming no constant X-Y "
                                      "phase offset), so that the corrected data have X-Y phase 0 and the "
                                      "rotation solves start on the branch with the right sign of the RM")
    polalign_refine: bool = option(True, help="refine the alignment on the diagonal solve made after "
                                   "the beam and Faraday rotation are removed, then solve that again")
    delay_range_s: float = option(100e-9, help="initial search range of the XX-YY delay; widened up to "
                                  "1/(2 channel spacing) for stations found at its edge", unit="s", min=1e-10)
    rm_range_rad_m2: float = option(5.0, help="initial search range of the rotation measure", unit="rad/m^2",
                                    min=0.01)
    rm_max_range_rad_m2: float = option(50.0, help="largest search range of the rotation measure (also kept "
                                        "below the RM that aliases on the channels)", unit="rad/m^2", min=0.01)
    bandpass_outlier_sigma: float = option(5.0, help="bandpass channels further than this many robust "
                                           "sigmas from their neighbours are flagged", min=1.0)
    clocktec_mode: str = option("separate", help="separate: fit clock and TEC (refused where the band cannot "
                                "separate them); combined: one delay holding clock and ionosphere together "
                                "(for narrow bands; no TEC is written)", choices=["separate", "combined"])
    clock_range_s: float = option(200e-9, help="initial search range of the clock", unit="s", min=1e-10)
    clock_max_range_s: float = option(1e-6, help="largest search range of the clock (also kept below "
                                      "1/(2 channel spacing), beyond which clocks alias)", unit="s", min=1e-10)
    tec_range_tecu: float = option(3.0, help="initial search range of the TEC", unit="TECU", min=0.001)
    tec_max_range_tecu: float = option(50.0, help="largest search range of the TEC", unit="TECU", min=0.001)
    clocktec_offset: bool = option(False, help="fit a phase offset besides clock and TEC")
    clock_tolerance_s: float = option(1e-9, help="largest expected clock error (1 sigma, from the band and "
                                      "the phase noise) for clock and TEC to count as separated", unit="s",
                                      min=0.0)
    tec_tolerance_tecu: float = option(0.01, help="largest expected TEC error (1 sigma) for clock and TEC to "
                                       "count as separated", unit="TECU", min=0.0)
    min_alias_chi2: float = option(25.0, help="smallest chi-square (summed over time) between the clock/TEC "
                                   "track and its nearest alias for the aliases to count as told apart", min=0.0)
    max_residual_ratio: float = option(3.0, help="a station fails its clock/TEC fit when the median rms "
                                       "residual exceeds this many times the phase noise", min=1.0)
    max_residual_rad: float = option(1.0, help="a station fails a fit whose median rms residual exceeds this "
                                     "(random phases give 1.8 rad)", unit="rad", min=0.0)


@dataclass(frozen=True)
class CalibratorConfig:
    reference_station: str = option("CS002HBA0", help="reference station of all differential solutions "
                                    "(the first CS002 field, else the first core station, is used if absent)")
    averaging: AveragingConfig = option(default_factory=AveragingConfig, help="averaging before solving")
    flagging: FlaggingConfig = option(default_factory=FlaggingConfig, help="flagging before solving")
    solve: SolveConfig = option(default_factory=SolveConfig, help="DDECal settings of every solve")
    fits: FitConfig = option(default_factory=FitConfig, help="fits that separate the effects")
    apply_beam: bool = option(True, help="correct the station beam (DP3 applybeam) from step 2 on")
    min_model_coherence: float = option(0.5, help="refuse a model whose coherence with the data on core "
                                        "baselines is below this (a model of another source)", min=0.0, max=1.0)
    model_ratio_range: tuple[float, float] = option((0.5, 2.0), help="refuse a model whose median amplitude "
                                                    "ratio data/model on the shortest non-core baselines is "
                                                    "outside this range (wrong flux scale or source)", min=0.0)
    allow_failed_stations: bool = option(False, help="finish with exit status 0 even when stations failed "
                                         "their fits (they are flagged in cal_solutions.h5 and listed in the "
                                         "report); by default such a run ends with exit status 4")
    threads: int = option(2, help="DP3 threads", min=1, max=1024)


@dataclass(frozen=True)
class TargetConfig:
    corrections: list[str] = option(["polalign", "bandpass", "clock"], help="soltabs of cal_solutions.h5 "
                                    "applied to the target, in this order (outermost effect first)")
    apply_beam: bool = option(True, help="correct the station beam at the phase centre (DP3 applybeam)")
    averaging: AveragingConfig = option(default_factory=lambda: AveragingConfig(8.0, 97656.25),
                                        help="averaging of the corrected data")
    flagging: FlaggingConfig = option(default_factory=FlaggingConfig, help="flagging")
    phase_calibration: bool = option(False, help="self-calibrate against a sky model (needs --skymodel)")
    phase_mode: str = option("scalarphase", help="DDECal mode of that calibration: scalarphase (LINC), "
                             "diagonalphase, or rotation+diagonal (also removes differential Faraday "
                             "rotation and amplitude errors)",
                             choices=["scalarphase", "diagonalphase", "rotation+diagonal"])
    phase_solint: int = option(1, help="time slots per phase solution", min=1)
    phase_nchan: int = option(1, help="channels per phase solution (after averaging)", min=1)
    phase_smoothness_hz: float = option(0.0, help="DDECal frequency smoothness kernel (0: none)",
                                        unit="Hz", min=0.0)
    uvlambdamin: float = option(300.0, help="shortest baseline used in the phase solve", unit="lambda",
                                min=0.0)
    threads: int = option(2, help="DP3 threads", min=1, max=1024)


def _load(cls, name: str, config_file: Path | None, overrides: list[str] | tuple[str, ...]) -> Any:
    defaults = load_yaml(Path(str(resources.files("lofar_hires.configs") / name)))
    data = merge_mappings(defaults, load_yaml(config_file)) if config_file else defaults
    return from_mapping(cls, apply_overrides(data, list(overrides)))


def load_calibrator_config(config_file: Path | None = None, overrides=()) -> CalibratorConfig:
    """Shipped defaults (configs/di_calibrator.yaml), then a YAML file, then overrides."""
    return _load(CalibratorConfig, "di_calibrator.yaml", config_file, overrides)


def load_target_config(config_file: Path | None = None, overrides=()) -> TargetConfig:
    """Shipped defaults (configs/di_target.yaml), then a YAML file, then overrides."""
    return _load(TargetConfig, "di_target.yaml", config_file, overrides)
