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
from lofar_hires.runners import dp3_steps
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


#: Geometry of the model images of the tests (a 2 arcsec grid over the 0.5 deg facet layout, with a margin).
IMAGE_PIX, IMAGE_SCALE_ARCSEC = 1024, 2.0


def make_subtract_field(simulated, folder: Path, seed: int, extra: Sequence[str] = (),
                        on_pixels: bool = False) -> SubtractField:
    """Simulate the field of ``seed`` with facet patches (``extra``: more simulator overrides); with ``on_pixels``
    every source is moved to the nearest pixel centre of the model-image grid first (model images then hold the sky
    exactly)."""
    name = f"subtract_{seed}{'_hard' if extra else ''}{'_pix' if on_pixels else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    overrides = (*BASE, f"seed={seed}", *extra)
    base = simulated(f"{name}_base", preset="dd", overrides=overrides)
    sky = read_makesourcedb(base.sky_model)
    if on_pixels:
        sky = snap_to_pixels(sky, image_wcs(base))
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


def image_wcs(sim: SimulationResult):
    """The model-image grid: SIN, centred on the phase centre of the observation."""
    from conftest import sin_wcs
    from lofar_hires.io.ms import read_ms_info

    ra, dec = (float(np.degrees(a)) for a in read_ms_info(sim.targets()[0].ms).phase_centre_rad)
    return sin_wcs((ra % 360.0, dec), IMAGE_PIX, IMAGE_SCALE_ARCSEC)


def snap_to_pixels(sky: SkyModel, wcs) -> SkyModel:
    """The sky with every component at the centre of its nearest pixel."""
    x, y = wcs.wcs_world2pix(np.degrees(sky.ra_rad), np.degrees(sky.dec_rad), 0)
    ra, dec = wcs.wcs_pix2world(np.round(x), np.round(y), 0)
    return dataclasses.replace(sky, ra_rad=np.radians(np.mod(ra, 360.0)), dec_rad=np.radians(dec), patch_positions={})


def write_model_images(field: SubtractField, folder: Path, n_channels: int = 2) -> list[Path]:
    """WSClean-like model images of the field's sky (its sources lie on pixel centres): ``n_channels`` images
    covering the band in equal parts, each holding every component's flux at its channel's centre."""
    from astropy.io import fits

    from lofar_hires.io.ms import read_ms_info

    info = read_ms_info(field.ms)
    lo = float(info.freqs_hz.min() - info.chan_width_hz / 2)
    width = (float(info.freqs_hz.max() + info.chan_width_hz / 2) - lo) / n_channels
    wcs = image_wcs(field.sim)
    x, y = wcs.wcs_world2pix(np.degrees(field.sky.ra_rad), np.degrees(field.sky.dec_rad), 0)
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    assert np.allclose(x, xi, atol=1e-3) and np.allclose(y, yi, atol=1e-3), "the sources lie on pixel centres"
    paths = []
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_channels):
        freq = lo + (k + 0.5) * width
        plane = np.zeros((1, 1, IMAGE_PIX, IMAGE_PIX), np.float32)
        np.add.at(plane[0, 0], (yi, xi), field.sky.flux_jy(np.array([freq]))[:, 0].astype(np.float32))
        header = wcs.to_header()
        header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"] = "FREQ", freq, width, 1.0
        header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
        header["BUNIT"] = "JY/PIXEL"
        path = folder / f"field-{k:04d}-model.fits"
        fits.PrimaryHDU(plane, header=header).writeto(path, overwrite=True)
        paths.append(path)
    return paths


def reference(simulated, field: SubtractField, facet: str) -> Path:
    """The observation simulated with only ``facet``'s components (same noise and screen)."""
    path = field.folder / f"only_{facet}.skymodel"
    if not path.exists():
        write_makesourcedb(field.only(facet), path)
    sim = simulated(f"{field.name}_only_{facet}", preset="dd", overrides=(*field.overrides, f"sky.skymodel={path}"))
    return sim.targets()[0].ms


def has_beam(field: SubtractField) -> bool:
    """Whether the field's data carry the station beam."""
    return "corruptions.beam.enabled=true" in field.overrides


def read_data(ms: Path) -> np.ndarray:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return t.getcol("DATA")


def corrected_reference(field: SubtractField, ref_ms: Path, record: dict, out: Path) -> Path:
    """The facet-only simulation shifted to the facet centre, corrected by the truth and averaged as recorded."""
    avg = record["averaging"]
    steps = [dp3_steps.phaseshift(record["centre_ra_deg"], record["centre_dec_deg"]),
             *(dp3_steps.applybeam() if has_beam(field) else []),
             dp3_steps.applycal(field.h5parm, ["amplitude000", "phase000"], direction=record["direction"]),
             *dp3_steps.averager(avg["time_factor"], avg["chan_factor"])]
    dp3_steps.run_steps(ref_ms, out, steps, out.parent / "logs", out.name)
    return out
