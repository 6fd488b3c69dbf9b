"""The observations to average: their metadata, the checks that refuse bad combinations, the template.

Every observation is opened read-only. What is read here is small (subtables, TIME, and UVW and
antennas of a few time slots); the visibilities are read once, later, by :mod:`lofar_hires.sva.engine`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.ms import require_ms
from lofar_hires.physics import angular_separation_rad

log = logging.getLogger(__name__)

#: Keywords of a data column that say which station beam was applied (DP3 applybeam writes them).
BEAM_KEYWORDS = ("LOFAR_APPLIED_BEAM_MODE", "LOFAR_APPLIED_BEAM_DIR")
#: Time slots of each observation whose UVW are compared with the template's geometry.
SAMPLE_SLOTS = 8


@dataclass(frozen=True)
class Observation:
    """One input measurement set: what the checks, the template and the engine need."""

    path: Path
    station_names: tuple[str, ...]
    positions_itrf_m: np.ndarray  # (n_station, 3)
    dish_diameters_m: np.ndarray
    phase_centre_rad: tuple[float, float]
    freqs_hz: np.ndarray
    corr_types: tuple[int, ...]
    times_mjd_s: np.ndarray  # unique, sorted
    row_starts: np.ndarray  # first row of each unique time (rows are time-ordered), plus n_rows at the end
    integration_s: float
    n_rows: int
    beam_keywords: dict[str, str]

    @property
    def name(self) -> str:
        return self.path.name

    def rows_of_times(self, first: int, stop: int) -> tuple[int, int]:
        """Row range of the unique times ``first .. stop-1``."""
        return int(self.row_starts[first]), int(self.row_starts[stop])


def read_observation(path: Path, data_column: str) -> Observation:
    """Metadata of one observation (one spectral window; rows must be in time order)."""
    from casacore.tables import table

    path = require_ms(Path(path), (data_column, "WEIGHT_SPECTRUM"))
    with table(str(path), ack=False) as t:
        times = t.getcol("TIME")
        n_rows = t.nrows()
        integration = float(np.median(t.getcol("INTERVAL", startrow=0, nrow=min(n_rows, 10000))))
        keywords = t.getcolkeywords(data_column) if data_column in t.colnames() else {}
    if np.any(np.diff(times) < 0):
        raise InputError(f"{path}: rows are not in time order (sort it, e.g. with DP3, before averaging)",
                         setting="msin")
    unique, starts = np.unique(times, return_index=True)
    if not (math.isfinite(integration) and integration > 0):
        integration = float(np.median(np.diff(unique))) if unique.size > 1 else 1.0
    with table(str(path / "ANTENNA"), ack=False) as t:
        names = tuple(str(n) for n in t.getcol("NAME"))
        positions = np.asarray(t.getcol("POSITION"), float).reshape(-1, 3)
        dishes = np.asarray(t.getcol("DISH_DIAMETER"), float) if "DISH_DIAMETER" in t.colnames() else np.zeros(0)
    with table(str(path / "SPECTRAL_WINDOW"), ack=False) as t:
        if t.nrows() != 1:
            raise InputError(f"{path} has {t.nrows()} spectral windows; averaging needs one per measurement set",
                             setting="msin")
        freqs = np.asarray(t.getcol("CHAN_FREQ")[0], float)
    with table(str(path / "POLARIZATION"), ack=False) as t:
        corr = tuple(int(c) for c in t.getcol("CORR_TYPE")[0])
    with table(str(path / "FIELD"), ack=False) as t:
        direction = np.asarray(t.getcol("PHASE_DIR")[0, 0], float)
    beam = {k: repr(keywords[k]) for k in BEAM_KEYWORDS if k in keywords and str(keywords[k]) != "None"}
    return Observation(path=path, station_names=names, positions_itrf_m=positions, dish_diameters_m=dishes,
                       phase_centre_rad=(float(np.mod(direction[0], 2 * np.pi)), float(direction[1])),
                       freqs_hz=freqs, corr_types=corr, times_mjd_s=unique,
                       row_starts=np.append(starts, n_rows).astype(np.int64), integration_s=integration,
                       n_rows=n_rows, beam_keywords=beam)


def choose_template(observations: list[Observation]) -> int:
    """The template observation: the one with the most stations (the first of equals)."""
    counts = [len(o.station_names) for o in observations]
    return int(np.argmax(counts))


def check_compatible(observations: list[Observation], template: int, max_centre_offset_arcsec: float) -> None:
    """Refuse observations that cannot be averaged onto the template's grid.

    Raises
    ------
    InputError
        Another field (phase centres further apart than ``max_centre_offset_arcsec``), another
        frequency grid, other correlations, another applied beam, or no baseline in common.
    """
    ref = observations[template]
    for obs in observations:
        if obs is ref:
            continue
        sep = math.degrees(float(angular_separation_rad(*ref.phase_centre_rad, *obs.phase_centre_rad))) * 3600.0
        if sep > max_centre_offset_arcsec:
            raise InputError(f"{obs.path} is phased to another direction: {sep:.3g} arcsec from {ref.path} (at most "
                             f"{max_centre_offset_arcsec:g}); it is an observation of another field or facet",
                             setting="max_centre_offset_arcsec")
        width = float(np.min(np.abs(np.diff(ref.freqs_hz)))) if ref.freqs_hz.size > 1 else 1.0
        if obs.freqs_hz.shape != ref.freqs_hz.shape or np.max(np.abs(obs.freqs_hz - ref.freqs_hz)) > 1e-3 * width:
            raise InputError(f"{obs.path} has another frequency grid ({obs.freqs_hz.size} channels from "
                             f"{obs.freqs_hz[0] / 1e6:.6f} MHz) than {ref.path} ({ref.freqs_hz.size} from "
                             f"{ref.freqs_hz[0] / 1e6:.6f} MHz); average them to the same channels first",
                             setting="msin")
        if obs.corr_types != ref.corr_types:
            raise InputError(f"{obs.path} has correlations {obs.corr_types}, {ref.path} {ref.corr_types}",
                             setting="msin")
        if obs.beam_keywords != ref.beam_keywords:
            raise InputError(f"{obs.path} and {ref.path} carry different applied beams ({obs.beam_keywords or 'none'} "
                             f"vs {ref.beam_keywords or 'none'})", setting="msin")
        common = set(obs.station_names) & set(ref.station_names)
        if len(common) < 2:
            raise InputError(f"{obs.path} has no baseline in common with {ref.path} (stations in common: "
                             f"{', '.join(sorted(common)) or 'none'})", setting="msin")
        missing = sorted(set(obs.station_names) - set(ref.station_names))
        if missing:
            log.warning("%s: station(s) %s are not in the template %s; their baselines are left out", obs.path,
                        ", ".join(missing), ref.path)


def station_map(obs: Observation, template: Observation) -> np.ndarray:
    """Template station index of each station of ``obs`` (-1 where the template lacks it)."""
    index = {name: i for i, name in enumerate(template.station_names)}
    return np.array([index.get(name, -1) for name in obs.station_names], dtype=np.int64)


def sample_rows(obs: Observation, data_column: str = "DATA") -> dict[str, np.ndarray]:
    """TIME, ANTENNA1/2 and UVW of up to :data:`SAMPLE_SLOTS` time slots spread over the observation."""
    from casacore.tables import table

    picks = np.unique(np.linspace(0, obs.times_mjd_s.size - 1, min(SAMPLE_SLOTS, obs.times_mjd_s.size)).astype(int))
    parts: dict[str, list[np.ndarray]] = {"TIME": [], "ANTENNA1": [], "ANTENNA2": [], "UVW": []}
    with table(str(obs.path), ack=False) as t:
        for k in picks:
            start, stop = obs.rows_of_times(k, k + 1)
            for col in parts:
                parts[col].append(t.getcol(col, startrow=start, nrow=stop - start))
    return {col: np.concatenate(v) for col, v in parts.items()}
