"""The direction-independent calibrator pipeline (LINC-calibrator equivalent).

Separates LOFAR's systematic effects on a calibrator observation by their
physics (de Gasperin et al. 2019, section 4), each step a DP3 run or a fit. The
terms that act on the dipole signals (alignment, bandpass, clock) are outside the
beam in the Jones chain ``P . B . C . E . F``; where the paper removes the beam
from the data before solving for them, this pipeline corrupts the model with the
beam and Faraday rotation instead, so that the beam never mixes X and Y:

1. ``prepare``: flag, average (and join subbands) into a working MS;
2. ``predict``: the calibrator model into MODEL_DATA, once;
3. solve diagonal + rotation; fit the XX-YY polarisation delay  -> ``polalign``;
4. apply polarisation alignment and the beam, solve diagonal + rotation again,
   fit a rotation measure per time and station                  -> ``faraday``;
5. apply alignment; solve diagonal against the model corrupted by Faraday
   rotation and the beam; the per-channel time-median amplitude is the
   bandpass (the polarisation delay is refined on this solve first) -> ``bandpass``;
6. apply alignment and bandpass, solve diagonal against that model; separate
   clock (prop. to nu) and TEC (prop. to 1/nu) per time and station -> ``clock``, ``tec``;
7. collect everything into ``cal_solutions.h5``.

Every intermediate h5parm is kept in the output directory, so any step can be
rerun by hand with the ``lofar-hires dical`` commands.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires import __version__
from lofar_hires.calibration import dp3ops
from lofar_hires.calibration.config import CalibratorConfig
from lofar_hires.calibration.dp3ops import Correction
from lofar_hires.errors import InputError, LofarHiresWarning
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.io.ms import MsInfo, read_ms_info, require_ms
from lofar_hires.provenance import Provenance

log = logging.getLogger(__name__)

#: Soltab names of ``cal_solutions.h5`` (solset sol000).
CAL_SOLTABS = ("polalign", "bandpass", "faraday", "clock", "tec")


# --------------------------------------------------------------------------- inputs


def check_calibrator_inputs(ms_paths: Sequence[Path], skymodel: Path) -> list[MsInfo]:
    """Validate the calibrator MSs (one per subband, same grid) and the model; return their metadata."""
    if not Path(skymodel).is_file():
        raise InputError(f"calibrator sky model {skymodel} does not exist; give a makesourcedb file "
                         "(shipped models: configs/skymodels/3C196.skymodel, 3C295.skymodel)")
    return check_subbands(ms_paths)


def check_subbands(ms_paths: Sequence[Path]) -> list[MsInfo]:
    """Metadata of MSs that DP3 can join in frequency (same channel width and count, stations and
    time slots), sorted by frequency; :class:`InputError` names the first mismatch."""
    if not ms_paths:
        raise InputError("give at least one calibrator measurement set")
    infos = [read_ms_info(require_ms(p, ("DATA",))) for p in ms_paths]
    first = infos[0]
    for info in infos[1:]:
        if not np.isclose(info.chan_width_hz, first.chan_width_hz):
            raise InputError(f"channel widths differ between subbands: {first.path.name} has "
                             f"{first.chan_width_hz:.1f} Hz, {info.path.name} {info.chan_width_hz:.1f} Hz")
        if len(info.freqs_hz) != len(first.freqs_hz):
            raise InputError(f"channel counts differ between subbands: {first.path.name} has "
                             f"{len(first.freqs_hz)}, {info.path.name} {len(info.freqs_hz)}")
        if info.station_names != first.station_names:
            raise InputError(f"{info.path.name} and {first.path.name} have different stations")
        if len(info.times_mjd_s) != len(first.times_mjd_s) or not np.allclose(info.times_mjd_s,
                                                                              first.times_mjd_s):
            raise InputError(f"{info.path.name} and {first.path.name} cover different time slots")
    return sorted(infos, key=lambda i: i.freqs_hz[0])


def reference_index(names: Sequence[str], wanted: str) -> int:
    """Index of the reference station: ``wanted``, else a CS002 field, else the first core station."""
    names = list(names)
    if wanted in names:
        return names.index(wanted)
    for prefix in ("CS002", "CS"):
        for i, n in enumerate(names):
            if n.startswith(prefix):
                log.warning("reference station %s not present; using %s", wanted, n)
                return i
    log.warning("no core station present; using %s as reference", names[0])
    return 0


# --------------------------------------------------------------------------- DP3 steps


def prepare(ms_paths: Sequence[Path], out_ms: Path, cfg: CalibratorConfig, workdir: Path,
            provenance: Provenance | None = None, name: str = "prepare") -> Path:
    """Flag and average the calibrator MS(s) (joined in frequency order) into ``out_ms``.

    ``name`` names the DP3 parset and log in ``workdir``.
    """
    infos = check_subbands(ms_paths)
    steps = dp3ops.flagging_steps(cfg.flagging) + dp3ops.averaging_steps(infos[0], cfg.averaging)
    msin = [i.path for i in infos] if len(infos) > 1 else infos[0].path
    dp3ops.run_steps(msin, out_ms, steps, workdir, name, threads=cfg.threads, provenance=provenance)
    return out_ms


def predict(ms: Path, skymodel: Path, workdir: Path, threads: int = 1,
            provenance: Provenance | None = None, name: str = "predict") -> None:
    """Predict ``skymodel`` into MODEL_DATA of ``ms`` (in place); ``name`` names the parset and log."""
    dp3ops.run_steps(ms, None, dp3ops.predict_steps(skymodel), workdir, name, out_column="MODEL_DATA",
                     threads=threads, provenance=provenance)


def corrupt_model(ms: Path, effects: Sequence[Correction], workdir: Path, name: str, threads: int = 1,
                  provenance: Provenance | None = None) -> str:
    """MODEL_DATA corrupted by ``effects`` (innermost first) into MODEL_CORRUPTED; returns that column."""
    steps = dp3ops.correction_steps(effects, corrupt=True)
    dp3ops.run_steps(ms, None, steps, workdir, name, data_column="MODEL_DATA", out_column="MODEL_CORRUPTED",
                     threads=threads, provenance=provenance)
    return "MODEL_CORRUPTED"


def solve(ms: Path, h5parm: Path, mode: str, corrections: Sequence[Correction], cfg: CalibratorConfig,
          workdir: Path, name: str, provenance: Provenance | None = None, model_column: str = "MODEL_DATA") -> Path:
    """Apply ``corrections`` to DATA (written to CORRECTED_DATA) and solve ``mode`` against ``model_column``.

    The h5parm is written under a temporary name and replaces ``h5parm`` when DP3 has finished.
    """
    with atomic_output(h5parm, overwrite=True) as tmp:
        steps = dp3ops.correction_steps(corrections) + [dp3ops.ddecal_step(mode, tmp, cfg.solve, model_column)]
        dp3ops.run_steps(ms, None, steps, workdir, name, out_column="CORRECTED_DATA", threads=cfg.threads,
                         provenance=provenance)
    return h5parm


def model_coherence(ms: Path) -> float:
    """Median over core-core baselines of ``|sum D M*| / sum |D||M|`` (XX and YY).

    Close to 1 when the model is the source at the phase centre; a wrong source
    (fringing model) gives values near 0.
    """
    from casacore.tables import table, taql

    with table(str(ms / "ANTENNA"), ack=False) as ant:
        core = [i for i, n in enumerate(ant.getcol("NAME")) if n.startswith("CS")]
    if len(core) < 2:
        return float("nan")
    with table(str(ms), ack=False) as t:  # noqa: F841 (used by name in the TaQL query)
        sel = taql(f"select ANTENNA1, ANTENNA2, DATA, MODEL_DATA, FLAG from $t where ANTENNA1 != ANTENNA2 "
                   f"and ANTENNA1 in {core} and ANTENNA2 in {core}")
        a1, a2 = sel.getcol("ANTENNA1"), sel.getcol("ANTENNA2")
        data = sel.getcol("DATA")[..., [0, 3]]
        model = sel.getcol("MODEL_DATA")[..., [0, 3]]
        good = ~sel.getcol("FLAG")[..., [0, 3]]
    values = []
    for key in set(zip(a1.tolist(), a2.tolist())):
        rows = (a1 == key[0]) & (a2 == key[1])
        d = np.where(good[rows], data[rows], 0)
        m = model[rows]
        num = np.abs(np.sum(d * np.conj(m), axis=(0, 1)))
        den = np.sum(np.abs(d) * np.abs(m), axis=(0, 1))
        values.extend((num / np.where(den > 0, den, np.nan)).tolist())
    return float(np.nanmedian(values)) if values else float("nan")


def check_model_coherence(ms: Path, skymodel: Path, minimum: float) -> float:
    """:func:`model_coherence`, with a warning when it is below ``minimum`` (wrong calibrator?)."""
    import warnings

    coherence = model_coherence(ms)
    if np.isfinite(coherence) and coherence < minimum:
        msg = (f"the data correlate poorly with the calibrator model on core baselines (coherence "
               f"{coherence:.2f} < {minimum}): is {skymodel.name} the source at the phase centre?")
        log.warning("%s", msg)
        warnings.warn(msg, LofarHiresWarning, stacklevel=2)
    return coherence


# --------------------------------------------------------------------------- fits


def _solution(h5parm: Path, soltab: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A DDECal soltab as (time, freq, ant[, pol]) values and weights (one direction).

    Polarised soltabs must be diagonal (XX, YY), as the fits expect.
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
    for name, pos in (("time", 0), ("freq", 1)):
        if name not in axes:
            raise InputError(f"{h5parm}:{soltab} has no {name} axis; solve per time slot and channel")
    flagged = ~np.isfinite(val)
    weight = np.where(flagged, 0.0, weight)
    val = np.where(flagged, 0.0, val)
    return val, weight, axes


def _write_parts(path: Path, tabs: list[Soltab], names: list[str], positions: np.ndarray,
                 provenance: Provenance) -> Path:
    """Write (or replace) an h5parm atomically, with the provenance in the solset attributes."""
    with atomic_output(path, overwrite=True) as tmp:
        write_h5parm(tmp, tabs, names, positions, attrs={"lofar_hires_provenance": provenance.to_json()})
    return path


def fit_polalign_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """Fit the XX-YY delay per station from a diagonal(+rotation) solve; write soltab ``polalign``."""
    from lofar_hires.calibration.polalign import fit_polalign, polalign_soltab_values

    phase, weight, axes = _solution(solve_h5, "phase000")
    ss = read_h5parm(solve_h5, None, [])
    ref = reference_index(axes["ant"], cfg.reference_station)
    w = np.minimum(weight[..., 0], weight[..., 1])
    fit = fit_polalign(phase[..., 0], phase[..., 1], w, axes["freq"], ref)
    values = polalign_soltab_values(fit, axes["freq"])
    ok = np.isfinite(fit.delay_s)
    tab = Soltab("polalign", "phase", {"freq": axes["freq"], "ant": axes["ant"], "pol": np.array(["XX", "YY"])},
                 np.where(ok[None, :, None], values, np.nan), np.broadcast_to(ok[None, :, None], values.shape) * 1.0,
                 attrs={"meaning": "XX-YY polarisation alignment (delay) relative to the reference station"})
    _write_parts(out_h5, [tab], list(axes["ant"]), _positions(ss, axes["ant"]), provenance)
    return {"delay_ns": _per_station(axes["ant"], fit.delay_s * 1e9),
            "offset_rad": _per_station(axes["ant"], fit.offset_rad),
            "residual_rms_rad": _per_station(axes["ant"], fit.rms_rad)}


def refine_polalign_step(initial_h5: Path, solve_h5: Path, out_h5: Path, cfg: CalibratorConfig,
                         provenance: Provenance) -> dict:
    """Add the XX-YY delay left in a later diagonal solve (made after beam and Faraday) to ``initial_h5``."""
    from lofar_hires.calibration.polalign import fit_polalign, polalign_soltab_values

    phase, weight, axes = _solution(solve_h5, "phase000")
    ref = reference_index(axes["ant"], cfg.reference_station)
    w = np.minimum(weight[..., 0], weight[..., 1])
    delta = fit_polalign(phase[..., 0], phase[..., 1], w, axes["freq"], ref, with_offset=cfg.fits.polalign_offset)
    initial = read_h5parm(initial_h5)
    if "polalign" not in initial.soltabs:
        raise InputError(f"{initial_h5} has no soltab polalign; give the output of the polalign fit")
    tab = initial.soltabs["polalign"].canonical()
    if list(tab.axes["ant"]) != list(axes["ant"]) or not np.allclose(tab.axes["freq"], axes["freq"]):
        raise InputError(f"{initial_h5} and {solve_h5} have different stations or channels")
    extra = polalign_soltab_values(delta, axes["freq"])
    ok = np.isfinite(delta.delay_s)
    values = tab.val + np.where(ok[None, :, None], extra, 0.0)
    refined = Soltab("polalign", "phase", dict(tab.axes), values, tab.weight, dict(tab.attrs))
    _write_parts(out_h5, [refined], initial.antenna_names, initial.antenna_positions_m, provenance)
    # The fitted delay is the YY phase slope of the correction: -d(phase_YY)/d(2 pi nu).
    slope = -np.polyfit(2 * np.pi * axes["freq"], values[:, :, 1], 1)[0]
    return {"delay_ns": _per_station(axes["ant"], slope * 1e9),
            "refinement_ns": _per_station(axes["ant"], delta.delay_s * 1e9)}


def fit_faraday_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """Fit a rotation measure per time and station from the rotation angles; write soltab ``faraday``."""
    from lofar_hires.calibration.faraday import fit_rotation_measure

    angle, weight, axes = _solution(solve_h5, "rotation000")
    ss = read_h5parm(solve_h5, None, [])
    ref = reference_index(axes["ant"], cfg.reference_station)
    fit = fit_rotation_measure(angle, weight, axes["freq"], ref, rm_range_rad_m2=cfg.fits.rm_range_rad_m2)
    tab = Soltab("faraday", "rotationmeasure", {"time": axes["time"], "ant": axes["ant"]}, fit.rm_rad_m2,
                 fit.weights, attrs={"meaning": "differential rotation measure (rad/m^2) relative to the "
                                              "reference station"})
    _write_parts(out_h5, [tab], list(axes["ant"]), _positions(ss, axes["ant"]), provenance)
    return {"rm_mean_rad_m2": _per_station(axes["ant"], _nan_reduce(np.nanmean, np.where(
                fit.weights > 0, fit.rm_rad_m2, np.nan), axis=0)),
            "residual_rms_rad": _per_station(axes["ant"], _nanmean_axis0(fit.rms_rad))}


def fit_bandpass_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """The per-channel time-median amplitude per station and polarisation; write soltab ``bandpass``."""
    from lofar_hires.calibration.bandpass import fit_bandpass

    amp, weight, axes = _solution(solve_h5, "amplitude000")
    ss = read_h5parm(solve_h5, None, [])
    fit = fit_bandpass(amp, weight, axes["freq"], outlier_sigma=cfg.fits.bandpass_outlier_sigma)
    # Outlier channels are replaced by interpolated values, which are good to apply: DP3 flags data
    # where a solution has weight 0, so only channels without any data (NaN) keep weight 0.
    values = fit.bandpass
    weights = np.isfinite(values).astype(float)
    tab = Soltab("bandpass", "amplitude", {"freq": axes["freq"], "ant": axes["ant"], "pol": np.array(["XX", "YY"])},
                 values, weights, attrs={"meaning": "bandpass amplitude (time-median of diagonal solutions; "
                                                    "outlier channels interpolated)"})
    _write_parts(out_h5, [tab], list(axes["ant"]), _positions(ss, axes["ant"]), provenance)
    return {"median_bandpass": _per_station(axes["ant"], _nan_reduce(np.nanmedian, values, axis=(0, 2))),
            "interpolated_fraction": float(np.mean((fit.weights == 0) & np.isfinite(values))),
            "missing_fraction": float(np.mean(~np.isfinite(values)))}


def fit_clocktec_step(solve_h5: Path, out_h5: Path, cfg: CalibratorConfig, provenance: Provenance) -> dict:
    """Separate clock and TEC per time and station from diagonal phases; write ``clock`` and ``tec``."""
    from lofar_hires.calibration.clocktec import separate_clock_tec

    phase, weight, axes = _solution(solve_h5, "phase000")
    ss = read_h5parm(solve_h5, None, [])
    ref = reference_index(axes["ant"], cfg.reference_station)
    w = np.minimum(weight[..., 0], weight[..., 1])
    # The scalar part of the diagonal phases: the phase of the mean XX and YY phasors.
    scalar = np.angle(np.exp(1j * phase[..., 0]) + np.exp(1j * phase[..., 1]))
    fit = separate_clock_tec(scalar, w, axes["freq"], ref, with_offset=cfg.fits.clocktec_offset,
                             clock_range_s=cfg.fits.clock_range_s, tec_range_tecu=cfg.fits.tec_range_tecu)
    base = {"time": axes["time"], "ant": axes["ant"]}
    tabs = [Soltab("clock", "clock", dict(base), fit.clock_s, fit.weights,
                   attrs={"meaning": "clock delay (s) relative to the reference station"}),
            Soltab("tec", "tec", dict(base), fit.tec_tecu, fit.weights,
                   attrs={"meaning": "differential TEC (TECU) relative to the reference station"})]
    _write_parts(out_h5, tabs, list(axes["ant"]), _positions(ss, axes["ant"]), provenance)
    valid = np.where(fit.weights > 0, 1.0, np.nan)
    return {"clock_mean_ns": _per_station(axes["ant"], _nan_reduce(np.nanmean, fit.clock_s * valid, axis=0) * 1e9),
            "tec_mean_tecu": _per_station(axes["ant"], _nan_reduce(np.nanmean, fit.tec_tecu * valid, axis=0)),
            "residual_rms_rad": _per_station(axes["ant"], _nanmean_axis0(fit.rms_rad))}


def _nan_reduce(func, values: np.ndarray, axis) -> np.ndarray:
    """``func`` (np.nanmean, np.nanmedian) without numpy's warning for stations without any value (NaN)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(np.asarray(values, dtype=float), axis=axis)


def _nanmean_axis0(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values if values.ndim == 1 else _nan_reduce(np.nanmean, values, axis=0)


def _positions(solset, names) -> np.ndarray:
    pos = {n: p for n, p in zip(solset.antenna_names, solset.antenna_positions_m)}
    return np.array([pos.get(n, np.zeros(3)) for n in names])


def _per_station(names, values) -> dict[str, float | None]:
    return {str(n): (None if not np.isfinite(v) else float(v)) for n, v in zip(names, np.asarray(values, float))}


def collect(parts: dict[str, Path], out_h5: Path, provenance: Provenance) -> Path:
    """``cal_solutions.h5``: the soltabs polalign, bandpass, faraday, clock and tec in one solset."""
    tabs: list[Soltab] = []
    names = positions = None
    for key, path in parts.items():
        ss = read_h5parm(path)
        names = names or ss.antenna_names
        positions = ss.antenna_positions_m if positions is None else positions
        if ss.antenna_names != names:
            raise InputError(f"{path} has other stations than the other solution parts")
        tabs.extend(ss.soltabs.values())
    missing = [t for t in CAL_SOLTABS if t not in {tab.name for tab in tabs}]
    if missing:
        raise InputError(f"cannot collect cal_solutions: soltab(s) {missing} missing")
    with atomic_output(out_h5, overwrite=True) as tmp:
        write_h5parm(tmp, tabs, names, positions, attrs={"lofar_hires_provenance": provenance.to_json(),
                                                         "made_by": f"lofar-hires {__version__} di-calibrator"})
    return out_h5


# --------------------------------------------------------------------------- the pipeline


@dataclass
class CalibratorResult:
    """Products of :func:`run_di_calibrator`."""

    outdir: Path
    cal_solutions: Path
    report: Path
    plots: list[Path] = field(default_factory=list)


def run_di_calibrator(ms_paths: Sequence[Path], skymodel: Path, outdir: Path, cfg: CalibratorConfig, *,
                      overwrite: bool = False, keep_working_ms: bool = False,
                      make_plots: bool = True) -> CalibratorResult:
    """Run the whole calibrator pipeline into ``outdir`` (written atomically)."""
    outdir = Path(outdir)
    check_output_path(outdir, overwrite)
    infos = check_calibrator_inputs([Path(p) for p in ms_paths], Path(skymodel))
    prov = Provenance(task="di-calibrator", parameters={"config": repr(cfg), "skymodel": str(skymodel)})
    for info in infos:
        prov.add_input(info.path)
    prov.add_input(skymodel)
    t0 = time.monotonic()
    with atomic_output(outdir, overwrite) as tmp:
        tmp.mkdir(parents=True)
        work = tmp / "logs"
        work.mkdir()
        report: dict = {"lofar_hires_version": __version__, "inputs": [str(i.path) for i in infos],
                        "skymodel": str(skymodel)}
        ms = tmp / "calibrator_avg.MS"
        log.info("step 1/7: flag and average %d MS(s)", len(infos))
        prepare([i.path for i in infos], ms, cfg, work, prov)
        log.info("step 2/7: predict the calibrator model")
        predict(ms, Path(skymodel), work, cfg.threads, prov)
        report["model_coherence_core"] = check_model_coherence(ms, Path(skymodel), cfg.min_model_coherence)
        beam = [Correction.station_beam()] if cfg.apply_beam else []
        polalign_h5, faraday_h5 = tmp / "polalign.h5", tmp / "faraday.h5"
        bandpass_h5, clocktec_h5 = tmp / "bandpass.h5", tmp / "clocktec.h5"

        log.info("step 3/7: solve diagonal + rotation; fit the polarisation delay")
        s1 = solve(ms, tmp / "solve1_rotation_diagonal.h5", "rotation+diagonal", [], cfg, work, "solve1", prov)
        report["polalign"] = fit_polalign_step(s1, polalign_h5, cfg, prov)

        log.info("step 4/7: apply alignment and beam, solve diagonal + rotation; fit Faraday rotation")
        corr = [Correction(polalign_h5, ("polalign",))] + beam
        s2 = solve(ms, tmp / "solve2_rotation_diagonal.h5", "rotation+diagonal", corr, cfg, work, "solve2", prov)
        report["faraday"] = fit_faraday_step(s2, faraday_h5, cfg, prov)

        # The bandpass and the clock act on the dipole signals, after the beam (J = P.B.C.E.F): they
        # are solved against the model corrupted by Faraday rotation and the beam, on data from
        # which only the outer terms are removed, so that the beam never mixes X and Y.
        log.info("step 5/7: model corrupted by Faraday rotation and beam; solve diagonal; bandpass")
        inner = [Correction(faraday_h5, ("faraday",))] + beam
        model = corrupt_model(ms, inner, work, "corrupt_model", cfg.threads, prov)
        corr = [Correction(polalign_h5, ("polalign",))]
        s3 = solve(ms, tmp / "solve3_diagonal.h5", "diagonal", corr, cfg, work, "solve3", prov, model)
        if cfg.fits.polalign_refine:
            log.info("step 5/7: refine the polarisation alignment and solve diagonal again")
            initial = tmp / "polalign_initial.h5"
            polalign_h5.rename(initial)
            report["polalign_refined"] = refine_polalign_step(initial, s3, polalign_h5, cfg, prov)
            corr = [Correction(polalign_h5, ("polalign",))]
            s3 = solve(ms, tmp / "solve3_diagonal.h5", "diagonal", corr, cfg, work, "solve3b", prov, model)
        report["bandpass"] = fit_bandpass_step(s3, bandpass_h5, cfg, prov)

        log.info("step 6/7: remove alignment and bandpass, solve diagonal; separate clock and TEC")
        corr = [Correction(polalign_h5, ("polalign",)), Correction(bandpass_h5, ("bandpass",))]
        s4 = solve(ms, tmp / "solve4_diagonal.h5", "diagonal", corr, cfg, work, "solve4", prov, model)
        report["clocktec"] = fit_clocktec_step(s4, clocktec_h5, cfg, prov)

        log.info("step 7/7: collect cal_solutions.h5")
        cal = collect({"polalign": polalign_h5, "bandpass": bandpass_h5, "faraday": faraday_h5,
                       "clocktec": clocktec_h5}, tmp / "cal_solutions.h5", prov)
        report["flagged_stations"] = _fully_flagged_stations(cal)
        if report["flagged_stations"]:
            log.warning("stations without solutions (flagged in cal_solutions.h5): %s",
                        ", ".join(report["flagged_stations"]))
        plots: list[Path] = []
        if make_plots:
            from lofar_hires.calibration.plots import calibrator_plots

            plots = calibrator_plots(tmp, tmp / "plots", cfg.reference_station)
        if not keep_working_ms:
            shutil.rmtree(ms)
        report["wall_time_s"] = round(time.monotonic() - t0, 1)
        (tmp / "calibrator_report.json").write_text(json.dumps(report, indent=2) + "\n")
        prov.write(tmp / "provenance.json")
    log.info("calibrator solutions in %s (%.0f s)", outdir / "cal_solutions.h5", time.monotonic() - t0)
    return CalibratorResult(outdir=outdir, cal_solutions=outdir / "cal_solutions.h5",
                            report=outdir / "calibrator_report.json",
                            plots=[outdir / "plots" / p.name for p in plots])


def _fully_flagged_stations(cal_h5: Path) -> list[str]:
    ss = read_h5parm(cal_h5)
    flagged = None
    for tab in ss.soltabs.values():
        tab = tab.canonical()
        ax = tab.axis_names.index("ant")
        other = tuple(i for i in range(tab.weight.ndim) if i != ax)
        none = np.all(tab.weight == 0, axis=other)
        flagged = none if flagged is None else flagged | none
    return [n for n, f in zip(ss.antenna_names, flagged) if f] if flagged is not None else []
