"""Run a click group as a console script: one-line errors and exit statuses, no tracebacks.

Shared by ``s2rhdr-render``, ``s2rhdr-loader`` and ``s2rhdr-train`` so the three tools report
bad input the same way (``error: <one line>``, status 2 unless the error carries its own).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from s2rhdr_loader.core.errors import S2RError


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if hasattr(exc, "one_line") else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def run_click(group: click.Group, argv: list[str] | None, prog_name: str,
              interrupted: str = "interrupted") -> None:
    """``group.main`` without click's own exit handling.

    Only :class:`S2RError` (the user-error base class) becomes one line; any other exception
    is a bug and keeps its traceback.
    """
    try:
        rv: Any = group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except S2RError as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(interrupted, err=True)
        sys.exit(130)
    if isinstance(rv, int) and rv:  # a command's ctx.exit(N) comes back as a return value
        sys.exit(rv)
