"""DP3 steps of the direction-independent pipelines from their settings.

The steps themselves are built by :mod:`lofar_hires.runners.dp3_steps`; this module
only reads the calibration settings (flagging, averaging, solves) and asks for them.
"""

from __future__ import annotations

from pathlib import Path

from lofar_hires.calibration.config import AveragingConfig, FlaggingConfig, SolveConfig
from lofar_hires.environment import aoflagger_strategy
from lofar_hires.io.ms import MsInfo
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Dp3Step


def flagging(cfg: FlaggingConfig) -> list[Dp3Step]:
    """Station flags and AOFlagger, as configured."""
    steps = dp3_steps.station_flags(cfg.flag_stations)
    if cfg.aoflagger:
        strategy = Path(cfg.aoflagger_strategy)
        if not strategy.is_file():
            strategy = aoflagger_strategy(cfg.aoflagger_strategy)
        steps.append(dp3_steps.aoflagger(strategy))
    return steps


def averaging(info: MsInfo, cfg: AveragingConfig) -> list[Dp3Step]:
    """An averager to the configured resolution (never finer than the data); nothing if already there."""
    return dp3_steps.averaging(info.integration_s, info.chan_width_hz, len(info.freqs_hz), cfg.time_resolution_s,
                               cfg.freq_resolution_hz)[2]


def solve(mode: str, h5parm: Path, cfg: SolveConfig, info: MsInfo, model_column: str = "MODEL_DATA") -> Dp3Step:
    """A DDECal solve of the calibrator (data described by ``info``) against one model column."""
    slots, nchan = cfg.cells(info.integration_s, info.chan_width_hz, len(info.freqs_hz))
    return dp3_steps.ddecal(mode, h5parm, solint_slots=slots, nchan=nchan, minuv_lambda=cfg.minuv_lambda,
                            maxiter=cfg.maxiter, tolerance=cfg.tolerance, step_size=cfg.step_size,
                            model_columns=[model_column])
