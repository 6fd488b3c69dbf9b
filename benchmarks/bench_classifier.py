#!/usr/bin/env python3
"""Inference speed and peak memory of the self-calibration image classifier on the CPU.

For each backbone, in its own process (so that peak memory is that backbone's alone):

* ``shipped``: the small model shipped with lofar-hires (its own input size);
* ``small`` / ``large``: timm ``vit_small_patch14_reg4_dinov2`` and ``vit_large_patch14_reg4_dinov2``
  (the paper's ViT-L/14) at 224 pixels with random weights (speed does not depend on the weights).

It prints images per second of the network alone (prepared inputs, batches of ``--batch``), the
time to prepare one 128 x 128 FITS image (stretch and resampling), and the peak resident memory
of the process. Run on demand:

    python benchmarks/bench_classifier.py                    # shipped, small, large; 1 thread
    python benchmarks/bench_classifier.py --threads 2 --models shipped small
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKER = r"""
import json, resource, sys, time, tempfile
from pathlib import Path
import numpy as np
import torch
which, threads, batch, n_images = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
from lofar_hires.classifier.model import (BackboneSpec, build_backbone, make_head, make_classifier, load_model,
                                          shipped_model_dir, BACKBONE_FILE, HEAD_FILE)
from lofar_hires.classifier.config import load_classifier_config
from lofar_hires.classifier.preprocess import prepare_array
if which == "shipped":
    loaded = load_model(shipped_model_dir() / BACKBONE_FILE, shipped_model_dir() / HEAD_FILE)
    model, pre, name = loaded.model, loaded.preprocess, loaded.backbone.name + " (shipped)"
else:
    name = f"vit_{which}_patch14_reg4_dinov2"
    backbone = build_backbone(BackboneSpec(name, 224))
    model = make_classifier(backbone, make_head(backbone.num_features, 0.2)).eval()
    pre = load_classifier_config().preprocess
params = sum(p.numel() for p in model.parameters())
rng = np.random.default_rng(0)
images = rng.normal(0, 1e-3, (8, 128, 128))
images[:, 64, 64] += 1.0
t0 = time.perf_counter()
inputs = np.stack([prepare_array(images[i % 8], pre) for i in range(n_images)])
prep_s = (time.perf_counter() - t0) / n_images
x = torch.from_numpy(inputs)
with torch.no_grad():
    model.probability(x[:batch])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, n_images, batch):
        model.probability(x[i:i + batch])
    dt = time.perf_counter() - t0
print(json.dumps({"model": name, "params_M": params / 1e6, "input_pix": pre.input_size_pix,
                  "images_per_s": n_images / dt, "prepare_ms": 1e3 * prep_s,
                  "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["shipped", "small", "large"],
                        choices=["shipped", "small", "large"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass (default 8)")
    parser.add_argument("--images", type=int, default=32, help="images timed per model (default 32)")
    args = parser.parse_args()
    print(f"{'model':45s} {'params':>8s} {'input':>6s} {'images/s':>9s} {'prepare':>9s} {'peak RSS':>9s}")
    for which in args.models:
        out = subprocess.run([sys.executable, "-c", WORKER, which, str(args.threads), str(args.batch),
                              str(args.images)], capture_output=True, text=True, check=False)
        if out.returncode:
            print(f"{which}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['model']:45s} {r['params_M']:7.1f}M {r['input_pix']:5d}px {r['images_per_s']:9.1f} "
              f"{r['prepare_ms']:7.1f}ms {r['peak_rss_MiB']:7.0f}MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
