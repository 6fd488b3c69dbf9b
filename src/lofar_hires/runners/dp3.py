"""DP3 parsets from typed step descriptions, and DP3 runs as subprocesses.

DP3 runs as ``DP3.py <parset> [key=value ...]`` in its own process: running it
inside a Python process that imported python-casacore aborts (both wheels
bundle casacore). A misspelled or unused parset key does not make DP3 fail, so
its "keywords were not used" warning is treated as an error.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from lofar_hires.errors import InputError
from lofar_hires.provenance import Provenance, ToolRun
from lofar_hires.runners.process import run_logged

log = logging.getLogger(__name__)

ParsetScalar = Union[str, int, float, bool, Path]
ParsetValue = Union[ParsetScalar, Sequence[ParsetScalar]]

#: Output patterns that mean a DP3 run did not do what was asked.
DP3_FAIL_PATTERNS = ("the following parset keywords were not used",)

#: Step names that DP3 accepts as a type when no ``<name>.type`` is given.
_VALID_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def format_value(value: ParsetValue) -> str:
    """Format a Python value the way DP3 parsets expect it.

    Booleans become ``true``/``false``, sequences ``[a,b,c]``, paths strings.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):
        return str(value)
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
        Output MS; ``None`` updates ``msin`` in place (``msout=.``).
    steps
        Steps in order.
    msin_options
        Extra ``msin.*`` keys (``datacolumn``, ``baseline``, ...).
    msout_options
        Extra ``msout.*`` keys (``datacolumn``, ``storagemanager``, ...).
    numthreads
        DP3 thread count.
    """

    msin: Path | Sequence[Path]
    msout: Path | None
    steps: Sequence[Dp3Step] = ()
    msin_options: Mapping[str, ParsetValue] = field(default_factory=dict)
    msout_options: Mapping[str, ParsetValue] = field(default_factory=dict)
    numthreads: int = 1


def build_parset(run: Dp3Run) -> str:
    """Return the text of the DP3 parset for ``run`` (a pure function)."""
    names = [s.name for s in run.steps]
    if len(set(names)) != len(names):
        raise InputError(f"DP3 step names must be unique, got {names}")
    if run.numthreads < 1:
        raise InputError(f"numthreads must be >= 1, got {run.numthreads}")
    msin = run.msin if isinstance(run.msin, (str, Path)) else list(run.msin)
    lines = [f"msin={format_value(msin)}"]
    lines += [f"msin.{k}={format_value(v)}" for k, v in run.msin_options.items()]
    lines.append(f"msout={'.' if run.msout is None else format_value(run.msout)}")
    lines += [f"msout.{k}={format_value(v)}" for k, v in run.msout_options.items()]
    lines.append(f"numthreads={run.numthreads}")
    lines.append(f"steps={format_value(names)}")
    for step in run.steps:
        lines.append(f"{step.name}.type={step.type}")
        lines += [f"{step.name}.{k}={format_value(v)}" for k, v in step.options.items()]
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
    return run_logged(
        "DP3.py",
        [str(parset), *overrides],
        workdir / f"{name}.log",
        provenance=provenance,
        fail_patterns=DP3_FAIL_PATTERNS,
    )
