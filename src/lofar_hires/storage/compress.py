"""A Dysco-compressed copy of a measurement set, at a bit rate measured on the dataset itself.

:func:`compress_ms` measures what the candidate bit rates do to a sample of the data
(:func:`lofar_hires.storage.measure.measure_bit_rates`), chooses the fewest data bits whose
predicted image-rms increase stays below the bound (or takes the bit rate given), and writes
the copy with one DP3 run (only the data column survives, as DATA). When no candidate meets
the bound (data of high S/N per visibility, such as phased-up or SVA data), an
*uncompressed* copy is written and the report says so: the data are never compressed beyond
what the measurement allows.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from lofar_hires.calibration.step_products import record_ms_history
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output, remove_path
from lofar_hires.provenance import Provenance
from lofar_hires.runners.dp3_steps import DyscoSettings, run_steps
from lofar_hires.storage.dysco import (
    CANDIDATE_DATA_BITS,
    DEFAULT_MAX_RMS_INCREASE,
    DEFAULT_WEIGHT_BITS,
    budgets_table,
    check_max_rms_increase,
    volume_saved,
)
from lofar_hires.storage.measure import DEFAULT_SAMPLE_TIMES, Measurement, measure_bit_rates, table_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompressSettings:
    """How to compress (defaults: ``lofar-hires compress --help``)."""

    data_bits: int | str = "auto"
    weight_bits: int = DEFAULT_WEIGHT_BITS
    max_rms_increase: float = DEFAULT_MAX_RMS_INCREASE
    data_column: str = "DATA"
    sample_times: int = DEFAULT_SAMPLE_TIMES
    threads: int = 2

    def __post_init__(self) -> None:
        if self.data_bits != "auto" and self.data_bits not in CANDIDATE_DATA_BITS:
            raise InputError(f"data bits must be one of {', '.join(map(str, CANDIDATE_DATA_BITS))} or auto, "
                             f"got {self.data_bits!r}", setting="data_bits")
        if not 1 <= self.weight_bits <= 32:
            raise InputError(f"weight bits must be 1..32, got {self.weight_bits}", setting="weight_bits")
        check_max_rms_increase(self.max_rms_increase)
        if self.sample_times < 2:
            raise InputError(f"the sample needs at least 2 time slots, got {self.sample_times}",
                             setting="sample_times")
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {self.threads}", setting="threads")


@dataclass
class CompressResult:
    """What was written: the bit rate used (``None``: an uncompressed copy), the measurement and the volumes."""

    output: Path
    data_bits: int | None
    measurement: Measurement
    bytes_before: int = 0
    bytes_after: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def volume_saved(self) -> float:
        return volume_saved(self.bytes_before, self.bytes_after)


def decide(measurement: Measurement, settings: CompressSettings) -> tuple[int | None, list[str]]:
    """The data bits to write with (``None``: no compression) and notes for the report."""
    bound = settings.max_rms_increase
    if settings.data_bits == "auto":
        if measurement.chosen_bits is None:
            best = max(measurement.budgets, key=lambda b: b.data_bits)
            return None, [f"even {best.data_bits} bits would raise the image rms by "
                          f"{100 * best.predicted_increase:.3g} % (bound {100 * bound:.3g} %): the data are written "
                          "uncompressed"]
        return measurement.chosen_bits, []
    budget = measurement.budget(int(settings.data_bits))
    if budget.predicted_increase >= bound:
        return int(settings.data_bits), [f"{settings.data_bits} bits as asked, although they raise the image rms "
                                         f"by {100 * budget.predicted_increase:.3g} % (bound {100 * bound:.3g} %)"]
    return int(settings.data_bits), []


def compress_ms(ms: Path, output: Path, settings: CompressSettings, prov: Provenance, *, logdir: Path,
                overwrite: bool = False) -> CompressResult:
    """Write a Dysco-compressed copy of ``ms`` (only read) to ``output`` (atomically); see the module docstring."""
    ms, output = Path(ms), Path(output)
    work = output.parent / f".{output.name}.compress-work-{os.getpid()}"
    candidates = CANDIDATE_DATA_BITS if settings.data_bits == "auto" else (int(settings.data_bits),)
    try:
        measurement = measure_bit_rates(ms, work, data_column=settings.data_column, candidates=candidates,
                                        weight_bits=settings.weight_bits, max_rms_increase=settings.max_rms_increase,
                                        sample_times=settings.sample_times, threads=settings.threads,
                                        provenance=prov)
    finally:
        remove_path(work)
    bits, notes = decide(measurement, settings)
    for note in notes:
        log.warning("%s: %s", ms, note)
    dysco = None if bits is None else DyscoSettings(bits, settings.weight_bits)
    with atomic_output(output, overwrite=overwrite) as tmp:
        run_steps(ms, tmp, [], logdir, f"{output.name}.compress", data_column=settings.data_column,
                  threads=settings.threads, dysco=dysco, provenance=prov)
        record_ms_history(tmp, prov)
    result = CompressResult(output=output, data_bits=bits, measurement=measurement,
                            bytes_before=table_bytes(ms), bytes_after=table_bytes(output), notes=notes)
    log.info("%s: %s, %d -> %d bytes (%.1f %% saved)", output,
             f"Dysco {bits} data bits / {settings.weight_bits} weight bits" if bits else "uncompressed",
             result.bytes_before, result.bytes_after, 100 * result.volume_saved)
    return result


def report(result: CompressResult, settings: CompressSettings, ms: Path) -> dict:
    """The JSON report: the choice, every candidate's measured budget, and the volumes."""
    m = result.measurement
    return {
        "input": str(ms), "output": str(result.output), "data_column": settings.data_column,
        "compressed": result.data_bits is not None, "data_bits": result.data_bits,
        "weight_bits": settings.weight_bits if result.data_bits is not None else None,
        "requested_data_bits": settings.data_bits, "max_rms_increase": settings.max_rms_increase,
        "candidates": [{**row, "within_bound": row["predicted_rms_increase"] < settings.max_rms_increase,
                        "sample_volume_saved": m.sample_volume_saved.get(int(row["data_bits"]))}
                       for row in budgets_table(m.budgets)],
        "noise_sigma_jy_median": m.noise.median_sigma_jy(),
        "sample": {"time_slots": m.sample_times, "rows": m.sample_rows},
        "bytes_before": result.bytes_before, "bytes_after": result.bytes_after,
        "volume_saved_percent": 100 * result.volume_saved, "notes": result.notes,
        "method": "image-rms increase sqrt(1 + var(e_I) / sigma_I^2) - 1 of the compression error e of a sample, "
                  "the larger of natural and equal weighting; sigma from the data (see docs/compress.md)",
    }


def write_report(path: Path, content: dict) -> Path:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(content, indent=2, default=float) + "\n")
    return path
