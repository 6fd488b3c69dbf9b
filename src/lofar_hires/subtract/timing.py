"""Where a DP3 run spent its time, read from the timing report at the end of its log.

DP3 ends every run with ``Total DP3 time <real> real <user> user <system> system`` and
one line per step (``59.1% ( 146 ms) H5ParmPredict``). The user + system time is the
run's cost in core-seconds; the step lines say which step it went to. The step classes
are reported under the names the subtraction's benchmark uses (read, predict, subtract,
shift, beam, applycal, average, write); DDECal only predicts in the subtraction (``onlypredict``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_TOTAL = re.compile(r"Total DP3 time\s+([\d.]+)\s+real\s+([\d.]+)\s+user\s+([\d.]+)\s+system")
_STEP = re.compile(r"^\s*([\d.]+)% \(\s*([\d.]+)\s*(ns|us|ms|s|min|h)\)\s+(\S.*?)\s*$")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}

#: DP3 step classes by the phase of the subtraction they belong to.
PHASES = {"MsReader": "read", "MSReader": "read", "H5ParmPredict": "predict", "Predict": "predict",
          "OnePredict": "predict", "PhaseShift": "shift", "ApplyBeam": "beam", "ApplyCal": "applycal",
          "OneApplyCal": "applycal", "Averager": "average", "MSWriter": "write", "MSUpdater": "write",
          "DDECal": "predict", "Combine": "subtract"}


@dataclass(frozen=True)
class Dp3Timing:
    """Wall and CPU seconds of one DP3 run and the seconds of each phase."""

    real_s: float
    cpu_s: float
    phases_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"real_s": self.real_s, "cpu_s": self.cpu_s, "phases_s": dict(self.phases_s)}


def parse_dp3_timing(text: str) -> Dp3Timing | None:
    """The timing report of a DP3 log (``None`` when the log has none, e.g. a run that failed)."""
    total = None
    phases: dict[str, float] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _TOTAL.search(line)
        if match is None:
            continue
        real, user, system = (float(g) for g in match.groups())
        total = (real, user + system)
        for step_line in lines[i + 1:]:  # other lines (DDECal's iteration counts, ...) are skipped
            step = _STEP.match(step_line)
            if step is None:
                continue
            name = step.group(4).split()[0]
            if name not in PHASES:  # sub-items such as "Writing (threaded)" overlap their step's time
                continue
            seconds = float(step.group(2)) * _UNIT_S[step.group(3)]
            phases[PHASES[name]] = phases.get(PHASES[name], 0.0) + seconds
    if total is None:
        return None
    return Dp3Timing(real_s=total[0], cpu_s=total[1], phases_s={k: round(v, 4) for k, v in phases.items()})


def read_dp3_timing(log_path: Path | str | None) -> Dp3Timing | None:
    """:func:`parse_dp3_timing` of a log file (``None`` when there is no log)."""
    if log_path is None or not Path(log_path).is_file():
        return None
    return parse_dp3_timing(Path(log_path).read_text(errors="replace"))
