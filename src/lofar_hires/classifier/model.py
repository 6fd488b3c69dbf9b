"""The network: a timm DINOv2-family vision transformer (with register tokens) and the head of
de Jong et al. (2025, section 6.3.3).

``Classifier(x)`` gives one logit per image; ``sigmoid(logit)`` is P(continue). The head is
dropout -> Linear(d, d) -> ReLU -> Linear(d, 1), its sigmoid applied by :meth:`Classifier.probability`
(training uses the logit with a numerically stable binary cross-entropy).

Weights live in two safetensors files, never pickles and never downloaded:

* backbone: the timm model's state dict; its metadata (key ``lofar_hires``, JSON) holds the
  :class:`BackboneSpec` and the :class:`~lofar_hires.classifier.config.PreprocessSpec` it was trained with;
* head: the head's state dict; its metadata holds the feature width and dropout.

A file that is missing, not safetensors, for another backbone, or with tensors of the wrong
shapes is refused with a one-line error naming the file and the first difference.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lofar_hires.classifier.config import PreprocessSpec
from lofar_hires.errors import InputError, MissingInputError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

META_KEY = "lofar_hires"
#: Names of the DINOv2 backbones with register tokens in timm (ViT-S/B/L/g, patch 14).
DINOV2_REG_BACKBONES = ("vit_small_patch14_reg4_dinov2", "vit_base_patch14_reg4_dinov2",
                        "vit_large_patch14_reg4_dinov2", "vit_giant_patch14_reg4_dinov2")
#: Files of a model directory.
BACKBONE_FILE = "backbone.safetensors"
HEAD_FILE = "head.safetensors"


class ClassifierUnavailable(InputError):
    """torch, timm or safetensors is not installed (pip install 'lofar-hires[classifier]')."""


def require_torch() -> None:
    """Import torch, timm and safetensors, or say how to install them.

    Raises
    ------
    ClassifierUnavailable
        One of them cannot be imported.
    """
    missing = []
    for name in ("torch", "timm", "safetensors"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ClassifierUnavailable(f"the classifier needs {', '.join(missing)}: pip install 'lofar-hires[classifier]'")


@dataclass(frozen=True)
class BackboneSpec:
    """Which timm model the backbone is, at which input size, with which size overrides.

    ``embed_dim``, ``depth`` and ``num_heads`` of 0 keep the named model's own; other values
    scale it (the shipped model is a small DINOv2-style ViT trained on simulated images).
    """

    name: str = "vit_large_patch14_reg4_dinov2"
    img_size: int = 224
    embed_dim: int = 0
    depth: int = 0
    num_heads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"img_size": self.img_size}
        for key in ("embed_dim", "depth", "num_heads"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out.update(self.extra)
        return out

    def validate(self, patch_size_pix: int) -> None:
        if not self.name.startswith("vit_") or "patch14" not in self.name:
            raise InputError(f"backbone {self.name!r} is not a timm ViT with 14-pixel patches "
                             f"(e.g. {', '.join(DINOV2_REG_BACKBONES[:3])})", setting="backbone")
        if self.img_size % patch_size_pix:
            raise InputError(f"backbone input size {self.img_size} is not a multiple of the {patch_size_pix}-pixel "
                             "patch", setting="backbone")
        if self.embed_dim and self.num_heads and self.embed_dim % self.num_heads:
            raise InputError(f"backbone embed_dim {self.embed_dim} is not a multiple of num_heads {self.num_heads}",
                             setting="backbone")


def build_backbone(spec: BackboneSpec):
    """A timm backbone with random weights (``pretrained=False``: timm never downloads here)."""
    require_torch()
    import timm

    try:
        return timm.create_model(spec.name, pretrained=False, num_classes=0, **spec.kwargs())
    except RuntimeError as exc:
        raise InputError(f"timm has no backbone {spec.name!r}: {exc}", setting="backbone") from None
    except (TypeError, ValueError, AssertionError) as exc:
        raise InputError(f"backbone {spec.name!r} with {spec.kwargs()}: {exc}", setting="backbone") from None


def _modules():
    require_torch()
    import torch
    from torch import nn

    class Head(nn.Module):
        """dropout -> Linear(d, d) -> ReLU -> Linear(d, 1) (de Jong et al. 2025, section 6.3.3); returns the logit."""

        def __init__(self, width: int, dropout: float) -> None:
            super().__init__()
            self.width = width
            self.dropout_p = dropout
            self.layers = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.layers(features)[:, 0]

    class Classifier(nn.Module):
        """Backbone features -> head logit; :meth:`probability` is P(continue)."""

        def __init__(self, backbone: nn.Module, head: Head) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = head

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.head(self.backbone(images))

        @torch.no_grad()
        def probability(self, images: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.forward(images))

    return Head, Classifier


def make_head(width: int, dropout: float):
    """The paper's head for ``width`` features."""
    if not 0.0 <= dropout < 1.0:
        raise InputError(f"head dropout must be in [0, 1), got {dropout:g}", setting="dropout")
    head_cls, _ = _modules()
    return head_cls(width, dropout)


def make_classifier(backbone, head):
    """Backbone and head as one module."""
    _, classifier_cls = _modules()
    return classifier_cls(backbone, head)


@dataclass(frozen=True)
class LoadedModel:
    """A classifier ready for inference, and how its inputs must be prepared."""

    model: Any  # Classifier
    backbone: BackboneSpec
    preprocess: PreprocessSpec
    backbone_path: Path
    head_path: Path
    training: dict[str, Any]


# --------------------------------------------------------------------------- files


def read_safetensors(path: Path, setting: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, our metadata) of a safetensors file, or a one-line error naming ``setting``."""
    require_torch()
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{setting} {path} does not exist", setting=setting)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw_meta = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{setting} {path} is not a readable safetensors file ({str(exc).splitlines()[0]})",
                         setting=setting) from None
    meta: dict[str, Any] = {}
    if META_KEY in raw_meta:
        try:
            meta = json.loads(raw_meta[META_KEY])
        except json.JSONDecodeError:
            raise InputError(f"{setting} {path}: its {META_KEY} metadata is not JSON", setting=setting) from None
    return tensors, meta


def write_safetensors(tensors: dict[str, Any], meta: dict[str, Any], path: Path) -> Path:
    """Write named tensors and our metadata (JSON under ``lofar_hires``) as safetensors, through a temporary name."""
    from safetensors.torch import save_file

    from lofar_hires.io.atomic import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_output(path, overwrite=True) as tmp:
        save_file(contiguous, str(tmp), metadata={META_KEY: json.dumps(meta, sort_keys=True)})
    return path


def check_state(module, tensors: dict[str, Any], path: Path, setting: str, what: str) -> None:
    """Refuse ``tensors`` unless they are exactly ``module``'s parameters and buffers, by name and shape."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or unexpected or wrong:
        if wrong:
            k = wrong[0]
            first = f"{k} has shape {list(got[k])}, expected {list(expected[k])}"
        elif missing:
            first = f"{len(missing)} tensor(s) missing, e.g. {missing[0]}"
        else:
            first = f"{len(unexpected)} unexpected tensor(s), e.g. {unexpected[0]}"
        raise InputError(f"{setting} {path} does not fit this {what}: {first}", setting=setting)


def save_model(model, backbone: BackboneSpec, preprocess: PreprocessSpec, outdir: Path,
               training: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``outdir/backbone.safetensors`` and ``outdir/head.safetensors`` (atomically)."""
    meta = {"kind": "backbone", "backbone": dataclasses.asdict(backbone),
            "preprocess": dataclasses.asdict(preprocess), "training": training or {}}
    b = write_safetensors(model.backbone.state_dict(), meta, Path(outdir) / BACKBONE_FILE)
    head_meta = {"kind": "head", "width": model.head.width, "dropout": model.head.dropout_p,
                 "backbone": backbone.name}
    h = write_safetensors(model.head.state_dict(), head_meta, Path(outdir) / HEAD_FILE)
    return b, h


def _spec_from_meta(meta: dict[str, Any], path: Path) -> tuple[BackboneSpec, PreprocessSpec]:
    from lofar_hires.config_schema import from_mapping

    if meta.get("kind") != "backbone" or "backbone" not in meta:
        raise InputError(f"backbone weights {path} carry no lofar-hires backbone description; import public "
                         "weights once with lofar-hires classifier import-backbone", setting="backbone_weights")
    try:
        spec = BackboneSpec(**meta["backbone"])
    except TypeError as exc:
        raise InputError(f"backbone weights {path}: bad backbone description ({exc})",
                         setting="backbone_weights") from None
    pre = from_mapping(PreprocessSpec, meta.get("preprocess", {}), where="preprocess")
    pre.validate()
    return spec, pre


def load_backbone(path: Path):
    """(module, spec, preprocess, training metadata) of a backbone file."""
    tensors, meta = read_safetensors(path, "backbone_weights")
    spec, pre = _spec_from_meta(meta, Path(path))
    spec.validate(pre.patch_size_pix)
    module = build_backbone(spec)
    check_state(module, tensors, Path(path), "backbone_weights", f"backbone ({spec.name})")
    module.load_state_dict(tensors)
    return module, spec, pre, meta.get("training", {})


def load_head(path: Path, width: int, backbone_name: str):
    """The head of a head file, checked against the backbone's feature width."""
    tensors, meta = read_safetensors(path, "head_weights")
    if meta.get("kind") not in (None, "head"):
        raise InputError(f"head weights {path} hold a {meta.get('kind')}, not a head", setting="head_weights")
    dropout = float(meta.get("dropout", 0.0))
    head = make_head(width, dropout)
    check_state(head, tensors, Path(path), "head_weights", f"head of a {width}-feature backbone ({backbone_name})")
    head.load_state_dict(tensors)
    return head


def load_model(backbone_weights: Path, head_weights: Path) -> LoadedModel:
    """The classifier of two weights files, in evaluation mode.

    Raises
    ------
    ClassifierUnavailable
        torch/timm/safetensors missing.
    MissingInputError, InputError
        A file missing, unreadable, or not matching (see the module docstring).
    """
    backbone, spec, pre, training = load_backbone(Path(backbone_weights))
    head = load_head(Path(head_weights), backbone.num_features, spec.name)
    model = make_classifier(backbone, head)
    model.eval()
    return LoadedModel(model, spec, pre, Path(backbone_weights), Path(head_weights), training)


def shipped_model_dir() -> Path:
    """The directory of the small model shipped with lofar-hires."""
    return Path(__file__).resolve().parent / "shipped"


def model_files(model_dir: Path | None = None, backbone_weights: Path | None = None,
                head_weights: Path | None = None) -> tuple[Path, Path]:
    """The two weights files: given ones, else those of ``model_dir``, else the shipped model's."""
    base = Path(model_dir) if model_dir is not None else shipped_model_dir()
    return (Path(backbone_weights) if backbone_weights else base / BACKBONE_FILE,
            Path(head_weights) if head_weights else base / HEAD_FILE)


def import_backbone(source: Path, spec: BackboneSpec, preprocess: PreprocessSpec, output: Path) -> Path:
    """Convert public backbone weights (timm key names; safetensors, or a PyTorch file loaded with
    ``weights_only``) into a lofar-hires backbone file for ``spec`` (positional embeddings resampled to
    ``spec.img_size`` by timm's own checkpoint filter)."""
    require_torch()
    import torch

    source = Path(source)
    if not source.is_file():
        raise MissingInputError(f"backbone weights to import {source} do not exist", setting="source")
    spec.validate(preprocess.patch_size_pix)
    module = build_backbone(spec)
    if source.suffix == ".safetensors":
        tensors, _ = read_safetensors(source, "source")
    else:
        try:
            tensors = torch.load(str(source), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad input file
            raise InputError(f"{source} is not a PyTorch weights file ({str(exc).splitlines()[0]})",
                             setting="source") from None
        if isinstance(tensors, dict) and "model" in tensors and isinstance(tensors["model"], dict):
            tensors = tensors["model"]
    from timm.models.vision_transformer import checkpoint_filter_fn

    try:
        tensors = checkpoint_filter_fn(tensors, module)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(f"{source} does not fit backbone {spec.name}: {exc}", setting="source") from None
    tensors = {k: v for k, v in tensors.items() if not k.startswith("head.")}
    check_state(module, tensors, source, "source", f"backbone ({spec.name})")
    meta = {"kind": "backbone", "backbone": dataclasses.asdict(spec), "preprocess": dataclasses.asdict(preprocess),
            "training": {"imported_from": source.name}}
    return write_safetensors(tensors, meta, Path(output))
