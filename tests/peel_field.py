"""The simulated field of the peeling tests, and the same observation without the sources to peel.

``make_peel_field`` simulates the ``dd`` preset (one observation; four 2-4 Jy calibrators and
a few fainter sources within 0.2 deg) with two bright sources added about one degree away:
``peelA`` (25 Jy) and ``peelB`` (5 Jy), 0.2 deg apart, each a patch of its own, so that the
TEC screen gives each its own direction-dependent phases. The reference is the same
observation (same seed: the same noise and screen) without them: what perfect peeling leaves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.io.ms import read_ms_info
from lofar_hires.io.skymodel import SkyModel, read_makesourcedb, write_makesourcedb
from lofar_hires.simulation.simulate import SimulationResult

BASE = ("observation.n_observations=1",)
#: The hard case: the station beam (1 deg from the pointing it attenuates and varies) and amplitude scintillation.
HARD = ("corruptions.beam.enabled=true", "corruptions.scintillation.enabled=true")
#: The sources to peel: name, offset east and north of the phase centre (deg), flux at the reference frequency (Jy).
PEEL_SOURCES = (("peelA", 0.8, 0.6, 25.0), ("peelB", 0.95, 0.45, 5.0))


@dataclass(frozen=True)
class PeelField:
    sim: SimulationResult
    reference: SimulationResult
    skymodel: Path
    sky: SkyModel
    overrides: tuple[str, ...]

    @property
    def ms(self) -> Path:
        return self.sim.targets()[0].ms

    @property
    def reference_ms(self) -> Path:
        return self.reference.targets()[0].ms

    @property
    def beam(self) -> bool:
        return "corruptions.beam.enabled=true" in self.overrides

    def position(self, name: str) -> tuple[float, float]:
        i = self.sky.names.index(name)
        return float(np.degrees(self.sky.ra_rad[i]) % 360.0), float(np.degrees(self.sky.dec_rad[i]))

    def flux(self, name: str) -> float:
        return float(self.sky.i_jy[self.sky.names.index(name)])


def with_point(sky: SkyModel, name: str, ra_rad: float, dec_rad: float, flux_jy: float) -> SkyModel:
    """``sky`` and one flat-spectrum point source, a patch of its own."""
    return dataclasses.replace(
        sky, names=[*sky.names, name], types=[*sky.types, "POINT"], patches=[*sky.patches, name],
        ra_rad=np.r_[sky.ra_rad, ra_rad], dec_rad=np.r_[sky.dec_rad, dec_rad], i_jy=np.r_[sky.i_jy, flux_jy],
        ref_freq_hz=np.r_[sky.ref_freq_hz, sky.ref_freq_hz[0]],
        spectral_index=np.r_[sky.spectral_index, np.zeros((1, sky.spectral_index.shape[1]))],
        log_si=np.r_[sky.log_si, True], major_arcsec=np.r_[sky.major_arcsec, 0.0],
        minor_arcsec=np.r_[sky.minor_arcsec, 0.0], orientation_deg=np.r_[sky.orientation_deg, 0.0],
        patch_positions={})


def make_peel_field(simulated, folder: Path, seed: int, extra: Sequence[str] = ()) -> PeelField:
    name = f"peel_{seed}{'_hard' if extra else ''}"
    overrides = (*BASE, f"seed={seed}", *extra)
    base = simulated(f"{name}_base", preset="dd", overrides=overrides)
    sky = read_makesourcedb(base.sky_model)
    ra0, dec0 = read_ms_info(base.targets()[0].ms).phase_centre_rad
    for source, east_deg, north_deg, flux in PEEL_SOURCES:
        sky = with_point(sky, source, ra0 + np.radians(east_deg) / np.cos(dec0), dec0 + np.radians(north_deg), flux)
    folder.mkdir(parents=True, exist_ok=True)
    skymodel = write_makesourcedb(sky, folder / "peel_field.skymodel")
    sim = simulated(name, preset="dd", overrides=(*overrides, f"sky.skymodel={skymodel}"))
    reference = simulated(f"{name}_reference", preset="dd", overrides=(*overrides, f"sky.skymodel={base.sky_model}"))
    return PeelField(sim, reference, skymodel, read_makesourcedb(skymodel), overrides)
