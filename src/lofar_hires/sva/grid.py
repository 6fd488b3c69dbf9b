"""The template grid of sidereal visibility averaging: sidereal time, baseline geometry and time resolution.

Pure functions (numpy; casacore measures only in :func:`uvw_rotations`):

* every input time is mapped onto the *template date* (the date of the template observation) at the
  same local mean sidereal time, :func:`template_time_s`; a per-observation shift (seconds, measured
  from the data's UVW, :func:`fit_track_offset`) absorbs what precession moves along the track;
* UVW of the template grid follow the MS convention (what DP3 writes): J2000,
  ``uvw(ANTENNA2) - uvw(ANTENNA1)``, from casacore measures evaluated at anchor epochs and rotated
  with the Earth in between (:class:`UvwModel`);
* the output time resolution is the coarsest step that keeps the smearing loss at the image edge
  within the budget, :func:`choose_time_resolution`, with the loss of :func:`smearing_loss`: the
  track motion within one output slot (a box along the track) and the largest baseline offset
  between observations that no choice of slot removes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.physics import C_M_S

#: Sidereal days per solar day (the rate of local sidereal time against UTC).
SIDEREAL_RATE = 1.002737909350795
#: Rate of local sidereal time (rad per UTC second).
EARTH_ROTATION_RAD_S = 2.0 * math.pi * SIDEREAL_RATE / 86400.0
#: Seconds between the epochs at which casacore measures give the exact ITRF -> UVW rotation.
ANCHOR_SPACING_S = 600.0
#: Finest output step allowed, as a fraction of the input integration (a finer grid would make the
#: output many times larger than all inputs together).
MAX_UPSAMPLING = 8


def local_mean_sidereal_time_rad(times_mjd_s: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time (IAU 1982) of MJD(UTC) seconds, radians in [0, 2 pi).

    The longitude is left out: only differences between dates at one site matter here.
    """
    days = np.asarray(times_mjd_s, dtype=float) / 86400.0 - 51544.5
    centuries = days / 36525.0
    gmst_deg = (280.46061837 + 360.98564736629 * days + 0.000387933 * centuries**2
                - centuries**3 / 38710000.0)
    return np.mod(np.deg2rad(gmst_deg), 2.0 * np.pi)


def template_time_s(times_mjd_s: np.ndarray, reference_mjd_s: float) -> np.ndarray:
    """The time on the template date with the same local mean sidereal time as ``times_mjd_s``.

    ``reference_mjd_s`` is a time of the template observation (its middle): results lie within
    half a sidereal day of it.
    """
    lst = local_mean_sidereal_time_rad(np.asarray(times_mjd_s, dtype=float))
    lst_ref = local_mean_sidereal_time_rad(np.array([reference_mjd_s]))[0]
    d_rad = np.angle(np.exp(1j * (lst - lst_ref)))
    return reference_mjd_s + d_rad / EARTH_ROTATION_RAD_S


def uvw_rotations(times_mjd_s: np.ndarray, phase_centre_rad: tuple[float, float],
                  position_itrf_m: np.ndarray) -> np.ndarray:
    """Exact matrices ``R[t]`` (casacore measures) with ``uvw = R[t] @ itrf_baseline`` (J2000 UVW)."""
    from casacore.measures import measures
    from casacore.quanta import quantity

    dm = measures()
    dm.do_frame(dm.position("ITRF", *[quantity(float(v), "m") for v in position_itrf_m]))
    dm.do_frame(dm.direction("J2000", quantity(float(phase_centre_rad[0]), "rad"),
                             quantity(float(phase_centre_rad[1]), "rad")))
    scale_m = 1000.0
    axes = np.eye(3) * scale_m
    baseline = dm.baseline("ITRF", *(quantity(list(axes[:, k]), "m") for k in range(3)))
    out = np.empty((len(times_mjd_s), 3, 3))
    for i, t in enumerate(np.asarray(times_mjd_s, dtype=float)):
        dm.do_frame(dm.epoch("UTC", quantity(float(t), "s")))
        xyz = np.asarray(dm.to_uvw(baseline)["xyz"].get_value("m"), dtype=float).reshape(3, 3)
        out[i] = xyz.T / scale_m
    return out


@dataclass(frozen=True)
class UvwModel:
    """J2000 UVW of ITRF baselines at any time of a span.

    Exact rotations (casacore measures) at anchor epochs; between two anchors the rotation turns
    uniformly about the axis that carries one into the other (the Earth's rotation axis as casacore
    has it, polar motion included), so the model follows casacore to well below a millimetre.
    """

    anchors_mjd_s: np.ndarray
    rotations: np.ndarray  # (n_anchor, 3, 3)
    rates_rad_s: np.ndarray  # (n_anchor - 1, 3): rotation vector per second (ITRF frame) of each interval

    @classmethod
    def build(cls, start_mjd_s: float, end_mjd_s: float, phase_centre_rad: tuple[float, float],
              position_itrf_m: np.ndarray) -> UvwModel:
        from scipy.spatial.transform import Rotation

        n = max(2, int(math.ceil((end_mjd_s - start_mjd_s) / ANCHOR_SPACING_S)) + 1)
        anchors = np.linspace(start_mjd_s, max(end_mjd_s, start_mjd_s + 1.0), n)
        rotations = uvw_rotations(anchors, phase_centre_rad, position_itrf_m)
        steps = np.einsum("nji,njk->nik", rotations[:-1], rotations[1:])  # R_a^T R_b
        rates = Rotation.from_matrix(steps).as_rotvec() / np.diff(anchors)[:, None]
        return cls(anchors, rotations, rates)

    def _interval(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.anchors_mjd_s, t, side="right") - 1, 0, len(self.anchors_mjd_s) - 2)

    def rotation(self, times_mjd_s: np.ndarray) -> np.ndarray:
        """``R[t]``, shape ``(n, 3, 3)``."""
        from scipy.spatial.transform import Rotation

        t = np.atleast_1d(np.asarray(times_mjd_s, dtype=float))
        k = self._interval(t)
        turn = Rotation.from_rotvec(self.rates_rad_s[k] * (t - self.anchors_mjd_s[k])[:, None]).as_matrix()
        return self.rotations[k] @ turn

    def uvw_m(self, times_mjd_s: np.ndarray, baselines_itrf_m: np.ndarray) -> np.ndarray:
        """UVW (m) of ``baselines_itrf_m`` ``(nb, 3)`` at each time: shape ``(nt, nb, 3)``."""
        return np.einsum("tij,bj->tbi", self.rotation(times_mjd_s), baselines_itrf_m)

    def velocity_m_s(self, times_mjd_s: np.ndarray, baselines_itrf_m: np.ndarray) -> np.ndarray:
        """d(UVW)/dt (m/s) of ``baselines_itrf_m`` at each time: shape ``(nt, nb, 3)``."""
        t = np.atleast_1d(np.asarray(times_mjd_s, dtype=float))
        rate = self.rates_rad_s[self._interval(t)]
        moved = np.cross(rate[:, None, :], np.asarray(baselines_itrf_m, float)[None, :, :])
        return np.einsum("tij,tbj->tbi", self.rotation(t), moved)

    def velocity_of(self, times_mjd_s: np.ndarray, baselines_itrf_m: np.ndarray) -> np.ndarray:
        """d(UVW)/dt (m/s) of one baseline per time: ``baselines_itrf_m`` ``(n, 3)`` -> ``(n, 3)``."""
        t = np.atleast_1d(np.asarray(times_mjd_s, dtype=float))
        moved = np.cross(self.rates_rad_s[self._interval(t)], np.asarray(baselines_itrf_m, float))
        return np.einsum("nij,nj->ni", self.rotation(t), moved)


@dataclass(frozen=True)
class TrackOffset:
    """How one observation's baseline coordinates differ from the template's at the same sidereal time.

    ``shift_s``: the time along the track that best matches (precession moves the tracks along
    themselves); ``same_lst_uv_m``: the largest (u,v) difference at the same sidereal time;
    ``residual_uv_m``/``residual_w_m``: the largest differences left after the shift (no choice of
    output slot removes them).
    """

    shift_s: float
    same_lst_uv_m: float
    residual_uv_m: float
    residual_w_m: float


def fit_track_offset(uvw_in_m: np.ndarray, uvw_template_m: np.ndarray, velocity_m_s: np.ndarray) -> TrackOffset:
    """Least-squares time shift of measured UVW against the template's at the same sidereal time.

    All arrays are ``(n, 3)`` for the same baselines (oriented alike); the shift minimises the
    (u,v) differences of ``uvw_in - (uvw_template + shift * velocity)``.
    """
    diff = np.asarray(uvw_in_m, float) - np.asarray(uvw_template_m, float)
    vel = np.asarray(velocity_m_s, float)
    norm = float(np.sum(vel[:, :2] ** 2))
    shift = float(np.sum(diff[:, :2] * vel[:, :2]) / norm) if norm > 0 else 0.0
    resid = diff - shift * vel
    return TrackOffset(shift_s=shift, same_lst_uv_m=float(np.max(np.hypot(diff[:, 0], diff[:, 1]), initial=0.0)),
                       residual_uv_m=float(np.max(np.hypot(resid[:, 0], resid[:, 1]), initial=0.0)),
                       residual_w_m=float(np.max(np.abs(resid[:, 2]), initial=0.0)))


def smearing_loss(step_s: float, *, radius_rad: float, wavelength_m: float, track_speed_m_s: float,
                  offset_uv_m: float, offset_w_m: float) -> float:
    """Peak loss of a source ``radius_rad`` from the phase centre after averaging in slots of ``step_s``.

    The samples that one output slot collects lie along the track over ``track_speed * step``
    (a box: ``sinc``), and the observations' tracks differ by up to ``offset_uv`` across it (and
    ``offset_w`` in w), which the worst-placed source sees as a phase error (``cos``).
    """
    box_lambda = track_speed_m_s * step_s / wavelength_m
    phase_rad = 2.0 * math.pi * (offset_uv_m * radius_rad + 0.5 * offset_w_m * radius_rad**2) / wavelength_m
    keep = float(np.sinc(box_lambda * radius_rad)) * math.cos(min(phase_rad, math.pi / 2))
    return 1.0 - keep


def max_step_s(max_loss: float, *, radius_rad: float, wavelength_m: float, track_speed_m_s: float,
               offset_uv_m: float, offset_w_m: float) -> float:
    """The longest output step whose :func:`smearing_loss` stays within ``max_loss`` (``inf`` for no limit).

    Raises
    ------
    InputError
        The offsets between the observations alone exceed the budget (no step helps).
    """
    offset_loss = smearing_loss(0.0, radius_rad=radius_rad, wavelength_m=wavelength_m, track_speed_m_s=0.0,
                                offset_uv_m=offset_uv_m, offset_w_m=offset_w_m)
    if offset_loss >= max_loss:
        raise InputError(
            f"the observations' baseline coordinates differ by up to {offset_uv_m:.3g} m in (u,v) and "
            f"{offset_w_m:.3g} m in w after sidereal matching: {100 * offset_loss:.2g} % peak loss at "
            f"{math.degrees(radius_rad):.3g} deg already exceeds the budget of {100 * max_loss:.2g} %; image a smaller "
            "radius or combine observations closer in date", setting="image_radius_deg")
    if track_speed_m_s <= 0 or radius_rad <= 0:
        return math.inf
    target = (1.0 - max_loss) / (1.0 - offset_loss)
    lo, hi = 0.0, 1.0  # np.sinc falls from 1 to 0 on [0, 1]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.sinc(mid) >= target else (lo, mid)
    return lo * wavelength_m / (track_speed_m_s * radius_rad)


def quantise_step(budget_s: float, integration_s: float) -> float:
    """The output step: whole input integrations up to ``budget_s``, or an integer fraction of one.

    Raises
    ------
    InputError
        The budget asks for less than 1/:data:`MAX_UPSAMPLING` of the input integration.
    """
    if budget_s >= integration_s:
        return integration_s * math.floor(budget_s / integration_s + 1e-9) if math.isfinite(budget_s) else math.inf
    factor = math.ceil(integration_s / budget_s - 1e-9)
    if factor > MAX_UPSAMPLING:
        raise InputError(
            f"the smearing budget needs output slots of {budget_s:.3g} s, finer than 1/{MAX_UPSAMPLING} of the input "
            f"integration ({integration_s:g} s); image a smaller radius, allow more loss or give the time resolution",
            setting="image_radius_deg")
    return integration_s / factor


def default_radius_rad(dish_diameters_m: np.ndarray, freq_min_hz: float) -> float:
    """The half-power radius of the widest station beam at the lowest frequency: ``0.5 * 1.02 lambda / D``."""
    diameters = np.asarray(dish_diameters_m, dtype=float)
    diameters = diameters[np.isfinite(diameters) & (diameters > 0)]
    if diameters.size == 0:
        raise InputError("the template's ANTENNA table gives no dish diameters to size the field from; give the "
                         "image radius", setting="image_radius_deg")
    return 0.5 * 1.02 * (C_M_S / freq_min_hz) / float(diameters.min())


@dataclass(frozen=True)
class TimeGrid:
    """The template time slots: centres ``start + (i + 0.5) * step`` for ``i < n_slots`` (template-date MJD s)."""

    start_mjd_s: float
    step_s: float
    n_slots: int

    @classmethod
    def covering(cls, samples_mjd_s: list[tuple[float, float]], step_s: float, integration_s: float,
                 anchor_mjd_s: float) -> TimeGrid:
        """Slots of ``step_s`` over the first to the last sample time of every observation (``(first, last)`` each).

        The slots are placed on the template's samples (``anchor_mjd_s``: its first): slots of whole
        integrations start half an integration before a sample (each holds whole input samples);
        finer slots are centred on the samples. A first or last slot less than 5 % full is dropped.
        """
        pad = 0.5 * min(step_s, integration_s)
        lo = min(a for a, _ in samples_mjd_s) - pad
        hi = max(b for _, b in samples_mjd_s) + pad
        start = anchor_mjd_s - pad - step_s * math.ceil((anchor_mjd_s - pad - lo) / step_s - 0.05)
        n = max(1, int(math.ceil((hi - start) / step_s - 0.05)))
        return cls(start, step_s, n)

    def centres(self, first: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.n_slots if stop is None else stop
        return self.start_mjd_s + (np.arange(first, stop) + 0.5) * self.step_s

    def slot_of(self, template_times_mjd_s: np.ndarray) -> np.ndarray:
        """The slot whose interval holds each time (clipped to the grid)."""
        k = np.floor((np.asarray(template_times_mjd_s, float) - self.start_mjd_s) / self.step_s).astype(np.int64)
        return np.clip(k, 0, self.n_slots - 1)


def uncovered_gap(intervals: list[tuple[float, float]], tolerance_s: float) -> tuple[int, int] | None:
    """The first pair ``(i, j)`` of intervals (by start) between which the union has a gap, else ``None``."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
    reach, reach_idx = intervals[order[0]][1], order[0]
    for i in order[1:]:
        start, end = intervals[i]
        if start > reach + tolerance_s:
            return reach_idx, i
        if end > reach:
            reach, reach_idx = end, i
    return None
