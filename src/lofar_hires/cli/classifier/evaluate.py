"""``lofar-hires classifier evaluate``: accuracy, precision/recall, ROC AUC and confusion matrix on held-out fields."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "accuracy, precision, recall, ROC AUC and confusion matrix of a classifier on a held-out dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.cli.classify import add_model_arguments

    parser.add_argument("dataset", type=Path, help="dataset directory (or its dataset.json), seeds unseen in training")
    add_model_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.5, help="P(continue) at or above which an image is "
                        "classified continue (default 0.5)")
    parser.add_argument("--output", type=Path, default=None, help="write the metrics (and each image's P) as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.classifier.evaluate import evaluate
    from lofar_hires.cli.classify import check_threshold_and_output, make_scorer
    from lofar_hires.io.atomic import atomic_output

    check_threshold_and_output(args)
    metrics = evaluate(args.dataset, make_scorer(args), args.threshold)
    if args.output:
        with atomic_output(args.output, overwrite=True) as tmp:
            tmp.write_text(json.dumps(metrics, indent=1) + "\n")
    tn, fp = metrics["confusion_matrix"][0]
    fn, tp = metrics["confusion_matrix"][1]
    print(f"{metrics['n']} images of {metrics['n_fields']} fields: accuracy {metrics['accuracy']:.3f}, precision "
          f"{metrics['precision']:.3f}, recall {metrics['recall']:.3f}, ROC AUC {metrics['roc_auc']:.3f}")
    print(f"confusion (rows true, columns predicted): stop {tn} {fp} / continue {fn} {tp}")
    return 0
