"""Inputs and products of the single DI steps (lofar_hires.calibration.step_products), without DP3.

The ops that use these rules run end to end in tests/cli/test_cli_dical.py; here each rule is
checked on its own with tiny files: messages name the input by the words the caller gives (never a
command-line flag of their own), outputs that would destroy an input are refused, copies of read-only
inputs are writable and disappear when the step fails, and provenance lands in the h5parm and the
measurement set's HISTORY table.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import example_solset, tree_sha256
from lofar_hires.calibration.step_products import (
    FIT_NEEDS,
    check_logdir,
    check_new_output,
    check_separate_outputs,
    check_solve_for_fit,
    copy_ms,
    logdir_for,
    ms_output,
    new_provenance,
    record_ms_history,
    require_file,
    require_soltabs,
    soltabs_to_apply,
    stamp_h5parm,
)
from lofar_hires.errors import InputError, MissingInputError, OutputExistsError
from lofar_hires.io.h5parm import Solset, Soltab, write_solset
from lofar_hires.solutions.output import PROVENANCE_ATTR


def fake_ms(path: Path, read_only: bool = False) -> Path:
    """A directory tree shaped like a measurement set (the copy rules do not open it)."""
    (path / "ANTENNA").mkdir(parents=True)
    (path / "table.dat").write_bytes(b"main table")
    (path / "ANTENNA" / "table.f0").write_bytes(b"antennas")
    if read_only:
        for p in (path / "ANTENNA" / "table.f0", path / "table.dat", path / "ANTENNA", path):
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return path


# --------------------------------------------------------------------------- inputs


def test_require_file_names_the_input(tmp_path):
    with pytest.raises(MissingInputError, match=r"^transfer solutions .*nope\.h5 does not exist$"):
        require_file(tmp_path / "nope.h5", "transfer solutions")
    with pytest.raises(InputError, match=r"^candidate table .* is not a file$"):
        require_file(tmp_path, "candidate table")
    (tmp_path / "ok.h5").write_bytes(b"x")
    assert require_file(tmp_path / "ok.h5", "x") == tmp_path / "ok.h5"


def test_require_soltabs_message_starts_with_the_label(tmp_path):
    path = write_solset(tmp_path / "s.h5", example_solset())
    solset = require_soltabs(path, ["phase000"], "transfer solutions")
    assert list(solset.soltabs) == ["phase000"]
    with pytest.raises(InputError) as err:
        require_soltabs(path, ["clock"], "transfer solutions")
    message = str(err.value)
    assert message.startswith("transfer solutions: ") and "clock" in message and "--" not in message


def _fulljones(path: Path) -> Path:
    sol = example_solset(pols=("XX", "XY", "YX", "YY"), n_dir=1)
    return write_solset(path, sol)


def test_soltabs_to_apply_orders_fulljones_amplitude_first(tmp_path):
    diagonal = write_solset(tmp_path / "diag.h5", example_solset(n_dir=1))
    tabs, fulljones = soltabs_to_apply(diagonal, None, "solutions")
    assert sorted(tabs) == ["amplitude000", "phase000"] and not fulljones
    assert soltabs_to_apply(diagonal, ["phase000"], "solutions") == (("phase000",), False)
    full = _fulljones(tmp_path / "full.h5")
    assert soltabs_to_apply(full, None, "solutions") == (("amplitude000", "phase000"), True)


def test_check_solve_for_fit(tmp_path):
    diagonal = write_solset(tmp_path / "diag.h5", example_solset(n_dir=1))
    check_solve_for_fit(diagonal, "polalign")
    check_solve_for_fit(diagonal, "bandpass")
    with pytest.raises(InputError, match="fit faraday needs a rotation\\+diagonal solve"):
        check_solve_for_fit(diagonal, "faraday")
    with pytest.raises(InputError, match="is not diagonal .*fit clocktec needs a diagonal solve"):
        check_solve_for_fit(_fulljones(tmp_path / "full.h5"), "clocktec")
    sol = example_solset(n_dir=1)
    tab = sol.soltabs["phase000"]
    no_time = {k: v for k, v in tab.axes.items() if k != "time"}
    flat = Solset("sol000", sol.antenna_names, sol.antenna_positions_m, sol.directions,
                  {"phase000": Soltab("phase000", "phase", no_time, tab.val[0], tab.weight[0])})
    with pytest.raises(InputError, match="has no time axis"):
        check_solve_for_fit(write_solset(tmp_path / "flat.h5", flat), "polalign")
    assert set(FIT_NEEDS) == {"polalign", "faraday", "bandpass", "clocktec"}


# --------------------------------------------------------------------------- outputs


def test_check_new_output_refuses_what_would_destroy_an_input(tmp_path):
    ms = fake_ms(tmp_path / "in.MS")
    with pytest.raises(InputError, match="output measurement set .*in.MS is an input"):
        check_new_output(ms, True, [ms], "output measurement set")
    with pytest.raises(InputError, match="lies inside the input"):
        check_new_output(ms / "sub.MS", True, [ms])
    with pytest.raises(InputError, match="contains the input"):
        check_new_output(tmp_path, True, [ms])
    existing = tmp_path / "out.h5"
    existing.write_bytes(b"earlier")
    with pytest.raises(OutputExistsError):
        check_new_output(existing, False, [ms])
    check_new_output(existing, True, [ms])
    check_new_output(tmp_path / "new" / "out.h5", False, [ms])


def test_check_separate_outputs(tmp_path):
    check_separate_outputs(tmp_path / "a.h5", tmp_path / "a.MS")
    for h5, ms in ((tmp_path / "x", tmp_path / "x"), (tmp_path / "x.MS" / "a.h5", tmp_path / "x.MS")):
        with pytest.raises(InputError, match="must be separate paths"):
            check_separate_outputs(h5, ms)


def test_check_logdir_and_default(tmp_path):
    check_logdir(None)
    check_logdir(tmp_path / "new" / "logs")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(InputError, match=r"^log directory .*afile/logs: .*afile is not a directory$"):
        check_logdir(afile / "logs")
    assert logdir_for(None, tmp_path / "out" / "x.h5") == (tmp_path / "out" / "logs").resolve()
    assert logdir_for(tmp_path / "mine", tmp_path / "x.h5") == tmp_path / "mine"


def test_copy_of_a_read_only_ms_is_writable(tmp_path):
    source = fake_ms(tmp_path / "ro.MS", read_only=True)
    try:
        copy = copy_ms(source, tmp_path / "copy.MS")
        for path in (copy, *copy.rglob("*")):
            assert path.stat().st_mode & stat.S_IWUSR, path
        assert tree_sha256(copy) == tree_sha256(source)
        assert not os.stat(source).st_mode & stat.S_IWUSR
    finally:
        for p in (source, *source.rglob("*")):
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_ms_output_renames_when_done_and_leaves_nothing_when_failing(tmp_path):
    source = fake_ms(tmp_path / "in.MS")
    before = tree_sha256(source)
    with ms_output(source, tmp_path / "out.MS", overwrite=False) as work:
        assert work != tmp_path / "out.MS" and (work / "table.dat").is_file()
        (work / "NEW_COLUMN").write_text("written by the step")
    assert (tmp_path / "out.MS" / "NEW_COLUMN").is_file()
    with pytest.raises(RuntimeError, match="step failed"):
        with ms_output(source, tmp_path / "failed.MS", overwrite=False) as work:
            (work / "NEW_COLUMN").write_text("half")
            raise RuntimeError("step failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.MS", "out.MS"]
    assert tree_sha256(source) == before


# --------------------------------------------------------------------------- provenance


def test_new_provenance_records_parameters_settings_and_inputs(tmp_path):
    h5 = write_solset(tmp_path / "s.h5", example_solset())
    prov = new_provenance("dical fit", {"solve_h5": h5, "overrides": ["a=1"], "effect": "faraday"}, [h5],
                          settings={"x": 1})
    assert prov.task == "dical fit"
    assert prov.parameters == {"solve_h5": str(h5), "overrides": ["a=1"], "effect": "faraday", "settings": "{'x': 1}"}
    assert [Path(i["path"]).name for i in prov.inputs] == ["s.h5"] and prov.inputs[0]["sha256"]
    json.dumps(prov.to_dict())


def test_stamp_h5parm_writes_the_first_solset(tmp_path):
    h5 = write_solset(tmp_path / "s.h5", example_solset())
    prov = new_provenance("dical solve", {"mode": "diagonal"}, [])
    stamp_h5parm(h5, prov)
    with h5py.File(h5, "r") as f:
        record = json.loads(bytes(np.asarray(f["sol000"].attrs[PROVENANCE_ATTR])).decode())
    assert record["task"] == "dical solve" and record["parameters"] == {"mode": "diagonal"}
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w"):
        pass
    with pytest.raises(InputError, match="holds no solset"):
        stamp_h5parm(empty, prov)


def test_record_ms_history_appends_one_row(tmp_path, caplog):
    from casacore.tables import default_ms_subtable, table

    ms = tmp_path / "x.MS"
    ms.mkdir()
    default_ms_subtable("HISTORY", str(ms / "HISTORY")).close()
    prov = new_provenance("dical predict", {"threads": 2}, [])
    record_ms_history(ms, prov)
    record_ms_history(ms, prov)
    with table(str(ms / "HISTORY"), ack=False) as t:
        assert t.nrows() == 2
        assert json.loads(t.getcell("MESSAGE", 1))["task"] == "dical predict"
        assert t.getcell("ORIGIN", 0).endswith("dical predict") and list(t.getcell("APP_PARAMS", 0)) == ["threads=2"]
        # TIME is MJD seconds of now: after 2020-01-01 (MJD 58849)
        assert t.getcell("TIME", 0) > 58849 * 86400.0
    without = fake_ms(tmp_path / "nohistory.MS")
    record_ms_history(without, prov)
    assert "has no HISTORY table" in caplog.text
