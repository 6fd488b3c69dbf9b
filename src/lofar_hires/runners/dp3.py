"""DP3 parsets from typed step descriptions, and DP3 runs as subprocesses.

DP3 runs as ``DP3.py <parset> [key=value ...]`` in its own process: running it
inside a Python process that imported python-casacore aborts (both wheels
bundle casacore). A misspelled or unused parset key does not make DP3 fail, so
its "keywords were not used" warning is treated as an error. DP3's exit status 0
is not taken as success either: :func:`check_dp3_outputs` checks that the
measurement set, the data column and the h5parms it was asked for exist and hold
data.
"""

from __future__ import annotations

import logging
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from lofar_hires.errors import InputError, QualityError, ToolError
from lofar_hires.provenance import Provenance, ToolRun
from lofar_hires.runners.process import log_tail, run_logged

log = logging.getLogger(__name__)

ParsetScalar = Union[str, int, float, bool, Path]
ParsetValue = Union[ParsetScalar, Sequence[ParsetScalar]]

#: Output patterns that mean a DP3 run did not do what was asked.
DP3_FAIL_PATTERNS = ("the following parset keywords were not used",)

#: DDECal's line in DP3's timings: the iterations each solution interval took, ``n`` or ``n|m`` (m of them
#: approximate), one line per DDECal step.
_ITERATIONS_TAKEN = re.compile(r"^Iterations taken: \[(?P<counts>[^\]]*)\]\s*$", re.MULTILINE)

#: Characters that make DP3's parset reader split a value unless it is quoted.
_NEEDS_QUOTES = re.compile(r"[=,\[\]\s]")

#: Step names that DP3 accepts as a type when no ``<name>.type`` is given.
_VALID_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def format_value(value: ParsetValue) -> str:
    """Format a Python value the way DP3 parsets expect it.

    Booleans become ``true``/``false``, sequences ``[a,b,c]``, paths strings; a path holding ``=``, ``,``,
    brackets or blanks (a directory called ``a=b``) is quoted, or DP3 would split it. Other text is written
    as it is (it may be DP3 syntax, such as a stationadder record).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Path):
        text = str(value)
        if _NEEDS_QUOTES.search(text):
            if '"' in text and "'" in text:
                raise InputError(f"{text!r} holds both kinds of quotes; DP3 cannot read it in a parset")
            quote = "'" if '"' in text else '"'
            return f"{quote}{text}{quote}"
        return text
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, Sequence):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise InputError(f"cannot write {value!r} of type {type(value).__name__} into a DP3 parset")


@dataclass(frozen=True)
class Dp3Step:
    """One DP3 step: a unique name, a DP3 step type and its options."""

    name: str
    type: str
    options: Mapping[str, ParsetValue] = field(default_factory=dict)
    #: Steps this one runs itself (a ``split`` step's branch), defined in the parset after it.
    children: tuple[Dp3Step, ...] = ()
    #: Measurement sets this step writes (an ``msout`` step, or the outputs of a ``split``'s branches).
    writes: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or set(self.name) - _VALID_NAME_CHARS:
            raise InputError(f"invalid DP3 step name {self.name!r}: use letters, digits and _")


@dataclass(frozen=True)
class Dp3Run:
    """A complete DP3 run.

    Parameters
    ----------
    msin
        Input measurement set(s); several are concatenated in frequency by DP3.
    msout
        Output MS; ``None`` updates ``msin`` in place (``msout=.``), unless ``no_msout``.
    steps
        Steps in order.
    msin_options
        Extra ``msin.*`` keys (``datacolumn``, ``baseline``, ...).
    msout_options
        Extra ``msout.*`` keys (``datacolumn``, ``storagemanager``, ...).
    numthreads
        DP3 thread count.
    no_msout
        Write no main output: the steps write what they write themselves (``msout`` steps,
        a ``split``'s branches); ``msout`` must be ``None``.
    """

    msin: Path | Sequence[Path]
    msout: Path | None
    steps: Sequence[Dp3Step] = ()
    msin_options: Mapping[str, ParsetValue] = field(default_factory=dict)
    msout_options: Mapping[str, ParsetValue] = field(default_factory=dict)
    numthreads: int = 1
    no_msout: bool = False


def build_parset(run: Dp3Run) -> str:
    """Return the text of the DP3 parset for ``run`` (a pure function)."""
    names = [s.name for s in run.steps]
    every = names + [c.name for s in run.steps for c in s.children]
    if len(set(every)) != len(every):
        raise InputError(f"DP3 step names must be unique, got {every}")
    if run.no_msout and (run.msout is not None or run.msout_options):
        raise InputError("a DP3 run without a main output takes no msout settings")
    if run.numthreads < 1:
        raise InputError(f"numthreads must be >= 1, got {run.numthreads}")
    msin = run.msin if isinstance(run.msin, (str, Path)) else list(run.msin)
    lines = [f"msin={format_value(msin)}"]
    lines += [f"msin.{k}={format_value(v)}" for k, v in run.msin_options.items()]
    if not run.no_msout:
        lines.append(f"msout={'.' if run.msout is None else format_value(run.msout)}")
        lines += [f"msout.{k}={format_value(v)}" for k, v in run.msout_options.items()]
    lines.append(f"numthreads={run.numthreads}")
    lines.append(f"steps={format_value(names)}")
    for step in run.steps:
        for one in (step, *step.children):
            lines.append(f"{one.name}.type={one.type}")
            lines += [f"{one.name}.{k}={format_value(v)}" for k, v in one.options.items()]
    return "\n".join(lines) + "\n"


def run_dp3(
    run: Dp3Run,
    workdir: Path,
    name: str,
    *,
    overrides: Sequence[str] = (),
    provenance: Provenance | None = None,
) -> ToolRun:
    """Write the parset to ``workdir/<name>.parset`` and run DP3 on it.

    Parameters
    ----------
    run
        What to run.
    workdir
        Where the parset and ``<name>.log`` go.
    name
        Base name of the parset and log.
    overrides
        Extra ``key=value`` arguments given after the parset, as users do by hand.
    provenance
        Record of the run.
    """
    for item in overrides:
        if "=" not in item:
            raise InputError(f"DP3 override {item!r} is not of the form key=value")
    workdir.mkdir(parents=True, exist_ok=True)
    parset = workdir / f"{name}.parset"
    parset.write_text(build_parset(run))
    log.debug("DP3 parset %s:\n%s", parset, parset.read_text())
    result = run_logged(
        "DP3.py",
        [str(parset), *overrides],
        workdir / f"{name}.log",
        provenance=provenance,
        fail_patterns=DP3_FAIL_PATTERNS,
    )
    if not any(item.split("=", 1)[0].strip().startswith(("msout", "steps")) for item in overrides):
        check_dp3_outputs(run, workdir / f"{name}.log")
    return result


def check_dp3_outputs(run: Dp3Run, log_path: Path) -> None:
    """Check what a finished DP3 run was asked to write (its exit status 0 is not enough).

    * a new output MS exists and has rows; an in-place run left its output data column;
    * every h5parm named by a step exists, is an HDF5 file with a solset and a soltab,
      and holds at least one finite solution.

    Raises
    ------
    ToolError
        An output is missing, empty or unreadable (with the last lines of DP3's log).
    QualityError
        A solve wrote only NaN solutions (no data it could solve on).
    """
    tail = log_tail(log_path)
    for step in run.steps:
        for ms in (*step.writes, *(w for c in step.children for w in c.writes)):
            _check_ms_written(Path(ms), None, tail)
    if run.no_msout:
        pass
    elif run.msout is not None:
        _check_ms_written(Path(run.msout), None, tail)
    else:
        column = run.msout_options.get("datacolumn")
        msin = run.msin if isinstance(run.msin, (str, Path)) else list(run.msin)[0]
        if column is not None:
            _check_ms_written(Path(msin), str(column), tail)
    for step in run.steps:
        h5 = step.options.get("h5parm")
        if h5 is not None and not step.options.get("onlypredict", False):
            _check_h5parm_written(Path(h5), step.name, tail)


def _check_ms_written(ms: Path, column: str | None, tail: str) -> None:
    from casacore.tables import table

    if not (ms / "table.dat").is_file():
        raise ToolError(f"DP3 finished but wrote no measurement set {ms}", tail)
    try:
        with table(str(ms), ack=False) as t:
            n_rows = t.nrows()
            columns = t.colnames()
    except RuntimeError as exc:
        raise ToolError(f"DP3 finished but {ms} cannot be opened: {str(exc).splitlines()[0]}", tail) from None
    if n_rows == 0:
        raise ToolError(f"DP3 finished but {ms} has no rows (every row selected away?)", tail)
    if column is not None and column not in columns:
        raise ToolError(f"DP3 finished but {ms} has no column {column}", tail)


def _any_finite(dataset, block: int = 64) -> bool:
    """Whether an HDF5 dataset holds a finite value (read in blocks along its first axis)."""
    import numpy as np

    if dataset.ndim == 0 or dataset.size == 0:
        return bool(dataset.size) and bool(np.isfinite(dataset[()]))
    return any(np.any(np.isfinite(dataset[i:i + block])) for i in range(0, dataset.shape[0], block))


def _check_h5parm_written(h5: Path, step: str, tail: str) -> None:
    import h5py

    if not h5.is_file() or h5.stat().st_size == 0:
        raise ToolError(f"DP3 step {step} finished but wrote no h5parm {h5}", tail)
    try:
        with h5py.File(h5, "r") as f:
            vals = [f[ss][tab]["val"] for ss in f if isinstance(f[ss], h5py.Group)
                    for tab in f[ss] if isinstance(f[ss][tab], h5py.Group) and "val" in f[ss][tab]]
            if not vals:
                raise ToolError(f"DP3 step {step} wrote {h5} without any solution table", tail)
            finite = any(_any_finite(v) for v in vals)
    except OSError as exc:
        raise ToolError(f"DP3 step {step} wrote an unreadable h5parm {h5}: {exc}", tail) from None
    if not finite:
        raise QualityError(f"DP3 step {step} wrote only NaN solutions to {h5}: no unflagged data to solve on "
                           "(all flagged, a uv cut above the longest baseline, or a model of zeros?)")


# --------------------------------------------------------------------------- DDECal convergence


@dataclass(frozen=True)
class SolveConvergence:
    """How the solution intervals of one DDECal solve ended.

    DDECal counts ``maxiter + 1`` iterations for an interval that reached ``maxiter`` without
    meeting its tolerance (DP3's solvers, "so that non-converged iterations can be distinguished
    from converged ones"); such an interval keeps the solution of its last iteration.
    """

    solve: str
    maxiter: int
    iterations: tuple[int, ...]

    @property
    def n_intervals(self) -> int:
        return len(self.iterations)

    @property
    def n_at_maxiter(self) -> int:
        """Solution intervals that stopped at ``maxiter`` without converging."""
        return sum(1 for n in self.iterations if n > self.maxiter)

    @property
    def fraction_at_maxiter(self) -> float:
        return self.n_at_maxiter / self.n_intervals if self.iterations else 0.0

    def to_dict(self) -> dict:
        its = sorted(self.iterations)
        return {"maxiter": self.maxiter, "intervals": self.n_intervals, "at_maxiter": self.n_at_maxiter,
                "fraction_at_maxiter": round(self.fraction_at_maxiter, 4),
                "iterations_min": its[0] if its else None, "iterations_median": its[len(its) // 2] if its else None,
                "iterations_max": its[-1] if its else None}

    def message(self) -> str:
        """One line for a warning: the solve and the fraction of its intervals that stopped at ``maxiter``."""
        return (f"DDECal solve {self.solve}: {self.n_at_maxiter} of {self.n_intervals} solution intervals "
                f"({100 * self.fraction_at_maxiter:.0f} %) stopped at maxiter={self.maxiter} without converging")


def ddecal_iterations(log_text: str) -> list[tuple[int, ...]]:
    """The iterations per solution interval of every DDECal step in a DP3 log, in the order DP3 printed them.

    Approximate iterations (the part after ``|``) are part of the first count and are left out.
    """
    found = []
    for match in _ITERATIONS_TAKEN.finditer(log_text):
        items = [item.strip() for item in match.group("counts").split(",") if item.strip()]
        try:
            found.append(tuple(int(item.split("|")[0]) for item in items))
        except ValueError:
            raise ToolError(f"cannot read DDECal's iteration counts from {match.group(0)!r}") from None
    return found


def ddecal_convergence(log_path: Path, solve: str, maxiter: int) -> SolveConvergence:
    """The convergence of the one DDECal step of a DP3 run, from its log.

    Raises
    ------
    ToolError
        The log has no line (or several) of DDECal iteration counts.
    """
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError as exc:
        raise ToolError(f"cannot read the DP3 log {log_path}: {exc.strerror or exc}") from None
    counts = ddecal_iterations(text)
    if len(counts) != 1:
        raise ToolError(f"DP3 log {log_path} has {len(counts)} lines 'Iterations taken' where one DDECal step ran: "
                        f"cannot tell whether solve {solve} converged", log_tail(Path(log_path)))
    return SolveConvergence(solve=solve, maxiter=int(maxiter), iterations=counts[0])
