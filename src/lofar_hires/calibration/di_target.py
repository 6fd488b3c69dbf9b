"""The direction-independent target pipeline (LINC-target equivalent).

Transfers the instrumental, direction-independent terms found on the calibrator
(``cal_solutions.h5``: polarisation alignment, bandpass, clock) to the target,
removes the station beam at the phase centre, flags, averages, and optionally
self-calibrates scalar phases against a sky model. One DI-corrected MS is
written per input MS; the inputs are never modified. Every input (measurement
sets, calibrator solutions, sky model) is checked before any work starts, and a
corrected MS counts as a product only when DP3 wrote it with rows and some
unflagged data.

The clock is transferred as its median over the calibrator observation (the
calibrator and the target are observed at different times); polarisation
alignment and bandpass are time-independent by construction.

``cal_solutions.h5`` may be this project's or LINC's: the calibrator solutions are
read from the solset ``calibrator`` (LINC's name; ``sol000`` or a file's only solset
otherwise), whatever the axis order, with a time axis or a direction axis of length
one, and ``transfer.h5`` holds them in one solset ``calibrator`` that DP3 applies
without further options. The phase solutions of the self-calibration are written to
the solset ``target``, LINC's name for them (DDECal writes ``sol000``; the solset is
renamed before the file is published).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires import __version__
from lofar_hires.calibration import dp3_settings
from lofar_hires.calibration.config import TargetConfig
from lofar_hires.calibration.di_calibrator import log_convergence
from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import (
    CALIBRATOR_SOLSET,
    DP3_SOLSET,
    TARGET_SOLSET,
    Solset,
    Soltab,
    read_calibrator_solutions,
    read_h5parm,
    rename_solset,
    require_values,
    solset_names,
    write_h5parm,
)
from lofar_hires.io.ms import read_ms_info, require_ms
from lofar_hires.provenance import Provenance
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3 import SolveConvergence, ddecal_convergence
from lofar_hires.runners.dp3_steps import Correction

log = logging.getLogger(__name__)

#: Reference station of the plotted phases: a CS002 field, else the first core station (as the calibrator's fits).
PLOT_REFERENCE = "CS002HBA0"


def transfer_solutions(cal_solutions: Path, soltabs: Sequence[str], out_h5: Path,
                       provenance: Provenance, *, solset: str | None = None) -> Path:
    """Time-independent copies of the transferred soltabs (the clock as its median over time).

    ``cal_solutions`` is ours or LINC's (see :func:`lofar_hires.io.h5parm.read_calibrator_solutions`;
    ``solset`` names the solset to read, default ``calibrator``, then ``sol000``). A direction axis
    of length one is dropped. The copies go to ``out_h5``, solset ``calibrator``.

    Raises
    ------
    InputError
        A soltab missing (the message names the file, solset and soltabs) or with several directions.
    """
    ss = read_calibrator_solutions(cal_solutions, list(soltabs), solset)
    tabs = [transferable(ss.soltabs[name], f"{cal_solutions}: solset {ss.name}") for name in soltabs]
    with atomic_output(out_h5, overwrite=True) as tmp:
        write_h5parm(tmp, tabs, ss.antenna_names, ss.antenna_positions_m, solset=CALIBRATOR_SOLSET,
                     attrs={"lofar_hires_provenance": provenance.to_json()})
    return out_h5


def transferable(tab: Soltab, where: str) -> Soltab:
    """``tab`` in DP3's axis order without its time axis (median of the unflagged values) and without a
    direction axis of length one.

    Raises
    ------
    InputError
        The soltab has more than one direction (not a direction-independent solution).
    """
    tab = tab.canonical()
    if "dir" in tab.axes:
        if len(tab.axes["dir"]) != 1:
            raise InputError(f"{where}, soltab {tab.name} has {len(tab.axes['dir'])} directions; calibrator "
                             "solutions must be direction independent (one direction)")
        ax = tab.axis_names.index("dir")
        axes = {k: v for k, v in tab.axes.items() if k != "dir"}
        tab = Soltab(tab.name, tab.soltype, axes, np.take(tab.val, 0, axis=ax), np.take(tab.weight, 0, axis=ax),
                     dict(tab.attrs))
    if "time" in tab.axes:
        valid = np.where(tab.weight > 0, tab.val, np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: flagged stations stay NaN
            val = np.nanmedian(valid, axis=0)
        weight = (np.isfinite(val)).astype(float)
        axes = {k: v for k, v in tab.axes.items() if k != "time"}
        tab = Soltab(tab.name, tab.soltype, axes, val, weight, dict(tab.attrs))
    return tab


def check_target_inputs(ms_paths: Sequence[Path], cal_solutions: Path, cfg: TargetConfig,
                        skymodel: Path | None, *, solset: str | None = None) -> None:
    """Clear errors for missing or mismatched inputs, before any work.

    A sky model is checked with the makesourcedb reader; one given without ``phase_calibration``
    is refused rather than ignored. ``cal_solutions`` is ours or LINC's (``solset``: as for
    :func:`transfer_solutions`); a soltab of ``cfg.corrections`` that it lacks is named in a one-line
    error.
    """
    from lofar_hires.io.skymodel import require_skymodel

    if not ms_paths:
        raise InputError("give at least one target measurement set")
    if not Path(cal_solutions).is_file():
        raise InputError(f"calibrator solutions {cal_solutions} do not exist")
    if cfg.phase_calibration and (skymodel is None or not Path(skymodel).is_file()):
        raise InputError("phase_calibration needs an existing sky model (makesourcedb)", setting="skymodel")
    if skymodel is not None:
        if not cfg.phase_calibration:
            raise InputError(f"sky model {skymodel} is only used by the self-calibration: set "
                             "phase_calibration=true, or leave out the sky model", setting="skymodel")
        require_skymodel(Path(skymodel))
    try:
        ss = read_calibrator_solutions(cal_solutions, list(cfg.corrections), solset, what="setting corrections")
        require_values(ss, Path(cal_solutions), list(cfg.corrections))
        for name in cfg.corrections:
            transferable(ss.soltabs[name], f"{cal_solutions}: solset {ss.name}")
    except InputError as exc:
        raise InputError(f"calibrator solutions: {exc}", setting="cal_solutions") from None
    for path in ms_paths:
        info = read_ms_info(require_ms(path, ("DATA",)))
        unknown = [s for s in info.station_names if s not in ss.antenna_names]
        if unknown:
            raise InputError(f"{Path(path).name} has stations without calibrator solutions: {', '.join(unknown)}")
        _warn_frequency_coverage(ss, cfg.corrections, info, Path(path).name)


def _warn_frequency_coverage(ss: Solset, corrections: Sequence[str], info, ms_name: str) -> None:
    """Warn when the MS's channels reach beyond the frequencies of the solutions (DP3 uses the nearest)."""
    for name in corrections:
        tab = ss.soltabs.get(name)
        if tab is not None and "freq" in tab.axes:
            f = tab.axes["freq"]
            step = np.median(np.diff(f)) if len(f) > 1 else info.chan_width_hz
            if info.freqs_hz.min() < f.min() - step or info.freqs_hz.max() > f.max() + step:
                log.warning("%s covers %.2f-%.2f MHz but %s has solutions for %.2f-%.2f MHz only; the "
                            "nearest channels are used", ms_name, info.freqs_hz.min() / 1e6,
                            info.freqs_hz.max() / 1e6, name, f.min() / 1e6, f.max() / 1e6)


#: Soltab types of effects that arise before the signal reaches the station (in the ionosphere), removed after the
#: station beam: Faraday rotation.
SKY_SIDE_SOLTYPES = frozenset({"rotationmeasure"})


def correction_order(names: Sequence[str], soltypes: Mapping[str, str], apply_beam: bool) -> list[str | None]:
    """The order in which the target's corrections are removed, outermost effect first: the instrumental soltabs
    (in the order given), the station beam (``None``), then the ionospheric Faraday rotation.

    The order matters because the station beam's Jones matrix does not commute with a rotation: on simulated data
    a Faraday rotation removed before the beam came out doubled instead of removed (de Gasperin et al. 2019,
    section 4.3: the rotation is estimated, and so removed, after the beam).
    """
    instrumental = [n for n in names if soltypes.get(n) not in SKY_SIDE_SOLTYPES]
    sky_side = [n for n in names if soltypes.get(n) in SKY_SIDE_SOLTYPES]
    return [*instrumental, *([None] if apply_beam else []), *sky_side]


def correct_target(ms: Path, out_ms: Path, transfer_h5: Path, cfg: TargetConfig, workdir: Path,
                   provenance: Provenance) -> Path:
    """One DP3 run: flag, remove the transferred terms and the beam, average into ``out_ms``.

    ``transfer_h5`` must hold one solset (:func:`transfer_solutions` writes such a file): DP3's
    applycal reads a file with several solsets only when told which.
    """
    solsets = solset_names(transfer_h5)
    if len(solsets) != 1:
        raise InputError(f"{transfer_h5} has {len(solsets)} solsets ({', '.join(solsets)}); DP3 applies "
                         "transferred solutions with one solset (as transfer_solutions writes them)")
    info = read_ms_info(ms)
    soltypes = {name: tab.soltype for name, tab in read_h5parm(transfer_h5).soltabs.items()}
    corrections = [Correction(transfer_h5, (name,)) if name else Correction.station_beam()
                   for name in correction_order(cfg.corrections, soltypes, cfg.apply_beam)]
    steps = (dp3_settings.flagging(cfg.flagging) + dp3_steps.correction_steps(corrections)
             + dp3_settings.averaging(info, cfg.averaging))
    dp3_steps.run_steps(ms, out_ms, steps, workdir, f"correct_{ms.stem}", threads=cfg.threads,
                     provenance=provenance)
    check_usable_product(out_ms, f"the corrected {Path(ms).name}",
                         "does flagging.flag_stations name every station, or are the transferred solutions "
                         "NaN for every station?")
    return out_ms


def check_usable_product(ms: Path, what: str, hint: str) -> None:
    """Refuse a measurement set that DP3 wrote but whose data are all flagged (no usable product).

    Raises
    ------
    QualityError
        Every visibility of ``ms`` is flagged; ``what`` names the product and ``hint`` the likely cause.
    """
    try:
        require_ms(ms)
    except InputError as exc:
        raise QualityError(f"{what} holds no usable data ({str(exc).rsplit(': ', 1)[-1]}): {hint}") from None


def phase_calibrate(ms: Path, skymodel: Path, solutions_h5: Path, cfg: TargetConfig, workdir: Path,
                    provenance: Provenance, name: str | None = None, *,
                    solset_name: str = TARGET_SOLSET) -> SolveConvergence:
    """Direction-independent self-calibration of ``ms`` against ``skymodel``, applied to DATA in place.

    ``cfg.phase_mode`` is the DDECal mode (one direction holding every patch of the model);
    ``name`` (default: the MS name without its extension) names DP3's parsets and logs. The
    solutions are in the solset ``solset_name`` (default LINC's ``target``). Returns the solve's
    convergence (read from DP3's log; a warning when intervals stopped at ``cfg.phase_maxiter``).
    """
    from lofar_hires.io.skymodel import read_makesourcedb

    patches = sorted(set(read_makesourcedb(skymodel).patches))
    name = ms.stem if name is None else name
    info = read_ms_info(ms)
    slots, nchan = cfg.phase_cells(info.integration_s, info.chan_width_hz, len(info.freqs_hz))
    soltabs = dp3_steps.solve_mode(cfg.phase_mode).soltabs
    with atomic_output(solutions_h5, overwrite=True) as tmp:
        step = dp3_steps.ddecal(cfg.phase_mode, tmp, solint_slots=slots, nchan=nchan, minuv_lambda=cfg.minuv_lambda,
                                sourcedb=Path(skymodel), directions=[patches], smoothness_hz=cfg.phase_smoothness_hz,
                                maxiter=cfg.phase_maxiter)
        dp3_steps.run_steps(ms, None, [step], workdir, f"phasecal_{name}", threads=cfg.threads, provenance=provenance)
        convergence = ddecal_convergence(Path(workdir) / f"phasecal_{name}.log", f"phasecal_{name}",
                                         cfg.phase_maxiter)
        log_convergence(convergence, setting="phase_maxiter")
        rename_solset(tmp, DP3_SOLSET, solset_name)
        apply = dp3_steps.correction_steps([Correction(tmp, soltabs, solset=solset_name)])
        dp3_steps.run_steps(ms, None, apply, workdir, f"applyphase_{name}", out_column="DATA", threads=cfg.threads,
                            provenance=provenance)
    return convergence


@dataclass
class TargetResult:
    """Products of :func:`run_di_target`."""

    outdir: Path
    corrected: list[Path] = field(default_factory=list)
    phase_solutions: list[Path] = field(default_factory=list)
    report: Path | None = None
    plots: list[Path] = field(default_factory=list)


def run_di_target(ms_paths: Sequence[Path], cal_solutions: Path, outdir: Path, cfg: TargetConfig, *,
                  skymodel: Path | None = None, overwrite: bool = False, cal_solset: str | None = None,
                  solset_name: str = TARGET_SOLSET, make_plots: bool = True) -> TargetResult:
    """Correct every target MS into ``outdir/<name>.MS`` (written atomically).

    With ``make_plots``, ``outdir/plots`` holds a station grid of every soltab applied
    (``transfer.h5``) and of every phase solution file.

    ``cal_solset`` names the solset of ``cal_solutions`` to read (default: ``calibrator``, then
    ``sol000``, then the file's only solset); ``solset_name`` is the solset of the phase solutions.
    """
    outdir = Path(outdir)
    ms_paths = [Path(p) for p in ms_paths]
    check_output_path(outdir, overwrite)
    check_target_inputs(ms_paths, Path(cal_solutions), cfg, skymodel, solset=cal_solset)
    prov = Provenance(task="di-target", parameters={"config": repr(cfg), "skymodel": str(skymodel)})
    for path in [*ms_paths, Path(cal_solutions)]:
        prov.add_input(path)
    t0 = time.monotonic()
    report: dict = {"lofar_hires_version": __version__, "corrections": list(cfg.corrections),
                    "apply_beam": cfg.apply_beam, "phase_calibration": cfg.phase_calibration, "outputs": []}
    with atomic_output(outdir, overwrite) as tmp:
        tmp.mkdir(parents=True)
        logs = tmp / "logs"
        logs.mkdir()
        transfer = transfer_solutions(Path(cal_solutions), cfg.corrections, tmp / "transfer.h5", prov,
                                      solset=cal_solset)
        for k, ms in enumerate(ms_paths):
            log.info("target %d/%d: %s", k + 1, len(ms_paths), ms.name)
            out = correct_target(ms, tmp / f"{ms.stem}.MS", transfer, cfg, logs, prov)
            entry = {"input": str(ms), "output": out.name}
            if cfg.phase_calibration:
                sol = tmp / f"{ms.stem}.phase.h5"
                convergence = phase_calibrate(out, Path(skymodel), sol, cfg, logs, prov, solset_name=solset_name)
                entry["phase_solutions"] = sol.name
                entry["phase_convergence"] = convergence.to_dict()
            report["outputs"].append(entry)
        unconverged = {Path(e["input"]).name: e["phase_convergence"]["fraction_at_maxiter"]
                       for e in report["outputs"] if e.get("phase_convergence", {}).get("at_maxiter")}
        if unconverged:
            report["unconverged_solves"] = unconverged
        plots: list[Path] = []
        if make_plots:
            from lofar_hires.calibration.solution_grid import target_plots

            solved = [tmp / e["phase_solutions"] for e in report["outputs"] if "phase_solutions" in e]
            plots = target_plots([transfer, *solved], tmp / "plots", PLOT_REFERENCE)
            report["plots"] = [str(p.relative_to(tmp)) for p in plots]
        report["wall_time_s"] = round(time.monotonic() - t0, 1)
        (tmp / "target_report.json").write_text(json.dumps(report, indent=2) + "\n")
        prov.write(tmp / "provenance.json")
    log.info("DI-corrected target data in %s (%.0f s)", outdir, time.monotonic() - t0)
    return TargetResult(outdir=outdir, corrected=[outdir / e["output"] for e in report["outputs"]],
                        phase_solutions=[outdir / e["phase_solutions"] for e in report["outputs"]
                                         if "phase_solutions" in e],
                        report=outdir / "target_report.json", plots=[outdir / p.relative_to(tmp) for p in plots])
