"""Training of the classifier on a dataset of ``lofar-hires classifier dataset``.

* Split by field: a seeded random ``validation_fraction`` of the fields validates, the rest
  trains; no field has images on both sides.
* Targets smoothed (continue 1 -> ``1 - label_smoothing``, stop 0 -> ``label_smoothing``);
  binary cross-entropy on the head's logit; AdamW with a linear warm-up over the first 10 % of the
  steps and a cosine decay after it.
* Augmentation: each image of each batch gets one of the eight symmetries of the square,
  drawn from a generator seeded by (seed, epoch), so a resumed run sees the same batches.
* Backbone frozen by default (``train_blocks = 0``, for pretrained weights); ``train_blocks = N``
  fine-tunes the last N blocks and the final norm; ``-1`` trains everything (a backbone trained
  from scratch, as the shipped small model).
* After every epoch: ``checkpoint.safetensors`` (model and optimiser state) and
  ``training.json`` (settings, split, history); a run started again with the same settings
  continues after the last completed epoch. At the end: the best epoch's weights (lowest
  validation loss) as ``backbone.safetensors`` and ``head.safetensors``, and ``loss_curve.png``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.classifier.config import PreprocessSpec, load_classifier_config
from lofar_hires.classifier.dataset import load_datasets
from lofar_hires.classifier.model import (
    BackboneSpec,
    build_backbone,
    load_backbone,
    make_classifier,
    make_head,
    read_safetensors,
    require_torch,
    save_model,
    write_safetensors,
)
from lofar_hires.errors import InputError
from lofar_hires.io.atomic import atomic_output

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.safetensors"
TRAINING_JSON = "training.json"


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run (a resumed run must use the same)."""

    backbone: BackboneSpec
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-4
    weight_decay: float = 0.05
    dropout: float = 0.2
    label_smoothing: float = 0.1
    validation_fraction: float = 0.2
    train_blocks: int = 0
    seed: int = 0
    backbone_weights: str | None = None
    crop_arcsec: float = 0.0

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError(f"epochs ({self.epochs}) and batch size ({self.batch_size}) must be at least 1")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise InputError(f"label smoothing must be in [0, 0.5), got {self.label_smoothing:g}",
                             setting="label_smoothing")
        if not 0.0 < self.validation_fraction < 1.0:
            raise InputError(f"validation fraction must be in (0, 1), got {self.validation_fraction:g}",
                             setting="validation_fraction")
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise InputError(f"learning rate must be positive and finite, got {self.learning_rate:g}",
                             setting="learning_rate")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"head dropout must be in [0, 1), got {self.dropout:g}", setting="dropout")
        if self.train_blocks < -1:
            raise InputError(f"--train-blocks must be -1 (all), 0 (frozen) or a number of blocks, got "
                             f"{self.train_blocks}", setting="train_blocks")
        if not (self.crop_arcsec >= 0 and np.isfinite(self.crop_arcsec)):
            raise InputError(f"--crop-arcsec must be 0 or positive, got {self.crop_arcsec:g}", setting="crop_arcsec")
        if self.seed < 0:
            raise InputError(f"seed must be at least 0, got {self.seed}", setting="seed")
        if self.train_blocks == 0 and self.backbone_weights is None:
            raise InputError("a backbone with random weights cannot stay frozen: give --backbone-weights, or train "
                             "it (--train-blocks N for the last N blocks, -1 for all)", setting="train_blocks")


def split_fields(fields: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(training, validation) field names: a seeded random ``fraction`` of the fields validates (at least one)."""
    names = sorted(set(fields))
    if len(names) < 2:
        raise InputError(f"the dataset has {len(names)} field(s); a split by field needs at least 2")
    rng = np.random.default_rng([seed, 104729])
    order = rng.permutation(len(names))
    n_val = min(len(names) - 1, max(1, round(fraction * len(names))))
    val = sorted(names[i] for i in order[:n_val])
    return sorted(set(names) - set(val)), val


def prepare_images(rows: list[dict[str, Any]], spec: PreprocessSpec) -> np.ndarray:
    """``(n, 3, N, N)`` inputs of the dataset rows of :func:`load_datasets` (the one preprocessing of training
    and inference)."""
    from lofar_hires.classifier.preprocess import prepare_fits

    out = np.empty((len(rows), 3, spec.input_size_pix, spec.input_size_pix), dtype=np.float32)
    for i, row in enumerate(rows):
        out[i] = prepare_fits(Path(row["path"]), spec)
    return out


def smoothed(labels: np.ndarray, smoothing: float) -> np.ndarray:
    """Targets of label smoothing: 1 -> 1 - s, 0 -> s."""
    return np.where(labels > 0.5, 1.0 - smoothing, smoothing).astype(np.float32)


def random_symmetries(batch, generator):
    """Each image of ``batch`` (torch, ``(n, c, N, N)``) turned by k x 90 degrees and mirrored for k >= 4."""
    import torch

    ks = torch.randint(0, 8, (batch.shape[0],), generator=generator)
    out = torch.empty_like(batch)
    for k in range(8):
        sel = ks == k
        if sel.any():
            part = torch.rot90(batch[sel], k % 4, dims=(-2, -1))
            out[sel] = torch.flip(part, dims=(-1,)) if k >= 4 else part
    return out


def learning_rate_factor(step: int, total_steps: int, warmup_fraction: float = 0.1) -> float:
    """Linear warm-up over the first ``warmup_fraction`` of the steps, then a cosine decay to zero
    (a function of the step alone, so a resumed run continues the same schedule)."""
    warmup = max(1, int(warmup_fraction * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return 0.5 * (1.0 + float(np.cos(np.pi * min(1.0, progress))))


def _set_trainable(model, train_blocks: int) -> None:
    backbone = model.backbone
    for p in backbone.parameters():
        p.requires_grad = train_blocks < 0
    if train_blocks > 0:
        blocks = list(backbone.blocks)
        if train_blocks > len(blocks):
            raise InputError(f"--train-blocks {train_blocks}: the backbone has {len(blocks)} blocks",
                             setting="train_blocks")
        for block in blocks[-train_blocks:]:
            for p in block.parameters():
                p.requires_grad = True
        for p in backbone.norm.parameters():
            p.requires_grad = True


def _loss_curve(history: list[dict[str, Any]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_accuracy"] for h in history], "g:", label="validation accuracy")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("validation accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy (smoothed targets)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    with atomic_output(png, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _state_tensors(model, optimizer) -> dict[str, Any]:
    """Model and optimiser state as named tensors (for a safetensors checkpoint)."""
    import torch

    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in state.items():
                tensor = value if torch.is_tensor(value) else torch.tensor(float(value))
                out[f"optim.{names[id(p)]}.{key}"] = tensor.reshape(-1) if tensor.ndim == 0 else tensor
    return out


def _restore(model, optimizer, tensors: dict[str, Any]) -> None:
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        if not key.startswith("optim."):
            continue
        name, slot = key[6:].rsplit(".", 1)
        state = optimizer.state[params[name]]
        state[slot] = value.reshape(()) if slot == "step" else value


def train(datasets: Path | list[Path], outdir: Path, settings: TrainSettings, *, config_file: Path | None = None,
          threads: int = 1, overwrite: bool = False) -> dict[str, Any]:
    """Train a classifier on one or more datasets into ``outdir`` (see the module docstring); returns
    training.json."""
    require_torch()
    import torch

    from lofar_hires.classifier.evaluate import binary_metrics

    settings.validate()
    torch.set_num_threads(threads)
    data = load_datasets([datasets] if isinstance(datasets, (str, Path)) else list(datasets))
    outdir = Path(outdir)
    existing = next(p for p in (outdir, *outdir.parents) if p.exists())
    if not existing.is_dir():
        raise InputError(f"cannot create output directory {outdir}: {existing} is not a directory", setting="outdir")
    record_path = outdir / TRAINING_JSON
    settings_dict = json.loads(json.dumps(dataclasses.asdict(settings)))
    record: dict[str, Any] = {}
    if record_path.is_file() and not overwrite:
        try:
            record = json.loads(record_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{record_path} is not a training record ({exc}); use a new output directory or "
                             "--overwrite", setting="outdir") from None
        if not isinstance(record, dict):
            raise InputError(f"{record_path} is not a training record; use a new output directory or --overwrite",
                             setting="outdir")
        if record.get("settings") != settings_dict or record.get("dataset_seeds") != data.seeds:
            raise InputError(f"{outdir} holds a training run with other settings or data; use a new output "
                             "directory or --overwrite", setting="outdir")
    if settings.backbone_weights:
        backbone, spec, pre, _ = load_backbone(Path(settings.backbone_weights))
        if settings.crop_arcsec:
            pre = dataclasses.replace(pre, crop_arcsec=settings.crop_arcsec)
    else:
        pre = load_classifier_config(config_file).preprocess
        pre = dataclasses.replace(pre, input_size_pix=settings.backbone.img_size, crop_arcsec=settings.crop_arcsec)
        pre.validate()
        # A backbone trained from scratch starts its LayerScale at 1: timm's DINOv2 value (1e-5) suits
        # fine-tuning pretrained weights, and from random weights it lets almost no image information through.
        spec = dataclasses.replace(settings.backbone, extra={"init_values": 1.0, **settings.backbone.extra})
        spec.validate(pre.patch_size_pix)
        torch.manual_seed(settings.seed)
        backbone = build_backbone(spec)
    model = make_classifier(backbone, make_head(backbone.num_features, settings.dropout))
    _set_trainable(model, settings.train_blocks)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=settings.weight_decay)

    rows = data.rows
    # Fields are told apart by seed: datasets read together may reuse field names.
    train_fields, val_fields = split_fields([str(r["seed"]) for r in rows], settings.validation_fraction,
                                            settings.seed)
    tr = [r for r in rows if str(r["seed"]) in set(train_fields)]
    va = [r for r in rows if str(r["seed"]) in set(val_fields)]
    log.info("training on %d images of %d fields, validating on %d images of %d fields (%s)", len(tr),
             len(train_fields), len(va), len(val_fields), spec.name)
    x_tr = torch.from_numpy(prepare_images(tr, pre))
    x_va = torch.from_numpy(prepare_images(va, pre))
    y_tr = torch.from_numpy(smoothed(np.array([r["label"] for r in tr]), settings.label_smoothing))
    y_va_hard = np.array([r["label"] for r in va])
    y_va = torch.from_numpy(smoothed(y_va_hard, settings.label_smoothing))
    loss_fn = torch.nn.BCEWithLogitsLoss()

    history: list[dict[str, Any]] = record.get("history", [])
    start = len(history)
    if start:
        tensors, _ = read_safetensors(outdir / CHECKPOINT, "checkpoint")
        _restore(model, optimizer, tensors)
        log.info("resuming after epoch %d of %d", start, settings.epochs)
    record = {"settings": settings_dict, "datasets": [str(r) for r in data.roots], "dataset_seeds": data.seeds,
              "label_rule": data.label_rule, "train_fields": train_fields, "validation_fields": val_fields,
              "train_seeds": sorted({r["seed"] for r in tr}), "preprocess": dataclasses.asdict(pre),
              "history": history}
    best_loss = min((h["val_loss"] for h in history), default=np.inf)
    try:  # only now: a refused input leaves no output directory behind
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {outdir}: {exc.strerror}", setting="outdir") from None
    n_batches = int(np.ceil(len(tr) / settings.batch_size))
    for epoch in range(start + 1, settings.epochs + 1):
        t0 = time.monotonic()
        gen = torch.Generator().manual_seed(settings.seed * 100003 + epoch)
        torch.manual_seed(settings.seed * 100003 + epoch)  # dropout: a resumed run repeats the same epochs
        order = torch.randperm(len(tr), generator=gen)
        model.train()
        total = 0.0
        for b in range(n_batches):
            idx = order[b * settings.batch_size:(b + 1) * settings.batch_size]
            batch = random_symmetries(x_tr[idx], gen)
            for group in optimizer.param_groups:
                group["lr"] = settings.learning_rate * learning_rate_factor((epoch - 1) * n_batches + b,
                                                                            settings.epochs * n_batches)
            optimizer.zero_grad()
            loss = loss_fn(model(batch), y_tr[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            if (b + 1) % max(1, n_batches // 4) == 0 or b + 1 == n_batches:
                log.debug("epoch %d/%d: batch %d/%d, loss %.4f", epoch, settings.epochs, b + 1, n_batches,
                          loss.item())
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x_va[i:i + 64]) for i in range(0, len(va), 64)])
        val_loss = float(loss_fn(logits, y_va))
        prob = torch.sigmoid(logits).numpy()
        metrics = binary_metrics(y_va_hard, prob)
        entry = {"epoch": epoch, "train_loss": total / len(tr), "val_loss": val_loss,
                 "val_accuracy": metrics["accuracy"], "val_auc": metrics["roc_auc"],
                 "seconds": round(time.monotonic() - t0, 1)}
        history.append(entry)
        improved = val_loss < best_loss
        if improved:
            best_loss = val_loss
            save_model(model, spec, pre, outdir, training={"epoch": epoch, "val_accuracy": metrics["accuracy"],
                                                           "val_auc": metrics["roc_auc"],
                                                           "train_seeds": record["train_seeds"]})
        write_safetensors(_state_tensors(model, optimizer), {"kind": "checkpoint", "epoch": epoch},
                           outdir / CHECKPOINT)
        with atomic_output(record_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(record, indent=1) + "\n")
        log.info("epoch %d/%d [%s%s] %.0f s: training loss %.4f, validation loss %.4f, accuracy %.3f, AUC %.3f%s",
                 epoch, settings.epochs, "#" * epoch, "." * (settings.epochs - epoch), entry["seconds"],
                 entry["train_loss"], val_loss, metrics["accuracy"], metrics["roc_auc"],
                 " (best so far, saved)" if improved else "")
    _loss_curve(history, outdir / "loss_curve.png")
    best = min(history, key=lambda h: h["val_loss"])
    record["best_epoch"] = best["epoch"]
    with atomic_output(record_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    log.info("training done: best epoch %d, validation accuracy %.3f, AUC %.3f; model in %s", best["epoch"],
             best["val_accuracy"], best["val_auc"], outdir)
    return record
