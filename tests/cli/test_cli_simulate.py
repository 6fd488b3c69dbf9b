"""``lofar-hires simulate``: outputs, and bad input giving one clear line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lofar_hires.cli import main


def _run(args: list[str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lofar-hires"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


def test_cli_writes_observations_and_truth(tmp_path):
    out = tmp_path / "sim"
    proc = _run(["simulate", "--preset", "tiny", "--outdir", str(out), "--set", "observation.n_observations=2"])
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "simulation.json").read_text())
    names = [o["name"] for o in summary["observations"]]
    assert names == ["calibrator_obs01", "target_obs01", "calibrator_obs02", "target_obs02"]
    for o in summary["observations"]:
        assert (out / o["ms"] / "table.dat").is_file()
        assert (out / o["truth_h5parm"]).is_file() and (out / o["truth_json"]).is_file()
    assert "target_obs02.MS" in proc.stdout
    assert "simulate:" in proc.stderr and "100%" in proc.stderr  # progress is shown
    assert [p.name for p in out.parent.iterdir()] == ["sim"]  # no temporary left behind


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "huge"], "argument --preset: invalid choice: 'huge'"),
        (["--set", "stations.remote=[RS999HBA]"], "unknown LOFAR HBA station 'RS999HBA'"),
        (["--set", "stations.core=[RS106HBA]"], "station RS106HBA is not a core station"),
        (["--set", "observation.n_chan=0"], "observation.n_chan: 0 is below the minimum 1"),
        (["--set", "observation.freq_min_hz=50e6"], "below the minimum 110000000.0 Hz"),
        (["--set", "observation.n_chan=400"], "above 190 MHz"),
        (["--set", "observation.integratoin_s=2"], "unknown option observation.integratoin_s"),
        (["--set", "observation.start_lst_h=4", "--set", "observation.pointing_dec_deg=-25"],
         "elevation during the observation"),
        (["--set", "sky.skymodel=/nonexistent.skymodel"], "does not exist"),
    ],
    ids=["preset", "station", "group", "zero-channels", "low-frequency", "high-frequency", "typo",
         "below-horizon", "missing-skymodel"],
)
def test_bad_settings_exit_2_with_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "sim"
    code = main(["simulate", "--preset", "tiny", "--outdir", str(out), *args]) if "--preset" not in args else \
        main(["simulate", "--outdir", str(out), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_bad_yaml_config(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("observation:\n  n_chan: [8\n")
    code = main(["simulate", "--preset", "tiny", "--config", str(cfg), "--outdir", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "invalid YAML in" in err[0]


def test_unwritable_and_existing_outputs(tmp_path):
    proc = _run(["simulate", "--preset", "tiny", "--outdir", "/proc/lofar_hires_sim"])
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not writable" in proc.stderr
    out = tmp_path / "sim"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    proc = _run(["simulate", "--preset", "tiny", "--outdir", str(out)])
    assert proc.returncode == 2 and "already exists; overwrite it" in proc.stderr
    assert (out / "keep.txt").read_text() == "user data"
    proc = _run(["simulate", "--preset", "tiny", "--outdir", str(out), "--overwrite",
                 "--set", "calibrator.enabled=false"])
    assert proc.returncode == 0 and not (out / "keep.txt").exists()


def test_interrupted_simulation_leaves_nothing(tmp_path, monkeypatch):
    from lofar_hires.simulation import simulate as sim_module

    calls = {"n": 0}
    real = sim_module.predict_visibilities

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sim_module, "predict_visibilities", interrupted)
    out = tmp_path / "sim"
    code = main(["simulate", "--preset", "tiny", "--outdir", str(out)])
    assert code == 130
    assert list(tmp_path.iterdir()) == []


def test_list_options_and_dry_run(capsys):
    assert main(["simulate", "--list-options"]) == 0
    text = capsys.readouterr().out
    assert "corruptions.clock.offset_rms_ns = 10.0 [ns]" in text
    assert main(["simulate", "--preset", "tiny", "--dry-run", "--set", "seed=5"]) == 0
    assert "seed: 5" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    (b"\x00\xff\xfe binary", "not a makesourcedb text file"),
    (b"FORMAT = Name, Type, Ra, Dec, I\ns1, POINT, 16:11:00, +55.00.00, nan\n", "non-finite flux"),
    (b"FORMAT = Name, Type, Ra, Dec, I\n", "contains no components"),
], ids=["binary", "nan-flux", "no-components"])
def test_garbage_sky_model_exits_2(tmp_path, capsys, content, message):
    sky = tmp_path / "sky.skymodel"
    sky.write_bytes(content)
    out = tmp_path / "sim"
    code = main(["simulate", "--preset", "tiny", "--outdir", str(out), "--set", f"sky.skymodel={sky}"])
    err = [line for line in capsys.readouterr().err.strip().splitlines() if " ERROR " in line]
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sky.skymodel"] and sky.read_bytes() == content


def test_output_under_a_regular_file_exits_2(tmp_path, capsys):
    # Tests run as root, which chmod cannot stop from writing: a path under a regular file is an
    # output location nobody can create.
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("a regular file\n")
    for outdir, message in ((blocker / "sim", "is not a directory"),
                            (blocker / "a" / "sim", "cannot create output directory")):
        code = main(["simulate", "--preset", "tiny", "--outdir", str(outdir)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert len(err) == 1 and message in err[0], err
    assert [p.name for p in tmp_path.iterdir()] == ["somefile.txt"]
    assert blocker.read_text() == "a regular file\n"
