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
7. collect everything into ``cal_solutions.h5``, in the solset ``calibrator`` with the
   soltab names LINC's calibrator pipeline uses.

Every intermediate h5parm is kept in the output directory, so any step can be
rerun by hand with the ``lofar-hires dical`` commands.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires import __version__
from lofar_hires.calibration import dp3_settings
from lofar_hires.calibration.config import CalibratorConfig
from lofar_hires.calibration.effects import (  # noqa: F401 (the step commands import them from here)
    fit_bandpass_step,
    fit_clocktec_step,
    fit_faraday_step,
    fit_polalign_step,
    reference_index,
    refine_polalign_step,
)
from lofar_hires.calibration.model_check import check_calibrator_model
from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import CALIBRATOR_SOLSET, Soltab, read_h5parm, write_h5parm
from lofar_hires.io.ms import MsInfo, read_ms_info, require_ms
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3 import SolveConvergence, ddecal_convergence
from lofar_hires.runners.dp3_steps import Correction

log = logging.getLogger(__name__)

#: Soltab names of ``cal_solutions.h5`` (solset ``calibrator``; LINC's names).
CAL_SOLTABS = ("polalign", "bandpass", "faraday", "clock", "tec")


# --------------------------------------------------------------------------- inputs


def check_calibrator_inputs(ms_paths: Sequence[Path], skymodel: Path) -> list[MsInfo]:
    """Validate the calibrator MSs (one per subband, same grid) and the model; return their metadata."""
    if not Path(skymodel).is_file():
        raise InputError(f"calibrator sky model {skymodel} does not exist; give a makesourcedb file "
                         "(shipped models: configs/skymodels/3C196.skymodel, 3C295.skymodel)")
    from lofar_hires.io.skymodel import require_skymodel

    require_skymodel(Path(skymodel))
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


# --------------------------------------------------------------------------- DP3 steps


def prepare(ms_paths: Sequence[Path], out_ms: Path, cfg: CalibratorConfig, workdir: Path,
            provenance: Provenance | None = None, name: str = "prepare") -> Path:
    """Flag and average the calibrator MS(s) (joined in frequency order) into ``out_ms``.

    ``name`` names the DP3 parset and log in ``workdir``.
    """
    infos = check_subbands(ms_paths)
    steps = dp3_settings.flagging(cfg.flagging) + dp3_settings.averaging(infos[0], cfg.averaging)
    msin = [i.path for i in infos] if len(infos) > 1 else infos[0].path
    dp3_steps.run_steps(msin, out_ms, steps, workdir, name, threads=cfg.threads, provenance=provenance)
    return out_ms


def predict(ms: Path, skymodel: Path, workdir: Path, threads: int = 1,
            provenance: Provenance | None = None, name: str = "predict") -> None:
    """Predict ``skymodel`` into MODEL_DATA of ``ms`` (in place); ``name`` names the parset and log."""
    dp3_steps.run_steps(ms, None, [dp3_steps.predict(skymodel)], workdir, name, out_column="MODEL_DATA",
                        threads=threads, provenance=provenance)


def corrupt_model(ms: Path, effects: Sequence[Correction], workdir: Path, name: str, threads: int = 1,
                  provenance: Provenance | None = None) -> str:
    """MODEL_DATA corrupted by ``effects`` (innermost first) into MODEL_CORRUPTED; returns that column."""
    steps = dp3_steps.correction_steps(effects, corrupt=True)
    dp3_steps.run_steps(ms, None, steps, workdir, name, data_column="MODEL_DATA", out_column="MODEL_CORRUPTED",
                        threads=threads, provenance=provenance)
    return "MODEL_CORRUPTED"


@dataclass(frozen=True)
class SolveResult:
    """Products of :func:`solve`: the h5parm and how DDECal's solution intervals ended."""

    h5parm: Path
    convergence: SolveConvergence


def solve(ms: Path, h5parm: Path, mode: str, corrections: Sequence[Correction], cfg: CalibratorConfig,
          workdir: Path, name: str, provenance: Provenance | None = None,
          model_column: str = "MODEL_DATA") -> SolveResult:
    """Apply ``corrections`` to DATA (written to CORRECTED_DATA) and solve ``mode`` against ``model_column``.

    The h5parm is written under a temporary name and replaces ``h5parm`` when DP3 has finished. Solution
    intervals that stopped at ``solve.maxiter`` without converging are logged as a warning naming the solve.
    """
    with atomic_output(h5parm, overwrite=True) as tmp:
        info = read_ms_info(ms)
        steps = dp3_steps.correction_steps(corrections) + [dp3_settings.solve(mode, tmp, cfg.solve, info, model_column)]
        dp3_steps.run_steps(ms, None, steps, workdir, name, out_column="CORRECTED_DATA", threads=cfg.threads,
                            provenance=provenance)
        convergence = ddecal_convergence(Path(workdir) / f"{name}.log", name, cfg.solve.maxiter)
    log_convergence(convergence)
    return SolveResult(h5parm=Path(h5parm), convergence=convergence)


def log_convergence(convergence: SolveConvergence, setting: str = "solve.maxiter") -> None:
    """A warning when solution intervals of a solve stopped at maxiter (their solutions may be off); ``setting``
    names the configuration key that raises it."""
    if convergence.n_at_maxiter:
        log.warning("%s (tolerance not reached; raise %s)", convergence.message(), setting)
    else:
        log.info("DDECal solve %s converged in every one of its %d solution intervals (at most %d iterations)",
                 convergence.solve, convergence.n_intervals, max(convergence.iterations, default=0))


def unconverged_solves(solves: dict[str, dict]) -> dict[str, float]:
    """Solve -> fraction of its solution intervals that stopped at maxiter, for the solves where any did."""
    return {name: entry["fraction_at_maxiter"] for name, entry in solves.items() if entry["at_maxiter"]}


# --------------------------------------------------------------------------- fits


def collect(parts: dict[str, Path], out_h5: Path, provenance: Provenance, solset: str = CALIBRATOR_SOLSET) -> Path:
    """``cal_solutions.h5``: the soltabs polalign, bandpass, faraday, clock and tec in one solset
    (``solset``, by default LINC's ``calibrator``)."""
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
        write_h5parm(tmp, tabs, names, positions, solset=solset,
                     attrs={"lofar_hires_provenance": provenance.to_json(),
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
                      make_plots: bool = True, solset_name: str = CALIBRATOR_SOLSET) -> CalibratorResult:
    """Run the whole calibrator pipeline into ``outdir`` (written atomically).

    ``solset_name`` is the solset of ``cal_solutions.h5`` (default LINC's ``calibrator``).
    """
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
        log.info("step 2/7: predict the calibrator model and check it against the data")
        predict(ms, Path(skymodel), work, cfg.threads, prov)
        report["model"] = check_calibrator_model(ms, Path(skymodel), cfg.min_model_coherence,
                                                 cfg.model_ratio_range).to_dict()
        beam = [Correction.station_beam()] if cfg.apply_beam else []
        polalign_h5, faraday_h5 = tmp / "polalign.h5", tmp / "faraday.h5"
        bandpass_h5, clocktec_h5 = tmp / "bandpass.h5", tmp / "clocktec.h5"

        log.info("step 3/7: solve diagonal + rotation; fit the polarisation delay")
        s1 = solve(ms, tmp / "solve1_rotation_diagonal.h5", "rotation+diagonal", [], cfg, work, "solve1", prov)
        report["polalign"] = fit_polalign_step(s1.h5parm, polalign_h5, cfg, prov)

        log.info("step 4/7: apply alignment and beam, solve diagonal + rotation; fit Faraday rotation")
        corr = [Correction(polalign_h5, ("polalign",))] + beam
        s2 = solve(ms, tmp / "solve2_rotation_diagonal.h5", "rotation+diagonal", corr, cfg, work, "solve2", prov)
        report["faraday"] = fit_faraday_step(s2.h5parm, faraday_h5, cfg, prov)

        # The bandpass and the clock act on the dipole signals, after the beam (J = P.B.C.E.F): they
        # are solved against the model corrupted by Faraday rotation and the beam, on data from
        # which only the outer terms are removed, so that the beam never mixes X and Y.
        log.info("step 5/7: model corrupted by Faraday rotation and beam; solve diagonal; bandpass")
        inner = [Correction(faraday_h5, ("faraday",))] + beam
        model = corrupt_model(ms, inner, work, "corrupt_model", cfg.threads, prov)
        corr = [Correction(polalign_h5, ("polalign",))]
        s3 = solve(ms, tmp / "solve3_diagonal.h5", "diagonal", corr, cfg, work, "solve3", prov, model)
        solves = [s1, s2, s3]
        if cfg.fits.polalign_refine:
            log.info("step 5/7: refine the polarisation alignment and solve diagonal again")
            initial = tmp / "polalign_initial.h5"
            polalign_h5.rename(initial)
            report["polalign_refined"] = refine_polalign_step(initial, s3.h5parm, polalign_h5, cfg, prov)
            corr = [Correction(polalign_h5, ("polalign",))]
            s3 = solve(ms, tmp / "solve3_diagonal.h5", "diagonal", corr, cfg, work, "solve3b", prov, model)
            solves.append(s3)
        report["bandpass"] = fit_bandpass_step(s3.h5parm, bandpass_h5, cfg, prov)

        log.info("step 6/7: remove alignment and bandpass, solve diagonal; separate clock and TEC")
        corr = [Correction(polalign_h5, ("polalign",)), Correction(bandpass_h5, ("bandpass",))]
        s4 = solve(ms, tmp / "solve4_diagonal.h5", "diagonal", corr, cfg, work, "solve4", prov, model)
        solves.append(s4)
        report["clocktec"] = fit_clocktec_step(s4.h5parm, clocktec_h5, cfg, prov)
        report["solves"] = {r.convergence.solve: r.convergence.to_dict() for r in solves}
        report["unconverged_solves"] = unconverged_solves(report["solves"])

        log.info("step 7/7: collect cal_solutions.h5")
        cal = collect({"polalign": polalign_h5, "bandpass": bandpass_h5, "faraday": faraday_h5,
                       "clocktec": clocktec_h5}, tmp / "cal_solutions.h5", prov, solset_name)
        report["flagged_stations"] = _fully_flagged_stations(cal)
        requested = requested_flags(infos[0].station_names, cfg.flagging.flag_stations)
        report["flagged_by_request"] = requested
        report["failed_stations"] = failed_stations(report, requested)
        report["stations"] = station_summary(infos[0].station_names, report, requested)
        log_station_summary(report["stations"])
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
    failed = report["failed_stations"]
    if failed and not cfg.allow_failed_stations:
        listed = "; ".join(f"{name} ({reasons[0]})" for name, reasons in failed.items())
        raise QualityError(f"{len(failed)} station(s) failed and are flagged in {outdir / 'cal_solutions.h5'}: "
                           f"{listed}; see {outdir / 'calibrator_report.json'}; rerun with the setting "
                           "allow_failed_stations=true to accept the solutions without them")
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


# --------------------------------------------------------------------------- station summary

#: Report sections of the fits, in pipeline order.
FIT_SECTIONS = ("polalign", "faraday", "bandpass", "clocktec")


def requested_flags(names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """Stations flagged on request (``flagging.flag_stations``, names or globs)."""
    return [str(n) for n in names if any(fnmatch.fnmatchcase(str(n), p) for p in patterns)]


def failed_stations(report: dict, requested: Sequence[str]) -> dict[str, list[str]]:
    """Station -> reasons it failed, from the fit sections of a report (stations flagged on request
    are not failures)."""
    failed: dict[str, list[str]] = {}
    for section in FIT_SECTIONS:
        for name, reason in report.get(section, {}).get("failed", {}).items():
            if name not in requested:
                failed.setdefault(name, []).append(reason)
    return failed


def station_summary(names: Sequence[str], report: dict, requested: Sequence[str]) -> dict[str, dict]:
    """One entry per station of the data: status (ok, failed, flagged), reasons and the fitted values."""
    refined = report.get("polalign_refined", report.get("polalign", {}))
    values = {"delay_ns": refined.get("delay_ns", {}),
              "rm_mean_rad_m2": report.get("faraday", {}).get("rm_mean_rad_m2", {}),
              "bandpass_median": report.get("bandpass", {}).get("median_bandpass", {}),
              "clock_mean_ns": report.get("clocktec", {}).get("clock_mean_ns", {}),
              "tec_mean_tecu": report.get("clocktec", {}).get("tec_mean_tecu", {})}
    failed = report.get("failed_stations", {})
    summary = {}
    for name in map(str, names):
        status = "flagged" if name in requested else "failed" if name in failed else "ok"
        entry = {"status": status, "reasons": failed.get(name, ["flagged on request"] if status == "flagged" else [])}
        entry.update({key: table.get(name) for key, table in values.items()})
        summary[name] = entry
    return summary


def log_station_summary(summary: dict[str, dict]) -> None:
    """Every station, one line each: status and fitted values (failures with their first reason)."""
    def cell(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    log.info("%-12s %-7s %10s %10s %9s %10s %10s", "station", "status", "delay ns", "RM rad/m2", "bandpass",
             "clock ns", "TEC TECU")
    for name, e in summary.items():
        log.info("%-12s %-7s %10s %10s %9s %10s %10s%s", name, e["status"], cell(e["delay_ns"], ".3f"),
                 cell(e["rm_mean_rad_m2"], ".4f"), cell(e["bandpass_median"], ".3f"), cell(e["clock_mean_ns"], ".3f"),
                 cell(e["tec_mean_tecu"], ".4f"), f"  {e['reasons'][0]}" if e["reasons"] else "")
