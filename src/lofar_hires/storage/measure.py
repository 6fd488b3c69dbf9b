"""Measure what each Dysco bit rate does to one dataset: compress a sample with DP3 and compare.

The sample is a block of consecutive time slots of every baseline from the middle of the
observation (Dysco normalises per time slot over all baselines, so a complete time slot
compresses as it would in the full dataset). It is copied with python-casacore, compressed by
one DP3 run at every candidate bit rate at once (a ``split`` with one Dysco ``msout`` per
rate), read back, and judged by :mod:`lofar_hires.storage.dysco`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.atomic import remove_path
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import DyscoSettings
from lofar_hires.storage.dysco import (
    CANDIDATE_DATA_BITS,
    DEFAULT_MAX_RMS_INCREASE,
    DEFAULT_WEIGHT_BITS,
    ErrorBudget,
    NoiseEstimate,
    baseline_index,
    choose_data_bits,
    error_to_noise,
    estimate_noise,
)

log = logging.getLogger(__name__)

#: Time slots of the sample (all of them when the dataset has fewer).
DEFAULT_SAMPLE_TIMES = 30


@dataclass(frozen=True)
class Measurement:
    """The measured budgets of every candidate bit rate, the noise they are judged against and the choice."""

    budgets: tuple[ErrorBudget, ...]
    noise: NoiseEstimate
    sample_times: int
    sample_rows: int
    max_rms_increase: float
    chosen_bits: int | None
    #: Fraction of the main table's volume saved in the sample, per bit rate.
    sample_volume_saved: dict[int, float] = field(default_factory=dict)

    def budget(self, bits: int) -> ErrorBudget:
        for budget in self.budgets:
            if budget.data_bits == bits:
                return budget
        raise InputError(f"no measurement of {bits} data bits")


def table_bytes(path: Path, *, main_only: bool = False) -> int:
    """Bytes on disk of a table directory (``main_only``: the main table's files, without subtables)."""
    path = Path(path)
    if main_only:
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_sample(ms: Path, out: Path, n_times: int = DEFAULT_SAMPLE_TIMES) -> int:
    """Copy ``n_times`` consecutive time slots (all baselines) from the middle of ``ms`` to ``out``; return them."""
    from casacore.tables import table

    if n_times < 2:
        raise InputError(f"a sample needs at least 2 time slots, got {n_times}", setting="sample_times")
    with table(str(ms), ack=False) as t:
        times = np.unique(t.getcol("TIME"))
        take = min(n_times, times.size)
        start = (times.size - take) // 2
        t0, t1 = float(times[start]), float(times[start + take - 1])
        sel = t.query(f"TIME >= {t0!r} && TIME <= {t1!r}")
        try:
            sel.copy(str(out), deep=True)
        finally:
            sel.close()
    return int(take)


def _read(ms: Path, column: str) -> dict[str, np.ndarray]:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        cols = {"data": t.getcol(column), "flag": t.getcol("FLAG"), "time": t.getcol("TIME"),
                "ant1": t.getcol("ANTENNA1"), "ant2": t.getcol("ANTENNA2")}
        if "WEIGHT_SPECTRUM" in t.colnames():
            cols["weight"] = t.getcol("WEIGHT_SPECTRUM")
        else:
            cols["weight"] = np.broadcast_to(t.getcol("WEIGHT")[:, None, :], cols["data"].shape).copy()
    order = np.lexsort((cols["ant2"], cols["ant1"], cols["time"]))
    return {k: v[order] for k, v in cols.items()}


def _corr_types(ms: Path) -> list[int]:
    from casacore.tables import table

    with table(str(Path(ms) / "POLARIZATION"), ack=False) as t:
        return [int(c) for c in t.getcol("CORR_TYPE")[0]]


def judge(sample: Path, compressed: dict[int, Path], column: str) -> tuple[list[ErrorBudget], NoiseEstimate]:
    """Budgets of each compressed copy of ``sample`` (its ``column``) against the noise of the sample."""
    original = _read(sample, column)
    corr = _corr_types(sample)
    cross = original["ant1"] != original["ant2"]  # images use no autocorrelations
    orig = {k: v[cross] for k, v in original.items()}
    bl, n_bl = baseline_index(orig["ant1"], orig["ant2"])
    noise = estimate_noise(orig["data"], orig["flag"], orig["weight"], bl, n_bl, orig["time"], corr)
    if not np.any(np.isfinite(noise.variance_jy2)):
        raise InputError(f"{sample}: too few unflagged data to estimate the noise (needs 16 samples per baseline)")
    budgets = []
    for bits, path in sorted(compressed.items()):
        packed = _read(path, "DATA")
        if packed["data"].shape != original["data"].shape or not np.array_equal(packed["time"], original["time"]):
            raise InputError(f"the compressed sample {path} does not match the original rows")
        natural, equal = error_to_noise(orig["data"], packed["data"][cross], orig["flag"] | packed["flag"][cross],
                                        orig["weight"], bl, noise, corr)
        budgets.append(ErrorBudget(bits, natural, equal))
        log.info("Dysco %2d bits: compression error / noise in the image %.3g (natural weights), %.3g (equal "
                 "weights): predicted image-rms increase %.3g %%", bits, natural, equal,
                 100 * budgets[-1].predicted_increase)
    return budgets, noise


def measure_bit_rates(ms: Path, workdir: Path, *, data_column: str = "DATA",
                      candidates: Sequence[int] = CANDIDATE_DATA_BITS, weight_bits: int = DEFAULT_WEIGHT_BITS,
                      max_rms_increase: float = DEFAULT_MAX_RMS_INCREASE, sample_times: int = DEFAULT_SAMPLE_TIMES,
                      threads: int = 1, provenance: Provenance | None = None, keep: bool = False) -> Measurement:
    """Compress a sample of ``ms`` at every candidate bit rate (one DP3 run) and choose the fewest bits that
    keep the predicted image-rms increase below ``max_rms_increase``.

    ``workdir`` holds the sample, the compressed copies (removed unless ``keep``) and DP3's parset and log.
    """
    if not candidates:
        raise InputError("no Dysco bit rates to measure", setting="data_bits")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sample = workdir / "sample.ms"
    outputs = {int(b): workdir / f"sample.dysco{int(b)}.ms" for b in candidates}
    try:
        for path in (sample, *outputs.values()):
            remove_path(path)
        n_times = write_sample(ms, sample, sample_times)
        branches = [[dp3_steps.msout(path, dysco=DyscoSettings(bits, weight_bits), name="dysco")]
                    for bits, path in outputs.items()]
        dp3_steps.run_writing_steps(sample, dp3_steps.split(branches), workdir, "dysco_sample",
                                    data_column=data_column, threads=threads, provenance=provenance)
        budgets, noise = judge(sample, outputs, data_column)
        sample_bytes = table_bytes(sample, main_only=True)
        saved = {bits: 1.0 - table_bytes(path, main_only=True) / sample_bytes for bits, path in outputs.items()}
        sample_rows = _count_rows(sample)
    finally:
        if not keep:
            for path in (sample, *outputs.values()):
                remove_path(path)
    chosen = choose_data_bits(budgets, max_rms_increase, noise_determined=noise.determined)
    if not noise.determined:
        log.warning("%s: the sky signal dominates every noise estimate (S/N per visibility too high to measure the "
                    "noise): the predicted increases are lower bounds and no bit rate is judged safe", ms)
    sigma = noise.median_sigma_jy()
    log.info("noise of %s: %.3g Jy per visibility and real part (median over baselines); Dysco choice for an "
             "image-rms increase below %.3g %%: %s", ms, sigma if math.isfinite(sigma) else float("nan"),
             100 * max_rms_increase, f"{chosen} bits" if chosen else "none of the candidates")
    return Measurement(budgets=tuple(budgets), noise=noise, sample_times=n_times, sample_rows=sample_rows,
                       max_rms_increase=max_rms_increase, chosen_bits=chosen, sample_volume_saved=saved)


def _count_rows(ms: Path) -> int:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return int(t.nrows())
