"""One facet imaged at one or more resolutions: its solutions applied (optional), WSClean with the final
settings, the primary beam averaged over the data and the corrected image.

Everything is checked before the first tool starts (:func:`plan_facet`); the work happens in a hidden
work directory inside the output directory, and the products appear under their final names only
when complete.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lofar_hires.errors import InputError, QualityError
from lofar_hires.final_imaging.config import FinalImagingConfig
from lofar_hires.final_imaging.plan import (
    SHIFT_TOLERANCE_PIX,
    ImageGeometry,
    image_geometry,
    product_prefix,
    wsclean_options,
)
from lofar_hires.imaging.image import make_image
from lofar_hires.imaging.measure import load_image, sigma_clipped_rms
from lofar_hires.io.atomic import atomic_output, check_output_path, remove_path
from lofar_hires.io.ms import MsInfo
from lofar_hires.io.names import inside
from lofar_hires.physics import angular_separation_rad
from lofar_hires.provenance import Provenance
from lofar_hires.runners.wsclean import WSCleanOptions
from lofar_hires.selection.facets import Facet, sky_polygon_contains

log = logging.getLogger(__name__)

#: Products of one facet at one resolution, by kind, as file-name suffixes after the prefix.
PRODUCT_SUFFIXES = {"image": "-image.fits", "residual": "-residual.fits", "model": "-model.fits",
                    "psf": "-psf.fits", "beam": "-beam.fits", "image_pb": "-image-pb.fits",
                    "residual_pb": "-residual-pb.fits", "restored_model_pb": "-restored-model-pb.fits",
                    "summary": ".final.json", "provenance": ".final.provenance.json"}
#: Largest separation of the datasets' phase centres that still counts as one pointing (arcsec).
SAME_CENTRE_ARCSEC = 1.0


@dataclass(frozen=True)
class SolutionsPlan:
    """Solutions to apply to one dataset before imaging (``direction`` None: the h5parm's only one)."""

    h5parm: Path
    direction: str | None


@dataclass(frozen=True)
class FacetPlan:
    """What :func:`image_facet` will do, all checked."""

    facet: Facet
    ms_paths: tuple[Path, ...]
    centre_deg: tuple[float, float]
    shift: dict[str, bool]
    geometries: dict[str, ImageGeometry]
    solutions: tuple[SolutionsPlan, ...] = ()
    beam: bool = True


@dataclass
class FacetResult:
    products: dict[str, dict[str, Path]] = field(default_factory=dict)
    summary: dict[str, dict] = field(default_factory=dict)


def phase_centre_deg(info: MsInfo) -> tuple[float, float]:
    ra, dec = info.phase_centre_rad
    return math.degrees(ra) % 360.0, math.degrees(dec)


def separation_arcsec(a_deg: tuple[float, float], b_deg: tuple[float, float]) -> float:
    return math.degrees(float(angular_separation_rad(*np.radians(a_deg), *np.radians(b_deg)))) * 3600.0


def image_centre(facet: Facet, infos: Sequence[MsInfo]) -> tuple[float, float]:
    """The datasets' common phase centre when it lies inside the facet (a facet dataset, shifted to its facet),
    else the facet's centre (a field dataset: WSClean shifts to it).

    Raises
    ------
    InputError
        The datasets have different phase centres.
    """
    centres = [phase_centre_deg(i) for i in infos]
    for info, c in zip(infos[1:], centres[1:]):
        if separation_arcsec(c, centres[0]) > SAME_CENTRE_ARCSEC:
            raise InputError(f"{info.path} has its phase centre at {c[0]:.5f}, {c[1]:.5f} deg and {infos[0].path} "
                             f"at {centres[0][0]:.5f}, {centres[0][1]:.5f} deg; the datasets of one facet image "
                             "need one phase centre", setting="msin")
    if bool(sky_polygon_contains(facet.vertices_deg, centres[0][0], centres[0][1])):
        return centres[0]
    return facet.centre_ra_deg, facet.centre_dec_deg


def check_frequencies(infos: Sequence[MsInfo]) -> None:
    """All datasets of a facet image cover one band (observations of one setup)."""
    ref = infos[0]
    for info in infos[1:]:
        if len(info.freqs_hz) != len(ref.freqs_hz) or not np.allclose(info.freqs_hz, ref.freqs_hz, rtol=0,
                                                                        atol=1.0):
            raise InputError(f"{info.path} has {len(info.freqs_hz)} channels at {info.freqs_hz.min() / 1e6:.3f}-"
                             f"{info.freqs_hz.max() / 1e6:.3f} MHz and {ref.path} {len(ref.freqs_hz)} at "
                             f"{ref.freqs_hz.min() / 1e6:.3f}-{ref.freqs_hz.max() / 1e6:.3f} MHz; image datasets "
                             "of one frequency setup together", setting="msin")


def plan_facet(facet: Facet, infos: Sequence[MsInfo], resolutions: Sequence[str], cfg: FinalImagingConfig, *,
               solutions: Sequence[Path] = (), direction: str | None = None, beam: bool = True,
               other_facets: Sequence[str] = ()) -> FacetPlan:
    """Check the datasets, the resolutions and the solutions, and lay out every image.

    ``solutions``: none, one h5parm for every dataset, or one per dataset (in order). ``direction``: the
    h5parm direction to apply (default: the facet's name when the h5parm has several directions).

    Raises
    ------
    InputError
        Datasets with different phase centres or bands, an unknown resolution, an image too large, solutions
        that do not fit the datasets or have no direction for the facet.
    """
    from lofar_hires.io.h5parm import read_h5parm
    from lofar_hires.solutions.apply import plan_apply

    if not infos:
        raise InputError("give at least one facet dataset", setting="msin")
    check_frequencies(infos)
    centre = image_centre(facet, infos)
    geometries = {}
    shift = {}
    for res in resolutions:
        resolution = cfg.resolution(res)
        geometries[res] = image_geometry(facet, centre, resolution, cfg.padding, cfg.max_image_pix)
        offset_pix = separation_arcsec(centre, phase_centre_deg(infos[0])) / resolution.pixel_arcsec
        shift[res] = offset_pix > SHIFT_TOLERANCE_PIX
    plans: list[SolutionsPlan] = []
    if solutions:
        if len(solutions) not in (1, len(infos)):
            raise InputError(f"{len(solutions)} solution files for {len(infos)} datasets; give one for all or one "
                             "per dataset, in the same order", setting="solutions")
        files = list(solutions) * len(infos) if len(solutions) == 1 else list(solutions)
        for info, h5 in zip(infos, files):
            solset = read_h5parm(h5)
            wanted = direction
            if wanted is None and len(solset.directions) > 1:
                if f"[{facet.name}]" not in solset.directions and facet.name not in solset.directions:
                    names = ", ".join(d.strip("[]") for d in solset.directions)
                    raise InputError(f"facet {facet.name} has no solutions in {h5} (directions {names}); give "
                                     "the facet's solutions or name the direction", setting="solutions")
                wanted = facet.name
            only = [d.strip("[]") for d in solset.directions]
            if wanted is None and len(only) == 1 and only[0] != facet.name and only[0] in other_facets:
                raise InputError(f"{h5} holds the solutions of facet {only[0]}, not of facet {facet.name}",
                                 setting="solutions")
            plan = plan_apply(list(info.station_names), info.times_mjd_s, h5, solset, direction=wanted)
            plans.append(SolutionsPlan(h5, plan.direction))
    return FacetPlan(facet, tuple(i.path for i in infos), centre, shift, geometries, tuple(plans), beam)


def product_paths(outdir: Path, facet: str, resolution: str) -> dict[str, Path]:
    prefix = product_prefix(facet, resolution)
    return {kind: inside(outdir, prefix + suffix) for kind, suffix in PRODUCT_SUFFIXES.items()}


def check_products(outdir: Path, plan: FacetPlan, overwrite: bool) -> None:
    for res in plan.geometries:
        for path in product_paths(outdir, plan.facet.name, res).values():
            check_output_path(path, overwrite)


def _apply(plan: FacetPlan, workdir: Path, data_column: str, threads: int, prov: Provenance) -> list[Path]:
    """The datasets with their solutions applied (new sets in ``workdir``), or the datasets themselves."""
    from lofar_hires.solutions.apply import apply_solutions

    if not plan.solutions:
        return list(plan.ms_paths)
    out = []
    for i, (ms, sol) in enumerate(zip(plan.ms_paths, plan.solutions)):
        corrected = workdir / f"corrected{i}.ms"
        log.info("applying %s%s to %s", sol.h5parm, f" (direction {sol.direction})" if sol.direction else "", ms)
        apply_solutions(ms, sol.h5parm, corrected, data_column=data_column, direction=sol.direction, threads=threads,
                        overwrite=True, logdir=workdir / "logs", provenance=prov)
        out.append(corrected)
    return out


def write_restored_model(image: Path, residual: Path, out: Path) -> Path:
    """The restored CLEAN components alone (image - residual), on the image's grid with its header."""
    from astropy.io import fits

    with fits.open(image) as a, fits.open(residual) as b:
        if a[0].data.shape != b[0].data.shape:
            raise InputError(f"{residual} is not on the grid of {image}")
        header, data = a[0].header.copy(), (a[0].data - b[0].data).astype(np.float32)
    header.add_history("lofar-hires: the restored clean components (image - residual)")
    with atomic_output(out, overwrite=True) as tmp:
        fits.PrimaryHDU(data=data, header=header).writeto(tmp)
    return out


def _beam_products(images: dict[str, Path], paths: dict[str, Path], cfg: FinalImagingConfig,
                   ms_paths: Sequence[Path], options: WSCleanOptions, workdir: Path) -> dict[str, object]:
    """Write the primary beam on the image's grid, averaged over the data with the image's own weights (the data
    weights times WSClean's imaging weights, computed without writing to the data), and the corrected image,
    residual and restored model (what a mosaic needs to keep sources on facet boundaries whole); return what the
    beam is."""
    from lofar_hires.imaging.primary_beam import ImagingWeighting, beam_for_image, correct_image, write_beam_fits

    pb = cfg.primary_beam
    weighting = ImagingWeighting.from_wsclean_options(options)
    image = images["image"]
    beam = beam_for_image(list(ms_paths), image, time_step_s=pb.time_step_s, freq_step_hz=pb.freq_step_hz,
                          grid_step_pix=pb.grid_step_pix, weighting=weighting)
    write_beam_fits(beam.values, image, paths["beam"], overwrite=True)
    correct_image(image, beam.values, paths["image_pb"], min_beam=pb.min_beam, overwrite=True)
    correct_image(images["residual"], beam.values, paths["residual_pb"], min_beam=pb.min_beam, overwrite=True)
    restored = write_restored_model(image, images["residual"], workdir / f"{paths['image'].name}.restored.fits")
    correct_image(restored, beam.values, paths["restored_model_pb"], min_beam=pb.min_beam, overwrite=True)
    return {"beam_min": float(np.nanmin(beam.values)), "beam_max": float(np.nanmax(beam.values)),
            "reference": beam.reference, "weights": {"imaging": weighting.as_dict(), "data": "WEIGHT_SPECTRUM"}}


def image_statistics(path: Path) -> dict[str, float]:
    img = load_image(path)
    data = img.data[np.isfinite(img.data)]
    bmaj, bmin = (img.beam_deg[0] * 3600.0, img.beam_deg[1] * 3600.0) if img.beam_deg else (None, None)
    return {"rms_jy_beam": float(sigma_clipped_rms(data)), "peak_jy_beam": float(data.max()),
            "bmaj_arcsec": bmaj, "bmin_arcsec": bmin}


def clean_statistics(header: Mapping[str, Any]) -> dict[str, Any] | None:
    """How WSClean's clean ended, from the keywords it writes into every image header: minor iterations
    (``WSCMINOR``) in major cycles (``WSCMAJOR``) against the iteration limit (``WSCNITER``); ``stopped_at_niter``
    when the limit, not a threshold, stopped it (the image is then under-cleaned). None for an image without them
    (another imager)."""
    if not all(key in header for key in ("WSCMINOR", "WSCMAJOR", "WSCNITER")):
        return None
    minor, major, niter = (int(round(float(header[key]))) for key in ("WSCMINOR", "WSCMAJOR", "WSCNITER"))
    return {"minor_iterations": minor, "major_iterations": major, "niter": niter,
            "stopped_at_niter": niter > 0 and minor >= niter}


def report_clean(image: Path) -> dict[str, Any] | None:
    """Log how the clean of ``image`` ended (a warning when the iteration limit stopped it) and return
    :func:`clean_statistics` of its header."""
    from astropy.io import fits

    stats = clean_statistics(fits.getheader(image))
    if stats is None:
        return None
    if stats["stopped_at_niter"]:
        log.warning("%s: the clean stopped at its limit of %d iterations, not at its threshold, so the image is "
                    "under-cleaned; raise the setting niter", image.name, stats["niter"])
    else:
        log.info("%s: clean of %d iterations in %d major cycles (limit %d)", image.name, stats["minor_iterations"],
                 stats["major_iterations"], stats["niter"])
    return stats


#: A restored image whose largest absolute value exceeds the dirty image's by this factor comes from a diverged clean:
#: restoring with a beam close to the PSF's main lobe keeps a source's peak within the PSF's sidelobe share of it.
DIVERGED_PEAK_RATIO = 10.0


def check_clean_converged(image: Path, dirty: Path) -> None:
    """Refuse a restored image from a clean that diverged (its peak far above the dirty image's)."""
    from astropy.io import fits

    peaks = []
    for path in (image, dirty):
        data = fits.getdata(path)
        peaks.append(float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 0.0)
    if peaks[0] > DIVERGED_PEAK_RATIO * peaks[1]:
        raise QualityError(f"{image.name}: the clean diverged (largest value {peaks[0]:.3g} Jy/beam against "
                           f"{peaks[1]:.3g} in the dirty image); try multiscale=false or a lower mgain")


def _local_rms_possible(cfg: FinalImagingConfig) -> bool:
    """Whether the installed WSClean can threshold on a local-rms map with this configuration."""
    from lofar_hires.environment import tool_version
    from lofar_hires.runners.wsclean import local_rms_with_multiscale_works

    if not cfg.multiscale:
        return True
    version = tool_version("wsclean")
    if local_rms_with_multiscale_works(version):
        return True
    log.warning("%s aborts when a local-rms map and multi-scale cleaning are combined; cleaning to the global rms "
                "of each image instead (a later WSClean uses the %g-beam rms box)", version,
                cfg.local_rms_window_beams)
    return False


def image_facet(plan: FacetPlan, cfg: FinalImagingConfig, outdir: Path, *, threads: int, overwrite: bool,
                prov: Provenance) -> FacetResult:
    """Apply the solutions (once), then image every resolution of the plan and correct it for the beam."""
    outdir.mkdir(parents=True, exist_ok=True)
    check_products(outdir, plan, overwrite)
    workdir = outdir / f".{product_prefix(plan.facet.name, 'work')}-{os.getpid()}"
    remove_path(workdir)
    workdir.mkdir()
    result = FacetResult()
    local_rms = _local_rms_possible(cfg)
    try:
        ms_paths = _apply(plan, workdir, cfg.data_column, threads, prov)
        data_column = "DATA" if plan.solutions else cfg.data_column
        for n, (res, geometry) in enumerate(plan.geometries.items(), start=1):
            start = time.monotonic()
            resolution = cfg.resolution(res)
            prefix = product_prefix(plan.facet.name, res)
            paths = product_paths(outdir, plan.facet.name, res)
            options = wsclean_options(cfg, resolution, geometry, prefix, shift=plan.shift[res], threads=threads,
                                      data_column=data_column, local_rms=local_rms)
            log.info("facet %s, resolution %s arcsec (%d/%d): %d x %d pixels of %g arcsec, taper %g arcsec, "
                     "baseline averaging %s", plan.facet.name, res, n, len(plan.geometries), *geometry.size_pix,
                     resolution.pixel_arcsec, resolution.taper_arcsec,
                     "off" if options.baseline_averaging is None else f"{options.baseline_averaging:.1f} lambda")
            images = make_image(ms_paths, outdir, options, overwrite=overwrite)
            if "dirty" in images.fits:
                check_clean_converged(images.fits["image"], images.fits["dirty"])
            record: dict = {"facet": plan.facet.name, "resolution": res, "taper_arcsec": resolution.taper_arcsec,
                            "pixel_arcsec": resolution.pixel_arcsec, "size_pix": list(geometry.size_pix),
                            "centre_deg": list(geometry.centre_deg), "shifted": plan.shift[res],
                            "max_distance_deg": geometry.max_distance_deg,
                            "baseline_averaging_lambda": options.baseline_averaging,
                            "local_rms": options.local_rms,
                            "clean": report_clean(images.fits["image"]),
                            "datasets": [str(p) for p in plan.ms_paths],
                            "solutions": [{"h5parm": str(s.h5parm), "direction": s.direction} for s in plan.solutions],
                            "image": image_statistics(images.fits["image"])}
            if plan.beam:
                record["primary_beam"] = _beam_products(images.fits, paths, cfg, ms_paths, options, workdir)
                record["image_pb"] = image_statistics(paths["image_pb"])
            record["seconds"] = round(time.monotonic() - start, 1)
            with atomic_output(paths["summary"], overwrite=True) as tmp:
                tmp.write_text(json.dumps(record, indent=2) + "\n")
            prov.write(paths["provenance"])
            result.products[res] = {k: p for k, p in paths.items() if p.exists()} | {
                k.replace("-", "_"): p for k, p in images.fits.items()}
            result.summary[res] = record
            log.info("facet %s at %s arcsec: rms %.3g Jy/beam, peak %.3g Jy/beam (%.0f s)", plan.facet.name, res,
                     record["image"]["rms_jy_beam"], record["image"]["peak_jy_beam"], record["seconds"])
    finally:
        remove_path(workdir)
    return result
