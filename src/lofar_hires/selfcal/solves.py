"""DP3 steps of a self-calibration cycle (pure builders) and the post-processing of each solve.

* :func:`prepare_steps`: pre-applied solutions, phase shift, averaging and phase-up
  of the core into a superstation (one DP3 run that writes the work MS);
* :func:`solve_steps`: the corrections of the cycle's earlier solves, then one
  DDECal solve against ``MODEL_DATA``;
* :func:`finish_solution`: checks that a solve produced usable solutions, resets
  station groups to the identity and normalises amplitudes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lofar_hires.calibration.phases import reference_phases_to_group as referenced
from lofar_hires.errors import InputError, QualityError
from lofar_hires.io.h5parm import Solset, Soltab, read_h5parm
from lofar_hires.io.ms import MsInfo
from lofar_hires.physics import C_M_S
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3_steps import Correction, Dp3Step, correction_steps
from lofar_hires.selfcal.strategy import AMPLITUDE_MODES, PrepareSpec, SolveSpec
from lofar_hires.solutions.reset import reset_stations
from lofar_hires.solutions.stations import StationGroup, resolve_stations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparePlan:
    """How an input MS becomes the work MS: the DP3 steps and the stations that remain."""

    steps: tuple[Dp3Step, ...]
    core: tuple[str, ...]
    stations_after: tuple[str, ...]
    timestep: int
    freqstep: int


def plan_prepare(info: MsInfo, prepare: PrepareSpec, groups: Mapping[str, StationGroup],
                 phase_centre_deg: tuple[float, float] | None = None,
                 pre_apply: Sequence[Correction] = ()) -> PreparePlan:
    """The DP3 steps that turn ``info``'s MS into the work MS (pure).

    Order: pre-applied corrections (station-based, before anything changes the
    stations), removal of stations, phase shift, averaging, phase-up.
    """
    steps = list(correction_steps(pre_apply))
    names = list(info.station_names)
    if prepare.remove_stations:
        removed = resolve_stations(prepare.remove_stations, names, groups, where="prepare.remove_stations")
        if len(names) - len(removed) < 2:
            raise InputError(f"prepare.remove_stations={prepare.remove_stations!r} leaves {len(names) - len(removed)} "
                             f"station(s) of {info.path.name}; at least two are needed",
                             setting="prepare.remove_stations")
        steps += dp3_steps.drop_stations(removed)
        names = [n for n in names if n not in removed]
    if phase_centre_deg is not None:
        steps.append(dp3_steps.phaseshift(*phase_centre_deg))
    timestep, freqstep, averager = dp3_steps.averaging(info.integration_s, info.chan_width_hz, len(info.freqs_hz),
                                                       prepare.time_resolution_s, prepare.freq_resolution_hz)
    steps += averager
    core: list[str] = []
    if prepare.phaseup_core:
        if prepare.superstation in names:
            raise InputError(f"prepare.superstation {prepare.superstation} is already a station of {info.path.name}")
        core = resolve_stations(prepare.core_stations, names, groups, where="prepare.core_stations")
        if len(core) < 2:
            raise InputError(f"prepare.core_stations={prepare.core_stations!r} selects {len(core)} station(s) of "
                             f"{info.path.name}; phasing up needs at least two (or set prepare.phaseup_core: false)")
        steps += dp3_steps.phaseup(core, prepare.superstation)
    after = [n for n in names if n not in core] + ([prepare.superstation] if core else [])
    return PreparePlan(tuple(steps), tuple(core), tuple(after), timestep, freqstep)


def antenna_constraint(solve: SolveSpec, stations: Sequence[str], groups: Mapping[str, StationGroup],
                       where: str) -> list[list[str]]:
    """DDECal's ``antennaconstraint``: each specification resolved on the work MS's stations."""
    out = []
    for i, spec in enumerate(solve.antenna_constraint):
        members = resolve_stations(spec, stations, groups, where=f"{where}.antenna_constraint[{i}]")
        if len(members) < 2:
            raise InputError(f"{where}.antenna_constraint[{i}]={spec!r} selects {len(members)} station(s) "
                             f"({', '.join(members) or 'none'}); a constraint needs at least two")
        out.append(members)
    return out


def ddecal_step(mode: str, h5parm: Path, solve: SolveSpec, slots: int, channels: int,
                constraint: Sequence[Sequence[str]] = (), *, sourcedb: Path | None = None,
                directions: Sequence[Sequence[str]] = (), model_corrections: Sequence[Correction] = ()) -> Dp3Step:
    """One DDECal solve (pure): ``slots`` and ``channels`` per solution.

    Against ``MODEL_DATA``, or, for a multi-direction solve, against the patches of ``sourcedb``
    grouped into ``directions``, with the cycle's earlier solutions applied to each direction's
    model (``model_corrections``).
    """
    return dp3_steps.ddecal(mode, h5parm, solint_slots=slots, nchan=channels, minuv_lambda=solve.minuv_lambda,
                            maxiter=solve.maxiter, tolerance=solve.tolerance, smoothness_hz=solve.smoothness_hz,
                            smoothness_ref_hz=solve.smoothness_ref_hz, antenna_constraint=constraint,
                            model_columns=() if sourcedb is not None else ("MODEL_DATA",), sourcedb=sourcedb,
                            directions=directions, model_corrections=model_corrections)


def solution_correction(h5parm: Path, mode: str) -> Correction:
    """How to apply a solve's h5parm: its soltabs (fulljones as one full-Jones correction)."""
    names = tuple(read_h5parm(h5parm).soltabs)
    spec = dp3_steps.solve_mode(mode)
    if spec.fulljones:
        return Correction(h5parm, spec.soltabs, fulljones=True)
    return Correction(h5parm, names)


def solve_steps(previous: Sequence[Correction], step: Dp3Step) -> list[Dp3Step]:
    """The corrections of the cycle's earlier solves (in solve order), then the solve (pure)."""
    return [*correction_steps(previous), step]


def longest_baseline_lambda(ms: Path, max_freq_hz: float, chunk_rows: int = 100000) -> float:
    """Length of the longest baseline (flagged or not) in wavelengths at ``max_freq_hz``, read in chunks."""
    from casacore.tables import table

    longest = 0.0
    with table(str(ms), ack=False) as t:
        for start in range(0, t.nrows(), chunk_rows):
            uvw = t.getcol("UVW", start, min(chunk_rows, t.nrows() - start))
            if len(uvw):
                longest = max(longest, float(np.sqrt(np.max(uvw[:, 0] ** 2 + uvw[:, 1] ** 2))))
    return longest * max_freq_hz / C_M_S


def _valid_fraction(tab: Soltab) -> float:
    good = (tab.weight > 0) & np.isfinite(tab.val)
    return float(good.mean()) if good.size else 0.0


def normalise_amplitudes(tab: Soltab) -> tuple[Soltab, float]:
    """Amplitudes divided by their geometric mean (the flux-scale degeneracy of self-calibration); returns them and
    the factor farthest from one (1: nothing to do).

    Each direction of a multi-direction solve has its own model, hence its own degeneracy: its amplitudes are
    divided by their own mean. One mean over all directions let a poorly constrained direction (amplitudes of
    2.5 towards a 0.6 Jy resolved calibrator) scale the others' by 0.8, and their facets' fluxes by 1.56.
    Off-diagonal full-Jones terms are scaled by the same factor.
    """
    good = (tab.weight > 0) & np.isfinite(tab.val) & (tab.val > 0)
    if "pol" in tab.axes:
        pols = [str(p) for p in tab.axes["pol"]]
        pol_axis = tab.axis_names.index("pol")
        diag = np.isin(pols, ["XX", "YY", "RR", "LL", "I"])
        shape = [1] * tab.val.ndim
        shape[pol_axis] = len(pols)
        good &= diag.reshape(shape)
    if not good.any():
        return tab, 1.0
    logs = np.where(good, np.log(np.where(good, tab.val, 1.0)), 0.0)
    others = tuple(i for i, name in enumerate(tab.axis_names) if name != "dir")
    count = good.sum(axis=others, keepdims=True)
    factors = np.exp(logs.sum(axis=others, keepdims=True) / np.maximum(count, 1))
    factors = np.where(count > 0, factors, 1.0)
    worst = float(factors.ravel()[np.argmax(np.abs(np.log(factors.ravel())))])
    return Soltab(tab.name, tab.soltype, dict(tab.axes), tab.val / factors, tab.weight.copy(), dict(tab.attrs)), worst


def finish_solution(solset: Solset, mode: str, solve: SolveSpec, reset: Sequence[str], where: str) -> Solset:
    """Check one solve's solutions, normalise amplitudes, then reset station groups (exact identity).

    A file holding no finite solution at all never gets here: the DP3 runner refuses it
    (:class:`~lofar_hires.errors.QualityError`). This check is per soltab and counts the
    weights too, which DP3's output check does not.

    Raises
    ------
    QualityError
        A soltab holds no usable solution (every value flagged or NaN): the cycle must not
        go on with such gains.
    """
    for name, tab in solset.soltabs.items():
        fraction = _valid_fraction(tab)
        if fraction == 0.0:
            raise QualityError(f"{where}: DDECal produced no usable solution in {name} (every value flagged or "
                               f"NaN); the data left after minuv_lambda={solve.minuv_lambda:g} and the flags cannot be "
                               "solved")
        if fraction < 0.5:
            log.warning("%s: only %.0f%% of the solutions in %s are valid", where, 100 * fraction, name)
    if solve.normalize_amplitudes and mode in AMPLITUDE_MODES:
        tabs = {}
        for name, tab in solset.soltabs.items():
            if tab.soltype == "amplitude":
                tab, factor = normalise_amplitudes(tab)
                log.info("%s: amplitudes of %s normalised per direction (largest factor %.4f)", where, name, factor)
            tabs[name] = tab
        solset = Solset(solset.name, list(solset.antenna_names), solset.antenna_positions_m.copy(),
                        dict(solset.directions), tabs, dict(solset.attrs))
    if reset:
        solset = reset_stations(reference_phases(solset, reset), list(reset))
    return solset


def reference_phases(solset: Solset, group: Sequence[str]) -> Solset:
    """Phases relative to the circular mean of the stations of ``group`` (per time, frequency, direction and
    polarisation).

    DDECal's phases share an arbitrary common offset. Before a group is reset to zero
    phase, the others must be made relative to that group, or the offset would be left
    on every baseline between a reset and a solved station. Relative to the group's mean,
    not to one of its stations: a single station would add its own fast phase changes
    (which the group's later, slower solve cannot follow) to every other station.
    """
    tabs = {}
    for name, tab in solset.soltabs.items():
        ants = list(tab.axes.get("ant", []))
        members = [ants.index(s) for s in group if s in ants]
        if tab.soltype in ("phase", "scalarphase") and members:
            val = referenced(tab.val, tab.weight, tab.axis_names.index("ant"), members)
            tab = Soltab(tab.name, tab.soltype, dict(tab.axes), val, tab.weight.copy(), dict(tab.attrs))
        tabs[name] = tab
    return Solset(solset.name, list(solset.antenna_names), solset.antenna_positions_m.copy(),
                  dict(solset.directions), tabs, dict(solset.attrs))
