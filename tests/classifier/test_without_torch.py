"""The pipeline does not need torch: nothing imports it until a classifier is used, and without it the
stopping rule runs on its other criteria and says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lofar_hires.errors import MissingInputError
from lofar_hires.selfcal.engine import cycle_scorer

#: Run in a fresh interpreter where ``import torch`` fails, as on a machine without the extra.
NO_TORCH = "import sys\nsys.modules['torch'] = None\nsys.modules['timm'] = None\n"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_pipeline_imports_no_deep_learning_framework():
    proc = _python("import sys\nimport lofar_hires.cli, lofar_hires.selfcal.engine, lofar_hires.classifier.preprocess\n"
                   "from lofar_hires.cli import build_parser\nbuild_parser()\n"
                   "print(sorted(m for m in ('torch', 'timm', 'safetensors') if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_torch_the_shipped_classifier_is_not_used_and_says_why():
    proc = _python(NO_TORCH + "from lofar_hires.selfcal.engine import cycle_scorer\n"
                   "scorer, note = cycle_scorer('shipped', 1)\nprint(scorer is None, note)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("True not used: the classifier needs torch, timm")
    assert "pip install 'lofar-hires[classifier]'" in proc.stdout


def test_without_torch_classify_fails_in_one_line():
    proc = _python(NO_TORCH + "from lofar_hires.cli import main\nraise SystemExit(main(['classify', 'x.fits']))")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1 and "pip install 'lofar-hires[classifier]'" in lines[0]


def test_no_classifier_and_a_missing_model_directory(tmp_path: Path):
    assert cycle_scorer("none", 1) == (None, "not used (stopping.classifier_model: none)")
    with pytest.raises(MissingInputError, match="stopping.classifier_model .*nope is not a directory"):
        cycle_scorer(str(tmp_path / "nope"), 1)
