"""``lofar-hires h5 reset|expand-core|directions|nearest|lin2circ|circ2lin|info`` from the command line.

Bad input gives one line, exit status 2, no output, and leaves every input byte for byte as it was.
LoSoTo (the real program) reads what ``h5 reset`` and ``h5 lin2circ`` write.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import example_solset
from lofar_hires.cli import main
from lofar_hires.cli.h5 import COMMANDS
from lofar_hires.io.h5parm import read_h5parm, wrap_ra, write_solset
from lofar_hires.provenance import sha256_file
from lofar_hires.solutions.output import PROVENANCE_ATTR

NEW_COMMANDS = ("reset", "expand-core", "directions", "nearest", "lin2circ", "circ2lin", "info")


@pytest.fixture()
def files(tmp_path) -> dict[str, Path]:
    """Inputs: linear, circular and unpolarised h5parms, a text file, a truncated h5parm, a groups file."""
    paths = {
        "good": write_solset(tmp_path / "good.h5", example_solset(pols=("XX", "YY"))),
        "circ": write_solset(tmp_path / "circ.h5", example_solset(pols=("RR", "RL", "LR", "LL"))),
        "nopol": write_solset(tmp_path / "nopol.h5", example_solset(pols=None)),
        "text": tmp_path / "text.h5",
        "trunc": tmp_path / "trunc.h5",
        "groups": tmp_path / "groups.yaml",
    }
    paths["text"].write_text("this is not an h5parm\n")
    data = paths["good"].read_bytes()
    paths["trunc"].write_bytes(data[: len(data) // 2])
    paths["groups"].write_text("groups:\n  a: {description: x, include: [b]}\n  b: {description: y, include: [a]}\n")
    return paths


def _hashes(files):
    return {k: sha256_file(p) for k, p in files.items()}


def test_every_h5_command_is_registered_and_has_help(capsys):
    assert set(NEW_COMMANDS) <= set(COMMANDS) and "merge" in COMMANDS
    for cmd in NEW_COMMANDS:
        assert main(["h5", cmd, "--help"]) == 0
        assert f"usage: lofar-hires h5 {cmd}" in capsys.readouterr().out


def test_commands_write_new_files_with_provenance(files, tmp_path, capsys):
    good = str(files["good"])
    before = _hashes(files)
    out = tmp_path / "out"
    runs = {
        "reset.h5": ["reset", good, "--stations", "dutch,!RS509*", "--soltabs", "phase000"],
        "circ.h5": ["lin2circ", good],
        "lin.h5": ["circ2lin", str(files["circ"])],
        "sel.h5": ["directions", good, "select", "--names", "dir1"],
        "ren.h5": ["directions", good, "rename", "--map", "dir0=calA", "--map", "dir1=calB"],
        "add.h5": ["directions", good, "add", "--name", "new", "--ra-deg", "16:11:00", "--dec-deg", "+55d00m00s",
                   "--copy-from", "identity"],
    }
    for name, args in runs.items():
        assert main(["h5", *args, "-o", str(out / name)]) == 0, name
    assert sorted(p.name for p in out.iterdir()) == sorted(runs)  # no temporary files left behind
    assert _hashes(files) == before
    reset = read_h5parm(out / "reset.h5")
    prov = json.loads(reset.attrs[PROVENANCE_ATTR])
    assert prov["task"] == "h5 reset" and prov["inputs"][0]["sha256"] == before["good"]
    assert prov["parameters"]["stations"] == "dutch,!RS509*"
    phase = reset.soltabs["phase000"].val
    np.testing.assert_array_equal(phase[:, :, :5], 0.0)
    np.testing.assert_array_equal(phase[:, :, 5:], read_h5parm(files["good"]).soltabs["phase000"].val[:, :, 5:])
    assert list(read_h5parm(out / "ren.h5").directions) == ["[calA]", "[calB]"]
    added = read_h5parm(out / "add.h5").directions["[new]"]
    assert added == pytest.approx((wrap_ra(np.radians(242.75)), np.radians(55.0)))
    assert read_h5parm(out / "circ.h5").soltabs["phase000"].basis == "circular"
    capsys.readouterr()

    assert main(["h5", "nearest", good, "--ra-deg", "243.3", "--dec-deg", "55.25"]) == 0
    name, sep = capsys.readouterr().out.split()
    assert name == "[dir1]" and 0 < float(sep) < 0.1
    assert main(["h5", "nearest", good, "--ra-deg", "16:11:00", "--dec-deg=-30:00:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "[dir0]", "separation_deg": pytest.approx(85.0)}
    assert main(["h5", "directions", good, "list", "--json"]) == 0
    assert [d["name"] for d in json.loads(capsys.readouterr().out)] == ["[dir0]", "[dir1]"]
    assert main(["h5", "info", str(out / "circ.h5"), "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert {t["basis"] for t in desc["solsets"][0]["soltabs"]} == {"circular"}
    assert main(["h5", "info", good]) == 0
    assert "soltab phase000 (phase, linear basis)" in capsys.readouterr().out


BAD_INPUT = [
    (["reset", "{text}", "--stations", "core", "-o", "{out}"], "is not a readable h5parm (HDF5)"),
    (["reset", "{trunc}", "--stations", "core", "-o", "{out}"], "truncated file"),
    (["info", "{trunc}"], "truncated file"),
    (["lin2circ", "{missing}", "-o", "{out}"], "does not exist"),
    (["reset", "{good}", "--stations", "core", "--soltabs", "tec000", "-o", "{out}"],
     "soltabs: no soltab 'tec000' in sol000 (has amplitude000, phase000)"),
    (["reset", "{good}", "--stations", "core", "--solset", "sol001", "-o", "{out}"], "no solset 'sol001'"),
    (["reset", "{good}", "--stations", "cor", "-o", "{out}"], "stations: unknown station group 'cor'; groups: "),
    (["reset", "{good}", "--stations", "core", "--station-groups", "{groups}", "-o", "{out}"],
     "station groups refer to each other in a cycle: a -> b -> a"),
    (["reset", "{good}", "-o", "{out}"], "the following arguments are required: --stations"),
    (["directions", "{good}", "rename", "--map", "dir0=dir1", "-o", "{out}"],
     "renaming [dir0] to [dir1] clashes with the existing direction [dir1]"),
    (["directions", "{good}", "add", "--name", "dir0", "--ra-deg", "1", "--dec-deg", "2", "-o", "{out}"],
     "name: direction [dir0] already exists"),
    (["directions", "{good}", "add", "--name", "x", "--ra-deg", "25h00m00s", "--dec-deg", "2", "-o", "{out}"],
     "right ascension '25h00m00s' is out of range"),
    (["directions", "{good}", "select", "--names", "dir0", "--map", "a=b", "-o", "{out}"],
     "--map is only used by 'directions rename'"),
    (["directions", "{good}", "select", "--names", "dir0"], "directions select needs --output"),
    (["nearest", "{good}", "--ra-deg", "10", "--dec-deg", "95"], "declination 95.0 deg is outside [-90, 90]"),
    (["lin2circ", "{circ}", "-o", "{out}"], "lin2circ: soltab amplitude000 is already circular (RR, RL, LR, LL)"),
    (["circ2lin", "{good}", "-o", "{out}"], "circ2lin: soltab amplitude000 is already linear (XX, YY)"),
    (["lin2circ", "{nopol}", "-o", "{out}"], "lin2circ: no soltab in sol000 has a polarisation axis"),
    (["expand-core", "{good}", "-o", "{out}"], "--msin is required"),
    (["expand-core", "{good}", "--msin", "{text}", "-o", "{out}"], "is not a measurement set"),
    (["expand-core", "{good}", "--collapse", "--superstation", "RS106HBA", "-o", "{out}"],
     "already holds RS106HBA"),
    (["reset", "{good}", "--stations", "core", "-o", "{good}", "--overwrite"], "is the input file"),
    (["directions", "{good}", "add", "--name", "../x", "--ra-deg", "1", "--dec-deg", "2", "-o", "{out}"],
     "name: direction name '../x' may hold only letters, digits, _ + - . (not starting with . or _, at most 80 "
     "characters); e.g. 'x'"),
    (["directions", "{good}", "add", "--name", "/abs", "--ra-deg", "1", "--dec-deg", "2", "-o", "{out}"],
     "direction name '/abs' may hold only"),
    (["directions", "{good}", "add", "--name", "[]", "--ra-deg", "1", "--dec-deg", "2", "-o", "{out}"],
     "direction name '' has no character usable"),
    (["directions", "{good}", "add", "--name", "d" * 300, "--ra-deg", "1", "--dec-deg", "2", "-o", "{out}"],
     "may hold only letters"),
    (["directions", "{good}", "rename", "--map", "dir0=a/b", "-o", "{out}"],
     "map dir0=...: direction name 'a/b' may hold only letters, digits, _ + - ."),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[
    "not-h5parm", "truncated", "info-truncated", "missing-file", "missing-soltab", "missing-solset", "unknown-group",
    "group-cycle", "missing-option", "rename-clash", "add-clash", "bad-ra", "option-of-other-action",
    "no-output", "bad-dec", "already-circular", "already-linear", "no-pol-axis", "expand-without-ms",
    "expand-not-an-ms", "collapse-existing-superstation", "output-is-input", "add-dotdot-name", "add-absolute-name",
    "add-empty-name", "add-long-name", "rename-to-path"])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(files, tmp_path, capsys, args, message):
    paths = {**{k: str(v) for k, v in files.items()}, "out": str(tmp_path / "out.h5"),
             "missing": str(tmp_path / "missing.h5")}
    before = _hashes(files)
    code = main(["h5", *[a.format(**paths) for a in args]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out.h5").exists()
    assert _hashes(files) == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_existing_output_needs_overwrite(files, tmp_path, capsys):
    out = tmp_path / "out.h5"
    out.write_text("earlier product\n")
    args = ["h5", "reset", str(files["good"]), "--stations", "core", "-o", str(out)]
    assert main(args) == 2
    assert "overwrite it or choose another output" in capsys.readouterr().err
    assert out.read_text() == "earlier product\n"
    assert main([*args, "--overwrite"]) == 0
    assert read_h5parm(out).soltabs["phase000"].val[:, :, :3].max() == 0.0


def _losoto(h5s: dict[str, Path], workdir: Path) -> dict[str, list[Path]]:
    """Run LoSoTo's RESET and PLOT on a copy of each h5parm (all at once); return the PNGs each run wrote."""
    exe = Path(sys.executable).parent / "losoto"
    runs = {}
    for name, h5 in h5s.items():
        copy = workdir / f"{name}.h5"
        copy.write_bytes(h5.read_bytes())  # LoSoTo works in place
        prefix = workdir / "plots" / f"{name}_"
        parset = workdir / f"{name}.parset"
        parset.write_text(f"""
[reset]
operation = RESET
soltab = sol000/phase000

[plot]
operation = PLOT
soltab = sol000/phase000
axesInPlot = time
prefix = {prefix}
""")
        log = workdir / f"{name}.log"
        with log.open("w") as fh:
            proc = subprocess.Popen([str(exe), str(copy), str(parset)], stdout=fh, stderr=subprocess.STDOUT,
                                    cwd=workdir)
        runs[name] = (proc, log, copy, prefix)
    pngs = {}
    for name, (proc, log, copy, prefix) in runs.items():
        proc.wait(timeout=300)
        output = log.read_text()
        assert proc.returncode == 0, (name, output[-6000:])
        assert "Error" not in output, (name, output[-6000:])
        np.testing.assert_array_equal(read_h5parm(copy).soltabs["phase000"].val, 0.0)  # LoSoTo's RESET
        pngs[name] = sorted(prefix.parent.glob(f"{prefix.name}*.png"))
    return pngs


def test_losoto_runs_on_what_reset_and_lin2circ_write(tmp_path):
    src = write_solset(tmp_path / "in.h5", example_solset(stations=("CS001HBA0", "RS106HBA"), n_dir=1, n_freq=1))
    assert main(["h5", "reset", str(src), "--stations", "core", "-o", str(tmp_path / "reset.h5")]) == 0
    assert main(["h5", "lin2circ", str(src), "-o", str(tmp_path / "circ.h5")]) == 0
    work = tmp_path / "losoto"
    (work / "plots").mkdir(parents=True)
    pngs = _losoto({"reset": tmp_path / "reset.h5", "circ": tmp_path / "circ.h5"}, work)
    reset_pngs, circ_pngs = pngs["reset"], pngs["circ"]
    assert len(reset_pngs) == 4 and len(circ_pngs) == 8  # one per antenna and polarisation
    assert all(p.stat().st_size > 1000 for p in reset_pngs + circ_pngs)
    assert any("polRL" in p.name for p in circ_pngs)


def test_losoto_runs_on_what_every_other_writer_writes(tmp_path, simulated):
    """merge, expand-core (both ways), directions select/rename/add and circ2lin outputs: RESET and PLOT run."""
    from conftest import ALL_CORRUPTIONS_OFF

    ms = simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms
    few = ("CS001HBA0", "CS002HBA0", "RS106HBA")
    src = write_solset(tmp_path / "in.h5", example_solset(stations=few, n_freq=1))
    tec = write_solset(tmp_path / "tec.h5", example_solset(seed=3, stations=few, n_freq=1, soltypes=("tec",)))
    runs = {
        "merge": ["h5", "merge", str(src), str(tec), "-o"],
        "collapse": ["h5", "expand-core", str(src), "--collapse", "-o"],
        "select": ["h5", "directions", str(src), "select", "--names", "dir1", "-o"],
        "rename": ["h5", "directions", str(src), "rename", "--map", "dir0=calA", "-o"],
        "add": ["h5", "directions", str(src), "add", "--name", "extra", "--ra-deg", "243", "--dec-deg", "55.2",
                "-o"],
    }
    work = tmp_path / "losoto"
    (work / "plots").mkdir(parents=True)
    for name, args in runs.items():
        assert main([*args, str(tmp_path / f"{name}.h5")]) == 0, name
    assert main(["h5", "lin2circ", str(src), "-o", str(tmp_path / "circ.h5")]) == 0
    assert main(["h5", "circ2lin", str(tmp_path / "circ.h5"), "-o", str(tmp_path / "lin.h5")]) == 0
    assert main(["h5", "expand-core", str(tmp_path / "collapse.h5"), "--msin", str(ms), "-o",
                 str(tmp_path / "expand.h5")]) == 0
    assert read_h5parm(tmp_path / "expand.h5").antenna_names[:4] == ["CS001HBA0", "CS002HBA0", "CS002HBA1",
                                                                      "CS003HBA0"]
    pngs = _losoto({name: tmp_path / f"{name}.h5" for name in (*runs, "lin", "expand")}, work)
    for name, written in pngs.items():
        assert written and all(p.stat().st_size > 1000 for p in written), name


def test_other_solsets_are_copied_unchanged(files, tmp_path, capsys):
    import h5py

    two = tmp_path / "two.h5"
    two.write_bytes(files["good"].read_bytes())
    with h5py.File(two, "a") as f:
        f.copy("sol000", "sol001")
        f["sol001/phase000/val"][...] = 0.5
    out = tmp_path / "out.h5"
    assert main(["h5", "reset", str(two), "--solset", "sol001", "--stations", "FR606HBA", "-o", str(out)]) == 0
    assert "copied solset(s) sol000 unchanged" in capsys.readouterr().err
    with h5py.File(out, "r") as f, h5py.File(two, "r") as g:
        assert sorted(f) == ["sol000", "sol001"]
        np.testing.assert_array_equal(f["sol000/phase000/val"][()], g["sol000/phase000/val"][()])
    phase = read_h5parm(out, "sol001").soltabs["phase000"].val
    np.testing.assert_array_equal(phase[:, :, :-1], 0.5)
    np.testing.assert_array_equal(phase[:, :, -1], 0.0)
