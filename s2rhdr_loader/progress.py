"""A dependency-free progress bar with ETA, shared by the renderer, pipeline and loader tools.

It writes to stderr, redraws in place on a terminal and prints at most one line every few
seconds otherwise (CI logs stay short).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")


def _fmt_s(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``with Progress(total, "render") as bar: bar.update(1, note="scene_a")``."""

    def __init__(self, total: int, label: str = "", *, stream: IO[str] | None = None,
                 enabled: bool = True, min_interval: float | None = None):
        self.total = max(int(total), 0)
        self.label = label
        self.done = 0
        self.note = ""
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval if min_interval is not None else (
            0.1 if self.tty else 5.0)
        self.start = time.monotonic()
        self._last = 0.0

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._draw(force=True)
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def update(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        self._draw()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        frac = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        text = (f"{self.label} [{bar}] {self.done}/{self.total} {frac * 100:5.1f}% "
                f"elapsed {_fmt_s(elapsed)} eta {_fmt_s(eta) if self.done else '--:--'}")
        return f"{text} {self.note}".rstrip()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.min_interval and self.done < self.total:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()


def track(items: Iterable[T], total: int, label: str = "", enabled: bool = True) -> Iterator[T]:
    """Iterate with a progress bar."""
    with Progress(total, label, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)
