"""WSClean commands from typed options, and WSClean runs as subprocesses.

The Debian WSClean 3.1 build has no EveryBeam and no IDG: primary-beam
correction is done elsewhere (DP3 applybeam or the everybeam Python API).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lofar_hires.errors import InputError, QualityError, ToolError
from lofar_hires.provenance import Provenance, ToolRun
from lofar_hires.runners.process import log_tail, run_logged

log = logging.getLogger(__name__)

Weighting = Literal["natural", "uniform", "briggs"]

#: FITS products WSClean writes, by the suffix after ``<name>-``.
IMAGE_KINDS = ("image", "image-pb", "model", "model-pb", "residual", "residual-pb", "psf", "dirty")


@dataclass(frozen=True)
class WSCleanOptions:
    """Imaging settings, with units in the names; ``None`` means WSClean's default."""

    name: Path
    size_pix: tuple[int, int]
    scale_arcsec: float
    niter: int = 0
    weighting: Weighting = "briggs"
    robust: float = -0.5
    pol: str = "i"
    data_column: str = "DATA"
    mgain: float | None = None
    gain: float | None = None
    auto_mask_sigma: float | None = None
    auto_threshold_sigma: float | None = None
    local_rms: bool = False
    #: Size of the local-rms box in synthesised beams (WSClean's default 25 when None).
    local_rms_window_beams: float | None = None
    multiscale: bool = False
    channels_out: int = 1
    join_channels: bool = False
    fit_spectral_pol: int | None = None
    taper_gaussian_arcsec: float | None = None
    minuv_lambda: float | None = None
    maxuv_lambda: float | None = None
    #: ``-super-weight``: a weighting grid this many times coarser than the padded image's (WSClean's default 1).
    super_weight: float | None = None
    baseline_averaging: float | None = None
    no_update_model_required: bool = False
    shift_radec_deg: tuple[float, float] | None = None
    facet_regions: Path | None = None
    #: ``(h5parm, soltabs)``; ``h5parm`` may be a sequence of files, one per measurement set in input order.
    apply_facet_solutions: tuple[Path | Sequence[Path], Sequence[str]] | None = None
    predict: bool = False
    save_source_list: bool = False
    make_psf: bool = False
    restoring_beam_arcsec: float | None = None
    parallel_gridding: int | None = None
    threads: int = 1
    abs_mem_gb: float | None = None
    temp_dir: Path | None = None
    extra_args: Sequence[str] = field(default_factory=tuple)

    def validate(self) -> None:
        """Raise :class:`InputError` for settings WSClean would reject or mishandle."""
        if len(self.size_pix) != 2 or min(self.size_pix) < 16:
            raise InputError(f"image size must be two numbers >= 16, got {self.size_pix}")
        if self.scale_arcsec <= 0:
            raise InputError(f"pixel scale must be positive, got {self.scale_arcsec} arcsec")
        if self.niter < 0:
            raise InputError(f"niter must be >= 0, got {self.niter}")
        if self.weighting not in ("natural", "uniform", "briggs"):
            raise InputError(f"weighting must be natural, uniform or briggs, got {self.weighting!r}")
        if self.baseline_averaging is not None and not self.no_update_model_required:
            raise InputError("baseline averaging in WSClean needs no_update_model_required=True")
        if self.channels_out < 1:
            raise InputError(f"channels_out must be >= 1, got {self.channels_out}")
        if self.local_rms_window_beams is not None and (not self.local_rms or self.local_rms_window_beams <= 0):
            raise InputError("local_rms_window_beams needs local_rms and a positive size")
        if self.super_weight is not None and not (math.isfinite(self.super_weight) and self.super_weight > 0):
            raise InputError(f"super_weight must be positive, got {self.super_weight}")
        if self.apply_facet_solutions is not None and self.facet_regions is None:
            raise InputError("apply_facet_solutions needs facet_regions")


def wsclean_version_tuple(version: str) -> tuple[int, ...] | None:
    """``(3, 1, 0)`` of WSClean's version line (``WSClean version 3.1.0 (2022-04-01)``); None when unreadable."""
    import re

    match = re.search(r"version\s+(\d+)\.(\d+)(?:\.(\d+))?", version)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def local_rms_with_multiscale_works(version: str) -> bool:
    """Whether this WSClean can combine ``-local-rms`` with ``-multiscale``: the Debian 3.1 build aborts (a heap
    corruption, exit 134) on every such run; unknown versions are trusted."""
    parsed = wsclean_version_tuple(version)
    return parsed is None or parsed[:2] >= (3, 2)


def build_wsclean_command(opts: WSCleanOptions, ms_paths: Sequence[Path]) -> list[str]:
    """Return WSClean's argument list (without the program name); a pure function."""
    opts.validate()
    if not ms_paths:
        raise InputError("WSClean needs at least one measurement set")
    args: list[str] = ["-name", str(opts.name)]
    if opts.predict:
        args.append("-predict")
    else:
        args += ["-size", str(opts.size_pix[0]), str(opts.size_pix[1])]
        args += ["-scale", f"{opts.scale_arcsec}asec", "-niter", str(opts.niter)]
        if opts.weighting == "briggs":
            args += ["-weight", "briggs", repr(float(opts.robust))]
        else:
            args += ["-weight", opts.weighting]
    args += ["-pol", opts.pol, "-data-column", opts.data_column, "-j", str(opts.threads)]
    if opts.mgain is not None:
        args += ["-mgain", repr(opts.mgain)]
    if opts.gain is not None:
        args += ["-gain", repr(opts.gain)]
    if opts.auto_mask_sigma is not None:
        args += ["-auto-mask", repr(opts.auto_mask_sigma)]
    if opts.auto_threshold_sigma is not None:
        args += ["-auto-threshold", repr(opts.auto_threshold_sigma)]
    if opts.local_rms:
        args.append("-local-rms")
    if opts.local_rms_window_beams is not None:
        args += ["-local-rms-window", repr(float(opts.local_rms_window_beams))]
    if opts.multiscale:
        args.append("-multiscale")
    if opts.channels_out > 1:
        args += ["-channels-out", str(opts.channels_out)]
    if opts.join_channels:
        args.append("-join-channels")
    if opts.fit_spectral_pol is not None:
        args += ["-fit-spectral-pol", str(opts.fit_spectral_pol)]
    if opts.taper_gaussian_arcsec is not None:
        args += ["-taper-gaussian", f"{opts.taper_gaussian_arcsec}asec"]
    if opts.minuv_lambda is not None:
        args += ["-minuv-l", repr(opts.minuv_lambda)]
    if opts.maxuv_lambda is not None:
        args += ["-maxuv-l", repr(opts.maxuv_lambda)]
    if opts.super_weight is not None:
        args += ["-super-weight", repr(float(opts.super_weight))]
    if opts.baseline_averaging is not None:
        args += ["-baseline-averaging", repr(opts.baseline_averaging)]
    if opts.no_update_model_required:
        args.append("-no-update-model-required")
    if opts.shift_radec_deg is not None:
        args += ["-shift", *_shift_strings(*opts.shift_radec_deg)]
    if opts.facet_regions is not None:
        args += ["-facet-regions", str(opts.facet_regions)]
    if opts.apply_facet_solutions is not None:
        h5, soltabs = opts.apply_facet_solutions
        files = [h5] if isinstance(h5, (str, Path)) else list(h5)
        if len(files) not in (1, len(ms_paths)):
            raise InputError(f"apply_facet_solutions: {len(files)} h5parms for {len(ms_paths)} measurement sets; "
                             "give one, or one per measurement set")
        args += ["-apply-facet-solutions", ",".join(str(f) for f in files), ",".join(soltabs)]
    if opts.save_source_list:
        args.append("-save-source-list")
    if opts.make_psf:
        args.append("-make-psf")
    if opts.restoring_beam_arcsec is not None:
        args += ["-beam-size", repr(float(opts.restoring_beam_arcsec))]
    if opts.parallel_gridding is not None:
        args += ["-parallel-gridding", str(opts.parallel_gridding)]
    if opts.abs_mem_gb is not None:
        args += ["-abs-mem", repr(opts.abs_mem_gb)]
    if opts.temp_dir is not None:
        args += ["-temp-dir", str(opts.temp_dir)]
    args += list(opts.extra_args)
    args += [str(p) for p in ms_paths]
    return args


def _shift_strings(ra_deg: float, dec_deg: float) -> list[str]:
    ra_h = (ra_deg % 360.0) / 15.0
    h = int(ra_h)
    m = int((ra_h - h) * 60)
    s = ((ra_h - h) * 60 - m) * 60
    sign = "-" if dec_deg < 0 else ""
    d_abs = abs(dec_deg)
    d = int(d_abs)
    dm = int((d_abs - d) * 60)
    ds = ((d_abs - d) * 60 - dm) * 60
    return [f"{h:02d}h{m:02d}m{s:07.4f}s", f"{sign}{d:02d}d{dm:02d}m{ds:07.4f}s"]


@dataclass(frozen=True)
class WSCleanResult:
    """FITS products of a WSClean run, keyed by kind (``image``, ``model``, ...)."""

    run: ToolRun
    fits: tuple[Path, ...]

    def get(self, kind: str) -> Path:
        """Return the single product of a kind (e.g. ``image``) or raise."""
        suffix = f"-{kind}.fits"
        matches = [p for p in self.fits if p.name.endswith(suffix) and "-MFS-" not in p.name]
        mfs = [p for p in self.fits if p.name.endswith(f"-MFS{suffix}")]
        chosen = mfs or matches
        if len(chosen) != 1:
            raise ToolError(f"expected one WSClean '{kind}' image, found {[p.name for p in chosen]}")
        return chosen[0]


def run_wsclean(
    opts: WSCleanOptions,
    ms_paths: Sequence[Path],
    log_path: Path,
    *,
    provenance: Provenance | None = None,
) -> WSCleanResult:
    """Run WSClean and return the FITS files it produced.

    Parameters
    ----------
    opts
        Imaging options; ``opts.name`` is the output prefix.
    ms_paths
        Measurement sets to image (or to predict into).
    log_path
        File that receives WSClean's output.
    provenance
        Record of the run.
    """
    for ms in ms_paths:
        if not Path(ms).is_dir():
            raise InputError(f"measurement set {ms} does not exist")
    prefix = Path(opts.name)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in prefix.parent.glob(f"{prefix.name}-*.fits")}
    run = run_logged(
        "wsclean",
        build_wsclean_command(opts, ms_paths),
        log_path,
        provenance=provenance,
    )
    produced = tuple(
        sorted(
            p
            for p in prefix.parent.glob(f"{prefix.name}-*.fits")
            if before.get(p) != p.stat().st_mtime_ns
        )
    )
    tail = log_tail(log_path)
    if opts.predict:
        _check_model_column(ms_paths, tail)
    elif not produced:
        raise ToolError(f"WSClean finished but wrote no FITS image with prefix {prefix}", tail)
    for path in produced:
        check_fits_image(path, partial_nan_ok=path.name.endswith(("-pb.fits", "-beam-0.fits")))
    return WSCleanResult(run=run, fits=produced)


def _check_model_column(ms_paths: Sequence[Path], tail: str) -> None:
    from casacore.tables import table

    for ms in ms_paths:
        with table(str(ms), ack=False) as t:
            if "MODEL_DATA" not in t.colnames():
                raise ToolError(f"WSClean -predict finished but {ms} has no MODEL_DATA column", tail)


def check_fits_image(path: Path, *, partial_nan_ok: bool = False, rows_per_block: int = 1024) -> None:
    """Refuse a FITS image that is empty or not finite (read in blocks of rows, memory-mapped).

    Parameters
    ----------
    path
        The image.
    partial_nan_ok
        Accept NaN in part of the image (primary-beam-corrected images are NaN where the
        beam is zero); an image with no finite pixel is refused all the same.

    Raises
    ------
    ToolError
        The file is missing, unreadable or has no data.
    QualityError
        Pixels are NaN or infinite (all of them, or any when ``partial_nan_ok`` is false).
    """
    import numpy as np
    from astropy.io import fits

    try:
        with fits.open(path, memmap=True) as hdus:
            data = hdus[0].data
            if data is None or data.size == 0:
                raise ToolError(f"FITS image {path} holds no data")
            plane = data.reshape(-1, data.shape[-1])
            n_bad = n_total = 0
            for start in range(0, plane.shape[0], rows_per_block):
                block = np.asarray(plane[start:start + rows_per_block])
                n_bad += int(np.count_nonzero(~np.isfinite(block)))
                n_total += block.size
    except OSError as exc:
        raise ToolError(f"FITS image {path} cannot be read: {exc}") from None
    if n_bad == n_total:
        raise QualityError(f"image {path.name} has no finite pixel (all NaN/inf): were all data flagged "
                           "or NaN?")
    if n_bad and not partial_nan_ok:
        raise QualityError(f"image {path.name} has {n_bad} of {n_total} pixels NaN or infinite: check the "
                           "data and weights for NaN")
