"""User-facing errors: one line, a location, what is wrong and how to fix it.

The CLI turns any :class:`S2RError` into ``error: <message>`` on stderr and a non-zero exit
status instead of a traceback.
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


class SpecError(S2RError):
    """A scene spec is malformed; the message starts with ``file:line:column:``."""

    def __init__(self, path: str, line: int | None, column: int | None, message: str,
                 *, hint: str | None = None):
        self.path, self.line, self.column = path, line, column
        loc = str(path)
        if line is not None:
            loc += f":{line}"
            if column is not None:
                loc += f":{column}"
        super().__init__(f"{loc}: {message}", hint=hint)


class RenderError(S2RError):
    """A backend could not render a shot (missing renderer, crashed engine, bad output)."""

    exit_code = 1
