"""Peeling's decisions without running DP3: brightest first, names checked against the sky model, the noise
measured from the data, and sources too faint to solve on refused with their estimated signal to noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.skymodel import SkyModel
from lofar_hires.peel import plan


def sky(names, patches, flux, ra=None) -> SkyModel:
    n = len(names)
    ra = np.radians(ra if ra is not None else 243.0 + 0.1 * np.arange(n))
    return SkyModel(names=list(names), types=["POINT"] * n, patches=list(patches), ra_rad=ra,
                    dec_rad=np.radians(np.full(n, 55.0)), i_jy=np.asarray(flux, float), ref_freq_hz=np.full(n, 150e6),
                    spectral_index=np.zeros((n, 0)), log_si=np.ones(n, bool), major_arcsec=np.zeros(n),
                    minor_arcsec=np.zeros(n), orientation_deg=np.zeros(n))


def test_brightest_first_patches_as_one_source():
    model = sky(["a1", "a2", "b", "c"], ["A", "A", "B", "C"], [10.0, 15.0, 30.0, 0.5])
    order = plan.peel_order(model, 150e6, min_flux_jy=1.0)
    assert [(s.name, s.flux_jy) for s in order] == [("B", 30.0), ("A", 25.0)]
    assert order[1].ra_deg == pytest.approx(243.1)  # the brightest component of patch A
    named = plan.peel_order(model, 150e6, names=["c", "A"])
    assert [s.name for s in named] == ["A", "c"]


def test_bad_choices_are_refused():
    model = sky(["a", "b"], ["A", "B"], [10.0, 20.0])
    with pytest.raises(InputError, match="nosuch.*not in the sky model"):
        plan.peel_order(model, 150e6, names=["A", "nosuch"])
    with pytest.raises(InputError, match="brightest has 20"):
        plan.peel_order(model, 150e6, min_flux_jy=50.0)
    with pytest.raises(InputError, match="threshold"):
        plan.peel_order(model, 150e6)
    with pytest.raises(InputError, match="positive flux"):
        plan.peel_order(model, 150e6, min_flux_jy=float("nan"))


def test_noise_from_the_cross_hands_ignores_a_bright_far_source():
    rng = np.random.default_rng(1)
    rows, chans = 2000, 16
    freq = np.linspace(140e6, 143e6, chans)
    fringe = 20.0 * np.exp(2j * np.pi * rng.uniform(-3e-7, 3e-7, rows)[:, None] * freq[None, :])  # a 20 Jy source
    noise = 0.7 * (rng.standard_normal((rows, chans, 4)) + 1j * rng.standard_normal((rows, chans, 4)))
    data = noise.copy()
    data[:, :, [0, 3]] += fringe[:, :, None]  # unpolarised: the parallel hands only
    assert plan.visibility_noise_jy(data) == pytest.approx(0.7, rel=0.05)
    flags = np.zeros(data.shape, bool)
    flags[:, 5] = True
    data[:, 5] = 1e6  # flagged garbage does not count
    assert plan.visibility_noise_jy(data, flags) == pytest.approx(0.7, rel=0.05)
    # two correlations: neighbouring-channel differences, right for a smooth sky
    smooth = 5.0 + noise[:, :, [0, 3]]
    assert plan.visibility_noise_jy(smooth) == pytest.approx(0.7, rel=0.05)


def test_too_faint_sources_are_refused_with_their_estimate():
    sources = [plan.PeelSource("bright", 243.0, 55.0, 25.0), plan.PeelSource("faint", 243.5, 55.0, 0.05)]
    snr = plan.solution_snr(25.0, 1.0, 50, 4, 8)
    assert snr == pytest.approx(25.0 * math.sqrt(2 * 49 * 32))
    with pytest.raises(InputError, match=r"faint \(S/N 2\.8\)"):
        plan.check_solvable(sources, 1.0, 50, 4, 8, min_snr=5.0)
    assert set(plan.check_solvable(sources[:1], 1.0, 50, 4, 8, min_snr=5.0)) == {"bright"}


def test_contaminators_are_the_bright_sources_left_in_the_data():
    target = plan.PeelSource("A", 243.0, 55.0, 20.0, (0,))
    others = [plan.PeelSource("B", 243.1, 55.0, 5.0, (1,)), plan.PeelSource("C", 243.2, 55.0, 1.0, (2,)),
              plan.PeelSource("D", 243.3, 55.0, 3.0, (3,)), plan.PeelSource("A_too", 243.0, 55.0, 9.0, (0, 4))]
    assert [c.name for c in plan.contaminators_of(target, others, 0.1, 3)] == ["B", "D"]  # C is below 2 Jy
    assert [c.name for c in plan.contaminators_of(target, others, 0.1, 1)] == ["B"]
    assert plan.contaminators_of(target, others, 0.1, 0) == []


def test_patch_names_dp3_can_carry():
    names = plan.dp3_patch_names(["3C 196", "3C_196", "../x", "", "Cas-A"])
    assert list(names.values()) == ["s_3C_196", "s_3C_196_1", "___x", "source", "Cas_A"]


class _Info:
    """The metadata plan_peel reads (an MsInfo's fields)."""

    def __init__(self, positions_m):
        self.freqs_hz = np.linspace(140e6, 143e6, 8)
        self.chan_width_hz = 390625.0
        self.integration_s = 10.0
        self.station_names = tuple(f"S{i}" for i in range(len(positions_m)))
        self.station_positions_m = np.asarray(positions_m, float)
        self.phase_centre_rad = (math.radians(243.0), math.radians(55.0))


def test_averaging_keeps_the_contaminators_unsmeared():
    model = sky(["a", "b", "c"], ["A", "B", "C"], [30.0, 5.0, 0.1], ra=[244.0, 244.02, 243.0])
    short = _Info([[0, 0, 0], [3000.0, 0, 0], [0, 3000.0, 0]])  # 3 km: 2.4 arcmin resolution
    long = _Info([[0, 0, 0], [600e3, 0, 0], [0, 600e3, 0]])  # 600 km: 0.7 arcsec
    settings = plan.PeelSettings(solint_s=60.0, solint_hz=1.6e6)
    sources = plan.peel_order(model, 141e6, min_flux_jy=1.0)
    near, far = (plan.plan_peel(model, info, sources, settings, noise_jy=1.0)[0] for info in (short, long))
    assert [c.name for c in near.contaminators] == ["B"]
    assert (near.time_factor, near.chan_factor, near.solint_slots, near.nchan) == (6, 4, 1, 1), "the solution cell"
    # B, 41 arcsec away, would smear in frequency on 600 km baselines (0.7 arcsec) but hardly in 60 s (1.5 %)
    assert (far.time_factor, far.chan_factor) == (6, 1)
    assert (far.solint_slots, far.nchan) == (1, 4), "the same solution cell in unaveraged samples"
    alone = plan.plan_peel(model, long, sources, plan.PeelSettings(solint_s=60.0, solint_hz=1.6e6,
                                                                   max_contaminators=0), noise_jy=1.0)
    assert (alone[0].time_factor, alone[0].chan_factor, alone[0].solint_slots, alone[0].nchan) == (6, 4, 1, 1)
    second = plan.plan_peel(model, long, sources, settings, noise_jy=1.0)[1]
    assert second.source.name == "B" and not second.contaminators, "A is peeled by then, C too faint"


def test_settings_are_checked():
    with pytest.raises(InputError, match="peeling solves one of"):
        plan.PeelSettings(solve_mode="fulljones")
    with pytest.raises(InputError, match="contaminator_fraction"):
        plan.PeelSettings(contaminator_fraction=0.0)
    with pytest.raises(InputError, match="solint_s"):
        plan.PeelSettings(solint_s=float("nan"))
