"""Progress bars for renders, statistics, caches and training: a thin layer over ``tqdm``.

Why a layer at all: every tool wants the same behaviour -- stderr, a short line every few
seconds when stderr is not a terminal (CI logs stay short), a note after the counts (the
shot or the loss), and a correct ETA when a run resumes part way (``initial``: the rate is
measured on the work done in this run, not on the steps a previous run did).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

from tqdm import tqdm

T = TypeVar("T")
_FORMAT = "{desc} [{bar:24}] {n_fmt}/{total_fmt} {percentage:5.1f}% elapsed {elapsed} " \
          "eta {remaining}"


class Progress:
    """``with Progress(total, "render") as bar: bar.update(1, note="scene_a")``.

    ``initial`` is work already done before this run (a resumed training run): the bar
    starts there and the ETA uses only this run's rate.
    """

    def __init__(self, total: int, label: str = "", *, stream: IO[str] | None = None,
                 enabled: bool = True, min_interval: float | None = None, initial: int = 0):
        self.stream = stream or sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        interval = min_interval if min_interval is not None else (0.1 if tty else 5.0)
        # not a terminal: one line per refresh instead of carriage-return redraws
        out = self.stream if tty else _Lines(self.stream)
        self._bar = tqdm(total=max(int(total), 0), desc=label, initial=int(initial),
                         file=out, disable=not enabled, ascii=" #",
                         mininterval=interval, miniters=1, dynamic_ncols=tty,
                         bar_format=_FORMAT, leave=True)

    @property
    def done(self) -> int:
        return int(self._bar.n)

    @property
    def total(self) -> int:
        return int(self._bar.total or 0)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, note: str | None = None) -> None:
        if note is not None:  # after the counts, braces escaped for tqdm's format string
            self._bar.bar_format = f"{_FORMAT} " + note.replace("{", "{{").replace("}", "}}")
        self._bar.update(n)
        if self.done >= self.total:
            self._bar.refresh()

    def set_total(self, total: int) -> None:
        """Change the amount of work (a batch learns that another one renders some shots)."""
        self._bar.total = max(int(total), 0)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


class _Lines:
    """A file wrapper for tqdm that turns each carriage-return redraw into one full line."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self._last = ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line and line != self._last:
            self.stream.write(line + "\n")
            self._last = line

    def flush(self) -> None:
        self.stream.flush()


def track(items: Iterable[T], total: int, label: str = "", enabled: bool = True) -> Iterator[T]:
    """Iterate with a progress bar."""
    with Progress(total, label, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)
