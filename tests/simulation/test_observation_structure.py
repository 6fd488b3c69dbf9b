"""What the simulator writes: MS metadata, LOFAR subtables, truth files, observation plans."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lofar_hires.simulation.geometry import itrf_to_geodetic_lonlat, local_sidereal_time_rad


@pytest.fixture(scope="module")
def two_dates(simulated):
    return simulated("two_dates", overrides=["observation.n_observations=2", "observation.date_step_days=3"])


def _table(path, sub=None):
    from casacore.tables import table

    return table(str(path if sub is None else path / sub), ack=False)


def test_observations_share_the_lst_range_on_different_dates(two_dates):
    t1, t2 = (o.ms for o in two_dates.targets())
    with _table(t1) as a, _table(t2) as b:
        ta, tb = np.unique(a.getcol("TIME")), np.unique(b.getcol("TIME"))
        pos = _table(t1, "ANTENNA").getcol("POSITION")[1]  # CS002HBA0
    lon, _ = itrf_to_geodetic_lonlat(pos)
    dl = (local_sidereal_time_rad(ta, lon) - local_sidereal_time_rad(tb, lon) + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(dl).max() * 86400 / (2 * np.pi) < 1.0  # same LST within 1 s
    days = (tb[0] - ta[0]) / 86400
    assert 2.98 < days < 3.0  # three solar days minus the sidereal shift


def test_calibrator_precedes_target_and_points_at_its_model(two_dates):
    cal, tgt = two_dates.calibrators()[0], two_dates.targets()[0]
    with _table(cal.ms) as c, _table(tgt.ms) as t:
        assert c.getcol("TIME").max() < t.getcol("TIME").min()
    with _table(cal.ms, "FIELD") as f:
        assert f.getcol("NAME")[0] == "3C295"
        ra, dec = f.getcol("PHASE_DIR")[0, 0]
    assert math.degrees(ra) % 360 == pytest.approx(212.835, abs=0.01)
    assert math.degrees(dec) == pytest.approx(52.2028, abs=0.01)
    jc = json.loads(cal.truth_json.read_text())
    assert jc["kind"] == "calibrator" and jc["skymodel"] == "calibrator.skymodel"


def test_instrument_shared_and_clocks_per_date(two_dates):
    import h5py

    vals = {}
    for obs in two_dates.observations:
        with h5py.File(obs.truth_h5, "r") as f:
            vals[obs.name] = {k: f[f"sol000/{k}/val"][()] for k in ("polalign", "bandpass", "clock")}
    a, b = vals["target_obs01"], vals["target_obs02"]
    np.testing.assert_array_equal(a["polalign"], b["polalign"])
    np.testing.assert_array_equal(a["bandpass"], b["bandpass"])
    assert not np.allclose(a["clock"].mean(0), b["clock"].mean(0))
    # Continuity between the calibrator and the target of one date: the drift over the gap is small.
    cal = vals["calibrator_obs01"]["clock"]
    assert np.abs(cal[-1] - a["clock"][0]).max() < 5e-9


def test_core_stations_share_one_clock(two_dates):
    import h5py

    obs = two_dates.targets()[0]
    with h5py.File(obs.truth_h5, "r") as f:
        clock = f["sol000/clock/val"][()]
        ants = [x.decode() for x in f["sol000/clock/ant"][()]]
    core = [i for i, a in enumerate(ants) if a.startswith("CS")]
    assert np.all(clock[:, core] == clock[:, core[:1]])
    assert np.abs(clock[:, [i for i in range(len(ants)) if i not in core]]).max() > 1e-9
    with _table(obs.ms, "LOFAR_STATION") as t:
        ids = t.getcol("CLOCK_ID")
    assert len(set(ids[core])) == 1 and len(set(ids)) == len(ants) - len(core) + 1


def test_lofar_subtables_for_beam_models(two_dates):
    import everybeam

    ms = two_dates.targets()[0].ms
    with _table(ms) as t:
        kw = t.getkeywords()
        assert {"LOFAR_ANTENNA_FIELD", "LOFAR_STATION"} <= set(kw)
        assert t.getcolkeyword("DATA", "LOFAR_APPLIED_BEAM_MODE") == "None"
    with _table(ms, "ANTENNA") as t:
        assert {"LOFAR_STATION_ID", "LOFAR_PHASE_REFERENCE"} <= set(t.colnames())
        names = list(t.getcol("NAME"))
    with _table(ms, "LOFAR_ANTENNA_FIELD") as t:
        assert list(t.getcol("NAME")) == [n[5:] if n.startswith("CS") else "HBA" for n in names]
        assert t.getcell("ELEMENT_OFFSET", names.index("DE601HBA")).shape == (96, 3)
        assert t.getcell("TILE_ELEMENT_OFFSET", 0).shape == (16, 3)
    with _table(ms, "FIELD") as t:
        assert "LOFAR_TILE_BEAM_DIR" in t.colnames()
    with _table(ms, "OBSERVATION") as t:
        assert t.getcol("TELESCOPE_NAME")[0] == "LOFAR"
    telescope = everybeam.load_telescope(str(ms))
    assert isinstance(telescope, everybeam.LOFAR)


def test_truth_h5parm_layout_readable_by_losoto(two_dates):
    from losoto.h5parm import h5parm

    obs = two_dates.targets()[0]
    h5 = h5parm(str(obs.truth_h5))
    try:
        ss = h5.getSolset("sol000")
        types = {name: ss.getSoltab(name).getType() for name in ss.getSoltabNames()}
        assert types == {"clock": "clock", "tec": "tec", "tecscreen": "tec", "faraday": "rotationmeasure",
                         "polalign": "phase", "bandpass": "amplitude", "scintillation": "amplitude"}
        screen = ss.getSoltab("tecscreen")
        assert screen.getAxesNames() == ["time", "ant", "dir"]
        assert all(d.startswith("[") and d.endswith("]") for d in screen.getAxisValues("dir"))
        sources = ss.getSou()
        assert all(-np.pi < v[0] <= np.pi for v in sources.values())  # DP3's RA convention
        assert ss.getSoltab("polalign").getAxisValues("pol").tolist() == ["XX", "YY"]
        pa = ss.getSoltab("polalign").getValues(retAxesVals=False)
        assert np.all(pa[..., 0] == 0)
    finally:
        h5.close()
    truth = json.loads(obs.truth_json.read_text())
    assert truth["reference_station"] == "CS002HBA0"
    assert set(truth["corruptions_enabled"].values()) == {True}
    assert truth["noise"]["expected_stokes_i_image_rms_natural_jy"] > 0


def test_weights_follow_the_radiometer_equation(two_dates):
    obs = two_dates.targets()[0]
    truth = json.loads(obs.truth_json.read_text())
    with _table(obs.ms) as t:
        w = t.getcol("WEIGHT_SPECTRUM", 0, 200)
        a1, a2 = t.getcol("ANTENNA1", 0, 200), t.getcol("ANTENNA2", 0, 200)
    tiles = {s["name"]: s["n_tiles"] for s in truth["stations"]}
    names = [s["name"] for s in truth["stations"]]
    sefd = 2900.0 * 48 / np.array([tiles[n] for n in names])
    sigma = np.sqrt(sefd[a1] * sefd[a2] / (2 * truth["chan_width_hz"] * truth["integration_s"]))
    np.testing.assert_allclose(w[:, 0, 0], 1 / sigma**2, rtol=1e-6)
