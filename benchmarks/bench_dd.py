#!/usr/bin/env python3
"""International DD self-calibration: early stopping versus a fixed number of cycles.

Simulates the ``dd`` field (four calibrators, DE601/FR606, a TEC screen; ``--preset dd_hard``: the
hard field), writes the international recipe of every calibrator (``lofar-hires recipe international --calibrators``,
all with the same sigma_c), and self-calibrates each calibrator in each observation (without a
Dutch pre-apply: the figures are about the cycles, not the science) twice with
``lofar-hires selfcal``: once with the recipe's stopping rule without the classifier (cycles ``--min-cycles`` ..
``--max-cycles``) and once with a fixed number of cycles (``--max-cycles``). The amplitude solve
starts in cycle ``--gain-start`` (the recipe's cycle 3 makes every run at least five cycles).
A third run per calibrator and observation uses the stopping rule with the image classifier
(``--classifier``, default the shipped model; the fixed runs are scored by it too). Prints per
calibrator and observation: cycles run, the criterion that stopped the run, wall time,
core-seconds (user + system CPU of the DP3 and WSClean processes), peak disk of the run directory
and the rms of the best image; then the totals: cycles saved, the image rms difference, and the
runs that the classifier made longer.

Run on demand: ``python benchmarks/bench_dd.py`` (about 15 minutes on 2 cores with the defaults;
``--calibrators 2 --observations 1``, 3.5 minutes, for a quick look).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.selection.table import CalibratorRow, write_table
from lofar_hires.simulation.config import load_simulation_config
from lofar_hires.simulation.simulate import run_simulation

LOFAR_HIRES = Path(sys.executable).parent / "lofar-hires"


@dataclass
class RunFigures:
    calibrator: str
    observation: str
    mode: str
    cycles: int
    stopped_by: str
    wall_s: float
    core_s: float
    peak_disk_mb: float
    best_rms_mjy: float


def directory_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total / 2**20


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def selfcal(ms: Path, strategy: Path, centre: tuple[float, float], flux_jy: float, outdir: Path,
            overrides: list[str], threads: int) -> tuple[float, float, float]:
    """One run; returns wall seconds, core-seconds and peak disk (MiB, sampled every 0.5 s)."""
    peak = [0.0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            if outdir.exists():
                peak[0] = max(peak[0], directory_mb(outdir))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cpu0, t0 = children_cpu_s(), time.perf_counter()
    args = [str(LOFAR_HIRES), "--log-level", "WARNING", "selfcal", str(ms), "--strategy", str(strategy),
            "--outdir", str(outdir), "--phase-centre", str(centre[0]), str(centre[1]), "--point-model-jy",
            str(flux_jy), "--threads", str(threads)]
    for item in overrides:
        args += ["--set", item]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, children_cpu_s() - cpu0
    done.set()
    watcher.join()
    return wall, cpu, max(peak[0], directory_mb(outdir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("dd", "dd_hard"), default="dd",
                        help="simulated field: dd, or dd_hard (a disturbed ionosphere, calibrators 0.85-1.1 deg out)")
    parser.add_argument("--calibrators", type=int, default=4, help="calibrators to self-calibrate (at most 4)")
    parser.add_argument("--observations", type=int, default=2, help="observations to self-calibrate (at most 2)")
    parser.add_argument("--sigma-c", type=float, default=0.25, help="phasediff score of every calibrator (rad)")
    parser.add_argument("--min-cycles", type=int, default=3, help="least cycles of the early-stopping runs")
    parser.add_argument("--max-cycles", type=int, default=8, help="cycles of the fixed runs, most of the others")
    parser.add_argument("--gain-start", type=int, default=1, help="cycle of the first amplitude solve")
    parser.add_argument("--size-pix", type=int, default=256, help="calibrator image size (pixels of 0.1 arcsec)")
    parser.add_argument("--threads", type=int, default=2, help="DP3 and WSClean threads")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the runs here (default: a temporary one)")
    parser.add_argument("--classifier", default="shipped",
                        help="classifier model of the third mode, the stopping rule with the classifier ('shipped', "
                             "the recipe's, or a model directory; 'none' leaves the mode out); it also scores every "
                             "cycle of the fixed runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sim = run_simulation(load_simulation_config(args.preset, None, []), work / "sim")
        sky = read_makesourcedb(sim.sky_model)
        bright = [i for i, n in enumerate(sky.names) if n.startswith("bright")][:args.calibrators]
        rows = [CalibratorRow(name=sky.names[i], ra_deg=float(np.degrees(sky.ra_rad[i]) % 360.0),
                              dec_deg=float(np.degrees(sky.dec_rad[i])), category="main", score_rad=args.sigma_c,
                              peak_flux_jy=float(sky.i_jy[i])) for i in bright]
        table = write_table(work / "calibrators.csv", rows)
        subprocess.run([str(LOFAR_HIRES), "--log-level", "WARNING", "recipe", "international", "--calibrators",
                        str(table), "--outdir", str(work / "strategies"), "--integration-s", "20"], check=True,
                       stdout=subprocess.DEVNULL)
        index = json.loads((work / "strategies" / "calibrators.json").read_text())
        common = [f"imaging.size_pix={args.size_pix}", f"solves.3.start_cycle={args.gain_start}"]
        early_rule = [f"stopping.min_cycles={args.min_cycles}", f"stopping.max_cycles={args.max_cycles}"]
        modes = {"early": [*early_rule, "stopping.classifier_model=none"],
                 "fixed": [f"stopping.min_cycles={args.max_cycles}", f"stopping.max_cycles={args.max_cycles}",
                           f"stopping.classifier_model={args.classifier}"]}
        if args.classifier != "none":
            modes["classifier"] = [*early_rule, f"stopping.classifier_model={args.classifier}"]
        figures: list[RunFigures] = []
        for target in sim.targets()[:args.observations]:
            obs = target.ms.name.removesuffix(".MS")
            for cal in index:
                for mode, extra in modes.items():
                    outdir = work / "runs" / f"{cal['name']}_{obs}_{mode}"
                    wall, cpu, disk = selfcal(target.ms, work / "strategies" / cal["strategy"],
                                              (cal["ra_deg"], cal["dec_deg"]), cal["flux_jy"], outdir,
                                              common + extra, args.threads)
                    report = json.loads((outdir / "selfcal_report.json").read_text())
                    metrics = json.loads((outdir / "metrics.json").read_text())
                    rows_m = metrics["cycles"] if isinstance(metrics, dict) else metrics
                    best = rows_m[report["best_cycle"]]
                    figures.append(RunFigures(cal["name"], obs, mode, report["n_cycles"], report["stopped_by"],
                                              wall, cpu, disk, 1e3 * best["rms_jy"]))
                    print(f"{cal['name']:10s} {obs:14s} {mode:5s} cycles {report['n_cycles']:2d} "
                          f"({report['stopped_by']:10s}) wall {wall:6.1f} s, {cpu:6.1f} core-s, peak disk "
                          f"{disk:6.1f} MiB, best image rms {1e3 * best['rms_jy']:.3f} mJy/beam", flush=True)
                    scores = [r.get("classifier_score") for r in rows_m]
                    if any(v is not None for v in scores):
                        print("    P(continue) per cycle: " + " ".join("-" if v is None else f"{v:.2f}"
                                                                     for v in scores), flush=True)
        early = [f for f in figures if f.mode == "early"]
        fixed = [f for f in figures if f.mode == "fixed"]
        n = len(early)
        print(f"\n{n} calibrator x observation runs per mode")
        for name, group in (("early stopping", early), ("fixed cycles", fixed)):
            print(f"{name:15s}: {sum(f.cycles for f in group)} cycles, "
                  f"{sum(f.core_s for f in group) / n:.1f} core-s per calibrator per observation, "
                  f"peak disk {max(f.peak_disk_mb for f in group):.1f} MiB per run, "
                  f"mean best rms {sum(f.best_rms_mjy for f in group) / n:.3f} mJy/beam")
        saved = sum(f.cycles for f in fixed) - sum(f.cycles for f in early)
        diff = [100 * (e.best_rms_mjy / f.best_rms_mjy - 1) for e, f in zip(early, fixed)]
        print(f"cycles saved by early stopping: {saved} of {sum(f.cycles for f in fixed)} "
              f"({100 * saved / max(1, sum(f.cycles for f in fixed)):.0f} %); core-seconds saved "
              f"{sum(f.core_s for f in fixed) - sum(f.core_s for f in early):.0f}; best-image rms early vs fixed: "
              f"{min(diff):+.1f} % .. {max(diff):+.1f} % (mean {sum(diff) / n:+.1f} %)")
        with_classifier = [f for f in figures if f.mode == "classifier"]
        if with_classifier:
            later = sum(c.cycles > e.cycles for c, e in zip(with_classifier, early))
            diff = [100 * (c.best_rms_mjy / f.best_rms_mjy - 1) for c, f in zip(with_classifier, fixed)]
            print(f"with the classifier: {sum(f.cycles for f in with_classifier)} cycles "
                  f"({sum(f.cycles for f in early)} without it); runs stopped later than without it: {later} "
                  f"of {n}; best-image rms vs fixed: {min(diff):+.1f} % .. {max(diff):+.1f} % "
                  f"(mean {sum(diff) / n:+.1f} %)")


if __name__ == "__main__":
    main()
