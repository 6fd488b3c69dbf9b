"""The Stokes I primary beam on an image's pixel grid, from EveryBeam, and beam-corrected images.

WSClean 3.1 on these machines has no EveryBeam, so the beam is computed here with the
everybeam Python API: the full-Jones response ``E_p`` of every station (the same call the
simulator corrupts its visibilities with and DP3's applybeam removes), evaluated on a coarse
time/frequency grid and a coarse pixel grid, then averaged and interpolated.

For an unpolarised source of flux ``I`` baseline ``pq`` measures ``E_p I E_q^H``, so its
apparent Stokes I is ``I * 0.5 Re tr(E_p E_q^H)``; the image holds the weighted average of that
over the baselines, times and channels. When DP3's applybeam has corrected the data towards a
direction ``c`` (recorded in the data column's ``LOFAR_APPLIED_BEAM_*`` keywords), what remains
is ``M_p = E_p(c)^-1 E_p`` and the beam is ``0.5 Re tr(M_p M_q^H)`` (exactly 1 towards ``c``).

The averaging weights are separable: a weight per baseline and a weight per time slot and
channel, both sums over the unflagged visibilities of ``weight_column`` (``None``: each
unflagged visibility counts 1), or, with ``weighting``, of WSClean's imaging weight times the
Stokes I data weight of each visibility, computed here without writing to the measurement sets
(:mod:`lofar_hires.imaging.imaging_weights`). The beam at the data's times and channels is the linear
interpolation of the coarse-grid values, so each coarse node carries the sum of the data
weights times its interpolation weight.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.imaging.imaging_weights import ImagingWeighting, WeightGrid, iter_imaging_weights, weight_grid

log = logging.getLogger(__name__)

#: ``baselines``: weighted mean over baselines of ``0.5 Re tr(M_p M_q^H)`` (what the image holds);
#: ``stations``: weighted mean over stations of ``0.5 ||M_p||_F^2`` (>= the baseline mean when stations differ).
Average = Literal["baselines", "stations"]

#: Rows of the measurement set read at a time when the weights are summed.
ROW_CHUNK = 200_000

#: Largest tolerated error (arcsec) of the rotation that maps J2000 directions to ITRF across the image.
MAX_ROTATION_ERROR_ARCSEC = 5.0


@dataclass(frozen=True)
class BeamReference:
    """How a beam image is normalised: ``absolute`` (the raw station response) or ``relative`` to the
    direction (RA, Dec in degrees) the data were corrected towards."""

    mode: Literal["absolute", "relative", "mixed"]
    direction_deg: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        out: dict = {"mode": self.mode}
        if self.direction_deg is not None:
            out["ra_deg"], out["dec_deg"] = self.direction_deg
        return out


@dataclass(frozen=True)
class ImageBeam:
    """The beam of an image: ``values`` on its pixel grid ``(ny, nx)``, and how it is normalised."""

    values: np.ndarray
    reference: dict


@dataclass(frozen=True)
class MsBeamSampling:
    """What one measurement set contributes: its stations, pointing, grids and weights."""

    path: Path
    times_mjd_s: np.ndarray  # (nt,) distinct time centroids
    freqs_hz: np.ndarray  # (nf,)
    tf_weight: np.ndarray  # (nt, nf) summed weights of the unflagged visibilities
    baseline_weight: np.ndarray  # (nst, nst) symmetric, zero diagonal
    station0_rad: tuple[float, float]  # station beam-former direction (FIELD DELAY_DIR)
    tile0_rad: tuple[float, float]  # tile beam-former direction (FIELD LOFAR_TILE_BEAM_DIR)
    phase_centre_rad: tuple[float, float]
    applied_direction_rad: tuple[float, float] | None  # where DP3's applybeam corrected the data
    reference_itrf_m: np.ndarray  # (3,) position of the J2000 -> ITRF conversion


# --------------------------------------------------------------------------------------------- pure functions


def coarse_nodes(values: np.ndarray, step: float) -> np.ndarray:
    """Evenly spaced nodes covering ``values`` at most ``step`` apart (one node for a single value)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi - lo < 1e-9:
        return np.array([lo])
    n = max(2, int(math.ceil((hi - lo) / step)) + 1)
    return np.linspace(lo, hi, n)


def hat_weights(nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear-interpolation weights ``(len(x), len(nodes))`` of the nodes at ``x`` (constant outside)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros((len(x), len(nodes)))
    if len(nodes) == 1:
        out[:, 0] = 1.0
        return out
    idx = np.clip(np.searchsorted(nodes, x) - 1, 0, len(nodes) - 2)
    w = np.clip((x - nodes[idx]) / (nodes[idx + 1] - nodes[idx]), 0.0, 1.0)
    rows = np.arange(len(x))
    out[rows, idx] = 1.0 - w
    out[rows, idx + 1] += w
    return out


def grid_nodes(n_pix: int, step_pix: int, max_points: int) -> np.ndarray:
    """Pixel indices of the coarse grid along one axis: every ``step_pix`` (widened so that there are at
    most ``max_points``), always including the last pixel."""
    if n_pix <= 1:
        return np.zeros(1)
    step = max(int(step_pix), int(math.ceil((n_pix - 1) / max(1, max_points - 1))))
    nodes = np.arange(0, n_pix - 1, step, dtype=float)
    return np.append(nodes, float(n_pix - 1))


def radec_to_xyz(ra_rad: np.ndarray, dec_rad: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 3)``."""
    ra, dec = np.asarray(ra_rad, dtype=float), np.asarray(dec_rad, dtype=float)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def fit_rotation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The rotation ``R`` (3 x 3) that best maps unit vectors ``src`` to ``dst`` (``dst ~ src @ R.T``; Kabsch)."""
    u, _, vt = np.linalg.svd(dst.T @ src)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def relative_jones(jones: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``E_ref^-1 E`` per station: what remains after DP3's applybeam corrected towards the reference.

    ``jones`` ``(..., npix, nst, nf, 2, 2)`` and ``reference`` ``(..., nst, nf, 2, 2)``.
    """
    inv = np.linalg.inv(reference)
    return inv[..., None, :, :, :, :] @ jones


def stokes_i_gain(jones: np.ndarray, baseline_weight: np.ndarray, average: Average = "baselines") -> np.ndarray:
    """Apparent Stokes I gain of an unpolarised source, averaged over the stations of ``jones``.

    ``jones`` ``(..., nst, 2, 2)`` (the station axis third from last); ``baseline_weight`` ``(nst, nst)``
    symmetric with a zero diagonal. ``baselines``: ``sum_pq w_pq 0.5 Re tr(E_p E_q^H) / sum w``;
    ``stations``: ``sum_p w_p 0.5 ||E_p||^2 / sum w_p`` with ``w_p = sum_q w_pq``.
    """
    w = np.asarray(baseline_weight, dtype=float)
    x = jones.reshape(*jones.shape[:-2], 4)  # (..., nst, 4)
    if average == "stations":
        ws = w.sum(axis=1)
        power = 0.5 * np.sum(np.abs(x) ** 2, axis=-1)  # (..., nst)
        return power @ ws / ws.sum()
    if average != "baselines":
        raise InputError(f"average must be 'baselines' or 'stations', not {average!r}", setting="average")
    xt = np.swapaxes(x, -1, -2)  # (..., 4, nst)
    s = np.sum((xt @ w) * np.conj(xt), axis=(-1, -2))  # sum_pq w_pq sum_a x_pa conj(x_qa)
    return 0.5 * s.real / w.sum()


def interpolate_grid(y_nodes: np.ndarray, x_nodes: np.ndarray, values: np.ndarray,
                     shape: tuple[int, int]) -> np.ndarray:
    """Values on the coarse pixel grid interpolated onto every pixel (bicubic spline; linear with few nodes)."""
    from scipy.interpolate import RectBivariateSpline

    ny, nx = shape
    if len(y_nodes) == 1 or len(x_nodes) == 1:
        return np.broadcast_to(values.mean(), shape).copy()
    order_y, order_x = min(3, len(y_nodes) - 1), min(3, len(x_nodes) - 1)
    spline = RectBivariateSpline(y_nodes, x_nodes, values, kx=order_y, ky=order_x, s=0)
    return spline(np.arange(ny, dtype=float), np.arange(nx, dtype=float))


# --------------------------------------------------------------------------------------------- reading inputs


def _field_direction(t, column: str, fallback: tuple[float, float] | None = None) -> tuple[float, float]:
    if column not in t.colnames():
        if fallback is None:
            raise InputError(f"the FIELD table has no {column} column")
        return fallback
    value = np.asarray(t.getcol(column))[0].reshape(-1, 2)[0]
    return float(value[0]), float(value[1])


def _column_weights(t, columns: tuple[str, ...]) -> Iterator[tuple[np.ndarray, ...]]:
    """``(time, antenna1, antenna2, weight (n, nf))`` per chunk of rows of an open main table: the sum over the
    unflagged correlations of the product of ``columns`` (or 1 where any correlation is unflagged)."""
    for start in range(0, t.nrows(), ROW_CHUNK):
        n = min(ROW_CHUNK, t.nrows() - start)
        a1 = t.getcol("ANTENNA1", start, n)
        a2 = t.getcol("ANTENNA2", start, n)
        keep = ~np.asarray(t.getcol("FLAG_ROW", start, n), bool) & (a1 != a2)
        flag = np.asarray(t.getcol("FLAG", start, n), bool)  # (n, nf, ncorr)
        w = (~flag).astype(float)
        for column in columns:
            w = w * np.asarray(t.getcol(column, start, n), dtype=float)
        w = w.sum(axis=-1) if columns else (~flag).any(axis=-1).astype(float)
        w[~keep] = 0.0
        yield np.asarray(t.getcol("TIME", start, n), dtype=float), a1, a2, w


def read_sampling(ms_path: Path, *, weight_column: str | Sequence[str] | None = None,
                  grid: WeightGrid | None = None) -> MsBeamSampling:
    """Times, channels, pointing, applied beam and visibility weights of one measurement set (the weight of
    a visibility: the product of the ``weight_column`` columns, or 1, where unflagged; with ``grid``, its
    imaging weight on that weighting grid times its Stokes I data weight)."""
    from casacore.tables import table

    from lofar_hires.io.ms import applied_beam, require_ms

    ms_path = Path(ms_path)
    columns = () if weight_column is None else (weight_column,) if isinstance(weight_column, str) else tuple(
        weight_column)
    if grid is not None and columns:
        raise InputError("give weight_column or imaging weights, not both", setting="weight_column")
    require_ms(ms_path, columns)
    with table(str(ms_path / "ANTENNA"), ack=False) as t:
        positions = np.asarray(t.getcol("POSITION"), dtype=float)
    n_st = len(positions)
    with table(str(ms_path / "SPECTRAL_WINDOW"), ack=False) as t:
        freqs = np.asarray(t.getcol("CHAN_FREQ")[0], dtype=float)
    with table(str(ms_path / "FIELD"), ack=False) as t:
        phase = _field_direction(t, "PHASE_DIR")
        station0 = _field_direction(t, "DELAY_DIR", phase)
        tile0 = _field_direction(t, "LOFAR_TILE_BEAM_DIR", station0)
    with table(str(ms_path), ack=False) as t:
        times = np.unique(np.asarray(t.getcol("TIME"), dtype=float))
        tf = np.zeros((len(times), len(freqs)))
        bl = np.zeros((n_st, n_st))
        chunks = _column_weights(t, columns) if grid is None else (
            (c.time, c.antenna1, c.antenna2, c.data_weight * imaging) for c, imaging in
            iter_imaging_weights(ms_path, grid))
        for time, a1, a2, w in chunks:  # w (n, nf): zero where flagged, autocorrelated (or off the grid)
            np.add.at(tf, np.searchsorted(times, time), w)
            np.add.at(bl, (a1, a2), w.sum(axis=1))
    bl = bl + bl.T
    np.fill_diagonal(bl, 0.0)
    if tf.sum() <= 0:
        raise InputError(f"{ms_path} has no unflagged cross-correlation with positive weight: no beam to average"
                         + ("" if grid is None else " (imaging weights zero: check the uv cuts and image size)"))
    applied = applied_beam(ms_path)
    applied_dir = None
    if applied.mode is not None:
        if applied.mode.lower() != "full":
            raise InputError(f"{ms_path}: DP3 applybeam removed only the {applied.mode!r} part of the beam; "
                             "lofar-hires makes beam images for data with the full beam or none removed")
        applied_dir = phase if applied.direction_deg is None else (
            math.radians(applied.direction_deg[0]), math.radians(applied.direction_deg[1]))
    return MsBeamSampling(path=ms_path, times_mjd_s=times, freqs_hz=freqs, tf_weight=tf, baseline_weight=bl,
                          station0_rad=station0, tile0_rad=tile0, phase_centre_rad=phase,
                          applied_direction_rad=applied_dir, reference_itrf_m=positions[0])


def image_geometry(fits_header_or_wcs, shape: tuple[int, int] | None = None):
    """The celestial WCS and the ``(ny, nx)`` shape of an image from a FITS header or a WCS."""
    import warnings

    from astropy.io.fits import Header
    from astropy.wcs import WCS, FITSFixedWarning

    if isinstance(fits_header_or_wcs, Header):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(fits_header_or_wcs).celestial
        if shape is None:
            shape = (int(fits_header_or_wcs["NAXIS2"]), int(fits_header_or_wcs["NAXIS1"]))
    elif isinstance(fits_header_or_wcs, WCS):
        wcs = fits_header_or_wcs.celestial
        if shape is None:
            if wcs.pixel_shape is None:
                raise InputError("the WCS has no image size; give the shape (ny, nx)", setting="shape")
            shape = (int(wcs.pixel_shape[1]), int(wcs.pixel_shape[0]))
    else:
        raise InputError(f"expected a FITS header or a WCS, not {type(fits_header_or_wcs).__name__}")
    if wcs.naxis != 2:
        raise InputError("the image has no celestial (RA/Dec) axes")
    ny, nx = int(shape[0]), int(shape[1])
    if ny < 1 or nx < 1:
        raise InputError(f"image shape {shape} is empty", setting="shape")
    return wcs, (ny, nx)


# --------------------------------------------------------------------------------------------- EveryBeam


class _Converter:
    """J2000 -> ITRF directions at given times through one fitted rotation per time (casacore measures
    for a handful of directions; the rest is a matrix product)."""

    def __init__(self, reference_itrf_m: np.ndarray) -> None:
        from casacore.measures import measures
        from casacore.quanta import quantity

        self._q = quantity
        self.dm = measures()
        self.dm.do_frame(self.dm.position("ITRF", *[quantity(float(v), "m") for v in reference_itrf_m]))

    def exact(self, time_mjd_s: float, ra_rad: np.ndarray, dec_rad: np.ndarray) -> np.ndarray:
        q, dm = self._q, self.dm
        dm.do_frame(dm.epoch("UTC", q(float(time_mjd_s), "s")))
        out = np.empty((len(ra_rad), 3))
        for j, (ra, dec) in enumerate(zip(ra_rad, dec_rad)):
            itrf = dm.measure(dm.direction("J2000", q(float(ra), "rad"), q(float(dec), "rad")), "ITRF")
            out[j] = radec_to_xyz(itrf["m0"]["value"], itrf["m1"]["value"])
        return out

    def rotation(self, time_mjd_s: float, ra_rad: np.ndarray, dec_rad: np.ndarray) -> np.ndarray:
        """Rotation fitted to the exact conversion of the given (sample) directions; checked on them."""
        src = radec_to_xyz(ra_rad, dec_rad)
        dst = self.exact(time_mjd_s, ra_rad, dec_rad)
        rot = fit_rotation(src, dst)
        err = np.degrees(np.arccos(np.clip(np.sum((src @ rot.T) * dst, axis=-1), -1, 1))).max() * 3600
        if err > MAX_ROTATION_ERROR_ARCSEC:
            raise InputError(f"the image spans too much sky for one J2000 -> ITRF rotation ({err:.1f} arcsec off)")
        return rot


def _load_telescope(ms_path: Path):
    from lofar_hires.environment import everybeam_data_dir, use_casarc

    use_casarc()
    os.environ.setdefault("EVERYBEAM_DATADIR", str(everybeam_data_dir()))
    import everybeam

    return everybeam.load_telescope(str(ms_path))


def station_jones(sampling: MsBeamSampling, times_mjd_s: np.ndarray, freqs_hz: np.ndarray, ra_rad: np.ndarray,
                  dec_rad: np.ndarray) -> np.ndarray:
    """Full-Jones responses ``(ntime, ndir, nst, nfreq, 2, 2)`` of every station of the measurement set."""
    telescope = _load_telescope(sampling.path)
    conv = _Converter(sampling.reference_itrf_m)
    n_st = sampling.baseline_weight.shape[0]
    stations = np.arange(n_st, dtype=np.uint64)
    freqs = np.asarray(freqs_hz, dtype=float)
    ra_rad, dec_rad = np.asarray(ra_rad, dtype=float), np.asarray(dec_rad, dtype=float)
    # Sample directions for the rotation fit: the extremes of the requested directions and the pointing.
    pick = np.unique([int(np.argmin(ra_rad)), int(np.argmax(ra_rad)), int(np.argmin(dec_rad)),
                      int(np.argmax(dec_rad))])
    sample_ra = np.concatenate([ra_rad[pick], [sampling.station0_rad[0], sampling.tile0_rad[0]]])
    sample_dec = np.concatenate([dec_rad[pick], [sampling.station0_rad[1], sampling.tile0_rad[1]]])
    xyz = radec_to_xyz(ra_rad, dec_rad)
    out = np.empty((len(times_mjd_s), len(ra_rad), n_st, len(freqs), 2, 2), complex)
    for i, t in enumerate(times_mjd_s):
        rot = conv.rotation(t, sample_ra, sample_dec)
        dirs = xyz @ rot.T
        st0, tile0 = conv.exact(t, np.array([sampling.station0_rad[0], sampling.tile0_rad[0]]),
                                np.array([sampling.station0_rad[1], sampling.tile0_rad[1]]))
        for j in range(len(ra_rad)):
            out[i, j] = telescope.station_response(np.array([t]), stations, freqs, dirs[j], st0, tile0)[0]
    return out


# --------------------------------------------------------------------------------------------- the beam image


def _reference_of(samplings: Sequence[MsBeamSampling], relative: bool | None) -> list[tuple[float, float] | None]:
    """The direction each measurement set's beam is relative to (``None``: absolute)."""
    out: list[tuple[float, float] | None] = []
    for s in samplings:
        if relative is None:
            out.append(s.applied_direction_rad)
        elif relative:
            out.append(s.applied_direction_rad or s.phase_centre_rad)
        else:
            if s.applied_direction_rad is not None:
                log.warning("%s: the beam was removed towards RA %.4f Dec %.4f deg, but the beam image is made "
                            "absolute as asked", s.path, *np.degrees(s.applied_direction_rad))
            out.append(None)
    return out


def beam_image(ms_paths: Sequence[Path], fits_header_or_wcs, *, time_step_s: float = 600.0,
               freq_step_hz: float = 2e6, grid_step_pix: int = 16, max_grid_points: int = 65,
               relative_to_phase_centre: bool | None = None, weight_column: str | Sequence[str] | None = None,
               average: Average = "baselines", shape: tuple[int, int] | None = None,
               weighting: ImagingWeighting | None = None) -> np.ndarray:
    """The Stokes I primary beam ``(ny, nx)`` on an image's pixel grid, averaged over the data.

    Parameters
    ----------
    ms_paths
        The measurement sets that were imaged.
    fits_header_or_wcs
        The image's FITS header, or its WCS (then with ``shape`` unless the WCS knows its size).
    time_step_s, freq_step_hz
        The beam is evaluated at times and frequencies at most this far apart (covering each
        measurement set) and averaged with the data's weights.
    grid_step_pix, max_grid_points
        ... and every ``grid_step_pix`` pixels (coarser when one axis would need more than
        ``max_grid_points``), then interpolated with a bicubic spline.
    relative_to_phase_centre
        ``None``: relative to the direction DP3's applybeam corrected the data towards when the data
        column's keywords say so, else absolute. ``True``: relative to that direction, or to the phase
        centre when the keywords record none. ``False``: absolute (the raw station response).
    weight_column
        Weights of the average (e.g. ``WEIGHT_SPECTRUM``, or ``IMAGING_WEIGHT_SPECTRUM`` after WSClean's
        ``-store-imaging-weights``); ``None``: every unflagged visibility counts 1.
    average
        ``baselines`` (what an image holds) or ``stations`` (mean station power; for comparison).
    weighting
        The image's WSClean weighting: each visibility then counts with the imaging weight WSClean gives it
        (computed from all ``ms_paths`` together, as WSClean images them) times its Stokes I data weight,
        without writing to the measurement sets. Use it for Briggs and uniform images; exclusive with
        ``weight_column``. ``None``: ``weight_column`` decides.
    """
    if time_step_s <= 0 or freq_step_hz <= 0 or grid_step_pix < 1 or max_grid_points < 2:
        raise InputError("time_step_s, freq_step_hz and grid_step_pix must be positive, max_grid_points >= 2")
    if not ms_paths:
        raise InputError("give at least one measurement set")
    wcs, (ny, nx) = image_geometry(fits_header_or_wcs, shape)
    y_nodes = grid_nodes(ny, grid_step_pix, max_grid_points)
    x_nodes = grid_nodes(nx, grid_step_pix, max_grid_points)
    yy, xx = np.meshgrid(y_nodes, x_nodes, indexing="ij")
    ra_deg, dec_deg = wcs.pixel_to_world_values(xx.ravel(), yy.ravel())
    ra_deg, dec_deg = np.asarray(ra_deg, float), np.asarray(dec_deg, float)
    valid = np.isfinite(ra_deg) & np.isfinite(dec_deg)
    if not valid.any():
        raise InputError("no pixel of the image has sky coordinates")
    ra, dec = np.radians(ra_deg[valid]), np.radians(dec_deg[valid])
    if weighting is not None and weight_column is not None:
        raise InputError("give weight_column or weighting, not both", setting="weighting")
    grid = None if weighting is None else weight_grid([Path(p) for p in ms_paths], weighting)
    samplings = [read_sampling(Path(p), weight_column=weight_column, grid=grid) for p in ms_paths]
    references = _reference_of(samplings, relative_to_phase_centre)
    total = np.zeros(int(valid.sum()))
    weight_sum = 0.0
    for s, ref in zip(samplings, references):
        t_nodes = coarse_nodes(s.times_mjd_s, time_step_s)
        f_nodes = coarse_nodes(s.freqs_hz, freq_step_hz)
        node_w = hat_weights(t_nodes, s.times_mjd_s).T @ s.tf_weight @ hat_weights(f_nodes, s.freqs_hz)
        log.info("%s: beam on %d times x %d frequencies x %d directions (%s)", s.path.name, len(t_nodes),
                 len(f_nodes), len(ra), "absolute" if ref is None else
                 "relative to RA %.4f Dec %.4f deg" % tuple(np.degrees(ref)))
        dir_ra = ra if ref is None else np.append(ra, ref[0])
        dir_dec = dec if ref is None else np.append(dec, ref[1])
        jones = station_jones(s, t_nodes, f_nodes, dir_ra, dir_dec)  # (nt, ndir, nst, nf, 2, 2)
        if ref is not None:
            jones = relative_jones(jones[:, :-1], jones[:, -1])
        jones = np.moveaxis(jones, 3, 2)  # (nt, ndir, nf, nst, 2, 2)
        gain = stokes_i_gain(jones, s.baseline_weight, average)  # (nt, ndir, nf)
        total += np.einsum("tdf,tf->d", gain, node_w)
        weight_sum += float(node_w.sum())
    coarse = np.full(yy.size, np.nan)
    coarse[valid] = total / weight_sum
    coarse = coarse.reshape(yy.shape)
    if not valid.all():
        log.warning("%d of %d beam grid points have no sky coordinates; they are filled from their neighbours",
                    int((~valid).sum()), valid.size)
        coarse = np.where(np.isnan(coarse), np.nanmin(coarse), coarse)
    return interpolate_grid(y_nodes, x_nodes, coarse, (ny, nx))


def beam_reference(ms_paths: Sequence[Path], relative_to_phase_centre: bool | None = None) -> BeamReference:
    """How :func:`beam_image` normalises the beam of these measurement sets."""
    samplings = []
    for p in ms_paths:
        from lofar_hires.io.ms import applied_beam, read_ms_info

        applied = applied_beam(Path(p))
        centre = read_ms_info(Path(p)).phase_centre_rad
        direction = None if applied.mode is None else (
            applied.direction_deg or (math.degrees(centre[0]), math.degrees(centre[1])))
        if relative_to_phase_centre is False:
            direction = None
        elif relative_to_phase_centre and direction is None:
            direction = (math.degrees(centre[0]), math.degrees(centre[1]))
        samplings.append(direction)
    if all(d is None for d in samplings):
        return BeamReference("absolute")
    first = samplings[0]
    if first is not None and all(d is not None and np.allclose(d, first, atol=1e-6) for d in samplings):
        return BeamReference("relative", (round(first[0] % 360.0, 8), round(first[1], 8)))
    return BeamReference("mixed")


def beam_for_image(ms_paths: Sequence[Path], image_fits: Path, *, time_step_s: float = 600.0,
                   freq_step_hz: float = 2e6, grid_step_pix: int = 16,
                   relative_to_phase_centre: bool | None = None,
                   weight_column: str | Sequence[str] | None = None,
                   weighting: ImagingWeighting | None = None) -> ImageBeam:
    """:func:`beam_image` on the grid of a FITS image, with its normalisation (see :class:`BeamReference`)."""
    header, _ = _read_fits(image_fits)
    values = beam_image(ms_paths, header, time_step_s=time_step_s, freq_step_hz=freq_step_hz,
                        grid_step_pix=grid_step_pix, relative_to_phase_centre=relative_to_phase_centre,
                        weight_column=weight_column, weighting=weighting)
    return ImageBeam(values, beam_reference(ms_paths, relative_to_phase_centre).as_dict())


# --------------------------------------------------------------------------------------------- FITS products


def _read_fits(path: Path):
    from astropy.io import fits

    from lofar_hires.errors import MissingInputError

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"image {path} does not exist")
    try:
        with fits.open(path) as hdul:
            header = hdul[0].header.copy()
            data = None if hdul[0].data is None else np.array(hdul[0].data)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a readable FITS image: {str(exc).splitlines()[0]}") from None
    if data is None or data.ndim < 2 or int(np.prod(data.shape[:-2])) != 1:
        raise InputError(f"{path} holds no single image plane")
    return header, data


def _write_fits(path: Path, header, data: np.ndarray, overwrite: bool) -> Path:
    from astropy.io import fits

    from lofar_hires.io.atomic import atomic_output

    with atomic_output(Path(path), overwrite=overwrite) as tmp:
        fits.PrimaryHDU(data=data, header=header).writeto(tmp, output_verify="silentfix")
    return Path(path)


def _checked_beam(beam: np.ndarray, shape: tuple[int, ...], image: Path) -> np.ndarray:
    beam = np.asarray(beam, dtype=float)
    if beam.shape != shape[-2:]:
        raise InputError(f"the beam has shape {beam.shape}, the image {image} {shape[-2:]}", setting="beam")
    if not np.isfinite(beam).any() or np.nanmax(beam) <= 0:
        raise InputError("the beam has no positive finite value", setting="beam")
    return beam


def write_beam_fits(beam: np.ndarray, image_fits: Path, out_fits: Path, *, overwrite: bool = False) -> Path:
    """Write ``beam`` as a FITS image with the header (grid, frequency, ...) of ``image_fits``."""
    header, data = _read_fits(image_fits)
    beam = _checked_beam(beam, data.shape, image_fits)
    header["BUNIT"] = ""
    header.add_history("lofar-hires: Stokes I primary beam (EveryBeam) on this grid")
    return _write_fits(out_fits, header, beam.reshape(data.shape).astype(np.float32), overwrite)


def correct_image(image_fits: Path, beam: np.ndarray, out_fits: Path, *, min_beam: float = 0.1,
                  overwrite: bool = False) -> Path:
    """Divide an image by its beam; pixels where the beam is below ``min_beam`` times its peak become NaN."""
    if not 0.0 <= min_beam <= 1.0:
        raise InputError(f"min_beam must be within [0, 1], not {min_beam}", setting="min_beam")
    header, data = _read_fits(image_fits)
    beam = _checked_beam(beam, data.shape, image_fits)
    cut = min_beam * float(np.nanmax(beam))
    keep = np.isfinite(beam) & (beam > 0) & (beam >= cut)
    plane = data.reshape(beam.shape).astype(float)
    out = np.full(beam.shape, np.nan)
    out[keep] = plane[keep] / beam[keep]
    header.add_history(f"lofar-hires: divided by the primary beam; NaN where it is below {cut:.4g}")
    return _write_fits(out_fits, header, out.reshape(data.shape).astype(data.dtype if data.dtype.kind == "f"
                                                                        else np.float32), overwrite)
