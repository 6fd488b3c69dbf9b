"""``lofar-hires selfcal`` guards: one run per output directory, outputs kept unless asked, names that stay
inside the output directory, and failures reported with the right exit status.

Most tests stop before any DP3 or WSClean run (every refusal happens before work starts).
Others self-calibrate the ``tiny`` simulation with real DP3 and WSClean (a few seconds each):
one with hostile solve and observation names, one whose solve has no data left (exit 4), and one whose only
image is the uncalibrated one, refused under ``--require-improvement`` (exit 4).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.cli import main
from lofar_hires.errors import InputError
from lofar_hires.io.lock import LOCK_NAME, output_lock
from lofar_hires.io.names import safe_name

#: Two cycles of one fast phase solve on the tiny simulation (about 30 s with DP3 and WSClean).
STRATEGY = """\
name: tiny
solves:
%(solves)s
imaging: {size_pix: 64, scale_arcsec: 20.0, niter: 50}
stopping: {min_cycles: 1, max_cycles: 2, stability_stations: core}
"""


def strategy_file(folder: Path, names: tuple[str, ...] = ("phase",), minuv_lambda: float = 0.0,
                  file_name: str = "strategy.yaml") -> Path:
    solves = "\n".join(f"  - {{name: {json.dumps(n)}, soltype: scalarphase, solint_s: 60.0, "
                       f"minuv_lambda: {minuv_lambda}}}" for n in names)
    path = folder / file_name
    path.write_text(STRATEGY % {"solves": solves})
    return path


@pytest.fixture(scope="module")
def ms(simulated) -> Path:
    return simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms


def run_cli(*args) -> int:
    return main(["--log-level", "WARNING", "selfcal", *map(str, args)])


def errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.strip().splitlines() if " ERROR " in line]


def listing(root: Path) -> list[str]:
    """Every path below ``root`` (relative), to show that nothing appeared or vanished."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- one run per output directory


def test_a_second_run_into_a_locked_output_directory_is_refused_naming_the_pid(ms, tmp_path, capsys):
    outdir = tmp_path / "run"
    with output_lock(outdir):  # a run of this process holds the directory
        assert run_cli(ms, "--strategy", strategy_file(tmp_path), "--outdir", outdir) == 2
        lines = errors(capsys)
        assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "in use by another run" in lines[0], lines
        assert listing(outdir) == [LOCK_NAME]  # nothing written, the holder's lock kept
        # --overwrite does not take a directory from a live run either
        assert run_cli(ms, "--strategy", strategy_file(tmp_path), "--outdir", outdir, "--overwrite") == 2
        assert f"pid {os.getpid()}" in errors(capsys)[0]
    assert listing(outdir) == []


def test_the_lock_of_a_run_that_no_longer_exists_is_taken_over(ms, tmp_path, capsys):
    outdir = tmp_path / "run"
    outdir.mkdir()
    (outdir / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid()}))
    (outdir / "notes.txt").write_text("not a run\n")
    assert run_cli(ms, "--strategy", strategy_file(tmp_path), "--outdir", outdir) == 2
    err = capsys.readouterr().err
    assert "taking over the lock" in err  # the killed run's lock did not block this run ...
    assert "is not empty and holds no self-calibration run" in err  # ... which then refused the directory
    assert listing(outdir) == ["notes.txt"] and (outdir / "notes.txt").read_text() == "not a run\n"


# --------------------------------------------------------------------------- outputs kept, locations refused


def test_overwrite_never_deletes_a_directory_that_holds_no_run(ms, tmp_path, capsys):
    outdir = tmp_path / "mine"
    (outdir / "data").mkdir(parents=True)
    (outdir / "data" / "keep.txt").write_text("precious\n")
    strategy = strategy_file(tmp_path)
    before = listing(tmp_path)
    for extra in ((), ("--overwrite",)):
        assert run_cli(ms, "--strategy", strategy, "--outdir", outdir, *extra) == 2
        lines = errors(capsys)
        assert len(lines) == 1 and "holds no self-calibration run" in lines[0], lines
    assert listing(tmp_path) == before and (outdir / "data" / "keep.txt").read_text() == "precious\n"


def test_an_output_directory_that_holds_or_lies_in_an_input_is_refused(ms, tmp_path, capsys):
    copy = tmp_path / "data" / ms.name
    shutil.copytree(ms, copy)
    strategy = strategy_file(tmp_path)
    before = listing(tmp_path)
    for outdir, message in ((tmp_path / "data", "holds the input"), (copy / "selfcal", "lies inside the input")):
        assert run_cli(copy, "--strategy", strategy, "--outdir", outdir, "--overwrite") == 2
        lines = errors(capsys)
        assert len(lines) == 1 and message in lines[0], lines
    assert listing(tmp_path) == before


def test_an_unwritable_output_directory_gives_one_line(ms, tmp_path, capsys):
    regular = tmp_path / "file.txt"
    regular.write_text("a file\n")
    # Tests run as root, which writes into a read-only (0o555) directory anyway: a path below a regular
    # file and one in /proc cannot be created by anyone.
    places = [regular / "run", Path("/proc") / "lofar-hires-selfcal"]
    if os.geteuid() != 0:
        locked = tmp_path / "readonly"
        locked.mkdir()
        locked.chmod(0o555)
        places.append(locked / "run")
    try:
        for outdir in places:
            assert run_cli(ms, "--strategy", strategy_file(tmp_path), "--outdir", outdir) == 2
            lines = errors(capsys)
            assert len(lines) == 1 and "cannot create output directory" in lines[0], lines
    finally:
        if os.geteuid() != 0:
            (tmp_path / "readonly").chmod(0o755)
    assert regular.read_text() == "a file\n"


# --------------------------------------------------------------------------- bad names and settings, before any work


@pytest.mark.parametrize("names, message", [
    (("phase", "/"), "solve name '/' has no character usable in a file name"),
    (("../a/b", "a_b"), "solve names '../a/b' and 'a_b' both become the file name 'a_b'"),
    (("phase", "phase"), "solve name 'phase' is given twice"),
], ids=["unusable", "collision", "duplicate"])
def test_unusable_solve_names_are_refused_before_anything_is_written(ms, tmp_path, capsys, names, message):
    outdir = tmp_path / "run"
    assert run_cli(ms, "--strategy", strategy_file(tmp_path, names), "--outdir", outdir) == 2
    lines = errors(capsys)
    assert len(lines) == 1 and message in lines[0], lines
    assert not outdir.exists()


def _bad_fits(folder: Path, kind: str) -> Path:
    from astropy.io import fits

    path = folder / f"{kind}.fits"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 20)
    else:
        fits.PrimaryHDU(np.ones((1, 1, 16, 16), dtype=np.float32)).writeto(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 2000])  # the header survives, the pixels do not
    return path


@pytest.mark.parametrize("case, extra, message", [
    ("nan-point-model", ("--point-model-jy", "nan"),
     "the point-model flux must be a positive number of Jy, got nan (--point-model-jy)"),
    ("negative-point-model", ("--point-model-jy", "-1"), "the point-model flux must be a positive number of Jy"),
    ("nan-phase-centre", ("--phase-centre", "nan", "55"), "phase centre nan 55.0: RA and Dec must be finite"),
    ("dec-above-90", ("--phase-centre", "240", "91"), "phase centre: declination 91.0 deg is outside [-90, 90]"),
    ("nan-setting", ("--set", "solves.0.solint_s=nan"), "solves.0.solint_s: nan is not a finite number"),
    ("inf-setting", ("--set", "imaging.scale_arcsec=inf"), "imaging.scale_arcsec: inf is not a finite number"),
    ("garbage-skymodel", ("--skymodel", "{garbage_sky}"), "sky model: sky model"),
    ("empty-skymodel", ("--skymodel", "{empty_sky}"), "sky model: sky model"),
    ("empty-model-image", ("--model-image", "{empty_fits}"), "model image: model image"),
    ("garbage-model-image", ("--model-image", "{garbage_fits}"), "is not a readable FITS image"),
    ("truncated-model-image", ("--model-image", "{truncated_fits}"), "is not a readable FITS image"),
])
def test_bad_starting_models_and_settings_are_refused_before_any_work(ms, tmp_path, capsys, case, extra, message):
    files = {"garbage_sky": tmp_path / "garbage.skymodel", "empty_sky": tmp_path / "empty.skymodel",
             **{f"{k}_fits": _bad_fits(tmp_path, k) for k in ("empty", "garbage", "truncated")}}
    files["garbage_sky"].write_bytes(b"\x00\xff garbage \x01" * 10)
    files["empty_sky"].write_text("")
    strategy = strategy_file(tmp_path)
    before = listing(tmp_path)
    outdir = tmp_path / "run"
    args = [a.format(**files) for a in extra]
    assert run_cli(ms, "--strategy", strategy, "--outdir", outdir, *args) == 2
    lines = errors(capsys)
    assert len(lines) == 1 and message in lines[0], lines
    assert listing(tmp_path) == before


def test_a_uv_cut_above_every_baseline_is_refused_before_any_work(ms, tmp_path, capsys):
    outdir = tmp_path / "run"
    assert run_cli(ms, "--strategy", strategy_file(tmp_path, minuv_lambda=1.0e9), "--outdir", outdir) == 2
    lines = errors(capsys)
    assert len(lines) == 1 and "minuv_lambda" in lines[0] and "1e+09" in lines[0], lines
    assert "no data to solve on" in lines[0], lines
    assert not outdir.exists()


# --------------------------------------------------------------------------- real runs


def test_hostile_names_never_put_a_file_outside_the_output_directory(ms, tmp_path, capsys):
    """Solve names with ``..``, an absolute path, ``/``, NUL and 300 characters; an MS whose name holds
    spaces and brackets: every product lies inside the output directory, under a safe name."""
    sandbox = tmp_path / "sandbox"
    (sandbox / "elsewhere").mkdir(parents=True)
    outdir = sandbox / "deep" / "run"
    hostile_ms = sandbox / "my obs (1).MS"
    hostile_ms.symlink_to(ms, target_is_directory=True)
    names = ("../../escape", str(sandbox / "elsewhere" / "abs"), "a/b\0" + "z" * 300)
    strategy = strategy_file(sandbox, names)
    outside = {p: listing(p) for p in (sandbox / "elsewhere",)}
    before = sorted(p.name for p in sandbox.iterdir())
    assert run_cli(hostile_ms, "--strategy", strategy, "--outdir", outdir) == 0, errors(capsys)
    assert sorted(p.name for p in sandbox.iterdir()) == sorted([*before, "deep"])
    assert listing(sandbox / "deep") == sorted(["run", *(f"run/{p}" for p in listing(outdir))])
    assert {p: listing(p) for p in outside} == outside
    solves = sorted(p.name for p in (outdir / "cycle_001" / "solves").iterdir())
    long_name = [s for s in solves if s.startswith("a_b_zzz")]
    assert "escape_my_obs_1_.h5" in solves and f"{safe_name(names[1])}_my_obs_1_.h5" in solves
    assert len(long_name) == 1 and len(long_name[0]) == len("_my_obs_1_.h5") + 80
    for product in ("best_my_obs_1_.h5", "final_my_obs_1_.h5", "work/my_obs_1_.ms"):
        assert (outdir / product).exists(), product
    assert not (outdir / LOCK_NAME).exists()  # released at the end


def test_a_solve_that_finds_no_data_is_a_quality_failure_naming_cycle_and_solve(ms, tmp_path, capsys):
    """Every baseline longer than 20 km flagged and a uv cut just above that: DDECal writes only NaN."""
    from casacore.tables import table

    flagged = tmp_path / "flagged.MS"
    shutil.copytree(ms, flagged)
    with table(str(flagged), readonly=False, ack=False) as t:
        uvw = t.getcol("UVW")
        long = np.hypot(uvw[:, 0], uvw[:, 1]) > 20e3
        flags = t.getcol("FLAG")
        flags[long] = True
        t.putcol("FLAG", flags)
        freq_hz = 142e6
    minuv_lambda = 1.2 * 20e3 * freq_hz / 299792458.0
    outdir = tmp_path / "run"
    code = run_cli(flagged, "--strategy", strategy_file(tmp_path, ("phase",), minuv_lambda), "--outdir", outdir,
                   "--point-model-jy", "1.0")
    lines = errors(capsys)
    assert code == 4, lines
    assert len(lines) == 1 and "cycle 0, phase on flagged" in lines[0] and "only NaN" in lines[0], lines
    state = json.loads((outdir / "state.json").read_text())
    assert state["cycles"] == [] and not state["finished"]
    assert not (outdir / "cycle_000").exists() and not (outdir / LOCK_NAME).exists()


def test_require_improvement_refuses_a_run_whose_best_image_is_the_uncalibrated_one(ms, tmp_path, capsys):
    """A calibrator position 1.4 deg from the field, where there is no source: solving against a 1 Jy point model
    there only adds noise, so the uncalibrated image stays the best and the best solutions are the identity."""
    strategy = strategy_file(tmp_path)
    outdir = tmp_path / "delay"
    empty_sky = ("--phase-centre", "245.0", "55.0", "--point-model-jy", "1.0")
    code = run_cli(ms, "--strategy", strategy, "--outdir", outdir, *empty_sky, "--name", "cal1",
                   "--require-improvement")
    lines = errors(capsys)
    assert code == 4, lines
    assert len(lines) == 1 and "self-calibration of cal1 did not improve on the uncalibrated image" in lines[0]
    assert "--require-improvement" in lines[0] and str(outdir / "selfcal_report.json") in lines[0]
    # the products stay for inspection, and they say the same
    report = json.loads((outdir / "selfcal_report.json").read_text())
    assert report["best_cycle"] == 0 and report["best_solutions_from_cycle"] is None
    # without the option the same run succeeds with identity solutions
    assert run_cli(ms, "--strategy", strategy, "--outdir", tmp_path / "accepted", *empty_sky) == 0
    from lofar_hires.io.h5parm import read_h5parm

    best = read_h5parm(tmp_path / "accepted" / f"best_{ms.name.removesuffix('.MS')}.h5")
    for tab in best.soltabs.values():
        if tab.soltype in ("phase", "scalarphase"):
            assert np.all(tab.val == 0.0)


# --------------------------------------------------------------------------- failures recorded, pre-applied solutions


def test_failure_ok_records_the_failure_and_exits_0(ms, tmp_path, capsys):
    outdir = tmp_path / "calX_obs1"
    strategy = strategy_file(tmp_path, minuv_lambda=1.0e9)
    assert run_cli(ms, "--strategy", strategy, "--outdir", outdir, "--name", "calX", "--phase-centre", "150.1", "50.0",
                   "--failure-ok") == 0
    report = json.loads((outdir / "selfcal_report.json").read_text())
    assert report["status"] == "failed" and report["name"] == "calX" and report["exit_status"] == 2
    assert "minuv_lambda" in report["error"] and report["phase_centre_deg"] == [150.1, 50.0]
    assert report["best_solutions"] == {}
    assert sorted(p.name for p in outdir.iterdir()) == ["selfcal_report.json"]
    # without --failure-ok the same run is an error
    assert run_cli(ms, "--strategy", strategy, "--outdir", tmp_path / "other") == 2


def _solutions_for(ms: Path, stations: list[str], directions: dict[str, tuple[float, float]]):
    """Two-direction phases for ``stations`` on the MS's times (direction k has phase 0.1 * (k + 1))."""
    from lofar_hires.io.h5parm import Solset, Soltab
    from lofar_hires.io.ms import read_antennas, read_ms_info

    info = read_ms_info(ms)
    names, positions = read_antennas(ms)
    axes = {"time": info.times_mjd_s, "ant": np.array(stations), "dir": np.array(list(directions))}
    val = np.zeros((len(info.times_mjd_s), len(stations), len(directions)))
    val += 0.1 * (1 + np.arange(len(directions)))
    tab = Soltab("phase000", "phase", axes, val)
    return Solset("sol000", stations, positions[[names.index(s) for s in stations]], dict(directions),
                  {"phase000": tab})


def test_pre_applied_solutions_give_the_nearest_direction_and_identity_for_missing_stations(ms, tmp_path):
    from lofar_hires.io.h5parm import read_h5parm
    from lofar_hires.io.ms import read_antennas
    from lofar_hires.provenance import Provenance
    from lofar_hires.selfcal.engine import check_pre_apply, pre_apply_file
    from lofar_hires.solutions.output import save_solset

    names, _ = read_antennas(ms)
    dutch = [n for n in names if n.startswith(("CS", "RS"))][:-1]  # one station short
    lacking = [n for n in names if n not in dutch]
    dirs = {"near": (np.radians(150.0), np.radians(50.0)), "far": (np.radians(151.0), np.radians(51.0))}
    path = save_solset(_solutions_for(ms, dutch, dirs), tmp_path / "dutch.h5", Provenance(task="test"))
    before = path.read_bytes()
    from lofar_hires.io.ms import read_ms_info

    infos = [read_ms_info(ms)]
    with pytest.raises(InputError, match="give a phase centre"):
        check_pre_apply(path, infos)
    with pytest.raises(InputError, match="pre_apply_missing=identity"):
        check_pre_apply(path, infos, (151.0, 51.0))
    check_pre_apply(path, infos, (151.0, 51.0), "identity")
    out, record = pre_apply_file(path, [ms], (150.9, 50.95), "identity", tmp_path / "pre.h5", Provenance(task="t"))
    assert out == tmp_path / "pre.h5" and path.read_bytes() == before
    assert record["direction"] == "[far]" and record["separation_deg"] < 0.1
    assert record["identity_stations"] == lacking
    solset = read_h5parm(out)
    tab = solset.soltabs["phase000"]
    assert list(tab.axes["dir"]) == ["[far]"] and list(solset.directions) == ["[far]"]
    ants = list(tab.axes["ant"])
    assert ants == dutch + lacking
    val = tab.transposed(["time", "ant", "dir"]).val
    assert np.allclose(val[:, :len(dutch)], 0.2) and np.allclose(val[:, len(dutch):], 0.0)
    # one direction and every station: the file itself is applied
    single = save_solset(_solutions_for(ms, names, {"only": dirs["near"]}), tmp_path / "one.h5",
                         Provenance(task="test"))
    assert pre_apply_file(single, [ms], (151.0, 51.0), "identity", tmp_path / "x.h5", Provenance(task="t"))[0] == single
    assert not (tmp_path / "x.h5").exists()
