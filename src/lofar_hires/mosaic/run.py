"""A wide-field mosaic of facet images (de Jong et al. 2025, section 6.4.5): plan, combine, noise map, write.

:func:`plan_mosaic` reads and checks everything (region file, images, beam images, restored-model
images, grid) before a pixel is combined; :func:`make_mosaic` combines
(:mod:`lofar_hires.mosaic.combine`) and measures the noise map
(:func:`lofar_hires.imaging.islands.local_rms` in boxes of ``noise_box_beams`` restoring beams; with
restored models on the residual mosaic, before the models are added); :func:`write_mosaic` writes the
mosaic, the noise map and a summary, each under a temporary name renamed when complete.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.atomic import atomic_output, check_output_path
from lofar_hires.io.regions import read_ds9_polygons
from lofar_hires.mosaic.combine import (
    SplineImage,
    accumulate_weighted,
    add_model,
    apparent_noise,
    facet_index_map,
    paste_polygon,
    weighted_mean,
)
from lofar_hires.mosaic.grid import MosaicGrid, mosaic_grid
from lofar_hires.mosaic.inputs import (
    ImageInfo,
    check_beam_grid,
    check_consistent,
    match_facets,
    read_image,
    restoring_beam,
)
from lofar_hires.selection.facets import MAX_CLIP_DEG, ClipRegion, Facet, FacetLayout
from lofar_hires.selection.sky import angular_distance_deg, radec_to_xyz
from lofar_hires.subtract.plan import facets_from_regions

log = logging.getLogger(__name__)

#: How the facet images are combined.
MODES = ("polygon", "beam-weighted")
#: Facets whose pixels got a value for less than this fraction are reported in a warning.
MIN_COVERAGE = 0.99


@dataclass(frozen=True)
class MosaicSettings:
    """How the mosaic is made (defaults: ``lofar-hires mosaic --help``)."""

    mode: str = "polygon"
    pixel_scale_arcsec: float | None = None  # None: the finest of the images
    centre_deg: tuple[float, float] | None = None  # None: the mean direction of the facet centres
    min_beam: float = 0.1  # beam-weighted: pixels below this fraction of the beam image's peak are left out
    noise_box_beams: float = 50.0  # noise map: box side in restoring-beam major axes
    allow_beam_mismatch: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}", setting="mode")
        if self.pixel_scale_arcsec is not None and not (
                math.isfinite(self.pixel_scale_arcsec) and self.pixel_scale_arcsec > 0):
            raise InputError(f"the pixel scale must be a positive number of arcsec, got {self.pixel_scale_arcsec}",
                             setting="pixel_scale_arcsec")
        if self.centre_deg is not None:
            ra, dec = (float(v) for v in self.centre_deg)
            if not (math.isfinite(ra) and math.isfinite(dec) and 0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0):
                raise InputError(f"the mosaic centre ({ra}, {dec}) deg is not a sky position (RA in [0, 360), Dec "
                                 "in [-90, 90])", setting="centre_deg")
        if not (math.isfinite(self.min_beam) and 0.0 < self.min_beam < 1.0):
            raise InputError(f"min_beam must be in (0, 1), got {self.min_beam}", setting="min_beam")
        if not (math.isfinite(self.noise_box_beams) and self.noise_box_beams > 0):
            raise InputError(f"the noise box must be a positive number of beams, got {self.noise_box_beams}",
                             setting="noise_box_beams")


@dataclass(frozen=True)
class MosaicPlan:
    """Everything :func:`make_mosaic` needs, checked."""

    images: tuple[ImageInfo, ...]
    beams: tuple[ImageInfo, ...] | None
    layout: FacetLayout
    owner: tuple[int, ...]  # the facet of each image (index into layout.facets)
    grid: MosaicGrid
    beam_deg: tuple[float, float, float]
    missing: tuple[str, ...]  # facets without an image
    models: tuple[ImageInfo, ...] | None = None  # restored-model images (polygon mode; the images are residuals)


def noise_box_pix(plan: MosaicPlan, settings: MosaicSettings) -> int:
    """Side of the noise map's boxes in mosaic pixels (at least 2)."""
    return max(2, int(round(settings.noise_box_beams * plan.beam_deg[0] / plan.grid.pixel_deg)))


def facet_layout(facets: Sequence[Facet], centre_deg: tuple[float, float]) -> FacetLayout:
    """The facets of a region file as a layout about the mosaic centre (its tangent plane tests ownership)."""
    xyz = np.concatenate([radec_to_xyz(f.vertices_deg[:, 0], f.vertices_deg[:, 1]) for f in facets])
    far = float(angular_distance_deg(xyz, radec_to_xyz(*centre_deg)).max())
    clip = ClipRegion("circle", min(MAX_CLIP_DEG, max(far, 1e-6)))
    return FacetLayout(centre_ra_deg=centre_deg[0], centre_dec_deg=centre_deg[1], clip=clip, max_edge_deg=1.0,
                       facets=tuple(facets), clip_vertices_deg=np.empty((0, 2)))


def read_models(restored_models: Sequence[Path], images: Sequence[Path], infos: Sequence[ImageInfo],
                settings: MosaicSettings) -> list[ImageInfo]:
    """Read and check the restored-model images: polygon mode, one per image, each on its image's grid and
    of its frequency, Stokes parameter, frame and unit.

    Raises
    ------
    InputError or MissingInputError
        Another mode, another number of models than of images, a model given twice or also as an
        image, an unreadable or blank model, one off its image's grid or inconsistent with the images.
    """
    if settings.mode != "polygon":
        raise InputError("restored-model images are used only in polygon mode (--mode polygon; the images are "
                         "then the facets' residual images)", setting="restored_models")
    if len(restored_models) != len(images):
        raise InputError(f"{len(restored_models)} restored-model image(s) for {len(images)} (residual) image(s); "
                         "give one per image, in the same order", setting="restored_models")
    resolved = [Path(p).resolve() for p in restored_models]
    if len(set(resolved)) < len(resolved):
        raise InputError("a restored-model image is given more than once", setting="restored_models")
    both = set(resolved) & {Path(p).resolve() for p in images}
    if both:
        raise InputError(f"{sorted(both)[0]} is given both as a (residual) image and as a restored-model image",
                         setting="restored_models")
    models = [read_image(p, what="restored-model image")[0] for p in restored_models]
    for model, info in zip(models, infos):
        check_beam_grid(model, info, what="restored-model image", setting="restored_models")
    try:
        check_consistent([*infos, *models])
    except InputError as exc:
        raise InputError(f"restored-model images: {exc}", setting="restored_models") from None
    return models


def plan_mosaic(images: Sequence[Path], regions: Path, settings: MosaicSettings,
                beam_images: Sequence[Path] | None = None,
                restored_models: Sequence[Path] | None = None) -> MosaicPlan:
    """Read and check the region file, the images, the beam images and the restored-model images; choose
    the grid.

    Raises
    ------
    InputError or MissingInputError
        A region file without polygons; unreadable, blank or inconsistent images (pixel scale,
        frequency, Stokes, unit, restoring beam); an image in no facet or two in one; beam images
        missing, surplus or off their images' grids; restored-model images outside polygon mode,
        of another number than the images, off their images' grids or inconsistent with them; a
        grid that cannot be made.
    """
    if not images:
        raise InputError("give at least one facet image", setting="images")
    if len({Path(p).resolve() for p in images}) < len(images):
        raise InputError("an image is given more than once", setting="images")
    facets = facets_from_regions(read_ds9_polygons(regions), regions)
    infos = [read_image(p)[0] for p in images]
    check_consistent(infos)
    models = read_models(restored_models, images, infos, settings) if restored_models else None
    # restored models carry the restoring beam of their residuals (all facets one beam), when they carry one
    beam_deg = restoring_beam([*infos, *(m for m in models or () if m.beam_deg is not None)],
                              settings.allow_beam_mismatch)
    beams = None
    if settings.mode == "beam-weighted":
        if not beam_images:
            raise InputError("the beam-weighted mode needs the primary-beam image of every facet image",
                             setting="beam_images")
        if len(beam_images) != len(images):
            raise InputError(f"{len(beam_images)} beam image(s) for {len(images)} image(s); give one per image, in "
                             "the same order", setting="beam_images")
        beams = [read_image(p, what="beam image")[0] for p in beam_images]
        for beam, info in zip(beams, infos):
            check_beam_grid(beam, info)
    elif beam_images:
        raise InputError("beam images are used only in the beam-weighted mode (--mode beam-weighted)",
                         setting="beam_images")
    pixel_deg = (min(i.pixel_deg for i in infos) if settings.pixel_scale_arcsec is None
                 else settings.pixel_scale_arcsec / 3600.0)
    grid = mosaic_grid(facets, pixel_deg, settings.centre_deg)
    layout = facet_layout(facets, (grid.centre_ra_deg, grid.centre_dec_deg))
    owner = match_facets(infos, layout)
    missing = tuple(f.name for i, f in enumerate(facets) if i not in owner)
    if missing:
        log.warning("%d facet(s) of %s have no image; their pixels are blank in the mosaic: %s", len(missing),
                    regions, ", ".join(missing))
    log.info("mosaic of %d image(s) (%s mode%s): %d x %d pixels of %.4g arcsec centred on (%.5f, %.5f) deg, "
             "restoring beam %.3g x %.3g arcsec", len(infos), settings.mode,
             ", residuals + restored models" if models else "", grid.nx, grid.ny,
             grid.pixel_deg * 3600.0, grid.centre_ra_deg, grid.centre_dec_deg, beam_deg[0] * 3600.0,
             beam_deg[1] * 3600.0)
    return MosaicPlan(images=tuple(infos), beams=None if beams is None else tuple(beams), layout=layout,
                      owner=tuple(owner), grid=grid, beam_deg=beam_deg, missing=missing,
                      models=None if models is None else tuple(models))


@dataclass
class MosaicResult:
    """The mosaic, its noise map and what each facet contributed."""

    image: np.ndarray  # float32 (ny, nx)
    noise: np.ndarray  # float32 (ny, nx)
    facets: list[dict[str, object]] = field(default_factory=list)


def make_mosaic(plan: MosaicPlan, settings: MosaicSettings) -> MosaicResult:
    """Combine the facet images on the plan's grid and measure the noise map.

    With restored models (polygon mode) the images are residuals: the noise map is measured on their
    polygon mosaic (no sources in it), then every restored-model image is added wherever it covers
    a finite pixel of it.

    Raises
    ------
    QualityError
        No mosaic pixel got a value (the images do not cover their facets).
    """
    from lofar_hires.imaging.islands import local_rms

    grid = plan.grid
    index = facet_index_map(grid, plan.layout)
    counts = np.bincount(index[index >= 0], minlength=len(plan.layout.facets))
    rows: list[dict[str, object]] = []
    if settings.mode == "polygon":
        mosaic = np.full(grid.shape, np.nan, dtype=np.float32)
        for info, facet in zip(plan.images, plan.owner):
            _, data = read_image(info.path)
            filled = paste_polygon(mosaic, index, facet, grid, SplineImage.from_array(data), info.wcs)
            rows.append({"facet": plan.layout.facets[facet].name, "image": info.path.name,
                         "facet_pixels": int(counts[facet]), "pixels_with_data": filled})
    else:
        sum_w = np.zeros(grid.shape, dtype=np.float64)
        sum_wv = np.zeros(grid.shape, dtype=np.float64)
        for info, beam_info, facet in zip(plan.images, plan.beams, plan.owner):
            _, data = read_image(info.path)
            _, beam = read_image(beam_info.path, what="beam image")
            try:
                sigma = apparent_noise(data, beam, settings.min_beam)
            except InputError as exc:
                raise InputError(f"{info.path} with beam image {beam_info.path.name}: {exc}",
                                 setting=exc.setting) from None
            added = accumulate_weighted(sum_w, sum_wv, index, grid, SplineImage.from_array(data), beam, info.wcs,
                                        sigma, settings.min_beam)
            rows.append({"facet": plan.layout.facets[facet].name, "image": info.path.name,
                         "beam_image": beam_info.path.name, "apparent_noise": sigma,
                         "facet_pixels": int(counts[facet]), "pixels_added": added})
        mosaic = weighted_mean(sum_w, sum_wv)
        del sum_w, sum_wv
        with_data = np.bincount(index[np.isfinite(mosaic) & (index >= 0)], minlength=len(plan.layout.facets))
        for row, facet in zip(rows, plan.owner):
            row["pixels_with_data"] = int(with_data[facet])
    for row in rows:
        coverage = row["pixels_with_data"] / row["facet_pixels"] if row["facet_pixels"] else 0.0
        row["coverage"] = coverage
        if coverage < MIN_COVERAGE:
            log.warning("facet %s: only %.1f %% of its pixels have data in %s (the image does not cover the "
                        "facet, or is blank there)", row["facet"], 100 * coverage, row["image"])
    finite = np.isfinite(mosaic)
    if not finite.any():
        raise QualityError("no mosaic pixel got a value: the images do not cover their facets (or are blank there)")
    box = noise_box_pix(plan, settings)
    noise = np.where(finite, local_rms(mosaic, box), np.nan).astype(np.float32)
    for row in rows:
        own = (index == plan.layout.names.index(row["facet"])) & finite
        row["median_noise"] = float(np.median(noise[own])) if own.any() else None
    log.info("mosaic%s: %d of %d pixels with data; median noise %.3g (local rms in boxes of %d pixels)",
             " of the residuals" if plan.models else "", int(finite.sum()), finite.size,
             float(np.nanmedian(noise)), box)
    for row, model_info in zip(rows, plan.models or ()):
        _, model = read_image(model_info.path, what="restored-model image")
        row["restored_model"] = model_info.path.name
        row["model_pixels"] = add_model(mosaic, plan.grid, model, model_info.wcs)
    return MosaicResult(image=mosaic, noise=noise, facets=rows)


def fits_header(plan: MosaicPlan, what: str):
    """The mosaic's FITS header: the SIN grid, the images' frequency and Stokes axes, beam and unit."""
    from astropy.io import fits
    from astropy.wcs import WCS

    grid = plan.grid
    ref = plan.images[0]
    extra = list(ref.extra_axes)
    w = WCS(naxis=2 + len(extra))
    celestial = grid.wcs()
    w.wcs.ctype = [*celestial.wcs.ctype, *(str(a.get("CTYPE", "")) for a in extra)]
    w.wcs.crval = [*celestial.wcs.crval, *(float(a.get("CRVAL", 0.0)) for a in extra)]
    w.wcs.cdelt = [*celestial.wcs.cdelt, *(float(a.get("CDELT", 1.0)) for a in extra)]
    w.wcs.crpix = [*celestial.wcs.crpix, *(float(a.get("CRPIX", 1.0)) for a in extra)]
    w.wcs.cunit = ["deg", "deg", *(str(a.get("CUNIT", "")) for a in extra)]
    radesys, _, equinox = ref.frame.partition(" ")
    w.wcs.radesys = radesys
    if equinox:
        w.wcs.equinox = float(equinox)
    header = fits.Header()
    header.update(w.to_header())
    header["BMAJ"], header["BMIN"], header["BPA"] = plan.beam_deg
    if ref.bunit:
        header["BUNIT"] = ref.bunit
    header["ORIGIN"] = "lofar-hires mosaic"
    header["HISTORY"] = f"{what} of {len(plan.images)} facet image(s)"
    return header


def write_fits(path: Path, data: np.ndarray, header, overwrite: bool) -> Path:
    """One image plane (shaped to the header's axes) written atomically."""
    from astropy.io import fits

    shape = (1,) * (int(header["WCSAXES"]) - 2) + data.shape
    with atomic_output(path, overwrite) as tmp:
        fits.PrimaryHDU(data.reshape(shape), header=header).writeto(tmp)
    return path


def check_outputs(paths: Sequence[Path], inputs: Sequence[Path], overwrite: bool) -> None:
    """Every output is new (or ``overwrite``), writable, not an input and not another output."""
    resolved = [Path(p).resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise InputError(f"two outputs share one path: {', '.join(str(p) for p in paths)}", setting="output")
    sources = {Path(p).resolve() for p in inputs}
    for path, res in zip(paths, resolved):
        if res in sources:
            raise InputError(f"output {path} is an input; write the mosaic to a new path", setting="output")
        check_output_path(Path(path), overwrite)


def write_mosaic(result: MosaicResult, plan: MosaicPlan, settings: MosaicSettings, output: Path, noise_map: Path,
                 summary: Path, overwrite: bool) -> None:
    """Write the mosaic, its noise map and the summary (each atomically)."""
    header = fits_header(plan, f"{settings.mode} mosaic" + (" of residuals plus restored models" if plan.models
                                                             else ""))
    write_fits(noise_map, result.noise, fits_header(plan, "local rms (noise map) of the mosaic"), overwrite)
    record = {
        "mode": settings.mode, "mosaic": output.name, "noise_map": noise_map.name,
        "restored_models": plan.models is not None,
        "combination": ("polygon mosaic of the residual images plus every facet's restored-model image"
                        if plan.models else f"{settings.mode} mosaic of the images"),
        "noise_measured_on": "residual mosaic (no sources)" if plan.models else "mosaic",
        "grid": {"centre_deg": [plan.grid.centre_ra_deg, plan.grid.centre_dec_deg], "nx": plan.grid.nx,
                 "ny": plan.grid.ny, "pixel_arcsec": plan.grid.pixel_deg * 3600.0, "projection": "SIN"},
        "restoring_beam_arcsec": [plan.beam_deg[0] * 3600.0, plan.beam_deg[1] * 3600.0],
        "restoring_beam_pa_deg": plan.beam_deg[2],
        "noise_box_pix": noise_box_pix(plan, settings),
        "median_noise": float(np.nanmedian(result.noise)),
        "pixels_with_data": int(np.isfinite(result.image).sum()),
        "facets": result.facets, "facets_without_image": list(plan.missing),
    }
    with atomic_output(summary, overwrite) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    write_fits(output, result.image, header, overwrite)
