"""Project exceptions, warnings and the exit status each one ends a command with.

Every error a user can cause subclasses :class:`LofarHiresError` so that the CLI
can turn it into a one-line message and a non-zero exit status. Exceptions that
describe bad input also subclass the matching built-in (``ValueError``,
``FileNotFoundError``) so library callers can catch them the usual way.

Exit status, also declared in every CWL tool so that a workflow
engine retries only what a retry can fix:

====  ==========================================================================
0     success: the outputs exist, are non-empty and finite
1     an unexpected internal error (a bug: please report it with the log file)
2     bad input or usage (:class:`InputError`, :class:`MissingInputError`,
      :class:`OutputExistsError`); never retried
3     an external tool failed (:class:`ToolError`); worth a retry
4     a result failed its quality checks (:class:`QualityError`); not retried
====  ==========================================================================
"""

from __future__ import annotations


class LofarHiresError(Exception):
    """Base class of all errors raised on purpose by lofar-hires.

    ``setting`` names the setting at fault (a library function's argument or a
    configuration key), if one is; the command line adds the option that sets it.
    """

    setting: str | None = None

    def __init__(self, message: str = "", *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class InputError(LofarHiresError, ValueError):
    """Bad user input: an option, a configuration value or an input product."""


class MissingInputError(LofarHiresError, FileNotFoundError):
    """An input file or directory that should exist does not."""


class OutputExistsError(LofarHiresError, FileExistsError):
    """An output already exists and ``overwrite`` was not requested."""


class ToolError(LofarHiresError, RuntimeError):
    """An external program (DP3, WSClean, ...) failed.

    Parameters
    ----------
    message
        What failed.
    log_tail
        The last lines the tool wrote, shown to the user.
    """

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail

    def __str__(self) -> str:
        base = super().__str__()
        if not self.log_tail:
            return base
        return f"{base}\n--- last lines of the tool's log ---\n{self.log_tail}"


class MissingToolError(ToolError):
    """An external program is not installed or not on ``PATH``."""


class QualityError(LofarHiresError, RuntimeError):
    """A result was produced but failed its quality checks (non-finite values, a fit that ended on
    its search bound, stations without solutions, a model that does not match the data).

    A retry with the same input cannot help; the message says what to change.
    """


class LofarHiresWarning(UserWarning):
    """Warnings issued by lofar-hires (suspicious but usable input)."""


#: Exit status of a command that succeeded.
EXIT_OK = 0
#: Exit status of an unexpected internal error.
EXIT_INTERNAL = 1
#: Exit status of bad input or usage (never worth a retry).
EXIT_BAD_INPUT = 2
#: Exit status of a failed external tool (worth a retry).
EXIT_TOOL_FAILED = 3
#: Exit status of a result that failed its quality checks.
EXIT_QUALITY = 4


def exit_status(exc: BaseException) -> int:
    """The exit status a command ends with when ``exc`` stops it (see the module description)."""
    if isinstance(exc, (InputError, MissingInputError, OutputExistsError)):
        return EXIT_BAD_INPUT
    if isinstance(exc, ToolError):
        return EXIT_TOOL_FAILED
    if isinstance(exc, QualityError):
        return EXIT_QUALITY
    return EXIT_INTERNAL
