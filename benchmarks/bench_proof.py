#!/usr/bin/env python3
"""End-to-end fidelity of the whole chain against the simulator's truth, with and without the DD stages.

Runs ``lofar-hires run CONFIG -o RUN`` (default: the ``medium`` run, two observations of a compact field with all six
international stations imaged at 0.3 arcsec) unless RUN already holds a complete run, then prints:

* per true source in the final mosaic: its signal to noise (peak over the mosaic's noise map), integrated flux over the
  true flux (the mosaic is corrected for the primary beam) and position offset in synthesised beams; the sources above
  ``--min-snr`` (10) are held to ``--flux-tolerance`` (5 %) and ``--offset-tolerance-beams`` (0.2);
* the mosaic's sigma-clipped rms against the thermal noise the radiometer equation gives for the data used: with
  natural weighting (the simulator's Stokes I image noise of each observation, ``<obs>.truth.json``, combined over the
  observations) and with the final images' own weights (Briggs, taper, uv cut: ``thermal_image_noise_jy`` over each
  facet's datasets, the median over the facets), which the residual rms is held to (``--noise-tolerance``, 1.5);
* "DD off": the delay-calibrated observations (the chain without its direction-dependent stages) imaged with the final
  imaging's settings, and the same source table for the non-calibrator sources, so that the contrast shows what the
  DD stages earn.

Exits 1 when a source above the S/N limit is outside the tolerances or the noise is above its limit. Run on demand
(about 15 minutes on two cores for the medium run)::

    python benchmarks/bench_proof.py --run-dir /tmp/proof --json proof.json
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lofar_hires.chain.modules import paths_of
from lofar_hires.final_imaging.config import load_final_imaging_config
from lofar_hires.imaging.compare import compare_with_skymodel
from lofar_hires.imaging.imaging_weights import (
    ImagingWeighting,
    padded_size,
    super_weight_for_cell,
    thermal_image_noise_jy,
    weight_grid,
)
from lofar_hires.imaging.measure import load_image

log = logging.getLogger("bench_proof")
#: The command line of the environment that runs this script.
LOFAR_HIRES = str(Path(sys.executable).parent / "lofar-hires")


def _manifest(run_dir: Path) -> dict | None:
    path = run_dir / "run.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _complete(manifest: dict | None) -> bool:
    return bool(manifest) and all(m["status"] in ("done", "skipped") for m in manifest["modules"]) and any(
        m["name"] == "final_imaging" and m["status"] == "done" for m in manifest["modules"])


def _outputs(manifest: dict, name: str) -> dict:
    for m in manifest["modules"]:
        if m["name"] == name and m["status"] == "done":
            return m["outputs"]
    raise SystemExit(f"the run has no products of module {name}")


def _run(command: list[str]) -> float:
    log.info("running %s", " ".join(command))
    start = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - start


def radiometer_noise_jy(truth_jsons: list[Path]) -> float:
    """Natural-weighting Stokes I noise of all observations together: 1 / sqrt(sum of 1 / sigma_obs^2)."""
    sigmas = [json.loads(p.read_text())["noise"]["expected_stokes_i_image_rms_natural_jy"] for p in truth_jsons]
    return float(1.0 / math.sqrt(sum(1.0 / s ** 2 for s in sigmas)))


def source_table(image: Path, rms_map: Path | None, truth_sky: Path, names: set[str] | None = None) -> list[dict]:
    """Every compact true source in the image, with its signal to noise (peak / local noise, or the image's
    sigma-clipped rms without a noise map)."""
    rows, rms = compare_with_skymodel(image, truth_sky, 0.0, compact_only=True)
    noise = load_image(rms_map) if rms_map is not None else None
    table = []
    for r in rows:
        if names is not None and r.name not in names:
            continue
        local = rms
        if noise is not None:
            x, y = (int(round(float(v))) for v in noise.wcs.world_to_pixel_values(r.ra_deg, r.dec_deg))
            value = float(noise.data[y, x]) if 0 <= y < noise.data.shape[0] and 0 <= x < noise.data.shape[1] else 0
            local = value if np.isfinite(value) and value > 0 else rms
        table.append({"name": r.name, "true_jy": r.true_flux_jy, "snr": r.peak_jy_per_beam / local,
                      "integrated_ratio": r.integrated_ratio, "peak_ratio": r.peak_ratio,
                      "offset_beams": r.offset_beams, "offset_arcsec": r.offset_arcsec})
    return table


def judge(table: list[dict], min_snr: float, flux_tol: float, offset_tol: float) -> dict:
    above = [r for r in table if r["snr"] >= min_snr]
    good = [r for r in above if r["integrated_ratio"] is not None and abs(r["integrated_ratio"] - 1) <= flux_tol
            and r["offset_beams"] is not None and r["offset_beams"] <= offset_tol]
    return {"n_sources": len(table), "n_above_snr": len(above), "n_within_tolerance": len(good),
            "fraction_within_tolerance": len(good) / len(table) if table else float("nan")}


def recovered_fraction(table: list[dict]) -> dict:
    """The median and the lowest integrated / true flux of a table's sources (NaN for an empty table)."""
    ratios = np.array([r["integrated_ratio"] for r in table], dtype=float)
    if ratios.size == 0:
        return {"median": math.nan, "lowest": math.nan, "n": 0}
    return {"median": float(np.median(ratios)), "lowest": float(ratios.min()), "n": int(ratios.size)}


def _print_table(title: str, table: list[dict]) -> None:
    print(title)
    print(f"  {'name':10s} {'true Jy':>8s} {'S/N':>8s} {'integ/true':>10s} {'peak/true':>9s} {'offset beams':>12s}")
    for r in table:
        integ = float("nan") if r["integrated_ratio"] is None else r["integrated_ratio"]
        off = float("nan") if r["offset_beams"] is None else r["offset_beams"]
        print(f"  {r['name']:10s} {r['true_jy']:8.3f} {r['snr']:8.1f} {integ:10.3f} {r['peak_ratio']:9.3f} {off:12.2f}")


def final_weightings(manifest: dict) -> list[tuple[list[Path], ImagingWeighting]]:
    """Each final image's datasets (the run's facet datasets, by facet name) and imaging weighting (Briggs, taper, uv
    cut, weighting grid), as its facet summary recorded it."""
    datasets = paths_of(_outputs(manifest, "sva")["averaged_ms"]) if any(
        m["name"] == "sva" and m["status"] == "done" for m in manifest["modules"]) else []
    out = []
    for summary in paths_of(_outputs(manifest, "final_imaging")["summaries"]):
        record = json.loads(Path(summary).read_text())
        weights = (record.get("primary_beam") or {}).get("weights", {}).get("imaging")
        mine = [p for p in datasets if p.name.split(".")[0] == record.get("facet")]
        if weights and mine:
            out.append((mine, ImagingWeighting(**dict(weights, size_pix=tuple(weights["size_pix"])))))
    if not out:
        raise SystemExit("no final image of this run recorded its imaging weights next to its facet's datasets")
    return out


def weighted_thermal_noise_jy(weightings: list[tuple[list[Path], ImagingWeighting]]) -> float:
    """The radiometer equation for the final images' data and weights: per facet, the facet's datasets with its
    image's imaging weights (:func:`thermal_image_noise_jy`); the median over the facets."""
    return float(np.median([thermal_image_noise_jy(ms, weight_grid(ms, w)) for ms, w in weightings]))


def dd_off_image(run_dir: Path, manifest: dict, out: Path, size_pix: int, settings: dict) -> Path:
    """The delay-calibrated observations imaged like the final images (no DD solutions, no primary-beam correction:
    the compact field's sources lie where the beam differs from the centre's by well under 1 %)."""
    ms = paths_of(_outputs(manifest, "delay_calibration")["calibrated_ms"])
    out.mkdir(parents=True, exist_ok=True)
    image = out / "ddoff-image.fits"
    if not image.is_file():
        _run([LOFAR_HIRES, "image", "--outdir", str(out), "--name", "ddoff",
              "--size-pix", str(size_pix), str(size_pix), "--scale-arcsec", str(settings["pixel_arcsec"]),
              "--niter", "100000", "--weighting", "briggs", "--robust", str(settings["robust"]),
              "--minuv-lambda", str(settings["minuv_lambda"]), "--taper-arcsec", str(settings["taper_arcsec"]),
              "--restoring-beam-arcsec", str(settings["restoring_beam_arcsec"]), "--threshold-sigma", "1",
              "--auto-mask-sigma", "3", "--mgain", "0.8", "--data-column", "DATA",
              *(["--super-weight", repr(settings["super_weight"])] if "super_weight" in settings else []),
              *map(str, ms)])
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="medium", help="run configuration (name or path)")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--min-snr", type=float, default=10.0)
    parser.add_argument("--flux-tolerance", type=float, default=0.05)
    parser.add_argument("--offset-tolerance-beams", type=float, default=0.2)
    parser.add_argument("--noise-tolerance", type=float, default=1.5,
                        help="largest mosaic rms over the radiometer noise with the images' weights")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    figures: dict = {"config": args.config}
    manifest = _manifest(args.run_dir)
    if not _complete(manifest):
        figures["chain_wall_s"] = _run([LOFAR_HIRES, "run", args.config,
                                        "-o", str(args.run_dir)])
        manifest = _manifest(args.run_dir)
    figures["modules_s"] = {m["name"]: m.get("wall_s") for m in manifest["modules"]}
    sim = args.run_dir / "products" / "simulate" / "simulation"
    truth_sky = sim / "sky_truth.skymodel"
    (mosaic,) = [p for p in paths_of(_outputs(manifest, "final_imaging")["mosaics"])
                 if p.suffix == ".fits" and not p.name.endswith("-rms.fits")]
    rms_maps = [p for p in paths_of(_outputs(manifest, "final_imaging")["mosaics"]) if p.name.endswith("-rms.fits")]
    table = source_table(mosaic, rms_maps[0] if rms_maps else None, truth_sky)
    _print_table(f"Final mosaic {mosaic.name} against the truth:", table)
    figures["dd_on"] = {"sources": table, **judge(table, args.min_snr, args.flux_tolerance,
                                                  args.offset_tolerance_beams)}

    _, mosaic_rms = compare_with_skymodel(mosaic, truth_sky, 1e9)
    expected = radiometer_noise_jy(sorted(sim.glob("target_*.truth.json")))
    figures["noise"] = {"mosaic_rms_jy": mosaic_rms, "radiometer_natural_jy": expected,
                        "ratio": mosaic_rms / expected}
    print(f"\nMosaic rms {mosaic_rms * 1e3:.3f} mJy/beam; radiometer equation (natural weighting, "
          f"{len(list(sim.glob('target_*.truth.json')))} observations) {expected * 1e3:.3f} mJy/beam: "
          f"ratio {mosaic_rms / expected:.2f}")

    final = load_final_imaging_config(None)
    resolution = final.resolutions["0.3"]
    weightings = final_weightings(manifest)
    weighted = weighted_thermal_noise_jy(weightings)
    figures["noise"].update({"radiometer_weighted_jy": weighted, "ratio_weighted": mosaic_rms / weighted})
    w0 = weightings[0][1]
    print(f"Radiometer equation with the final images' weights (Briggs {w0.robust}, {w0.taper_gaussian_arcsec} "
          f"arcsec taper, super weight {w0.super_weight:.3g}): {weighted * 1e3:.3f} mJy/beam: "
          f"ratio {mosaic_rms / weighted:.2f}")

    with open(args.run_dir / "facets" / "calibrators.csv", newline="") as f:
        calibrators = {row["name"] for row in csv.DictReader(f) if row["category"] == "main"}
    header = load_image(mosaic)
    size = int(max(header.data.shape))
    settings = {"pixel_arcsec": resolution.pixel_arcsec, "taper_arcsec": resolution.taper_arcsec,
                "restoring_beam_arcsec": resolution.restoring_beam_arcsec, "robust": final.robust,
                "minuv_lambda": final.minuv_lambda}
    if w0.super_weight > 1.0:  # the final images' weighting cells, on the mosaic-sized image
        settings["super_weight"] = super_weight_for_cell(padded_size(size, w0.padding), resolution.pixel_arcsec,
                                                         w0.cell_lambda)
    off = dd_off_image(args.run_dir, manifest, args.run_dir / "proof", size, settings)
    others = {r["name"] for r in table} - calibrators
    on_others = [r for r in table if r["name"] in others]
    off_table = source_table(off, None, truth_sky, others)
    _print_table("\nDD stages off (delay-calibrated data, same imaging), non-calibrator sources:", off_table)
    figures["dd_off"] = {"sources": off_table, **judge(off_table, args.min_snr, args.flux_tolerance,
                                                       args.offset_tolerance_beams)}
    figures["dd_on_non_calibrators"] = judge(on_others, args.min_snr, args.flux_tolerance,
                                             args.offset_tolerance_beams)
    print(f"\nNon-calibrator sources within {args.flux_tolerance:.0%} and {args.offset_tolerance_beams} beam: "
          f"DD on {figures['dd_on_non_calibrators']['n_within_tolerance']}/{len(on_others)}, "
          f"DD off {figures['dd_off']['n_within_tolerance']}/{len(off_table)}")
    figures["contrast"] = {"dd_on": recovered_fraction(on_others), "dd_off": recovered_fraction(off_table)}
    print("Non-calibrator sources, integrated / true flux (median, lowest): " + "; ".join(
        f"{k.replace('_', ' ').upper()} {v['median']:.3f}, {v['lowest']:.3f}" for k, v in figures["contrast"].items()))
    on = figures["dd_on"]
    figures["verdict"] = {
        "fidelity": on["n_within_tolerance"] == on["n_above_snr"],
        "noise": figures["noise"]["ratio_weighted"] <= args.noise_tolerance,
    }
    print(f"\nSources above {args.min_snr:g} sigma within {args.flux_tolerance:.0%} and {args.offset_tolerance_beams} "
          f"beam: {on['n_within_tolerance']}/{on['n_above_snr']}; residual rms {figures['noise']['ratio_weighted']:.2f}"
          f" x the radiometer noise (at most {args.noise_tolerance}): "
          + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in figures["verdict"].items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=float))
    return 0 if all(figures["verdict"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
