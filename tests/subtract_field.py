"""The simulated field of the facet-subtraction tests, and the truth each facet dataset is compared with.

``make_subtract_field`` simulates the ``dd`` preset (one observation, twelve faint sources
besides the four calibrators), lays out the four calibrators' facets with ``lofar-hires
facets``, puts every component into the patch of its facet and simulates the field again
with that sky: the TEC screen is then evaluated once per facet, so the truth h5parm has one
direction per facet, named like it. Its ``tecscreen`` becomes the DD solutions
(``lofar-hires h5 merge``).

``reference`` simulates the same observation (same seed: the same noise and the same
screen) with only one facet's components: the data a perfect subtraction must leave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.cli import main
from lofar_hires.io.regions import read_ds9_polygons
from lofar_hires.io.skymodel import SkyModel, read_makesourcedb, write_makesourcedb
from lofar_hires.selection.table import CalibratorRow, write_table
from lofar_hires.simulation.simulate import SimulationResult
from lofar_hires.subtract.plan import assign_components, facets_from_regions

#: One 30-minute observation of the dd preset, with sources spread over every facet, bright enough (signal to
#: noise > 100 in the facet images) that their fluxes can be checked to a few per cent.
BASE = ("observation.n_observations=1", "sky.n_faint=12", "sky.faint_flux_jy=[0.5,1.0]")
#: The hard case: the station beam, amplitude scintillation (amplitude solutions) and Gaussian sources.
HARD = ("corruptions.beam.enabled=true", "corruptions.scintillation.enabled=true", "sky.n_resolved=3",
        "sky.resolved_flux_jy=[0.5,1.0]")
#: Resolution the tests image the facet datasets at (arcsec): a 20 arcsec taper, so that the facets are averaged.
RESOLUTION_ARCSEC = 20.0


@dataclass(frozen=True)
class SubtractField:
    name: str
    folder: Path
    sim: SimulationResult
    sky: SkyModel
    skymodel: Path
    regions: Path
    h5parm: Path
    facets: list[str]
    overrides: tuple[str, ...]

    @property
    def ms(self) -> Path:
        return self.sim.targets()[0].ms

    def facet_of(self) -> np.ndarray:
        """Index of each component's facet."""
        return assign_components(self.sky, facets_from_regions(read_ds9_polygons(self.regions), self.regions))

    def only(self, facet: str) -> SkyModel:
        return self.sky.select(np.array([p == facet for p in self.sky.patches]))


def make_subtract_field(simulated, folder: Path, seed: int, extra: Sequence[str] = ()) -> SubtractField:
    """Simulate the field of ``seed`` with facet patches (``extra``: more simulator overrides)."""
    name = f"subtract_{seed}{'_hard' if extra else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    overrides = (*BASE, f"seed={seed}", *extra)
    base = simulated(f"{name}_base", preset="dd", overrides=overrides)
    sky = read_makesourcedb(base.sky_model)
    bright = [i for i, n in enumerate(sky.names) if n.startswith("bright")]
    table = write_table(folder / "calibrators.csv", [
        CalibratorRow(name=sky.names[i], ra_deg=float(np.degrees(sky.ra_rad[i]) % 360.0),
                      dec_deg=float(np.degrees(sky.dec_rad[i])), category="main", score_rad=1.0,
                      peak_flux_jy=float(sky.i_jy[i])) for i in bright])
    layout = folder / "layout"
    assert main(["--log-level", "WARNING", "facets", str(table), "-o", str(layout), "--msin",
                 str(base.targets()[0].ms), "--box-deg", "0.5", "--resolution-arcsec", str(RESOLUTION_ARCSEC),
                 "--overwrite"]) == 0
    regions = layout / "facets.reg"
    facets = facets_from_regions(read_ds9_polygons(regions), regions)
    index = assign_components(sky, facets)
    assert (index >= 0).all(), "every simulated source lies in a facet"
    patched = dataclasses.replace(sky, patches=[facets[i].name for i in index], patch_positions={})
    skymodel = write_makesourcedb(patched, folder / "facets_truth.skymodel")
    sim = simulated(name, preset="dd", overrides=(*overrides, f"sky.skymodel={skymodel}"))
    h5parm = folder / "dd_truth.h5"
    truth = sim.targets()[0].truth_h5
    inputs = [f"{truth}:sol000/tecscreen"]
    if "corruptions.scintillation.enabled=true" in extra:  # direction-independent amplitudes, in every direction
        inputs.insert(0, f"{truth}:sol000/scintillation")
    assert main(["--log-level", "WARNING", "h5", "merge", *inputs, "-o", str(h5parm), "--freq-grid",
                 str(sim.targets()[0].ms), "--overwrite"]) == 0
    return SubtractField(name, folder, sim, read_makesourcedb(skymodel), skymodel, regions, h5parm,
                         [f.name for f in facets], overrides)


def reference(simulated, field: SubtractField, facet: str) -> Path:
    """The observation simulated with only ``facet``'s components (same noise and screen)."""
    path = field.folder / f"only_{facet}.skymodel"
    if not path.exists():
        write_makesourcedb(field.only(facet), path)
    sim = simulated(f"{field.name}_only_{facet}", preset="dd", overrides=(*field.overrides, f"sky.skymodel={path}"))
    return sim.targets()[0].ms
