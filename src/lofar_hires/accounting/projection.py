"""Projection of measured core-hours to real LOFAR observations, and the comparison with the paper.

The cost of a module is modelled as ``c x scale(dims, N)`` with

``scale = visibilities**a x directions**b x g(N)**c``,

where ``visibilities = baselines x times x channels`` at the module's working resolution (the data's
own, or the coarser one it averages to first), ``directions`` the facets or calibrators it works on,
and ``g(N)`` the number of observations counted with the reuse of a deep model (beyond ``m``
observations each further one counts ``f``). A run measures ``c``; the projection to target
dimensions is ``measured x scale(target, N) / scale(measured, N_measured)``. With several runs the
constant is their pooled ratio ``sum(measured) / sum(scale(measured))``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lofar_hires.accounting.config import CATEGORIES, EXCLUDED, CostModel, Dimensions, ModuleScaling
from lofar_hires.accounting.manifest import RunCosts
from lofar_hires.errors import InputError


def baselines(n_stations: int) -> float:
    """Cross-correlation baselines of ``n_stations`` stations."""
    return n_stations * (n_stations - 1) / 2.0


def working_visibilities(dims: Dimensions, scaling: ModuleScaling) -> float:
    """Visibilities a module processes per observation: baselines x times x channels at its working resolution.

    The working resolution is the data's own or the coarser one the module averages to; time and
    bandwidth are conserved (a slot count need not be whole: the ratio is what matters).
    """
    n_stations = dims.n_stations - dims.n_international if scaling.baselines == "dutch" else dims.n_stations
    duration_s = dims.n_times * dims.integration_s
    bandwidth_hz = dims.n_channels * dims.channel_width_hz
    times = duration_s / max(dims.integration_s, scaling.average_time_s)
    channels = bandwidth_hz / max(dims.channel_width_hz, scaling.average_freq_hz)
    return baselines(n_stations) * times * channels


def effective_observations(n_observations: float, scaling: ModuleScaling) -> float:
    """``g(N)``: observations beyond ``model_observations`` count ``model_cost_factor`` each."""
    m = scaling.model_observations
    if m <= 0 or n_observations <= m:
        return float(n_observations)
    return m + (n_observations - m) * scaling.model_cost_factor


def module_scale(dims: Dimensions, n_observations: int, scaling: ModuleScaling, target: bool = False) -> float:
    """The model's scale of one module on data ``dims`` with ``n_observations`` observations.

    ``target`` uses the module's own ``target_directions`` where it has one.
    """
    directions = scaling.target_directions if target and scaling.target_directions > 0 else dims.n_directions
    return (working_visibilities(dims, scaling) ** scaling.visibilities_exponent
            * float(directions) ** scaling.directions_exponent
            * effective_observations(n_observations, scaling) ** scaling.observations_exponent)


def scaling_of(model: CostModel, module: str) -> ModuleScaling:
    try:
        return model.modules[module]
    except KeyError:
        raise InputError(f"module {module} has no scaling in the dimensions file; known modules: "
                         f"{', '.join(model.modules)}", setting="dimensions") from None


def project(costs: Mapping[str, float], measured_dims: Dimensions, measured_observations: int,
            target_dims: Dimensions, n_obs: int, model: CostModel) -> dict[str, float]:
    """Projected core-hours of ``n_obs`` observations of ``target_dims``, per module (excluded modules left out).

    Parameters
    ----------
    costs
        Measured core-hours per module (:func:`lofar_hires.accounting.manifest.module_costs`).
    measured_dims, measured_observations
        The dimensions and number of observations of the measured run.
    target_dims, n_obs
        The observation projected to, and how many of them are combined.
    model
        The scaling of every module.

    Returns
    -------
    dict
        Module -> core-hours of all ``n_obs`` observations together.
    """
    out = {}
    for module, core_h in costs.items():
        scaling = scaling_of(model, module)
        if scaling.category == EXCLUDED:
            continue
        ratio = (module_scale(target_dims, n_obs, scaling, target=True)
                 / module_scale(measured_dims, measured_observations, scaling))
        out[module] = core_h * ratio
    return out


def project_runs(runs: Sequence[RunCosts], n_obs: int, model: CostModel,
                 target_dims: Dimensions | None = None) -> dict[str, float]:
    """Projected core-hours per module from several runs: their pooled ratio ``sum(c_k) / sum(s_k)`` x target scale.

    A module measured in only some runs is projected from those. One run gives :func:`project`.
    """
    target = model.target if target_dims is None else target_dims
    measured: dict[str, float] = {}
    scales: dict[str, float] = {}
    for run in runs:
        for module, core_h in run.core_h.items():
            scaling = scaling_of(model, module)
            if scaling.category == EXCLUDED:
                continue
            measured[module] = measured.get(module, 0.0) + core_h
            scales[module] = scales.get(module, 0.0) + module_scale(run.dims, run.n_observations, scaling)
    return {m: measured[m] / scales[m] * module_scale(target, n_obs, model.modules[m], target=True)
            for m in measured}


def by_category(per_module: Mapping[str, float], model: CostModel) -> dict[str, float]:
    """Sum per category of Figure 6.14 (every category present, 0 where no module was measured)."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for module, value in per_module.items():
        category = scaling_of(model, module).category
        if category != EXCLUDED:
            out[category] += value
    return out


def fit_observation_exponents(runs: Sequence[RunCosts], model: CostModel) -> dict[str, float]:
    """The observations exponent each module's costs show across runs with different numbers of observations.

    Per module, the measured cost divided by the model's scale without the observations term is
    regressed (least squares, in logs) on the log of the model's effective observations; modules
    measured with fewer than two distinct numbers of observations are left out. A diagnostic of
    the model: on toy runs fixed costs pull the fitted exponents below the model's.
    """
    points: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        for module, core_h in run.core_h.items():
            scaling = scaling_of(model, module)
            if scaling.category == EXCLUDED or core_h <= 0:
                continue
            flat = dataclasses.replace(scaling, observations_exponent=0.0)
            g = effective_observations(run.n_observations, scaling)
            points.setdefault(module, []).append((math.log(g), math.log(core_h / module_scale(run.dims, 1, flat))))
    fitted = {}
    for module, pts in points.items():
        x, y = np.array(pts).T
        if np.ptp(x) > 0:
            fitted[module] = float(np.polyfit(x, y, 1)[0])
    return fitted


@dataclass(frozen=True)
class CategoryRow:
    """One row of the comparison table (core-hours)."""

    observations: int
    category: str  # a category of Figure 6.14 or "total"
    measured_core_h: float  # on the measured run(s), all runs together
    projected_core_h: float  # all observations together
    projected_core_h_per_observation: float
    paper_core_h_per_observation: float | None
    ratio: float | None  # projected / paper, per observation
    percent: float  # share of the projected total


def comparison(runs: Sequence[RunCosts], model: CostModel, observations: Sequence[int]) -> list[CategoryRow]:
    """The table of Figure 6.14: per number of observations, per category and in total."""
    measured = by_category({m: sum(r.core_h.get(m, 0.0) for r in runs) for r in runs for m in r.core_h}, model)
    rows = []
    for n in observations:
        projected = by_category(project_runs(runs, n, model), model)
        total = sum(projected.values())
        paper = model.paper.get(n, {})
        for category, value in [*projected.items(), ("total", total)]:
            per_obs = value / n
            ref = paper.get(category)
            rows.append(CategoryRow(
                observations=n, category=category,
                measured_core_h=sum(measured.values()) if category == "total" else measured[category],
                projected_core_h=value, projected_core_h_per_observation=per_obs,
                paper_core_h_per_observation=ref, ratio=None if not ref else per_obs / ref,
                percent=100.0 * value / total if total > 0 else 0.0))
    return rows
