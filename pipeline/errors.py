"""User-facing errors of the pipeline: specs that do not parse, shots that do not render.

Both derive from the one user-error base class, :class:`S2RError` (owned by the torch-free
core, ``s2rhdr_loader.core.errors``): the CLI prints it as ``error: <message>`` on stderr with
a non-zero exit status instead of a traceback.
"""

from __future__ import annotations

from s2rhdr_loader.core.errors import S2RError

__all__ = ["RenderError", "S2RError", "SpecError"]


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
