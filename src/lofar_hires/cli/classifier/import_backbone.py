"""``lofar-hires classifier import-backbone``: public DINOv2 weights into a lofar-hires backbone file (once)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "convert public backbone weights (timm key names, safetensors or PyTorch) into a backbone file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="the weights, e.g. model.safetensors of timm's "
                        "vit_large_patch14_reg4_dinov2.lvd142m")
    parser.add_argument("--backbone", default="vit_large_patch14_reg4_dinov2", help="timm backbone name")
    parser.add_argument("--img-size", type=int, default=224, help="input side in pixels (multiple of 14)")
    parser.add_argument("--output", type=Path, required=True, help="the backbone file to write (.safetensors)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from lofar_hires.classifier.config import load_classifier_config
    from lofar_hires.classifier.model import BackboneSpec, import_backbone
    from lofar_hires.cli.classifier.train import check_img_size
    from lofar_hires.errors import OutputExistsError
    from lofar_hires.io.atomic import check_output_path

    if args.output.exists() and not args.overwrite:
        raise OutputExistsError(f"{args.output} exists; use --overwrite to replace it", setting="output")
    check_output_path(args.output, args.overwrite)  # a writable directory for it (not below a file)
    check_img_size(args.img_size)
    pre = dataclasses.replace(load_classifier_config().preprocess, input_size_pix=args.img_size)
    pre.validate()
    out = import_backbone(args.source, BackboneSpec(args.backbone, args.img_size), pre, args.output)
    print(out)
    return 0
