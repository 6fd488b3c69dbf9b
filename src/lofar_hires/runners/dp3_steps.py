"""Every DP3 step the pipeline runs, built in one place.

Each builder takes typed arguments with units in their names and returns
:class:`~lofar_hires.runners.dp3.Dp3Step` objects; no other module writes a DP3
parset key (``tests/runners/test_dp3_steps.py`` enforces it). The solve modes
DDECal offers, the soltabs each writes and what its smoothness constraint acts
on are the table :data:`SOLVE_MODES`. Intervals given in seconds or hertz are
turned into whole time slots and channels of the data by :func:`time_slots`
and :func:`freq_channels` only.

Corrections are listed outermost effect first (the order in which DP3 must
remove them): e.g. polarisation alignment, bandpass, clock, then the beam, then
Faraday rotation. :func:`run_steps` runs one DP3 process on a list of steps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.provenance import Provenance, ToolRun
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3

__all__ = [
    "Correction", "Dp3Step", "DyscoSettings", "SOLVE_MODES", "SolveMode", "aoflagger", "applybeam", "applycal",
    "averager", "averaging", "combine", "correction_steps", "ddecal", "drop_stations", "freq_channels",
    "h5parm_predict", "model_buffer", "msout", "phaseshift", "phaseup", "predict", "predict_directions", "run_steps",
    "run_writing_steps", "solve_mode", "split", "station_flags", "time_slots",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- solve modes


@dataclass(frozen=True)
class SolveMode:
    """One DDECal solve mode: the soltabs it writes, their polarisations, and what is smoothed.

    Attributes
    ----------
    dp3_mode
        DDECal's ``mode`` value.
    soltabs
        Soltab names DDECal writes (solset ``sol000``).
    n_pol
        Polarisations per soltab: 1 (scalar), 2 (diagonal) or 4 (full Jones).
    amplitude
        Whether the mode solves for amplitudes (normalised after the solve).
    smoothed
        Whether DDECal's ``smoothnessconstraint`` (a Gaussian kernel in frequency) acts on it.
    fulljones
        Whether the solutions are applied as one full-Jones matrix.
    """

    dp3_mode: str
    soltabs: tuple[str, ...]
    n_pol: int
    amplitude: bool
    smoothed: bool = True
    fulljones: bool = False


#: DDECal modes (DP3 6.6) by the name the pipeline's settings use.
SOLVE_MODES: dict[str, SolveMode] = {
    "scalarphase": SolveMode("scalarphase", ("phase000",), 1, amplitude=False),
    "scalaramplitude": SolveMode("scalaramplitude", ("amplitude000",), 1, amplitude=True),
    "scalar": SolveMode("scalar", ("amplitude000", "phase000"), 1, amplitude=True),
    "diagonalphase": SolveMode("diagonalphase", ("phase000",), 2, amplitude=False),
    "diagonalamplitude": SolveMode("diagonalamplitude", ("amplitude000",), 2, amplitude=True),
    "diagonal": SolveMode("diagonal", ("amplitude000", "phase000"), 2, amplitude=True),
    "fulljones": SolveMode("fulljones", ("amplitude000", "phase000"), 4, amplitude=True, fulljones=True),
    "rotation": SolveMode("rotation", ("rotation000",), 1, amplitude=False),
    "rotation+diagonal": SolveMode("rotation+diagonal", ("amplitude000", "phase000", "rotation000"), 2,
                                   amplitude=True),
    "tec": SolveMode("tec", ("tec000",), 1, amplitude=False, smoothed=False),
    "tecandphase": SolveMode("tecandphase", ("phase000", "tec000"), 1, amplitude=False, smoothed=False),
}


def solve_mode(name: str) -> SolveMode:
    """The :class:`SolveMode` called ``name``; an :class:`InputError` listing the known ones otherwise."""
    try:
        return SOLVE_MODES[name]
    except KeyError:
        raise InputError(f"unknown solve mode {name!r}; known: {', '.join(SOLVE_MODES)}") from None


# --------------------------------------------------------------------------- intervals on the data's grid


def time_slots(interval_s: float, integration_s: float) -> int:
    """Whole time slots closest to ``interval_s`` (at least one; one when the integration is unknown)."""
    if integration_s <= 0:
        return 1
    return max(1, int(math.floor(interval_s / integration_s + 0.5)))


def freq_channels(interval_hz: float, chan_width_hz: float, n_chan: int, *, min_out: int = 1) -> int:
    """Channels per group closest to ``interval_hz``, dividing ``n_chan`` and leaving ``min_out`` groups.

    DP3's averager keeps only whole groups; a divisor of ``n_chan`` keeps every
    channel. The result is at least one.
    """
    if chan_width_hz <= 0 or n_chan < 1:
        return 1
    step = max(1, int(math.floor(interval_hz / chan_width_hz + 0.5)))
    step = min(step, max(1, n_chan // max(1, min_out)))
    while step > 1 and n_chan % step:
        step -= 1
    return step


# --------------------------------------------------------------------------- data selection and layout


def averager(timestep: int, freqstep: int, name: str = "avg", *, always: bool = False) -> list[Dp3Step]:
    """An averager of ``timestep`` slots and ``freqstep`` channels; nothing when both are one (unless ``always``:
    the branches of a split need the same steps)."""
    if timestep < 1 or freqstep < 1:
        raise InputError(f"averaging steps must be >= 1 (got {timestep} time slots, {freqstep} channels)")
    if timestep == 1 and freqstep == 1 and not always:
        return []
    return [Dp3Step(name, "averager", {"timestep": int(timestep), "freqstep": int(freqstep)})]


def averaging(integration_s: float, chan_width_hz: float, n_chan: int, time_resolution_s: float,
              freq_resolution_hz: float, *, min_chan_out: int = 1) -> tuple[int, int, list[Dp3Step]]:
    """Average to the requested resolution (never finer than the data).

    Returns the time and frequency steps and the averager (empty when there is nothing to do).
    """
    timestep = time_slots(time_resolution_s, integration_s)
    freqstep = freq_channels(freq_resolution_hz, chan_width_hz, n_chan, min_out=min_chan_out)
    steps = averager(timestep, freqstep)
    if steps:
        log.info("averaging %d time slot(s) and %d channel(s) together", timestep, freqstep)
    return timestep, freqstep, steps


def phaseshift(ra_deg: float, dec_deg: float, name: str = "shift") -> Dp3Step:
    """Shift the phase centre to (``ra_deg``, ``dec_deg``), J2000."""
    return Dp3Step(name, "phaseshift", {"phasecenter": [f"{ra_deg:.10f}deg", f"{dec_deg:.10f}deg"]})


def phaseup(core: Sequence[str], superstation: str) -> list[Dp3Step]:
    """Phase up ``core`` into ``superstation`` (DP3 stationadder) and drop the core stations (filter)."""
    if not core:
        return []
    joined = ",".join(core)
    return [Dp3Step("phaseup", "stationadder", {"stations": f"{{{superstation}:[{joined}]}}"}),
            *drop_stations(core, name="dropcore")]


def drop_stations(stations: Sequence[str], name: str = "dropstations") -> list[Dp3Step]:
    """Remove every baseline of ``stations`` and the stations themselves from the output (DP3 filter)."""
    if not stations:
        return []
    return [Dp3Step(name, "filter", {"baseline": f"!{','.join(stations)}&&*", "remove": True})]


def station_flags(stations: Sequence[str]) -> list[Dp3Step]:
    """Flag every baseline of ``stations`` (names or globs; DP3 preflagger)."""
    if not stations:
        return []
    return [Dp3Step("flagstations", "preflagger", {"baseline": [[s, "*"] for s in stations]})]


def aoflagger(strategy: Path) -> Dp3Step:
    """AOFlagger with the strategy file ``strategy`` (a .lua file)."""
    return Dp3Step("aoflag", "aoflagger", {"strategy": Path(strategy)})


def predict(skymodel: Path, name: str = "predict", *, operation: str = "replace") -> Dp3Step:
    """Predict ``skymodel`` (makesourcedb text) into the output column, or add it to or subtract it from the data
    (``operation``)."""
    if not Path(skymodel).is_file():
        raise InputError(f"sky model {skymodel} does not exist")
    if operation not in PREDICT_OPERATIONS:
        raise InputError(f"predict operation must be one of {', '.join(PREDICT_OPERATIONS)}, got {operation!r}")
    options: dict = {"sourcedb": Path(skymodel)}
    if operation != "replace":
        options["operation"] = operation
    return Dp3Step(name, "predict", options)


#: What a prediction does with the data it flows through (DP3 predict's ``operation``).
PREDICT_OPERATIONS = ("replace", "add", "subtract")


def h5parm_predict(skymodel: Path, h5parm: Path, soltabs: Sequence[str], directions: Sequence[str], *,
                   operation: str = "replace", beam: bool = False, name: str = "ddpredict") -> Dp3Step:
    """Predict the patches ``directions`` of ``skymodel``, each corrupted by its own direction's solutions.

    DP3 ``h5parmpredict``: patch ``P`` gets the solutions of h5parm direction ``[P]``
    (``soltabs``, applied as corruptions); ``operation`` replaces, adds to or subtracts
    from the data; with ``beam`` the station beam towards each component is applied too.
    """
    if not Path(skymodel).is_file():
        raise InputError(f"sky model {skymodel} does not exist")
    if operation not in PREDICT_OPERATIONS:
        raise InputError(f"predict operation must be one of {', '.join(PREDICT_OPERATIONS)}, got {operation!r}")
    if not directions:
        raise InputError("a direction-dependent prediction needs at least one direction (patch)")
    if not soltabs:
        raise InputError("a direction-dependent prediction needs at least one soltab")
    options: dict = {"sourcedb": Path(skymodel), "directions": [[d] for d in directions],
                     "operation": operation, "applycal.parmdb": Path(h5parm),
                     # h5parmpredict reads the direction list from this soltab, also when there are sub-steps
                     "applycal.correction": soltabs[-1]}
    if len(soltabs) > 1:
        options["applycal.steps"] = [f"c{k}" for k in range(len(soltabs))]
        options.update({f"applycal.c{k}.correction": tab for k, tab in enumerate(soltabs)})
    if beam:
        options["usebeammodel"] = True
    return Dp3Step(name, "h5parmpredict", options)


def predict_directions(skymodel: Path, directions: Sequence[str], corrections: Sequence[Correction] = (), *,
                       beam: bool = False, name: str = "models") -> Dp3Step:
    """Predict each patch of ``directions`` once, corrupted by its direction's solutions, and keep the model of
    each direction as a named buffer (``<name>.<patch>``) for :func:`combine`; the data pass unchanged.

    (DDECal with ``onlypredict`` and ``keepmodel``: nothing is solved, no solutions are written.)
    """
    if not Path(skymodel).is_file():
        raise InputError(f"sky model {skymodel} does not exist")
    if not directions:
        raise InputError("a prediction needs at least one direction (patch)")
    options: dict = {"mode": "scalarphase", "sourcedb": Path(skymodel), "directions": [[d] for d in directions],
                     "onlypredict": True, "keepmodel": True}
    options.update(_model_applycal(corrections, "a predicted model"))
    if beam:
        options["usebeammodel"] = True
    return Dp3Step(name, "ddecal", options)


def model_buffer(step: str, direction: str) -> str:
    """The name of the model buffer :func:`predict_directions` step ``step`` keeps for ``direction``."""
    return f"{step}.{direction}"


def combine(buffer: str, *, operation: str = "subtract", name: str = "combine") -> Dp3Step:
    """Add or subtract the named model buffer ``buffer`` to or from the data (the buffer is used up)."""
    if operation not in ("add", "subtract"):
        raise InputError(f"combine operation must be add or subtract, got {operation!r}")
    return Dp3Step(name, "combine", {"buffername": buffer, "operation": operation})


def msout(path: Path, *, dysco: DyscoSettings | None = None, name: str = "out") -> Dp3Step:
    """Write the data as they are at this point of the chain to a new measurement set ``path`` (DATA column)."""
    options: dict = {"name": Path(path), "overwrite": True, "datacolumn": "DATA"}
    if dysco is not None:
        options.update(_dysco_options(dysco))
    return Dp3Step(name, "msout", options, writes=(Path(path),))


def split(branches: Sequence[Sequence[Dp3Step]], name: str = "split") -> list[Dp3Step]:
    """Feed the same data to every branch in one pass (DP3 ``split``): one read for many outputs.

    Every branch must have the same steps (names and types) in the same order; the options
    that differ between branches become DP3's per-branch lists (``replaceparms``). One branch
    is returned as its steps, without a split.
    """
    if not branches:
        raise InputError("a split needs at least one branch")
    if len(branches) == 1:
        return list(branches[0])
    layout = [(s.name, s.type) for s in branches[0]]
    for i, branch in enumerate(branches):
        if [(s.name, s.type) for s in branch] != layout:
            raise InputError(f"split branch {i} has steps {[(s.name, s.type) for s in branch]}, branch 0 {layout}")
    children, replaced = [], []
    for k, (step_name, step_type) in enumerate(layout):
        keys = list(branches[0][k].options)
        for branch in branches:
            if list(branch[k].options) != keys:
                raise InputError(f"split: step {step_name} has other settings in some branches")
        options: dict = {}
        for key in keys:
            values = [branch[k].options[key] for branch in branches]
            if all(v == values[0] for v in values):
                options[key] = values[0]
            else:
                options[key] = values
                replaced.append(f"{step_name}.{key}")
        writes = tuple(w for branch in branches for w in branch[k].writes)
        children.append(Dp3Step(step_name, step_type, options, writes=writes))
    return [Dp3Step(name, "split", {"steps": [n for n, _ in layout], "replaceparms": replaced},
                    children=tuple(children))]


# --------------------------------------------------------------------------- corrections


@dataclass(frozen=True)
class Correction:
    """Soltabs of one h5parm to apply, or the station beam (``beam=True``).

    ``solset`` names the solset to read (DP3 needs it only when the file holds several);
    ``direction`` the direction of multi-direction solutions (``[name]``).
    """

    h5parm: Path | None = None
    soltabs: tuple[str, ...] = ()
    fulljones: bool = False
    beam: bool = False
    solset: str | None = None
    direction: str | None = None

    @staticmethod
    def station_beam() -> Correction:
        return Correction(beam=True)


def applycal(h5parm: Path, soltabs: Sequence[str], *, fulljones: bool = False, solset: str | None = None,
             direction: str | None = None, invert: bool = True, name: str = "applycal") -> Dp3Step:
    """Remove (``invert=True``) or apply ``soltabs`` of ``h5parm``: one sub-step per soltab unless full-Jones."""
    if not soltabs:
        raise InputError("a correction needs at least one soltab")
    options: dict = {"parmdb": Path(h5parm)}
    if fulljones:
        options.update({"correction": "fulljones", "soltab": list(soltabs)})
    else:
        options["steps"] = [f"s{k}" for k in range(len(soltabs))]
        options.update({f"s{k}.correction": tab for k, tab in enumerate(soltabs)})
    if solset is not None:
        options["solset"] = solset
    if direction is not None:
        options["direction"] = direction
    if not invert:
        options["invert"] = False
    return Dp3Step(name, "applycal", options)


def applybeam(*, invert: bool = True, name: str = "beam") -> list[Dp3Step]:
    """Remove the station beam at the phase centre; with ``invert=False`` apply it (corrupt a model).

    DP3's applybeam only corrupts data whose metadata say the beam was applied, so
    corrupting is preceded by a ``setbeam`` step.
    """
    if invert:
        return [Dp3Step(name, "applybeam", {})]
    return [Dp3Step(f"set{name}", "setbeam", {"beammode": "full"}),
            Dp3Step(name, "applybeam", {"invert": False})]


def correction_steps(corrections: Sequence[Correction], corrupt: bool = False) -> list[Dp3Step]:
    """applycal/applybeam steps removing ``corrections`` in the given (outermost-first) order.

    With ``corrupt=True`` the effects are applied instead of removed; give them
    innermost first then.
    """
    steps: list[Dp3Step] = []
    for i, corr in enumerate(corrections):
        if corr.beam:
            steps += applybeam(invert=not corrupt, name=f"beam{i}")
            continue
        if corr.h5parm is None or not corr.soltabs:
            raise InputError("a correction needs an h5parm and at least one soltab")
        steps.append(applycal(corr.h5parm, corr.soltabs, fulljones=corr.fulljones, solset=corr.solset,
                              direction=corr.direction, invert=not corrupt, name=f"cal{i}"))
    return steps


# --------------------------------------------------------------------------- solves


def ddecal(mode: str, h5parm: Path, *, solint_slots: int, nchan: int, minuv_lambda: float,
           maxiter: int | None = None, tolerance: float | None = None,
           model_columns: Sequence[str] = (), sourcedb: Path | None = None,
           directions: Sequence[Sequence[str]] = (), smoothness_hz: float = 0.0,
           smoothness_ref_hz: float = 0.0, antenna_constraint: Sequence[Sequence[str]] = (),
           propagate_solutions: bool | None = None, model_corrections: Sequence[Correction] = (),
           beam: bool = False, step_size: float | None = None, name: str = "solve") -> Dp3Step:
    """One DDECal solve writing ``h5parm``, against model columns or a sky model (``sourcedb``).

    ``nchan`` channels per solution (0: one solution over the band); baselines shorter than
    ``minuv_lambda`` wavelengths are not used. ``directions`` groups the sky model's patches into
    solve directions (one list per direction); ``smoothness_hz`` is the FWHM of DDECal's frequency kernel, ignored for
    modes it does not act on (see :data:`SOLVE_MODES`). ``model_corrections`` are solutions applied to
    the model of each direction before solving (DDECal's ``applycal``: each direction gets the solutions of
    the h5parm direction of its patch name), which is how solves are chained when the corrections are
    direction dependent and the data cannot be corrected instead. With ``beam`` the sky model is predicted
    with the station beam towards each component. ``step_size`` is the fraction of the way from one iteration's
    solution to the next that DDECal takes (its ``stepsize``; None: DP3's default).
    """
    spec = solve_mode(mode)
    if bool(model_columns) == (sourcedb is not None):
        raise InputError("a solve needs either model columns or a sky model, not both")
    if solint_slots < 1 or nchan < 0:
        raise InputError(f"a solve needs solint >= 1 slot and nchan >= 0 (got {solint_slots}, {nchan})")
    options: dict = {"mode": spec.dp3_mode, "h5parm": Path(h5parm)}
    if sourcedb is not None:
        options["sourcedb"] = Path(sourcedb)
        if directions:
            options["directions"] = [list(d) for d in directions]
    else:
        options["modeldatacolumns"] = list(model_columns)
    options.update({"solint": int(solint_slots), "nchan": int(nchan), "uvlambdamin": float(minuv_lambda)})
    if maxiter is not None:
        options["maxiter"] = int(maxiter)
    if tolerance is not None:
        options["tolerance"] = float(tolerance)
    if step_size is not None:
        if not 0.0 < step_size <= 1.0:
            raise InputError(f"a solve's step size must be in (0, 1], got {step_size}")
        options["stepsize"] = float(step_size)
    if smoothness_hz > 0 and spec.smoothed:
        options["smoothnessconstraint"] = float(smoothness_hz)
        if smoothness_ref_hz > 0:
            options["smoothnessreffrequency"] = float(smoothness_ref_hz)
    if antenna_constraint:
        options["antennaconstraint"] = [list(c) for c in antenna_constraint]
    if propagate_solutions is not None:
        options["propagatesolutions"] = bool(propagate_solutions)
    options.update(_model_applycal(model_corrections, "a solve's model"))
    if beam:
        if sourcedb is None:
            raise InputError("the station beam can only be applied to a sky-model prediction")
        options["usebeammodel"] = True
    return Dp3Step(name, "ddecal", options)


def _model_applycal(corrections: Sequence[Correction], what: str) -> dict:
    """DDECal's ``applycal`` options: each direction's model corrupted by the solutions of its direction."""
    if any(corr.beam or corr.fulljones or corr.h5parm is None for corr in corrections):
        raise InputError(f"only scalar or diagonal solutions can be applied to {what}")
    subs = [(corr.h5parm, tab) for corr in corrections for tab in corr.soltabs]
    options: dict = {}
    if subs:
        options["applycal.steps"] = [f"c{k}" for k in range(len(subs))]
        for k, (h5, tab) in enumerate(subs):
            options[f"applycal.c{k}.parmdb"] = Path(h5)
            options[f"applycal.c{k}.correction"] = tab
    return options


# --------------------------------------------------------------------------- running


def run_steps(msin: Path | Sequence[Path], msout: Path | None, steps: Sequence[Dp3Step], workdir: Path,
              name: str, *, data_column: str = "DATA", out_column: str = "DATA", threads: int = 1,
              dysco: DyscoSettings | None = None, provenance: Provenance | None = None) -> ToolRun:
    """One DP3 run of ``steps``. ``msout=None`` updates ``msin`` in place, writing ``out_column``.

    Several ``msin`` are concatenated in frequency (one subband each). With ``dysco`` a new
    ``msout`` is written with the Dysco storage manager (lossy compression of data and weights).
    """
    msin_options = {"datacolumn": data_column}
    msout_options: dict = {"datacolumn": out_column}
    if msout is not None:
        msout_options["overwrite"] = True
    if dysco is not None:
        if msout is None:
            raise InputError("Dysco compression needs a new output measurement set, not an update in place")
        msout_options.update(_dysco_options(dysco))
    run = Dp3Run(msin=msin, msout=msout, steps=list(steps), msin_options=msin_options,
                 msout_options=msout_options, numthreads=threads)
    return run_dp3(run, workdir, name, provenance=provenance)


def run_writing_steps(msin: Path, steps: Sequence[Dp3Step], workdir: Path, name: str, *,
                      data_column: str = "DATA", threads: int = 1,
                      provenance: Provenance | None = None) -> ToolRun:
    """One DP3 run whose steps write every output themselves (``msout`` steps, ``split`` branches).

    The input is only read; every measurement set the steps write is checked afterwards.
    """
    if not any(s.writes or any(c.writes for c in s.children) for s in steps):
        raise InputError("a DP3 run without a main output needs a step that writes a measurement set")
    run = Dp3Run(msin=msin, msout=None, steps=list(steps), msin_options={"datacolumn": data_column},
                 numthreads=threads, no_msout=True)
    return run_dp3(run, workdir, name, provenance=provenance)


def run_solve_steps(msin: Path, steps: Sequence[Dp3Step], workdir: Path, name: str, *,
                    data_column: str = "DATA", threads: int = 1, provenance: Provenance | None = None) -> ToolRun:
    """One DP3 run that only solves: the data are read (and shifted, averaged, ... on the way), nothing is
    written but the solves' h5parms, which are checked afterwards."""
    if not any("h5parm" in s.options and s.type == "ddecal" for s in steps):
        raise InputError("a DP3 run that writes no data needs a solve that writes an h5parm")
    # a "null" step ends the chain: DP3 then writes no measurement set
    run = Dp3Run(msin=msin, msout=None, steps=[*steps, Dp3Step("end", "null")],
                 msin_options={"datacolumn": data_column}, numthreads=threads, no_msout=True)
    return run_dp3(run, workdir, name, provenance=provenance)


def _dysco_options(dysco: DyscoSettings) -> dict:
    return {"storagemanager": "dysco", "storagemanager.databitrate": int(dysco.data_bits),
            "storagemanager.weightbitrate": int(dysco.weight_bits)}


@dataclass(frozen=True)
class DyscoSettings:
    """Bits per value of Dysco-compressed data and weights (DP3's ``storagemanager.*bitrate``)."""

    data_bits: int = 10
    weight_bits: int = 12

    def __post_init__(self) -> None:
        for key in ("data_bits", "weight_bits"):
            value = getattr(self, key)
            if not 1 <= int(value) <= 32:
                raise InputError(f"Dysco {key.replace('_', ' ')} must be 1..32, got {value}")
