#!/usr/bin/env python3
"""Speed and memory of ``lofar-hires h5 merge`` against plain HDF5 input/output.

Writes N input h5parms (diagonal amplitude000 + phase000, axes time, freq, ant,
dir, pol), then measures in separate processes:

* the merge (``lofar-hires h5 merge``), wall time and peak memory;
* a reference that only reads the same input arrays (values and weights) and
  writes arrays of the output's size with h5py, in the same block size.

It prints the values merged per second and the ratio merge / reference: a ratio
close to 1 means the merge is limited by HDF5 reading and writing, not by the
computation. Run on demand:

    python benchmarks/bench_h5_merge.py                 # 10 x 60 ant x 24 dir x 2000 t x 100 ch x 2 pol
    python benchmarks/bench_h5_merge.py --case large    # twice the times and channels
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = {
    "default": {"n_ant": 60, "n_dir": 24, "n_time": 2000, "n_freq": 100},
    "large": {"n_ant": 60, "n_dir": 24, "n_time": 4000, "n_freq": 200},
    "medium": {"n_ant": 60, "n_dir": 24, "n_time": 200, "n_freq": 100},
    "small": {"n_ant": 20, "n_dir": 4, "n_time": 200, "n_freq": 20},
}

REFERENCE = r"""
import sys, h5py, numpy as np
from pathlib import Path
out = Path(sys.argv[1]); inputs = sys.argv[2:]
block = int(1 << 22)
with h5py.File(inputs[0], "r") as f:
    shape = f["sol000/phase000/val"].shape
per_slot = int(np.prod(shape[1:]))
nb = max(1, block // per_slot)
files = [h5py.File(p, "r") for p in inputs]
with h5py.File(out, "w") as g:
    dsets = [g.create_dataset(n, shape=shape, dtype=d) for n, d in
             (("a_val", "f8"), ("a_w", "f4"), ("p_val", "f8"), ("p_w", "f4"))]
    for start in range(0, shape[0], nb):
        stop = min(shape[0], start + nb)
        acc = None
        for f in files:
            for tab in ("amplitude000", "phase000"):
                v = f[f"sol000/{tab}/val"][start:stop]
                w = f[f"sol000/{tab}/weight"][start:stop]
                acc = v if acc is None else acc
        for d in dsets:
            d[start:stop] = acc
"""


def write_inputs(workdir: Path, n_inputs: int, n_ant: int, n_dir: int, n_time: int, n_freq: int) -> list[Path]:
    from lofar_hires.io.h5parm import H5parmWriter

    rng = np.random.default_rng(1)
    ants = [f"CS{i:03d}HBA0" for i in range(n_ant)]
    dirs = {f"d{i:02d}": (np.radians(242.75 + 0.1 * i), np.radians(55.0)) for i in range(n_dir)}
    axes = {"time": 5e9 + 8.0 * np.arange(n_time), "freq": 120e6 + 195312.5 * np.arange(n_freq),
            "ant": np.array(ants), "dir": np.array(list(dirs)), "pol": np.array(["XX", "YY"])}
    per_slot = n_freq * n_ant * n_dir * 2
    block = max(1, (1 << 22) // per_slot)
    paths = []
    for k in range(n_inputs):
        path = workdir / f"in{k:02d}.h5"
        with H5parmWriter(path, "sol000", ants, np.zeros((n_ant, 3)), dirs) as w:
            w.create_soltab("amplitude000", "amplitude", axes)
            w.create_soltab("phase000", "phase", axes)
            for start in range(0, n_time, block):
                stop = min(n_time, start + block)
                shape = (stop - start, n_freq, n_ant, n_dir, 2)
                ones = np.ones(shape, dtype=np.float32)
                w.write_block("amplitude000", 1 + 0.1 * rng.standard_normal(shape), ones, "time", start)
                w.write_block("phase000", rng.uniform(-np.pi, np.pi, shape), ones, "time", start)
        paths.append(path)
    return paths


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak resident memory (MB) of a command, via GNU time."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    peak_kb = float(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=list(CASES), default="default")
    parser.add_argument("--inputs", type=int, default=10, help="number of h5parms to merge")
    parser.add_argument("--workdir", type=Path, default=None, help="where the (large) files go")
    parser.add_argument("--reuse-input", action="store_true",
                        help="write one input file and merge it --inputs times (same volume read, a tenth of "
                             "the disk space; the default case needs about 140 GB otherwise)")
    args = parser.parse_args()
    case = CASES[args.case]
    exe = str(Path(sys.executable).parent / "lofar-hires")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        inputs = write_inputs(tmp, 1 if args.reuse_input else args.inputs, **case)
        if args.reuse_input:
            inputs = inputs * args.inputs
        t_write = time.perf_counter() - t0
        size_gb = sum(p.stat().st_size for p in inputs) / 1e9  # as read (a reused file counts each time)
        ref_wall, ref_mem = timed([sys.executable, "-c", REFERENCE, str(tmp / "reference.h5"), *map(str, inputs)])
        merge_wall, merge_mem = timed([exe, "--log-level", "WARNING", "h5", "merge", *map(str, inputs),
                                       "-o", str(tmp / "merged.h5")])
    n_values = int(np.prod(list(case.values()))) * 2
    total = n_values * 2 * args.inputs  # amplitude and phase of every input
    reuse = " (one file merged with itself)" if args.reuse_input else ""
    print(f"case {args.case}{reuse}: {args.inputs} inputs of {case['n_ant']} ant x {case['n_dir']} dir x "
          f"{case['n_time']} times x {case['n_freq']} ch x 2 pol ({n_values / 1e6:.1f} M values per soltab, "
          f"{size_gb:.2f} GB in total; written in {t_write:.1f} s)")
    print(f"{'run':34s} {'wall s':>8s} {'peak MB':>8s} {'M values/s':>11s}")
    print(f"{'merge (lofar-hires h5 merge)':34s} {merge_wall:8.1f} {merge_mem:8.0f} {total / merge_wall / 1e6:11.1f}")
    print(f"{'reference (h5py read + write)':34s} {ref_wall:8.1f} {ref_mem:8.0f} {total / ref_wall / 1e6:11.1f}")
    print(f"ratio merge / reference: {merge_wall / ref_wall:.2f}")


if __name__ == "__main__":
    main()
