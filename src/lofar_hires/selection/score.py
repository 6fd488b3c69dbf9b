"""Phasediff scores of candidate calibrators on a DI-calibrated observation, with DP3.

Per candidate (:func:`score_candidate`):

1. one DP3 run: ``phaseshift`` to the candidate, ``averager`` to the score
   resolution, ``stationadder`` + ``filter`` to phase up the core stations into
   the superstation and drop them;
2. the averaged visibilities are converted to the circular basis (RR, RL, LR, LL)
   in chunks (python-casacore, in the candidate's own work MS);
3. one DP3 run: ``ddecal`` diagonalphase against a 1 Jy point source at the new
   phase centre, with the score's solution interval, one solution per channel
   and the long-baseline cut;
4. the R-L phase differences of the score stations give sigma_c
   (:mod:`lofar_hires.selection.phasediff`);
5. the noise level of the score for the same samples (weights, reference, stations):
   the median score of pure noise and the score that noise stays below with probability
   ``score.false_alarm`` (:mod:`lofar_hires.selection.noise`).

Before any DP3 run, :func:`require_enough_values` refuses data that give fewer phase
values (solution intervals x channel pairs x score stations) than a main calibrator
needs to be told from noise (:func:`lofar_hires.selection.noise.minimum_values`).

Candidate names become file names only through :func:`lofar_hires.io.names.safe_names`
and :func:`lofar_hires.io.names.inside`. Nothing is written into the input measurement sets.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.io.ms import MsInfo, read_ms_info, require_ms
from lofar_hires.io.names import inside, safe_name
from lofar_hires.io.skymodel import SkyModel, write_makesourcedb
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Dp3Step, run_steps
from lofar_hires.selection.config import ClassifyConfig, ScoreConfig
from lofar_hires.selection.noise import minimum_values, noise_level
from lofar_hires.selection.phasediff import lin_to_circ_visibilities, phase_differences, phasediff_score
from lofar_hires.selection.sky import separation_deg
from lofar_hires.selection.table import CalibratorRow
from lofar_hires.solutions.stations import resolve_stations

log = logging.getLogger(__name__)

#: Rows per chunk of the circular-basis conversion.
CHUNK_ROWS = 20000
#: Below this many data samples averaged into one score cell (time x frequency) the other sources of the
#: field are suppressed on the long baselines by only ~1/sqrt(samples); a warning says so.
MIN_SAMPLES_AVERAGED = 100


@dataclass
class ScoreResult:
    """The phasediff score of one candidate and how it was obtained."""

    name: str
    ra_deg: float
    dec_deg: float
    score_rad: float | None
    stations: list[str]
    per_station_rad: dict[str, float | None] = field(default_factory=dict)
    n_values: int = 0
    n_solution_intervals: int = 0
    n_channels: int = 0
    noise_median_rad: float | None = None
    noise_threshold_rad: float | None = None
    n_effective: float | None = None
    false_alarm: float | None = None
    noise_draws: int = 0
    file_stem: str = ""
    distance_deg: float = 0.0
    reference: str | None = None
    note: str = ""
    wall_time_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScorePlan:
    """What the score runs on: the stations after phase-up and the resolved station sets."""

    core: list[str]
    stations_after: list[str]
    score_stations: list[str]
    reference: str | None
    timestep: int
    freqstep: int
    n_channels_out: int
    n_intervals: int = 1
    solint_slots: int = 1
    interval_s: float = 0.0
    n_subbands: int = 1

    @property
    def n_channel_pairs(self) -> int:
        """Adjacent channel pairs of the solutions (the subbands are concatenated in frequency)."""
        return self.n_channels_out * self.n_subbands - 1

    @property
    def n_values(self) -> int:
        """Phase values the score pools when nothing is flagged: intervals x channel pairs x score stations."""
        return self.n_intervals * self.n_channel_pairs * len(self.score_stations)

    def describe_values(self) -> str:
        """``13 intervals of 9.6 min x 31 channel pairs x 8 stations``."""
        intervals = "interval" if self.n_intervals == 1 else "intervals"
        pairs = "channel pair" if self.n_channel_pairs == 1 else "channel pairs"
        stations = "station" if len(self.score_stations) == 1 else "stations"
        return (f"{self.n_intervals} solution {intervals} of {self.interval_s / 60:.3g} min x {self.n_channel_pairs} "
                f"{pairs} x {len(self.score_stations)} score {stations}")


def plan_score(info: MsInfo, cfg: ScoreConfig, n_subbands: int = 1) -> ScorePlan:
    """Resolve stations, averaging and solution intervals for an MS (pure; clear errors for an MS the
    score cannot use). ``n_subbands`` MSs like ``info`` are concatenated in frequency."""
    names = list(info.station_names)
    core: list[str] = []
    if cfg.phaseup_core:
        core = resolve_stations(cfg.core_stations, names, where="score.core_stations")
        if len(core) < 2:
            log.warning("score: %d core station(s) match %r; the core is not phased up", len(core),
                        cfg.core_stations)
            core = []
        if cfg.superstation in names:
            raise InputError(f"score.superstation {cfg.superstation} is already a station of {info.path.name}")
    after = [n for n in names if n not in core] + ([cfg.superstation] if core else [])
    score_stations = resolve_stations(cfg.stations, after, where="score.stations")
    if not score_stations:
        raise InputError(f"{info.path.name} has no station matching score.stations={cfg.stations!r} (stations: "
                         f"{', '.join(after)}); the phasediff score needs the most distant international stations: "
                         "set score.stations")
    if cfg.reference == "none":
        reference = None
    elif cfg.reference == "superstation":
        reference = cfg.superstation if core else None
        if reference is None:
            log.warning("score: no superstation, so the R-L phase differences are not referenced")
    elif cfg.reference in after:
        reference = cfg.reference
    else:
        raise InputError(f"score.reference {cfg.reference!r} is not a station after phase-up "
                         f"({', '.join(after)}); use 'superstation', 'none' or one of those")
    if reference in score_stations:
        score_stations = [s for s in score_stations if s != reference]
        if not score_stations:
            raise InputError("score.stations holds only the reference station")
    n_chan = len(info.freqs_hz)
    timestep = dp3_steps.time_slots(cfg.time_resolution_s, info.integration_s)
    freqstep = dp3_steps.freq_channels(cfg.freq_resolution_hz, info.chan_width_hz, n_chan, min_out=2)
    n_out = n_chan // freqstep
    if n_out < 2:
        raise InputError(f"{info.path.name} has {n_chan} channel(s); the phasediff score needs at least two "
                         "channels after averaging")
    slot_s = info.integration_s * timestep
    n_slots = math.ceil(len(info.times_mjd_s) / timestep)
    solint = dp3_steps.time_slots(cfg.solint_s, slot_s)
    n_intervals = max(1, math.ceil(n_slots / solint))
    return ScorePlan(core, after, score_stations, reference, timestep, freqstep, n_out, n_intervals, solint,
                     solint * slot_s, max(1, int(n_subbands)))


def require_enough_values(plan: ScorePlan, cfg: ScoreConfig,
                          main_max_rad: float = ClassifyConfig().main_max_rad) -> int:
    """Refuse a plan whose score pools too few phase values to tell a main calibrator from noise.

    The minimum (:func:`lofar_hires.selection.noise.minimum_values`) is the smallest number of values
    whose noise threshold at ``cfg.false_alarm`` reaches ``main_max_rad``.

    Returns
    -------
    int
        The minimum number of values.

    Raises
    ------
    InputError
        Fewer values; the message gives the count as intervals x channel pairs x stations.
    """
    needed = minimum_values(main_max_rad, cfg.false_alarm)
    if plan.n_values < needed:
        raise InputError(
            f"the phasediff score needs at least {needed} phase values to tell a main calibrator (sigma_c < "
            f"{main_max_rad:g} rad) from noise at false-alarm probability {cfg.false_alarm:g} (now "
            f"{plan.n_values}: {plan.describe_values()}); use longer data, more channels (score.freq_resolution_hz) "
            f"or more stations (score.stations), or a shorter score.solint_s")
    return needed


def prepare_steps(ra_deg: float, dec_deg: float, plan: ScorePlan, cfg: ScoreConfig) -> list[Dp3Step]:
    """Phase shift, averaging and phase-up of the core (pure)."""
    steps = [dp3_steps.phaseshift(ra_deg, dec_deg), *dp3_steps.averager(plan.timestep, plan.freqstep)]
    steps += dp3_steps.phaseup(plan.core, cfg.superstation)
    return steps


def solve_step(h5parm: Path, skymodel: Path, solint: int, cfg: ScoreConfig) -> Dp3Step:
    """DDECal diagonalphase per channel against the point model (pure)."""
    return dp3_steps.ddecal("diagonalphase", h5parm, solint_slots=solint, nchan=1, minuv_lambda=cfg.minuv_lambda,
                            maxiter=cfg.maxiter, tolerance=cfg.tolerance, sourcedb=skymodel,
                            propagate_solutions=False)


def convert_to_circular(ms: Path, column: str = "DATA", chunk_rows: int = CHUNK_ROWS) -> None:
    """Convert ``column`` of ``ms`` from XX, XY, YX, YY to RR, RL, LR, LL in place, in chunks.

    A visibility with any correlation flagged is flagged in all four (the basis change mixes them).
    """
    from casacore.tables import table

    with table(str(ms), readonly=False, ack=False) as t:
        n = t.nrows()
        for start in range(0, n, chunk_rows):
            nrow = min(chunk_rows, n - start)
            data = t.getcol(column, startrow=start, nrow=nrow)
            flag = t.getcol("FLAG", startrow=start, nrow=nrow)
            anyflag = np.any(flag, axis=-1, keepdims=True)
            data = np.where(anyflag, 0.0, data)
            t.putcol(column, lin_to_circ_visibilities(data), startrow=start, nrow=nrow)
            t.putcol("FLAG", np.broadcast_to(anyflag, flag.shape).copy(), startrow=start, nrow=nrow)
    with table(str(Path(ms) / "POLARIZATION"), readonly=False, ack=False) as t:
        t.putcol("CORR_TYPE", np.array([[5, 6, 7, 8]] * t.nrows(), dtype=np.int32))


def point_model(path: Path, name: str, ra_deg: float, dec_deg: float) -> Path:
    """A 1 Jy flat-spectrum point source (makesourcedb) at the candidate."""
    model = SkyModel(names=[name], types=["POINT"], patches=[name], ra_rad=np.radians([ra_deg]),
                     dec_rad=np.radians([dec_deg]), i_jy=np.ones(1), ref_freq_hz=np.full(1, 150e6),
                     spectral_index=np.zeros((1, 1)), log_si=np.ones(1, bool), major_arcsec=np.zeros(1),
                     minor_arcsec=np.zeros(1), orientation_deg=np.zeros(1))
    return write_makesourcedb(model, path)


def read_diagonal_phases(h5parm: Path) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """phase000 of a diagonalphase solve as (time, freq, ant, pol) values and weights, antenna names, n_time."""
    solset = read_h5parm(h5parm)
    if "phase000" not in solset.soltabs:
        raise InputError(f"{h5parm} has no phase000 soltab")
    tab = solset.soltabs["phase000"].canonical()
    val, weight = tab.val, tab.weight
    axes = list(tab.axes)
    if "dir" in tab.axes:
        pos = axes.index("dir")
        val, weight = np.take(val, 0, axis=pos), np.take(weight, 0, axis=pos)
        axes.remove("dir")
    if axes != ["time", "freq", "ant", "pol"] or val.shape[-1] != 2:
        raise InputError(f"{h5parm}: expected diagonal phases on (time, freq, ant, pol=2), got {axes} {val.shape}")
    return val, weight, [str(a) for a in tab.axes["ant"]], val.shape[0]


@dataclass(frozen=True)
class ScoreSetup:
    """What every candidate of one observation shares: the MSs, their metadata and the plan (read once)."""

    ms_paths: tuple[Path, ...]
    info: MsInfo
    plan: ScorePlan
    min_values: int = 0


def prepare_scoring(ms_paths: Sequence[Path], cfg: ScoreConfig,
                    main_max_rad: float = ClassifyConfig().main_max_rad) -> ScoreSetup:
    """Check the measurement sets, plan the score and check that it has enough values (metadata are
    read once for all candidates); nothing runs before these checks pass."""
    if not ms_paths:
        raise InputError("give at least one measurement set to score on")
    for ms in ms_paths:
        require_ms(ms, (cfg.data_column,))
    info = read_ms_info(ms_paths[0])
    plan = plan_score(info, cfg, len(ms_paths))
    needed = require_enough_values(plan, cfg, main_max_rad)
    log.info("score: %d phase values when nothing is flagged (%s); at least %d needed", plan.n_values,
             plan.describe_values(), needed)
    averaged = plan.timestep * plan.freqstep
    if averaged < MIN_SAMPLES_AVERAGED:
        log.warning("score: each score cell averages only %d data samples (%d in time x %d in frequency), so the "
                    "other sources of the field are suppressed on the long baselines by only about 1/sqrt(%d) = "
                    "%.2f; their signal is the same in R and L and can make a position without a source score "
                    "better than noise (use data at finer time and frequency resolution)", averaged, plan.timestep,
                    plan.freqstep, averaged, averaged ** -0.5)
    return ScoreSetup(tuple(Path(p) for p in ms_paths), info, plan, needed)


def score_candidate(setup: ScoreSetup, row: CalibratorRow, cfg: ScoreConfig, workdir: Path,
                    provenance: Provenance | None = None, file_stem: str | None = None) -> ScoreResult:
    """The phasediff score of one candidate and its noise level (see the module description).

    Parameters
    ----------
    setup
        The DI-calibrated measurement sets of one observation (subbands, concatenated in frequency
        by DP3) with their metadata and plan (:func:`prepare_scoring`).
    row
        The candidate.
    cfg
        Score settings (the ones the setup was planned with).
    workdir
        Where the candidate's solutions (``<stem>.phasediff.h5``), parsets and DP3 logs go; its
        averaged MS is made here and removed.
    provenance
        Record of the DP3 runs.
    file_stem
        File-name component of the candidate's products; default ``safe_name(row.name)``. Give
        the values of :func:`lofar_hires.io.names.safe_names` over all candidates written into
        one directory, so that no two collide.
    """
    start = time.monotonic()
    info, plan = setup.info, setup.plan
    stem = safe_name(row.name, what="calibrator") if file_stem is None else file_stem
    centre_ra, centre_dec = (math.degrees(a) for a in info.phase_centre_rad)
    distance = float(separation_deg(centre_ra, centre_dec, row.ra_deg, row.dec_deg))
    result = ScoreResult(row.name, row.ra_deg, row.dec_deg, None, list(plan.score_stations),
                         distance_deg=distance, reference=plan.reference, file_stem=stem)
    if distance > cfg.max_distance_deg:
        result.note = (f"not scored: {distance:.2f} deg from the phase centre (score.max_distance_deg = "
                       f"{cfg.max_distance_deg})")
        log.warning("%s: %s", row.name, result.note)
        return result
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    ms_out = inside(work, f"{stem}.score.ms")
    h5 = inside(work, f"{stem}.phasediff.h5")
    skymodel = point_model(inside(work, f"{stem}.point.skymodel"), stem, row.ra_deg, row.dec_deg)
    msin = list(setup.ms_paths) if len(setup.ms_paths) > 1 else setup.ms_paths[0]
    try:
        run_steps(msin, ms_out, prepare_steps(row.ra_deg, row.dec_deg, plan, cfg), work, f"{stem}.prepare",
                  data_column=cfg.data_column, threads=cfg.threads, provenance=provenance)
        convert_to_circular(ms_out)
        h5.unlink(missing_ok=True)
        run_steps(ms_out, None, [solve_step(h5, skymodel, plan.solint_slots, cfg)], work, f"{stem}.solve",
                  threads=cfg.threads, provenance=provenance)
    finally:
        shutil.rmtree(ms_out, ignore_errors=True)
    phase, weight, ants, n_time = read_diagonal_phases(h5)
    ref_index = ants.index(plan.reference) if plan.reference is not None else None
    diff, dweight = phase_differences(phase, weight, ref_index)
    mask = np.isin(ants, plan.score_stations)
    try:
        score, per_station, n_values = phasediff_score(diff, dweight, mask)
    except InputError as exc:
        result.note = f"not scored: {exc}"
        log.warning("%s: %s", row.name, result.note)
        return result
    noise = noise_level(weight, ref_index, mask, cfg.false_alarm, cfg.noise_draws)
    result.score_rad = score if math.isfinite(score) else None
    if result.score_rad is None:
        result.note = "the R-L phases are uniformly random (resultant length 0)"
    result.per_station_rad = {a: (None if not np.isfinite(s) else float(s)) for a, s in zip(ants, per_station)
                              if a in plan.score_stations}
    result.n_values, result.n_solution_intervals, result.n_channels = n_values, n_time, phase.shape[1]
    result.noise_median_rad, result.noise_threshold_rad = noise.median_rad, noise.threshold_rad
    result.n_effective, result.false_alarm, result.noise_draws = noise.n_effective, noise.false_alarm, noise.n_draws
    if n_values < setup.min_values:
        log.warning("%s: only %d unflagged phase values (at least %d needed for a main calibrator to be told from "
                    "noise); the noise threshold is %.2f rad", row.name, n_values, setup.min_values,
                    noise.threshold_rad)
    result.wall_time_s = time.monotonic() - start
    log.info("%s: sigma_c = %s rad over %s (%d values, %d interval(s) x %d channels; noise median %.2f rad, "
             "%.2f rad at false-alarm %g; %.1f s)", row.name,
             "n/a" if result.score_rad is None else f"{result.score_rad:.3f}", ",".join(plan.score_stations),
             n_values, n_time, phase.shape[1], noise.median_rad, noise.threshold_rad, noise.false_alarm,
             result.wall_time_s)
    return result
