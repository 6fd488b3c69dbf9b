"""DP3 operations of the calibration pipelines: building steps and running them.

The step builders are pure functions (``*_steps``); the ``run_*`` functions run
one DP3 process each. Corrections are given outermost effect first (the order
in which DP3 must remove them): e.g. polarisation alignment, bandpass, clock,
then the beam, then Faraday rotation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lofar_hires.calibration.config import AveragingConfig, FlaggingConfig, SolveConfig
from lofar_hires.environment import aoflagger_strategy
from lofar_hires.errors import InputError
from lofar_hires.io.ms import MsInfo
from lofar_hires.provenance import Provenance
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3

__all__ = ["Correction", "Dp3Step"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Correction:
    """Soltabs of one h5parm to apply, or the station beam (``beam=True``)."""

    h5parm: Path | None = None
    soltabs: tuple[str, ...] = ()
    fulljones: bool = False
    beam: bool = False

    @staticmethod
    def station_beam() -> Correction:
        return Correction(beam=True)


def averaging_steps(info: MsInfo, cfg: AveragingConfig) -> list[Dp3Step]:
    """An averager to the requested resolution (never finer than the data); nothing if already there."""
    timestep = max(1, int(round(cfg.time_resolution_s / info.integration_s))) if info.integration_s > 0 else 1
    freqstep = max(1, int(round(cfg.freq_resolution_hz / info.chan_width_hz))) if info.chan_width_hz > 0 else 1
    while freqstep > 1 and len(info.freqs_hz) % freqstep:
        freqstep -= 1  # DP3 averages whole groups; keep every channel used
    if timestep == 1 and freqstep == 1:
        return []
    log.info("averaging %d time slot(s) and %d channel(s) together", timestep, freqstep)
    return [Dp3Step("avg", "averager", {"timestep": timestep, "freqstep": freqstep})]


def phaseup_steps(core: Sequence[str], superstation: str) -> list[Dp3Step]:
    """Phase up ``core`` into ``superstation`` (DP3 stationadder) and drop the core stations (filter)."""
    if not core:
        return []
    joined = ",".join(core)
    return [Dp3Step("phaseup", "stationadder", {"stations": f"{{{superstation}:[{joined}]}}"}),
            Dp3Step("dropcore", "filter", {"baseline": f"!{joined}&&*", "remove": True})]


def flagging_steps(cfg: FlaggingConfig) -> list[Dp3Step]:
    """Station flags (preflagger) and AOFlagger, as configured."""
    steps = []
    if cfg.flag_stations:
        steps.append(Dp3Step("flagstations", "preflagger", {"baseline": [[s, "*"] for s in cfg.flag_stations]}))
    if cfg.aoflagger:
        strategy = Path(cfg.aoflagger_strategy)
        if not strategy.is_file():
            strategy = aoflagger_strategy(cfg.aoflagger_strategy)
        steps.append(Dp3Step("aoflag", "aoflagger", {"strategy": strategy}))
    return steps


def predict_steps(skymodel: Path) -> list[Dp3Step]:
    if not Path(skymodel).is_file():
        raise InputError(f"sky model {skymodel} does not exist")
    return [Dp3Step("predict", "predict", {"sourcedb": Path(skymodel)})]


def correction_steps(corrections: Sequence[Correction], corrupt: bool = False) -> list[Dp3Step]:
    """applycal/applybeam steps removing ``corrections`` in the given (outermost-first) order.

    With ``corrupt=True`` the effects are applied instead of removed (``invert=false``), to
    corrupt a model; give them innermost first then.
    """
    steps = []
    invert = {"invert": False} if corrupt else {}
    for i, corr in enumerate(corrections):
        if corr.beam:
            if corrupt:
                # applybeam only corrupts data whose metadata say the beam was applied.
                steps.append(Dp3Step(f"setbeam{i}", "setbeam", {"beammode": "full"}))
            steps.append(Dp3Step(f"beam{i}", "applybeam", dict(invert)))
            continue
        if corr.h5parm is None or not corr.soltabs:
            raise InputError("a correction needs an h5parm and at least one soltab")
        if corr.fulljones:
            steps.append(Dp3Step(f"cal{i}", "applycal", {"parmdb": corr.h5parm, "correction": "fulljones",
                                                        "soltab": list(corr.soltabs), **invert}))
            continue
        options: dict = {"parmdb": corr.h5parm, "steps": [f"s{k}" for k in range(len(corr.soltabs))], **invert}
        options.update({f"s{k}.correction": tab for k, tab in enumerate(corr.soltabs)})
        steps.append(Dp3Step(f"cal{i}", "applycal", options))
    return steps


def ddecal_step(mode: str, h5parm: Path, cfg: SolveConfig, model_column: str = "MODEL_DATA",
                smoothness_hz: float = 0.0) -> Dp3Step:
    """A DDECal solve against a model column, writing ``h5parm``."""
    options = {"mode": mode, "h5parm": h5parm, "modeldatacolumns": [model_column], "solint": cfg.solint,
               "nchan": cfg.nchan, "uvlambdamin": cfg.uvlambdamin, "maxiter": cfg.maxiter,
               "tolerance": cfg.tolerance}
    if smoothness_hz > 0:
        options["smoothnessconstraint"] = smoothness_hz
    return Dp3Step("solve", "ddecal", options)


def run_steps(msin: Path | Sequence[Path], msout: Path | None, steps: Sequence[Dp3Step], workdir: Path,
              name: str, *, data_column: str = "DATA", out_column: str = "DATA", threads: int = 1,
              provenance: Provenance | None = None, extra_msin: dict | None = None) -> None:
    """One DP3 run. ``msout=None`` updates ``msin`` in place, writing ``out_column``."""
    msin_options = {"datacolumn": data_column, **(extra_msin or {})}
    msout_options = {"datacolumn": out_column}
    if msout is not None:
        msout_options["overwrite"] = True
    run = Dp3Run(msin=msin, msout=msout, steps=list(steps), msin_options=msin_options,
                 msout_options=msout_options, numthreads=threads)
    run_dp3(run, workdir, name, provenance=provenance)


def time_slots_per(seconds: float, integration_s: float) -> int:
    """Whole time slots closest to ``seconds`` (at least one)."""
    return max(1, int(math.floor(seconds / integration_s + 0.5)))
