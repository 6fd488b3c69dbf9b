"""Other pipelines' files on the command line: LINC's ``cal_solutions.h5`` and LOFAR-VLBI's delay calibrators.

* ``dical transfer`` reads a LINC-style ``cal_solutions.h5`` (written here with LoSoTo's h5parm
  API: solset ``calibrator``, soltabs ``polalign`` with a direction axis of length one,
  ``bandpass``, ``clock`` per polarisation with a flagged sample, ``faraday`` in LoSoTo's
  ``ant, time`` order, ``tec``), LoSoTo's numbered names (``clock000`` in ``sol000``) and the
  solset named by ``--solset``; a missing soltab or solset is one error line naming the file.
* ``dical collect --solset`` names the solset written; the commands that write solutions refuse
  a solset name that cannot be an HDF5 group before any work.
* ``select candidates --delay-calibrators`` lists the calibrators of a ``delay_calibrators.csv``
  (columns of the LOFAR-VLBI pipeline, Morabito et al. 2022) with the table's own fluxes.
* ``selfcal --delay-calibrators`` takes the phase centre and the point starting model from the
  table, and refuses to be combined with the options it replaces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lofar_hires.cli import main
from lofar_hires.errors import LofarHiresWarning
from lofar_hires.io.h5parm import Soltab, read_h5parm, solset_names, write_h5parm
from lofar_hires.selection.table import read_table

#: PyTables (under LoSoTo) warns that it stores the station and polarisation names as ASCII, which they are.
pytestmark = pytest.mark.filterwarnings("ignore:support for unicode type is very limited")

STATIONS = ("CS001HBA0", "CS002HBA0", "RS106HBA", "DE601HBA")
#: ITRF positions (m); only their presence matters here.
POSITIONS = np.array([[3826896.0, 460979.0, 5064658.0], [3826577.0, 461022.0, 5064892.0],
                      [3829205.0, 469142.0, 5062181.0], [4034038.0, 487026.0, 4900280.0]])
N_TIME, N_FREQ = 5, 3
TIMES_S = 4.9e9 + 60.0 * np.arange(N_TIME)
FREQS_HZ = 120e6 + 2e6 * np.arange(N_FREQ)
POLS = ["XX", "YY"]
#: (time, station) of the clock sample whose weight is 0; its value is far off and must not count.
FLAGGED = (1, 2)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " ERROR " in line or ": error: " in line]


# --------------------------------------------------------------------------- LINC's cal_solutions.h5


def linc_effects(seed: int) -> dict[str, np.ndarray]:
    """Calibrator effects (seeded) in LINC's axis orders (see :func:`write_linc`)."""
    rng = np.random.default_rng(seed)
    n_a = len(STATIONS)
    clock = rng.normal(0, 5e-9, (1, n_a, 2)) + rng.normal(0, 1e-10, (N_TIME, n_a, 2))
    clock[FLAGGED] = 1.0  # flagged below: far off
    return {
        "polalign": np.broadcast_to(rng.normal(0, 0.3, (1, N_FREQ, n_a, 1, 2)), (N_TIME, N_FREQ, n_a, 1, 2)).copy(),
        "bandpass": 1 + 0.2 * rng.uniform(size=(N_TIME, N_FREQ, n_a, 2)),
        "faraday": rng.normal(0, 0.05, (n_a, N_TIME)),
        "clock": clock,
        "tec": rng.normal(0, 0.1, (N_TIME, n_a, 2)),
    }


def write_linc(path: Path, solsets: dict[str, dict[str, np.ndarray]], names: dict[str, str] | None = None,
               drop: tuple[str, ...] = ()) -> Path:
    """An h5parm written with LoSoTo as LINC writes ``cal_solutions.h5``: one solset per entry of ``solsets``.

    ``names`` renames soltabs (``{"clock": "clock000"}``); ``drop`` leaves soltabs out.
    """
    from losoto.h5parm import h5parm

    names = names or {}
    ants = list(STATIONS)
    layout = {  # soltab -> (type, axes, axis values)
        "polalign": ("phase", ["time", "freq", "ant", "dir", "pol"], [TIMES_S, FREQS_HZ, ants, ["pointing"], POLS]),
        "bandpass": ("amplitude", ["time", "freq", "ant", "pol"], [TIMES_S, FREQS_HZ, ants, POLS]),
        "faraday": ("rotationmeasure", ["ant", "time"], [ants, TIMES_S]),
        "clock": ("clock", ["time", "ant", "pol"], [TIMES_S, ants, POLS]),
        "tec": ("tec", ["time", "ant", "pol"], [TIMES_S, ants, POLS]),
    }
    h5 = h5parm(str(path), readonly=False)
    try:
        for solset, fx in solsets.items():
            ss = h5.makeSolset(solset)
            ss.obj._f_get_child("antenna").append(list(zip(ants, POSITIONS)))
            ss.obj._f_get_child("source").append([("pointing", [4.24, 0.96])])
            for tab, (soltype, axes, values) in layout.items():
                if tab in drop:
                    continue
                weights = np.ones(fx[tab].shape)
                if tab == "clock":
                    weights[FLAGGED] = 0.0
                ss.makeSoltab(soltype, names.get(tab, tab), axesNames=axes, axesVals=values, vals=fx[tab],
                              weights=weights)
    finally:
        h5.close()
    return path


def transfer(*args: str) -> int:
    return main(["dical", "transfer", *args])


def test_linc_cal_solutions_through_dical_transfer(tmp_path, capsys):
    fx = linc_effects(seed=1)
    linc = write_linc(tmp_path / "cal_solutions.h5", {"calibrator": fx, "target": linc_effects(seed=2)})
    out = tmp_path / "transfer.h5"
    assert transfer(str(linc), "-o", str(out)) == 0
    assert capsys.readouterr().out == f"{out}\n"

    assert solset_names(out) == ["calibrator"]
    ss = read_h5parm(out)
    assert sorted(ss.soltabs) == ["bandpass", "clock", "faraday", "polalign"]  # configs/di_target.yaml corrections
    clock = ss.soltabs["clock"]
    assert list(clock.axes) == ["ant", "pol"]  # no time axis
    valid = fx["clock"].copy()
    valid[FLAGGED] = np.nan
    np.testing.assert_allclose(clock.val, np.nanmedian(valid, axis=0), rtol=1e-12)
    assert np.all(np.abs(clock.val) < 1e-7)  # the flagged 1-second clock did not count
    polalign = ss.soltabs["polalign"]
    assert "dir" not in polalign.axes and "time" not in polalign.axes
    np.testing.assert_allclose(polalign.val, fx["polalign"][0, :, :, 0, :], rtol=1e-12)
    np.testing.assert_allclose(ss.soltabs["bandpass"].val, np.median(fx["bandpass"], axis=0), rtol=1e-12)


def test_dical_transfer_reads_numbered_names_and_the_solset_asked_for(tmp_path):
    fx, other = linc_effects(seed=3), linc_effects(seed=4)
    numbered = write_linc(tmp_path / "numbered.h5", {"sol000": fx},
                          names={"clock": "clock000", "polalign": "polalign000", "bandpass": "bandpass000"})
    assert transfer(str(numbered), "-o", str(tmp_path / "a.h5"), "--soltabs", "clock,polalign") == 0
    got = read_h5parm(tmp_path / "a.h5")
    assert sorted(got.soltabs) == ["clock", "polalign"]
    np.testing.assert_allclose(got.soltabs["polalign"].val, fx["polalign"][0, :, :, 0, :], rtol=1e-12)

    two = write_linc(tmp_path / "two.h5", {"calibrator": fx, "mycal": other})
    for solset, truth in (("mycal", other), (None, fx)):
        out = tmp_path / f"{solset}.h5"
        assert transfer(str(two), "-o", str(out), "--soltabs", "bandpass",
                        *(["--solset", solset] if solset else [])) == 0
        np.testing.assert_allclose(read_h5parm(out).soltabs["bandpass"].val, np.median(truth["bandpass"], axis=0),
                                   rtol=1e-12)


@pytest.mark.parametrize(("args", "drop", "words"), [
    ((), ("clock",), ("clock", "solset calibrator")),
    (("--soltabs", "polalign,tec"), ("tec",), ("tec", "--soltabs")),
    (("--solset", "target"), ("clock",), ("solset target", "polalign")),
    (("--solset", "nosuchsolset"), (), ("nosuchsolset",)),
], ids=["missing-clock", "missing-tec", "solset-without-soltab", "unknown-solset"])
def test_dical_transfer_refuses_a_missing_soltab_in_one_line(tmp_path, capsys, args, drop, words):
    # solset target holds no calibrator soltabs in this file (it is LINC's target solset, written empty here)
    linc = write_linc(tmp_path / "cal_solutions.h5", {"calibrator": linc_effects(seed=5)}, drop=drop)
    if "target" in args:
        from losoto.h5parm import h5parm

        h5 = h5parm(str(linc), readonly=False)
        try:
            ss = h5.makeSolset("target")
            ss.obj._f_get_child("antenna").append(list(zip(STATIONS, POSITIONS)))
            ss.makeSoltab("rotationmeasure", "RMextract", axesNames=["time", "ant"],
                          axesVals=[TIMES_S, list(STATIONS)], vals=np.zeros((N_TIME, len(STATIONS))),
                          weights=np.ones((N_TIME, len(STATIONS))))
        finally:
            h5.close()
    out = tmp_path / "transfer.h5"
    capsys.readouterr()
    assert transfer(str(linc), "-o", str(out), *args) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1, errors
    assert "cal_solutions.h5" in errors[0] and all(w in errors[0] for w in words), errors[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cal_solutions.h5"]


def test_dical_collect_writes_the_solset_asked_for(tmp_path):
    rng = np.random.default_rng(6)
    ants, pol = np.array(STATIONS), np.array(POLS)
    tabs = {"polalign": Soltab("polalign", "phase", {"freq": FREQS_HZ, "ant": ants, "pol": pol},
                               rng.normal(0, 0.3, (N_FREQ, len(ants), 2))),
            "bandpass": Soltab("bandpass", "amplitude", {"freq": FREQS_HZ, "ant": ants, "pol": pol},
                               1 + 0.1 * rng.uniform(size=(N_FREQ, len(ants), 2))),
            "faraday": Soltab("faraday", "rotationmeasure", {"time": TIMES_S, "ant": ants},
                              rng.normal(0, 0.05, (N_TIME, len(ants)))),
            "clock": Soltab("clock", "clock", {"time": TIMES_S, "ant": ants}, rng.normal(0, 5e-9, (N_TIME, len(ants)))),
            "tec": Soltab("tec", "tec", {"time": TIMES_S, "ant": ants}, rng.normal(0, 0.1, (N_TIME, len(ants))))}
    parts = {"polalign": ["polalign"], "bandpass": ["bandpass"], "faraday": ["faraday"], "clocktec": ["clock", "tec"]}
    argv = []
    for part, names in parts.items():
        path = write_h5parm(tmp_path / f"{part}.h5", [tabs[n] for n in names], list(STATIONS), POSITIONS)
        argv += [f"--{part}", str(path)]
    for solset in ("calibrator", "mycal"):
        out = tmp_path / f"cal_{solset}.h5"
        assert main(["dical", "collect", *argv, "-o", str(out),
                     *(["--solset", solset] if solset != "calibrator" else [])]) == 0
        assert solset_names(out) == [solset]
        got = read_h5parm(out, solset)
        assert sorted(got.soltabs) == sorted(tabs)
        np.testing.assert_allclose(got.soltabs["clock"].val, tabs["clock"].val)


@pytest.mark.parametrize("argv", [
    ["dical", "collect", "--polalign", "p.h5", "--bandpass", "b.h5", "--faraday", "f.h5", "--clocktec", "c.h5",
     "-o", "out.h5"],
    ["dical", "phasecal", "in.MS", "--skymodel", "sky.skymodel", "-o", "out.h5", "--output-ms", "out.MS"],
    ["di-calibrator", "in.MS", "--skymodel", "3C196", "--outdir", "out"],
    ["di-target", "in.MS", "--cal-solutions", "cal.h5", "--outdir", "out"],
], ids=lambda a: " ".join(a[:2]) if a[0] == "dical" else a[0])
def test_a_solset_name_that_cannot_be_written_is_refused_first(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main([*argv, "--solset", "a/b"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "--solset" in errors[0] and "'a/b'" in errors[0], errors
    assert list(tmp_path.iterdir()) == []


def test_di_target_reads_the_cal_solset_asked_for(tmp_path, capsys):
    """--cal-solset reaches the calibrator solutions check (which runs before any measurement set is read)."""
    linc = write_linc(tmp_path / "cal_solutions.h5", {"calibrator": linc_effects(seed=7)})
    capsys.readouterr()
    assert main(["di-target", str(tmp_path / "in.MS"), "--cal-solutions", str(linc), "--outdir",
                 str(tmp_path / "out"), "--cal-solset", "nosuchsolset"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "nosuchsolset" in errors[0] and "cal_solutions.h5" in errors[0], errors


# --------------------------------------------------------------------------- LOFAR-VLBI delay calibrators

#: delay_calibrators.csv as the LOFAR-VLBI pipeline writes it (LBCS columns, then LoTSS ones, fluxes in mJy),
#: nearest to the pointing centre first; the third is below the 25 mJy/beam pre-selection.
DELAY_CSV = """\
Observation,RA_LBCS,DEC_LBCS,Date,Time,Goodness,Flags,FT_Goodness,Quality,FT_total,Source_id,RA,DEC,\
Total_flux,Peak_flux,Majax,Minax,PA,Isl_rms,Resolved,Radius
L401323,242.70012,55.01019,2017-04-10,12:00:00,PPPPPPPPPPPPPP,,PPPPPPPPPPPPPP,P,14,1001,242.70005,55.01022,\
412.5,301.2,0.0017,0.0015,45.0,0.08,0,0.31
L401325,243.50034,55.59981,2017-04-10,12:00:00,PPPPPPPPPPPPPS,,PPPPPPPPPPPPPS,P,13,1002,243.50041,55.59979,\
95.0,80.4,0.0019,0.0016,12.0,0.09,0,0.72
L401327,241.90010,54.49990,2017-04-10,12:00:00,PPPPPPPSSSSSSS,,PPPPPPSSSSSSSS,S,7,1003,241.90002,54.49987,\
30.0,12.1,0.0030,0.0020,80.0,0.08,1,1.03
"""
#: A table outside the LoTSS area: LBCS columns only, Observation renamed Source_id, placeholder Total_flux.
LBCS_ONLY_CSV = """\
Source_id,RA_LBCS,DEC_LBCS,Date,Time,Goodness,Flags,FT_Goodness,Quality,FT_total,Total_flux,Radius
L501001,10.20011,30.10022,2018-01-01,00:00:00,PPPPPPPPPPPPPP,,PPPPPPPPPPPPPP,P,14,1000,0.40
L501003,10.90033,29.70011,2018-01-01,00:00:00,PPPPPPPPPPSSSS,,PPPPPPPPPSSSSS,P,10,1000,0.85
"""


@pytest.fixture
def delay_csv(tmp_path: Path) -> Path:
    path = tmp_path / "delay_calibrators.csv"
    path.write_text(DELAY_CSV)
    return path


def test_select_candidates_from_delay_calibrators(delay_csv, tmp_path, capsys):
    out = tmp_path / "out" / "candidates.csv"
    split = tmp_path / "out" / "split"
    assert main(["select", "candidates", "--delay-calibrators", str(delay_csv), "-o", str(out), "--split-dir",
                 str(split)]) == 0
    assert capsys.readouterr().out == f"{out}\n"
    rows = read_table(out)
    assert [r.name for r in rows] == ["S1001", "S1002"]  # S1003: 12.1 mJy/beam, below 25
    assert [(r.ra_deg, r.dec_deg) for r in rows] == [(pytest.approx(242.70005, abs=1e-8),
                                                      pytest.approx(55.01022, abs=1e-8)),
                                                     (pytest.approx(243.50041, abs=1e-8),
                                                      pytest.approx(55.59979, abs=1e-8))]
    assert [r.peak_flux_jy for r in rows] == [pytest.approx(0.3012), pytest.approx(0.0804)]
    assert [r.total_flux_jy for r in rows] == [pytest.approx(0.4125), pytest.approx(0.095)]
    assert {r.category for r in rows} == {"candidate"}
    assert sorted(p.name for p in split.iterdir()) == ["S1001.csv", "S1002.csv"]

    # The usual selection applies: a distance cut around the first one keeps it alone.
    near = tmp_path / "near.csv"
    assert main(["select", "candidates", "--delay-calibrators", str(delay_csv), "-o", str(near), "--centre-deg",
                 "242.7", "55.0", "--max-distance-deg", "0.2", "--min-peak-flux-jy", "0"]) == 0
    assert [r.name for r in read_table(near)] == ["S1001"]


def test_select_candidates_from_an_lbcs_only_table(tmp_path):
    csv = tmp_path / "delay_calibrators.csv"
    csv.write_text(LBCS_ONLY_CSV)
    out = tmp_path / "candidates.csv"
    with pytest.warns(LofarHiresWarning, match="total flux"):
        assert main(["select", "candidates", "--delay-calibrators", str(csv), "-o", str(out)]) == 0
    rows = read_table(out)
    assert [r.name for r in rows] == ["L501001", "L501003"]
    assert [r.total_flux_jy for r in rows] == [pytest.approx(1.0)] * 2 and {r.peak_flux_jy for r in rows} == {None}


def test_select_candidates_delay_calibrators_is_one_source_among_others(delay_csv, tmp_path, capsys):
    capsys.readouterr()
    assert main(["select", "candidates", "--delay-calibrators", str(delay_csv), "--catalogue", str(delay_csv),
                 "-o", str(tmp_path / "c.csv")]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "not allowed with" in errors[0], errors


def test_selfcal_start_from_a_delay_calibrator(delay_csv):
    from lofar_hires.cli.selfcal import delay_calibrator_start

    centre, flux = delay_calibrator_start(delay_csv, None)  # the first row, the nearest to the pointing centre
    assert centre == (pytest.approx(242.70005, abs=1e-9), pytest.approx(55.01022, abs=1e-9))
    assert flux == pytest.approx(0.4125)
    centre, flux = delay_calibrator_start(delay_csv, "S1002")
    assert centre == (pytest.approx(243.50041, abs=1e-9), pytest.approx(55.59979, abs=1e-9))
    assert flux == pytest.approx(0.095)


def test_selfcal_hands_the_delay_calibrator_to_the_engine(delay_csv, tmp_path, monkeypatch):
    """The engine gets the calibrator's position and flux (it stops at once here: no measurement set)."""
    from lofar_hires.errors import InputError
    from lofar_hires.selfcal import engine

    seen = []

    def stop(request, *args, **kwargs):
        seen.append(request)
        raise InputError("stopped before any work")

    monkeypatch.setattr(engine, "run_selfcal", stop)
    assert main(["selfcal", str(tmp_path / "in.MS"), "--strategy", "delay", "--outdir", str(tmp_path / "out"),
                 "--delay-calibrators", str(delay_csv), "--delay-calibrator", "S1002"]) == 2
    (request,) = seen
    assert request.phase_centre_deg == (pytest.approx(243.50041, abs=1e-9), pytest.approx(55.59979, abs=1e-9))
    assert request.point_flux_jy == pytest.approx(0.095)
    assert request.skymodel is None and request.model_image is None


@pytest.mark.parametrize(("extra", "words"), [
    (("--phase-centre", "243.0", "55.0"), ("--delay-calibrators", "--phase-centre")),
    (("--point-model-jy", "0.5"), ("--delay-calibrators", "--point-model-jy")),
    (("--skymodel", "sky.skymodel"), ("--delay-calibrators", "--skymodel")),
    (("--model-image", "model.fits"), ("--delay-calibrators", "--model-image")),
    (("--delay-calibrator", "nosuchcal"), ("delay_calibrators.csv", "nosuchcal", "S1001")),
], ids=["phase-centre", "point-model", "skymodel", "model-image", "unknown-name"])
def test_selfcal_delay_calibrators_usage_errors(delay_csv, tmp_path, capsys, extra, words):
    capsys.readouterr()
    assert main(["selfcal", str(tmp_path / "in.MS"), "--strategy", "delay", "--outdir", str(tmp_path / "out"),
                 "--delay-calibrators", str(delay_csv), *extra]) == 2
    err = capsys.readouterr().err
    errors = error_lines(err)
    assert len(errors) == 1 and all(w in errors[0] for w in words), errors
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_selfcal_delay_calibrator_needs_the_table(tmp_path, capsys):
    capsys.readouterr()
    assert main(["selfcal", str(tmp_path / "in.MS"), "--strategy", "delay", "--outdir", str(tmp_path / "out"),
                 "--delay-calibrator", "S1001"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "--delay-calibrators" in errors[0], errors
