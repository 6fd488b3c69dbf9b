"""Settings of final imaging (one schema; the default values, with their sources, live in
``configs/final_imaging.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lofar_hires.config_schema import apply_overrides, from_mapping, load_yaml, option, shipped_defaults
from lofar_hires.errors import InputError


@dataclass(frozen=True)
class ResolutionConfig:
    """One resolution of the final images (an item of ``resolutions``, not a section with defaults of its own):
    ``taper_arcsec``, the Gaussian taper (FWHM) of the visibilities (0: none), ``pixel_arcsec``, the pixel
    size that samples it (about a third of the taper), and ``restoring_beam_arcsec``, the circular restoring
    beam of every facet image (0: WSClean's fit of each image's PSF; facet images restored with different
    beams cannot be mosaicked)."""

    taper_arcsec: float = field(metadata={"unit": "arcsec", "min": 0.0})
    pixel_arcsec: float = field(metadata={"unit": "arcsec", "min": 1e-3})
    restoring_beam_arcsec: float = field(default=0.0, metadata={"unit": "arcsec", "min": 0.0})


@dataclass(frozen=True)
@shipped_defaults("final_imaging.yaml", "primary_beam")
class PrimaryBeamConfig:
    time_step_s: float = option(help="the beam is evaluated at times this far apart and averaged", unit="s",
                                min=1.0)
    freq_step_hz: float = option(help="the beam is evaluated at frequencies this far apart and averaged",
                                 unit="Hz", min=1.0)
    grid_step_pix: int = option(help="the beam is evaluated every this many pixels and interpolated", min=1,
                                max=1024)
    min_beam: float = option(help="pixels where the beam is below this fraction of its peak are blanked in the "
                             "corrected image", min=0.0, max=1.0)


@dataclass(frozen=True)
@shipped_defaults("final_imaging.yaml")
class FinalImagingConfig:
    resolutions: dict[str, ResolutionConfig] = option(help="name -> taper and pixel size of each resolution")
    data_column: str = option(help="column of the facet datasets to image")
    weighting: str = option(help="WSClean weighting", choices=["briggs", "uniform", "natural"])
    robust: float = option(help="Briggs robust parameter", min=-2.0, max=2.0)
    minuv_lambda: float = option(help="shortest baseline imaged", unit="lambda", min=0.0)
    weighting_cell_lambda: float = option(
        help="size of the Briggs weighting grid's cells, the same for every facet (WSClean's -super-weight chosen "
        "per image); 0: each image's own grid, whose cells shrink as the image grows", unit="lambda", min=0.0)
    multiscale: bool = option(help="multi-scale deconvolution")
    auto_mask_sigma: float = option(help="WSClean auto-masking threshold", unit="sigma", min=0.5)
    auto_threshold_sigma: float = option(help="WSClean cleaning threshold", unit="sigma", min=0.1)
    local_rms_window_beams: float = option(help="size of the local-rms box", unit="synthesised beams", min=1.0)
    niter: int = option(help="most clean iterations", min=0)
    mgain: float = option(help="major-cycle gain", min=0.01, max=1.0)
    baseline_averaging: bool = option(help="baseline-dependent averaging during imaging")
    max_smearing_loss: float = option(help="peak loss the baseline-dependent averaging may cause at the facet's "
                                      "farthest corner", min=1e-5, max=0.5)
    padding: float = option(help="image margin around the facet polygon, as a fraction of its extent", min=0.0,
                            max=1.0)
    max_image_pix: int = option(help="larger facet images are refused", min=64)
    primary_beam: PrimaryBeamConfig = option(help="primary-beam correction")

    def resolution(self, name: str) -> ResolutionConfig:
        try:
            return self.resolutions[name]
        except KeyError:
            raise InputError(f"unknown resolution {name!r}; the configuration has {', '.join(self.resolutions)}",
                             setting="resolution") from None


def load_final_imaging_config(config_file: Path | None = None, overrides=()) -> FinalImagingConfig:
    """Shipped defaults (configs/final_imaging.yaml), then a YAML file, then ``key=value`` overrides."""
    data = load_yaml(config_file) if config_file else {}
    cfg = from_mapping(FinalImagingConfig, apply_overrides(data, list(overrides)))
    if not cfg.resolutions:
        raise InputError("the configuration names no resolution", setting="resolutions")
    return cfg
