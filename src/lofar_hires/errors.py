"""Project exceptions and warnings.

Every error a user can cause subclasses :class:`LofarHiresError` so that the CLI
can turn it into a one-line message and a non-zero exit status. Exceptions that
describe bad input also subclass the matching built-in (``ValueError``,
``FileNotFoundError``) so library callers can catch them the usual way.
"""

from __future__ import annotations


class LofarHiresError(Exception):
    """Base class of all errors raised on purpose by lofar-hires."""


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


class LofarHiresWarning(UserWarning):
    """Warnings issued by lofar-hires (suspicious but usable input)."""
