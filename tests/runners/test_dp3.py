"""DP3 parsets from typed steps, and real DP3 runs with logging, errors and provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.errors import InputError, ToolError
from lofar_hires.provenance import Provenance
from lofar_hires.runners.dp3 import Dp3Run, Dp3Step, build_parset, format_value, run_dp3


def test_paths_dp3_would_split_are_quoted():
    assert format_value(Path("/data/run=3/obs.MS")) == '"/data/run=3/obs.MS"'
    assert format_value([Path("/a b/x.MS"), Path("/c/y.MS")]) == '["/a b/x.MS",/c/y.MS]'
    assert format_value(Path('/q"x/a=b')) == "'/q\"x/a=b'"
    assert format_value("{ST001:[CS001HBA0,CS002HBA0]}") == "{ST001:[CS001HBA0,CS002HBA0]}", "DP3 syntax stays"


def test_format_values():
    assert format_value(True) == "true"
    assert format_value(np.int64(4)) == "4"
    assert format_value(0.5) == "0.5"
    assert format_value(["a", 1, Path("x.h5")]) == "[a,1,x.h5]"


def test_parset_is_complete_and_ordered():
    run = Dp3Run(
        msin=Path("in.MS"),
        msout=Path("out.MS"),
        steps=[Dp3Step("avg", "averager", {"timestep": 2, "freqstep": 4}),
               Dp3Step("shift", "phaseshift", {"phasecenter": ["16h11m00s", "55d00m00s"]})],
        msin_options={"datacolumn": "DATA"},
        msout_options={"overwrite": True},
        numthreads=2,
    )
    text = build_parset(run)
    assert text.splitlines() == [
        "msin=in.MS", "msin.datacolumn=DATA", "msout=out.MS", "msout.overwrite=true", "numthreads=2",
        "steps=[avg,shift]", "avg.type=averager", "avg.timestep=2", "avg.freqstep=4",
        "shift.type=phaseshift", "shift.phasecenter=[16h11m00s,55d00m00s]",
    ]
    assert "msout=." in build_parset(Dp3Run(msin=Path("in.MS"), msout=None))


def test_parset_refuses_bad_descriptions():
    with pytest.raises(InputError, match="unique"):
        build_parset(Dp3Run(Path("a"), None, [Dp3Step("s", "averager"), Dp3Step("s", "averager")]))
    with pytest.raises(InputError, match="invalid DP3 step name"):
        Dp3Step("my step", "averager")


@pytest.fixture(scope="module")
def tiny_ms(simulated):
    return simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0].ms


def test_dp3_run_averages_and_records_provenance(tiny_ms, tmp_path):
    from casacore.tables import table

    prov = Provenance(task="test")
    out = tmp_path / "avg.MS"
    run = Dp3Run(msin=tiny_ms, msout=out, steps=[Dp3Step("avg", "averager", {"timestep": 3, "freqstep": 2})])
    record = run_dp3(run, tmp_path, "avg", provenance=prov)
    assert record.exit_status == 0 and record.version.startswith("DP3 6.")
    assert record.command[-1].endswith("avg.parset") and record.wall_time_s > 0
    assert prov.tool_runs == [record]
    assert "Finishing processing" in (tmp_path / "avg.log").read_text()
    with table(str(tiny_ms), ack=False) as t_in, table(str(out), ack=False) as t_out:
        assert t_out.nrows() == t_in.nrows() // 3
        assert t_out.getcol("DATA").shape[1] == t_in.getcol("DATA").shape[1] // 2


def test_unused_parset_key_is_an_error(tiny_ms, tmp_path):
    run = Dp3Run(msin=tiny_ms, msout=tmp_path / "x.MS", steps=[Dp3Step("avg", "averager", {"timestpe": 2})])
    with pytest.raises(ToolError, match="keywords were not used"):
        run_dp3(run, tmp_path, "typo")


def test_failing_dp3_raises_with_log_tail(tmp_path):
    run = Dp3Run(msin=tmp_path / "missing.MS", msout=tmp_path / "x.MS")
    with pytest.raises(ToolError) as err:
        run_dp3(run, tmp_path, "missing")
    assert "exit status" in str(err.value) and "missing.MS" in err.value.log_tail


def test_overrides_are_passed_after_the_parset(tiny_ms, tmp_path):
    run = Dp3Run(msin=tiny_ms, msout=tmp_path / "o.MS", steps=[Dp3Step("avg", "averager", {"timestep": 2})])
    record = run_dp3(run, tmp_path, "ovr", overrides=["avg.timestep=6"])
    assert record.command[-1] == "avg.timestep=6"
    from casacore.tables import table

    with table(str(tiny_ms), ack=False) as t_in, table(str(tmp_path / "o.MS"), ack=False) as t_out:
        assert t_out.nrows() == t_in.nrows() // 6
    with pytest.raises(InputError, match="key=value"):
        run_dp3(run, tmp_path, "bad", overrides=["avg.timestep"])


def test_exit_0_is_not_success_without_the_outputs(tiny_ms, tmp_path):
    """DP3 exits 0 after a solve with no data (a uv cut above the longest baseline): the h5parm holds only
    NaN and the run fails its quality check; an output MS without rows is a tool failure, named."""
    from lofar_hires.errors import QualityError
    from lofar_hires.runners.dp3 import check_dp3_outputs

    h5 = tmp_path / "nothing.h5"
    model = tmp_path / "point.skymodel"
    model.write_text("FORMAT = Name, Type, Ra, Dec, I\nsrc, POINT, 16:11:00.0, +55.00.00.0, 1.0\n")
    solve = Dp3Step("solve", "ddecal", {"mode": "scalarphase", "h5parm": h5, "sourcedb": model,
                                        "uvlambdamin": 1e9})
    with pytest.raises(QualityError, match="only NaN solutions"):
        run_dp3(Dp3Run(msin=tiny_ms, msout=None, steps=[solve]), tmp_path, "solve")
    assert h5.is_file()  # DP3 did write it: the check, not DP3, reports the failure

    # An output MS that was asked for and is not there, or has no rows.
    log_file = tmp_path / "fake.log"
    log_file.write_text("DP3 said nothing wrong\n")
    with pytest.raises(ToolError, match="wrote no measurement set .*absent.MS") as info:
        check_dp3_outputs(Dp3Run(msin=tiny_ms, msout=tmp_path / "absent.MS"), log_file)
    assert "DP3 said nothing wrong" in str(info.value)
    from casacore.tables import table

    empty = tmp_path / "empty.MS"
    with table(str(tiny_ms), ack=False) as t:
        t.query("FALSE").copy(str(empty), deep=True).close()
    with pytest.raises(ToolError, match="has no rows"):
        check_dp3_outputs(Dp3Run(msin=tiny_ms, msout=empty), log_file)
    with pytest.raises(ToolError, match="has no column MODEL_DATA"):
        check_dp3_outputs(Dp3Run(msin=tiny_ms, msout=None, msout_options={"datacolumn": "MODEL_DATA"}), log_file)
