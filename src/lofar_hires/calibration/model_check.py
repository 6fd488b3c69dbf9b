"""Does the calibrator model match the data? Checked before anything is solved against it.

Two numbers, measured on the working MS after the model was predicted into MODEL_DATA
(XX and YY, unflagged data, streamed in row chunks):

* coherence ``|sum_t D M*| / sum_t |D||M|`` per core-core baseline, channel and
  polarisation (median over them): core stations share one clock and see one ionosphere,
  and the other instrumental terms do not change in time, so a model of the source at the
  phase centre gives ~1 whatever the instrument does, and a model of another source (which
  fringes) gives ~0;
* amplitude ratio ``sum |D| / sum |M|`` on the shortest baselines that are not core-core
  (median over baselines): amplitudes do not care about clocks and ionosphere, and a
  calibrator is unresolved there, so the ratio is the bandpass times the beam (within a
  factor two of 1 for LOFAR); a model in the wrong unit or of the wrong source is far off.

A model that fails either check is refused with an :class:`InputError` naming it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError

log = logging.getLogger(__name__)

#: Rows read at a time.
CHUNK_ROWS = 20000
#: Number of shortest non-core baselines the amplitude ratio is measured on.
N_SHORT_BASELINES = 10


@dataclass(frozen=True)
class ModelAgreement:
    """How well MODEL_DATA matches DATA (see the module description); NaN where not measurable."""

    coherence: float
    amplitude_ratio: float
    n_core_baselines: int
    short_baselines: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"coherence_core": None if not np.isfinite(self.coherence) else self.coherence,
                "amplitude_ratio_short_noncore": None if not np.isfinite(self.amplitude_ratio)
                else self.amplitude_ratio,
                "n_core_baselines": self.n_core_baselines, "short_baselines": list(self.short_baselines)}


def model_agreement(ms: Path, core_spec: str = "core_stations") -> ModelAgreement:
    """Coherence on core baselines and amplitude ratio on the shortest non-core baselines.

    Parameters
    ----------
    ms
        Measurement set with DATA and MODEL_DATA.
    core_spec
        Station specification of the core stations (a group of ``configs/station_groups.yaml``).
    """
    from casacore.tables import table

    from lofar_hires.solutions.stations import resolve_stations

    with table(str(Path(ms) / "ANTENNA"), ack=False) as ant:
        names = [str(n) for n in ant.getcol("NAME")]
        positions = np.asarray(ant.getcol("POSITION"), dtype=float)
    core = np.isin(names, resolve_stations(core_spec, names, where="core stations"))
    n_ant = len(names)
    length = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    pair_core = core[:, None] & core[None, :]
    upper = np.triu(np.ones((n_ant, n_ant), dtype=bool), k=1)
    short_pairs = np.argwhere(upper & ~pair_core)
    short_pairs = short_pairs[np.argsort(length[short_pairs[:, 0], short_pairs[:, 1]])][:N_SHORT_BASELINES]
    short = np.zeros((n_ant, n_ant), dtype=bool)
    short[short_pairs[:, 0], short_pairs[:, 1]] = short[short_pairs[:, 1], short_pairs[:, 0]] = True

    keys = np.full(n_ant * n_ant, -1)
    wanted_pairs = np.flatnonzero((pair_core | short).reshape(-1))
    keys[wanted_pairs] = np.arange(len(wanted_pairs))
    num = den = None
    sum_d = np.zeros(len(wanted_pairs))
    sum_m = np.zeros(len(wanted_pairs))
    with table(str(ms), ack=False) as t:
        for column in ("DATA", "MODEL_DATA", "FLAG"):
            if column not in t.colnames():
                raise InputError(f"{ms} has no column {column}; predict the calibrator model first")
        n_rows = t.nrows()
        for start in range(0, n_rows, CHUNK_ROWS):
            nrow = min(CHUNK_ROWS, n_rows - start)
            a1 = t.getcol("ANTENNA1", startrow=start, nrow=nrow)
            a2 = t.getcol("ANTENNA2", startrow=start, nrow=nrow)
            wanted = (a1 != a2) & (pair_core[a1, a2] | short[a1, a2])
            if not np.any(wanted):
                continue
            rows = np.flatnonzero(wanted)
            data = t.getcol("DATA", startrow=start, nrow=nrow)[rows][..., [0, 3]]
            model = t.getcol("MODEL_DATA", startrow=start, nrow=nrow)[rows][..., [0, 3]]
            good = ~t.getcol("FLAG", startrow=start, nrow=nrow)[rows][..., [0, 3]] & np.isfinite(data)
            data = np.where(good, data, 0.0)
            model = np.where(good, model, 0.0)
            key = keys[a1[rows] * n_ant + a2[rows]]
            if num is None:
                num = np.zeros((len(wanted_pairs),) + data.shape[1:], dtype=complex)
                den = np.zeros(num.shape)
            np.add.at(num, key, data * np.conj(model))
            np.add.at(den, key, np.abs(data) * np.abs(model))
            sum_d += np.bincount(key, np.sum(np.abs(data), axis=(1, 2)), len(wanted_pairs))
            sum_m += np.bincount(key, np.sum(np.abs(model), axis=(1, 2)), len(wanted_pairs))
    is_core = pair_core.reshape(-1)[wanted_pairs]
    is_short = short.reshape(-1)[wanted_pairs] & (sum_m > 0) & (sum_d > 0)
    coherence = float("nan")
    if num is not None:
        cells = is_core[:, None, None] & (den > 0)
        if np.any(cells):
            coherence = float(np.median(np.abs(num[cells]) / den[cells]))
    ratio = float(np.median(sum_d[is_short] / sum_m[is_short])) if np.any(is_short) else float("nan")
    labels = tuple(f"{names[i]}-{names[j]}" for i, j in short_pairs)
    n_core = int(np.sum(is_core & (np.sum(den, axis=(1, 2)) > 0))) if den is not None else 0
    return ModelAgreement(coherence=coherence, amplitude_ratio=ratio, n_core_baselines=n_core,
                          short_baselines=labels)


def check_calibrator_model(ms: Path, skymodel: Path, min_coherence: float,
                           ratio_range: tuple[float, float]) -> ModelAgreement:
    """:func:`model_agreement`, refusing a model that does not match the data.

    Raises
    ------
    InputError
        Coherence below ``min_coherence`` or amplitude ratio outside ``ratio_range``; the
        message names the model and both numbers.
    """
    found = model_agreement(ms)
    low, high = ratio_range
    log.info("calibrator model %s vs data: coherence %.3f on %d core baselines, amplitude ratio data/model %.3f on "
             "the shortest non-core baselines (%s)", Path(skymodel).name, found.coherence, found.n_core_baselines,
             found.amplitude_ratio, ", ".join(found.short_baselines[:3]))
    problems = []
    if np.isfinite(found.coherence) and found.coherence < min_coherence:
        problems.append(f"coherence {found.coherence:.2f} < {min_coherence:g} on core baselines (a model of "
                        "another source, or not at the phase centre?)")
    if np.isfinite(found.amplitude_ratio) and not low <= found.amplitude_ratio <= high:
        problems.append(f"amplitude ratio data/model {found.amplitude_ratio:.3g} outside [{low:g}, {high:g}] on the "
                        "shortest non-core baselines (wrong flux scale or source?)")
    if not np.isfinite(found.coherence) and not np.isfinite(found.amplitude_ratio):
        problems.append("no unflagged data on the baselines it is measured on")
    if problems:
        raise InputError(f"the calibrator model {skymodel} does not match the data: {'; '.join(problems)}; give the "
                         "model of the calibrator observed (shipped: 3C196, 3C295)")
    return found
