"""One dataset per facet: the fast method (subtract the field once) and the old one (per facet).

New method (de Jong et al. 2025, section 6.5; the default):

1. *empty*: one DP3 run predicts every facet's model components, each corrupted by its
   own direction's solutions (and the station beam), and subtracts them from the data:
   one full-size "empty" measurement set.
2. per facet, one DP3 run reading the empty set: predict that facet's components with its
   solutions and add them back, shift the phase centre to the facet centre, correct the
   beam towards it and the facet's solutions, average as far as the facet's size allows,
   and write the small facet dataset (optionally Dysco-compressed).

Old method (for comparison, and a fallback): per facet, copy the full measurement set
while subtracting every component outside the facet, then shift, correct and average
that copy. The cost of the prediction grows with facets x components instead of
components, and every facet writes a full-size copy.

Both write ``<ms>.<facet>.ms`` under a temporary name and rename it when complete, with
``<ms>.<facet>.ms.provenance.json`` (the facet's name, centre and averaging, and every
DP3 run) next to it and in its HISTORY table. Full-size intermediates are deleted as
soon as no facet needs them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lofar_hires.calibration.step_products import record_ms_history
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output, check_output_path, remove_path
from lofar_hires.io.ms import MsInfo, read_ms_info
from lofar_hires.io.names import inside, safe_name
from lofar_hires.io.skymodel import write_makesourcedb
from lofar_hires.provenance import Provenance, ToolRun
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Correction, Dp3Step, DyscoSettings, run_steps, run_writing_steps
from lofar_hires.subtract.plan import FacetJob, SubtractPlan
from lofar_hires.subtract.timing import read_dp3_timing

log = logging.getLogger(__name__)

Method = Literal["new", "old"]
METHODS = ("new", "old")


@dataclass(frozen=True)
class SubtractSettings:
    """How the facet datasets are made."""

    method: Method = "new"
    beam: bool = True
    data_column: str = "DATA"
    threads: int = 2
    dysco: DyscoSettings | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}", setting="method")
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {self.threads}", setting="threads")


@dataclass
class RunRecord:
    """What one DP3 run of the subtraction did and cost."""

    label: str
    facet: str | None
    wall_s: float
    cpu_s: float | None
    phases_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "facet": self.facet, "wall_s": self.wall_s, "cpu_s": self.cpu_s,
                "phases_s": self.phases_s}


@dataclass
class SubtractResult:
    """The facet datasets written and the DP3 runs that made them."""

    outputs: dict[str, Path] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    empty_ms: Path | None = None
    peak_work_bytes: int = 0

    def summary(self) -> dict[str, object]:
        return {"outputs": {k: str(v) for k, v in self.outputs.items()},
                "empty_ms": None if self.empty_ms is None else str(self.empty_ms),
                "runs": [r.to_dict() for r in self.runs],
                "cpu_s": sum(r.cpu_s or 0.0 for r in self.runs), "wall_s": sum(r.wall_s for r in self.runs),
                "peak_work_bytes": self.peak_work_bytes}


def ms_stem(ms: Path) -> str:
    """The file-name stem of a measurement set (its name without ``.ms``/``.MS``)."""
    name = Path(ms).name
    for suffix in (".ms", ".MS"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return safe_name(name, what="measurement set")


def facet_output(outdir: Path, ms: Path, job: FacetJob) -> Path:
    """``<outdir>/<ms>.<facet>.ms`` (kept inside ``outdir`` whatever the names hold)."""
    return inside(outdir, f"{ms_stem(ms)}.{job.file_stem}.ms")


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- DP3 steps


def add_back_step(plan: SubtractPlan, job: FacetJob, skymodel: Path, h5parm: Path, beam: bool) -> Dp3Step:
    """Predict the facet's own components with its solutions and add them to the data."""
    return dp3_steps.h5parm_predict(skymodel, h5parm, plan.soltabs, [job.name], operation="add", beam=beam,
                                    name="addback")


def subtract_steps(plan: SubtractPlan, facets: Sequence[str], skymodel: Path, h5parm: Path,
                   beam: bool) -> list[Dp3Step]:
    """Predict the components of ``facets`` with their solutions and subtract them (nothing for no facet)."""
    if not facets:
        return []
    return [dp3_steps.h5parm_predict(skymodel, h5parm, plan.soltabs, list(facets), operation="subtract", beam=beam,
                                     name="subtract")]


def facet_steps(plan: SubtractPlan, job: FacetJob, h5parm: Path, beam: bool, *, always_average: bool = False
                ) -> list[Dp3Step]:
    """Shift to the facet centre, correct the beam towards it and the facet's solutions, average."""
    ra, dec = job.centre_deg
    steps = [dp3_steps.phaseshift(ra, dec)]
    if beam:
        steps += dp3_steps.applybeam(invert=True)
    steps.append(dp3_steps.applycal(h5parm, plan.soltabs, direction=job.direction, name="facetcal"))
    steps += dp3_steps.averager(job.averaging.time_factor, job.averaging.chan_factor, always=always_average)
    return steps


def new_method_steps(plan: SubtractPlan, jobs: Sequence[FacetJob], outputs: Sequence[Path], skymodel: Path,
                     h5parm: Path, beam: bool, *, from_empty: bool, dysco: DyscoSettings | None) -> list[Dp3Step]:
    """One DP3 pass writing ``outputs[k]`` for ``jobs[k]`` (split branches).

    From the data: every facet's model is predicted once, with its own solutions, and kept;
    each branch subtracts the other facets' models, then shifts, corrects, averages and writes.
    From the empty data set (the field already subtracted): each branch predicts its facet's
    model and adds it back, then the same.
    """
    average_always = len(jobs) > 1

    def tail(job: FacetJob, out: Path) -> list[Dp3Step]:
        return [*facet_steps(plan, job, h5parm, beam, always_average=average_always),
                dp3_steps.msout(out, dysco=dysco, name="facetout")]

    if from_empty:
        return dp3_steps.split([[add_back_step(plan, job, skymodel, h5parm, beam), *tail(job, out)]
                                for job, out in zip(jobs, outputs)])
    predicted = plan.directions if len(jobs) > 1 else [d for d in plan.directions if d != jobs[0].name]
    steps = []
    if predicted:
        steps.append(dp3_steps.predict_directions(skymodel, predicted, [Correction(h5parm, plan.soltabs)], beam=beam,
                                                  name=MODELS_STEP))
    branches = []
    for job, out in zip(jobs, outputs):
        others = [d for d in predicted if d != job.name]
        subtract = [dp3_steps.combine(dp3_steps.model_buffer(MODELS_STEP, d), name=f"sub{k}")
                    for k, d in enumerate(others)]
        branches.append([*subtract, *tail(job, out)])
    return steps + dp3_steps.split(branches)


#: Name of the DP3 step that predicts and keeps every facet's model.
MODELS_STEP = "models"


# --------------------------------------------------------------------------- running


class _Runner:
    """Runs and records the DP3 runs of one subtraction."""

    def __init__(self, settings: SubtractSettings, logdir: Path, prov: Provenance, result: SubtractResult) -> None:
        self.settings = settings
        self.logdir = logdir
        self.prov = prov
        self.result = result

    def record(self, run: ToolRun, label: str, facet: str | None, started: float) -> ToolRun:
        timing = read_dp3_timing(run.log_file)
        self.result.runs.append(RunRecord(label=label, facet=facet, wall_s=round(time.monotonic() - started, 3),
                                          cpu_s=None if timing is None else timing.cpu_s,
                                          phases_s={} if timing is None else timing.phases_s))
        return run

    def dp3(self, msin: Path, msout: Path, steps: Sequence[Dp3Step], name: str, label: str, facet: str | None,
            *, data_column: str = "DATA", dysco: bool = False) -> ToolRun:
        started = time.monotonic()
        run = run_steps(msin, msout, steps, self.logdir, name, data_column=data_column, threads=self.settings.threads,
                        dysco=self.settings.dysco if dysco else None, provenance=self.prov)
        return self.record(run, label, facet, started)

    def dp3_writing(self, msin: Path, steps: Sequence[Dp3Step], name: str, label: str, *,
                    data_column: str = "DATA") -> ToolRun:
        started = time.monotonic()
        run = run_writing_steps(msin, steps, self.logdir, name, data_column=data_column,
                                threads=self.settings.threads, provenance=self.prov)
        return self.record(run, label, None, started)


def _finish_facet(tmp: Path, out: Path, job: FacetJob, runner: _Runner, record: dict, runs: Sequence[ToolRun]) -> None:
    """Record the facet's provenance in its HISTORY table and next to it."""
    prov = Provenance(task="subtract", parameters={**runner.prov.parameters, **record})
    prov.inputs = list(runner.prov.inputs)
    for run in runs:
        prov.add_run(run)
    record_ms_history(tmp, prov)
    prov.write(out.with_name(out.name + ".provenance.json"))


def subtract_new(ms: Path, plan: SubtractPlan, skymodel: Path, h5parm: Path, outdir: Path, jobs: Sequence[FacetJob],
                 runner: _Runner, *, empty_ms: Path | None, overwrite: bool, base_record: dict) -> None:
    """The new method for ``jobs`` in one DP3 pass over ``ms`` (or over ``empty_ms``, already subtracted)."""
    outputs = [facet_output(outdir, ms, job) for job in jobs]
    source = ms if empty_ms is None else empty_ms
    log.info("%s: %d facet dataset(s) in one pass over %s%s", ms, len(jobs), source,
             "" if empty_ms is None else " (the field already subtracted)")
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_output(out, overwrite=overwrite)) for out in outputs]
        steps = new_method_steps(plan, jobs, tmps, skymodel, h5parm, runner.settings.beam,
                                 from_empty=empty_ms is not None, dysco=runner.settings.dysco)
        name = f"{ms_stem(ms)}.facets" if len(jobs) > 1 else f"{ms_stem(ms)}.{jobs[0].file_stem}"
        run = runner.dp3_writing(source, steps, name, "facets",
                                 data_column=runner.settings.data_column if empty_ms is None else "DATA")
        for job, tmp, out in zip(jobs, tmps, outputs):
            _finish_facet(tmp, out, job, runner, {**base_record, **job.describe()}, [run])
    runner.result.outputs.update({job.name: out for job, out in zip(jobs, outputs)})
    runner.result.peak_work_bytes = sum(tree_bytes(p) for p in outputs)


def make_empty(ms: Path, plan: SubtractPlan, skymodel: Path, h5parm: Path, empty: Path, runner: _Runner,
               *, overwrite: bool = False) -> Path:
    """Only the empty set: the data with every facet's model subtracted (for facets made in separate jobs)."""
    steps = subtract_steps(plan, plan.directions, skymodel, h5parm, runner.settings.beam)
    log.info("subtracting the model of %d facet(s) from %s into %s", len(plan.jobs), ms, empty)
    with atomic_output(empty, overwrite=overwrite) as tmp:
        runner.dp3(ms, tmp, steps, f"{ms_stem(ms)}.empty", "empty", None, data_column=runner.settings.data_column)
    runner.result.empty_ms = empty
    runner.result.peak_work_bytes = tree_bytes(empty)
    return empty


def subtract_old(ms: Path, plan: SubtractPlan, skymodel: Path, h5parm: Path, outdir: Path, jobs: Sequence[FacetJob],
                 runner: _Runner, *, overwrite: bool, base_record: dict) -> None:
    """The old method for ``jobs``: per facet, a full copy without the other facets' components, then shift and
    average it."""
    work = outdir / f".{ms_stem(ms)}.work"
    work.mkdir(parents=True, exist_ok=True)
    try:
        for k, job in enumerate(jobs, start=1):
            log.info("facet %d/%d: %s (copying %s without the other facets)", k, len(jobs), job.name, ms)
            full = work / f"{ms_stem(ms)}.{job.file_stem}.full.ms"
            others = [name for name in plan.directions if name != job.name]
            try:
                with atomic_output(full, overwrite=True) as tmp:
                    copy = runner.dp3(ms, tmp, subtract_steps(plan, others, skymodel, h5parm, runner.settings.beam),
                                      f"{ms_stem(ms)}.{job.file_stem}.full", "copy_subtract", job.name,
                                      data_column=runner.settings.data_column)
                out = facet_output(outdir, ms, job)
                with atomic_output(out, overwrite=overwrite) as tmp:
                    run = runner.dp3(full, tmp, facet_steps(plan, job, h5parm, runner.settings.beam),
                                     f"{ms_stem(ms)}.{job.file_stem}", "facet", job.name, dysco=True)
                    _finish_facet(tmp, out, job, runner, {**base_record, **job.describe()}, [copy, run])
                runner.result.outputs[job.name] = out
                runner.result.peak_work_bytes = max(runner.result.peak_work_bytes, tree_bytes(full) + sum(
                    tree_bytes(p) for p in runner.result.outputs.values()))
            finally:
                remove_path(full)
    finally:
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()


def check_empty_ms(empty: Path, info: MsInfo) -> None:
    """An empty set given for reuse must have the measurement set's rows, times and channels."""
    other = read_ms_info(empty)
    if (other.n_rows, len(other.times_mjd_s), len(other.freqs_hz)) != (info.n_rows, len(info.times_mjd_s),
                                                                        len(info.freqs_hz)):
        raise InputError(f"empty measurement set {empty} has {other.n_rows} rows, {len(other.times_mjd_s)} times and "
                         f"{len(other.freqs_hz)} channels, {info.path} {info.n_rows}, {len(info.times_mjd_s)} and "
                         f"{len(info.freqs_hz)}: it was made from another measurement set", setting="empty_ms")
    if abs(float(other.times_mjd_s[0]) - float(info.times_mjd_s[0])) > 1e-3 or abs(
            float(other.freqs_hz[0]) - float(info.freqs_hz[0])) > 1e-3:
        raise InputError(f"empty measurement set {empty} covers other times or frequencies than {info.path}: it was "
                         "made from another measurement set", setting="empty_ms")


def run_subtraction(ms: Path, plan: SubtractPlan, h5parm: Path, outdir: Path, settings: SubtractSettings,
                    prov: Provenance, *, facets: Sequence[str] = (), empty_ms: Path | None = None,
                    keep_empty: Path | None = None, empty_only: bool = False, overwrite: bool = False,
                    resume: bool = False) -> SubtractResult:
    """Write the facet datasets of ``ms`` (all facets, or those named) into ``outdir``.

    ``empty_ms`` makes the facets from the empty set of an earlier run (new method);
    ``empty_only`` only makes the empty set, at ``keep_empty``.
    ``resume`` skips facets whose dataset is already complete.
    """
    result = SubtractResult()
    outdir.mkdir(parents=True, exist_ok=True)
    jobs = [plan.job(name) for name in facets] if facets else list(plan.jobs)
    logdir = outdir / "logs"
    runner = _Runner(settings, logdir, prov, result)
    work = outdir / f".{ms_stem(ms)}.work"
    work.mkdir(parents=True, exist_ok=True)
    skymodel = write_makesourcedb(plan.model, work / f"{ms_stem(ms)}.facets.skymodel",
                                  header=["# the sky model's components inside facets, one patch per facet"])
    base = {"method": settings.method, "beam": settings.beam, "soltabs": list(plan.soltabs), "ms": str(ms)}
    try:
        if empty_only:
            if keep_empty is None:
                raise InputError("making only the empty measurement set needs the path to keep it at",
                                 setting="keep_empty")
            result.empty_ms = make_empty(ms, plan, skymodel, h5parm, keep_empty, runner, overwrite=overwrite)
            _write_empty_provenance(keep_empty, prov)
            return result
        todo = []
        for job in jobs:
            out = facet_output(outdir, ms, job)
            if resume and (out / "table.dat").is_file() and out.with_name(out.name + ".provenance.json").is_file():
                log.info("facet %s: %s is complete, skipped (resume)", job.name, out)
                result.outputs[job.name] = out
                continue
            check_output_path(out, overwrite)
            todo.append(job)
        if not todo:
            return result
        if settings.method == "new":
            subtract_new(ms, plan, skymodel, h5parm, outdir, todo, runner, empty_ms=empty_ms, overwrite=overwrite,
                         base_record=base)
        else:
            subtract_old(ms, plan, skymodel, h5parm, outdir, todo, runner, overwrite=overwrite, base_record=base)
    finally:
        remove_path(skymodel)
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()
    return result


def _write_empty_provenance(empty: Path, prov: Provenance) -> None:
    prov.write(empty.with_name(empty.name + ".provenance.json"))


def write_summary(path: Path, plan: SubtractPlan, result: SubtractResult, settings: SubtractSettings) -> Path:
    """``<ms>.subtract.json``: the facets, their averaging, the outputs and every DP3 run's cost."""
    record = {"method": settings.method, "beam": settings.beam,
              "facets": [job.describe() for job in plan.jobs], "outside_components": list(plan.outside),
              **result.summary()}
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return path

