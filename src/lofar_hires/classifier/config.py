"""Settings of the self-calibration image classifier (defaults: ``configs/classifier.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass

from lofar_hires.config_schema import option, shipped_defaults
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


@dataclass(frozen=True)
@shipped_defaults("classifier.yaml")
class ClassifierConfig:
    """Every setting of ``configs/classifier.yaml``."""

    preprocess: PreprocessSpec = option(help="how a self-calibration image becomes the network's input")

    def validate(self) -> None:
        self.preprocess.validate()
