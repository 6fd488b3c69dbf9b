"""The package's import layering.

* foundation (``errors``, ``physics``, ``provenance``, ``config_schema``, ``environment``,
  ``logging_setup``) imports nothing of the project but itself;
* ``io`` and ``runners`` import only the foundation and each other;
* pipeline packages import the layers below and EARLIER pipeline packages only, in the order
  solutions, imaging, classifier, calibration, selection, selfcal (so there is no cycle);
* ``simulation`` imports the foundation, ``io`` and ``runners``, never a pipeline package;
* ``validation`` (truth comparison) may import ``simulation``; nothing on the pipeline path does:
  in ``cli`` only the ``simulate`` command imports the simulator, and ``classifier dataset`` (which
  simulates the classifier's training fields) the truth-comparison package that runs it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "lofar_hires"

FOUNDATION = {"__init__", "errors", "physics", "provenance", "config_schema", "environment", "logging_setup",
              "measures_table"}
BASE = {"io", "runners"}
PIPELINE = ["solutions", "imaging", "classifier", "calibration", "selection", "selfcal", "subtract", "peel",
            "refine", "storage", "sva", "mosaic", "final_imaging",
            "gate", "accounting", "report", "chain"]


def allowed(package: str, module: Path) -> set[str]:
    """Top-level project packages/modules that ``package`` may import."""
    if package in FOUNDATION:
        return FOUNDATION
    if package in BASE:
        return FOUNDATION | BASE
    if package in PIPELINE:
        return FOUNDATION | BASE | set(PIPELINE[:PIPELINE.index(package) + 1])
    if package == "simulation":
        return FOUNDATION | BASE | {"simulation"}
    if package == "validation":
        return FOUNDATION | BASE | set(PIPELINE) | {"simulation", "validation"}
    if package == "cli":
        everything = FOUNDATION | BASE | set(PIPELINE) | {"cli"}
        if module.stem == "simulate":
            return everything | {"simulation"}
        if module.parts[-2:] == ("classifier", "dataset.py"):  # simulates the classifier's training fields
            return everything | {"validation"}
        return everything
    raise AssertionError(f"{package} is in no layer: add it to tests/test_layering.py")


def imported(tree: ast.AST) -> set[str]:
    """Top-level project names imported anywhere in a module (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "lofar_hires":
                continue
            if len(parts) > 1:
                names.add(parts[1])
            else:
                names.update("__init__" if a.name == "__version__" else a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("lofar_hires.") and a.name.count(".") >= 1)
    return names


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("module", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(module: Path) -> None:
    rel = module.relative_to(PACKAGE)
    package = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    bad = imported(ast.parse(module.read_text())) - allowed(package, module)
    assert not bad, f"{rel} ({package}) imports {sorted(bad)}, above its layer"


def test_layering_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker sees a function-local import of the simulator in a pipeline module."""
    source = "def f():\n    from lofar_hires.simulation.corruptions import tec_phase_rad\n"
    bad = imported(ast.parse(source)) - allowed("calibration", tmp_path / "x.py")
    assert bad == {"simulation"}
    assert "simulation" in imported(ast.parse("import lofar_hires.simulation.sky\n"))
    assert "selfcal" not in allowed("selection", tmp_path / "x.py")
