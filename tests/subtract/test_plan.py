"""The facet subtraction's decisions without data: facets from a region file, components to facets,
averaging from the smearing budget, output sizes, the disk check, DP3's timing report and the DP3 steps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.regions import Ds9Polygon
from lofar_hires.io.skymodel import SkyModel
from lofar_hires.runners import dp3_steps
from lofar_hires.runners.dp3 import Dp3Run, build_parset
from lofar_hires.selection.smearing import (
    DataResolution,
    bandwidth_smearing_factor,
    suggest_averaging,
    time_smearing_factor,
)
from lofar_hires.subtract import plan
from lofar_hires.subtract.timing import parse_dp3_timing


def square(name: str | None, ra: float, dec: float, half: float = 0.1, point=None) -> Ds9Polygon:
    d = half / math.cos(math.radians(dec))
    verts = np.array([[ra - d, dec - half], [ra + d, dec - half], [ra + d, dec + half], [ra - d, dec + half]])
    return Ds9Polygon(name, verts, point)


def sky(names, ra_deg, dec_deg, flux=None) -> SkyModel:
    n = len(names)
    return SkyModel(names=list(names), types=["POINT"] * n, patches=list(names), ra_rad=np.radians(ra_deg),
                    dec_rad=np.radians(dec_deg), i_jy=np.ones(n) if flux is None else np.asarray(flux, float),
                    ref_freq_hz=np.full(n, 150e6), spectral_index=np.zeros((n, 0)), log_si=np.ones(n, bool),
                    major_arcsec=np.zeros(n), minor_arcsec=np.zeros(n), orientation_deg=np.zeros(n))


def test_facets_need_unique_labels():
    with pytest.raises(InputError, match="no text"):
        plan.facets_from_regions([square(None, 243, 55)], Path("f.reg"))
    with pytest.raises(InputError, match="more than once"):
        plan.facets_from_regions([square("a", 243, 55), square("a", 243.5, 55)], Path("f.reg"))
    with pytest.raises(InputError, match="no polygon"):
        plan.facets_from_regions([], Path("f.reg"))
    facets = plan.facets_from_regions([square("a", 243, 55, point=(243.01, 55.01))], Path("f.reg"))
    assert facets[0].centre_ra_deg == pytest.approx(243, abs=1e-6)
    assert facets[0].centre_dec_deg == pytest.approx(55, abs=1e-3)
    assert (facets[0].cal_ra_deg, facets[0].cal_dec_deg) == (243.01, 55.01)
    assert facets[0].radius_deg == pytest.approx(0.1 * math.sqrt(2), rel=0.01)


def test_components_go_to_the_facet_they_lie_in():
    facets = plan.facets_from_regions([square("a", 243.0, 55), square("b", 243.4, 55)], Path("f.reg"))
    model = sky(["s1", "s2", "s3", "s4"], [243.02, 243.38, 243.2, 250.0], [55.05, 54.95, 55.0, 55.0])
    index = plan.assign_components(model, facets)
    assert index.tolist() == [0, 1, -1, -1]
    split = plan.facet_model(model, facets, index)
    assert split.names == ["s1", "s2"] and split.patches == ["a", "b"]
    assert set(split.patch_positions) == {"a", "b"}


def test_facets_outside_the_field_are_refused():
    facets = plan.facets_from_regions([square("a", 243.0, 55), square("far", 253.0, 55)], Path("f.reg"))
    plan.check_in_field(facets[:1], (243.0, 55.0), 2.5)
    with pytest.raises(InputError, match="far .5.7. deg.*outside the field"):
        plan.check_in_field(facets, (243.0, 55.0), 2.5)


def test_averaging_keeps_the_smearing_budget_at_the_farthest_vertex():
    data = DataResolution(integration_s=1.0, chan_width_hz=12207.03125, freq_min_hz=120e6, n_chan=64)
    for half in (0.01, 0.03, 0.1):
        facet = plan.facets_from_regions([square("a", 243.0, 55, half=half)], Path("f.reg"))[0]
        avg = suggest_averaging(facet.radius_deg, data, 0.3, 0.05)
        assert avg.meets_target
        loss = 1 - bandwidth_smearing_factor(facet.radius_deg, 0.3, avg.chan_width_hz, 120e6) * \
            time_smearing_factor(facet.radius_deg, 0.3, avg.time_s)
        assert loss <= 0.05 + 1e-9
        # one more integration or channel group would break the budget
        more_t = 1 - bandwidth_smearing_factor(facet.radius_deg, 0.3, avg.chan_width_hz, 120e6) * \
            time_smearing_factor(facet.radius_deg, 0.3, avg.time_s + 1.0)
        assert more_t > 0.05 or avg.time_factor >= 1000
    small = suggest_averaging(0.01 * math.sqrt(2), data, 0.3, 0.05)
    large = suggest_averaging(0.1 * math.sqrt(2), data, 0.3, 0.05)
    assert small.time_factor * small.chan_factor > large.time_factor * large.chan_factor


def test_disk_check_names_the_estimate():
    plan.check_disk(10**9, 2 * 10**9, Path("/out"), "x")
    with pytest.raises(InputError, match=r"need about 3 GB, 2 GB are free"):
        plan.check_disk(3 * 10**9, 2 * 10**9, Path("/out"), "4 facet dataset(s)")


def test_dp3_timing_report():
    log = """Processing ...
Total DP3 time       2.50 real        3.10 user        0.40 system
   10.4% (  250 ms) MsReader
   59.1% (  1.48 s) H5ParmPredict
    5.2% (   12 ms) PhaseShift shift.
    6.1% (   13 ms) OneApplyCal facetcal.s0.
    7.9% (   18 ms) OneApplyCal facetcal.s1.
   24.9% (   61 ms) MSWriter msout.
Iterations taken: [0,0,0]
    0.2% (    1 ms) Combine c0.
      1.5% (    0 ms) Creating task
    141.0% (   87 ms) Writing (threaded)
"""
    timing = parse_dp3_timing(log)
    assert timing.real_s == 2.5 and timing.cpu_s == pytest.approx(3.5)
    assert timing.phases_s == {"read": 0.25, "predict": 1.48, "shift": 0.012, "applycal": 0.031, "write": 0.061,
                               "subtract": 0.001}
    assert parse_dp3_timing("DP3 failed") is None


def test_direction_dependent_predict_step(tmp_path):
    skymodel = tmp_path / "s.skymodel"
    skymodel.write_text("")
    step = dp3_steps.h5parm_predict(skymodel, tmp_path / "dd.h5", ["amplitude000", "phase000"], ["a", "b"],
                                    operation="subtract", beam=True)
    text = build_parset(Dp3Run(msin=tmp_path / "in.ms", msout=tmp_path / "out.ms", steps=[step]))
    for line in ("ddpredict.type=h5parmpredict", "ddpredict.directions=[[a],[b]]", "ddpredict.operation=subtract",
                 "ddpredict.applycal.correction=phase000", "ddpredict.applycal.steps=[c0,c1]",
                 "ddpredict.applycal.c0.correction=amplitude000", "ddpredict.usebeammodel=true"):
        assert line in text
    with pytest.raises(InputError, match="operation"):
        dp3_steps.h5parm_predict(skymodel, tmp_path / "dd.h5", ["phase000"], ["a"], operation="multiply")
    with pytest.raises(InputError, match="at least one direction"):
        dp3_steps.h5parm_predict(skymodel, tmp_path / "dd.h5", ["phase000"], [])


def test_an_empty_facet_gets_a_zero_flux_stand_in():
    facets = plan.facets_from_regions([square("a", 243.0, 55), square("b", 243.4, 55)], Path("f.reg"))
    model = sky(["s1"], [243.02], [55.05], flux=[2.0])
    split = plan.facet_model(model, facets, plan.assign_components(model, facets))
    assert split.patches == ["a", "b"]
    assert split.names[0] == "s1" and split.names[1].startswith(plan.PLACEHOLDER_PREFIX)
    assert split.i_jy.tolist() == [2.0, 0.0]
    assert np.degrees(split.ra_rad[1]) == pytest.approx(facets[1].centre_ra_deg)


def test_split_branches_become_per_branch_lists(tmp_path):
    branches = [[dp3_steps.phaseshift(243.0 + k, 55.0), *dp3_steps.averager(k + 1, 1, always=True),
                 dp3_steps.msout(tmp_path / f"f{k}.ms")] for k in range(3)]
    steps = dp3_steps.split(branches)
    text = build_parset(Dp3Run(msin=tmp_path / "in.ms", msout=None, steps=steps, no_msout=True))
    assert "msout=" not in text.split("steps=")[0]
    assert "split.steps=[shift,avg,out]" in text
    assert "split.replaceparms=[shift.phasecenter,avg.timestep,out.name]" in text
    assert "avg.timestep=[1,2,3]" in text and "avg.freqstep=1" in text
    assert steps[0].children[-1].writes == tuple(tmp_path / f"f{k}.ms" for k in range(3))
    assert dp3_steps.split(branches[:1]) == branches[0]
    with pytest.raises(InputError, match="branch 1"):
        dp3_steps.split([branches[0], branches[1][:2]])
