#!/usr/bin/env python3
"""Speed of the clock/TEC separation on synthetic phase solutions.

Builds wrapped phases ``(time, freq, ant)`` from known clocks (up to +-60 ns, with a
drift of ~5 ns over the run and a GPS jump) and TECs (up to +-2 TECU, varying smoothly), a common phase
gauge, 0.05 rad noise per station and 3 % flagged points, then times
:func:`lofar_hires.calibration.clocktec.separate_clock_tec` and prints the wall time
and the recovery errors. Run on demand (single BLAS thread, as the package sets):

    python benchmarks/bench_clocktec.py                       # 100 times x 60 stations x 24 channels
    python benchmarks/bench_clocktec.py --n-time 1000 --n-freq 240
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lofar_hires.calibration.clocktec import separate_clock_tec
from lofar_hires.calibration.phases import wrap
from lofar_hires.simulation.corruptions import TEC_PHASE_CONSTANT


def synthetic(n_time: int, n_ant: int, n_freq: int, noise_rad: float, seed: int):
    """Phases, weights, frequencies and the true clock (s) and TEC (TECU) ``(time, ant)``."""
    rng = np.random.default_rng(seed)
    freqs = np.linspace(120e6, 168e6, n_freq)
    t = np.arange(n_time)[:, None]
    clock = rng.uniform(-60e-9, 60e-9, n_ant) + t / n_time * rng.normal(0, 5e-9, n_ant)
    clock = clock + (t >= n_time // 2) * rng.uniform(-10e-9, 10e-9, n_ant)
    tec = rng.uniform(-1.9, 1.9, n_ant) + 0.1 * np.sin(2 * np.pi * t / rng.uniform(60, 120, n_ant)
                                                      + rng.uniform(0, 2 * np.pi, n_ant))
    clock[:, 0] = tec[:, 0] = 0.0
    nu = freqs[None, :, None]
    phase = 2 * np.pi * nu * clock[:, None] + TEC_PHASE_CONSTANT * tec[:, None] / nu
    phase = wrap(phase + rng.uniform(-np.pi, np.pi, (n_time, n_freq, 1)) + rng.normal(0, noise_rad, phase.shape))
    weights = (rng.random(phase.shape) >= 0.03).astype(float)
    return phase, weights, freqs, clock, tec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-time", type=int, default=100)
    parser.add_argument("--n-ant", type=int, default=60)
    parser.add_argument("--n-freq", type=int, default=24)
    parser.add_argument("--noise-rad", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    phase, weights, freqs, clock, tec = synthetic(args.n_time, args.n_ant, args.n_freq, args.noise_rad, args.seed)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        fit = separate_clock_tec(phase, weights, freqs, 0)
        times.append(time.perf_counter() - t0)
    err_clock_ns = (fit.clock_s - clock) * 1e9
    err_tec = fit.tec_tecu - tec
    print(f"separate_clock_tec: {args.n_time} times x {args.n_ant} stations x {args.n_freq} channels "
          f"(120-168 MHz), noise {args.noise_rad} rad")
    print(f"  wall time: best {min(times):.3f} s, median {np.median(times):.3f} s over {args.repeat} runs")
    print(f"  per (time, station): {1e6 * min(times) / (args.n_time * args.n_ant):.1f} us")
    print(f"  clock error: rms {np.sqrt(np.mean(err_clock_ns**2)):.3f} ns, max {np.max(np.abs(err_clock_ns)):.3f} ns")
    print(f"  TEC error:   rms {np.sqrt(np.mean(err_tec**2)):.5f} TECU, max {np.max(np.abs(err_tec)):.5f} TECU")


if __name__ == "__main__":
    main()
