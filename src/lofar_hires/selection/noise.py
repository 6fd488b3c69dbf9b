"""What the phasediff score of pure noise is, for the samples a score used (de Jong et al. 2025, section 6.3.1).

The score sigma_c = sqrt(-2 ln R) (:mod:`lofar_hires.selection.phasediff`) of N pooled
phase values that are pure noise is not near pi: the mean resultant length R of N
random unit phasors is about 1/sqrt(N), so noise scores about sqrt(ln N). With few
values (a short or narrow observation, few stations) noise scores well below the
main-calibrator threshold of 2.0 rad: 7 values score 1.5 rad in the median, and 1 in 14
noise candidates scores below 1.0 rad. A score only means something next to the
distribution of noise scores for the same samples.

The null hypothesis
-------------------
The R and L phase solutions of every station, channel and solution interval are
independent and uniformly distributed (no signal). The functions that make the score
(:func:`~lofar_hires.selection.phasediff.phase_differences` with the reference
station, :func:`~lofar_hires.selection.phasediff.channel_differences` and
:func:`~lofar_hires.selection.phasediff.pooled_score` on the score stations) are run
on ``n_draws`` (default 4000) sets of such phases with the solutions' own weights
(flags), seeded, vectorised (:func:`simulate_noise`). Referencing to a station and
differencing neighbouring channels make values that share a phase, but for uniform
phases they stay independent and uniform (given the shared phase, each difference
is still uniform), so with 0/1 weights the noise score of N values is that of N
independent uniform phases; the simulation checks this for every weight pattern and
gives the effective number of values ``N_eff = 1 / <R^2>`` (exact for independent
values: ``(sum w)^2 / sum w^2``) for weights that are not 0/1.

Levels recorded per candidate
-----------------------------
* the median noise score (from the simulation);
* the noise threshold: the score that pure noise stays below with probability
  ``false_alarm`` (default 1e-3; ``score.false_alarm``). A few thousand draws cannot
  resolve a 1e-3 tail, so the threshold comes from the distribution of the resultant
  length of ``N_eff`` random phasors in Zar's approximation of the Rayleigh test
  (Zar 1999, Biostatistical Analysis, eq. 27.4),
  ``p = exp(sqrt(1 + 4n + 4(n^2 - (nR)^2)) - (1 + 2n))``, solved for R; it agrees
  with brute-force simulation within 0.01 rad (median, 1e-2) and 0.03 rad (1e-3) from 14
  to 3000 values (tests).

A candidate is classified only when its score is below its noise threshold
(:mod:`lofar_hires.selection.classify`).

The minimum number of values
----------------------------
A main calibrator scores below ``classify.main_max_rad`` (2.0 rad). With few values even
noise falls below 2.0 rad often, so a main calibrator could not be told from noise at
all. The score therefore needs at least the smallest N whose noise threshold at the
false-alarm probability reaches the main threshold (:func:`minimum_values`): 376
values for 2.0 rad at 1e-3. The count is known before any DP3 run (solution intervals
x channel pairs x score stations) and ``select score`` refuses data that give fewer.

Simulations are cached by a hash of the weights, the reference station, the station
mask, the number of draws and the seed, so scoring many candidates with the same
layout costs one simulation.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.selection.phasediff import channel_differences, count_values, phase_differences, pooled_score

log = logging.getLogger(__name__)

#: Seed of the noise simulations (results are reproducible).
NOISE_SEED = 20261205
#: Default number of simulated noise scores per weight pattern.
DEFAULT_DRAWS = 4000
#: Default false-alarm probability of the significance test.
DEFAULT_FALSE_ALARM = 1e-3
#: Phase values per simulated batch (bounds the memory of a simulation to ~50 MB).
_BATCH_VALUES = 1_000_000
#: Largest number of cached simulations.
_CACHE_SIZE = 64
_cache: dict[str, tuple[float, float, int]] = {}


@dataclass(frozen=True)
class NoiseLevel:
    """The noise scores of one set of samples.

    Attributes
    ----------
    n_values
        Number of pooled values (non-zero weight).
    n_effective
        Effective number of independent values, ``1 / <R^2>`` of the simulated noise.
    median_rad
        Median noise score (simulation).
    threshold_rad
        Score that pure noise stays below with probability ``false_alarm``.
    false_alarm
        The false-alarm probability of ``threshold_rad``.
    n_draws
        Number of simulated noise scores.
    """

    n_values: int
    n_effective: float
    median_rad: float
    threshold_rad: float
    false_alarm: float
    n_draws: int

    def to_dict(self) -> dict:
        return asdict(self)


def check_false_alarm(false_alarm: float) -> None:
    """Refuse a false-alarm probability outside (0, 0.5)."""
    if not (math.isfinite(false_alarm) and 0.0 < false_alarm < 0.5):
        raise InputError(f"score.false_alarm {false_alarm} must be a probability in (0, 0.5)")


def noise_threshold_rad(n_values: float, false_alarm: float) -> float:
    """The score that ``n_values`` independent uniform phases stay below with probability ``false_alarm``.

    Zar's approximation of the Rayleigh test solved for the resultant length:
    ``(nR)^2 = ((1 + 2n)^2 - (ln p + 1 + 2n)^2) / 4``. Returns 0 when even a resultant of
    length 1 (all phases equal) is not that rare, i.e. when there are too few values to tell
    anything from noise at that probability.

    Parameters
    ----------
    n_values
        Number of (effective) independent values, > 0.
    false_alarm
        Probability ``p`` in (0, 1).
    """
    if not (math.isfinite(n_values) and n_values > 0):
        raise InputError(f"noise level: the number of values must be positive, got {n_values}")
    if not (0.0 < false_alarm < 1.0):
        raise InputError(f"noise level: the false-alarm probability must be in (0, 1), got {false_alarm}")
    n, lp = float(n_values), math.log(false_alarm)
    resultant_sq = ((1.0 + 2.0 * n) ** 2 - (lp + 1.0 + 2.0 * n) ** 2) / 4.0 / n**2
    if resultant_sq >= 1.0:
        return 0.0
    return math.sqrt(-math.log(resultant_sq))


def noise_median_rad(n_values: float) -> float:
    """The median score of ``n_values`` independent uniform phases (Zar's approximation at p = 0.5)."""
    return noise_threshold_rad(n_values, 0.5)


def minimum_values(main_max_rad: float, false_alarm: float = DEFAULT_FALSE_ALARM) -> int:
    """The fewest values whose noise threshold at ``false_alarm`` reaches ``main_max_rad``.

    With fewer values, noise scores below the main-calibrator threshold more often than
    ``false_alarm``, so a main calibrator cannot be told from noise (see the module description).
    """
    check_false_alarm(false_alarm)
    if not (math.isfinite(main_max_rad) and 0.0 < main_max_rad < math.pi):
        raise InputError(f"classify.main_max_rad {main_max_rad} must be in (0, pi)")
    # Large-N estimate n = -ln(p) exp(s^2), then step to the exact smallest integer.
    n = max(1, int(-math.log(false_alarm) * math.exp(main_max_rad**2)))
    while n > 1 and noise_threshold_rad(n - 1, false_alarm) >= main_max_rad:
        n -= 1
    while noise_threshold_rad(n, false_alarm) < main_max_rad:
        n += 1
    return n


def _relevant_stations(n_ant: int, reference: int | None, station_mask: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Indices of the stations that affect the score (masked ones and the reference), and the new reference."""
    keep = np.flatnonzero(station_mask | (np.arange(n_ant) == (-1 if reference is None else reference)))
    new_ref = None if reference is None else int(np.flatnonzero(keep == reference)[0])
    return keep, new_ref


def simulate_noise(weight: np.ndarray, reference: int | None, station_mask: np.ndarray,
                   n_draws: int = DEFAULT_DRAWS, seed: int = NOISE_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Scores of pure-noise phases with the given weights, through the score's own functions.

    Parameters
    ----------
    weight
        Weights of the phase solutions, axes (time, freq, ant, pol=2), as the score read them.
    reference
        Index of the reference station, or None.
    station_mask
        The score stations on the ``ant`` axis.
    n_draws
        Number of noise realisations.
    seed
        Seed of the random phases.

    Returns
    -------
    (scores_rad, resultant_sq)
        One noise score and one squared mean resultant length per draw.
    """
    weight = np.asarray(weight, dtype=float)
    station_mask = np.asarray(station_mask, dtype=bool)
    if weight.ndim != 4 or weight.shape[-1] != 2 or station_mask.shape != (weight.shape[2],):
        raise InputError(f"noise simulation: weights (time, freq, ant, pol=2) and one mask value per station "
                         f"expected, got {weight.shape} and {station_mask.shape}")
    if n_draws < 1:
        raise InputError(f"noise simulation: n_draws must be >= 1, got {n_draws}")
    keep, ref = _relevant_stations(weight.shape[2], reference, station_mask)
    weight, mask = weight[:, :, keep], station_mask[keep]
    rng = np.random.default_rng(seed)
    batch = max(1, min(n_draws, _BATCH_VALUES // max(1, weight.size)))
    scores, resultant_sq = [], []
    for start in range(0, n_draws, batch):
        n = min(batch, n_draws - start)
        phases = rng.uniform(-math.pi, math.pi, (n, *weight.shape))
        diff, dw = phase_differences(phases, weight, ref)
        dphase, dweight = channel_differences(diff, dw)
        s = pooled_score(dphase, dweight, mask)
        scores.append(s)
        with np.errstate(over="ignore"):
            resultant_sq.append(np.exp(-np.square(s)))  # R^2 = exp(-sigma_c^2)
    return np.concatenate(scores), np.concatenate(resultant_sq)


def _cache_key(weight: np.ndarray, reference: int | None, station_mask: np.ndarray, n_draws: int, seed: int) -> str:
    digest = hashlib.sha1()
    digest.update(repr((weight.shape, reference, n_draws, seed)).encode())
    digest.update(np.ascontiguousarray(weight, dtype=float).tobytes())
    digest.update(np.ascontiguousarray(station_mask, dtype=bool).tobytes())
    return digest.hexdigest()


def noise_level(weight: np.ndarray, reference: int | None, station_mask: np.ndarray,
                false_alarm: float = DEFAULT_FALSE_ALARM, n_draws: int = DEFAULT_DRAWS,
                seed: int = NOISE_SEED) -> NoiseLevel:
    """The noise level of a score: median and false-alarm threshold for these samples (cached).

    Parameters are those of :func:`simulate_noise`, plus the false-alarm probability of the threshold.
    """
    check_false_alarm(false_alarm)
    weight = np.asarray(weight, dtype=float)
    station_mask = np.asarray(station_mask, dtype=bool)
    key = _cache_key(weight, reference, station_mask, n_draws, seed)
    if key not in _cache:
        diff, dw = phase_differences(np.zeros_like(weight), weight, reference)
        n_values = count_values(channel_differences(diff, dw)[1], station_mask)
        if n_values == 0:
            raise InputError("noise level: every value of the score stations is flagged")
        scores, resultant_sq = simulate_noise(weight, reference, station_mask, n_draws, seed)
        n_effective = float(1.0 / np.mean(resultant_sq))
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (float(np.median(scores)), n_effective, n_values)
        log.debug("noise simulation: %d values, %d draws: median %.3f rad, effective values %.1f", n_values,
                  n_draws, _cache[key][0], n_effective)
    median, n_effective, n_values = _cache[key]
    return NoiseLevel(n_values=n_values, n_effective=n_effective, median_rad=median,
                      threshold_rad=noise_threshold_rad(n_effective, false_alarm), false_alarm=false_alarm,
                      n_draws=n_draws)


def clear_cache() -> None:
    """Forget every cached simulation."""
    _cache.clear()
