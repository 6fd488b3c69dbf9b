"""Labels from the truth, field draws, the split by field, metrics, and a small training run (resumed)."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import sin_wcs
from lofar_hires.classifier.config import DatasetSpec, LabelRule, load_classifier_config
from lofar_hires.classifier.dataset import (
    KINDS,
    draw_field,
    label_cycles,
    labelled_rows,
    peak_fraction,
    phase_error_from_coherence,
    simulation_overrides,
    write_index,
)
from lofar_hires.classifier.evaluate import binary_metrics, roc_auc
from lofar_hires.errors import InputError

RULE = LabelRule(phase_error_rad=0.5, dynamic_range_gain=0.15, resolved_peak_fraction=0.3)


# --------------------------------------------------------------------------- labels


def test_peak_fraction_of_points_and_gaussians():
    assert peak_fraction(0.0, 0.0, 0.3, 0.2) == pytest.approx(1.0)
    # a circular source as wide as a circular beam: the convolution is sqrt(2) wider in each axis
    assert peak_fraction(0.3, 0.3, 0.3, 0.3) == pytest.approx(0.5)
    assert peak_fraction(1.5, 1.0, 0.27, 0.18) < 0.05


def test_phase_error_from_coherence_inverts_the_gaussian_loss():
    for sigma in (0.1, 0.5, 1.3):
        assert phase_error_from_coherence(math.exp(-sigma**2 / 2)) == pytest.approx(sigma)
    assert phase_error_from_coherence(1.2) == 0.0 and phase_error_from_coherence(0.0) == math.inf


def test_labels_follow_the_rule():
    # peaks of a converging run (true peak 1 Jy): errors 1.9, 1.0, 0.45, 0.3, 0.3 rad
    peaks = [math.exp(-s**2 / 2) for s in (1.9, 1.0, 0.45, 0.3, 0.3)]
    dr = [5.0, 20.0, 50.0, 80.0, 82.0]
    labels = label_cycles(peaks, dr, 1.0, 1.0, RULE)
    assert [lab.label for lab in labels] == [1, 1, 1, 0, 0]
    assert "phase error 1.90 rad > 0.5" in labels[0].reason
    assert "later cycle raises the dynamic range by 64%" in labels[2].reason  # error 0.45 < 0.5, but 82/50
    assert labels[3].later_dynamic_range_gain == pytest.approx(82 / 80 - 1)
    # the same run on a resolved-out source: stop everywhere
    assert {lab.label for lab in label_cycles(peaks, dr, 0.2, 1.0, RULE)} == {0}
    # limited by something else (no gain, error small): stop
    assert [lab.label for lab in label_cycles([0.95, 0.95], [30.0, 31.0], 1.0, 1.0, RULE)] == [0, 0]
    with pytest.raises(InputError, match="one of each per cycle"):
        label_cycles([1.0], [1.0, 2.0], 1.0, 1.0, RULE)
    with pytest.raises(InputError, match="must be positive"):
        label_cycles([1.0], [1.0], 0.0, 1.0, RULE)


def test_field_draws_are_reproducible_and_cover_every_kind():
    spec = DatasetSpec()
    draws = [draw_field(i, 5000 + i, spec) for i in range(200)]
    assert draws[17] == draw_field(17, 5017, spec)
    kinds = [d.kind for d in draws]
    assert set(kinds) == set(KINDS)
    assert 0.15 < kinds.count("gaussian") / 200 < 0.35 and 0.1 < kinds.count("contaminated") / 200 < 0.3
    assert all(spec.calibrator_flux_jy[0] <= d.calibrator_flux_jy <= spec.calibrator_flux_jy[1] for d in draws)
    assert all((d.fwhm_arcsec > 0) == (d.kind == "gaussian") for d in draws)
    assert all((d.contaminant_flux_jy > 0) == (d.kind == "contaminated") for d in draws)
    assert 0.25 < np.mean([d.point_start for d in draws]) < 0.55


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_field_is_a_valid_simulation(kind: str):
    from lofar_hires.simulation.config import load_simulation_config

    spec = DatasetSpec()
    draw = next(d for d in (draw_field(i, 7000 + i, spec) for i in range(100)) if d.kind == kind)
    cfg = load_simulation_config(spec.preset, None, simulation_overrides(draw))
    assert cfg.seed == draw.seed and cfg.observation.n_observations == 1
    if kind == "gaussian":
        assert (cfg.sky.n_bright, cfg.sky.n_resolved) == (0, 1) and draw.calibrator == "resolved01"
        assert cfg.sky.resolved_fwhm_arcsec[0] == draw.fwhm_arcsec
    else:
        assert cfg.sky.n_bright == 1 and draw.calibrator == "bright01"
    if kind == "contaminated":
        assert cfg.sky.n_faint_near_bright == 1 and cfg.sky.faint_flux_jy[0] == draw.contaminant_flux_jy


def test_two_international_fields_keep_a_drawn_pair_and_draw_the_rest_as_before():
    from lofar_hires.simulation.config import load_simulation_config

    spec = DatasetSpec()
    international = load_simulation_config(spec.preset, None, []).stations.international
    assert len(international) == 6
    sparse = dataclasses.replace(spec, two_international_fraction=1.0)
    before = [draw_field(i, 8000 + i, spec, international) for i in range(60)]
    after = [draw_field(i, 8000 + i, sparse, international) for i in range(60)]
    assert all(d.international_stations == () for d in before)
    pairs = {d.international_stations for d in after}
    assert all(len(p) == 2 and len(set(p)) == 2 and set(p) <= set(international) for p in pairs)
    assert len(pairs) >= 8  # many pairs, so many beam shapes
    # every other property is the one the seed drew before the setting existed
    assert [dataclasses.replace(d, international_stations=()) for d in after] == before
    half = [draw_field(i, 8000 + i, dataclasses.replace(spec, two_international_fraction=0.5), international)
            for i in range(60)]
    assert 0.3 < np.mean([bool(d.international_stations) for d in half]) < 0.7
    cfg = load_simulation_config(spec.preset, None, simulation_overrides(after[0]))
    assert cfg.stations.international == list(after[0].international_stations)
    assert cfg.stations.core == load_simulation_config(spec.preset, None, []).stations.core
    with pytest.raises(InputError, match="at least two international"):
        draw_field(0, 8000, sparse, international[:1])


def test_bad_dataset_settings_are_refused():
    with pytest.raises(InputError, match="dataset.calibrator_flux_jy: lower bound 2 is above upper bound 1"):
        load_classifier_config(overrides=["dataset.calibrator_flux_jy=[2.0, 1.0]"])
    with pytest.raises(InputError, match="gaussian_fraction"):
        load_classifier_config(overrides=["dataset.gaussian_fraction=1.5"])
    with pytest.raises(InputError, match="two_international_fraction"):
        load_classifier_config(overrides=["dataset.two_international_fraction=-0.1"])


# --------------------------------------------------------------------------- metrics


def test_binary_metrics_and_auc():
    y = [1, 1, 1, 0, 0, 0, 0, 1]
    p = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1, 0.2, 0.7]
    m = binary_metrics(y, p)
    assert m["confusion_matrix"] == [[3, 1], [1, 3]]
    assert m["accuracy"] == 0.75 and m["precision"] == 0.75 and m["recall"] == 0.75
    # 16 positive-negative pairs, 14 ordered correctly (0.4 < 0.6 and 0.4 > 0.3/0.1/0.2)
    assert m["roc_auc"] == pytest.approx(15 / 16)
    assert roc_auc([1, 0], [0.5, 0.5]) == 0.5 and math.isnan(roc_auc([1, 1], [0.2, 0.3]))
    with pytest.raises(InputError, match="equal, non-empty"):
        binary_metrics([1, 0], [0.5])


# --------------------------------------------------------------------------- training

torch = pytest.importorskip("torch")
pytest.importorskip("timm")


def _write_image(path: Path, continue_: bool, rng: np.random.Generator) -> None:
    """A continue image (a point with strong sidelobe-like stripes across the field) or a stop one (a clean
    point in noise), 64 x 64 pixels."""
    img = rng.normal(0.0, 1e-3, (64, 64))
    img[32, 32] += 1.0
    if continue_:
        yy, xx = np.mgrid[:64, :64]
        angle = rng.uniform(0, np.pi)
        img += 0.05 * np.cos(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / rng.uniform(6, 12))
    fits.PrimaryHDU(img.astype(np.float32), header=sin_wcs((240.0, 55.0), 64, 0.08).to_header()).writeto(path)


@pytest.fixture(scope="module")
def toy_dataset(tmp_path_factory) -> Path:
    """A dataset in the layout of `classifier dataset`: 12 fields of 4 cycles (2 continue, then 2 stop)."""
    root = tmp_path_factory.mktemp("toy_dataset")
    (root / "fields").mkdir()
    (root / "images").mkdir()
    rng = np.random.default_rng(2)
    for f in range(12):
        name = f"field_{f:04d}"
        cycles = []
        for c in range(4):
            image = f"images/{name}_cycle_{c:02d}.fits"
            _write_image(root / image, c < 2, rng)
            # peaks that make cycles 0-1 continue (error > 0.5 rad) and 2-3 stop
            cycles.append({"cycle": c, "image": image, "peak_jy": [0.2, 0.5, 0.95, 0.96][c],
                           "dynamic_range": [5.0, 20.0, 60.0, 61.0][c], "true_peak_jy": 1.0})
        record = {"field": name, "draw": {"seed": 900 + f, "kind": "point"}, "flux_jy": 1.0, "cycles": cycles}
        (root / "fields" / f"{name}.json").write_text(json.dumps(record))
    index = write_index(root, RULE, DatasetSpec())
    assert index["n_images"] == 48 and index["n_continue"] == 24
    assert [r["label"] for r in labelled_rows(json.loads((root / "fields/field_0000.json").read_text()), RULE)] \
        == [1, 1, 0, 0]
    return root


def _settings(**kw):
    from lofar_hires.classifier.model import BackboneSpec
    from lofar_hires.classifier.train import TrainSettings

    spec = BackboneSpec("vit_small_patch14_reg4_dinov2", img_size=56, embed_dim=32, depth=1, num_heads=2)
    base = dict(epochs=4, batch_size=8, learning_rate=1e-3, train_blocks=-1, validation_fraction=0.25, seed=3)
    base.update(kw)
    return TrainSettings(spec, **base)


def test_split_is_by_field():
    from lofar_hires.classifier.train import split_fields

    names = [f"f{i}" for i in range(10)] * 3  # three cycles per field
    train, val = split_fields(names, 0.2, 1)
    assert len(val) == 2 and len(train) == 8 and not set(train) & set(val)
    assert split_fields(names, 0.2, 1) == (train, val) and split_fields(names, 0.2, 2) != (train, val)
    with pytest.raises(InputError, match="at least 2"):
        split_fields(["a", "a"], 0.2, 1)


def test_symmetries_of_a_batch_are_those_of_the_preprocessing():
    from lofar_hires.classifier.preprocess import symmetry
    from lofar_hires.classifier.train import random_symmetries, smoothed

    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        out = random_symmetries(x, gen).numpy()
        for i in range(2):
            k = next(k for k in range(8) if np.array_equal(out[i], symmetry(x.numpy()[i], k)))
            seen.add(k)
    assert seen == set(range(8))
    assert smoothed(np.array([1, 0, 1]), 0.1).tolist() == pytest.approx([0.9, 0.1, 0.9])


def test_training_writes_the_best_epoch_and_resumes_exactly(toy_dataset: Path, tmp_path: Path, monkeypatch):
    import lofar_hires.classifier.train as train_mod
    from lofar_hires.classifier.evaluate import Scorer
    from lofar_hires.classifier.model import BACKBONE_FILE, HEAD_FILE

    full = train_mod.train(toy_dataset, tmp_path / "full", _settings())
    assert len(full["history"]) == 4 and (tmp_path / "full" / "loss_curve.png").stat().st_size > 1000
    assert not set(full["train_fields"]) & set(full["validation_fields"]) and len(full["validation_fields"]) == 3
    assert full["settings"]["label_smoothing"] == 0.1
    scorer = Scorer(tmp_path / "full" / BACKBONE_FILE, tmp_path / "full" / HEAD_FILE)
    assert scorer.loaded.training["train_seeds"] == full["train_seeds"]
    rows = json.loads((toy_dataset / "dataset.json").read_text())["images"]
    # the saved model is the epoch of lowest validation loss, and gives that epoch's validation figures
    best = min(full["history"], key=lambda h: h["val_loss"])
    assert scorer.loaded.training["epoch"] == full["best_epoch"] == best["epoch"]
    val = [r for r in rows if str(r["seed"]) in full["validation_fields"]]
    p = scorer.score_files([toy_dataset / r["image"] for r in val])
    assert binary_metrics([r["label"] for r in val], p)["accuracy"] == pytest.approx(best["val_accuracy"])

    # interrupted in the second epoch, then started again: the same weights as the uninterrupted run
    calls = {"n": 0}
    original = train_mod.random_symmetries
    per_epoch = math.ceil(len([r for r in rows if str(r["seed"]) in full["train_fields"]]) / 8)

    def interrupt(batch, gen):
        calls["n"] += 1
        if calls["n"] == per_epoch + 2:
            raise KeyboardInterrupt
        return original(batch, gen)

    monkeypatch.setattr(train_mod, "random_symmetries", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_mod.train(toy_dataset, tmp_path / "resumed", _settings())
    assert len(json.loads((tmp_path / "resumed" / "training.json").read_text())["history"]) == 1
    monkeypatch.setattr(train_mod, "random_symmetries", original)
    resumed = train_mod.train(toy_dataset, tmp_path / "resumed", _settings())
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 4]
    for a, b in zip(full["history"], resumed["history"]):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)

    # other settings in the same directory: refused, not mixed
    with pytest.raises(InputError, match="other settings"):
        train_mod.train(toy_dataset, tmp_path / "resumed", _settings(epochs=5))


def test_a_random_backbone_cannot_stay_frozen(toy_dataset: Path, tmp_path: Path):
    from lofar_hires.classifier.train import train

    with pytest.raises(InputError, match="cannot stay frozen"):
        train(toy_dataset, tmp_path / "x", _settings(train_blocks=0))
    with pytest.raises(InputError, match="label smoothing"):
        train(toy_dataset, tmp_path / "x", _settings(label_smoothing=0.6))


def test_evaluation_refuses_fields_seen_in_training(toy_dataset: Path, tmp_path: Path):
    from lofar_hires.classifier.evaluate import Scorer, evaluate
    from lofar_hires.classifier.model import BACKBONE_FILE, HEAD_FILE
    from lofar_hires.classifier.train import train

    train(toy_dataset, tmp_path / "m", _settings(epochs=1))
    scorer = Scorer(tmp_path / "m" / BACKBONE_FILE, tmp_path / "m" / HEAD_FILE)
    with pytest.raises(InputError, match="shares .* field seed"):
        evaluate(toy_dataset, scorer)
    # a held-out copy with new seeds evaluates
    held = _held_out_copy(toy_dataset, tmp_path / "held", 10000)
    metrics = evaluate(held, scorer)
    assert metrics["n"] == 48 and len(metrics["images"]) == 48
    assert sum(map(sum, metrics["confusion_matrix"])) == 48
    assert metrics["by_array"] == {"preset": {"n": 48, "accuracy": metrics["accuracy"]}}
    assert dataclasses.asdict(RULE) == json.loads((held / "dataset.json").read_text())["label_rule"]


def _held_out_copy(toy_dataset: Path, held: Path, seed_shift: int, rule: LabelRule = RULE) -> Path:
    """The toy dataset's images under new field seeds (``seed_shift`` added)."""
    (held / "fields").mkdir(parents=True)
    shutil.copytree(toy_dataset / "images", held / "images")
    for path in (toy_dataset / "fields").glob("*.json"):
        rec = json.loads(path.read_text())
        rec["draw"]["seed"] += seed_shift
        (held / "fields" / path.name).write_text(json.dumps(rec))
    write_index(held, rule, DatasetSpec())
    return held


def test_datasets_are_read_and_trained_together_told_apart_by_seed(toy_dataset: Path, tmp_path: Path):
    from lofar_hires.classifier.dataset import load_datasets
    from lofar_hires.classifier.train import train

    other = _held_out_copy(toy_dataset, tmp_path / "other", 500)
    both = load_datasets([toy_dataset, other])
    assert both.n_fields == 24 and len(both.rows) == 96 and both.roots == (toy_dataset, other)
    assert all(Path(r["path"]).is_file() and Path(r["path"]).is_absolute() for r in both.rows)
    assert {r["array"] for r in both.rows} == {"preset"}
    # the same field names in both: the split goes by seed, and every field is on one side only
    record = train([toy_dataset, other], tmp_path / "m", _settings(epochs=1))
    assert record["datasets"] == [str(toy_dataset), str(other)]
    assert len(record["train_fields"]) + len(record["validation_fields"]) == 24
    assert not set(record["train_fields"]) & set(record["validation_fields"])
    assert record["dataset_seeds"] == both.seeds and len(record["train_seeds"]) == 18

    with pytest.raises(InputError, match="share field seed 900"):
        load_datasets([toy_dataset, _held_out_copy(toy_dataset, tmp_path / "same", 0)])
    relabelled = _held_out_copy(toy_dataset, tmp_path / "relabelled", 1000,
                                dataclasses.replace(RULE, phase_error_rad=0.7))
    with pytest.raises(InputError, match="another rule"):
        load_datasets([toy_dataset, relabelled])
