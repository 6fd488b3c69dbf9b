"""The products of ``lofar-hires project-cost``: the JSON record, the CSV table, the text table and the plot."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.accounting.config import CATEGORIES, CATEGORY_LABELS, CostModel
from lofar_hires.accounting.manifest import RunCosts
from lofar_hires.accounting.projection import CategoryRow, fit_observation_exponents, project_runs
from lofar_hires.io.atomic import atomic_output

log = logging.getLogger(__name__)

#: The record's format.
REPORT_FORMAT = "lofar-hires-project-cost/1"
#: The product names inside the output directory.
PRODUCTS = ("project_cost.json", "project_cost.csv", "project_cost.png")
#: The assumptions the projection rests on (written to the record; docs/project_cost.md explains them).
ASSUMPTIONS = (
    "the cost of a module is proportional to visibilities^a x directions^b x g(N)^c (configs/lofar_dimensions.yaml)",
    "visibilities = baselines x times x channels at the module's working resolution, for every observation",
    "fixed costs of the measured run (start-up, small files) are scaled like the rest: the projection is an "
    "upper estimate when the run is tiny",
    "a module averages to its working resolution as the paper's does, on the measured run as on the target",
    "core-hours are CPU time (user + system) here, allocated cores x hours in the paper",
    "'other' holds the modules of this chain only (the paper's also holds LINC, the DDF-pipeline and the 6 arcsec "
    "subtraction)",
)


def build_record(runs: Sequence[RunCosts], model: CostModel, observations: Sequence[int], rows: Sequence[CategoryRow],
                 dimensions_file: Path | None) -> dict[str, Any]:
    """The JSON record: inputs, model, per-run and pooled projections per module, the comparison table."""
    return {
        "format": REPORT_FORMAT,
        "dimensions_file": str(dimensions_file) if dimensions_file else "configs/lofar_dimensions.yaml (shipped)",
        "target": dataclasses.asdict(model.target),
        "observations": list(observations),
        "assumptions": list(ASSUMPTIONS),
        "runs": [{"manifest": str(r.path), "n_observations": r.n_observations, "data": dataclasses.asdict(r.dims),
                  "measured_core_h": r.core_h, "measured_wall_h": r.wall_h, "not_measured": list(r.unmeasured),
                  "projected_core_h": {str(n): project_runs([r], n, model) for n in observations}}
                 for r in runs],
        "projected_core_h": {str(n): project_runs(runs, n, model) for n in observations},
        "fitted_observation_exponents": fit_observation_exponents(runs, model),
        "model_observation_exponents": {m: s.observations_exponent for m, s in model.modules.items()},
        "table": [dataclasses.asdict(r) for r in rows],
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_text(rows: Sequence[CategoryRow]) -> str:
    """The comparison as a plain-text table (one block per number of observations)."""
    head = (f"{'N obs':>5}  {'category':<18} {'measured core-h':>15} {'projected per obs':>18} "
            f"{'paper per obs':>14} {'ratio':>6} {'share':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        label = CATEGORY_LABELS.get(r.category, r.category)
        lines.append(f"{r.observations:>5}  {label:<18} {r.measured_core_h:>15.4f} "
                     f"{_fmt(r.projected_core_h_per_observation):>18} {_fmt(r.paper_core_h_per_observation):>14} "
                     f"{_fmt(r.ratio, 2):>6} {r.percent:>5.1f}%")
    return "\n".join(lines)


def write_csv(rows: Sequence[CategoryRow], path: Path) -> None:
    names = [f.name for f in dataclasses.fields(CategoryRow)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for r in rows:
            writer.writerow(["" if getattr(r, n) is None else getattr(r, n) for n in names])


def plot(rows: Sequence[CategoryRow], path: Path) -> None:
    """Stacked bars per number of observations (core-hours per observation), in the form of Figure 6.14,
    with each category's share of the total and the paper's total per observation as a marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted({r.observations for r in rows})
    colours = dict(zip(CATEGORIES, ("#4c72b0", "#dd8452", "#55a868", "#8c8c8c")))
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    x = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    for category in CATEGORIES:
        values = np.array([next(r.projected_core_h_per_observation for r in rows
                                if r.observations == n and r.category == category) for n in counts])
        shares = [next(r.percent for r in rows if r.observations == n and r.category == category) for n in counts]
        ax.bar(x, values, 0.6, bottom=bottom, color=colours[category], label=CATEGORY_LABELS[category])
        for xi, b, v, share in zip(x, bottom, values, shares):
            if share >= 3.0:
                ax.text(xi, b + v / 2, f"{share:.0f}%", ha="center", va="center", fontsize=9, color="white")
        bottom += values
    paper = [next((r.paper_core_h_per_observation for r in rows if r.observations == n and r.category == "total"),
                  None) for n in counts]
    known = [(xi, p) for xi, p in zip(x, paper) if p]
    if known:
        ax.scatter([k[0] for k in known], [k[1] for k in known], marker="_", s=900, color="black", zorder=3,
                   label="paper, total")
    ax.set_xticks(x, [f"{n} observation{'s' if n > 1 else ''}" for n in counts])
    ax.set_ylabel("CPU core-hours per 8 h observation")
    ax.set_title("Projected cost per observation (this run, scaled)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def write_products(outdir: Path, record: dict[str, Any], rows: Sequence[CategoryRow], overwrite: bool) -> list[Path]:
    """Write ``project_cost.json``, ``.csv`` and ``.png`` into ``outdir`` (each atomically)."""
    paths = [outdir / name for name in PRODUCTS]
    with atomic_output(paths[0], overwrite) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    with atomic_output(paths[1], overwrite) as tmp:
        write_csv(rows, tmp)
    with atomic_output(paths[2], overwrite) as tmp:
        plot(rows, tmp)
    return paths
