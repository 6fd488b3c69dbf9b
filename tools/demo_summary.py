#!/usr/bin/env python3
"""Print the result paths and a summary of a `make demo` run (the output objects in DEMO_DIR)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lofar_hires.validation.di import ERROR_UNITS, di_solution_errors, format_errors


def _path(obj: dict) -> str:
    return obj["path"] if "path" in obj else obj["location"].removeprefix("file://")


def _load(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def _flux_rows(comparison: Path) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads(comparison.read_text())["sources"]}


def main(out: Path) -> int:
    sim, cal, tgt = _load(out, "simulation"), _load(out, "di_calibrator"), _load(out, "di_target")
    img, cmp_after = _load(out, "image"), _load(out, "compare")
    print("Results")
    print(f"  simulation           {_path(sim['simulation'])}")
    print(f"  cal_solutions.h5     {_path(cal['cal_solutions'])}")
    print(f"  inspection plots     {_path(cal['plots'])}")
    for ms in tgt["corrected_ms"]:
        print(f"  corrected target MS  {_path(ms)}")
    print(f"  image before         {_path(sim['image'])}")
    print(f"  image after          {_path(img['image'])}")
    print(f"  comparisons          {_path(sim['comparison'])}, {_path(cmp_after['comparison'])}")

    truths = {json.loads(Path(_path(f)).read_text())["kind"]: Path(_path(f)) for f in sim["truth_json"]}
    meta = json.loads(truths["calibrator"].read_text())
    print("\nSummary")
    print(f"  {len(meta['stations'])} stations, {len(meta['freqs_hz'])} channels from "
          f"{meta['freqs_hz'][0] / 1e6:.0f} MHz, {meta['n_time']} x {meta['integration_s']:g} s per observation; "
          f"injected: {', '.join(k for k, v in meta['corruptions_enabled'].items() if v)}")
    cal_truth_h5 = truths["calibrator"].parent / meta["truth_h5parm"]
    errors = di_solution_errors(Path(_path(cal["cal_solutions"])), cal_truth_h5, truths["calibrator"])
    print(f"\n  calibrator solutions - injected values, per station (referenced to {errors.reference}):")
    print("    " + format_errors(errors).replace("\n", "\n    "))
    worst = errors.worst()
    print("  largest: " + ", ".join(
        f"{e} {'no solution' if np.isinf(worst[e][1]) else f'{worst[e][1]:.3g} {u}'} ({worst[e][0]})"
        for e, u in ERROR_UNITS.items() if e in worst))

    before, after = _flux_rows(Path(_path(sim["comparison"]))), _flux_rows(Path(_path(cmp_after["comparison"])))
    ra0, dec0 = np.radians(json.loads(truths["target"].read_text())["pointing_deg"])
    print("\n  bright sources of the target, image / truth, before and after DI calibration:")
    print("    {:12s} {:>8s} {:>9s} {:>12s} {:>11s} {:>12s}".format(
        "name", "true Jy", "dist deg", "peak before", "peak after", "integ. after"))
    for name, row in after.items():
        was = before.get(name, {}).get("peak_ratio")
        ra, dec = np.radians(row["ra_deg"]), np.radians(row["dec_deg"])
        dist = np.degrees(np.arccos(np.clip(np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0)
                                            * np.cos(ra - ra0), -1, 1)))
        integ = row["integrated_ratio"] if row["integrated_ratio"] is not None else float("nan")
        was = was if was is not None else float("nan")
        print(f"    {name:12s} {row['true_flux_jy']:8.3f} {dist:9.2f} {was:12.3f} {row['peak_ratio']:11.3f} "
              f"{integ:12.3f}")
    print("  (the DI correction applies the station beam towards the pointing centre; away from it the beam's\n"
          "   attenuation remains until the direction-dependent stages or a primary-beam-corrected image)")
    rms = json.loads(Path(_path(cmp_after["comparison"])).read_text())["rms_jy_per_beam"]
    print(f"  image rms after calibration {rms * 1e3:.2f} mJy/beam")
    if (out / "select.json").is_file():
        _selection_summary(out)
    return 0


def _selection_summary(out: Path) -> None:
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.selection.table import read_table

    sel, sim = _load(out, "select"), _load(out, "select_simulation")
    sky = read_makesourcedb(Path(_path(sim["sky_model"])))
    truth = dict(zip(sky.names, sky.i_jy))
    sizes = dict(zip(sky.names, sky.major_arcsec))
    print(f"\n  calibrator selection ({_path(sel['calibrators'])}, layout {_path(sel['facet_layout'])}/facets.png):")
    print("    {:12s} {:>9s} {:>9s} {:>10s} {:>10s}  {}".format("source", "flux (Jy)", "size (\")", "sigma_c",
                                                                "delta_t", "category"))
    for row in read_table(Path(_path(sel["calibrators"]))):
        score = "n/a" if row.score_rad is None else f"{row.score_rad:.2f} rad"
        solint = "n/a" if row.solint_min is None else f"{row.solint_min:.2f} min"
        print(f"    {row.name:12s} {truth.get(row.name, float('nan')):9.3f} {sizes.get(row.name, 0.0):9.1f} "
              f"{score:>10s} {solint:>10s}  {row.category}")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
