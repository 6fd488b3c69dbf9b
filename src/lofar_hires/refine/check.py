"""The check that a refinement does not make its facet worse: the facet calibrator keeps its flux.

Self-calibration sets no flux scale of its own: an amplitude solve against a model that lacks
flux, or whose station amplitudes are only constrained in products (a uv cut that leaves no
baseline between some stations), moves the flux scale while its stopping rule sees a lower rms
and says "converged". The refined data and the data as given are imaged with the same settings
around the facet calibrator (``refine_check`` of ``configs/recipes.yaml``: dirty images at the
6 arcsec of the Dutch refinement step, where the calibrator is unresolved and phase errors barely
decorrelate it, so that its peak brightness is its flux) and the calibrator's peak is compared: a
drop below ``1 / (1 + max_peak_change_fraction)`` times, or a rise beyond ``1 + max_peak_rise_fraction``
times (``max_peak_change_fraction`` when that is null), rejects the refinement
(:class:`RefinementRejected`), and the facet keeps its DD solutions. The two sides may differ because
the two errors differ: residual phase errors decorrelate a calibrator, so a refinement that corrects
them raises its peak, while a flux scale moved by an amplitude solve can go either way. The peak of a dirty image, not
an integral over a restoring beam: the beam WSClean fits to the PSF of a few stations observing for
minutes is far from the main lobe (44 x 13 arcsec for a 7 arcsec PSF on the tiny field), and a
calibrator of a few Jy in such data is not cleaned at the auto-mask threshold.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lofar_hires.errors import InputError, QualityError
from lofar_hires.imaging.image import make_image
from lofar_hires.imaging.measure import load_image, measure_source
from lofar_hires.refine.plan import FacetCalibrator
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.selfcal.recipes import RefineCheck

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FluxCheck:
    """The calibrator's peak brightness before and after the refinement, and the verdict."""

    before_peak_jy: float | None
    after_peak_jy: float | None
    max_change_fraction: float
    accepted: bool
    reason: str
    max_rise_fraction: float | None = None

    @property
    def ratio(self) -> float | None:
        """Peak after over peak before (None when either is missing or not positive)."""
        before, after = self.before_peak_jy, self.after_peak_jy
        if before is None or after is None or not (before > 0 and after > 0):
            return None
        return after / before

    def describe(self) -> dict[str, object]:
        return {"before_peak_jy": self.before_peak_jy, "after_peak_jy": self.after_peak_jy, "ratio": self.ratio,
                "max_change_fraction": self.max_change_fraction, "max_rise_fraction": self.max_rise_fraction,
                "accepted": self.accepted, "reason": self.reason}


class RefinementRejected(QualityError):
    """The refinement ran but its check failed: the facet keeps its DD solutions."""

    def __init__(self, message: str, check: FluxCheck) -> None:
        super().__init__(message)
        self.check = check


def judge_flux(before_peak_jy: float | None, after_peak_jy: float | None, max_change_fraction: float,
               max_rise_fraction: float | None = None) -> FluxCheck:
    """Accept when the calibrator's peak after is at least ``1 / (1 + max_change_fraction)`` and at most
    ``1 + max_rise_fraction`` times its peak before (pure). ``max_rise_fraction`` None: ``max_change_fraction``, the
    same factor either way. A peak that could not be measured, or is not a positive finite number, is rejected: the
    check cannot tell that the refinement did no harm.

    Raises
    ------
    InputError
        ``max_change_fraction`` or ``max_rise_fraction`` negative or not finite.
    """
    limits = (("max_peak_change_fraction", max_change_fraction), ("max_peak_rise_fraction", max_rise_fraction))
    for key, value in limits:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InputError(f"refine_check.{key} must be a finite number >= 0, got {value}",
                             setting=f"refine_check.{key}")

    def usable(value: float | None) -> bool:
        return value is not None and math.isfinite(value) and value > 0

    def verdict(accepted: bool, reason: str) -> FluxCheck:
        return FluxCheck(before_peak_jy, after_peak_jy, max_change_fraction, accepted, reason, max_rise_fraction)

    if not usable(before_peak_jy):
        return verdict(False, f"no positive calibrator peak in the image of the data as given ({before_peak_jy} "
                              "Jy/beam)")
    if not usable(after_peak_jy):
        return verdict(False, f"no positive calibrator peak in the image of the refined data ({after_peak_jy} "
                              "Jy/beam)")
    ratio = after_peak_jy / before_peak_jy
    lower = 1.0 / (1.0 + max_change_fraction)
    upper = 1.0 + (max_change_fraction if max_rise_fraction is None else max_rise_fraction)
    accepted = lower <= ratio <= upper
    return verdict(accepted, f"calibrator peak {after_peak_jy:.4g} Jy/beam after / {before_peak_jy:.4g} Jy/beam "
                             f"before = {ratio:.3f}, {'within' if accepted else 'outside'} [{lower:.3f}, {upper:.3f}]")


def check_image(ms_paths: Sequence[Path], outdir: Path, name: str, check: RefineCheck, calibrator: FacetCalibrator,
                data_column: str, threads: int) -> Path:
    """A dirty image of ``ms_paths`` centred on the facet calibrator with the settings of ``check``."""
    options = WSCleanOptions(name=Path(name), size_pix=(check.image_size_pix, check.image_size_pix),
                             scale_arcsec=check.image_scale_arcsec, niter=0, weighting="briggs", robust=-0.5,
                             taper_gaussian_arcsec=check.image_taper_arcsec or None, data_column=data_column,
                             shift_radec_deg=(calibrator.ra_deg, calibrator.dec_deg), no_update_model_required=True,
                             threads=threads)
    return make_image(list(ms_paths), outdir, options, overwrite=True).fits["dirty"]


def calibrator_peak_jy(image: Path, calibrator: FacetCalibrator) -> float | None:
    """The calibrator's peak brightness in ``image`` (Jy/beam; None when the image does not cover it)."""
    try:
        return measure_source(load_image(image), calibrator.ra_deg, calibrator.dec_deg).peak_jy_per_beam
    except InputError as exc:
        log.warning("%s: the facet calibrator %s cannot be measured: %s", image.name, calibrator.facet, exc)
        return None


def check_refinement(before_ms: Sequence[Path], before_column: str, after_ms: Sequence[Path], outdir: Path,
                     check: RefineCheck, calibrator: FacetCalibrator, threads: int) -> FluxCheck:
    """Image the data as given and the refined data around the facet calibrator (``<facet>.check-before`` and
    ``<facet>.check-after`` in ``outdir``) and judge the calibrator's peak."""
    peaks = {}
    for when, paths, column in (("before", before_ms, before_column), ("after", after_ms, "DATA")):
        image = check_image(paths, outdir, f"{calibrator.facet}.check-{when}", check, calibrator, column, threads)
        peaks[when] = calibrator_peak_jy(image, calibrator)
    result = judge_flux(peaks["before"], peaks["after"], check.max_peak_change_fraction,
                        check.max_peak_rise_fraction)
    log.info("facet %s check: %s", calibrator.facet, result.reason)
    return result
