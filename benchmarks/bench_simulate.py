#!/usr/bin/env python3
"""Simulator throughput versus a plain DP3 predict of the same sky on the same MS.

Prints visibilities per second (one visibility = one baseline, time slot and
channel, all four correlations) for:

* the simulator without corruptions (DFT + MS writing),
* the simulator with every corruption (clock, TEC, screen, Faraday, beam, ...),
* DP3 ``predict`` of the same sky model into the same MS (no beam),
* DP3 ``predict`` with ``usebeammodel=true``,

and the ratios simulator / DP3. Run on demand: ``make bench`` or
``python benchmarks/bench_simulate.py --preset small``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, run_dp3
from lofar_hires.simulation.config import load_simulation_config
from lofar_hires.simulation.simulate import run_simulation

OFF = [f"corruptions.{n}.enabled=false" for n in
       ("clock", "polalign", "bandpass", "faraday", "tec", "tecscreen", "scintillation", "beam", "noise")]


def n_visibilities(ms: Path) -> int:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return t.nrows() * t.getcell("DATA", 0).shape[0]


def simulate(preset: str, overrides: list[str], outdir: Path) -> tuple[Path, Path, float]:
    config = load_simulation_config(preset, None, ["calibrator.enabled=false", "observation.n_observations=1",
                                                   *overrides])
    t0 = time.perf_counter()
    result = run_simulation(config, outdir)
    return result.targets()[0].ms, result.sky_model, time.perf_counter() - t0


def dp3_predict(ms: Path, sky: Path, workdir: Path, threads: int, beam: bool) -> float:
    run = Dp3Run(msin=ms, msout=None, msout_options={"datacolumn": "MODEL_DATA"}, numthreads=threads,
                 steps=[Dp3Step("predict", "predict", {"sourcedb": sky, "usebeammodel": beam})])
    t0 = time.perf_counter()
    run_dp3(run, workdir, f"predict_beam{int(beam)}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--dp3-threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        ms0, sky0, t_plain = simulate(args.preset, [*args.overrides, *OFF], tmp / "plain")
        ms1, _, t_full = simulate(args.preset, args.overrides, tmp / "full")
        nvis = n_visibilities(ms0)
        t_dp3 = dp3_predict(ms0, sky0, tmp, args.dp3_threads, beam=False)
        t_dp3_beam = dp3_predict(ms1, sky0, tmp, args.dp3_threads, beam=True)
        from casacore.tables import table

        with table(str(ms0 / "ANTENNA"), ack=False) as t:
            n_st = t.nrows()
        n_src = sum(1 for line in sky0.read_text().splitlines() if line and not line.startswith(("#", "FORMAT", ",")))
    rows = [
        ("simulator, no corruptions", t_plain),
        ("simulator, all corruptions + beam", t_full),
        (f"DP3 predict ({args.dp3_threads} threads)", t_dp3),
        (f"DP3 predict + beam ({args.dp3_threads} threads)", t_dp3_beam),
    ]
    print(f"preset {args.preset}: {n_st} stations, {n_src} components, {nvis:,} visibilities per MS")
    print(f"{'run':42s} {'wall s':>8s} {'Mvis/s':>8s}")
    for label, seconds in rows:
        print(f"{label:42s} {seconds:8.2f} {nvis / seconds / 1e6:8.3f}")
    print(f"ratio simulator/DP3 (no corruptions vs predict):        {t_dp3 / t_plain:6.2f}x")
    print(f"ratio simulator/DP3 (all corruptions vs predict+beam):   {t_dp3_beam / t_full:6.2f}x")


if __name__ == "__main__":
    main()
