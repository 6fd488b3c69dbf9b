"""How much Dysco compression adds to the image noise of a dataset, and the bit rate to choose.

Pure functions on visibility arrays (``(row, chan, corr)``, complex): the thermal noise of
the data estimated from the data themselves, the image-rms increase that a compression error
``e = compressed - original`` gives, and the choice of the fewest bits that keep it below a
bound. :mod:`lofar_hires.storage.measure` gets the arrays by compressing a sample of the data
with DP3.

Noise. Per baseline, three direct estimates of the complex noise variance per correlation
``sigma^2 = E|n|^2`` are made, each robust (``median |d|^2 / ln 2``, exact for complex Gaussian
noise): from the sum of the cross hands ``(XY + YX) / sqrt(2)`` (Stokes U, zero for an
unpolarised sky and untouched by differential Faraday rotation), and from second differences
``(V[k+1] - 2 V[k] + V[k-1]) / sqrt(6)`` along channels and along time slots of XX and YY
(a signal that changes linearly from sample to sample cancels).
Sky signal only adds to each (beam leakage into the cross hands, fringes that turn between
channels and time slots on long baselines), so on high-S/N data no baseline may give the noise
directly. The weights give the noise's shape across baselines (``sigma^2 = c / weight``): the
smallest direct estimate of each baseline times its weight estimates ``c``, and a low quantile
of these over the baselines (the baselines that see least of the sky) is taken. The noise counts
as measured when some baseline at that scale (within :data:`AGREEMENT`) has two estimates that
agree within the same factor; when none has, the sky dominates every estimate: the noise is not
determined (only an upper bound), the predicted increases are lower bounds, and no bit rate is
chosen.

Image rms. For Stokes I (``(XX + YY) / 2``) imaged with weights ``w``, the image variance is
``sum w^2 var / (sum w)^2``; a noise-like compression error raises the rms by
``sqrt(1 + sum w^2 |e_I|^2 / sum w^2 sigma_I^2) - 1``. It is evaluated with natural weights
(WEIGHT_SPECTRUM) and with equal weights (close to uniform weighting on the core's many
short baselines); the larger of the two is the prediction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError

#: Bit rates for visibilities that ``lofar-hires compress`` offers, fewest first.
CANDIDATE_DATA_BITS = (4, 6, 8, 10, 12, 16)
#: Archive default of the thesis (section 13): 10-bit visibilities, 12-bit weights.
ARCHIVE_DATA_BITS = 10
DEFAULT_WEIGHT_BITS = 12
#: Largest image-rms increase the automatic choice accepts (1 %).
DEFAULT_MAX_RMS_INCREASE = 0.01

#: Correlation types of the MS POLARIZATION table (casacore Stokes enum) for linear feeds.
CORR_XX, CORR_XY, CORR_YX, CORR_YY = 9, 10, 11, 12
#: Quantile over baselines of the weight-scaled noise estimates that sets the noise scale.
NOISE_QUANTILE = 0.1
#: Two noise estimates of a baseline within this factor of each other measure noise, not sky signal.
AGREEMENT = 1.5
#: Median of an exponential variable (|d|^2 of complex Gaussian noise) over its mean.
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class NoiseEstimate:
    """Noise of the data per baseline: complex variance per correlation (``E|n|^2``, Jy^2).

    ``method`` names, per baseline, the estimate that was smallest (``cross-hands``,
    ``channels``, ``times``); ``None`` where no estimate was possible (too few samples).
    """

    variance_jy2: np.ndarray  # (baseline,)
    method: tuple[str | None, ...]
    #: Baselines at the noise scale whose two smallest direct estimates agree (within :data:`AGREEMENT`).
    n_consistent: int = 0

    @property
    def determined(self) -> bool:
        """Whether the noise was separated from the signal on some baseline; if not, the variances are only
        upper bounds (the sky dominates every estimate) and no compression can be judged safe."""
        return self.n_consistent >= 1

    def median_sigma_jy(self) -> float:
        """The median over baselines of the noise per real or imaginary part (Jy)."""
        good = np.isfinite(self.variance_jy2)
        return float(np.sqrt(np.median(self.variance_jy2[good]) / 2.0)) if good.any() else math.nan


@dataclass(frozen=True)
class ErrorBudget:
    """What one bit rate does to the sample: error over noise in the image, and the predicted rms increase."""

    data_bits: int
    error_to_noise_natural: float
    error_to_noise_equal: float

    @property
    def predicted_increase(self) -> float:
        """Fractional image-rms increase (the larger of natural and equal weighting)."""
        return rms_increase(max(self.error_to_noise_natural, self.error_to_noise_equal))


def rms_increase(error_to_noise: float) -> float:
    """``sqrt(1 + var(e) / sigma^2) - 1``: the image-rms increase of a noise-like error of that variance ratio."""
    if not (error_to_noise >= 0):
        raise InputError(f"an error-to-noise variance ratio must be >= 0, got {error_to_noise}")
    return math.sqrt(1.0 + error_to_noise) - 1.0


def baseline_index(ant1: np.ndarray, ant2: np.ndarray) -> tuple[np.ndarray, int]:
    """Index of each row's baseline (0..n-1, in order of first appearance sorted by antenna pair) and n."""
    pairs = np.asarray(ant1, dtype=np.int64) * 100_000 + np.asarray(ant2, dtype=np.int64)
    _, index = np.unique(pairs, return_inverse=True)
    return index.reshape(-1), int(index.max()) + 1 if index.size else 0


def _robust_variance(d: np.ndarray, good: np.ndarray, min_samples: int) -> float:
    """``median |d|^2 / ln 2`` over the good samples (complex Gaussian: the mean of ``|d|^2``)."""
    values = np.abs(d[good]) ** 2
    if values.size < min_samples:
        return math.nan
    return float(np.median(values) / _LN2)


def _corr_positions(corr_types: Sequence[int]) -> dict[int, int]:
    return {int(c): i for i, c in enumerate(corr_types)}


def _baseline_variances(data: np.ndarray, flags: np.ndarray, rows: np.ndarray, pos: dict[int, int],
                        min_samples: int) -> dict[str, float]:
    """The three direct noise estimates of one baseline's rows (time-ordered): cross hands, channels, times."""
    d, f = data[rows], flags[rows]
    parallel = [pos[CORR_XX], pos[CORR_YY]]
    estimates: dict[str, float] = {}
    if CORR_XY in pos and CORR_YX in pos:
        xy, yx = pos[CORR_XY], pos[CORR_YX]
        estimates["cross-hands"] = _robust_variance((d[..., xy] + d[..., yx]) / math.sqrt(2.0),
                                                    ~(f[..., xy] | f[..., yx]), min_samples)
    par, fpar = d[..., parallel], f[..., parallel]
    for axis, name in ((1, "channels"), (0, "times")):
        n = par.shape[axis]
        if n < 2:
            continue
        take = lambda a, lo, hi, axis=axis: np.take(a, np.arange(lo, a.shape[axis] - hi), axis=axis)  # noqa: E731
        if n >= 3:  # second differences: a signal that changes linearly between samples cancels
            diff = (take(par, 2, 0) - 2 * take(par, 1, 1) + take(par, 0, 2)) / math.sqrt(6.0)
            good = ~(take(fpar, 2, 0) | take(fpar, 1, 1) | take(fpar, 0, 2))
        else:
            diff = (take(par, 1, 0) - take(par, 0, 1)) / math.sqrt(2.0)
            good = ~(take(fpar, 1, 0) | take(fpar, 0, 1))
        estimates[name] = _robust_variance(diff, good, min_samples)
    return {k: v for k, v in estimates.items() if np.isfinite(v) and v > 0}


def estimate_noise(data: np.ndarray, flags: np.ndarray, weights: np.ndarray, bl: np.ndarray, n_baselines: int,
                   times: np.ndarray, corr_types: Sequence[int], *, min_samples: int = 16,
                   quantile: float = NOISE_QUANTILE) -> NoiseEstimate:
    """Thermal noise per baseline from the data themselves (see the module docstring).

    Every baseline's smallest direct estimate times its median weight estimates the scale
    ``c`` of ``sigma^2 = c / weight``; sky signal only adds to it, so a low ``quantile`` of
    these over the baselines is taken (baselines that see little of the sky give it), and
    each baseline's noise follows from its weight. Where the weights are not positive the
    direct estimate is used.

    Parameters
    ----------
    data, flags, weights
        Visibilities, flags and WEIGHT_SPECTRUM, ``(row, chan, corr)``.
    bl
        Baseline index of each row (:func:`baseline_index`).
    n_baselines
        Number of baselines.
    times
        Time of each row (s); neighbouring time slots of a baseline are differenced.
    corr_types
        The MS correlation types (9..12 for XX, XY, YX, YY).
    min_samples
        Fewer good samples give no estimate of that kind.
    quantile
        Quantile over baselines of the weight-scaled estimates that sets the noise scale.
    """
    pos = _corr_positions(corr_types)
    if CORR_XX not in pos or CORR_YY not in pos:
        raise InputError(f"Dysco noise estimate needs linear XX and YY correlations, got types {list(corr_types)}")
    parallel = [pos[CORR_XX], pos[CORR_YY]]
    direct = np.full(n_baselines, np.nan)
    weight = np.full(n_baselines, np.nan)
    consistent = np.zeros(n_baselines, dtype=bool)
    method: list[str | None] = [None] * n_baselines
    order = np.lexsort((times, bl))
    for b in range(n_baselines):
        rows = order[bl[order] == b]
        if rows.size == 0:
            continue
        estimates = _baseline_variances(data, flags, rows, pos, min_samples)
        if estimates:
            ranked = sorted(estimates, key=estimates.__getitem__)
            direct[b], method[b] = estimates[ranked[0]], ranked[0]
            consistent[b] = len(ranked) > 1 and estimates[ranked[1]] <= AGREEMENT * estimates[ranked[0]]
        w = weights[rows][..., parallel][~flags[rows][..., parallel]]
        weight[b] = float(np.median(w)) if w.size else np.nan
    scaled = direct * weight
    usable = np.isfinite(scaled) & (scaled > 0)
    if not usable.any():
        return NoiseEstimate(variance_jy2=direct, method=tuple(method))
    scale = float(np.quantile(scaled[usable], quantile))
    # the noise is measured where two estimates of a baseline agree and that baseline sits at the scale
    measured = usable & consistent & (scaled <= AGREEMENT * scale)
    variance = np.where(np.isfinite(weight) & (weight > 0), scale / np.where(weight > 0, weight, 1.0), direct)
    return NoiseEstimate(variance_jy2=variance, method=tuple(method), n_consistent=int(np.sum(measured)))


def error_to_noise(original: np.ndarray, compressed: np.ndarray, flags: np.ndarray, weights: np.ndarray,
                   bl: np.ndarray, noise: NoiseEstimate, corr_types: Sequence[int]) -> tuple[float, float]:
    """Variance of the Stokes-I compression error over that of the noise, in an image (natural, equal weights).

    Parameters
    ----------
    original, compressed
        The same visibilities before and after compression, ``(row, chan, corr)``.
    flags, weights
        FLAG and WEIGHT_SPECTRUM of the original, same shape.
    bl
        Baseline index of each row; ``noise`` holds one variance per baseline.
    """
    pos = _corr_positions(corr_types)
    xx, yy = pos[CORR_XX], pos[CORR_YY]
    err = compressed - original
    error_i = np.abs(err[..., xx] + err[..., yy]) ** 2 / 4.0  # |e_I|^2
    sigma_row = noise.variance_jy2[bl]  # E|n|^2 per correlation
    noise_i = np.broadcast_to((sigma_row / 2.0)[:, None], error_i.shape)  # E|n_I|^2 = (s_xx + s_yy) / 4
    good = ~(flags[..., xx] | flags[..., yy]) & np.isfinite(noise_i) & np.isfinite(error_i)
    w_natural = np.where(good, (weights[..., xx] + weights[..., yy]) / 2.0, 0.0)
    if not good.any() or not np.any(w_natural > 0):
        raise InputError("no unflagged data with a noise estimate in the sample: cannot judge the compression")
    ratios = []
    for w in (w_natural, good.astype(float)):
        w2 = w ** 2
        ratios.append(float(np.sum(w2 * np.where(good, error_i, 0.0)) / np.sum(w2 * np.where(good, noise_i, 0.0))))
    return ratios[0], ratios[1]


def choose_data_bits(budgets: Sequence[ErrorBudget], max_rms_increase: float, *,
                     noise_determined: bool = True) -> int | None:
    """The fewest data bits whose predicted image-rms increase stays below ``max_rms_increase``; ``None`` if none
    does, or if the noise was not determined (the predictions are then only lower bounds)."""
    check_max_rms_increase(max_rms_increase)
    if not noise_determined:
        return None
    for budget in sorted(budgets, key=lambda b: b.data_bits):
        if budget.predicted_increase < max_rms_increase:
            return budget.data_bits
    return None


def check_max_rms_increase(value: float) -> float:
    """The bound is a fraction in (0, 1)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 < value < 1.0):
        raise InputError(f"the largest image-rms increase must be a fraction in (0, 1), got {value}",
                         setting="max_rms_increase")
    return float(value)


def parse_data_bits(text: str, *, allow_off: bool = False) -> int | str:
    """``auto``, or one of :data:`CANDIDATE_DATA_BITS` (and ``0`` = no compression where ``allow_off``)."""
    value = str(text).strip().lower()
    if value == "auto":
        return "auto"
    allowed = ((0,) if allow_off else ()) + CANDIDATE_DATA_BITS
    try:
        bits = int(value)
    except ValueError:
        bits = -1
    if bits not in allowed:
        raise InputError(f"Dysco data bits must be {', '.join(map(str, allowed))} or auto, got {text!r}",
                         setting="data_bits")
    return bits


def volume_saved(bytes_before: int, bytes_after: int) -> float:
    """Fraction of the volume saved (``1 - after / before``)."""
    if bytes_before <= 0:
        raise InputError(f"a dataset of {bytes_before} bytes has no volume to save")
    return 1.0 - bytes_after / bytes_before


def budgets_table(budgets: Sequence[ErrorBudget]) -> list[Mapping[str, float]]:
    """The budgets as JSON-ready rows (bits, error/noise ratios, predicted increase)."""
    return [{"data_bits": b.data_bits, "error_to_noise_natural": b.error_to_noise_natural,
             "error_to_noise_equal": b.error_to_noise_equal, "predicted_rms_increase": b.predicted_increase}
            for b in sorted(budgets, key=lambda b: b.data_bits)]
