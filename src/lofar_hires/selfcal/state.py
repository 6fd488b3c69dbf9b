"""The record of a self-calibration run in its output directory (``state.json``), for resuming.

A cycle is recorded only after all its products are complete and renamed into
place; a run that is interrupted mid-cycle is resumed from the start of that cycle.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.selfcal.metrics import CycleMetrics

STATE_NAME = "state.json"


@dataclass
class CycleRecord:
    """A completed cycle: its metrics and its merged solutions per observation (paths relative to the run)."""

    metrics: CycleMetrics
    solutions: dict[str, str]
    image: str

    def to_dict(self) -> dict:
        return {"metrics": self.metrics.to_dict(), "solutions": self.solutions, "image": self.image}

    @staticmethod
    def from_dict(data: dict) -> CycleRecord:
        return CycleRecord(CycleMetrics.from_dict(data["metrics"]), dict(data["solutions"]), str(data["image"]))


@dataclass
class RunState:
    """What a run was started with and how far it got."""

    strategy_digest: str
    inputs: list[str]
    options: dict
    work_ms: dict[str, str] = field(default_factory=dict)
    cycles: list[CycleRecord] = field(default_factory=list)
    finished: bool = False
    decision: dict | None = None
    #: The pre-applied solutions: file, direction applied, separation, stations given identity.
    pre_applied: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["cycles"] = [c.to_dict() for c in self.cycles]
        return data

    def matches(self, other: RunState) -> str | None:
        """Why ``other`` (a new request) cannot continue this run, or None if it can."""
        if other.strategy_digest != self.strategy_digest:
            return "the strategy differs"
        if other.inputs != self.inputs:
            return "the input measurement sets differ"
        if other.options != self.options:
            return "the options (phase centre, starting model, pre-applied solutions) differ"
        return None


def save_state(outdir: Path, state: RunState) -> None:
    """Write ``state.json`` atomically."""
    path = outdir / STATE_NAME
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2, default=str) + "\n")
    os.replace(tmp, path)


def load_state(outdir: Path) -> RunState | None:
    """The recorded state, None when the directory holds no run; InputError when the record is unreadable."""
    path = outdir / STATE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        cycles = [CycleRecord.from_dict(c) for c in data.pop("cycles", [])]
        return RunState(**data, cycles=cycles)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{path} is not a readable self-calibration record ({exc}); use a new output directory "
                         "or overwrite the run", setting="overwrite") from None
