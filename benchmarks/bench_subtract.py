#!/usr/bin/env python3
"""Cost of the 1.2 arcsec facet subtraction: the old method against the new one, for 4, 8 and 16 facets.

One observation is simulated once (preset ``dd``, a wider field with 16 calibrators and many
fainter sources); the facet layouts of its first 4, 8 and 16 calibrators are made with
``lofar-hires facets`` and given direction-dependent solutions (one direction per facet, small
random phases on the data's grid). For each layout ``lofar-hires subtract`` runs, each in its
own process, by

* ``old``: per facet, a full copy of the data without the other facets' sources, then shift,
  correct and average the copy;
* ``new``: one DP3 pass: subtract the whole field, then per facet (DP3 split branches) add its
  sources back, shift, correct, average and write (the default);
* ``jobs``: the layout the CWL workflow scatters: one job writes the empty data set, then one job
  per facet reads it (``--empty-ms --facet``).

It prints per method and facet count: wall time, core-seconds (user + system time of the
command and DP3), peak memory (all processes together) and peak disk of the output directory,
the old/new cost ratio, and where the core time goes (DP3's own timing report: read, predict,
shift, beam, applycal, average, write). Linear fits of cost against the number of facets give
the projection to an observation of ``--project-hours`` at ``--project-integration-s`` with
``--project-channels`` channels, ``--project-stations`` stations and ``--project-facets`` facets
over a field ``--project-field-deg`` wide with the benchmark's density of model components.

    python benchmarks/bench_subtract.py                        # about 20 minutes on 2 cores
    python benchmarks/bench_subtract.py --facets 4 8 --faint 100 --duration-s 1800
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
METHODS = ("old", "new", "jobs")


def lofar_hires(*args: str, cwd: Path | None = None) -> None:
    proc = subprocess.run([str(BIN / "lofar-hires"), "--log-level", "WARNING", *args], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if proc.returncode != 0:
        sys.exit(f"lofar-hires {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")


class Monitor:
    """Peak memory of this process's children and peak size of a directory, sampled while a command runs."""

    def __init__(self, folder: Path, interval_s: float = 0.2) -> None:
        import psutil

        self.folder, self.interval_s = folder, interval_s
        self.me = psutil.Process()
        self.peak_rss = 0
        self.peak_disk = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        k = 0
        while not self._stop.is_set():
            rss = 0
            for child in self.me.children(recursive=True):
                try:
                    rss += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_rss = max(self.peak_rss, rss)
            if k % 5 == 0:
                self.peak_disk = max(self.peak_disk, du(self.folder))
            k += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_disk = max(self.peak_disk, du(self.folder))


def du(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def measured(folder: Path, argv_list: list[list[str]]) -> dict[str, float]:
    """Run commands one after the other; wall time, core-seconds of the children, peaks."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with Monitor(folder) as mon:
        for argv in argv_list:
            lofar_hires(*argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": time.monotonic() - start,
            "core_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_rss_mb": mon.peak_rss / 2**20, "peak_disk_mb": mon.peak_disk / 2**20}


def phases(folder: Path) -> dict[str, float]:
    total: dict[str, float] = {}
    for summary in folder.rglob("*.subtract.json"):
        for run in json.loads(summary.read_text())["runs"]:
            for phase, seconds in run["phases_s"].items():
                total[phase] = total.get(phase, 0.0) + seconds
    return total


def simulate(work: Path, args: argparse.Namespace) -> Path:
    sim = work / "sim"
    if not (sim / "simulation.json").is_file():
        lofar_hires("simulate", "--preset", "dd", "--outdir", str(sim), "--overwrite", "--seed", str(args.seed),
                    "--set", "observation.n_observations=1", "--set", f"observation.duration_s={args.duration_s}",
                    "--set", f"observation.integration_s={args.integration_s}",
                    "--set", f"observation.n_chan={args.channels}", "--set", "observation.chan_width_hz=97656.25",
                    "--set", f"sky.field_radius_deg={args.field_deg / 2}", "--set", "sky.n_bright=16",
                    "--set", "sky.bright_min_separation_deg=0.1", "--set", f"sky.n_faint={args.faint}",
                    "--set", "corruptions.tecscreen.enabled=false")
    return sim


def layout(work: Path, sim: Path, n_facets: int, field_deg: float) -> tuple[Path, list[str]]:
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.selection.table import CalibratorRow, write_table

    sky = read_makesourcedb(sim / "sky_truth.skymodel")
    bright = [i for i, n in enumerate(sky.names) if n.startswith("bright")][:n_facets]
    folder = work / f"layout{n_facets}"
    folder.mkdir(exist_ok=True)
    table = write_table(folder / "calibrators.csv", [
        CalibratorRow(name=sky.names[i], ra_deg=math.degrees(sky.ra_rad[i]) % 360, dec_deg=math.degrees(sky.dec_rad[i]),
                      category="main", score_rad=1.0, peak_flux_jy=float(sky.i_jy[i])) for i in bright])
    lofar_hires("facets", str(table), "-o", str(folder / "facets"), "--msin", str(sim / "target_obs01.MS"),
                "--box-deg", str(field_deg), "--overwrite")
    return folder / "facets" / "facets.reg", [sky.names[i] for i in bright]


def solutions(path: Path, ms: Path, names: list[str], seed: int) -> Path:
    """Scalar phase solutions (0.3 rad rms) per facet on the data's time and frequency grid."""
    from lofar_hires.io.h5parm import Solset, Soltab, write_solset
    from lofar_hires.io.ms import read_ms_info
    from lofar_hires.io.skymodel import read_makesourcedb

    info = read_ms_info(ms)
    sky = read_makesourcedb(ms.parent / "sky_truth.skymodel")
    path.unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    axes = {"time": info.times_mjd_s, "freq": info.freqs_hz, "ant": np.array(info.station_names),
            "dir": np.array([f"[{n}]" for n in names])}
    shape = tuple(len(v) for v in axes.values())
    directions = {n: (float(sky.ra_rad[sky.names.index(n)]), float(sky.dec_rad[sky.names.index(n)])) for n in names}
    tab = Soltab("phase000", "phase", axes, 0.3 * rng.standard_normal(shape), np.ones(shape))
    return write_solset(path, Solset("sol000", list(info.station_names), info.station_positions_m, directions,
                                     {"phase000": tab}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facets", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--faint", type=int, default=1500,
                        help="fainter sources besides the 16 calibrators (model components: the default gives about "
                             "2000 per square degree, the density of a deep 1.2 arcsec model)")
    parser.add_argument("--duration-s", type=float, default=1800.0)
    parser.add_argument("--integration-s", type=float, default=4.0)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--field-deg", type=float, default=1.0, help="width of the simulated field and facet layout")
    parser.add_argument("--resolution-arcsec", type=float, default=1.2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the simulation here between runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--project-hours", type=float, default=8.0)
    parser.add_argument("--project-integration-s", type=float, default=1.0)
    parser.add_argument("--project-channels", type=int, default=231 * 4, help="231 subbands of 4 channels")
    parser.add_argument("--project-stations", type=int, default=52)
    parser.add_argument("--project-facets", type=int, default=30)
    parser.add_argument("--project-field-deg", type=float, default=2.5)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_subtract_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    sim = simulate(work, args)
    ms, sky = sim / "target_obs01.MS", sim / "sky_truth.skymodel"
    from lofar_hires.io.ms import read_ms_info

    info = read_ms_info(ms)
    n_vis = info.n_rows * len(info.freqs_hz)
    n_comp = sum(1 for line in sky.read_text().splitlines() if line and not line.startswith(("#", "FORMAT", ",")))
    print(f"data: {len(info.station_names)} stations, {info.n_rows} rows x {len(info.freqs_hz)} channels = "
          f"{n_vis / 1e6:.2f} M visibilities ({du(ms) / 2**20:.0f} MiB), {n_comp} model components; "
          f"simulated in {time.monotonic() - t0:.0f} s")

    results = []
    for n in args.facets:
        regions, names = layout(work, sim, n, args.field_deg)
        h5 = solutions(work / f"layout{n}" / "dd.h5", ms, names, args.seed)
        common = ["--skymodel", str(sky), "--h5parm", str(h5), "--facet-regions", str(regions), "--no-beam",
                  "--resolution-arcsec", str(args.resolution_arcsec), "--threads", str(args.threads)]
        for method in args.methods:
            out = work / f"out{n}_{method}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            if method == "jobs":
                empty = out / "empty.ms"
                argv = [["subtract", str(ms), *common, "-o", str(out / "empty_job"), "--empty-only", "--keep-empty",
                         str(empty)]]
                argv += [["subtract", str(ms), *common, "-o", str(out / f"job_{name}"), "--empty-ms", str(empty),
                          "--facet", name] for name in names]
            else:
                argv = [["subtract", str(ms), *common, "-o", str(out), "--method", method]]
            row = {"facets": n, "method": method, **measured(out, argv), "phases_s": phases(out)}
            results.append(row)
            print(f"{n:3d} facets  {method:4s}  wall {row['wall_s']:7.1f} s  core {row['core_s']:7.1f} s  "
                  f"peak memory {row['peak_rss_mb']:6.0f} MiB  peak disk {row['peak_disk_mb']:6.0f} MiB  "
                  + "  ".join(f"{k} {v:.1f}" for k, v in sorted(row["phases_s"].items())), flush=True)
            shutil.rmtree(out, ignore_errors=True)

    def cost(n: int, method: str) -> float | None:
        return next((r["core_s"] for r in results if r["facets"] == n and r["method"] == method), None)

    print("\nold/new cost ratio (core-seconds):")
    for n in args.facets:
        old, new, jobs = cost(n, "old"), cost(n, "new"), cost(n, "jobs")
        parts = []
        if old and new:
            parts.append(f"old/new {old / new:.2f}")
        if old and jobs:
            parts.append(f"old/jobs {old / jobs:.2f}")
        print(f"  {n:3d} facets: " + ", ".join(parts))

    projection = {}
    if len(args.facets) >= 2:
        print(f"\nprojection: {args.project_hours:g} h at {args.project_integration_s:g} s, "
              f"{args.project_channels} channels, {args.project_stations} stations, {args.project_facets} facets, "
              f"a {args.project_field_deg:g} deg field (components scale with the area):")
        n_base = args.project_stations * (args.project_stations - 1) / 2
        vis_real = n_base * args.project_hours * 3600 / args.project_integration_s * args.project_channels
        comp_scale = (args.project_field_deg / args.field_deg) ** 2
        for method in args.methods:
            rows = [r for r in results if r["method"] == method]
            if len(rows) < 2:
                continue
            x = np.array([r["facets"] for r in rows], float)
            predict = np.array([r["phases_s"].get("predict", 0.0) for r in rows])
            rest = np.array([r["core_s"] for r in rows]) - predict
            fit_p, fit_r = np.polyfit(x, predict, 1), np.polyfit(x, rest, 1)
            n = args.project_facets
            core_s = (np.polyval(fit_p, n) * comp_scale + np.polyval(fit_r, n)) * vis_real / n_vis
            projection[method] = core_s / 3600
            print(f"  {method:4s}: {core_s / 3600:10.0f} core hours (fit per facet: predict {fit_p[0]:.2f} s, "
                  f"other {fit_r[0]:.2f} s; at no facet: {fit_p[1]:.2f} s, {fit_r[1]:.2f} s)")
        if "old" in projection and "new" in projection:
            print(f"  old/new at {args.project_facets} facets: {projection['old'] / projection['new']:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "projection_core_hours": projection,
                                         "visibilities": n_vis, "components": n_comp}, indent=2))
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
