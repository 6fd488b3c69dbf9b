"""``lofar-hires classifier train``: train the classifier on a dataset (split by field)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train the self-calibration image classifier on a dataset of lofar-hires classifier dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, nargs="+",
                        help="dataset directories (or their dataset.json); several are read together, their "
                             "field seeds must differ")
    parser.add_argument("--outdir", type=Path, required=True,
                        help="where backbone.safetensors, head.safetensors, training.json, loss_curve.png and the "
                             "checkpoint go; a run stopped early continues with the same settings")
    parser.add_argument("--backbone", default="vit_large_patch14_reg4_dinov2",
                        help="timm backbone name, a vit_*_patch14_reg4_dinov2 (default: the paper's ViT-L/14)")
    parser.add_argument("--backbone-weights", type=Path, default=None,
                        help="pretrained backbone (safetensors of lofar-hires classifier import-backbone); without "
                             "it the backbone starts from random weights and must be trained (--train-blocks -1)")
    parser.add_argument("--img-size", type=int, default=224, help="input side in pixels (multiple of 14)")
    parser.add_argument("--crop-arcsec", type=float, default=0.0,
                        help="side of the central square the network sees (default 0: the whole image); recorded in "
                             "the model and used wherever it scores images")
    parser.add_argument("--embed-dim", type=int, default=0, help="feature width (0: the named backbone's)")
    parser.add_argument("--depth", type=int, default=0, help="number of blocks (0: the named backbone's)")
    parser.add_argument("--num-heads", type=int, default=0, help="attention heads (0: the named backbone's)")
    parser.add_argument("--train-blocks", type=int, default=0,
                        help="0 frozen backbone (default), N fine-tunes the last N blocks, -1 trains all")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the training images (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="AdamW learning rate (default 3e-4)")
    parser.add_argument("--dropout", type=float, default=0.2, help="dropout of the head (default 0.2)")
    parser.add_argument("--label-smoothing", type=float, default=0.1,
                        help="targets 1 -> 1 - s and 0 -> s (default 0.1: 0.9 and 0.1)")
    parser.add_argument("--validation-fraction", type=float, default=0.2,
                        help="fraction of the fields (not images) that validate (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the initial weights and the batches")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="start again in an output directory with a run")


def check_img_size(img_size: int) -> None:
    """Refuse an --img-size that is not a positive multiple of the backbone's patch."""
    from lofar_hires.classifier.config import load_classifier_config
    from lofar_hires.errors import InputError

    patch = load_classifier_config().preprocess.patch_size_pix
    if img_size < patch or img_size % patch:
        raise InputError(f"--img-size must be a positive multiple of the {patch}-pixel patch, got {img_size}",
                         setting="img_size")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.classifier.model import BackboneSpec
    from lofar_hires.classifier.train import TrainSettings, train
    from lofar_hires.errors import InputError

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}", setting="threads")
    check_img_size(args.img_size)
    for name in ("embed_dim", "depth", "num_heads"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name.replace('_', '-')} must be 0 (the named backbone's) or positive, got "
                             f"{getattr(args, name)}", setting=name)
    spec = BackboneSpec(args.backbone, args.img_size, args.embed_dim, args.depth, args.num_heads)
    settings = TrainSettings(spec, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             dropout=args.dropout, label_smoothing=args.label_smoothing,
                             validation_fraction=args.validation_fraction, train_blocks=args.train_blocks,
                             seed=args.seed, crop_arcsec=args.crop_arcsec,
                             backbone_weights=str(args.backbone_weights) if args.backbone_weights else None)
    record = train(args.dataset, args.outdir, settings, threads=args.threads, overwrite=args.overwrite)
    best = next(h for h in record["history"] if h["epoch"] == record["best_epoch"])
    print(f"{args.outdir}: best epoch {best['epoch']}, validation accuracy {best['val_accuracy']:.3f}, "
          f"AUC {best['val_auc']:.3f}")
    return 0
