#!/usr/bin/env python3
"""Print what a `make demo` run recovered of the simulated truth (the run folder of `lofar-hires run`):
the DI calibrator solutions' errors per effect against the injected values, per observation; the bright
sources of the target in the final mosaic; the calibratability verdicts; the selected
calibrators next to their true fluxes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lofar_hires.chain.modules import paths_of
from lofar_hires.validation.di import ERROR_UNITS, di_solution_errors


def _module_outputs(manifest: dict, name: str) -> dict | None:
    for rec in manifest["modules"]:
        if rec["name"] == name and rec["status"] == "done":
            return rec["outputs"]
    return None


def _di_errors(manifest: dict, truths: dict[str, Path]) -> None:
    per_obs = _module_outputs(manifest, "di_calibrator") or {}
    print("DI calibrator solutions - injected values (largest over the stations):")
    for obs, outputs in per_obs.items():
        truth_json = truths.get(f"calibrator_{obs}")
        if truth_json is None:
            continue
        errors = di_solution_errors(Path(outputs["cal_solutions"]["path"]), truth_json.with_suffix(".h5"),
                                    truth_json)
        worst = errors.worst()
        print(f"  {obs}: " + ", ".join(
            f"{e} {'no solution' if np.isinf(worst[e][1]) else f'{worst[e][1]:.3g} {u}'} ({worst[e][0]})"
            for e, u in ERROR_UNITS.items() if e in worst))


def _fluxes(manifest: dict, truth_sky: Path) -> None:
    from lofar_hires.imaging.compare import compare_with_skymodel

    final = _module_outputs(manifest, "final_imaging")
    mosaics = [p for p in paths_of((final or {}).get("mosaics", [])) if p.suffix == ".fits"]
    print("\nBright sources of the target in the mosaic (corrected for the primary beam), against the truth:")
    print("  {:12s} {:>8s} {:>15s} {:>12s}  {}".format("name", "true Jy", "integ. / true", "offset (\")", "mosaic"))
    for mosaic in mosaics:
        rows, rms = compare_with_skymodel(mosaic, truth_sky, 1.0, compact_only=True)
        for r in rows:
            integ = float("nan") if r.integrated_ratio is None else r.integrated_ratio
            print(f"  {r.name:12s} {r.true_flux_jy:8.3f} {integ:15.3f} {r.offset_arcsec:12.2f}  {mosaic.name}")
        print(f"  mosaic rms {rms * 1e3:.2f} mJy/beam ({mosaic.name})")


def _selection(manifest: dict, truth_sky: Path) -> None:
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.selection.table import read_table

    sel = _module_outputs(manifest, "select_calibrators")
    if sel is None:
        return
    sky = read_makesourcedb(truth_sky)
    truth = dict(zip(sky.names, sky.i_jy))
    print(f"\nCalibrators ({sel['calibrators']['path']}):")
    for row in read_table(Path(sel["calibrators"]["path"])):
        score = "n/a" if row.score_rad is None else f"{row.score_rad:.2f} rad"
        print(f"  {row.name:12s} {truth.get(row.name, float('nan')):8.3f} Jy  sigma_c {score:>9s}  {row.category}")


def main(run_dir: Path) -> int:
    manifest = json.loads((run_dir / "run.json").read_text())
    sim = _module_outputs(manifest, "simulate")
    if sim is None:
        print(f"{run_dir} holds no simulation: nothing to compare with a truth")
        return 0
    truths = {p.name.removesuffix(".truth.json"): p for p in paths_of(sim["truth_json"])}
    truth_sky = Path(sim["sky_model"]["path"])
    _di_errors(manifest, truths)
    gate = manifest.get("gate") or {}
    if gate:
        print("\nCalibratability gate: " + ", ".join(
            f"{obs} {'passed' if v['passed'] else 'stopped (' + '; '.join(v.get('reasons', [])) + ')'}"
            for obs, v in gate.items()))
    _fluxes(manifest, truth_sky)
    _selection(manifest, truth_sky)
    print(f"\nReport: {run_dir / 'report' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
