"""Settings of the direction-independent calibrator and target pipelines (one schema each).

The classes hold types, units, limits and help; the default values, each with its
source (de Gasperin et al. 2019, A&A 622, A5, section 4, for the calibrator),
live in ``configs/di_calibrator.yaml`` and ``configs/di_target.yaml``. A user's
YAML file and ``key=value`` overrides are applied on top of them.

Solution intervals are given in seconds and hertz (``solint_s``, ``solint_hz``)
and rounded to whole time slots and channels of the data by
:func:`lofar_hires.runners.dp3_steps.time_slots` and ``freq_channels``
(see :func:`solution_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, option, shipped_defaults
from lofar_hires.runners import dp3_steps


def solution_cells(solint_s: float | None, solint_hz: float | None, integration_s: float, chan_width_hz: float,
                   n_chan: int) -> tuple[int, int]:
    """Time slots and channels per solution on data of this resolution (one each for None).

    The intervals are rounded to the data's grid by :func:`lofar_hires.runners.dp3_steps.time_slots`
    and :func:`lofar_hires.runners.dp3_steps.freq_channels`.
    """
    slots = 1 if solint_s is None else dp3_steps.time_slots(solint_s, integration_s)
    channels = 1 if solint_hz is None else dp3_steps.freq_channels(solint_hz, chan_width_hz, n_chan)
    return slots, channels


@dataclass(frozen=True)
@shipped_defaults("di_calibrator.yaml", "averaging")
class AveragingConfig:
    time_resolution_s: float = option(help="time resolution after averaging (rounded to whole integrations; "
                                      "never finer than the data)", unit="s", min=0.0)
    freq_resolution_hz: float = option(help="frequency resolution after averaging (rounded to whole channels; "
                                       "never finer than the data)", unit="Hz", min=0.0)


@dataclass(frozen=True)
@shipped_defaults("di_calibrator.yaml", "flagging")
class FlaggingConfig:
    aoflagger: bool = option(help="run DP3's aoflagger step")
    aoflagger_strategy: str = option(help="AOFlagger strategy: a name shipped with DP3 (lofar-default, "
                                     "lofar-hba-wideband, ...) or a .lua path")
    flag_stations: list[str] = option(help="stations to flag completely (names or globs)")


@dataclass(frozen=True)
@shipped_defaults("di_calibrator.yaml", "solve")
class SolveConfig:
    minuv_lambda: float = option(help="shortest baseline used in the solves", unit="lambda", min=0.0)
    solint_s: float | None = option(help="time interval of a solution, rounded to whole time slots of the "
                                    "averaged data (at least one; null: one slot)", unit="s", min=0.0)
    solint_hz: float | None = option(help="frequency interval of a solution, rounded to whole channels of the "
                                     "averaged data (at least one; null: one channel)", unit="Hz", min=0.0)
    maxiter: int = option(help="maximum solver iterations", min=1)
    tolerance: float = option(help="solver convergence tolerance", min=0.0)
    step_size: float = option(help="fraction of the way from one iteration's solution to the next that DDECal "
                              "takes (DP3's stepsize): larger values converge in fewer iterations", min=0.01, max=1.0)

    def cells(self, integration_s: float, chan_width_hz: float, n_chan: int) -> tuple[int, int]:
        """Time slots and channels per solution on data of this resolution (:func:`solution_cells`)."""
        return solution_cells(self.solint_s, self.solint_hz, integration_s, chan_width_hz, n_chan)


@dataclass(frozen=True)
@shipped_defaults("di_calibrator.yaml", "fits")
class FitConfig:
    polalign_offset: bool = option(help="fit a constant XX-YY phase offset besides the delay")
    reference_xy_delay: bool = option(help="include the reference station's own X-Y delay in the alignment "
                                      "(fitted from the doubled X-Y phases, assuming no constant X-Y phase "
                                      "offset), so that the corrected data have X-Y phase 0 and the rotation "
                                      "solves start on the branch with the right sign of the RM")
    polalign_refine: bool = option(help="refine the alignment on the diagonal solve made after the beam and "
                                   "Faraday rotation are removed, then solve that again")
    delay_range_s: float = option(help="initial search range of the XX-YY delay; widened up to 1/(2 channel "
                                  "spacing) for stations found at its edge", unit="s", min=1e-10)
    rm_range_rad_m2: float = option(help="initial search range of the rotation measure", unit="rad/m^2",
                                    min=0.01)
    rm_max_range_rad_m2: float = option(help="largest search range of the rotation measure (also kept below the "
                                        "RM that aliases on the channels)", unit="rad/m^2", min=0.01)
    bandpass_outlier_sigma: float = option(help="bandpass channels further than this many robust sigmas from "
                                           "their neighbours are flagged", unit="sigma", min=1.0)
    clocktec_mode: str = option(help="separate: fit clock and TEC (refused where the band cannot separate them); "
                                "combined: one delay holding clock and ionosphere together (for narrow bands; "
                                "no TEC is written)", choices=["separate", "combined"])
    clock_range_s: float = option(help="initial search range of the clock", unit="s", min=1e-10)
    clock_max_range_s: float = option(help="largest search range of the clock (also kept below 1/(2 channel "
                                      "spacing), beyond which clocks alias)", unit="s", min=1e-10)
    tec_range_tecu: float = option(help="initial search range of the TEC", unit="TECU", min=0.001)
    tec_max_range_tecu: float = option(help="largest search range of the TEC", unit="TECU", min=0.001)
    clocktec_offset: bool = option(help="fit a phase offset besides clock and TEC")
    clock_tolerance_s: float = option(help="largest expected clock error (1 sigma, from the band and the phase "
                                      "noise) for clock and TEC to count as separated", unit="s", min=0.0)
    tec_tolerance_tecu: float = option(help="largest expected TEC error (1 sigma) for clock and TEC to count as "
                                       "separated", unit="TECU", min=0.0)
    min_alias_chi2: float = option(help="smallest chi-square (summed over time) between the clock/TEC track and "
                                   "its nearest alias for the aliases to count as told apart", min=0.0)
    max_residual_ratio: float = option(help="a station fails its clock/TEC fit when the median rms residual "
                                       "exceeds this many times the phase noise; a single time slot whose "
                                       "residual does gets weight 0", min=1.0)
    max_residual_rad: float = option(help="a station fails a fit whose median rms residual exceeds this (random "
                                     "phases give 1.8 rad)", unit="rad", min=0.0)


@dataclass(frozen=True)
@shipped_defaults("di_calibrator.yaml")
class CalibratorConfig:
    reference_station: str = option(help="reference station of all differential solutions (the first CS002 "
                                    "field, else the first core station, is used if absent)")
    averaging: AveragingConfig = option(help="averaging before solving")
    flagging: FlaggingConfig = option(help="flagging before solving")
    solve: SolveConfig = option(help="DDECal settings of every solve")
    fits: FitConfig = option(help="fits that separate the effects")
    apply_beam: bool = option(help="correct the station beam (DP3 applybeam) from step 2 on")
    min_model_coherence: float = option(help="refuse a model whose coherence with the data on core baselines is "
                                        "below this (a model of another source)", min=0.0, max=1.0)
    model_ratio_range: tuple[float, float] = option(help="refuse a model whose median amplitude ratio data/model "
                                                    "on the shortest non-core baselines is outside this range "
                                                    "(wrong flux scale or source)", min=0.0)
    allow_failed_stations: bool = option(help="finish with exit status 0 even when stations failed their fits "
                                         "(they are flagged in cal_solutions.h5 and listed in the report); by "
                                         "default such a run ends with exit status 4")
    threads: int = option(help="DP3 threads", min=1, max=1024)


@dataclass(frozen=True)
@shipped_defaults("di_target.yaml")
class TargetConfig:
    corrections: list[str] = option(help="soltabs of cal_solutions.h5 applied to the target, in this order "
                                    "(outermost effect first)")
    apply_beam: bool = option(help="correct the station beam at the phase centre (DP3 applybeam)")
    averaging: AveragingConfig = option(help="averaging of the corrected data")
    flagging: FlaggingConfig = option(help="flagging")
    phase_calibration: bool = option(help="self-calibrate against a sky model (which must then be given)")
    phase_mode: str = option(help="DDECal mode of that calibration: scalarphase (LINC), diagonalphase, or "
                             "rotation+diagonal (also removes differential Faraday rotation and amplitude errors)",
                             choices=["scalarphase", "diagonalphase", "rotation+diagonal"])
    phase_solint_s: float | None = option(help="time interval of a phase solution, rounded to whole time slots of "
                                          "the averaged data (at least one; null: one slot)", unit="s", min=0.0)
    phase_solint_hz: float | None = option(help="frequency interval of a phase solution, rounded to whole "
                                           "channels of the averaged data (at least one; null: one channel)",
                                           unit="Hz", min=0.0)
    phase_smoothness_hz: float = option(help="DDECal frequency smoothness kernel (0: none)", unit="Hz", min=0.0)
    phase_maxiter: int = option(help="maximum DDECal iterations of the phase solve; intervals that reach it are "
                                "reported as unconverged", min=1)
    minuv_lambda: float = option(help="shortest baseline used in the phase solve", unit="lambda", min=0.0)
    threads: int = option(help="DP3 threads", min=1, max=1024)

    def phase_cells(self, integration_s: float, chan_width_hz: float, n_chan: int) -> tuple[int, int]:
        """Time slots and channels per phase solution on data of this resolution (:func:`solution_cells`)."""
        return solution_cells(self.phase_solint_s, self.phase_solint_hz, integration_s, chan_width_hz, n_chan)


def _load(cls: type, config_file: Path | None, overrides: list[str] | tuple[str, ...]) -> Any:
    """The shipped defaults of ``cls``, then a YAML file, then ``key=value`` overrides."""
    data = load_yaml(config_file) if config_file else {}
    return from_mapping(cls, apply_overrides(data, list(overrides)))


def load_calibrator_config(config_file: Path | None = None, overrides=()) -> CalibratorConfig:
    """Shipped defaults (configs/di_calibrator.yaml), then a YAML file, then overrides."""
    return _load(CalibratorConfig, config_file, overrides)


def load_target_config(config_file: Path | None = None, overrides=()) -> TargetConfig:
    """Shipped defaults (configs/di_target.yaml), then a YAML file, then overrides."""
    return _load(TargetConfig, config_file, overrides)
