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
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires import __version__
from lofar_hires.calibration import dp3ops
from lofar_hires.calibration.config import TargetConfig
from lofar_hires.calibration.dp3ops import Correction
from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.h5parm import Soltab, read_h5parm, require_values, write_h5parm
from lofar_hires.io.ms import read_ms_info, require_ms
from lofar_hires.provenance import Provenance

log = logging.getLogger(__name__)


def transfer_solutions(cal_solutions: Path, soltabs: Sequence[str], out_h5: Path,
                       provenance: Provenance) -> Path:
    """Time-independent copies of the transferred soltabs (the clock as its median over time)."""
    ss = read_h5parm(cal_solutions)
    missing = [s for s in soltabs if s not in ss.soltabs]
    if missing:
        raise InputError(f"{cal_solutions} has no soltab(s) {missing}; it has {', '.join(ss.soltabs)}")
    tabs = []
    for name in soltabs:
        tab = ss.soltabs[name].canonical()
        if "time" in tab.axes:
            ax = 0
            valid = np.where(tab.weight > 0, tab.val, np.nan)
            with np.errstate(all="ignore"):
                val = np.nanmedian(valid, axis=ax)
            weight = (np.isfinite(val)).astype(float)
            axes = {k: v for k, v in tab.axes.items() if k != "time"}
            tab = Soltab(name, tab.soltype, axes, val, weight, dict(tab.attrs))
        tabs.append(tab)
    with atomic_output(out_h5, overwrite=True) as tmp:
        write_h5parm(tmp, tabs, ss.antenna_names, ss.antenna_positions_m,
                     attrs={"lofar_hires_provenance": provenance.to_json()})
    return out_h5


def check_target_inputs(ms_paths: Sequence[Path], cal_solutions: Path, cfg: TargetConfig,
                        skymodel: Path | None) -> None:
    """Clear errors for missing or mismatched inputs, before any work.

    A sky model is checked with the makesourcedb reader; one given without ``phase_calibration``
    is refused rather than ignored.
    """
    from lofar_hires.io.skymodel import require_skymodel

    if not ms_paths:
        raise InputError("give at least one target measurement set")
    if not Path(cal_solutions).is_file():
        raise InputError(f"calibrator solutions {cal_solutions} do not exist")
    if cfg.phase_calibration and (skymodel is None or not Path(skymodel).is_file()):
        raise InputError("phase_calibration needs an existing --skymodel (makesourcedb)")
    if skymodel is not None:
        if not cfg.phase_calibration:
            raise InputError(f"--skymodel {skymodel} is only used by the self-calibration: add "
                             "--set phase_calibration=true, or leave out --skymodel")
        require_skymodel(Path(skymodel))
    try:
        ss = read_h5parm(cal_solutions)
        missing = [name for name in cfg.corrections if name not in ss.soltabs]
        if missing:
            raise InputError(f"{cal_solutions} has no soltab(s) {', '.join(missing)} (setting corrections); it has "
                             f"{', '.join(ss.soltabs) or 'none'}")
        require_values(ss, Path(cal_solutions), list(cfg.corrections))
    except InputError as exc:
        raise InputError(f"--cal-solutions: {exc}") from None
    for path in ms_paths:
        info = read_ms_info(require_ms(path, ("DATA",)))
        unknown = [s for s in info.station_names if s not in ss.antenna_names]
        if unknown:
            raise InputError(f"{Path(path).name} has stations without calibrator solutions: {', '.join(unknown)}")
        for name in cfg.corrections:
            tab = ss.soltabs.get(name)
            if tab is not None and "freq" in tab.axes:
                f = tab.axes["freq"]
                step = np.median(np.diff(f)) if len(f) > 1 else info.chan_width_hz
                if info.freqs_hz.min() < f.min() - step or info.freqs_hz.max() > f.max() + step:
                    log.warning("%s covers %.2f-%.2f MHz but %s has solutions for %.2f-%.2f MHz only; the "
                                "nearest channels are used", Path(path).name, info.freqs_hz.min() / 1e6,
                                info.freqs_hz.max() / 1e6, name, f.min() / 1e6, f.max() / 1e6)


def correct_target(ms: Path, out_ms: Path, transfer_h5: Path, cfg: TargetConfig, workdir: Path,
                   provenance: Provenance) -> Path:
    """One DP3 run: flag, remove the transferred terms and the beam, average into ``out_ms``."""
    info = read_ms_info(ms)
    corrections = [Correction(transfer_h5, (name,)) for name in cfg.corrections]
    if cfg.apply_beam:
        corrections.append(Correction.station_beam())
    steps = (dp3ops.flagging_steps(cfg.flagging) + dp3ops.correction_steps(corrections)
             + dp3ops.averaging_steps(info, cfg.averaging))
    dp3ops.run_steps(ms, out_ms, steps, workdir, f"correct_{ms.stem}", threads=cfg.threads,
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
                    provenance: Provenance, name: str | None = None) -> Path:
    """Direction-independent self-calibration of ``ms`` against ``skymodel``, applied to DATA in place.

    ``cfg.phase_mode`` is the DDECal mode (one direction holding every patch of the model);
    ``name`` (default: the MS name without its extension) names DP3's parsets and logs.
    """
    from lofar_hires.io.skymodel import read_makesourcedb

    patches = sorted(set(read_makesourcedb(skymodel).patches))
    name = ms.stem if name is None else name
    options = {"mode": cfg.phase_mode, "h5parm": solutions_h5, "sourcedb": Path(skymodel),
               "directions": [patches], "solint": cfg.phase_solint, "nchan": cfg.phase_nchan,
               "uvlambdamin": cfg.uvlambdamin}
    if cfg.phase_smoothness_hz > 0:
        options["smoothnessconstraint"] = cfg.phase_smoothness_hz
    soltabs = {"scalarphase": ("phase000",), "diagonalphase": ("phase000",),
               "rotation+diagonal": ("amplitude000", "phase000", "rotation000")}[cfg.phase_mode]
    with atomic_output(solutions_h5, overwrite=True) as tmp:
        options["h5parm"] = tmp
        dp3ops.run_steps(ms, None, [dp3ops.Dp3Step("solve", "ddecal", options)], workdir, f"phasecal_{name}",
                         threads=cfg.threads, provenance=provenance)
        apply = dp3ops.correction_steps([Correction(tmp, soltabs)])
        dp3ops.run_steps(ms, None, apply, workdir, f"applyphase_{name}", out_column="DATA", threads=cfg.threads,
                         provenance=provenance)
    return solutions_h5


@dataclass
class TargetResult:
    """Products of :func:`run_di_target`."""

    outdir: Path
    corrected: list[Path] = field(default_factory=list)
    phase_solutions: list[Path] = field(default_factory=list)
    report: Path | None = None


def run_di_target(ms_paths: Sequence[Path], cal_solutions: Path, outdir: Path, cfg: TargetConfig, *,
                  skymodel: Path | None = None, overwrite: bool = False) -> TargetResult:
    """Correct every target MS into ``outdir/<name>.MS`` (written atomically)."""
    outdir = Path(outdir)
    ms_paths = [Path(p) for p in ms_paths]
    check_output_path(outdir, overwrite)
    check_target_inputs(ms_paths, Path(cal_solutions), cfg, skymodel)
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
        transfer = transfer_solutions(Path(cal_solutions), cfg.corrections, tmp / "transfer.h5", prov)
        for k, ms in enumerate(ms_paths):
            log.info("target %d/%d: %s", k + 1, len(ms_paths), ms.name)
            out = correct_target(ms, tmp / f"{ms.stem}.MS", transfer, cfg, logs, prov)
            entry = {"input": str(ms), "output": out.name}
            if cfg.phase_calibration:
                sol = phase_calibrate(out, Path(skymodel), tmp / f"{ms.stem}.phase.h5", cfg, logs, prov)
                entry["phase_solutions"] = sol.name
            report["outputs"].append(entry)
        report["wall_time_s"] = round(time.monotonic() - t0, 1)
        (tmp / "target_report.json").write_text(json.dumps(report, indent=2) + "\n")
        prov.write(tmp / "provenance.json")
    log.info("DI-corrected target data in %s (%.0f s)", outdir, time.monotonic() - t0)
    return TargetResult(outdir=outdir, corrected=[outdir / e["output"] for e in report["outputs"]],
                        phase_solutions=[outdir / e["phase_solutions"] for e in report["outputs"]
                                         if "phase_solutions" in e],
                        report=outdir / "target_report.json")
