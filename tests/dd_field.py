"""The simulated field of the direction-dependent tests (preset ``dd``) and its facet layout.

``make_dd_field`` simulates the preset once per session (``simulated`` cache), writes a
calibrator table of its four bright sources (the main calibrators), the facet layout
of ``lofar-hires facets`` (a 0.5 deg box, the field of the 900 x 2 arcsec facet images)
and a starting sky model holding only the calibrators, as a catalogue would give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.cli import main
from lofar_hires.io.skymodel import SkyModel, read_makesourcedb, write_makesourcedb
from lofar_hires.selection.table import CalibratorRow, write_table
from lofar_hires.simulation.simulate import SimulationResult

#: Facet images of the tests: 900 pixels of 2 arcsec (resolving the 6 arcsec Dutch beam).
SIZE_PIX, SCALE_ARCSEC = 900, 2.0
#: Clip box of the facet layout (deg): a little more than the image.
BOX_DEG = 0.5


@dataclass(frozen=True)
class DdField:
    sim: SimulationResult
    sky: SkyModel
    calibrators: list[str]
    table: Path
    regions: Path
    start_model: Path

    @property
    def ms(self) -> list[Path]:
        return [t.ms for t in self.sim.targets()]

    @property
    def truth(self) -> list[Path]:
        return [t.truth_h5 for t in self.sim.targets()]


def make_dd_field(simulated, folder: Path) -> DdField:
    sim = simulated("dd", preset="dd")
    sky = read_makesourcedb(sim.sky_model)
    bright = np.array([n.startswith("bright") for n in sky.names])
    names = [n for n, b in zip(sky.names, bright) if b]
    ra, dec = np.degrees(sky.ra_rad) % 360.0, np.degrees(sky.dec_rad)
    table = write_table(folder / "calibrators.csv", [
        CalibratorRow(name=sky.names[i], ra_deg=float(ra[i]), dec_deg=float(dec[i]), category="main", score_rad=1.0,
                      peak_flux_jy=float(sky.i_jy[i])) for i in np.flatnonzero(bright)])
    layout = folder / "layout"
    assert main(["--log-level", "WARNING", "facets", str(table), "-o", str(layout), "--msin",
                 str(sim.targets()[0].ms), "--box-deg", str(BOX_DEG), "--resolution-arcsec", "6"]) == 0
    start = write_makesourcedb(sky.select(bright), folder / "calibrators.skymodel")
    return DdField(sim, sky, names, table, layout / "facets.reg", start)


def dd_strategy(folder: Path, extra: str = "", name: str = "dd_strategy.yaml") -> Path:
    """A one-solve multi-direction strategy: scalar phases per 20 s with the Dutch 20 MHz kernel; images
    tapered to the 6 arcsec resolution of the Dutch stations."""
    path = folder / name
    path.write_text(f"""name: ddtest
solves:
  - name: ddphase
    soltype: scalarphase
    solint_s: 20.0
    smoothness_hz: 20.0e+6
imaging:
  size_pix: {SIZE_PIX}
  scale_arcsec: {SCALE_ARCSEC}
  niter: 5000
  taper_gaussian_arcsec: 6.0
stopping:
  min_cycles: 2
  max_cycles: 3
  stability_stations: remote
{extra}""")
    return path
