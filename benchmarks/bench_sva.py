"""Speed and peak memory of ``lofar-hires sva`` next to the public ``sva`` and the read-once limit.

Simulates ``--observations`` (default 8) observations of one field on successive days (thermal noise
only) and, for 2, 4 and 8 of them, runs in fresh processes: reading DATA, WEIGHT_SPECTRUM, FLAG and UVW
of every input once with casacore in chunks (the limit any averager has to pay), ``lofar-hires sva`` and,
when installed, the public ``sva`` (sidereal-visibility-avg), both at the input integration. Prints
wall time, peak resident memory (the largest process of each run, from ``getrusage``) and the ratios
to the read-once time.

    python benchmarks/bench_sva.py [--duration-s 1800] [--n-chan 16] [--counts 2 4 8] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("bench_sva")
BIN = Path(sys.executable).parent

#: Runs a command in a fresh process and prints its wall time (s) and peak RSS (MiB) of its largest process.
WRAPPER = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "print(r.returncode, time.perf_counter() - t, "
           "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
#: Reads the four columns of every MS given once, in chunks of 100000 rows.
READ_ONCE = ("import sys; from casacore.tables import table\n"
             "for ms in sys.argv[1:]:\n"
             "    with table(ms, ack=False) as t:\n"
             "        for s in range(0, t.nrows(), 100000):\n"
             "            for c in ('DATA', 'WEIGHT_SPECTRUM', 'FLAG', 'UVW'):\n"
             "                t.getcol(c, startrow=s, nrow=min(100000, t.nrows() - s))\n")


def measure(cmd: list[str], cwd: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], cwd=cwd, capture_output=True, text=True, check=True)
    rc, wall, rss = out.stdout.split()
    if int(rc) != 0:
        raise RuntimeError(f"{cmd[0]} failed with exit status {rc}")
    return float(wall), float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=1800.0)
    parser.add_argument("--n-chan", type=int, default=16)
    parser.add_argument("--counts", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_sva_"))
    sim = work / "sim"
    n_obs = max(args.counts)
    if not sim.exists():
        sets = [f"observation.n_observations={n_obs}", f"observation.duration_s={args.duration_s}",
                f"observation.n_chan={args.n_chan}", "calibrator.enabled=false",
                *(f"corruptions.{c}.enabled=false" for c in ("clock", "polalign", "bandpass", "faraday", "tec",
                                                              "tecscreen", "scintillation", "beam"))]
        subprocess.run([str(BIN / "lofar-hires"), "--log-level", "WARNING", "simulate", "--preset", "tiny",
                        "--outdir", str(sim), *(x for s in sets for x in ("--set", s))], check=True)
    mss = sorted(str(p) for p in sim.glob("target_obs*.MS"))
    size_mb = sum(f.stat().st_size for f in Path(mss[0]).rglob("*") if f.is_file()) / 2**20
    rows = []
    for n in args.counts:
        inputs = mss[:n]
        read = measure([sys.executable, "-c", READ_ONCE, *inputs], work)
        out = work / f"ours{n}"
        shutil.rmtree(out, ignore_errors=True)
        ours = measure([str(BIN / "lofar-hires"), "sva", *inputs, "-o", str(out), "--time-res-s", "10"], work)
        peer = None
        if (BIN / "sva").exists():
            pdir = work / f"peer{n}"
            shutil.rmtree(pdir, ignore_errors=True)
            pdir.mkdir()
            peer = measure([str(BIN / "sva"), *inputs, "--msout", str(pdir / "peer.ms"), "--time_res", "10",
                            "--ncpu", "2", "--tmp", str(pdir), "--logfile", str(pdir / "sva.log")], pdir)
        rows.append((n, read, ours, peer))
    print(f"\n{len(mss)} simulated observations of {size_mb:.1f} MiB each (tiny preset, {args.duration_s:g} s, "
          f"{args.n_chan} channels); wall s / peak RSS MiB of the largest process")
    print(f"{'N':>3} {'read once':>16} {'lofar-hires sva':>18} {'public sva':>18} {'ours/read':>10} {'sva/read':>9}")
    for n, read, ours, peer in rows:
        peer_txt = f"{peer[0]:8.2f} / {peer[1]:6.0f}" if peer else f"{'-':>17}"
        ratio = f"{peer[0] / read[0]:9.1f}" if peer else f"{'-':>9}"
        print(f"{n:>3} {read[0]:7.2f} / {read[1]:6.0f} {ours[0]:8.2f} / {ours[1]:6.0f}  {peer_txt} "
              f"{ours[0] / read[0]:10.1f} {ratio}")


if __name__ == "__main__":
    main()
