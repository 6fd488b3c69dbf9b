"""Shared fixtures: simulated observations (cached per session) and tool helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from lofar_hires.simulation.config import SimulationConfig, load_simulation_config
from lofar_hires.simulation.simulate import SimulationResult, run_simulation

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


def image(ms, outdir: Path, name: str, *, size_pix: int = 512, scale_arcsec: float = 3.0,
          niter: int = 0, weighting: str = "briggs", robust: float = -0.5, data_column: str = "DATA",
          maxuv_lambda: float | None = None, restoring_beam_arcsec: float | None = None,
          threshold_jy: float | None = None) -> dict[str, Path]:
    """Image with WSClean through the package's imaging task; return FITS paths by kind."""
    from lofar_hires.imaging.image import make_image
    from lofar_hires.runners.wsclean import WSCleanOptions

    extra = ("-threshold", str(threshold_jy)) if threshold_jy is not None else ()
    opts = WSCleanOptions(name=Path(name), size_pix=(size_pix, size_pix), scale_arcsec=scale_arcsec,
                          niter=niter, weighting=weighting, robust=robust, data_column=data_column,
                          mgain=0.6 if niter else None, maxuv_lambda=maxuv_lambda,
                          restoring_beam_arcsec=restoring_beam_arcsec, threads=2, extra_args=extra,
                          no_update_model_required=True)
    return make_image([ms], outdir, opts).fits


def on_grid_skymodel(path: Path, centre_deg: tuple[float, float], n_pix: int, scale_arcsec: float,
                     pixels: list[tuple[int, int]], fluxes_jy: list[float]) -> Path:
    """Point sources exactly on the pixel centres of a WSClean image with this geometry."""
    import numpy as np
    from astropy.wcs import WCS

    from lofar_hires.io.skymodel import SkyModel, write_makesourcedb

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crpix = [n_pix / 2 + 1, n_pix / 2 + 1]
    w.wcs.crval = list(centre_deg)
    w.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
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
