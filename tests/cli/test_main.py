"""The ``lofar-hires`` entry point: task table, logging options, usage errors."""

from __future__ import annotations

import argparse

import pytest

from lofar_hires.cli import TASKS, build_parser, main, task_of


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


@pytest.mark.parametrize("setting, message, shown", [
    ("seed", "seed must be at least 0, got -1", "seed must be at least 0, got -1 (--seed)"),
    ("outdir", "outdir x is a file", "outdir x is a file (--outdir)"),
    ("seed", "--seed must be at least 0", "--seed must be at least 0"),  # names its option already
    ("observation.n_chan", "observation.n_chan must be >= 1", "observation.n_chan must be >= 1"),  # no option
    (None, "bad input", "bad input"),
], ids=["option", "path-option", "already-named", "config-key", "no-setting"])
def test_an_input_error_names_the_option_of_its_setting(monkeypatch, capfd, setting, message, shown):
    """A library error names the setting at fault; the command line adds the option that sets it."""
    from lofar_hires.cli import simulate
    from lofar_hires.errors import InputError

    def fail(args):
        raise InputError(message, setting=setting)

    monkeypatch.setattr(simulate, "run", fail)
    assert main(["simulate", "--preset", "tiny"]) == 2
    (line,) = [line for line in capfd.readouterr().err.splitlines() if " ERROR " in line]
    assert line.endswith(f"lofar_hires.cli: {shown}")


def test_a_group_command_error_names_the_option_of_its_own_parser(tmp_path, capfd):
    """The option comes from the parser of the command that ran (``dical collect``, not ``dical``)."""
    import argparse

    from lofar_hires.cli import option_of

    parser = build_parser()
    for word in ("dical", "correct"):
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    assert option_of(parser, "transfer") == "--transfer" and option_of(parser, "msin") == "MSIN"
    assert option_of(parser, "no_such_setting") is None

    good = tmp_path / "missing.h5"
    a_dir = tmp_path / "a_dir.h5"
    a_dir.mkdir()
    assert main(["dical", "collect", "--polalign", str(a_dir), "--bandpass", str(good), "--faraday", str(good),
                 "--clocktec", str(good), "-o", str(tmp_path / "out.h5")]) == 2
    (line,) = [line for line in capfd.readouterr().err.splitlines() if " ERROR " in line]
    assert line.endswith(f"polalign solutions {a_dir} is not a file (--polalign)")


def test_every_package_is_listed():
    """Every package of src/lofar_hires ships (a non-editable install, a container): pyproject.toml lists them."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    src = root / "src"
    packages = {".".join(p.parent.relative_to(src).parts) for p in (src / "lofar_hires").rglob("__init__.py")
                if "__pycache__" not in p.parts}
    assert {"lofar_hires.cli.dical", "lofar_hires.cli.h5", "lofar_hires.subtract", "lofar_hires.peel"} <= packages
    assert packages - {"lofar_hires.configs"} <= listed, f"not in pyproject.toml packages: {sorted(packages - listed)}"


def test_a_command_line_builds_only_its_task_options():
    """``lofar-hires TASK`` imports and builds only TASK's options (seconds saved on every step a workflow
    runs); the other tasks stay listed."""
    assert task_of(["--log-level", "WARNING", "peel", "x.ms"]) == "peel"
    assert task_of(["--log-file", "image", "sva", "a.ms"]) == "sva"  # a log file named like a task
    assert task_of(["--version"]) is None and task_of(["nosuchtask"]) is None
    parser = build_parser(only="sva")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(TASKS)
    assert any(a.dest == "image_radius_deg" for a in sub.choices["sva"]._actions)
    assert not any(a.dest == "skymodel" for a in sub.choices["peel"]._actions)
