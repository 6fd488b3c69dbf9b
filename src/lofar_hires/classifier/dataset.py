"""Training images of the classifier: simulated calibrator fields, self-calibrated, labelled from the truth.

Each field ``i`` of a dataset has its own seed (``first_seed + i``); the seed alone decides the
field's properties (:func:`draw_field`), the simulation and the self-calibration run, so a dataset
is reproducible and two datasets with disjoint seed ranges share no field. Every run makes the
same number of cycles (the strategy's ``min_cycles = max_cycles``) and each cycle's image is
labelled by :func:`label_cycles` (the rule is written out in docs/classifier.md):

* stop (0) for every image when the calibrator is resolved out: its true peak at the image's
  resolution is below ``resolved_peak_fraction`` of its flux;
* otherwise continue (1) while the residual phase error towards the calibrator is above
  ``phase_error_rad`` -- measured from the coherence ``c = peak / true peak`` as
  ``sqrt(-2 ln c)`` -- or while a later cycle of the run raises the dynamic range by more than
  ``dynamic_range_gain``; stop (0) when neither holds (converged, or limited by something that
  self-calibration on this source does not fix, such as the sidelobes of a second bright source).

Layout of a dataset directory: ``fields/field_NNNN.json`` (the draw, the truth quantities and the
per-cycle measurements of one field), ``images/field_NNNN_cycle_CC.fits`` (the cycle images) and
``dataset.json`` (the labelled table, rebuilt from the field files at the end of every run, so
changing the label rule needs no new self-calibration). The simulation and self-calibration of the
fields: :mod:`lofar_hires.validation.classifier_dataset` (``lofar-hires classifier dataset``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.classifier.config import DatasetSpec, LabelRule
from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.atomic import atomic_output

log = logging.getLogger(__name__)

#: Kinds of field: a compact calibrator, a Gaussian one, a compact one with a second bright source nearby.
KINDS = ("point", "gaussian", "contaminated")
FIELD_FORMAT = "field_{:04d}"
DATASET_JSON = "dataset.json"


@dataclass(frozen=True)
class FieldDraw:
    """The properties of one simulated field, drawn from its seed."""

    index: int
    seed: int
    kind: str
    calibrator_flux_jy: float
    tec_rms_at_100km_tecu: float
    fwhm_arcsec: float  # 0 for a compact calibrator
    contaminant_flux_jy: float  # 0 without a second source
    contaminant_distance_deg: float
    point_start: bool
    international_stations: tuple[str, ...] = ()  # the kept international stations; empty: the preset's all

    @property
    def name(self) -> str:
        return FIELD_FORMAT.format(self.index)

    @property
    def calibrator(self) -> str:
        """The calibrator's patch name in the simulated sky."""
        return "resolved01" if self.kind == "gaussian" else "bright01"


def draw_field(index: int, seed: int, spec: DatasetSpec, international: Sequence[str] = ()) -> FieldDraw:
    """The properties of field ``index`` with ``seed`` (pure: the same seed gives the same field).

    ``international`` lists the preset's international stations, of which a field of
    ``two_international_fraction`` keeps two (drawn after every other property, so a fraction of 0
    draws the same fields as a dataset made before the setting existed).
    """
    rng = np.random.default_rng([seed, 7919])
    u = rng.uniform()
    kind = ("gaussian" if u < spec.gaussian_fraction
            else "contaminated" if u < spec.gaussian_fraction + spec.contaminated_fraction else "point")
    flux = float(np.exp(rng.uniform(*np.log(spec.calibrator_flux_jy))))
    tec = float(np.exp(rng.uniform(*np.log(spec.tec_rms_at_100km_tecu))))
    fwhm = float(rng.uniform(*spec.gaussian_fwhm_arcsec)) if kind == "gaussian" else 0.0
    c_flux = float(rng.uniform(*spec.contaminant_flux_jy)) if kind == "contaminated" else 0.0
    c_dist = float(rng.uniform(*spec.contaminant_distance_deg)) if kind == "contaminated" else 0.0
    point_start = bool(rng.uniform() < spec.point_start_fraction)
    kept: tuple[str, ...] = ()
    if spec.two_international_fraction > 0 and rng.uniform() < spec.two_international_fraction:
        if len(international) < 2:
            raise InputError(f"dataset.two_international_fraction needs a preset with at least two international "
                             f"stations, {spec.preset} has {len(international)}",
                             setting="dataset.two_international_fraction")
        kept = tuple(international[i] for i in sorted(rng.choice(len(international), 2, replace=False)))
    return FieldDraw(index, seed, kind, flux, tec, fwhm, c_flux, c_dist, point_start, kept)


def simulation_overrides(draw: FieldDraw) -> list[str]:
    """``key=value`` overrides of the simulator preset that make the drawn field (one observation)."""
    out = [f"seed={draw.seed}", "observation.n_observations=1",
           f"corruptions.tec.rms_at_100km_tecu={draw.tec_rms_at_100km_tecu!r}"]
    if draw.kind == "gaussian":
        f, a = draw.calibrator_flux_jy, draw.fwhm_arcsec
        out += ["sky.n_bright=0", "sky.n_resolved=1", f"sky.resolved_flux_jy=[{f!r},{f!r}]",
                f"sky.resolved_fwhm_arcsec=[{a!r},{a!r}]"]
    else:
        f = draw.calibrator_flux_jy
        out += [f"sky.bright_flux_jy=[{f!r},{f!r}]"]
    if draw.international_stations:
        out += [f"stations.international=[{','.join(draw.international_stations)}]"]
    if draw.kind == "contaminated":
        c, d = draw.contaminant_flux_jy, draw.contaminant_distance_deg
        out += ["sky.n_faint=0", "sky.n_faint_near_bright=1", f"sky.faint_flux_jy=[{c!r},{c!r}]",
                f"sky.faint_near_bright_deg=[{d!r},{d!r}]"]
    return out


# --------------------------------------------------------------------------- labels


def peak_fraction(fwhm_major_arcsec: float, fwhm_minor_arcsec: float, beam_major_arcsec: float,
                  beam_minor_arcsec: float) -> float:
    """Peak (Jy/beam) over flux (Jy) of an elliptical Gaussian source restored with a Gaussian beam.

    The beam and the source are treated as aligned (their position angles are ignored): the peak of
    the convolution is ``B_maj B_min / sqrt((B_maj^2 + a^2)(B_min^2 + b^2))`` of the flux, 1 for a point.
    """
    bmaj, bmin = beam_major_arcsec, beam_minor_arcsec
    return float(bmaj * bmin / math.sqrt((bmaj**2 + fwhm_major_arcsec**2) * (bmin**2 + fwhm_minor_arcsec**2)))


def phase_error_from_coherence(coherence: float) -> float:
    """Residual phase error (rad rms) that lowers a peak to ``coherence`` of its true value:
    ``sqrt(-2 ln c)`` (Gaussian phase errors); 0 when ``c >= 1``, inf when ``c <= 0``."""
    if coherence >= 1.0:
        return 0.0
    if coherence <= 0.0:
        return math.inf
    return math.sqrt(-2.0 * math.log(coherence))


@dataclass(frozen=True)
class CycleLabel:
    """The label of one cycle's image and why."""

    cycle: int
    label: int  # 1 continue, 0 stop
    reason: str
    phase_error_rad: float
    later_dynamic_range_gain: float


def label_cycles(peaks_jy: Sequence[float], dynamic_ranges: Sequence[float], true_peak_jy: float,
                 flux_jy: float, rule: LabelRule) -> list[CycleLabel]:
    """Label each cycle of one run (see the module docstring).

    Parameters
    ----------
    peaks_jy, dynamic_ranges
        Per cycle (0, 1, ...): the image's peak near the calibrator and its dynamic range.
    true_peak_jy
        The calibrator's true peak at the image's resolution (its flux for a point).
    flux_jy
        The calibrator's true flux at the image's frequency.
    """
    if len(peaks_jy) != len(dynamic_ranges) or not len(peaks_jy):
        raise InputError(f"label: {len(peaks_jy)} peaks and {len(dynamic_ranges)} dynamic ranges; need one of each "
                         "per cycle")
    if not (true_peak_jy > 0 and flux_jy > 0):
        raise InputError(f"label: the true peak ({true_peak_jy}) and flux ({flux_jy}) must be positive")
    resolved = true_peak_jy / flux_jy < rule.resolved_peak_fraction
    dr = np.asarray(dynamic_ranges, dtype=float)
    out = []
    for n, peak in enumerate(peaks_jy):
        error = phase_error_from_coherence(float(peak) / true_peak_jy)
        later = float(dr[n + 1:].max() / dr[n] - 1.0) if n + 1 < len(dr) and dr[n] > 0 else 0.0
        if resolved:
            label, reason = 0, (f"resolved out: true peak {true_peak_jy / flux_jy:.2f} of the flux < "
                                f"{rule.resolved_peak_fraction:g}")
        elif error > rule.phase_error_rad:
            label, reason = 1, f"phase error {error:.2f} rad > {rule.phase_error_rad:g} rad"
        elif later > rule.dynamic_range_gain:
            label, reason = 1, f"a later cycle raises the dynamic range by {later:.0%}"
        else:
            label, reason = 0, f"phase error {error:.2f} rad and no later gain above {rule.dynamic_range_gain:.0%}"
        out.append(CycleLabel(n, label, reason, error, later))
    return out


def _array(draw: dict[str, Any]) -> str:
    """``preset`` (every international station of the preset) or ``two_international`` (a drawn pair)."""
    return "two_international" if draw.get("international_stations") else "preset"


def labelled_rows(record: dict[str, Any], rule: LabelRule) -> list[dict[str, Any]]:
    """One row per cycle image of a field record: image, field, seed, label and reason."""
    cycles = record["cycles"]
    true_peak = float(np.median([c["true_peak_jy"] for c in cycles]))
    labels = label_cycles([c["peak_jy"] for c in cycles], [c["dynamic_range"] for c in cycles], true_peak,
                          record["flux_jy"], rule)
    return [{"image": c["image"], "field": record["field"], "seed": record["draw"]["seed"],
             "kind": record["draw"]["kind"], "array": _array(record["draw"]), "cycle": c["cycle"], "label": lab.label,
             "reason": lab.reason,
             "phase_error_rad": lab.phase_error_rad, "later_dynamic_range_gain": lab.later_dynamic_range_gain}
            for c, lab in zip(cycles, labels)]


def read_field_record(path: Path) -> dict[str, Any]:
    """The record of one made field (``fields/<name>.json``), or a one-line error naming the file."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a field record of lofar-hires classifier dataset ({exc}); remove it or "
                         "use a new output directory", setting="outdir") from None
    if not isinstance(record, dict) or not {"cycles", "draw", "field", "flux_jy"} <= set(record):
        raise InputError(f"{path} is not a field record of lofar-hires classifier dataset; remove it or use a new "
                         "output directory", setting="outdir")
    return record


def write_index(outdir: Path, rule: LabelRule, spec: DatasetSpec) -> dict[str, Any]:
    """Rebuild ``dataset.json`` from every field file of ``outdir`` with ``rule``."""
    records = [read_field_record(p) for p in sorted((outdir / "fields").glob("field_*.json"))]
    rows = [row for rec in records for row in labelled_rows(rec, rule)]
    n_continue = sum(r["label"] for r in rows)
    index = {"format": "lofar-hires classifier dataset 1", "label_rule": dataclasses.asdict(rule),
             "dataset": dataclasses.asdict(spec), "n_fields": len(records), "n_images": len(rows),
             "n_continue": n_continue, "n_stop": len(rows) - n_continue,
             "seeds": sorted(rec["draw"]["seed"] for rec in records), "images": rows}
    with atomic_output(outdir / DATASET_JSON, overwrite=True) as tmp:
        tmp.write_text(json.dumps(index, indent=1) + "\n")
    log.info("dataset %s: %d fields, %d images, %d continue, %d stop", outdir, len(records), len(rows),
             n_continue, len(rows) - n_continue)
    return index


def load_dataset(path: Path) -> tuple[Path, dict[str, Any]]:
    """The directory and index of a dataset (``path`` is the directory or its ``dataset.json``).

    Raises
    ------
    MissingInputError, InputError
        No index, not JSON, or not a classifier dataset.
    """
    path = Path(path)
    index_path = path / DATASET_JSON if path.is_dir() else path
    if not index_path.is_file():
        raise MissingInputError(f"dataset {path}: no {DATASET_JSON}; make one with lofar-hires classifier dataset")
    try:
        index = json.loads(index_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{index_path} is not valid JSON ({exc})") from None
    if not isinstance(index, dict) or not str(index.get("format", "")).startswith("lofar-hires classifier dataset"):
        raise InputError(f"{index_path} is not a lofar-hires classifier dataset")
    return index_path.parent, index


@dataclass(frozen=True)
class Dataset:
    """One or more datasets read together: their images, each with its absolute ``path``."""

    roots: tuple[Path, ...]
    seeds: list[int]
    label_rule: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def n_fields(self) -> int:
        return len(self.seeds)


def load_datasets(paths: Sequence[Path]) -> Dataset:
    """Read datasets together (training on several seed ranges, or sets made with other draws).

    Every row gets ``path``, its image resolved inside its dataset (a name escaping the dataset
    is refused). Fields are told apart by seed, so datasets that share a seed, or that were
    labelled with different rules, are refused.

    Raises
    ------
    MissingInputError, InputError
        A dataset is missing or not one, two share a seed, or their label rules differ.
    """
    from lofar_hires.io.names import inside

    if not paths:
        raise InputError("no dataset given", setting="dataset")
    roots, seeds, rows = [], [], []
    rule: dict[str, Any] | None = None
    seen: dict[int, Path] = {}
    for path in paths:
        root, index = load_dataset(path)
        if rule is None:
            rule = index["label_rule"]
        elif index["label_rule"] != rule:
            raise InputError(f"dataset {root} was labelled with another rule than {roots[0]} "
                             f"({index['label_rule']} != {rule}); rebuild it with the same labels settings",
                             setting="dataset")
        for seed in index["seeds"]:
            if seed in seen:
                raise InputError(f"datasets {seen[seed]} and {root} share field seed {seed}; give each field once",
                                 setting="dataset")
            seen[seed] = root
        roots.append(root)
        seeds += index["seeds"]
        rows += [{**row, "path": str(inside(root, row["image"]))} for row in index["images"]]
    return Dataset(tuple(roots), sorted(seeds), rule or {}, rows)
