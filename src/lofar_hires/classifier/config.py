"""Settings of the self-calibration image classifier (defaults: ``configs/classifier.yaml``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, option, shipped_defaults
from lofar_hires.errors import InputError


@dataclass(frozen=True)
@shipped_defaults("classifier.yaml", "preprocess")
class PreprocessSpec:
    """How a FITS image becomes the network's input (one function for training and inference)."""

    input_size_pix: int = option(help="side of the square input image", unit="pixel", min=14, max=4096)
    patch_size_pix: int = option(help="patch size of the backbone; the input side must be a multiple of it",
                                 unit="pixel", min=1, max=64)
    stretch_sigma: float = option(help="the stretch is linear below this many times the image rms, logarithmic "
                                  "above", unit="sigma", min=0.0)
    reference_dynamic_range: float = option(help="brightness (times the image rms) mapped to the top of the scale; "
                                            "brighter pixels are clipped", min=1.0)
    crop_arcsec: float = option(help="side of the central square the network sees (0: the largest central square "
                                "of the image); a model judges images of the field of view it was trained on",
                                unit="arcsec", min=0.0)
    channel_mean: tuple[float, float, float] = option(help="per-channel mean subtracted after the stretch")
    channel_std: tuple[float, float, float] = option(help="per-channel standard deviation divided out after the "
                                                     "stretch")

    def validate(self) -> None:
        """Cross-field checks."""
        if self.input_size_pix % self.patch_size_pix:
            raise InputError(f"preprocess.input_size_pix ({self.input_size_pix}) must be a multiple of "
                             f"preprocess.patch_size_pix ({self.patch_size_pix})", setting="preprocess.input_size_pix")
        if self.stretch_sigma <= 0:
            raise InputError(f"preprocess.stretch_sigma must be positive, got {self.stretch_sigma:g}",
                             setting="preprocess.stretch_sigma")
        if any(s <= 0 for s in self.channel_std):
            raise InputError(f"preprocess.channel_std must be positive, got {list(self.channel_std)}",
                             setting="preprocess.channel_std")


def _check_range(name: str, bounds: tuple[float, float], positive: bool = True) -> None:
    lo, hi = bounds
    if lo > hi:
        raise InputError(f"{name}: lower bound {lo:g} is above upper bound {hi:g}", setting=name)
    if positive and lo <= 0:
        raise InputError(f"{name}: values must be positive, got {lo:g}", setting=name)


@dataclass(frozen=True)
@shipped_defaults("classifier.yaml", "dataset")
class DatasetSpec:
    """What the simulated self-calibration runs of ``classifier dataset`` vary from field to field."""

    preset: str = option(help="simulator preset of each field (one in-field calibrator)")
    strategy: str = option(help="self-calibration strategy of each run (shipped name or YAML file); it must make "
                           "a fixed number of cycles")
    calibrator_flux_jy: tuple[float, float] = option(help="range of the calibrator's flux", unit="Jy")
    tec_rms_at_100km_tecu: tuple[float, float] = option(help="range of the direction-independent TEC residual at "
                                                        "100 km", unit="TECU")
    gaussian_fraction: float = option(help="fraction of fields whose calibrator is a Gaussian", min=0.0, max=1.0)
    gaussian_fwhm_arcsec: tuple[float, float] = option(help="range of a Gaussian calibrator's major axis (FWHM)",
                                                       unit="arcsec")
    contaminated_fraction: float = option(help="fraction of fields with a second bright source near the "
                                          "calibrator", min=0.0, max=1.0)
    contaminant_flux_jy: tuple[float, float] = option(help="range of the second source's flux", unit="Jy")
    contaminant_distance_deg: tuple[float, float] = option(help="range of the second source's distance from the "
                                                           "calibrator", unit="deg")
    point_start_fraction: float = option(help="fraction of runs that start from a point model at the calibrator "
                                         "(the others start from no model)", min=0.0, max=1.0)
    two_international_fraction: float = option(help="fraction of fields that keep only two of the preset's "
                                               "international stations, drawn at random (the elongated beam and "
                                               "fringe sidelobes of a sparse long-baseline array)",
                                               min=0.0, max=1.0)

    def validate(self) -> None:
        for name in ("calibrator_flux_jy", "tec_rms_at_100km_tecu", "gaussian_fwhm_arcsec", "contaminant_flux_jy",
                     "contaminant_distance_deg"):
            _check_range(f"dataset.{name}", getattr(self, name))


@dataclass(frozen=True)
@shipped_defaults("classifier.yaml", "labels")
class LabelRule:
    """How an image is labelled continue (1) or stop (0) from the truth of its simulation."""

    phase_error_rad: float = option(help="continue while the residual phase error towards the calibrator, from "
                                    "its peak relative to the true peak, is above this", unit="rad", min=0.0)
    dynamic_range_gain: float = option(help="continue while a later cycle of the run raises the dynamic range by "
                                       "more than this fraction", min=0.0)
    resolved_peak_fraction: float = option(help="stop (resolved out) when the calibrator's true peak at the "
                                           "image's resolution is below this fraction of its flux",
                                           min=0.0, max=1.0)


@dataclass(frozen=True)
@shipped_defaults("classifier.yaml")
class ClassifierConfig:
    """Every setting of ``configs/classifier.yaml``."""

    preprocess: PreprocessSpec = option(help="how a self-calibration image becomes the network's input")
    dataset: DatasetSpec = option(help="the simulated fields of the training images")
    labels: LabelRule = option(help="how a training image is labelled from the truth")

    def validate(self) -> None:
        self.preprocess.validate()
        self.dataset.validate()


def load_classifier_config(config_file: Path | None = None, overrides: Sequence[str] = ()) -> ClassifierConfig:
    """Shipped defaults (configs/classifier.yaml), then a YAML file, then ``key=value`` overrides."""
    data = load_yaml(config_file) if config_file else {}
    cfg = from_mapping(ClassifierConfig, apply_overrides(data, list(overrides)))
    cfg.validate()
    return cfg
