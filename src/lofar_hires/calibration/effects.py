"""The calibrator pipeline's fits: one systematic effect from a DDECal solve into its soltab.

Each ``fit_*_step`` reads a solve's h5parm, fits one effect per station (polarisation
alignment, Faraday rotation, bandpass, clock and TEC; de Gasperin et al. 2019, section 4)
and writes it as a soltab of a new h5parm. None of them returns a value it cannot stand
behind: a station whose fit ends on the edge of its search range (after
widening the range up to the largest allowed), whose residual is poor, which has no data,
or whose clock and TEC the band cannot separate, is *failed*: its solutions get weight 0
(and NaN values) and the step's report lists it under ``failed`` with the reason. The
pipeline decides what a failed station means for the run (:mod:`.di_calibrator`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from lofar_hires.calibration.config import CalibratorConfig
from lofar_hires.calibration.phases import alias_free_delay_s, model_free_noise, poorly_fitted, wrap
from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.atomic import atomic_output
from lofar_hires.io.h5parm import Soltab, StreamingReader, read_h5parm, write_h5parm
from lofar_hires.provenance import Provenance

log = logging.getLogger(__name__)

#: A solution within this fraction of its search range from the edge counts as at the edge.
EDGE_FRACTION = 0.05


def reference_index(names, wanted: str) -> int:
    """Index of the reference station: ``wanted``, else a CS002 field, else the first core station."""
    names = [str(n) for n in names]
    if wanted in names:
        return names.index(wanted)
    for prefix in ("CS002", "CS"):
        for i, n in enumerate(names):
            if n.startswith(prefix):
                log.warning("reference station %s not present; using %s", wanted, n)
                return i
    log.warning("no core station present; using %s as reference", names[0])
    return 0


# --------------------------------------------------------------------------- reading and writing


def read_solution(h5parm: Path, soltab: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A DDECal soltab as (time, freq, ant[, pol]) values and weights (one direction).

    Polarised soltabs must be diagonal (XX, YY), as the fits expect. Flagged or non-finite
    values get weight 0 (and value 0).
    """
    solset = read_h5parm(h5parm)
    if soltab not in solset.soltabs:
        raise InputError(f"{h5parm} has no soltab {soltab} (it has {', '.join(solset.soltabs) or 'none'})")
    tab = solset.soltabs[soltab].canonical()
    if "pol" in tab.axes and [str(p) for p in tab.axes["pol"]] != ["XX", "YY"]:
        raise InputError(f"{h5parm}:{soltab} has polarisations {[str(p) for p in tab.axes['pol']]}; "
                         "the fits need a diagonal (XX, YY) solve")
    val, weight, axes = tab.val, tab.weight, tab.axes
    if "amplitude000" in solset.soltabs:
        # DDECal (rotation+diagonal) leaves non-zero weights on stations without any unflagged
        # data; their amplitudes are exactly 0, which no real solution is.
        amp = solset.soltabs["amplitude000"].canonical()
        dead = np.all(amp.val == 0, axis=amp.axis_names.index("pol")) if "pol" in amp.axes else amp.val == 0
        dead_axes = [a for a in amp.axis_names if a != "pol"]
        if dead_axes == [a for a in tab.axis_names if a != "pol"]:
            dead = dead[..., None] if "pol" in tab.axes else dead
            weight = np.where(dead, 0.0, weight)
    if "dir" in axes:
        pos = list(axes).index("dir")
        val, weight = np.take(val, 0, axis=pos), np.take(weight, 0, axis=pos)
        axes = {k: v for k, v in axes.items() if k != "dir"}
    for name in ("time", "freq", "ant"):
        if name not in axes:
            raise InputError(f"{h5parm}:{soltab} has no {name} axis; solve per time slot and channel")
    flagged = ~np.isfinite(val)
    weight = np.where(flagged, 0.0, weight)
    val = np.where(flagged, 0.0, val)
    return val, weight, axes


def write_parts(path: Path, tabs: list[Soltab], names: list[str], positions: np.ndarray,
                provenance: Provenance) -> Path:
    """Write (or replace) an h5parm atomically, with the provenance in the solset attributes."""
    with atomic_output(path, overwrite=True) as tmp:
        write_h5parm(tmp, tabs, names, positions, attrs={"lofar_hires_provenance": provenance.to_json()})
    return path


def _positions(solve_h5: Path, names) -> np.ndarray:
    ss = read_h5parm(solve_h5, None, [])
    pos = {n: p for n, p in zip(ss.antenna_names, ss.antenna_positions_m)}
    return np.array([pos.get(str(n), np.zeros(3)) for n in names])


def nan_reduce(func, values: np.ndarray, axis) -> np.ndarray:
    """``func`` (np.nanmean, np.nanmedian) without numpy's warning for stations without any value (NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(np.asarray(values, dtype=float), axis=axis)


def per_station(names, values) -> dict[str, float | None]:
    """``{station: value}`` with None for non-finite values (JSON-ready)."""
    return {str(n): (None if not np.isfinite(v) else float(v)) for n, v in zip(names, np.asarray(values, float))}


class Failures:
    """Stations that failed a fit, with the reason (the first one found per station is kept)."""

    def __init__(self, effect: str, names) -> None:
        self.effect = effect
        self.names = [str(n) for n in names]
        self.reasons: dict[str, str] = {}

    def add(self, mask: np.ndarray, reason) -> None:
        """Fail the stations where ``mask`` is True; ``reason(i)`` (or a string) says why."""
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            name = self.names[i]
            if name not in self.reasons:
                self.reasons[name] = f"{self.effect}: {reason(i) if callable(reason) else reason}"

    @property
    def mask(self) -> np.ndarray:
        return np.array([n in self.reasons for n in self.names], dtype=bool)

    def report(self) -> dict[str, str]:
        for name, reason in self.reasons.items():
            log.warning("station %s failed: %s", name, reason)
        return dict(self.reasons)


def _edge(values: np.ndarray, limit: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(values) > limit * (1.0 - EDGE_FRACTION)


def _poor(failures: Failures, rms: np.ndarray, cfg: CalibratorConfig) -> None:
    """Fail stations whose median (over time) rms residual exceeds ``fits.max_residual_rad``."""
    rms = np.asarray(rms, dtype=float)
    median = rms if rms.ndim == 1 else nan_reduce(np.nanmedian, rms, axis=0)
    limit = cfg.fits.max_residual_rad
    with np.errstate(invalid="ignore"):
        failures.add(median > limit, lambda i: f"residual rms {median[i]:.2f} rad > {limit:g} rad: the model does "
                     "not describe the solutions")


# --------------------------------------------------------------------------- polarisation alignment


def fit_polalign_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """Fit the XX-YY delay per station from a diagonal(+rotation) solve; write soltab ``polalign``.

    The delay search starts at ``fits.delay_range_s`` and is doubled while a station's delay
    is at its edge, up to ``1/(2 channel spacing)``.
    """
    from lofar_hires.calibration.polalign import fit_polalign, fit_reference_delay, polalign_soltab_values

    phase, weight, axes = read_solution(solve_h5, "phase000")
    names, freqs = list(axes["ant"]), axes["freq"]
    ref = reference_index(names, cfg.reference_station)
    w = np.minimum(weight[..., 0], weight[..., 1])
    limit = alias_free_delay_s(freqs)
    search = min(cfg.fits.delay_range_s, limit)
    while True:
        fit = fit_polalign(phase[..., 0], phase[..., 1], w, freqs, ref, delay_range_s=search)
        edge = _edge(fit.delay_s, search)
        if not np.any(edge) or search >= limit:
            break
        search = min(2.0 * search, limit)
        log.info("polalign: %d station(s) at the edge of the delay search; widening it to %.1f ns",
                 int(np.sum(edge)), search * 1e9)
    failures = Failures("polalign", names)
    failures.add(~np.isfinite(fit.delay_s), "no valid data")
    failures.add(edge, lambda i: f"XX-YY delay {fit.delay_s[i] * 1e9:.1f} ns at the edge of the largest search "
                 f"range (+-{search * 1e9:.1f} ns, the most the channels allow)")
    _poor(failures, fit.rms_rad, cfg)
    failed = failures.mask
    fit = replace(fit, delay_s=np.where(failed, np.nan, fit.delay_s), offset_rad=np.where(failed, np.nan,
                                                                                          fit.offset_rad))
    report: dict = {"delay_ns": per_station(names, fit.delay_s * 1e9),
                    "offset_rad": per_station(names, fit.offset_rad),
                    "residual_rms_rad": per_station(names, fit.rms_rad),
                    "search_range_ns": search * 1e9}
    meaning = "XX-YY polarisation alignment (delay) relative to the reference station"
    if cfg.fits.reference_xy_delay:
        absolute = fit_reference_delay(phase[..., 0], phase[..., 1], w, freqs, fit, delay_range_s=limit / 2)
        fit = replace(fit, delay_s=fit.delay_s + absolute.delay_s)
        report["reference_delay_ns"] = absolute.delay_s * 1e9
        report["reference_delay_coherence"] = absolute.coherence
        # The next best delay: the nearer its coherence, the less sure the branch of the rotation solves.
        found = np.isfinite(absolute.alias_delay_s)
        report["reference_delay_alias_ns"] = absolute.alias_delay_s * 1e9 if found else None
        report["reference_delay_alias_coherence"] = absolute.alias_coherence if found else None
        report["solutions_on_other_xy_branch"] = absolute.flipped_fraction
        meaning = ("XX-YY polarisation alignment (delay); the reference station's own delay, fitted from the "
                   "doubled X-Y phases, is included so that the corrected data have X-Y phase 0")
    values = polalign_soltab_values(fit, freqs)
    ok = np.isfinite(fit.delay_s)
    tab = Soltab("polalign", "phase", {"freq": freqs, "ant": axes["ant"], "pol": np.array(["XX", "YY"])},
                 np.where(ok[None, :, None], values, np.nan), np.broadcast_to(ok[None, :, None], values.shape) * 1.0,
                 attrs={"meaning": meaning})
    write_parts(out_h5, [tab], names, _positions(solve_h5, names), provenance)
    report["failed"] = failures.report()
    return report


def refine_polalign_step(initial_h5: Path, solve_h5: Path, out_h5: Path, cfg: CalibratorConfig,
                         provenance: Provenance) -> dict:
    """Add the XX-YY delay left in a later diagonal solve (made after beam and Faraday) to ``initial_h5``."""
    from lofar_hires.calibration.polalign import fit_polalign, polalign_soltab_values

    phase, weight, axes = read_solution(solve_h5, "phase000")
    names = list(axes["ant"])
    ref = reference_index(names, cfg.reference_station)
    w = np.minimum(weight[..., 0], weight[..., 1])
    delta = fit_polalign(phase[..., 0], phase[..., 1], w, axes["freq"], ref, with_offset=cfg.fits.polalign_offset,
                         delay_range_s=min(cfg.fits.delay_range_s, alias_free_delay_s(axes["freq"])))
    initial = read_h5parm(initial_h5)
    if "polalign" not in initial.soltabs:
        raise InputError(f"{initial_h5} has no soltab polalign; give the output of the polalign fit")
    tab = initial.soltabs["polalign"].canonical()
    if list(tab.axes["ant"]) != names or not np.allclose(tab.axes["freq"], axes["freq"]):
        raise InputError(f"{initial_h5} and {solve_h5} have different stations or channels")
    extra = polalign_soltab_values(delta, axes["freq"])
    ok = np.isfinite(delta.delay_s)
    values = tab.val + np.where(ok[None, :, None], extra, 0.0)
    refined = Soltab("polalign", "phase", dict(tab.axes), values, tab.weight, dict(tab.attrs))
    write_parts(out_h5, [refined], initial.antenna_names, initial.antenna_positions_m, provenance)
    # The fitted delay is the YY phase slope of the correction, -d(phase_YY)/d(2 pi nu), relative to the
    # reference station's (which holds the reference's own X-Y delay when that was fitted).
    slope = -np.polyfit(2 * np.pi * axes["freq"], np.unwrap(np.nan_to_num(values[:, :, 1]), axis=0), 1)[0]
    slope = np.where(np.all(np.isfinite(values[:, :, 1]), axis=0), slope, np.nan)
    return {"delay_ns": per_station(names, (slope - slope[ref]) * 1e9),
            "reference_delay_ns": float(slope[ref] * 1e9),
            "refinement_ns": per_station(names, delta.delay_s * 1e9)}


# --------------------------------------------------------------------------- Faraday rotation


def xy_branch(phase: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which X-Y branch each (time, channel) of a rotation+diagonal solve is on.

    After the polarisation alignment (the reference station's own X-Y delay included) the
    X-Y phase of every station's diagonal gains is near 0, or near pi on the other branch of
    the sign ambiguity of :mod:`.polalign`, where the rotation angle has the opposite sign.

    Returns
    -------
    flipped
        ``(time, freq)``: the mean X-Y phasor over stations is nearer pi than 0.
    unclear
        ``(time, freq)``: its phase is between pi/4 and 3 pi/4 from 0 (or no data): neither.
    """
    w = np.minimum(weight[..., 0], weight[..., 1])
    mean = np.sum(w * np.exp(1j * (phase[..., 0] - phase[..., 1])), axis=-1)
    angle = np.abs(np.angle(mean))
    flipped = angle > np.pi / 2
    unclear = (np.abs(mean) == 0) | ((angle > np.pi / 4) & (angle < 3 * np.pi / 4))
    return flipped & ~unclear, unclear


def fit_faraday_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """Fit a rotation measure per time and station from the rotation angles; write soltab ``faraday``.

    With ``fits.reference_xy_delay`` the solve's (time, channel) points that sit on the other
    X-Y branch get their angles negated and unclear ones are not used (:func:`xy_branch`).
    The RM search starts at ``fits.rm_range_rad_m2`` and is doubled while a station is at its
    edge, up to ``fits.rm_max_range_rad_m2`` or the RM that aliases on the channels.
    """
    from lofar_hires.calibration.faraday import alias_free_rm_rad_m2, fit_rotation_measure

    angle, weight, axes = read_solution(solve_h5, "rotation000")
    names, freqs = list(axes["ant"]), axes["freq"]
    ref = reference_index(names, cfg.reference_station)
    report: dict = {}
    with StreamingReader(solve_h5) as reader:
        has_phases = "phase000" in reader.soltab_names
    if cfg.fits.reference_xy_delay and has_phases:
        phase, pweight, _ = read_solution(solve_h5, "phase000")
        flipped, unclear = xy_branch(phase, pweight)
        angle = np.where(flipped[..., None], -angle, angle)
        weight = np.where(unclear[..., None], 0.0, weight)
        report["solutions_on_other_xy_branch"] = float(np.mean(flipped))
        report["solutions_unclear_xy_branch"] = float(np.mean(unclear))
        if np.any(flipped | unclear):
            log.warning("Faraday: %.1f %% of the (time, channel) solutions are on the other X-Y branch (their "
                        "rotation is negated) and %.1f %% are unclear (not used)", 100 * np.mean(flipped),
                        100 * np.mean(unclear))
    limit = alias_free_rm_rad_m2(freqs)
    search = min(cfg.fits.rm_range_rad_m2, limit)
    top = min(max(cfg.fits.rm_max_range_rad_m2, search), limit)
    # The noise of the angles without any model (second differences in time of the doubled angles).
    doubled = wrap(2.0 * (angle - angle[..., [ref]]))
    noise = model_free_noise(doubled, np.where(weight[..., [ref]] > 0, weight, 0.0)) / 2.0
    while True:
        fit = fit_rotation_measure(angle, weight, freqs, ref, rm_range_rad_m2=search)
        edge = np.any(_edge(fit.rm_rad_m2, search), axis=0)
        poor = poorly_fitted(fit.rms_rad, noise)
        if not np.any(edge | poor) or search >= top:
            break
        search = min(2.0 * search, top)
        log.info("Faraday: %d station(s) at the edge of the RM search or poorly fitted; widening it to %g rad/m^2",
                 int(np.sum(edge | poor)), search)
    failures = Failures("faraday", names)
    failures.add(~np.any(fit.weights > 0, axis=0), "no valid data")
    failures.add(edge, lambda i: f"RM {np.nanmax(np.abs(fit.rm_rad_m2[:, i])):.2f} rad/m^2 at the edge of the "
                 f"largest search range (+-{search:g} rad/m^2)")
    failures.add(poor, lambda i: f"no RM within the largest search range (+-{search:g} rad/m^2) describes the "
                 f"rotation angles (residual {np.nanmedian(fit.rms_rad[:, i]):.3f} rad, noise {noise[i]:.3f} rad)")
    _poor(failures, fit.rms_rad, cfg)
    failed = failures.mask
    rm = np.where(failed[None, :] | (fit.weights == 0), np.nan, fit.rm_rad_m2)
    weights = np.where(failed[None, :], 0.0, fit.weights)
    tab = Soltab("faraday", "rotationmeasure", {"time": axes["time"], "ant": axes["ant"]}, rm, weights,
                 attrs={"meaning": "differential rotation measure (rad/m^2) relative to the reference station"})
    write_parts(out_h5, [tab], names, _positions(solve_h5, names), provenance)
    report.update({"rm_mean_rad_m2": per_station(names, nan_reduce(np.nanmean, rm, axis=0)),
                   "residual_rms_rad": per_station(names, nan_reduce(np.nanmedian, fit.rms_rad, axis=0)),
                   "search_range_rad_m2": search, "failed": failures.report()})
    return report


# --------------------------------------------------------------------------- bandpass


def fit_bandpass_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """The per-channel time-median amplitude per station and polarisation; write soltab ``bandpass``."""
    from lofar_hires.calibration.bandpass import fit_bandpass

    amp, weight, axes = read_solution(solve_h5, "amplitude000")
    names = list(axes["ant"])
    fit = fit_bandpass(amp, weight, axes["freq"], outlier_sigma=cfg.fits.bandpass_outlier_sigma)
    # Outlier channels are replaced by interpolated values, which are good to apply: DP3 flags data
    # where a solution has weight 0, so only channels without any data (NaN) keep weight 0.
    values = fit.bandpass
    failures = Failures("bandpass", names)
    failures.add(~np.any(np.isfinite(values), axis=(0, 2)), "no valid data")
    weights = np.isfinite(values).astype(float)
    tab = Soltab("bandpass", "amplitude", {"freq": axes["freq"], "ant": axes["ant"], "pol": np.array(["XX", "YY"])},
                 values, weights, attrs={"meaning": "bandpass amplitude (time-median of diagonal solutions; "
                                                    "outlier channels interpolated)"})
    write_parts(out_h5, [tab], names, _positions(solve_h5, names), provenance)
    return {"median_bandpass": per_station(names, nan_reduce(np.nanmedian, values, axis=(0, 2))),
            "interpolated_fraction": float(np.mean((fit.weights == 0) & np.isfinite(values))),
            "missing_fraction": float(np.mean(~np.isfinite(values))), "failed": failures.report()}


# --------------------------------------------------------------------------- clock and TEC


def _band_text(freqs_hz: np.ndarray) -> str:
    return f"{freqs_hz.min() / 1e6:.1f}-{freqs_hz.max() / 1e6:.1f} MHz in {len(freqs_hz)} channels"


def fit_clocktec_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """Clock and TEC per time and station from diagonal phases; write ``clock`` and ``tec``.

    ``fits.clocktec_mode = separate`` (default):

    1. a fit with a free phase offset gives the phase noise of each solution;
    2. from the band and that noise, the expected (1 sigma) clock and TEC errors and the
       chi-square distance of the nearest alias (:func:`.clocktec.clocktec_separability`);
       a station whose expected errors exceed ``fits.clock_tolerance_s`` /
       ``fits.tec_tolerance_tecu`` or whose aliases cannot be told apart fails; when no
       station can be separated the step refuses with the numbers (:class:`QualityError`);
    3. the separation (:func:`.clocktec.separate_clock_tec`) with search ranges widened for
       stations at their edge; a station still at the edge, or whose residual exceeds
       ``fits.max_residual_ratio`` times its noise, fails;
    4. a single time slot whose residual exceeds ``fits.max_residual_ratio`` times its
       station's (median) phase noise gets weight 0 and is listed in the report under
       ``flagged_slots``: what the model cannot describe there (e.g. a DDECal solve that had
       not converged in the first slots, or after a clock jump) would bias clock and TEC
       far beyond the stated expected errors.

    ``combined``: one delay per time and station (clock and ionosphere together) in ``clock``;
    ``tec`` is written with weight 0 and the soltabs say so.
    """
    from lofar_hires.calibration.clocktec import separate_clock_tec
    from lofar_hires.calibration.separability import clocktec_separability, fit_combined_delay

    phase, weight, axes = read_solution(solve_h5, "phase000")
    names, freqs = list(axes["ant"]), np.asarray(axes["freq"], dtype=float)
    ref = reference_index(names, cfg.reference_station)
    w = np.minimum(weight[..., 0], weight[..., 1])
    # The scalar part of the diagonal phases: the phase of the mean XX and YY phasors.
    scalar = np.angle(np.exp(1j * phase[..., 0]) + np.exp(1j * phase[..., 1]))
    f = cfg.fits
    failures = Failures("clock/TEC", names)
    report: dict = {"mode": f.clocktec_mode}
    ranges = dict(clock_range_s=f.clock_range_s, tec_range_tecu=f.tec_range_tecu,
                  max_clock_range_s=f.clock_max_range_s, max_tec_range_tecu=f.tec_max_range_tecu)
    if f.clocktec_mode == "combined":
        fit = fit_combined_delay(scalar, w, freqs, ref, clock_range_s=f.clock_max_range_s)
        clock_meaning = ("combined delay (s): clock and first-order ionosphere together, NOT separated "
                         "(fits.clocktec_mode = combined), relative to the reference station")
        tec_meaning = "not determined: clock and TEC were not separated (fits.clocktec_mode = combined)"
        noise = None
    else:
        # Phase noise per solution: the residual of a fit with a free offset (exact when that fit is right)
        # or the model-free estimate from second differences in time (an upper bound), whichever is less.
        offset_fit = separate_clock_tec(scalar, w, freqs, ref, with_offset=True, **ranges)
        n_chan = np.count_nonzero(np.moveaxis(w, 1, 2) > 0, axis=-1)
        noise = np.fmin(offset_fit.rms_rad * np.sqrt(n_chan / np.maximum(n_chan - 3, 1)),
                        offset_fit.noise_rad[None, :])
        sep = clocktec_separability(freqs, np.moveaxis(w, 1, 2), noise)
        sigma_clock = nan_reduce(np.nanmedian, sep.sigma_clock_s, axis=0)
        sigma_tec = nan_reduce(np.nanmedian, sep.sigma_tec_tecu, axis=0)
        alias = np.nansum(np.where(np.isfinite(sep.alias_chi2), sep.alias_chi2, 0.0), axis=0)
        report.update({"noise_rad": per_station(names, nan_reduce(np.nanmedian, noise, axis=0)),
                       "expected_clock_error_ns": per_station(names, sigma_clock * 1e9),
                       "expected_tec_error_tecu": per_station(names, sigma_tec),
                       "clock_tec_correlation": per_station(names, nan_reduce(np.nanmedian, sep.correlation,
                                                                              axis=0)),
                       "alias_chi2": per_station(names, np.where(np.arange(len(names)) == ref, np.nan, alias))})
        others = (np.arange(len(names)) != ref) & np.isfinite(sigma_clock)
        with np.errstate(invalid="ignore"):
            bad = others & ((sigma_clock > f.clock_tolerance_s) | (sigma_tec > f.tec_tolerance_tecu)
                            | (alias < f.min_alias_chi2))
        if np.any(others) and np.all(bad[others]):
            best = int(np.flatnonzero(others)[np.argmin(sigma_clock[others])])
            raise QualityError(
                f"clock and TEC cannot be separated on this band ({_band_text(freqs)}): even on the best station "
                f"({names[best]}, phase noise {np.nanmedian(noise[:, best]):.3f} rad) the expected errors are "
                f"{sigma_clock[best] * 1e9:.3g} ns and {sigma_tec[best]:.3g} TECU (correlation "
                f"{report['clock_tec_correlation'][names[best]]:.4f}; tolerances {f.clock_tolerance_s * 1e9:g} ns, "
                f"{f.tec_tolerance_tecu:g} TECU) and the nearest alias is at chi-square {alias[best]:.3g} (needs "
                f">= {f.min_alias_chi2:g}); use a wider band, or the setting fits.clocktec_mode=combined to fit one "
                "combined delay")
        fit = separate_clock_tec(scalar, w, freqs, ref, with_offset=f.clocktec_offset, **ranges)
        _clocktec_fit_failures(failures, fit)
        failures.add(bad, lambda i: f"not separable: expected errors {sigma_clock[i] * 1e9:.3g} ns, "
                     f"{sigma_tec[i]:.3g} TECU (tolerances {f.clock_tolerance_s * 1e9:g} ns, "
                     f"{f.tec_tolerance_tecu:g} TECU), alias chi-square {alias[i]:.3g}")
        clock_meaning = "clock delay (s) relative to the reference station"
        tec_meaning = "differential TEC (TECU) relative to the reference station"
    _clocktec_fit_failures(failures, fit)
    rms = nan_reduce(np.nanmedian, fit.rms_rad, axis=0)
    misfit_slots = np.zeros(fit.weights.shape, dtype=bool)
    if noise is not None:
        ratio = nan_reduce(np.nanmedian, fit.rms_rad / np.where(noise > 0, noise, np.nan), axis=0)
        ratio[ref] = np.nan
        with np.errstate(invalid="ignore"):
            failures.add(ratio > f.max_residual_ratio, lambda i: f"residual rms {rms[i]:.3f} rad is {ratio[i]:.1f} "
                         f"times the phase noise (> {f.max_residual_ratio:g}): a wrong alias or another effect")
        misfit_slots = _misfit_slots(fit.rms_rad, noise, ref, f.max_residual_ratio)
    _poor(failures, fit.rms_rad, cfg)
    failed = failures.mask
    misfit_slots &= ~failed[None, :] & (fit.weights > 0)
    report["flagged_slots"] = {str(names[i]): np.flatnonzero(misfit_slots[:, i]).tolist()
                               for i in np.flatnonzero(np.any(misfit_slots, axis=0))}
    for name, slots in report["flagged_slots"].items():
        log.warning("clock/TEC: station %s, time slot(s) %s flagged: residual rms above %g times the station's "
                    "phase noise (a solve that had not converged there, or an effect the model lacks)", name,
                    slots, f.max_residual_ratio)
    weights = np.where(failed[None, :] | misfit_slots, 0.0, fit.weights)
    clock = np.where(weights > 0, fit.clock_s, np.nan)
    tec = np.where(weights > 0, fit.tec_tecu, np.nan)
    tec_weights = weights if f.clocktec_mode == "separate" else np.zeros_like(weights)
    base = {"time": axes["time"], "ant": axes["ant"]}
    tabs = [Soltab("clock", "clock", dict(base), clock, weights, attrs={"meaning": clock_meaning,
                                                                      "mode": f.clocktec_mode}),
            Soltab("tec", "tec", dict(base), tec, tec_weights, attrs={"meaning": tec_meaning, "mode": f.clocktec_mode})]
    write_parts(out_h5, tabs, names, _positions(solve_h5, names), provenance)
    report.update({"clock_mean_ns": per_station(names, nan_reduce(np.nanmean, clock, axis=0) * 1e9),
                   "tec_mean_tecu": per_station(names, nan_reduce(np.nanmean, tec, axis=0)),
                   "residual_rms_rad": per_station(names, rms),
                   "clock_search_range_ns": per_station(names, fit.clock_range_s * 1e9),
                   "tec_search_range_tecu": per_station(names, fit.tec_range_tecu),
                   "failed": failures.report()})
    return report


def _misfit_slots(rms_rad: np.ndarray, noise_rad: np.ndarray, ref: int, max_ratio: float) -> np.ndarray:
    """``(time, ant)`` True where a time slot's rms residual exceeds ``max_ratio`` times its station's phase noise
    (the median over time of ``noise_rad``): no clock and TEC describe that slot, so its values, and the expected
    errors stated from the noise, cannot be relied on. The reference station is never flagged."""
    typical = nan_reduce(np.nanmedian, noise_rad, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = rms_rad / np.where(typical > 0, typical, np.nan)[None, :]
    flagged = np.nan_to_num(ratio, nan=0.0) > max_ratio
    flagged[:, ref] = False
    return flagged


def _clocktec_fit_failures(failures: Failures, fit) -> None:
    """No data, a solution at the edge of the largest ranges, or no solution within them that fits."""
    failures.add(~np.any(fit.weights > 0, axis=0), "no valid data")
    failures.add(np.any(fit.at_bound, axis=0), lambda i: f"at the edge of the largest search range (|clock| <= "
                 f"{fit.clock_range_s[i] * 1e9:.0f} ns, |TEC| <= {fit.tec_range_tecu[i]:g} TECU)")
    rms = nan_reduce(np.nanmedian, fit.rms_rad, axis=0)
    failures.add(fit.poor, lambda i: f"no clock and TEC within the largest search range (|clock| <= "
                 f"{fit.clock_range_s[i] * 1e9:.0f} ns, |TEC| <= {fit.tec_range_tecu[i]:g} TECU) describe the phases "
                 f"(residual {rms[i]:.3f} rad, noise {fit.noise_rad[i]:.3f} rad)")
