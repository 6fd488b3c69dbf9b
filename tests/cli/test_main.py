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
