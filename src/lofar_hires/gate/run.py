"""The calibratability gate on a set of observations: check every input, measure, judge, write one JSON.

:func:`plan_gate` checks everything before the first DP3 run: one direction-independent
solutions file per measurement set (matched by order), the measurement sets (rows, unflagged
data, the score's data column, enough phase values for the score), the calibrators (inside the
score's reach of every phase centre), the solutions (structure, finite values, a usable tec or
phase soltab, the measured and reference stations; the TEC rate is measured here, it costs one
read) and the outputs. :func:`run_gate` then counts the flags of every observation and measures
the calibrator's phasediff score with DP3 (in a work directory next to the output, removed after),
and :func:`write_result` writes the result (format :data:`RESULT_FORMAT`) atomically.

The verdict is a result, not an error: an observation that fails the gate is reported with its
reasons and the task still succeeds; the chain decides what to do with it.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lofar_hires import __version__
from lofar_hires.calibration.step_products import check_new_output, require_file
from lofar_hires.config_schema import to_mapping
from lofar_hires.errors import InputError
from lofar_hires.gate.config import CalibratabilityConfig
from lofar_hires.gate.flags import FlagCount, count_flags
from lofar_hires.gate.ionosphere import DiSoltab, IonosphereMetric, find_di_soltab, measure_ionosphere
from lofar_hires.gate.phasediff import PhasediffMetric, measure_phasediff, prepare_observation
from lofar_hires.gate.verdict import Verdict, judge
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.names import inside, safe_names
from lofar_hires.provenance import Provenance
from lofar_hires.selection.config import SelectionConfig
from lofar_hires.selection.score import ScoreSetup
from lofar_hires.selection.table import CalibratorRow, read_table

log = logging.getLogger(__name__)

#: Format tag of the result file.
RESULT_FORMAT = "lofar-hires-calibratability/1"


@dataclass(frozen=True)
class Observation:
    """One observation to judge: its measurement set, solutions and what was read from them."""

    name: str
    ms: Path
    di_solutions: Path
    soltab: DiSoltab
    setup: ScoreSetup
    ionosphere: IonosphereMetric
    file_stem: str  # the name as a file name (work directory)


@dataclass(frozen=True)
class GatePlan:
    """Everything checked, before any DP3 run."""

    observations: list[Observation]
    calibrators: list[CalibratorRow]
    stems: dict[str, str]
    output: Path
    provenance_path: Path


@dataclass
class ObservationResult:
    """The metrics and the verdict of one observation."""

    observation: Observation
    phasediff: PhasediffMetric
    flags: FlagCount
    verdict: Verdict = field(default_factory=lambda: Verdict(False, 0.0))

    def to_dict(self) -> dict:
        obs = self.observation
        return {"ms": str(obs.ms), "di_solutions": str(obs.di_solutions), "passed": self.verdict.passed,
                "score": self.verdict.score, "reasons": list(self.verdict.reasons),
                "sub_scores": dict(self.verdict.sub_scores),
                "metrics": {"phasediff": self.phasediff.to_dict(),
                            "flags": {"flagged_fraction": self.flags.fraction, "n_flagged": self.flags.n_flagged,
                                      "n_visibilities": self.flags.n_visibilities},
                            "ionosphere": obs.ionosphere.to_dict()}}


def provenance_path(output: Path) -> Path:
    """``<stem>.provenance.json`` next to the result (``<stem>`` its name without ``.json``)."""
    output = Path(output)
    stem = output.name[:-5] if output.name.lower().endswith(".json") else output.name
    return output.with_name(f"{stem}.provenance.json")


def observation_name(ms: Path) -> str:
    """The observation's name: its measurement set's name without ``.ms`` (any case)."""
    name = Path(ms).name
    return name[:-3] if name.lower().endswith(".ms") and len(name) > 3 else name


def calibrators_from(table: Path | None, ra_deg: float | None, dec_deg: float | None,
                     name: str) -> list[CalibratorRow]:
    """The in-field calibrator(s): every row of a calibrator table, or one position.

    Raises
    ------
    InputError
        Both or neither given, half a position, a position outside the sky, an empty table.
    """
    position = ra_deg is not None or dec_deg is not None
    if table is not None and position:
        raise InputError("give either a calibrator table or a calibrator position, not both", setting="calibrators")
    if table is not None:
        rows = read_table(require_file(table, "calibrator table", setting="calibrators"))
        if not rows:
            raise InputError(f"the calibrator table {table} has no row", setting="calibrators")
        return rows
    if not position:
        raise InputError("give the in-field calibrator: a calibrator table, or its RA and Dec", setting="calibrators")
    if ra_deg is None or dec_deg is None:
        missing = "calibrator_dec_deg" if dec_deg is None else "calibrator_ra_deg"
        raise InputError("give both the right ascension and the declination of the calibrator", setting=missing)
    if not (math.isfinite(ra_deg) and 0.0 <= ra_deg < 360.0):
        raise InputError(f"the calibrator's right ascension {ra_deg} deg must be in [0, 360)",
                         setting="calibrator_ra_deg")
    if not (math.isfinite(dec_deg) and -90.0 <= dec_deg <= 90.0):
        raise InputError(f"the calibrator's declination {dec_deg} deg must be in [-90, 90]",
                         setting="calibrator_dec_deg")
    return [CalibratorRow(name, float(ra_deg), float(dec_deg), origin="manual")]


def plan_gate(msin: Sequence[Path], di_solutions: Sequence[Path], calibrators: Sequence[CalibratorRow],
              config: CalibratabilityConfig, selection: SelectionConfig, output: Path, *, overwrite: bool = False,
              di_solset: str | None = None, di_soltab: str | None = None,
              observation_names: Sequence[str] | None = None, extra_inputs: Sequence[Path] = ()) -> GatePlan:
    """Check every input and output, and read the solutions (no DP3 run).

    Parameters
    ----------
    msin
        One measurement set per observation (after the delay calibration); read only.
    di_solutions
        The direction-independent solutions of each observation, in the order of ``msin``.
    calibrators
        The in-field calibrator(s) (:func:`calibrators_from`).
    config, selection
        The gate's limits; the phasediff score's settings (``selection.score``).
    output
        The result (JSON); the provenance goes to ``<stem>.provenance.json``.
    overwrite
        Replace existing outputs.
    di_solset, di_soltab
        The solset and soltab of the solutions to use (default: found, see
        :func:`lofar_hires.gate.ionosphere.find_di_soltab`).
    observation_names
        The observations' names, in the order of ``msin`` (default: the measurement sets' names
        without ``.ms``); they key the result.
    extra_inputs
        Further inputs (a calibrator table, configuration files) an output must not replace.

    Raises
    ------
    InputError
        Different numbers of measurement sets and solutions, names that collide as file names, bad
        measurement sets, solutions or calibrators, or an output that exists or cannot be written.
    """
    msin, di_solutions = [Path(p) for p in msin], [Path(p) for p in di_solutions]
    if not msin:
        raise InputError("give at least one measurement set", setting="msin")
    if len(di_solutions) != len(msin):
        raise InputError(f"{len(msin)} measurement set(s) but {len(di_solutions)} solutions file(s): give one "
                         "direction-independent solutions file per measurement set, in the same order",
                         setting="di_solutions")
    if observation_names is None:
        given, setting = [observation_name(p) for p in msin], "msin"
    else:
        given, setting = [str(n) for n in observation_names], "observation_names"
        if len(given) != len(msin):
            raise InputError(f"{len(msin)} measurement set(s) but {len(given)} observation name(s)", setting=setting)
    if len(set(given)) != len(given):
        raise InputError("two observations have the same name; give each measurement set a name of its own",
                         setting=setting)
    file_stems = safe_names(given, what="observation")
    stems = safe_names([row.name for row in calibrators], what="calibrator")
    output = Path(output)
    prov_path = provenance_path(output)
    inputs = [*msin, *di_solutions, *extra_inputs]
    for path in (output, prov_path):
        check_new_output(path, overwrite, inputs, setting="output")
    observations = []
    for name, ms, h5 in zip(given, msin, di_solutions):
        setup = prepare_observation(ms, calibrators, selection)
        soltab = find_di_soltab(require_file(h5, "direction-independent solutions", setting="di_solutions"),
                                di_solset, di_soltab)
        iono = measure_ionosphere(soltab, config.ionosphere)
        warn_time_coverage(ms, setup, iono)
        observations.append(Observation(name, ms, h5, soltab, setup, iono, file_stems[name]))
    return GatePlan(observations, list(calibrators), stems, output, prov_path)


def warn_time_coverage(ms: Path, setup: ScoreSetup, iono: IonosphereMetric) -> None:
    """Warn when the solutions do not overlap the observation in time (e.g. the calibrator's solutions)."""
    times = setup.info.times_mjd_s
    if len(times) == 0:
        return
    start, end = iono.time_range_mjd_s
    if end < float(times.min()) or start > float(times.max()):
        log.warning("%s: the solutions (%s) do not overlap the observation in time; the ionospheric activity is "
                    "that of the solutions' time", ms.name, iono.source)


def run_gate(plan: GatePlan, config: CalibratabilityConfig, selection: SelectionConfig,
             provenance: Provenance | None = None) -> list[ObservationResult]:
    """Count the flags and score the calibrator(s) of every observation, and judge it.

    The DP3 runs of the score work in a directory next to the output, removed afterwards.
    """
    flags = {}
    for obs in plan.observations:
        flags[obs.name] = count_flags(obs.ms)
        log.info("%s: %.2f %% of %d visibilities flagged", obs.name, 100 * flags[obs.name].fraction,
                 flags[obs.name].n_visibilities)
    work = Path(tempfile.mkdtemp(prefix=f".{plan.output.stem}.work-", dir=plan.output.resolve().parent))
    results = []
    try:
        for obs in plan.observations:
            phasediff = measure_phasediff(obs.setup, plan.calibrators, selection, plan.stems,
                                          inside(work, obs.file_stem), provenance)
            result = ObservationResult(obs, phasediff, flags[obs.name])
            result.verdict = judge(phasediff, flags[obs.name], obs.ionosphere, config)
            results.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def result_document(results: Sequence[ObservationResult], config: CalibratabilityConfig,
                    selection: SelectionConfig) -> dict:
    """The result file's content: the limits, the score settings and every observation's metrics and verdict."""
    return {"format": RESULT_FORMAT, "lofar_hires_version": __version__,
            "n_observations": len(results), "n_passed": sum(r.verdict.passed for r in results),
            "limits": to_mapping(config), "score_settings": asdict(selection.score),
            "observations": {r.observation.name: r.to_dict() for r in results}}


def write_result(results: Sequence[ObservationResult], plan: GatePlan, config: CalibratabilityConfig,
                 selection: SelectionConfig, provenance: Provenance, overwrite: bool = False) -> None:
    """Write the result (JSON) and its provenance, each atomically."""
    with atomic_output(plan.output, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(result_document(results, config, selection), indent=2) + "\n")
    provenance.write(plan.provenance_path)


def verdict_line(result: ObservationResult) -> str:
    """One line per observation: ``obs01: passed (score 0.42)`` or ``obs02: failed: <reasons>``."""
    name, verdict = result.observation.name, result.verdict
    if verdict.passed:
        return f"{name}: passed (score {verdict.score:.2f})"
    return f"{name}: failed: {'; '.join(verdict.reasons)}"
