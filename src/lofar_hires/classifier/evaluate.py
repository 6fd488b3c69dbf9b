"""Scores of the classifier: P(continue) of FITS images, and its quality on a held-out dataset."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.errors import InputError, QualityError

log = logging.getLogger(__name__)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative (ties count half); NaN when one class is absent."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(labels: Sequence[int], probabilities: Sequence[float], threshold: float = 0.5) -> dict[str, Any]:
    """Accuracy, precision, recall (continue = positive), ROC AUC and the confusion matrix
    ``[[true stop, false continue], [false stop, true continue]]`` of P(continue) at ``threshold``."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probabilities, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or not len(y):
        raise InputError(f"metrics: {y.shape} labels and {p.shape} probabilities; need equal, non-empty 1-D arrays")
    pred = (p >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    return {"n": len(y), "accuracy": (tp + tn) / len(y),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "roc_auc": roc_auc(y, p), "threshold": threshold,
            "confusion_matrix": [[tn, fp], [fn, tp]]}


class Scorer:
    """A loaded classifier that gives P(continue) of FITS images (torch threads set once)."""

    def __init__(self, backbone_weights: Path, head_weights: Path, threads: int = 1) -> None:
        from lofar_hires.classifier.model import load_model, require_torch

        require_torch()
        import torch

        torch.set_num_threads(max(1, threads))
        self.loaded = load_model(backbone_weights, head_weights)
        self.preprocess = self.loaded.preprocess

    def describe(self) -> str:
        b = self.loaded.backbone
        return (f"{b.name} ({self.loaded.backbone_path.name}, {b.img_size} px input), head "
                f"{self.loaded.head_path.name}")

    def score_arrays(self, inputs: np.ndarray, batch: int = 32) -> np.ndarray:
        """P(continue) of prepared inputs ``(n, 3, N, N)``."""
        import torch

        expected = (3, self.preprocess.input_size_pix, self.preprocess.input_size_pix)
        if inputs.ndim != 4 or tuple(inputs.shape[1:]) != expected:
            raise InputError(f"classifier inputs have shape {tuple(inputs.shape)}, expected (n, {expected[0]}, "
                             f"{expected[1]}, {expected[2]})")
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        out = [self.loaded.model.probability(x[i:i + batch]).numpy() for i in range(0, len(x), batch)]
        probs = np.concatenate(out).astype(float)
        if not np.isfinite(probs).all():
            raise QualityError(f"the classifier gave {int((~np.isfinite(probs)).sum())} non-finite P(continue) of "
                               f"{len(probs)}: its weights ({self.loaded.backbone_path.name}, "
                               f"{self.loaded.head_path.name}) hold NaN or inf")
        return probs

    def score_files(self, paths: Sequence[Path]) -> list[float]:
        """P(continue) of each FITS image (the preprocessing the model was trained with)."""
        from lofar_hires.classifier.preprocess import prepare_fits

        if not paths:
            return []
        inputs = np.stack([prepare_fits(Path(p), self.preprocess) for p in paths])
        return [float(v) for v in self.score_arrays(inputs)]


def evaluate(dataset: Path, scorer: Scorer, threshold: float = 0.5) -> dict[str, Any]:
    """Metrics of ``scorer`` on every image of ``dataset``, refused when a field's seed was used in training.

    Raises
    ------
    InputError
        The dataset shares seeds with the model's training set.
    """
    from lofar_hires.classifier.dataset import load_datasets
    from lofar_hires.classifier.train import prepare_images

    data = load_datasets([dataset])
    root = data.roots[0]
    trained = set(scorer.loaded.training.get("train_seeds", []))
    shared = sorted(trained & set(data.seeds))
    if shared:
        raise InputError(f"dataset {root} shares {len(shared)} field seed(s) with the model's training set (e.g. "
                         f"{shared[0]}); evaluate on fields with other seeds")
    rows = data.rows
    probs = scorer.score_arrays(prepare_images(rows, scorer.preprocess))
    labels = np.array([r["label"] for r in rows])
    metrics = binary_metrics(labels, probs, threshold)
    by_kind = {}
    for kind in sorted({r["kind"] for r in rows}):
        sel = np.array([r["kind"] == kind for r in rows])
        by_kind[kind] = {"n": int(sel.sum()), "accuracy": float(((probs[sel] >= threshold) == labels[sel]).mean())}
    by_array = {}
    for array in sorted({r.get("array", "preset") for r in rows}):
        sel = np.array([r.get("array", "preset") == array for r in rows])
        by_array[array] = {"n": int(sel.sum()),
                           "accuracy": float(((probs[sel] >= threshold) == labels[sel]).mean())}
    metrics.update({"dataset": str(root), "n_fields": data.n_fields, "seeds": [min(data.seeds), max(data.seeds)],
                    "model": scorer.describe(), "by_kind": by_kind, "by_array": by_array,
                    "images": [{"image": r["image"], "label": r["label"], "p_continue": float(p)}
                               for r, p in zip(rows, probs)]})
    log.info("held-out %d images of %d fields: accuracy %.3f, precision %.3f, recall %.3f, ROC AUC %.3f; "
             "confusion [[stop ok, false continue], [false stop, continue ok]] = %s", metrics["n"],
             data.n_fields, metrics["accuracy"], metrics["precision"], metrics["recall"], metrics["roc_auc"],
             metrics["confusion_matrix"])
    return metrics
