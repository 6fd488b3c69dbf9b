"""The field of the final-imaging tests: the facet datasets of ``lofar-hires subtract`` on a simulated field with
the station beam in the data, and the truth its images are compared with.

``make_final_field`` simulates the subtraction tests' field (the ``dd`` preset, one observation, four facets with
their calibrators and twelve fainter sources, a TEC screen per facet) with the station beam switched on and runs
``lofar-hires subtract`` with the exact DD solutions: each facet's dataset holds its own sources only, shifted to
the facet centre, corrected for the beam towards it and for its ionosphere, averaged for 10 arcsec images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.cli import main
from lofar_hires.io.skymodel import SkyModel
from subtract_field import SubtractField, make_subtract_field

#: The resolutions of the tests (name: taper, pixel size in arcsec): the facets' datasets are averaged for 10 arcsec,
#: and 6 arcsec images of the 0.25 deg facets have about 500 pixels.
RESOLUTIONS = {"10": (10.0, 3.0), "20": (20.0, 6.0)}
#: The beam in the data (the simulator's EveryBeam station response), nothing else but the ionosphere and noise.
BEAM = ("corruptions.beam.enabled=true", "observation.duration_s=14400", "observation.integration_s=60")


@dataclass(frozen=True)
class FinalField:
    field: SubtractField
    facet_ms: list[Path]
    config: Path

    @property
    def sky(self) -> SkyModel:
        return self.field.sky

    @property
    def regions(self) -> Path:
        return self.field.regions

    @property
    def facets(self) -> list[str]:
        return self.field.facets

    def ms_of(self, facet: str) -> Path:
        (ms,) = [m for m in self.facet_ms if m.name.endswith(f".{facet}.ms")]
        return ms


def write_config(path: Path, **settings: object) -> Path:
    lines = ["resolutions:"]
    lines += [f'  "{name}": {{taper_arcsec: {taper}, pixel_arcsec: {pixel}, restoring_beam_arcsec: {taper}}}'
              for name, (taper, pixel) in RESOLUTIONS.items()]
    lines += [f"{k}: {v}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_final_field(simulated, folder: Path, seed: int = 33) -> FinalField:
    field = make_subtract_field(simulated, folder / "field", seed, BEAM)
    out = folder / "facets"
    code = main(["--log-level", "WARNING", "subtract", str(field.ms), "--skymodel", str(field.skymodel),
                 "--h5parm", str(field.h5parm), "--facet-regions", str(field.regions), "-o", str(out),
                 "--resolution-arcsec", "10", "--max-smearing-loss", "0.01", "--threads", str(min(2, os.cpu_count()))])
    assert code == 0
    facet_ms = sorted(out.glob("*.ms"))
    assert len(facet_ms) == len(field.facets), facet_ms
    return FinalField(field, facet_ms, write_config(folder / "final_imaging.yaml"))


def apparent_flux_jy(sky: SkyModel, freq_hz: float) -> np.ndarray:
    """Every component's Stokes I flux at ``freq_hz`` (the truth of a beam-corrected image)."""
    return np.asarray(sky.flux_at(freq_hz), dtype=float)
