"""Pictures for the report: PNG files checked and inlined, FITS images rendered to PNG within a bounded size.

A FITS image is read plane by plane through a memory-mapped section, in blocks of rows,
and averaged in ``step x step`` blocks to at most ``max_pix`` pixels on a side, so that a
mosaic of tens of thousands of pixels never sits in memory whole. Its noise is the
sigma-clipped rms of every ``step``-th pixel (a sample of single pixels, not of block means,
which would average the noise down). The picture uses an asinh stretch between the 0.5 and
99.9 percentiles, with a colour bar, the file name as title, sky coordinates when the header
has a celestial WCS and the restoring beam drawn in the lower-left corner.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError, MissingInputError

#: The eight bytes every PNG file starts with.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest PNG inlined (bytes); a larger plot is named in the report instead.
MAX_PNG_BYTES = 16 * 1024 * 1024
#: Longest side of a FITS image after block averaging (pixels).
MAX_IMAGE_PIX = 1024
#: Pixels read from a FITS file at a time (rows of full width).
_CHUNK_PIXELS = 4_000_000
#: Percentiles of the displayed range and the asinh softening of the stretch.
DISPLAY_PERCENTILES = (0.5, 99.9)
ASINH_A = 0.1


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its header; InputError when ``data`` is no PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise InputError("not a PNG file (no PNG signature and header)")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise InputError("a PNG of zero size")
    return width, height


def read_png(path: Path, max_bytes: int = MAX_PNG_BYTES) -> bytes:
    """The bytes of a PNG file, checked (signature, header, size).

    Raises
    ------
    InputError
        Not a PNG, or larger than ``max_bytes``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path.name} has {size} bytes, more than the {max_bytes} inlined")
    data = path.read_bytes()
    try:
        png_size(data)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc}") from None
    return data


def data_uri(png: bytes) -> str:
    """A ``data:`` URI of PNG bytes (base64)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class ImagePreview:
    """A FITS image rendered for the report, and what its caption says."""

    png: bytes
    shape: tuple[int, int]  # (ny, nx) of the full plane
    n_planes: int
    step: int  # block size of the averaging (1: full resolution)
    rms: float | None  # sigma-clipped rms of the sampled pixels, in bunit
    bunit: str
    beam_arcsec: tuple[float, float, float] | None  # (bmaj, bmin, bpa in deg)
    pixel_arcsec: float | None


def _plane_shape(header) -> tuple[tuple[int, ...], int, int]:
    """Numpy shape of the leading axes, ny and nx of a primary HDU's image."""
    naxis = int(header.get("NAXIS", 0))
    if naxis < 2:
        raise InputError("no image in the primary HDU (fewer than two axes)")
    shape = tuple(int(header[f"NAXIS{i}"]) for i in range(naxis, 0, -1))
    if any(n <= 0 for n in shape):
        raise InputError(f"an empty image (axes {shape})")
    return shape[:-2], shape[-2], shape[-1]


@dataclass(frozen=True)
class BlockAverage:
    """The first plane of a FITS image averaged in blocks, with a sample of single pixels."""

    image: np.ndarray  # (ceil(ny / step), ceil(nx / step)): mean of the finite pixels of each block, NaN where none
    sample: np.ndarray  # the finite values of every step-th pixel of every step-th row
    step: int  # block size
    shape: tuple[int, int]  # (ny, nx) of the full plane
    n_planes: int  # planes of the leading axes (the first is used)
    header: object  # the primary header (astropy.io.fits.Header)


def block_average(path: Path, max_pix: int = MAX_IMAGE_PIX) -> BlockAverage:
    """The first plane of a FITS image averaged in blocks to at most ``max_pix`` on a side, read in row blocks.

    Parameters
    ----------
    path
        The FITS file (image in the primary HDU; the first plane of any leading axes is used).
    max_pix
        Longest side of the result.

    Returns
    -------
    BlockAverage
        ``step = ceil(max(ny, nx) / max_pix)``.

    Raises
    ------
    InputError
        Not a readable FITS image.
    """
    from astropy.io import fits

    if max_pix < 1:
        raise InputError(f"max_pix must be >= 1, not {max_pix}", setting="max_pix")
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"image {path} does not exist")
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            hdu = hdul[0]
            header = hdu.header
            lead, ny, nx = _plane_shape(header)
            step = max(1, math.ceil(max(ny, nx) / max_pix))
            nyo, nxo = math.ceil(ny / step), math.ceil(nx / step)
            rows_per_chunk = max(1, _CHUNK_PIXELS // (nx * step)) * step
            image = np.full((nyo, nxo), np.nan)
            sample = np.full((nyo, nxo), np.nan)
            index = (0,) * len(lead)
            for r0 in range(0, ny, rows_per_chunk):
                r1 = min(ny, r0 + rows_per_chunk)
                rows = np.asarray(hdu.section[(*index, slice(r0, r1), slice(None))], dtype=float)
                blocks = math.ceil((r1 - r0) / step)
                padded = np.full((blocks * step, nxo * step), np.nan)
                padded[:r1 - r0, :nx] = rows
                cube = padded.reshape(blocks, step, nxo, step)
                finite = np.isfinite(cube)
                counts = finite.sum(axis=(1, 3))
                sums = np.where(finite, cube, 0.0).sum(axis=(1, 3))
                b0 = r0 // step
                with np.errstate(invalid="ignore", divide="ignore"):
                    image[b0:b0 + blocks] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
                sample[b0:b0 + blocks] = cube[:, 0, :, 0]
            header = header.copy()
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise InputError(f"{path.name} is not a readable FITS image: {str(exc).splitlines()[0] if str(exc) else ''}")\
            from None
    return BlockAverage(image, sample[np.isfinite(sample)], step, (ny, nx), int(np.prod(lead)) if lead else 1,
                        header)


def _celestial_wcs(header, step: int):
    """The celestial WCS of the header on the block-averaged grid, None when it has none."""
    from astropy.wcs import WCS, FITSFixedWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header).celestial
        if wcs.naxis != 2 or not wcs.has_celestial:
            return None
        # A stepped slice places each new pixel at the centre of its block (astropy's binning convention).
        return wcs.slice((slice(None, None, step), slice(None, None, step))) if step > 1 else wcs
    except Exception:  # noqa: BLE001 - any malformed WCS: the picture falls back to pixel axes
        return None


def _pixel_deg(header) -> float | None:
    for key in ("CDELT2", "CD2_2"):
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0 and math.isfinite(value):
            return abs(float(value))
    return None


def _beam_deg(header) -> tuple[float, float, float] | None:
    try:
        bmaj, bmin = float(header.get("BMAJ", 0.0)), float(header.get("BMIN", 0.0))
        bpa = float(header.get("BPA", 0.0))
    except (TypeError, ValueError):
        return None
    if bmaj > 0 and bmin > 0 and math.isfinite(bmaj) and math.isfinite(bmin) and math.isfinite(bpa):
        return bmaj, bmin, bpa
    return None


def render_fits(path: Path, title: str, max_pix: int = MAX_IMAGE_PIX, dpi: int = 100) -> ImagePreview:
    """Render the first plane of a FITS image to PNG (asinh stretch, colour bar, beam) for the report.

    Parameters
    ----------
    path
        The image.
    title
        The picture's title (shown as plain text).
    max_pix
        Longest side after block averaging.
    dpi
        Resolution of the PNG (the figure is 6.4 inches wide, its height follows the image's shape).

    Raises
    ------
    InputError
        Not a readable FITS image, or one without a finite pixel.
    """
    from astropy.visualization import AsinhStretch, AsymmetricPercentileInterval, ImageNormalize
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse
    from matplotlib.ticker import FormatStrFormatter

    from lofar_hires.imaging.measure import sigma_clipped_rms

    averaged = block_average(path, max_pix)
    image, sample, step, header = averaged.image, averaged.sample, averaged.step, averaged.header
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        raise InputError(f"{Path(path).name} has no finite pixel")
    rms = sigma_clipped_rms(sample) if sample.size else None
    bunit = str(header.get("BUNIT", "")).strip()
    # Jy/beam is shown in mJy/beam (tick labels of a few digits); other units as they are.
    scale, label = (1e3, "mJy/beam") if bunit.upper() == "JY/BEAM" else (1.0, bunit or "pixel value")
    lo, hi = AsymmetricPercentileInterval(*DISPLAY_PERCENTILES).get_limits(finite * scale)
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    norm = ImageNormalize(vmin=lo, vmax=hi, stretch=AsinhStretch(ASINH_A), clip=True)
    wcs = _celestial_wcs(header, step)

    # The figure follows the image's shape; a wide image gets its colour bar below it.
    aspect = image.shape[0] / image.shape[1]
    wide = aspect < 0.6
    fig = Figure(figsize=(6.4, min(7.0, max(3.0, 5.0 * aspect + (2.0 if wide else 0.6)))), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection=wcs) if wcs is not None else fig.add_subplot()
    shown = ax.imshow(image * scale, origin="lower", cmap="inferno", norm=norm, interpolation="nearest")
    if wcs is not None:
        ax.coords[0].set_axislabel("RA")
        ax.coords[1].set_axislabel("Dec")
    else:
        ax.set_xlabel("x (pixels / %d)" % step if step > 1 else "x (pixels)")
        ax.set_ylabel("y (pixels / %d)" % step if step > 1 else "y (pixels)")
    ax.set_title(title if len(title) <= 80 else title[:77] + "...", fontsize=9, parse_math=False)
    # Ticks evenly spaced in the stretched scale (in data values they crowd where asinh compresses).
    ticks = norm.inverse(np.linspace(0.0, 1.0, 4 if wide else 6))
    bar = fig.colorbar(shown, ax=ax, location="bottom" if wide else "right", fraction=0.046,
                       pad=0.25 if wide else 0.04, ticks=np.ravel(ticks), format=FormatStrFormatter("%.3g"))
    bar.set_label(label, parse_math=False)
    beam = _beam_deg(header)
    pixel = _pixel_deg(header)
    if beam is not None and pixel is not None:
        bmaj_pix, bmin_pix = beam[0] / (pixel * step), beam[1] / (pixel * step)
        if 1.0 <= bmaj_pix <= 0.25 * min(image.shape):
            centre = (1.5 + bmaj_pix / 2, 1.5 + bmaj_pix / 2)
            ax.add_patch(Ellipse(centre, width=bmin_pix, height=bmaj_pix, angle=beam[2], facecolor="none",
                                 edgecolor="cyan", linewidth=1.0))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    return ImagePreview(
        png=buffer.getvalue(), shape=averaged.shape, n_planes=averaged.n_planes, step=step, rms=rms,
        bunit=bunit, beam_arcsec=None if beam is None else (beam[0] * 3600, beam[1] * 3600, beam[2]),
        pixel_arcsec=None if pixel is None else pixel * 3600)
