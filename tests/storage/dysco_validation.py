"""Image-rms increase of Dysco-compressed data, measured with WSClean against the simulator's truth.

A tiny observation is simulated twice with the same seed, once with thermal noise (SEFD set
by ``corruptions.noise.sefd_48_tiles_jy``, i.e. the S/N per visibility) and once without. The
residual of a perfect model subtraction is (data - noiseless data); it is imaged (dirty, natural
weighting, WSClean) for the original and for each compressed copy, and the increase is the ratio
of the two image rms minus one. Two images: the centre at full resolution (every baseline) and a
wide image of the whole field at Dutch resolution (where the sources' own errors would land).

``python tests/storage/dysco_validation.py [--seeds 1 2] [--sefd 2900 290 29]`` prints the table
of docs/compress.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: SEFDs (Jy, 48 tiles) of the S/N levels: the default (noise-dominated visibilities), 10x and 100x less noise.
SEFD_LEVELS = {"low": 2900.0, "medium": 290.0, "high": 29.0}
#: The images: (name, size in pixels, pixel scale arcsec, longest baseline in wavelengths or None).
IMAGES = (("centre", 512, 0.25, None), ("wide", 1024, 6.0, 16_000.0))


@dataclass(frozen=True)
class Observation:
    ms: Path  # with noise
    truth_ms: Path  # the same without noise


def simulate_pair(outdir: Path, sefd_jy: float, seed: int, lofar_hires: str = "lofar-hires") -> Observation:
    """The tiny observation with and without noise (same seed: same sky and corruptions)."""
    noisy, clean = outdir / f"sefd{sefd_jy:g}_seed{seed}", outdir / f"noiseless_seed{seed}"
    for folder, extra in ((noisy, [f"corruptions.noise.sefd_48_tiles_jy={sefd_jy}"]),
                          (clean, ["corruptions.noise.enabled=false"])):
        if not folder.exists():
            args = [lofar_hires, "--log-level", "WARNING", "simulate", "--preset", "tiny", "--seed", str(seed),
                    "--outdir", str(folder)]
            for item in extra:
                args += ["--set", item]
            subprocess.run(args, check=True, capture_output=True)
    return Observation(noisy / "target_obs01.MS", clean / "target_obs01.MS")


def _sorted_columns(ms: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        cols = {n: t.getcol(n) for n in ("TIME", "ANTENNA1", "ANTENNA2", *names)}
    order = np.lexsort((cols["ANTENNA2"], cols["ANTENNA1"], cols["TIME"]))
    return {k: v[order] for k, v in cols.items()}


def residual_ms(data_ms: Path, obs: Observation, out: Path, minus: Path | None = None) -> Path:
    """A plain copy of the original observation whose DATA is ``data_ms``'s DATA minus the noiseless data (or
    minus ``minus``'s DATA), and whose weights are ``data_ms``'s."""
    from casacore.tables import table

    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(obs.ms, out)
    data = _sorted_columns(data_ms, ("DATA", "WEIGHT_SPECTRUM", "FLAG"))
    truth = _sorted_columns(minus if minus is not None else obs.truth_ms, ("DATA",))
    with table(str(out), readonly=False, ack=False) as t:
        time, a1, a2 = t.getcol("TIME"), t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        order = np.lexsort((a2, a1, time))
        if not np.array_equal(time[order], data["TIME"]):
            raise AssertionError(f"{data_ms} and {obs.ms} hold other rows")
        place = np.empty_like(order)
        place[order] = np.arange(order.size)
        t.putcol("DATA", (data["DATA"] - truth["DATA"])[place])
        t.putcol("WEIGHT_SPECTRUM", data["WEIGHT_SPECTRUM"][place])
        t.putcol("FLAG", data["FLAG"][place])
    return out


def image_rms(ms: Path, workdir: Path) -> dict[str, float]:
    """Rms of the dirty natural-weighted images of ``ms`` (Jy/beam), per image of :data:`IMAGES`."""
    from astropy.io import fits

    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.wsclean import WSCleanOptions

    rms = {}
    for name, size, scale, maxuv in IMAGES:
        opts = WSCleanOptions(name=Path(name), size_pix=(size, size), scale_arcsec=scale, niter=0,
                              weighting="natural", maxuv_lambda=maxuv, threads=2, no_update_model_required=True)
        products = make_image([ms], workdir / name, opts, overwrite=True)
        rms[name] = float(np.std(fits.getdata(products.fits["dirty"])))
    return rms


def compress(ms: Path, out: Path, bits: str, lofar_hires: str = "lofar-hires") -> dict:
    """``lofar-hires compress`` with ``--data-bits bits``; its JSON report."""
    subprocess.run([lofar_hires, "--log-level", "WARNING", "compress", str(ms), "-o", str(out), "--data-bits", bits,
                    "--overwrite"], check=True, capture_output=True)
    return json.loads(out.with_name(out.name + ".compress.json").read_text())


def measured_increase(obs: Observation, compressed: Path, workdir: Path,
                      reference: dict[str, float] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Image-rms increase of ``compressed`` over the original, per image (``<image>``: the ratio of the
    residual images' rms; ``<image>_error``: ``sqrt(1 + rms(error image)^2 / rms(noise image)^2) - 1`` with the
    error image made from compressed - original, which leaves out the chance correlation of this one error
    with this one noise); and the original's residual rms."""
    if reference is None:
        reference = image_rms(residual_ms(obs.ms, obs, workdir / "orig.res.ms"), workdir / "orig")
    rms = image_rms(residual_ms(compressed, obs, workdir / "comp.res.ms"), workdir / "comp")
    err = image_rms(residual_ms(compressed, obs, workdir / "err.ms", minus=obs.ms), workdir / "err")
    increase = {k: rms[k] / reference[k] - 1.0 for k in rms}
    increase.update({f"{k}_error": float(np.sqrt(1.0 + (err[k] / reference[k]) ** 2) - 1.0) for k in err})
    return increase, reference


def table_rows(outdir: Path, seeds: list[int], sefds: list[float], bits: list[int]) -> list[dict]:
    rows = []
    for seed in seeds:
        for sefd in sefds:
            obs = simulate_pair(outdir, sefd, seed)
            work = outdir / f"work_sefd{sefd:g}_seed{seed}"
            reference = None
            auto = compress(obs.ms, work / "auto.ms", "auto")
            for b in bits:
                report = compress(obs.ms, work / f"b{b}.ms", str(b))
                increase, reference = measured_increase(obs, work / f"b{b}.ms", work, reference)
                rows.append({"seed": seed, "sefd_jy": sefd, "bits": b, "auto_bits": auto["data_bits"],
                             "noise_jy": report["noise_sigma_jy_median"],
                             "predicted": report["candidates"][0]["predicted_rms_increase"],
                             "measured_centre": increase["centre"], "measured_wide": increase["wide"],
                             "error_centre": increase["centre_error"], "error_wide": increase["wide_error"],
                             "volume_saved": report["volume_saved_percent"]})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=Path("dysco_validation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sefd", type=float, nargs="+", default=list(SEFD_LEVELS.values()))
    parser.add_argument("--bits", type=int, nargs="+", default=[10, 8, 6, 4])
    args = parser.parse_args(argv)
    rows = table_rows(args.outdir, args.seeds, args.sefd, args.bits)
    print("| SEFD (Jy) | sigma (Jy) | seed | bits | predicted | measured centre | measured wide | error-image centre "
          "| error-image wide | volume saved | auto |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    pct = lambda x: f"{100 * x:.3g} %"  # noqa: E731
    for r in rows:
        print(f"| {r['sefd_jy']:g} | {r['noise_jy']:.3g} | {r['seed']} | {r['bits']} | {pct(r['predicted'])} | "
              f"{pct(r['measured_centre'])} | {pct(r['measured_wide'])} | {pct(r['error_centre'])} | "
              f"{pct(r['error_wide'])} | {r['volume_saved']:.0f} % | {r['auto_bits']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
