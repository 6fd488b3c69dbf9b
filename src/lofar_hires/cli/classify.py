"""``lofar-hires classify``: P(continue) of self-calibration images (the classifier on its own)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "P(continue) of self-calibration FITS images from the image classifier (JSON)"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The weights options shared by classify, classifier evaluate and selfcal."""
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="directory with backbone.safetensors and head.safetensors (default: the shipped model)")
    parser.add_argument("--backbone-weights", type=Path, default=None,
                        help="backbone weights (safetensors; default: the model directory's)")
    parser.add_argument("--head-weights", type=Path, default=None,
                        help="head weights (safetensors; default: the model directory's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def make_scorer(args: argparse.Namespace):
    from lofar_hires.classifier.evaluate import Scorer
    from lofar_hires.classifier.model import model_files
    from lofar_hires.errors import InputError

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}", setting="threads")
    backbone, head = model_files(args.model_dir, args.backbone_weights, args.head_weights)
    return Scorer(backbone, head, args.threads)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, nargs="+", help="FITS images (first plane used)")
    add_model_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="P(continue) below which an image says stop (default 0.5, the stopping rule's)")
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON to this file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def check_threshold_and_output(args: argparse.Namespace) -> None:
    """Refuse a --threshold outside [0, 1] and an existing --output without --overwrite, before any work."""
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import check_output_path

    if not 0.0 <= args.threshold <= 1.0:
        raise InputError(f"--threshold must be in [0, 1], got {args.threshold:g}", setting="threshold")
    if args.output:
        check_output_path(args.output, args.overwrite)


def run(args: argparse.Namespace) -> int:
    from lofar_hires.io.atomic import atomic_output

    check_threshold_and_output(args)
    scorer = make_scorer(args)
    scores = scorer.score_files(args.images)
    result = {"model": scorer.describe(), "threshold": args.threshold,
              "images": [{"image": str(p), "p_continue": round(s, 4),
                          "decision": "continue" if s >= args.threshold else "stop"}
                         for p, s in zip(args.images, scores)]}
    text = json.dumps(result, indent=1)
    if args.output:
        with atomic_output(args.output, overwrite=True) as tmp:
            tmp.write_text(text + "\n")
    print(text)
    return 0
