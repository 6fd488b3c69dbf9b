"""The ``lofar-hires`` entry point: task table, logging options, usage errors."""

from __future__ import annotations

import pytest

from lofar_hires.cli import TASKS, build_parser, main


@pytest.mark.parametrize("argv, level", [
    (["--log-level", "WARNING", "simulate"], "WARNING"),
    (["simulate", "--log-level", "DEBUG"], "DEBUG"),
    (["simulate"], "INFO"),
])
def test_logging_options_before_or_after_the_task(argv, level):
    args = build_parser().parse_args(argv)
    assert args.log_level == level and args.log_file is None


def test_every_task_has_help(capsys):
    for task in TASKS:
        assert main([task, "--help"]) == 0
        assert "usage: lofar-hires" in capsys.readouterr().out


def test_usage_errors_are_one_line(capsys):
    assert main(["no-such-task"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 'no-such-task'" in err[0]
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("lofar-hires ")


@pytest.mark.parametrize("raised, status", [
    ("InputError('bad input')", 2),
    ("MissingInputError('missing')", 2),
    ("OutputExistsError('exists')", 2),
    ("ToolError('DP3 failed', 'tail line')", 3),
    ("QualityError('NaN image')", 4),
    ("PermissionError(13, 'Permission denied', '/x')", 2),
    ("KeyError('a bug')", 1),
], ids=lambda x: str(x).split("(")[0])
def test_exit_status_per_failure(monkeypatch, capfd, raised, status):
    """Each failure ends with its exit status (errors.exit_status, README) and one ERROR line; an internal
    error (a bug) prints no traceback on the console."""
    from lofar_hires import errors
    from lofar_hires.cli import simulate

    def fail(args):
        raise eval(raised, {**vars(errors), "PermissionError": PermissionError, "KeyError": KeyError})

    monkeypatch.setattr(simulate, "run", fail)
    assert main(["simulate", "--preset", "tiny"]) == status
    err = capfd.readouterr().err
    errors_logged = [line for line in err.splitlines() if " ERROR " in line]
    assert errors_logged and "Traceback" not in err
    if status != 3:
        assert len(errors_logged) == 1
