"""The shipped classifier on simulated fields it never saw, and in the self-calibration engine.

Held-out fields: seeds 300000-300005 of `lofar-hires classifier dataset` (training used 100000-100159 and
110000-110159, the evaluation of docs/classifier.md 200000-200039 and 210000-210039), made here with the real
simulator, DP3 and WSClean.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lofar_hires.cli import main

pytest.importorskip("torch")
pytest.importorskip("timm")

from lofar_hires.classifier.model import (  # noqa: E402
    BACKBONE_FILE,
    DINOV2_REG_BACKBONES,
    HEAD_FILE,
    load_model,
    shipped_model_dir,
)

pytestmark = pytest.mark.slow

HELD_OUT_FIRST_SEED = 300000
HELD_OUT_FIELDS = 6
#: Least accuracy on the 36 images of the six held-out fields. Measured 0.69: four of these six fields have a
#: second bright source (a fifth of the fields do on average), the model's weak case; their 36 images are 30
#: continue (25 right) and 6 stop (all called continue). The 0.9 of the issue is judged on 40 fields (test below).
MIN_ACCURACY = 0.65
#: The documented evaluation: 40 fields, seeds 200000-200039, and 40 fields with two international stations,
#: seeds 210000-210039 (docs/classifier.md).
EVALUATION_FIRST_SEED = 200000
SPARSE_EVALUATION_FIRST_SEED = 210000
EVALUATION_FIELDS = 40
#: Least accuracy and AUC on the two-station fields: measured 0.725 and 0.753 (docs/classifier.md: the sparse
#: images are the model's weak case; the international DD runs it judges are its clear cases, test_dd_stopping.py).
MIN_SPARSE_ACCURACY = 0.7


def test_the_shipped_model_is_small_and_described():
    folder = shipped_model_dir()
    size = sum((folder / f).stat().st_size for f in (BACKBONE_FILE, HEAD_FILE))
    assert size <= 20 * 2**20
    model = load_model(folder / BACKBONE_FILE, folder / HEAD_FILE)
    assert model.backbone.name in DINOV2_REG_BACKBONES
    assert model.backbone.img_size == model.preprocess.input_size_pix
    assert model.model.backbone.num_reg_tokens == 4
    seeds = set(model.training["train_seeds"])
    assert seeds and not seeds & set(range(HELD_OUT_FIRST_SEED, HELD_OUT_FIRST_SEED + HELD_OUT_FIELDS))
    assert not seeds & set(range(EVALUATION_FIRST_SEED, EVALUATION_FIRST_SEED + EVALUATION_FIELDS))
    assert not seeds & set(range(SPARSE_EVALUATION_FIRST_SEED, SPARSE_EVALUATION_FIRST_SEED + EVALUATION_FIELDS))


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("held_out") / "dataset"
    assert main(["--log-level", "WARNING", "classifier", "dataset", "--outdir", str(out), "--fields",
                 str(HELD_OUT_FIELDS), "--first-seed", str(HELD_OUT_FIRST_SEED), "--workers", "2"]) == 0
    return out


def test_held_out_accuracy(held_out: Path, tmp_path: Path):
    metrics_path = tmp_path / "metrics.json"
    assert main(["--log-level", "WARNING", "classifier", "evaluate", str(held_out), "--output",
                 str(metrics_path)]) == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["n"] == 6 * HELD_OUT_FIELDS
    assert metrics["accuracy"] >= MIN_ACCURACY, metrics
    assert metrics["by_kind"]["point"]["accuracy"] >= 0.9, metrics["by_kind"]


@pytest.mark.hard_case
@pytest.mark.parametrize("first_seed, sparse, least", [(EVALUATION_FIRST_SEED, False, 0.9),
                                                        (SPARSE_EVALUATION_FIRST_SEED, True, MIN_SPARSE_ACCURACY)],
                         ids=["six_international", "two_international"])
def test_held_out_accuracy_on_forty_fields(tmp_path: Path, first_seed: int, sparse: bool, least: float):
    """The issue's proof, at least 0.9 on the 40 held-out fields of docs/classifier.md (about 10 minutes), and
    the two-station fields, the model's weak case (about 6 minutes)."""
    out = tmp_path / "dataset"
    extra = ["--set", "dataset.two_international_fraction=1.0"] if sparse else []
    assert main(["--log-level", "WARNING", "classifier", "dataset", "--outdir", str(out), "--fields",
                 str(EVALUATION_FIELDS), "--first-seed", str(first_seed), "--workers", "2", *extra]) == 0
    metrics_path = tmp_path / "metrics.json"
    assert main(["--log-level", "WARNING", "classifier", "evaluate", str(out), "--output", str(metrics_path)]) == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["n"] >= 6 * (EVALUATION_FIELDS - 8)
    assert metrics["accuracy"] >= least and metrics["roc_auc"] >= least, {k: metrics[k] for k in
                                                                          ("accuracy", "roc_auc", "by_kind")}


def test_classify_prints_one_probability_per_image(held_out: Path, tmp_path: Path, capsys):
    images = sorted((held_out / "images").glob("field_0000_cycle_0[05].fits"))
    out = tmp_path / "scores.json"
    assert main(["--log-level", "WARNING", "classify", *map(str, images), "--output", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert [Path(r["image"]).name for r in printed["images"]] == [p.name for p in images]
    assert all(0.0 <= r["p_continue"] <= 1.0 for r in printed["images"])
    assert all(r["decision"] == ("continue" if r["p_continue"] >= 0.5 else "stop") for r in printed["images"])


# --------------------------------------------------------------------------- in the engine

#: The stopping demo's field (tests/selfcal/test_stopping_rule_demo.py): a strong TEC residual, no model.
FIELD = ("seed=1", "observation.n_observations=1", "corruptions.tec.rms_at_100km_tecu=0.02")
RULE = ("stopping.min_cycles=3", "stopping.max_cycles=8")


@pytest.fixture(scope="module")
def field(simulated):
    result = simulated("classifier_engine", preset="selfcal", overrides=FIELD)
    target = result.targets()[0]
    return target.ms, tuple(json.loads(target.truth_json.read_text())["directions"]["bright01"])


def _selfcal(field, outdir: Path, model: str, *extra: str):
    from lofar_hires.selfcal.metrics import read_metrics

    ms, radec = field
    sets = [a for kv in (*RULE, f"stopping.classifier_model={model}") for a in ("--set", kv)]
    assert main(["--log-level", "WARNING", "selfcal", str(ms), "--strategy", "classifier_data", *sets, "--outdir",
                 str(outdir), "--phase-centre", *map(str, radec), *extra]) == 0
    return json.loads((outdir / "selfcal_report.json").read_text()), read_metrics(outdir / "metrics.json")


@pytest.mark.parametrize("start", ["none", "point"])
def test_the_engine_stops_with_the_classifier(field, tmp_path: Path, start: str):
    extra = ("--point-model-jy", "1.0") if start == "point" else ()
    without, m0 = _selfcal(field, tmp_path / "without", "none", *extra)
    report, metrics = _selfcal(field, tmp_path / "with", "shipped", *extra)
    assert without["decision"]["criteria"]["classifier"] is None
    assert report["classifier"].startswith("used: vit_")
    scores = [m.classifier_score for m in metrics]
    assert all(s is not None and 0 <= s <= 1 for s in scores) and report["classifier_scores"] == scores
    # the runs are the same until the first stops: the classifier only adds a condition
    n = min(len(m0), len(metrics))
    assert [m.rms_jy for m in metrics[:n]] == pytest.approx([m.rms_jy for m in m0[:n]], rel=1e-3)
    if report["stopped_by"] == "converged":
        assert scores[-1] < 0.5 and report["decision"]["criteria"]["classifier"] is True
    # each cycle the classifier added was one it judged worth continuing
    assert all(s >= 0.5 for s in scores[len(m0) - 1:-1])
    # the kept image is within 5 % of the lowest rms of the run
    best = report["best_cycle"]
    assert metrics[best].rms_jy <= 1.05 * min(m.rms_jy for m in metrics)
    assert (tmp_path / "with" / "montage.png").stat().st_size > 10000
