"""Calibrator solutions against the simulator's ground truth.

``lofar-hires simulate`` writes the injected corruptions of every observation
(``<obs>.truth.h5`` and ``<obs>.truth.json``); :func:`di_solution_errors`
measures how far the calibrator pipeline's ``cal_solutions.h5`` is from them,
per effect and station, with both referenced to the same station. The errors
are those the DI accuracy targets are stated in (docs/di_fits.md):

* clock and TEC: rms over time (ns, TECU). The TEC a direction-independent solve finds
  on a calibrator is all the TEC towards it: the truth's direction-independent ``tec``
  plus, where the simulator also ran a TEC screen (soltab ``tecscreen``), the screen
  towards the calibrator (the screen's direction nearest the pointing centre);
* polarisation delay: absolute error of the XX-YY delay (ns);
* rotation measure: rms over time (rad/m^2);
* bandpass: median over channels and polarisations of ``|found / true - 1|`` (%).
  The scintillation averaged over the calibrator scan cannot be told from the
  bandpass, so the true value is the injected bandpass times the station's
  median scintillation amplitude.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Solset, Soltab, read_h5parm
from lofar_hires.physics import angular_separation_rad

#: Effect -> unit of its error, in the order of :data:`DiErrors.errors`.
ERROR_UNITS: dict[str, str] = {
    "clock": "ns",
    "polalign_delay": "ns",
    "faraday": "rad/m^2",
    "bandpass": "%",
    "tec": "TECU",
}


@dataclass(frozen=True)
class DiErrors:
    """Per-station errors of the calibrator solutions (NaN where a station has no solution)."""

    stations: list[str]
    reference: str
    errors: dict[str, np.ndarray]

    def unsolved(self, effect: str) -> list[str]:
        """Stations without a solution (NaN error) for ``effect``, the reference excepted."""
        return [s for s, v in zip(self.stations, self.errors[effect]) if not np.isfinite(v) and s != self.reference]

    def worst(self) -> dict[str, tuple[str, float]]:
        """Effect -> (station, error) of the largest error; a station without a solution counts as
        the worst (error ``inf``), so that no summary can hide it."""
        out = {}
        for effect, values in self.errors.items():
            missing = self.unsolved(effect)
            if missing:
                out[effect] = (missing[0], float("inf"))
            elif np.any(np.isfinite(values)):
                i = int(np.nanargmax(values))
                out[effect] = (self.stations[i], float(values[i]))
        return out

    def to_dict(self) -> dict:
        return {"reference": self.reference, "units": ERROR_UNITS,
                "errors": {e: {s: (float(v) if np.isfinite(v) else None) for s, v in zip(self.stations, vals)}
                           for e, vals in self.errors.items()}}


def _by_station(tab: Soltab, names: list[str], what: str) -> np.ndarray:
    """Values of a canonical soltab reordered to ``names`` along ``ant``; NaN where the weight is 0."""
    tab = tab.canonical()
    have = [str(n) for n in tab.axes["ant"]]
    missing = [n for n in names if n not in have]
    if missing:
        raise InputError(f"{what} has no station(s) {missing}")
    ax = tab.axis_names.index("ant")
    idx = [have.index(n) for n in names]
    values = np.where(tab.weight > 0, tab.val, np.nan)
    return np.take(values, idx, axis=ax)


def _referenced(values: np.ndarray, ref: int) -> np.ndarray:
    """(time, ant) values minus the reference station's."""
    return values - values[:, ref:ref + 1]


def _rms_over_time(values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.sqrt(np.nanmean(values ** 2, axis=0))


def _delay_s(polalign: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """XX-YY delay per station from (freq, ant, pol) alignment phases: -d(phase_YY - phase_XX)/d(2 pi nu)."""
    diff = np.unwrap(polalign[:, :, 1] - polalign[:, :, 0], axis=0)
    x = 2 * np.pi * (freqs_hz - freqs_hz.mean())
    ok = np.all(np.isfinite(diff), axis=0)
    slope = np.full(diff.shape[1], np.nan)
    if np.any(ok):
        centred = diff[:, ok] - diff[:, ok].mean(axis=0)
        slope[ok] = (x @ centred) / (x @ x)
    return -slope


def _calibrator_direction(truth: Solset, directions: list[str], pointing_deg, what: str) -> int:
    """Index in ``directions`` of the screen direction towards the calibrator: the only one, else the one nearest
    the pointing centre (a calibrator observation points at its calibrator)."""
    if len(directions) == 1:
        return 0
    missing = [d for d in directions if d not in truth.directions]
    if missing or pointing_deg is None:
        raise InputError(f"{what}: tecscreen has {len(directions)} directions and no position for "
                         f"{missing or 'the pointing centre'}; cannot tell which one is the calibrator")
    ra0, dec0 = np.radians(pointing_deg)
    sep = [float(angular_separation_rad(ra0, dec0, *truth.directions[d])) for d in directions]
    return int(np.argmin(sep))


def _true_tec_tecu(truth: Solset, names: list[str], truth_h5: Path, meta: dict) -> np.ndarray:
    """(time, ant) TEC towards the calibrator: direction-independent ``tec`` plus the ``tecscreen`` towards it."""
    tec = _by_station(truth.soltabs["tec"], names, str(truth_h5))
    if "tecscreen" not in truth.soltabs:
        return tec
    screen = truth.soltabs["tecscreen"].canonical()
    if "dir" not in screen.axes:
        raise InputError(f"{truth_h5}: soltab tecscreen has no dir axis")
    directions = [str(d) for d in screen.axes["dir"]]
    k = _calibrator_direction(truth, directions, meta.get("pointing_deg"), str(truth_h5))
    ax = screen.axis_names.index("dir")
    towards = Soltab("tecscreen", screen.soltype, {a: v for a, v in screen.axes.items() if a != "dir"},
                     np.take(screen.val, k, axis=ax), np.take(screen.weight, k, axis=ax))
    values = _by_station(towards, names, str(truth_h5))
    if values.shape != tec.shape:
        raise InputError(f"{truth_h5}: tecscreen has shape {values.shape} without dir, tec {tec.shape}")
    return tec + values


def di_solution_errors(cal_solutions: Path, truth_h5: Path, truth_json: Path,
                       reference: str | None = None) -> DiErrors:
    """Errors per effect and station of ``cal_solutions.h5`` against a simulated calibrator's truth.

    Parameters
    ----------
    cal_solutions
        Output of the calibrator pipeline (soltabs polalign, bandpass, faraday, clock, tec).
    truth_h5, truth_json
        The simulator's ground truth of the same calibrator observation.
    reference
        Station both are referenced to (default: the truth's reference station).

    Returns
    -------
    DiErrors
        Errors per effect and station. The true TEC is the truth's ``tec`` plus its
        ``tecscreen`` towards the calibrator where the truth has a screen: a
        direction-independent solve on the calibrator absorbs both.

    Raises
    ------
    InputError
        When a file lacks a soltab or a station the comparison needs, or the
        channels differ.
    """
    cal = read_h5parm(Path(cal_solutions))
    truth = read_h5parm(Path(truth_h5))
    meta = json.loads(Path(truth_json).read_text())
    names = list(cal.antenna_names)
    reference = reference or meta["reference_station"]
    if reference not in names:
        raise InputError(f"reference station {reference} is not in {cal_solutions}")
    ref = names.index(reference)
    for name, ss, path in (("clock", cal, cal_solutions), ("polalign", cal, cal_solutions),
                           ("faraday", cal, cal_solutions), ("bandpass", cal, cal_solutions),
                           ("tec", cal, cal_solutions), ("scintillation", truth, truth_h5)):
        if name not in ss.soltabs:
            raise InputError(f"{path} has no soltab {name}")

    errors: dict[str, np.ndarray] = {}
    for effect, scale in (("clock", 1e9), ("tec", 1.0), ("faraday", 1.0)):
        found = _referenced(_by_station(cal.soltabs[effect], names, str(cal_solutions)), ref)
        true = _referenced(_true_tec_tecu(truth, names, Path(truth_h5), meta) if effect == "tec"
                           else _by_station(truth.soltabs[effect], names, str(truth_h5)), ref)
        if found.shape != true.shape:
            raise InputError(f"{effect}: {cal_solutions} has {found.shape[0]} time slots, the truth "
                             f"{true.shape[0]}; compare solutions made at the simulated time resolution")
        errors[effect] = _rms_over_time(found - true) * scale

    polalign = cal.soltabs["polalign"].canonical()
    freqs_hz = np.asarray(polalign.axes["freq"], dtype=float)
    delay = _delay_s(_by_station(polalign, names, str(cal_solutions)), freqs_hz)
    stations_truth = {s["name"]: s for s in meta["stations"]}
    delay_true = np.array([stations_truth[n]["polalign_delay_ns_vs_reference"] if n in stations_truth else np.nan
                           for n in names]) * 1e-9
    errors["polalign_delay"] = np.abs((delay - delay[ref]) - (delay_true - delay_true[ref])) * 1e9

    bandpass = _by_station(cal.soltabs["bandpass"], names, str(cal_solutions))
    bandpass_true = _by_station(truth.soltabs["bandpass"], names, str(truth_h5))
    if bandpass.shape != bandpass_true.shape:
        raise InputError(f"bandpass: {cal_solutions} has {bandpass.shape[0]} channels, the truth "
                         f"{bandpass_true.shape[0]}; compare solutions at the simulated frequency resolution")
    scint = np.nanmedian(_by_station(truth.soltabs["scintillation"], names, str(truth_h5)), axis=0)
    with np.errstate(all="ignore"):
        errors["bandpass"] = 100 * np.nanmedian(np.abs(bandpass / (bandpass_true * scint[None, :, None]) - 1),
                                                axis=(0, 2))
    ordered = {e: errors[e] for e in ERROR_UNITS}
    return DiErrors(stations=names, reference=reference, errors=ordered)


def format_errors(result: DiErrors) -> str:
    """A fixed-width table: one row per station, one column per effect."""
    header = "  ".join(f"{e} ({u})".rjust(max(10, len(e) + len(u) + 3)) for e, u in ERROR_UNITS.items())
    lines = [f"{'station':12s}  {header}"]
    for i, name in enumerate(result.stations):
        cells = []
        for e, u in ERROR_UNITS.items():
            width = max(10, len(e) + len(u) + 3)
            v = result.errors[e][i]
            shown = f"{v:.4f}" if np.isfinite(v) else "-" if name == result.reference else "no solution"
            cells.append(shown.rjust(width))
        lines.append(f"{name:12s}  " + "  ".join(cells))
    return "\n".join(lines)
