"""The ``lofar-hires`` command: one sub-command per task.

Each task module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; the table :data:`TASKS` maps task names to modules. A task
with several commands is a group: a sub-package (``cli/dical/``, ``cli/h5/``,
``cli/select/``) whose ``__init__`` is the group (``HELP``, ``COMMANDS``,
``add_arguments``, ``run``) and which holds one module per command
(``lofar-hires dical solve`` -> ``lofar_hires.cli.dical.solve``). Command modules
only parse and check their arguments, call the library and print the result.
Every failure ends with a one-line message and the exit status of
:mod:`lofar_hires.errors`: 2 bad input or usage, 3 an external tool failed (worth
a retry), 4 a result failed its quality checks, 1 an internal error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from lofar_hires import __version__
from lofar_hires.environment import use_casarc
from lofar_hires.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, LofarHiresError, exit_status
from lofar_hires.logging_setup import configure_logging
from lofar_hires.provenance import Usage, process_cpu_s, run_tag, usage_line

log = logging.getLogger("lofar_hires.cli")

#: Task name -> module implementing it.
TASKS: dict[str, str] = {
    "simulate": "lofar_hires.cli.simulate",
    "image": "lofar_hires.cli.image",
    "compare-sky": "lofar_hires.cli.compare_sky",
    "h5": "lofar_hires.cli.h5",
    "di-calibrator": "lofar_hires.cli.di_calibrator",
    "di-target": "lofar_hires.cli.di_target",
    "dical": "lofar_hires.cli.dical",
    "select": "lofar_hires.cli.select",
    "facets": "lofar_hires.cli.facets",
    "recipe": "lofar_hires.cli.recipe",
    "selfcal": "lofar_hires.cli.selfcal",
    "apply-solutions": "lofar_hires.cli.apply_solutions",
    "classify": "lofar_hires.cli.classify",
    "classifier": "lofar_hires.cli.classifier",
    "subtract": "lofar_hires.cli.subtract",
    "peel": "lofar_hires.cli.peel",
    "refine": "lofar_hires.cli.refine",
    "secondary": "lofar_hires.cli.secondary",
    "final-image": "lofar_hires.cli.final_image",
    "sva": "lofar_hires.cli.sva",
    "mosaic": "lofar_hires.cli.mosaic",
    "compress": "lofar_hires.cli.compress",
    "calibratability": "lofar_hires.cli.calibratability",
    "run": "lofar_hires.cli.run",
    "project-cost": "lofar_hires.cli.project_cost",
    "report": "lofar_hires.cli.report",
}

class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the full usage is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _logging_options(level: str | None, logfile: Path | None) -> argparse.ArgumentParser:
    """Logging options, accepted before and after the task name (CWL tools put them after).

    The task's copy has no defaults (``SUPPRESS``) so that it does not undo a value
    given before the task name; each parser gets its own copy of the actions.
    """
    common = OneLineErrorParser(add_help=False)
    common.add_argument("--log-level", default=level, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="console log level (default INFO)")
    common.add_argument("--log-file", type=Path, default=logfile,
                        help="also write a DEBUG-level log to this file")
    return common


def task_parents() -> list[argparse.ArgumentParser]:
    """Parents for a task's (or sub-command's) parser: the logging options without defaults."""
    return [_logging_options(argparse.SUPPRESS, argparse.SUPPRESS)]


def add_command_group(parser: argparse.ArgumentParser, commands: dict[str, str], dest: str,
                      metavar: str = "COMMAND") -> None:
    """Sub-commands of a task (``lofar-hires h5 merge``): ``commands`` maps names to modules with
    ``HELP``, ``add_arguments(parser)`` and ``run(args)``; the chosen name is stored in ``dest``."""
    sub = parser.add_subparsers(dest=dest, metavar=metavar)
    sub.required = True
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=task_parents())
        module.add_arguments(cmd)
        cmd.set_defaults(_command_module=module, _parser=cmd)


def run_command_group(args: argparse.Namespace) -> int:
    """Run the sub-command chosen in a group made by :func:`add_command_group`."""
    return int(args._command_module.run(args) or 0)


def command_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed arguments of a command as JSON-compatible values, for its provenance record."""
    values = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    return json.loads(json.dumps(values, default=str))


def option_of(parser: argparse.ArgumentParser | None, setting: str | None) -> str | None:
    """The command-line option (or positional argument) of ``parser`` that sets ``setting``, if any."""
    if parser is None or not setting:
        return None
    for action in parser._actions:
        if action.dest == setting and action.dest != argparse.SUPPRESS:
            if action.option_strings:
                return max(action.option_strings, key=len)
            return action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    return None


def with_option(message: str, exc: LofarHiresError, parser: argparse.ArgumentParser | None) -> str:
    """``message`` naming the option that sets the setting at fault (:attr:`InputError.setting`)."""
    option = option_of(parser, getattr(exc, "setting", None))
    if option is None or option in message:
        return message
    first, newline, rest = message.partition("\n")
    return f"{first} ({option}){newline}{rest}"


#: Options of the ``lofar-hires`` command itself that take a value (skipped when the task name is looked for).
_VALUE_OPTIONS = ("--log-level", "--log-file")


def task_of(argv: Sequence[str]) -> str | None:
    """The task named on a command line (the first word that is not an option or an option's value), if known."""
    words = iter(argv)
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in TASKS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every task; with ``only``, the other tasks' options are left out (each task's options
    import the library modules it needs, which takes seconds for all of them together: a command that runs
    one task starts faster)."""
    parser = OneLineErrorParser(
        prog="lofar-hires",
        description="Deep 0.3-arcsecond wide-field imaging of LOFAR observations.",
        parents=[_logging_options("INFO", None)],
    )
    parser.add_argument("--version", action="version", version=f"lofar-hires {__version__}")
    sub = parser.add_subparsers(dest="task", metavar="TASK")
    sub.required = True
    for name, module_name in TASKS.items():
        module = importlib.import_module(module_name)
        task_parser = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=task_parents())
        if only is None or name == only:
            module.add_arguments(task_parser)
        task_parser.set_defaults(_module=module, _parser=task_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=task_of(words))
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    try:
        configure_logging(args.log_level, args.log_file)
    except OSError as exc:
        sys.stderr.write(f"lofar-hires: error: cannot write the log file {args.log_file}: {exc.strerror}\n")
        return EXIT_BAD_INPUT
    started, cpu0 = time.time(), process_cpu_s()
    status = _run_task(args)
    if status == 0:  # a failure ends with its one-line message
        # The command's cost, for the chain's accounting of SLURM jobs (lofar_hires.provenance.parse_usage).
        log.info("%s", usage_line(Usage(_task_name(words), status, time.time() - started, process_cpu_s() - cpu0,
                                        run_tag(started))))
    return status


def _task_name(words: Sequence[str]) -> str:
    """The task and its command (``dical.solve``) of a command line."""
    task = task_of(words)
    if task is None:
        return "unknown"
    rest = [w for w in words[words.index(task) + 1:] if not w.startswith("-")][:1]
    module = TASKS[task]
    group = importlib.import_module(module) if isinstance(module, str) else module
    commands = getattr(group, "COMMANDS", None) or {}
    return f"{task}.{rest[0]}" if rest and rest[0] in commands else task


def _run_task(args: argparse.Namespace) -> int:
    try:
        use_casarc()  # before python-casacore or EveryBeam first read the measures data
        return int(args._module.run(args) or 0)
    except LofarHiresError as exc:
        message = with_option(str(exc), exc, getattr(args, "_parser", None))
        first, _, rest = message.partition("\n")
        log.error("%s", first)
        if rest:
            log.error("%s", rest)
        return exit_status(exc)
    except KeyboardInterrupt:
        log.error("interrupted; incomplete outputs were removed")
        return 130
    except PermissionError as exc:
        log.error("permission denied: %s", exc.filename or exc)
        log.debug("traceback", exc_info=True)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line for the user, the traceback in the DEBUG log
        log.error("internal error (%s: %s); please report it with the DEBUG log (--log-file)",
                  type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        log.debug("traceback", exc_info=True)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
