"""Structurally wrong h5parms: one validating reader, and every command that reads an h5parm refuses them.

Each damage of :data:`broken_h5parms.DAMAGES` (no solset, missing or malformed antenna and
source tables, soltabs without type, values, weights or axis order, unknown or empty axes,
shapes that do not match, values that are strings, stations or directions that the tables do
not know, values that cannot be read, truncated, not HDF5, empty) is refused by
:func:`read_h5parm` and :class:`StreamingReader` with an InputError naming the file, the solset
or soltab and the problem. Then every ``lofar-hires h5`` command, ``apply-solutions`` and
``selfcal --pre-apply`` is run on each file: one line on stderr, exit status 2, the input byte
for byte as it was, and nothing written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from broken_h5parms import DAMAGES, broken_h5parms, good_h5parm

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires import cli
from lofar_hires.cli import main
from lofar_hires.cli.h5 import COMMANDS
from lofar_hires.errors import InputError, exit_status
from lofar_hires.io.h5parm import H5parmWriter, Soltab, StreamingReader, read_h5parm, validate_h5parm, write_h5parm

#: Damages found only when the values are read (the structure is right).
VALUE_DAMAGES = ("values-unreadable",)


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> dict[str, Path]:
    return broken_h5parms(tmp_path_factory.mktemp("broken_h5parms"))


@pytest.fixture(scope="module")
def good(broken) -> Path:
    return good_h5parm(broken["no-val"].parent)


@pytest.fixture(scope="module")
def ms(simulated) -> Path:
    return simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- the reader


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_reader_refuses_each_damage_naming_file_place_and_problem(broken, damage):
    path = broken[damage]
    message = DAMAGES[damage][1]
    before = _sha256(path)
    with pytest.raises(InputError) as info:
        read_h5parm(path)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text, text
    assert exit_status(info.value) == 2
    if "soltab" in message:
        assert "solset sol000, soltab" in text
    with pytest.raises(InputError, match=_escape(message)):
        with StreamingReader(path) as reader:  # the structure is checked on opening, values when read
            for name in reader.soltab_names:
                reader.read(name)
    if damage not in VALUE_DAMAGES:
        with pytest.raises(InputError, match=_escape(message)):
            validate_h5parm(path)
    assert _sha256(path) == before


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_every_solset_is_validated_not_only_the_one_read(good, tmp_path):
    import h5py

    path = tmp_path / "two.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "a") as f:
        f.copy("sol000", "sol001")
        del f["sol001/antenna"]
    assert read_h5parm(path, "sol000").name == "sol000"  # the solset read is fine
    with pytest.raises(InputError, match="solset sol001 has no antenna table"):
        validate_h5parm(path)


def test_writer_refuses_what_it_could_not_write_faithfully(tmp_path):
    ants = ["CS001HBA0", "RS106HBA"]
    axes = {"time": np.arange(2.0), "ant": np.array(ants)}
    good = Soltab("phase000", "phase", axes, np.zeros((2, 2)))
    cases = [
        (dict(antenna_names=["CS001HBA0", "X" * 16]), "antenna name 'XXXXXXXXXXXXXXXX' cannot be written"),
        (dict(antenna_names=["CS001HBA0", "RS106\x00HBA"]), "without NUL"),
        (dict(antenna_names=["CS001HBA0", "RS106\nHBA"]), "without NUL or control characters"),
        (dict(antenna_names=["CS001HBA0", "CS001HBA0"]), "antenna names are not unique"),
        (dict(directions={"d" * 130: (0.0, 0.5)}), "direction name"),
    ]
    for n, (kwargs, message) in enumerate(cases):
        args = {"antenna_names": ants, "directions": None, **kwargs}
        with pytest.raises(InputError, match=_escape(message)):
            write_h5parm(tmp_path / f"bad{n}.h5", [good], args["antenna_names"], np.zeros((2, 3)), args["directions"])
        assert not (tmp_path / f"bad{n}.h5").exists()  # refused before the file is created
    with H5parmWriter(tmp_path / "w.h5", "sol000", ants, np.zeros((2, 3)), {"a": (0.0, 0.5)}) as writer:
        with pytest.raises(InputError, match="stations DE601HBA are not in the antenna table"):
            writer.create_soltab("p", "phase", {"ant": np.array(["DE601HBA"])})
        with pytest.raises(InputError, match=_escape("directions [b] are not in the source table")):
            writer.create_soltab("p", "phase", {"dir": np.array(["b"])})
        with pytest.raises(InputError, match="axis 'time' is empty"):
            writer.create_soltab("p", "phase", {"time": np.zeros(0)})
        with pytest.raises(InputError, match="soltab name '../x' cannot be written"):
            writer.create_soltab("../x", "phase", {"time": np.zeros(2)})
    with pytest.raises(InputError, match="solset name 'a/b' cannot be written"):
        H5parmWriter(tmp_path / "s.h5", "a/b", ants, np.zeros((2, 3)))
    assert not (tmp_path / "s.h5").exists()


# --------------------------------------------------------------------------- every command


#: Every command that reads an h5parm; ``{bad}`` is the broken file.
COMMAND_LINES = {
    "info": ["h5", "info", "{bad}"],
    "nearest": ["h5", "nearest", "{bad}", "--ra-deg", "243", "--dec-deg", "55"],
    "directions-list": ["h5", "directions", "{bad}", "list"],
    "directions-select": ["h5", "directions", "{bad}", "select", "--names", "dir0", "-o", "{out}"],
    "directions-rename": ["h5", "directions", "{bad}", "rename", "--map", "dir0=calA", "-o", "{out}"],
    "directions-add": ["h5", "directions", "{bad}", "add", "--name", "new", "--ra-deg", "243", "--dec-deg", "55",
                       "-o", "{out}"],
    "reset": ["h5", "reset", "{bad}", "--stations", "core", "-o", "{out}"],
    "expand-core": ["h5", "expand-core", "{bad}", "--msin", "{ms}", "-o", "{out}"],
    "collapse-core": ["h5", "expand-core", "{bad}", "--collapse", "-o", "{out}"],
    "lin2circ": ["h5", "lin2circ", "{bad}", "-o", "{out}"],
    "circ2lin": ["h5", "circ2lin", "{bad}", "-o", "{out}"],
    "merge": ["h5", "merge", "{bad}", "-o", "{out}"],
    "merge-dd": ["h5", "merge-dd", "{bad}", "--international", "{outdir}", "-o", "{out}"],
    "merge-second": ["h5", "merge", "{good}", "{bad}", "-o", "{out}"],
    "merge-time-grid": ["h5", "merge", "{good}", "--time-grid", "{bad}", "-o", "{out}"],
    "apply-solutions": ["apply-solutions", "{ms}", "--solutions", "{bad}", "-o", "{outms}"],
    "selfcal-pre-apply": ["selfcal", "{ms}", "--strategy", "delay", "--pre-apply", "{bad}", "--outdir", "{outdir}"],
}


def test_the_table_covers_every_h5_command():
    covered = {line[1] for line in COMMAND_LINES.values() if line[0] == "h5"}
    assert covered == set(COMMANDS)


#: Runs that succeed: the time grid of an h5parm is its time axis; values that cannot be read are not used.
EXPECTED_SUCCESS = {("merge-time-grid", "values-unreadable")}


@pytest.fixture()
def one_parser(monkeypatch):
    """Build the command-line parser once for the many runs of a test (building it takes ~0.2 s)."""
    import functools

    monkeypatch.setattr(cli, "build_parser", functools.cache(cli.build_parser))


@pytest.mark.parametrize("command", list(COMMAND_LINES))
def test_every_command_refuses_every_broken_h5parm(broken, good, ms, tmp_path, capsys, one_parser, command):
    hashes = {damage: _sha256(path) for damage, path in broken.items()}
    hashes["good"], ms_before = _sha256(good), _sha256(ms)
    out = tmp_path / "out"
    out.mkdir()
    problems = []
    for damage, path in broken.items():
        paths = {"bad": path, "good": good, "ms": ms, "out": out / "out.h5", "outms": out / "out.MS",
                 "outdir": out / "selfcal"}
        argv = ["--log-level", "WARNING", *[a.format(**paths) for a in COMMAND_LINES[command]]]
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        if (command, damage) in EXPECTED_SUCCESS:
            if code != 0:
                problems.append(f"{damage}: exit {code} where success was expected: {lines}")
            for p in out.iterdir():
                p.unlink()
            continue
        if code != 2:
            problems.append(f"{damage}: exit {code}: {lines}")
        elif len(lines) != 1 or DAMAGES[damage][1] not in lines[0] or str(path) not in lines[0]:
            problems.append(f"{damage}: {lines}")
        elif captured.out:
            problems.append(f"{damage}: printed {captured.out!r}")
        left = sorted(p.name for p in out.iterdir())
        if left:
            problems.append(f"{damage}: left {left}")
    assert not problems, "\n".join(problems)
    assert {damage: _sha256(path) for damage, path in broken.items()} == {k: v for k, v in hashes.items()
                                                                          if k != "good"}
    assert _sha256(good) == hashes["good"] and _sha256(ms) == ms_before
    assert not list(good.parent.glob(".*partial*"))


def test_solutions_without_any_finite_value_are_refused_by_every_command_that_uses_them(good, ms, tmp_path, capsys,
                                                                                      one_parser):
    """DP3 writes NaN for what it could not solve; a soltab that is NaN everywhere holds no solutions.

    Commands that write or apply solutions refuse it (exit 2); the inspection commands describe it.
    """
    import h5py

    nan = tmp_path / "nan.h5"
    nan.write_bytes(good.read_bytes())
    with h5py.File(nan, "a") as f:
        f["sol000/phase000/val"][...] = np.nan
    before = _sha256(nan)
    out = tmp_path / "out"
    out.mkdir()
    for command, line in COMMAND_LINES.items():
        paths = {"bad": nan, "good": good, "ms": ms, "out": out / "out.h5", "outms": out / "out.MS",
                 "outdir": out / "selfcal"}
        code = main(["--log-level", "WARNING", *[a.format(**paths) for a in line]])
        err = capsys.readouterr().err.strip().splitlines()
        if command in ("info", "nearest", "directions-list", "merge-time-grid"):
            assert code == 0, (command, err)
        else:
            assert code == 2, (command, err)
            assert len(err) == 1 and "soltab phase000 holds no finite value (all NaN or infinite)" in err[0], err
        for p in out.iterdir():
            assert command == "merge-time-grid", (command, p)
            p.unlink()
    assert _sha256(nan) == before
