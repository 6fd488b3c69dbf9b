"""Calibrator sky models shipped with the package (``configs/skymodels/<name>.skymodel``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lofar_hires.errors import InputError
from lofar_hires.io.skymodel import SkyModel, read_makesourcedb

#: Shipped calibrator models, by name.
CALIBRATOR_MODELS = ("3C196", "3C295")


def calibrator_model_path(model: str) -> Path:
    """Path of a shipped calibrator model by name, or the given file path."""
    if model in CALIBRATOR_MODELS:
        return Path(str(resources.files("lofar_hires.configs") / "skymodels" / f"{model}.skymodel"))
    path = Path(model)
    if not path.is_file():
        raise InputError(f"calibrator model {model!r} is neither a shipped model ({', '.join(CALIBRATOR_MODELS)}) "
                         "nor an existing makesourcedb file", setting="skymodel")
    return path


def load_calibrator_model(model: str) -> SkyModel:
    """Read a calibrator sky model (shipped name or path)."""
    return read_makesourcedb(calibrator_model_path(model))
