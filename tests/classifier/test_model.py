"""The classifier network (lofar_hires.classifier.model): the paper's head, safetensors files, clear refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.classifier.config import PreprocessSpec
from lofar_hires.errors import InputError, MissingInputError

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from lofar_hires.classifier.model import (  # noqa: E402
    BACKBONE_FILE,
    HEAD_FILE,
    BackboneSpec,
    build_backbone,
    import_backbone,
    load_model,
    make_classifier,
    make_head,
    save_model,
)

#: A tiny DINOv2-style ViT (one block, 32 features, 2 x 2 patches of 14 pixels): the real timm model class.
TINY = BackboneSpec("vit_small_patch14_reg4_dinov2", img_size=28, embed_dim=32, depth=1, num_heads=2)
PRE = dataclasses.replace(PreprocessSpec(), input_size_pix=28)


def _model(spec: BackboneSpec = TINY, dropout: float = 0.2, seed: int = 0):
    torch.manual_seed(seed)
    backbone = build_backbone(spec)
    return make_classifier(backbone, make_head(backbone.num_features, dropout))


@pytest.fixture
def saved(tmp_path: Path):
    model = _model()
    save_model(model, TINY, PRE, tmp_path / "m", training={"train_seeds": [1, 2]})
    return model, tmp_path / "m"


def test_the_backbone_is_a_timm_dinov2_vit_with_registers():
    backbone = build_backbone(TINY)
    assert type(backbone).__name__ == "VisionTransformer"
    assert backbone.num_reg_tokens == 4 and backbone.patch_embed.patch_size == (14, 14)
    assert backbone.num_features == 32 and len(backbone.blocks) == 1
    assert backbone(torch.zeros(2, 3, 28, 28)).shape == (2, 32)


def test_head_is_dropout_linear_relu_linear_and_gives_a_probability():
    head = make_head(32, 0.3)
    kinds = [type(m).__name__ for m in head.layers]
    assert kinds == ["Dropout", "Linear", "ReLU", "Linear"]
    assert head.layers[0].p == 0.3
    assert (head.layers[1].in_features, head.layers[1].out_features) == (32, 32)
    assert (head.layers[3].in_features, head.layers[3].out_features) == (32, 1)
    model = make_classifier(build_backbone(TINY), head).eval()
    x = torch.randn(5, 3, 28, 28)
    p = model.probability(x)
    assert p.shape == (5,) and bool(((p > 0) & (p < 1)).all())
    assert torch.allclose(p, torch.sigmoid(model(x)))


def test_head_dropout_out_of_range_is_refused():
    with pytest.raises(InputError, match="dropout"):
        make_head(32, 1.0)


def test_save_and_load_give_the_same_probabilities(saved):
    model, folder = saved
    model.eval()
    loaded = load_model(folder / BACKBONE_FILE, folder / HEAD_FILE)
    x = torch.randn(3, 3, 28, 28)
    assert torch.allclose(model.probability(x), loaded.model.probability(x), atol=1e-6)
    assert loaded.backbone == TINY and loaded.preprocess == PRE
    assert loaded.training["train_seeds"] == [1, 2]
    assert not loaded.model.training  # evaluation mode: dropout off, repeatable
    assert torch.equal(loaded.model.probability(x), loaded.model.probability(x))


def test_files_are_safetensors_with_a_description(saved):
    from safetensors import safe_open

    _, folder = saved
    with safe_open(str(folder / BACKBONE_FILE), framework="pt") as handle:
        meta = json.loads(handle.metadata()["lofar_hires"])
    assert meta["kind"] == "backbone" and meta["backbone"]["name"] == TINY.name
    assert meta["preprocess"]["input_size_pix"] == 28


def test_missing_weights_name_the_setting(saved, tmp_path: Path):
    _, folder = saved
    with pytest.raises(MissingInputError, match="backbone_weights .*does not exist") as exc:
        load_model(tmp_path / "nope.safetensors", folder / HEAD_FILE)
    assert exc.value.setting == "backbone_weights"
    with pytest.raises(MissingInputError, match="head_weights .*does not exist"):
        load_model(folder / BACKBONE_FILE, tmp_path / "nope.safetensors")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_corrupted_weights_file_is_refused_in_one_line(saved, tmp_path: Path, damage: str):
    _, folder = saved
    bad = tmp_path / "bad.safetensors"
    data = (folder / BACKBONE_FILE).read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00\x01not a safetensors file" * 10,
                     "empty": b""}[damage])
    with pytest.raises(InputError, match="not a readable safetensors file") as exc:
        load_model(bad, folder / HEAD_FILE)
    assert "\n" not in str(exc.value)


def test_weights_of_another_backbone_are_refused(saved, tmp_path: Path):
    """A backbone file whose description says one size and whose tensors are another's."""
    from safetensors.torch import load_file, save_file

    _, folder = saved
    other = build_backbone(dataclasses.replace(TINY, embed_dim=48))
    meta = {"lofar_hires": json.dumps({"kind": "backbone", "backbone": dataclasses.asdict(TINY),
                                       "preprocess": dataclasses.asdict(PRE)})}
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(tmp_path / "other.safetensors"),
              metadata=meta)
    with pytest.raises(InputError, match=r"does not fit this backbone \(vit_small_patch14_reg4_dinov2\): .*shape"):
        load_model(tmp_path / "other.safetensors", folder / HEAD_FILE)
    # and a file without the description (public weights not imported) says how to import them
    save_file(load_file(str(folder / BACKBONE_FILE)), str(tmp_path / "plain.safetensors"))
    with pytest.raises(InputError, match="classifier import-backbone"):
        load_model(tmp_path / "plain.safetensors", folder / HEAD_FILE)


def test_a_head_of_the_wrong_width_is_refused(saved, tmp_path: Path):
    _, folder = saved
    wide = _model(dataclasses.replace(TINY, embed_dim=64, num_heads=2))
    save_model(wide, dataclasses.replace(TINY, embed_dim=64), PRE, tmp_path / "wide")
    with pytest.raises(InputError, match=r"head_weights .* does not fit this head of a 32-feature backbone "
                                         r"\(vit_small_patch14_reg4_dinov2\): layers.1.bias has shape \[64\], "
                                         r"expected \[32\]"):
        load_model(folder / BACKBONE_FILE, tmp_path / "wide" / HEAD_FILE)
    with pytest.raises(InputError, match="hold a backbone, not a head"):
        load_model(folder / BACKBONE_FILE, folder / BACKBONE_FILE)


def test_public_weights_are_imported_once_with_resampled_positions(tmp_path: Path):
    """timm-named weights at the DINOv2 training size (518 px: 37 x 37 patches) become a backbone at 28 px."""
    from safetensors.torch import save_file

    public = build_backbone(dataclasses.replace(TINY, img_size=518))
    state = {k: v.contiguous() for k, v in public.state_dict().items()}
    assert state["pos_embed"].shape[1] == 37 * 37
    save_file(state, str(tmp_path / "model.safetensors"))
    torch.save(state, tmp_path / "model.pth")
    for source in ("model.safetensors", "model.pth"):
        out = import_backbone(tmp_path / source, TINY, PRE, tmp_path / f"{source}.backbone.safetensors")
        head = tmp_path / "head" / HEAD_FILE
        save_model(_model(), TINY, PRE, tmp_path / "head")
        loaded = load_model(out, head)
        got = loaded.model.backbone.state_dict()
        assert got["pos_embed"].shape[1] == 2 * 2
        assert torch.equal(got["blocks.0.attn.qkv.weight"], state["blocks.0.attn.qkv.weight"])
    with pytest.raises(InputError, match="does not fit"):
        bigger = build_backbone(dataclasses.replace(TINY, embed_dim=64))
        save_file({k: v.contiguous() for k, v in bigger.state_dict().items()}, str(tmp_path / "big.safetensors"))
        import_backbone(tmp_path / "big.safetensors", TINY, PRE, tmp_path / "x.safetensors")


def test_an_unknown_backbone_name_is_refused():
    with pytest.raises(InputError, match="not a timm ViT with 14-pixel patches"):
        BackboneSpec("resnet50").validate(14)
    with pytest.raises(InputError, match="timm has no backbone"):
        build_backbone(BackboneSpec("vit_nonexistent_patch14_reg4_dinov2", 28))


def test_scores_of_fits_images_use_the_models_preprocessing(saved, tmp_path: Path):
    from astropy.io import fits

    from conftest import sin_wcs
    from lofar_hires.classifier.evaluate import Scorer
    from lofar_hires.classifier.preprocess import prepare_fits

    _, folder = saved
    img = np.random.default_rng(3).normal(0, 1e-3, (64, 64)).astype(np.float32)
    img[32, 32] = 1.0
    path = tmp_path / "cycle.fits"
    fits.PrimaryHDU(img, header=sin_wcs((240.0, 55.0), 64, 0.08).to_header()).writeto(path)
    scorer = Scorer(folder / BACKBONE_FILE, folder / HEAD_FILE)
    [p] = scorer.score_files([path])
    direct = scorer.loaded.model.probability(torch.from_numpy(prepare_fits(path, PRE)[None]))
    assert p == pytest.approx(float(direct[0]), abs=1e-6) and 0 < p < 1
    with pytest.raises(InputError, match="expected"):
        scorer.score_arrays(np.zeros((1, 3, 56, 56), dtype=np.float32))


def test_weights_that_give_nan_are_a_quality_error(saved, tmp_path: Path):
    """A head whose weights hold NaN gives NaN for every image: refused, never reported as a score."""
    from safetensors.torch import load_file, save_file

    from lofar_hires.classifier.evaluate import Scorer
    from lofar_hires.errors import QualityError

    _, folder = saved
    tensors = load_file(str(folder / HEAD_FILE))
    tensors["layers.3.bias"] = torch.full_like(tensors["layers.3.bias"], float("nan"))
    meta = {"lofar_hires": json.dumps({"kind": "head", "width": 32, "dropout": 0.2})}
    save_file(tensors, str(tmp_path / "nan_head.safetensors"), metadata=meta)
    scorer = Scorer(folder / BACKBONE_FILE, tmp_path / "nan_head.safetensors")
    with pytest.raises(QualityError, match="1 non-finite P\\(continue\\) of 1"):
        scorer.score_arrays(np.zeros((1, 3, 28, 28), dtype=np.float32))


def test_classify_keeps_an_earlier_output_unless_told(saved, tmp_path: Path):
    from astropy.io import fits

    from conftest import sin_wcs
    from lofar_hires.cli import main

    _, folder = saved
    image = tmp_path / "cycle.fits"
    data = np.random.default_rng(4).normal(0, 1e-3, (64, 64)).astype(np.float32)
    fits.PrimaryHDU(data, header=sin_wcs((240.0, 55.0), 64, 0.08).to_header()).writeto(image)
    earlier = tmp_path / "scores.json"
    earlier.write_text("earlier product\n")
    args = ["--log-level", "WARNING", "classify", str(image), "--model-dir", str(folder), "--output", str(earlier)]
    assert main(args) == 2
    assert earlier.read_text() == "earlier product\n"
    assert main([*args, "--overwrite"]) == 0
    assert json.loads(earlier.read_text())["images"][0]["image"] == str(image)
