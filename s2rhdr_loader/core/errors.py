"""The one user-error base class: one line, a location, what is wrong and how to fix it.

Every error caused by the user's input or environment (a malformed spec, a missing file, a
corrupt EXR, a checkpoint of the wrong model) derives from :class:`S2RError`. The console
scripts print it as ``error: <one line>`` with a non-zero exit status; anything else is a
bug and keeps its traceback.

Standard library only (vendored into the Unreal editor).
"""

from __future__ import annotations


class S2RError(Exception):
    """An error caused by the user's input or environment (not a bug)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return " ".join(text.split())


class DataError(S2RError, ValueError):
    """A data file is missing, truncated or malformed; the message starts with its path.

    Also a ``ValueError``, so callers that validate inputs can catch it as one.
    """


class OptionError(S2RError, ValueError):
    """An option or argument has a value we cannot use (an unknown recipe, bad fractions).

    A ``ValueError`` for API callers, one line for CLI users.
    """
