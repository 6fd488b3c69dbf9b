"""The simulated field of the direction-dependent tests (preset ``dd``) and its facet layout.

``make_dd_field`` simulates the preset once per session (``simulated`` cache), writes a
calibrator table of its four bright sources (the main calibrators), the facet layout
of ``lofar-hires facets`` (a 0.5 deg box, the field of the 900 x 2 arcsec facet images)
and a starting sky model holding only the calibrators, as a catalogue would give them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conftest import tree_sha256
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


def make_dd_field(simulated, folder: Path, preset: str = "dd", box_deg: float = BOX_DEG,
                  seed: int | None = None) -> DdField:
    sim = simulated(preset if seed is None else f"{preset}_seed{seed}", preset=preset,
                    overrides=() if seed is None else (f"seed={seed}",))
    sky = read_makesourcedb(sim.sky_model)
    bright = np.array([n.startswith("bright") for n in sky.names])
    names = [n for n, b in zip(sky.names, bright) if b]
    ra, dec = np.degrees(sky.ra_rad) % 360.0, np.degrees(sky.dec_rad)
    table = write_table(folder / "calibrators.csv", [
        CalibratorRow(name=sky.names[i], ra_deg=float(ra[i]), dec_deg=float(dec[i]), category="main", score_rad=1.0,
                      peak_flux_jy=float(sky.i_jy[i])) for i in np.flatnonzero(bright)])
    layout = folder / "layout"
    assert main(["--log-level", "WARNING", "facets", str(table), "-o", str(layout), "--msin",
                 str(sim.targets()[0].ms), "--box-deg", str(box_deg), "--resolution-arcsec", "6"]) == 0
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


REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
#: The Dutch recipe at toy size: the field's facet images, slow gains from the first cycle, two cycles, and
#: 40 DDECal iterations per solve (the multi-direction solves stop at the iteration limit; 40 instead of 100
#: changes the phases by less than 0.01 rad here and takes 40 % of the time).
DUTCH_FAST = [f"imaging.size_pix={SIZE_PIX}", f"imaging.scale_arcsec={SCALE_ARCSEC}", "solves.2.start_cycle=0",
              "stopping.min_cycles=2", "stopping.max_cycles=2", "solves.0.maxiter=40", "solves.1.maxiter=40",
              "solves.2.maxiter=40"]
#: The international recipes at toy size: small images, amplitudes from the first cycle, two cycles.
INTL_FAST = ["imaging.size_pix=256", "imaging.scale_arcsec=0.1", "solves.3.start_cycle=0", "stopping.min_cycles=2",
             "stopping.max_cycles=2"]


@dataclass(frozen=True)
class WorkflowRun:
    outputs: dict
    folder: Path
    unchanged: bool  # the input files and directories are byte-identical after the run


def run_workflow(name: str, job: dict, folder: Path, inputs: Sequence[Path], *, parallel: bool = False,
                 timeout_s: float = 1500, tool: bool = False) -> WorkflowRun:
    """``cwltool workflows/<name>.cwl job`` (``steps/<name>.cwl`` with ``tool``) in ``folder``; fails the test with
    the log's tail on an error."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps(job, indent=2))
    (folder / "cwltmp").mkdir(exist_ok=True)
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(folder / "cwltmp"))
    before = {p: tree_sha256(p) for p in inputs}
    args = [str(VENV_BIN / "cwltool"), "--no-container", *(["--parallel"] if parallel else []), "--outdir",
            str(folder / "out"), str(REPO / ("steps" if tool else "workflows") / f"{name}.cwl"),
            str(folder / "job.json")]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    (folder / "cwltool.log").write_text(proc.stderr)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return WorkflowRun(json.loads(proc.stdout), folder, {p: tree_sha256(p) for p in inputs} == before)


def run_dd_dutch(field: DdField, folder: Path, overrides: Sequence[str] = DUTCH_FAST) -> WorkflowRun:
    """workflows/dd_dutch.cwl on the field (toy-size recipe, ``DUTCH_FAST`` unless other overrides are given)."""
    job = {"msin": [{"class": "Directory", "path": str(ms)} for ms in field.ms],
           "calibrators": {"class": "File", "path": str(field.table)},
           "facet_regions": {"class": "File", "path": str(field.regions)},
           "strategy_overrides": list(overrides), "selfcal_cores": 2}
    return run_workflow("dd_dutch", job, folder, (*field.ms, field.table, field.regions))


#: sigma_c per calibrator of the international workflow's run (rad): the last one gets the "bright" recipe, which is
#: made to fail.
SIGMA_C = (0.25, 0.25, 0.25, 0.4)
#: A uv cut above every baseline for the bright recipe: its calibrator fails before any work.
FAIL_BRIGHT = ["international.delta_t_ranges.bright.minuv_lambda=1.0e9"]


def run_dd_international(field: DdField, dutch: WorkflowRun, tmp: Path) -> dict:
    """workflows/dd_international.cwl on the field after the Dutch workflow (toy size, ``INTL_FAST``), with the
    calibrator table of ``SIGMA_C``: one calibrator fails on purpose."""
    from lofar_hires.selection.table import read_table

    rows = read_table(field.table)
    table = write_table(tmp / "calibrators.csv", [r.with_(score_rad=s) for r, s in zip(rows, SIGMA_C)])
    solutions = [Path(f["path"]) for f in dutch.outputs["solutions"]]
    job = {"msin": [{"class": "Directory", "path": str(ms)} for ms in field.ms],
           "dutch_solutions": [{"class": "File", "path": str(p)} for p in solutions],
           "calibrators": {"class": "File", "path": str(table)},
           "facet_regions": {"class": "File", "path": str(field.regions)},
           "integration_s": 20.0, "recipe_overrides": FAIL_BRIGHT, "strategy_overrides": INTL_FAST,
           "merge_international_stations": "international",
           "selfcal_cores": 1, "image_size_pix": SIZE_PIX, "image_scale_arcsec": SCALE_ARCSEC,
           "image_taper_arcsec": 6.0, "image_niter": 5000, "image_cores": 2}
    result = run_workflow("dd_international", job, tmp, (*field.ms, table, field.regions, *solutions),
                          parallel=True)
    failed = rows[SIGMA_C.index(0.4)].name
    return {"field": field, "out": result.outputs, "unchanged": result.unchanged, "failed": failed,
            "working": [r.name for r in rows if r.name != failed], "table": table}
