"""Shared fixtures: simulated observations (cached per session), runs that several test modules
check (`make demo`, the calibrator pipeline on the ``dical`` preset, each once per session) and
tool helpers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lofar_hires.simulation.config import SimulationConfig, load_simulation_config
from lofar_hires.simulation.simulate import SimulationResult, run_simulation

if TYPE_CHECKING:
    from lofar_hires.calibration.di_calibrator import CalibratorResult

REPO = Path(__file__).resolve().parents[1]

#: Every corruption switched off (thermal noise included).
ALL_CORRUPTIONS_OFF = tuple(
    f"corruptions.{name}.enabled=false"
    for name in ("clock", "polalign", "bandpass", "faraday", "tec", "tecscreen", "scintillation",
                 "beam", "noise")
)

#: Direction-independent corruptions only (no beam, no screen, no noise).
DI_ONLY = (
    "corruptions.tecscreen.enabled=false",
    "corruptions.beam.enabled=false",
    "corruptions.noise.enabled=false",
)


def tree_sha256(path: Path) -> str:
    """sha256 over every file below ``path`` (relative names and contents), or of the file itself:
    equal before and after a command means the command left its input untouched."""
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def file_checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` by its path relative to ``folder`` (``./a/b``), as
    ``sha256sum`` writes them in tools/run_demo.sh."""
    import hashlib

    folder = Path(folder)
    return {f"./{p.relative_to(folder)}": hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def table_differences(a: Path, b: Path, rtol: float = 0.0) -> list[str]:
    """Columns of two casacore tables (e.g. measurement sets), and of their subtables, whose contents
    differ; empty when both hold the same data (the files themselves may differ in unused bytes).
    Floating-point values may differ by ``rtol`` of the largest magnitude in their column."""
    import numpy as np
    from casacore.tables import table

    def cells(t, column: str):
        try:
            return t.getcol(column)
        except RuntimeError:  # variable shapes, or a column without data (FLAG_CATEGORY)
            try:
                return t.getvarcol(column)
            except RuntimeError:
                return None

    def same(x, y) -> bool:
        if isinstance(x, dict) or isinstance(y, dict):
            return isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys() and all(
                same(x[k], y[k]) for k in x)
        if x is None or y is None:
            return x is None and y is None
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            if x.shape != y.shape:
                return False
            if rtol == 0.0 or x.size == 0:
                return bool(np.array_equal(x, y, equal_nan=True))
            scale = float(np.nanmax(np.abs(x), initial=0.0))
            return bool(np.allclose(x, y, rtol=0.0, atol=rtol * scale, equal_nan=True))
        return x.shape == y.shape and bool(np.array_equal(x, y))

    differences: list[str] = []
    with table(str(a), ack=False) as ta, table(str(b), ack=False) as tb:
        name = Path(a).name
        if ta.nrows() != tb.nrows() or sorted(ta.colnames()) != sorted(tb.colnames()):
            return [f"{name}: {ta.nrows()} rows {sorted(ta.colnames())} vs {tb.nrows()} rows {sorted(tb.colnames())}"]
        differences += [f"{name}:{c}" for c in ta.colnames() if not same(cells(ta, c), cells(tb, c))]
        subtables = sorted(k for k, v in ta.getkeywords().items() if isinstance(v, str) and v.startswith("Table: "))
        if subtables != sorted(k for k, v in tb.getkeywords().items()
                               if isinstance(v, str) and v.startswith("Table: ")):
            return [*differences, f"{name}: different subtables"]
    for sub in subtables:
        differences += [f"{name}/{d}" for d in table_differences(Path(a) / sub, Path(b) / sub, rtol)]
    return differences


def make_config(preset: str = "tiny", overrides: Iterable[str] = ()) -> SimulationConfig:
    """A validated simulator configuration from a preset plus overrides."""
    return load_simulation_config(preset, None, list(overrides))


@pytest.fixture(scope="session")
def simulated(tmp_path_factory) -> Callable[..., SimulationResult]:
    """Simulate once per (name) and cache the result for the whole session.

    Usage: ``simulated("clean", preset="tiny", overrides=[...])``.
    """
    cache: dict[str, SimulationResult] = {}
    root = tmp_path_factory.mktemp("simulations")

    def get(name: str, preset: str = "tiny", overrides: Iterable[str] = ()) -> SimulationResult:
        if name not in cache:
            cache[name] = run_simulation(make_config(preset, overrides), root / name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def venv_bin() -> Path:
    """Directory of the running interpreter (holds DP3.py, cwltool, lofar-hires)."""
    return Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def _tools_on_path(venv_bin: Path) -> None:
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"


def _tool_env(tmp: Path) -> dict[str, str]:
    """The environment of a command-line run: the venv's bin first on PATH, temporary files in ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                TMPDIR=str(tmp))


@dataclass
class DemoRun:
    """A run of tools/run_demo.sh (what `make demo` runs: ``lofar-hires run``) on the tiny field (the embedded
    default, medium, takes about twice as long) into the run folder ``out``, started in the background."""

    out: Path
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path
    timeout_s: float = 3600.0

    def wait(self) -> DemoRun:
        """Wait until the demo has finished (killed with its children after ``timeout_s``)."""
        try:
            self.process.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def failure(self) -> str:
        """The end of the demo's output, to show when it failed."""
        return self.stdout[-3000:] + self.stderr[-3000:]

    def manifest(self) -> dict:
        """The run's manifest (``run.json``)."""
        return json.loads((self.out / "run.json").read_text())

    def outputs(self, module: str) -> dict:
        """A module's output object as placed in the run tree (per observation: ``{obs: object}``)."""
        for rec in self.manifest()["modules"]:
            if rec["name"] == module:
                return rec["outputs"]
        raise KeyError(f"the demo ran no module {module}")

    def job(self, name: str) -> dict:
        """The job the chain wrote for a module's workflow (``di_calibrator.obs01``, ``sva``, ...)."""
        return json.loads((self.out / "jobs" / f"{name}.json").read_text())

    def recorded_checksums(self) -> dict[str, str]:
        """The checksums of the simulated observations that the demo wrote after the simulation."""
        lines = (self.out / "simulation.sha256").read_text().splitlines()
        return {name: digest for digest, name in (line.split(None, 1) for line in lines)}


def mosaic_sources(run_dir: Path, min_flux_jy: float = 1.0) -> dict[str, tuple[float, float]]:
    """The sources of a simulated run's truth brighter than ``min_flux_jy`` in its final mosaic (the one of
    ``images/final_imaging/mosaic.*.fits``): name -> (integrated flux / true flux, offset in arcsec)."""
    from lofar_hires.imaging.compare import compare_with_skymodel

    (mosaic,) = [p for p in (run_dir / "images" / "final_imaging").glob("mosaic.*.fits")
                 if not p.name.endswith("-rms.fits")]
    truth = run_dir / "products" / "simulate" / "simulation" / "sky_truth.skymodel"
    rows, _ = compare_with_skymodel(mosaic, truth, min_flux_jy, compact_only=True)
    return {r.name: (float("nan") if r.integrated_ratio is None else r.integrated_ratio, r.offset_arcsec)
            for r in rows}


#: Session fixtures that are expensive enough that all tests using them run in one pytest-xdist worker (``make
#: test`` runs two): fixture -> the group of those tests.
SHARED_FIXTURE_GROUPS = {"dd_field": "dd", "dd_dutch": "dd", "dd_international": "dd", "demo": "demo",
                         "demo_started": "demo"}


# The groups that take longest, handed out first (make test runs ``--no-loadscope-reorder``) so that no worker
# starts one of them when the other has run out of work: the whole tiny chain on SLURM, the demo chain.
LONGEST_GROUPS_FIRST = ("slurm", "demo", "dd")


def in_xdist_worker() -> bool:
    """Whether this process is a pytest-xdist worker (``pytest -n N``)."""
    return "PYTEST_XDIST_WORKER" in os.environ


def xdist_group(item: pytest.Item) -> str:
    """The unit of work a test belongs to in a parallel run: the group of the shared session fixture it uses,
    the local SLURM cluster, or else its module (module-scoped fixtures are then computed once)."""
    names = getattr(item, "fixturenames", ())
    for fixture, group in SHARED_FIXTURE_GROUPS.items():
        if fixture in names:
            return group
    if item.get_closest_marker("slurm") is not None:
        return "slurm"
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    """In a serial run, tests that check `make demo` run last: the demo (the tiny chain, about ten minutes on
    two cores) runs in the background from the start of the session, next to the other tests. In a parallel run
    (pytest-xdist with ``--dist loadgroup``) every test gets its group (:func:`xdist_group`) and the demo runs
    in the worker that first needs it."""
    if in_xdist_worker():
        groups = {id(item): xdist_group(item) for item in items}
        for item in items:
            item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
        first = {group: rank for rank, group in enumerate(LONGEST_GROUPS_FIRST)}
        items.sort(key=lambda item: first.get(groups[id(item)], len(first)))
        return
    waiting = {id(item) for item in items if "demo" in getattr(item, "fixturenames", ())}
    items[:] = [item for item in items if id(item) not in waiting] + [item for item in items if id(item) in waiting]


@pytest.fixture(scope="session", autouse=True)
def _demo_in_background(request) -> None:
    """Start the demo with the session when a selected test checks it (serial runs)."""
    if in_xdist_worker():
        return
    if any("demo" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("demo_started")


@pytest.fixture(scope="session")
def demo_started(tmp_path_factory) -> Iterator[DemoRun]:
    """tools/run_demo.sh started in the background, once per session (by ``_demo_in_background``);
    :func:`demo` waits for it."""
    tmp = tmp_path_factory.mktemp("demo")
    stdout, stderr = tmp / "demo.stdout", tmp / "demo.stderr"
    with stdout.open("w") as out_fh, stderr.open("w") as err_fh:
        process = subprocess.Popen(["bash", str(REPO / "tools" / "run_demo.sh"), str(tmp / "demo"), "tiny"], cwd=REPO,
                                   env=_tool_env(tmp / "tmp"), stdin=subprocess.DEVNULL, stdout=out_fh,
                                   stderr=err_fh, start_new_session=True)
    run = DemoRun(tmp / "demo", process, stdout, stderr)
    yield run
    run.stop()


@pytest.fixture(scope="session")
def demo(demo_started: DemoRun) -> DemoRun:
    """The finished run of tools/run_demo.sh (its exit status is for the tests to check)."""
    return demo_started.wait()


@dataclass(frozen=True)
class DicalCalibration:
    """``lofar-hires di-calibrator`` on the calibrator observation of the ``dical`` preset."""

    ms: Path
    skymodel: Path
    input_sha256: str  # of the input MS before the run
    result: CalibratorResult


@pytest.fixture(scope="session")
def dical_calibration(tmp_path_factory) -> DicalCalibration:
    """The calibrator pipeline (the CLI, plots included) once per session on the ``dical`` calibrator, which
    tests/calibration/test_di_pipeline.py checks against the truth.

    The observation is simulated by ``lofar-hires simulate`` in a process of its own: the visibilities of a
    simulation made after others in the same process can differ in the last bits of their float32 values.
    """
    from lofar_hires.calibration.di_calibrator import CalibratorResult

    root = tmp_path_factory.mktemp("dical_calibration")
    env = _tool_env(root / "tmp")
    sim = root / "sim"

    def run(args: list[str], name: str) -> None:
        proc = subprocess.run([str(Path(sys.executable).parent / "lofar-hires"), *args], env=env,
                              capture_output=True, text=True, timeout=900)
        (root / f"{name}.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            pytest.fail(f"lofar-hires {name} failed with exit status {proc.returncode}:\n"
                        + "\n".join((proc.stdout + proc.stderr).splitlines()[-40:]))

    run(["simulate", "--preset", "dical", "--outdir", str(sim)], "simulate")
    ms, skymodel = sim / "calibrator_obs01.MS", sim / "calibrator.skymodel"
    before = tree_sha256(ms)
    outdir = root / "cal"
    run(["di-calibrator", str(ms), "--skymodel", str(skymodel), "--outdir", str(outdir)], "di-calibrator")
    result = CalibratorResult(outdir=outdir, cal_solutions=outdir / "cal_solutions.h5",
                              report=outdir / "calibrator_report.json",
                              plots=sorted((outdir / "plots").glob("*.png")))
    return DicalCalibration(ms, skymodel, before, result)


def image(ms, outdir: Path, name: str, *, size_pix: int = 512, scale_arcsec: float = 3.0,
          niter: int = 0, weighting: str = "briggs", robust: float = -0.5, data_column: str = "DATA",
          maxuv_lambda: float | None = None, restoring_beam_arcsec: float | None = None,
          threshold_jy: float | None = None, super_weight: float | None = None) -> dict[str, Path]:
    """Image with WSClean through the package's imaging task; return FITS paths by kind."""
    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.wsclean import WSCleanOptions

    extra = ("-threshold", str(threshold_jy)) if threshold_jy is not None else ()
    opts = WSCleanOptions(name=Path(name), size_pix=(size_pix, size_pix), scale_arcsec=scale_arcsec,
                          niter=niter, weighting=weighting, robust=robust, data_column=data_column,
                          mgain=0.6 if niter else None, maxuv_lambda=maxuv_lambda,
                          restoring_beam_arcsec=restoring_beam_arcsec, threads=2, extra_args=extra,
                          super_weight=super_weight, no_update_model_required=True)
    return make_image([ms], outdir, opts).fits


def sin_wcs(centre_deg: tuple[float, float], n_pix: int, scale_arcsec: float):
    """The celestial WCS of a square WSClean image (SIN projection, centre on pixel n/2 + 1)."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crpix = [n_pix / 2 + 1, n_pix / 2 + 1]
    w.wcs.crval = list(centre_deg)
    w.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
    return w


def on_grid_skymodel(path: Path, centre_deg: tuple[float, float], n_pix: int, scale_arcsec: float,
                     pixels: list[tuple[int, int]], fluxes_jy: list[float]) -> Path:
    """Point sources exactly on the pixel centres of a WSClean image with this geometry."""
    import numpy as np

    from lofar_hires.io.skymodel import SkyModel, write_makesourcedb

    w = sin_wcs(centre_deg, n_pix, scale_arcsec)
    ra, dec = w.wcs_pix2world(np.array(pixels, dtype=float), 0).T
    n = len(pixels)
    names = [f"grid{i + 1:02d}" for i in range(n)]
    model = SkyModel(names=names, types=["POINT"] * n, patches=names, ra_rad=np.radians(ra % 360),
                     dec_rad=np.radians(dec), i_jy=np.array(fluxes_jy, dtype=float),
                     ref_freq_hz=np.full(n, 150e6), spectral_index=np.full((n, 1), -0.7),
                     log_si=np.ones(n, bool), major_arcsec=np.zeros(n), minor_arcsec=np.zeros(n),
                     orientation_deg=np.zeros(n))
    return write_makesourcedb(model, path)


#: Stations of the example h5parms: split core fields, remote, German and other international stations.
EXAMPLE_STATIONS = ("CS001HBA0", "CS002HBA0", "CS002HBA1", "RS106HBA", "RS205HBA", "RS509HBA", "DE601HBA",
                    "DE605HBA", "FR606HBA")


def example_solset(seed: int = 0, stations: Iterable[str] = EXAMPLE_STATIONS,
                   pols: tuple[str, ...] | None = ("XX", "YY"), n_dir: int = 2, n_time: int = 5, n_freq: int = 3,
                   soltypes: Iterable[str] = ("phase", "amplitude")):
    """A small solset with random solutions (seeded): ``phase000``/``amplitude000``, ... on one grid.

    Axes time (10 s steps), freq (140 MHz upwards), ant, dir (``dir0``, ... near RA 242.75, Dec 55 deg)
    and pol (when ``pols``); a few weights are 0. ``tec`` and ``clock`` soltabs have no pol axis.
    """
    import numpy as np

    from lofar_hires.io.h5parm import Solset, Soltab

    rng = np.random.default_rng(seed)
    stations = list(stations)
    directions = {f"dir{i}": (np.radians(242.75 + 0.5 * i), np.radians(55.0 + 0.3 * i)) for i in range(n_dir)}
    base = {"time": 4.9e9 + 10.0 * np.arange(n_time), "freq": 140e6 + 2e6 * np.arange(n_freq),
            "ant": np.array(stations), "dir": np.array(list(directions))}
    tabs = {}
    for i, soltype in enumerate(soltypes):
        axes = dict(base)
        if pols is not None and soltype in ("phase", "amplitude"):
            axes["pol"] = np.array(pols)
        shape = tuple(len(v) for v in axes.values())
        if soltype == "amplitude":
            val = 1 + 0.2 * rng.standard_normal(shape)
        elif soltype == "tec":
            val = 0.1 * rng.standard_normal(shape)
        elif soltype == "clock":
            val = 1e-8 * rng.standard_normal(shape)
        else:
            val = rng.uniform(-np.pi, np.pi, shape)
        weight = (rng.uniform(size=shape) > 0.05).astype(float)
        name = f"{soltype}{sum(t.soltype == soltype for t in tabs.values()):03d}"
        tabs[name] = Soltab(name, soltype, axes, val, weight)
    positions = np.array([3826577.0, 461022.0, 5064892.0]) + rng.normal(0, 2000, (len(stations), 3))
    return Solset("sol000", stations, positions, directions, tabs)


@pytest.fixture(scope="session")
def dd_field(simulated, tmp_path_factory):
    """The direction-dependent test field (preset ``dd``) with its calibrator table and facets."""
    from dd_field import make_dd_field

    return make_dd_field(simulated, tmp_path_factory.mktemp("dd_field"))


@pytest.fixture(scope="session")
def dd_dutch(dd_field, tmp_path_factory):
    """workflows/dd_dutch.cwl once per session on the dd field: checked by
    tests/selfcal/test_dd_dutch_workflow.py, and the input of the international workflow's test."""
    from dd_field import run_dd_dutch

    return run_dd_dutch(dd_field, tmp_path_factory.mktemp("dd_dutch_workflow"))


@pytest.fixture(scope="session")
def dd_international(dd_field, dd_dutch, tmp_path_factory) -> dict:
    """workflows/dd_international.cwl once per session after the Dutch workflow: checked by
    tests/selfcal/test_dd_international_workflow.py, and the input of the DD refinement's test."""
    from dd_field import run_dd_international

    return run_dd_international(dd_field, dd_dutch, tmp_path_factory.mktemp("dd_international_workflow"))
