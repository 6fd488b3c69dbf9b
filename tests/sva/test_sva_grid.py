"""The pure parts of sidereal visibility averaging: sidereal mapping, UVW model, smearing budget, grid, matching,
accumulation (no measurement set needed, except casacore measures for the UVW model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.sva import grid as g
from lofar_hires.sva.engine import accumulate, conjugate_permutation, match_slots

#: ELAIS-N1 and a LOFAR core position (ITRF, m).
CENTRE_RAD = (math.radians(242.75), math.radians(55.0))
CORE_ITRF_M = np.array([3826577.1, 461022.9, 5064892.8])
#: One sidereal day in UTC seconds.
SIDEREAL_DAY_S = 86400.0 / g.SIDEREAL_RATE


def test_same_sidereal_time_one_sidereal_day_earlier():
    """A time one sidereal day after the reference maps back onto it (to 1 ms); a solar day later is 3m56s earlier."""
    ref = 5.28e9
    mapped = g.template_time_s(np.array([ref + SIDEREAL_DAY_S, ref + 86400.0, ref + 30 * 86400.0]), ref)
    assert mapped[0] == pytest.approx(ref, abs=1e-3)
    assert mapped[1] - ref == pytest.approx(86400.0 - SIDEREAL_DAY_S, abs=1e-3)
    assert mapped[2] - ref == pytest.approx(30 * (86400.0 - SIDEREAL_DAY_S), abs=1e-2)


def test_uvw_model_follows_casacore_to_a_millimetre():
    """Between anchors 10 min apart the Earth-rotation model matches casacore measures within 1 mm on 1000 km."""
    model = g.UvwModel.build(5.28e9, 5.28e9 + 3600.0, CENTRE_RAD, CORE_ITRF_M)
    times = 5.28e9 + np.array([0.0, 137.0, 299.0, 1111.0, 3599.0])
    baselines = np.array([[1.0e6, 0.0, 0.0], [0.0, 7.0e5, 0.0], [3.0e5, -2.0e5, 6.0e5]])
    exact = np.einsum("tij,bj->tbi", g.uvw_rotations(times, CENTRE_RAD, CORE_ITRF_M), baselines)
    assert np.max(np.abs(model.uvw_m(times, baselines) - exact)) < 1e-3
    step = 0.5
    numeric = (model.uvw_m(times + step, baselines) - model.uvw_m(times - step, baselines)) / (2 * step)
    assert np.max(np.abs(model.velocity_m_s(times, baselines) - numeric)) < 1e-6


def test_track_offset_separates_shift_from_residual():
    """A pure time shift along the track is found; an offset across it is what remains."""
    rng = np.random.default_rng(1)
    uvw = rng.normal(size=(50, 3)) * 1e5
    vel = rng.normal(size=(50, 3)) * 10
    vel[:, 2] = 0
    off = g.fit_track_offset(uvw + 0.25 * vel, uvw, vel)
    assert off.shift_s == pytest.approx(0.25, rel=1e-9)
    assert off.residual_uv_m < 1e-6
    assert off.same_lst_uv_m == pytest.approx(0.25 * np.max(np.hypot(vel[:, 0], vel[:, 1])), rel=1e-9)


def test_smearing_budget_is_met_exactly_at_the_longest_step():
    """The longest step has exactly the budgeted loss; offsets shorten it; offsets alone beyond the budget refuse."""
    geo = {"radius_rad": math.radians(0.5), "wavelength_m": 2.0, "track_speed_m_s": 40.0, "offset_uv_m": 0.0,
           "offset_w_m": 0.0}
    step = g.max_step_s(0.05, **geo)
    assert g.smearing_loss(step, **geo) == pytest.approx(0.05, abs=1e-9)
    # np.sinc(x) = 0.95 at x = 0.17568: a box of 0.17568 / radius wavelengths
    assert step == pytest.approx(0.17568 * 2.0 / (40.0 * math.radians(0.5)), rel=1e-3)
    shorter = g.max_step_s(0.05, **{**geo, "offset_uv_m": 1.0})
    assert 0 < shorter < step
    with pytest.raises(InputError, match="already exceeds the budget"):
        g.max_step_s(0.05, **{**geo, "offset_uv_m": 20.0})


@pytest.mark.parametrize("budget, integration, expected", [
    (35.0, 10.0, 30.0), (10.0, 10.0, 10.0), (9.9, 10.0, 5.0), (3.0, 10.0, 2.5), (math.inf, 10.0, math.inf)])
def test_step_is_whole_integrations_or_a_fraction_of_one(budget, integration, expected):
    assert g.quantise_step(budget, integration) == expected


def test_step_finer_than_an_eighth_of_the_integration_is_refused():
    with pytest.raises(InputError, match="finer than 1/8"):
        g.quantise_step(1.0, 10.0)


def test_grid_is_placed_on_the_template_samples():
    """Whole-integration slots hold whole samples of the template; the grid covers every observation."""
    grid = g.TimeGrid.covering([(1000.0, 1590.0), (995.0, 1585.0)], 20.0, 10.0, anchor_mjd_s=1000.0)
    centres = grid.centres()
    assert grid.start_mjd_s == pytest.approx(975.0)  # one slot before the template's first sample edge (995)
    assert centres[-1] + 10.0 >= 1595.0 - 1.0
    assert list(grid.slot_of(np.array([1000.0, 1010.0, 1020.0]))) == [1, 1, 2]
    fine = g.TimeGrid.covering([(1000.0, 1590.0)], 5.0, 10.0, anchor_mjd_s=1000.0)
    assert np.min(np.abs(fine.centres() - 1000.0)) < 1e-9, "finer slots are centred on the samples"


def test_gap_in_sidereal_coverage_is_found():
    assert g.uncovered_gap([(0.0, 10.0), (5.0, 20.0), (19.0, 30.0)], 0.5) is None
    assert g.uncovered_gap([(0.0, 10.0), (30.0, 40.0)], 0.5) == (0, 1)
    assert g.uncovered_gap([(30.0, 40.0), (0.0, 10.0), (9.0, 20.0)], 0.5) == (2, 0)


def test_matching_picks_the_nearest_slot_and_the_negated_point():
    """Rows match the slot with the nearest (u,v); a row at minus the template's (u,v) is conjugated."""
    block = np.zeros((4, 2, 3))
    block[:, 0, 0] = [0.0, 10.0, 20.0, 30.0]  # baseline 0 moves along u
    block[:, 1, 1] = [100.0, 110.0, 120.0, 130.0]  # baseline 1 moves along v
    uv = np.array([[11.0, 0.0, 0.0], [-19.0, 0.0, 0.0], [0.0, -121.0, 0.0], [29.0, 0.0, 0.0]])
    slots, conj, dist = match_slots(uv, np.array([1, 1, 2, 2]), np.array([0, 0, 1, 0]), block, 0, 1)
    assert list(slots) == [1, 2, 2, 3]
    assert list(conj) == [False, True, True, False]
    assert dist[2] == pytest.approx(1.0)


def test_accumulation_sums_repeated_rows_with_weights():
    acc = np.zeros((3, 1, 4), complex)
    acc_w = np.zeros((3, 1, 4))
    data = np.array([1 + 1j, 3 - 1j, 5 + 0j])[:, None, None] * np.ones((1, 1, 4))
    weight = np.array([1.0, 3.0, 2.0])[:, None, None] * np.ones((1, 1, 4))
    accumulate(acc, acc_w, np.array([2, 0, 2]), data, weight)
    assert acc_w[:, 0, 0].tolist() == [3.0, 0.0, 3.0]
    assert acc[2, 0, 0] / acc_w[2, 0, 0] == pytest.approx((1 + 1j + 10) / 3)
    assert conjugate_permutation(4).tolist() == [0, 2, 1, 3] and conjugate_permutation(2).tolist() == [0, 1]
