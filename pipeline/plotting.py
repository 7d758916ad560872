"""Small PNG plots drawn with numpy + cv2 (matplotlib is not a dependency).

Enough for a dataset card: axes with ticks and labels, linear or log x, line plots
(histograms), scatter, box plots, bars, and a contact sheet of thumbnails. Every function
returns PNG bytes; colours are fixed per series index so datasets keep their colour across
plots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Colour-blind-friendly palette (Okabe-Ito), BGR for cv2.
PALETTE = ((178, 114, 0), (0, 159, 230), (115, 158, 0), (167, 121, 204), (0, 94, 213),
           (233, 180, 86), (66, 228, 240), (0, 0, 0))
FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX
INK = (40, 40, 40)
GRID = (225, 225, 225)


def colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round-number ticks (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


def fmt_tick(v: float, log: bool = False) -> str:
    if log:
        e = int(round(math.log10(v)))
        return "1" if e == 0 else f"1e{e}"
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.0e}"
    return f"{v:g}"


class Canvas:
    """A white uint8 BGR image with text helpers."""

    def __init__(self, width: int = 640, height: int = 400):
        self.img = np.full((height, width, 3), 255, dtype=np.uint8)

    @property
    def size(self) -> tuple[int, int]:
        return self.img.shape[1], self.img.shape[0]

    def text(self, s: str, x: int, y: int, scale: float = 0.4, color=INK, align: str = "left",
             thickness: int = 1) -> None:
        import cv2

        (w, h), _ = cv2.getTextSize(s, FONT, scale, thickness)
        if align == "center":
            x -= w // 2
        elif align == "right":
            x -= w
        cv2.putText(self.img, s, (int(x), int(y + h // 2)), FONT, scale, color, thickness,
                    cv2.LINE_AA)

    def vtext(self, s: str, x: int, y: int, scale: float = 0.4) -> None:
        """Text rotated 90 degrees (y-axis labels), centred on (x, y)."""
        import cv2

        (w, h), base = cv2.getTextSize(s, FONT, scale, 1)
        tile = np.full((h + base + 4, w + 4, 3), 255, dtype=np.uint8)
        cv2.putText(tile, s, (2, h + 2), FONT, scale, INK, 1, cv2.LINE_AA)
        tile = cv2.rotate(tile, cv2.ROTATE_90_COUNTERCLOCKWISE)
        th, tw = tile.shape[:2]
        x0, y0 = max(int(x - tw / 2), 0), max(int(y - th / 2), 0)
        th, tw = min(th, self.img.shape[0] - y0), min(tw, self.img.shape[1] - x0)
        self.img[y0:y0 + th, x0:x0 + tw] = np.minimum(self.img[y0:y0 + th, x0:x0 + tw],
                                                      tile[:th, :tw])

    def png(self) -> bytes:
        import cv2

        ok, buf = cv2.imencode(".png", self.img)
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return buf.tobytes()


@dataclass
class Axes:
    """A plot area inside a canvas mapping data coordinates to pixels."""

    canvas: Canvas
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    xlog: bool = False
    left: int = 64
    right: int = 16
    top: int = 34
    bottom: int = 46

    def __post_init__(self) -> None:
        w, h = self.canvas.size
        self.x0, self.x1 = self.left, w - self.right
        self.y0, self.y1 = self.top, h - self.bottom

    def _fx(self, x: float) -> float:
        return math.log10(x) if self.xlog else x

    def px(self, x: float) -> int:
        a, b = self._fx(self.xlim[0]), self._fx(self.xlim[1])
        return int(round(self.x0 + (self._fx(x) - a) / (b - a or 1.0) * (self.x1 - self.x0)))

    def py(self, y: float) -> int:
        a, b = self.ylim
        return int(round(self.y1 - (y - a) / (b - a or 1.0) * (self.y1 - self.y0)))

    def frame(self, title: str = "", xlabel: str = "", ylabel: str = "",
              xticks: bool = True) -> None:
        import cv2

        c = self.canvas
        if xticks:
            if self.xlog:
                lo, hi = math.floor(math.log10(self.xlim[0])), math.ceil(math.log10(self.xlim[1]))
                step = max(1, (hi - lo) // 8)
                xt = [10.0 ** e for e in range(lo, hi + 1, step)]
            else:
                xt = nice_ticks(*self.xlim)
            for v in xt:
                if not self.xlim[0] <= v <= self.xlim[1]:
                    continue
                x = self.px(v)
                cv2.line(c.img, (x, self.y0), (x, self.y1), GRID, 1)
                cv2.line(c.img, (x, self.y1), (x, self.y1 + 4), INK, 1)
                c.text(fmt_tick(v, self.xlog), x, self.y1 + 12, 0.35, align="center")
        for v in nice_ticks(*self.ylim):
            if not self.ylim[0] <= v <= self.ylim[1]:
                continue
            y = self.py(v)
            cv2.line(c.img, (self.x0, y), (self.x1, y), GRID, 1)
            cv2.line(c.img, (self.x0 - 4, y), (self.x0, y), INK, 1)
            c.text(fmt_tick(v), self.x0 - 6, y, 0.35, align="right")
        cv2.rectangle(c.img, (self.x0, self.y0), (self.x1, self.y1), INK, 1)
        if title:
            c.text(title, (self.x0 + self.x1) // 2, 14, 0.5, align="center")
        if xlabel:
            c.text(xlabel, (self.x0 + self.x1) // 2, self.y1 + 32, 0.4, align="center")
        if ylabel:
            c.vtext(ylabel, 12, (self.y0 + self.y1) // 2)

    def legend(self, labels: Sequence[str]) -> None:
        import cv2

        y = self.y0 + 10
        for i, lab in enumerate(labels):
            x = self.x1 - 150
            cv2.rectangle(self.canvas.img, (x, y - 4), (x + 14, y + 4), colour(i), -1)
            self.canvas.text(lab[:22], x + 20, y, 0.38)
            y += 16


def _limits(values: Sequence[float], pad: float = 0.05, log: bool = False
            ) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if log:
        v = v[v > 0]
    if v.size == 0:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    if log:
        return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi) + 1e-9)
    if hi == lo:
        lo, hi = lo - 0.5 - abs(lo) * 0.1, hi + 0.5 + abs(hi) * 0.1
    span = hi - lo
    return lo - pad * span, hi + pad * span


def line_plot(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *,
              title: str = "", xlabel: str = "", ylabel: str = "", xlog: bool = False,
              size: tuple[int, int] = (640, 380), ymin: float | None = None) -> bytes:
    """Lines, one per (label, xs, ys); ``xlog`` for log-x histograms."""
    import cv2

    c = Canvas(*size)
    xs_all = [x for _, xs, _ in series for x in xs]
    ys_all = [y for _, _, ys in series for y in ys]
    ylim = _limits(ys_all)
    if ymin is not None:
        ylim = (ymin, max(ylim[1], ymin + 1e-12))
    ax = Axes(c, _limits(xs_all, 0.0, log=xlog), ylim, xlog=xlog)
    ax.frame(title, xlabel, ylabel)
    for i, (_, xs, ys) in enumerate(series):
        pts = [(ax.px(x), ax.py(y)) for x, y in zip(xs, ys)
               if math.isfinite(y) and (x > 0 or not xlog)]
        if len(pts) >= 2:
            cv2.polylines(c.img, [np.array(pts, dtype=np.int32)], False, colour(i), 2,
                          cv2.LINE_AA)
    ax.legend([lab for lab, _, _ in series])
    return c.png()


def scatter_plot(groups: Sequence[tuple[str, Sequence[float], Sequence[float]]], *,
                 title: str = "", xlabel: str = "", ylabel: str = "",
                 size: tuple[int, int] = (640, 380)) -> bytes:
    """Points per group (one colour each)."""
    import cv2

    c = Canvas(*size)
    ax = Axes(c, _limits([x for _, xs, _ in groups for x in xs]),
              _limits([y for _, _, ys in groups for y in ys]))
    ax.frame(title, xlabel, ylabel)
    for i, (_, xs, ys) in enumerate(groups):
        for x, y in zip(xs, ys):
            if x is not None and y is not None and math.isfinite(x) and math.isfinite(y):
                cv2.circle(c.img, (ax.px(x), ax.py(y)), 3, colour(i), -1, cv2.LINE_AA)
    ax.legend([lab for lab, _, _ in groups])
    return c.png()


def box_plot(groups: Sequence[tuple[str, Sequence[float]]], *, title: str = "",
             ylabel: str = "", size: tuple[int, int] = (640, 380)) -> bytes:
    """Box (quartiles), median line, whiskers at 1.5 IQR, outliers as dots, per group."""
    import cv2

    c = Canvas(*size)
    clean = [(lab, np.asarray([v for v in vals if v is not None and math.isfinite(v)],
                              dtype=np.float64)) for lab, vals in groups]
    ax = Axes(c, (0.0, float(max(len(clean), 1))),
              _limits([v for _, a in clean for v in a.tolist()]))
    ax.frame(title, "", ylabel, xticks=False)
    half = max(6, int((ax.x1 - ax.x0) / max(len(clean), 1) * 0.25))
    for i, (lab, a) in enumerate(clean):
        cx = ax.px(i + 0.5)
        c.text(lab[:18], cx, ax.y1 + 12, 0.38, align="center")
        c.text(f"n={a.size}", cx, ax.y1 + 26, 0.33, align="center")
        if a.size == 0:
            continue
        q1, med, q3 = np.percentile(a, (25, 50, 75))
        iqr = q3 - q1
        lo = float(a[a >= q1 - 1.5 * iqr].min())
        hi = float(a[a <= q3 + 1.5 * iqr].max())
        col = colour(i)
        cv2.line(c.img, (cx, ax.py(lo)), (cx, ax.py(q1)), INK, 1)
        cv2.line(c.img, (cx, ax.py(q3)), (cx, ax.py(hi)), INK, 1)
        for y in (lo, hi):
            cv2.line(c.img, (cx - half // 2, ax.py(y)), (cx + half // 2, ax.py(y)), INK, 1)
        cv2.rectangle(c.img, (cx - half, ax.py(q3)), (cx + half, ax.py(q1)), col, -1)
        cv2.rectangle(c.img, (cx - half, ax.py(q3)), (cx + half, ax.py(q1)), INK, 1)
        cv2.line(c.img, (cx - half, ax.py(med)), (cx + half, ax.py(med)), (255, 255, 255), 2)
        for v in a[(a < lo) | (a > hi)]:
            cv2.circle(c.img, (cx, ax.py(float(v))), 2, INK, -1, cv2.LINE_AA)
    return c.png()


def bar_plot(labels: Sequence[str], values: Sequence[float], *, title: str = "",
             ylabel: str = "", size: tuple[int, int] = (640, 380)) -> bytes:
    """One bar per label, value printed on top."""
    import cv2

    c = Canvas(*size)
    vals = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
    top = max(vals + [0.0])
    ax = Axes(c, (0.0, float(max(len(vals), 1))), (min(vals + [0.0]), top * 1.12 or 1.0))
    ax.frame(title, "", ylabel, xticks=False)
    half = max(6, int((ax.x1 - ax.x0) / max(len(vals), 1) * 0.3))
    for i, (lab, v) in enumerate(zip(labels, vals)):
        cx = ax.px(i + 0.5)
        cv2.rectangle(c.img, (cx - half, ax.py(v)), (cx + half, ax.py(0.0)), colour(i), -1)
        c.text(f"{v:.3g}", cx, ax.py(v) - 8, 0.35, align="center")
        c.text(lab[:18], cx, ax.y1 + 12, 0.38, align="center")
    return c.png()


def contact_sheet(tiles: Sequence[tuple[str, np.ndarray]], *, cols: int = 6,
                  tile_width: int = 192, title: str = "") -> bytes:
    """Grid of BGR uint8 thumbnails with a caption under each."""
    import cv2

    if not tiles:
        c = Canvas(tile_width * 2, 60)
        c.text("no thumbnails", tile_width, 30, 0.5, align="center")
        return c.png()
    cols = max(1, min(cols, len(tiles)))
    resized = []
    for lab, img in tiles:
        h, w = img.shape[:2]
        th = max(1, int(round(h * tile_width / max(w, 1))))
        resized.append((lab, cv2.resize(img, (tile_width, th), interpolation=cv2.INTER_AREA)))
    cell_h = max(im.shape[0] for _, im in resized) + 22
    head = 26 if title else 0
    rows = math.ceil(len(resized) / cols)
    c = Canvas(cols * (tile_width + 8) + 8, head + rows * (cell_h + 8) + 8)
    if title:
        c.text(title, c.size[0] // 2, 13, 0.5, align="center")
    for k, (lab, im) in enumerate(resized):
        r, q = divmod(k, cols)
        x, y = 8 + q * (tile_width + 8), head + 8 + r * (cell_h + 8)
        c.img[y:y + im.shape[0], x:x + tile_width] = im
        c.text(lab[:28], x + tile_width // 2, y + im.shape[0] + 10, 0.38, align="center")
    return c.png()
