#!/usr/bin/env python3
"""Print the result paths and a short summary of a demo run (cwltool's output object)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _path(obj: dict) -> str:
    return obj["path"] if "path" in obj else obj["location"].removeprefix("file://")


def main(outputs_json: Path) -> int:
    out = json.loads(outputs_json.read_text())
    print("Results")
    print(f"  simulation      {_path(out['simulation'])}")
    for ms in out["target_ms"]:
        print(f"  target MS       {_path(ms)}")
    for ms in out["calibrator_ms"]:
        print(f"  calibrator MS   {_path(ms)}")
    print(f"  truth sky model {_path(out['sky_model'])}")
    print(f"  image           {_path(out['image'])}")
    print(f"  comparison      {_path(out['comparison'])}")
    targets = [json.loads(Path(_path(f)).read_text()) for f in out["truth_json"]]
    targets = [t for t in targets if t["kind"] == "target"]
    if targets:
        t = targets[0]
        n_st = len(t["stations"])
        print("\nSummary")
        print(f"  {len(targets)} target observation(s) of {t['field_name']}, {n_st} stations, "
              f"{len(t['freqs_hz'])} channels from {t['freqs_hz'][0] / 1e6:.2f} MHz, "
              f"{t['n_time']} x {t['integration_s']:g} s")
        enabled = [k for k, v in t["corruptions_enabled"].items() if v]
        print(f"  corruptions injected: {', '.join(enabled) or 'none'}")
    truth = targets[0] if targets else {}
    comparison = json.loads(Path(_path(out["comparison"])).read_text())
    print(f"  image rms {comparison['rms_jy_per_beam'] * 1e3:.2f} mJy/beam"
          + (f" (thermal noise expected, natural weighting, all baselines: "
             f"{truth['noise']['expected_stokes_i_image_rms_natural_jy'] * 1e3:.2f} mJy/beam)" if truth else ""))
    print("  bright sources in the (uncalibrated) image vs the truth sky model:")
    header = ("name", "true Jy", "peak", "integ.", "offset\"")
    print("    {:12s} {:>8s} {:>8s} {:>8s} {:>8s}".format(*header))
    for s in comparison["sources"]:
        integ = s["integrated_ratio"]
        print(f"    {s['name']:12s} {s['true_flux_jy']:8.3f} {s['peak_ratio']:8.3f} "
              f"{(integ if integ is not None else float('nan')):8.3f} {s['offset_arcsec']:8.2f}")
    print("  (ratios are image/truth; the corruptions are not calibrated yet: later workflows do that)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
