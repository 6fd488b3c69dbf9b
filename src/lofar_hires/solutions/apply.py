"""Apply calibration solutions to a measurement set, writing a new one (``lofar-hires apply-solutions``).

The checks and the DP3 step are pure functions of the measurement set's metadata
and the solutions; :func:`apply_solutions` reads both, runs the checks and one
DP3 ``applycal`` run into a new measurement set written atomically (the input is
never modified). DP3 conventions: the solutions ``g`` describe the corruption
``V = g_p V_true conj(g_q)``, and ``applycal`` removes it (``V / (g_p conj(g_q))``).

Soltabs whose polarisation axis holds the four correlations (XX, XY, YX, YY or
RR, RL, LR, LL) are full-Jones matrices: they must be one amplitude and one phase
soltab, applied together (``correction=fulljones``). Other soltabs (scalar,
diagonal, TEC, clock, rotation, ...) are applied as one ``applycal`` sub-step
each, in the order given. A multi-direction h5parm needs a direction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import Solset, Soltab, direction_name, require_values
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Dp3Step, run_steps

log = logging.getLogger(__name__)

#: Number of polarisations of a full-Jones soltab.
FULLJONES_NPOL = 4
#: Soltab types that make up a full-Jones correction (one of each).
FULLJONES_TYPES = ("amplitude", "phase")


@dataclass(frozen=True)
class ApplyPlan:
    """What one DP3 run applies: soltabs, their kind, the direction, and the DP3 step."""

    soltabs: tuple[str, ...]
    fulljones: bool
    direction: str | None
    step: Dp3Step


def parse_soltabs(text: str | None) -> tuple[str, ...] | None:
    """Soltab names from a comma-separated list (``None`` or empty: all soltabs).

    Raises
    ------
    InputError
        A name occurs twice.
    """
    if text is None or not text.strip():
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"soltabs names {', '.join(repeated)} more than once", setting="soltabs")
    return names


def select_soltabs(solset: Solset, requested: Sequence[str] | None) -> tuple[Soltab, ...]:
    """The soltabs to apply: ``requested`` (in that order) or every soltab of the solset.

    Raises
    ------
    InputError
        A requested soltab is missing, or the solset holds none.
    """
    available = list(solset.soltabs)
    if requested is None:
        if not available:
            raise InputError(f"solution set {solset.name} holds no soltab")
        return tuple(solset.soltabs[n] for n in available)
    missing = [n for n in requested if n not in solset.soltabs]
    if missing:
        raise InputError(f"no soltab {', '.join(missing)} in solution set {solset.name} "
                         f"(has {', '.join(available) or 'none'})")
    return tuple(solset.soltabs[n] for n in requested)


def check_stations(ms_stations: Sequence[str], soltabs: Sequence[Soltab]) -> None:
    """Every station of the measurement set must have solutions in every soltab.

    Raises
    ------
    InputError
        A soltab has no antenna axis or lacks stations of the measurement set (named).
    """
    for tab in soltabs:
        if "ant" not in tab.axes:
            raise InputError(f"soltab {tab.name} has no antenna axis")
        have = set(str(a) for a in tab.axes["ant"])
        missing = [s for s in ms_stations if s not in have]
        if missing:
            raise InputError(f"soltab {tab.name} has no solutions for {len(missing)} station(s) of the measurement "
                             f"set: {', '.join(missing)}")


def check_times(ms_times_s: np.ndarray, soltabs: Sequence[Soltab]) -> None:
    """Solutions with a time axis must overlap the observation (within one solution interval).

    Solutions of another observation would otherwise be applied silently (DP3 takes
    the nearest solution in time).

    Raises
    ------
    InputError
        A soltab's time range does not overlap the measurement set's.
    """
    times = np.asarray(ms_times_s, dtype=float)
    if times.size == 0:
        raise InputError("the measurement set has no time slots")
    for tab in soltabs:
        if "time" not in tab.axes or len(tab.axes["time"]) < 2:
            continue  # time-independent solutions apply to any time
        sol_times = np.asarray(tab.axes["time"], dtype=float)
        step = float(np.median(np.diff(sol_times)))
        if times.max() < sol_times.min() - step or times.min() > sol_times.max() + step:
            raise InputError(f"soltab {tab.name} covers times {sol_times.min():.1f}..{sol_times.max():.1f} s (MJD), "
                             f"the measurement set {times.min():.1f}..{times.max():.1f} s: solutions of another "
                             "observation?")


def is_fulljones(tab: Soltab) -> bool:
    """True for a soltab with the four correlations on its polarisation axis."""
    return "pol" in tab.axes and len(tab.axes["pol"]) == FULLJONES_NPOL


def check_fulljones(soltabs: Sequence[Soltab]) -> bool:
    """Whether the soltabs are one full-Jones correction (True) or independent soltabs (False).

    Raises
    ------
    InputError
        Full-Jones soltabs that are not exactly one amplitude and one phase soltab, or
        full-Jones soltabs mixed with other soltabs.
    """
    full = [t for t in soltabs if is_fulljones(t)]
    if not full:
        return False
    names = ", ".join(t.name for t in soltabs)
    if len(full) != len(soltabs):
        raise InputError(f"soltabs {names}: full-Jones soltabs (4 polarisations) cannot be applied together with "
                         "others in one run; apply them separately", setting="soltabs")
    if sorted(t.soltype for t in full) != sorted(FULLJONES_TYPES):
        raise InputError(f"soltabs {names}: a full-Jones correction needs exactly one amplitude and one phase soltab "
                         f"with 4 polarisations, got types {', '.join(t.soltype for t in full)}")
    return True


def check_direction(soltabs: Sequence[Soltab], direction: str | None) -> str | None:
    """The direction to apply (``[name]``), or ``None`` when the solutions have one direction.

    Raises
    ------
    InputError
        Several directions and no ``direction``, or a direction the soltabs do not have.
    """
    with_dirs = [t for t in soltabs if "dir" in t.axes]
    if direction is None:
        multi = [t for t in with_dirs if len(t.axes["dir"]) > 1]
        if multi:
            names = ", ".join(d.strip("[]") for d in multi[0].axes["dir"])
            raise InputError(f"soltab {multi[0].name} has {len(multi[0].axes['dir'])} directions ({names}); give "
                             "the direction to apply", setting="direction")
        return None
    wanted = direction_name(direction)
    if not with_dirs:
        raise InputError(f"direction {direction}: the soltabs have no direction axis", setting="direction")
    for tab in with_dirs:
        dirs = [str(d) for d in tab.axes["dir"]]
        if wanted not in dirs:
            raise InputError(f"direction {direction}: soltab {tab.name} has no such direction (has "
                             f"{', '.join(d.strip('[]') for d in dirs)})", setting="direction")
    return wanted


def applycal_step(h5parm: Path, soltabs: Sequence[str], fulljones: bool, direction: str | None,
                  solset: str | None = None) -> Dp3Step:
    """The DP3 ``applycal`` step removing ``soltabs`` of ``h5parm`` (one sub-step per soltab unless full-Jones)."""
    return dp3_steps.applycal(h5parm, soltabs, fulljones=fulljones, solset=solset,
                              direction=None if direction is None else direction_name(direction))


def plan_apply(ms_stations: Sequence[str], ms_times_s: np.ndarray, h5parm: Path, solset: Solset,
               soltabs: Sequence[str] | None = None, direction: str | None = None) -> ApplyPlan:
    """Check the solutions against the measurement set and build the DP3 step.

    Parameters
    ----------
    ms_stations
        Station names of the measurement set.
    ms_times_s
        Its time slots (MJD seconds).
    h5parm
        Path of the solutions (for the DP3 step).
    solset
        The solutions read from ``h5parm``.
    soltabs
        Soltabs to apply (default all).
    direction
        Direction to apply (needed when the solutions have several).

    Returns
    -------
    ApplyPlan
        The soltabs, whether they form a full-Jones correction, the direction and the step.

    Raises
    ------
    InputError
        Missing soltabs or stations, solutions of another observation, ambiguous or unknown
        direction, an incomplete full-Jones correction.
    """
    tabs = select_soltabs(solset, soltabs)
    require_values(solset, h5parm, [t.name for t in tabs])
    check_stations(ms_stations, tabs)
    check_times(ms_times_s, tabs)
    fulljones = check_fulljones(tabs)
    chosen = check_direction(tabs, direction)
    names = tuple(t.name for t in tabs)
    return ApplyPlan(names, fulljones, chosen, applycal_step(h5parm, names, fulljones, chosen, solset.name))


def check_output_ms(output: Path, ms: Path, overwrite: bool) -> None:
    """Refuse an output that is the input, exists (without ``overwrite``), is not a measurement set
    (``overwrite`` would delete it) or cannot be written.

    Raises
    ------
    InputError, OutputExistsError
        With the reason.
    """
    out, source = output.resolve(), ms.resolve()
    if out == source:
        raise InputError(f"output {output} is the input measurement set; write the result to a new path",
                         setting="output")
    if out in source.parents or source in out.parents:
        raise InputError(f"output {output} holds or lies inside the input measurement set; write the result to a "
                         "path of its own", setting="output")
    if overwrite and output.exists() and not (output / "table.dat").is_file():
        if output.is_file() or output.is_symlink() or any(output.iterdir()):
            raise InputError(f"output {output} exists and is not a measurement set; overwriting replaces only "
                             "a measurement set", setting="output")
    check_output_path(output, overwrite)


def apply_solutions(ms: Path, h5parm: Path, output: Path, *, data_column: str = "DATA",
                    soltabs: Sequence[str] | None = None, direction: str | None = None, threads: int = 1,
                    overwrite: bool = False, logdir: Path | None = None, provenance: Provenance | None = None,
                    finalize: Callable[[Path, ApplyPlan], None] | None = None) -> ApplyPlan:
    """Write ``output``: a new measurement set whose DATA is ``data_column`` of ``ms`` corrected by the solutions.

    Parameters
    ----------
    ms
        Input measurement set (read only).
    h5parm
        Solutions (first solset).
    output
        New measurement set, written under a temporary name and renamed when complete.
    data_column
        Column of ``ms`` to correct.
    soltabs
        Soltabs to apply (default all).
    direction
        Direction to apply, for a multi-direction h5parm.
    threads
        DP3 threads.
    overwrite
        Replace an existing ``output``.
    logdir
        Where DP3's parset and log go (default ``logs/`` next to ``output``).
    provenance
        Record of the run (inputs, the DP3 command).
    finalize
        Called with the complete measurement set (still under its temporary name) and the
        plan before it is renamed to ``output``, e.g. to add a HISTORY row.

    Returns
    -------
    ApplyPlan
        What was applied.

    Raises
    ------
    InputError
        See :func:`plan_apply`; also a missing MS or column, an unreadable h5parm, an
        output that exists (without ``overwrite``) or is the input.
    ToolError
        DP3 failed.
    """
    from lofar_hires.io.h5parm import read_h5parm
    from lofar_hires.io.ms import read_ms_info, require_ms

    ms, h5parm, output = Path(ms), Path(h5parm), Path(output)
    require_ms(ms, (data_column,))
    try:
        solset = read_h5parm(h5parm)
    except (InputError, MissingInputError) as exc:
        raise InputError(f"solutions: {exc}", setting="solutions") from None
    info = read_ms_info(ms)
    try:
        plan = plan_apply(list(info.station_names), info.times_mjd_s, h5parm, solset, soltabs, direction)
    except InputError as exc:
        raise InputError(f"solutions {h5parm}: {exc}", setting="solutions") from None
    check_output_ms(output, ms, overwrite)
    log.info("applying %s of %s (%s%s) to %s of %s", ", ".join(plan.soltabs), h5parm.name,
             "full-Jones" if plan.fulljones else "per soltab",
             f", direction {plan.direction}" if plan.direction else "", data_column, ms.name)
    workdir = Path(logdir) if logdir is not None else output.resolve().parent / "logs"
    with atomic_output(output, overwrite) as tmp:
        run_steps(ms, tmp, [plan.step], workdir, f"apply_{output.name}", data_column=data_column,
                  out_column="DATA", threads=threads, provenance=provenance)
        if finalize is not None:
            finalize(tmp, plan)
    return plan
