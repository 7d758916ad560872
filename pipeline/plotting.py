"""The dataset card's plots, drawn with matplotlib (Agg, no pyplot state, imported lazily).

Line plots (histograms), scatter, box plots, bars, grouped bars (paper rows vs ours) and a
contact sheet of thumbnails. Every function returns PNG bytes of ``size`` pixels; colours
are fixed per series index (Okabe-Ito, colour-blind safe) so datasets keep their colour
across plots. ``import pipeline.plotting`` costs nothing: matplotlib loads on the first plot.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# Okabe & Ito, "Color Universal Design" (2008): distinguishable under colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442",
           "#000000")
PAPER_GREY = "#9a9a9a"
DPI = 100


def colour(i: int) -> str:
    """Hex colour of series ``i``."""
    return PALETTE[i % len(PALETTE)]


def colour_rgb(i: int) -> tuple[int, int, int]:
    """Series colour ``i`` as 8-bit RGB."""
    h = colour(i).lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _figure(size: tuple[int, int], nrows: int = 1, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _style(ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)


def line_plot(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *,
              title: str = "", xlabel: str = "", ylabel: str = "", xlog: bool = False,
              ymin: float | None = None, size: tuple[int, int] = (640, 380)) -> bytes:
    """One line per (label, xs, ys)."""
    fig, axes = _figure(size)
    ax = axes[0, 0]
    for i, (label, xs, ys) in enumerate(series):
        ax.plot(list(xs), list(ys), color=colour(i), linewidth=2.0, label=label)
    if xlog:
        ax.set_xscale("log")
    if ymin is not None:
        ax.set_ylim(bottom=ymin)
    _style(ax, title, xlabel, ylabel)
    if series:
        ax.legend(fontsize=8, frameon=False)
    return _png(fig)


def scatter_plot(groups: Sequence[tuple[str, Sequence[float | None], Sequence[float | None]]],
                 *, title: str = "", xlabel: str = "", ylabel: str = "",
                 size: tuple[int, int] = (640, 380)) -> bytes:
    """One colour per (label, xs, ys); pairs with a missing value are left out."""
    fig, axes = _figure(size)
    ax = axes[0, 0]
    for i, (label, xs, ys) in enumerate(groups):
        pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None
               and math.isfinite(x) and math.isfinite(y)]
        if pts:
            ax.scatter(*zip(*pts), s=28, color=colour(i), label=label, edgecolors="none")
    _style(ax, title, xlabel, ylabel)
    if any(len(xs) for _, xs, _ in groups):
        ax.legend(fontsize=8, frameon=False)
    return _png(fig)


def box_plot(groups: Sequence[tuple[str, Sequence[float | None]]], *, title: str = "",
             ylabel: str = "", size: tuple[int, int] = (640, 380)) -> bytes:
    """One box (quartiles, 1.5 IQR whiskers, outliers) per (label, values)."""
    fig, axes = _figure(size)
    ax = axes[0, 0]
    data = [_finite(v) for _, v in groups]
    pos = [i + 1 for i, d in enumerate(data) if d]
    if pos:
        parts = ax.boxplot([d for d in data if d], positions=pos, widths=0.5, patch_artist=True,
                           medianprops={"color": "black"})
        for patch, p in zip(parts["boxes"], pos):
            patch.set_facecolor(colour(p - 1))
    ax.set_xticks(range(1, len(groups) + 1), [g[0][:18] for g in groups])
    for i, d in enumerate(data):
        if not d:
            ax.text(i + 1, 0.5, "no data", ha="center", transform=ax.get_xaxis_transform(),
                    fontsize=8, color="#666")
    _style(ax, title, "", ylabel)
    return _png(fig)


def bar_plot(labels: Sequence[str], values: Sequence[float | None], *, title: str = "",
             ylabel: str = "", size: tuple[int, int] = (640, 380)) -> bytes:
    """One bar per label, its value written on top."""
    fig, axes = _figure(size)
    ax = axes[0, 0]
    vals = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
    bars = ax.bar(range(len(vals)), vals, color=[colour(i) for i in range(len(vals))])
    ax.bar_label(bars, labels=[f"{v:.3g}" if v is not None else "-" for v in values],
                 fontsize=8)
    ax.set_xticks(range(len(vals)), [lab[:18] for lab in labels])
    _style(ax, title, "", ylabel)
    return _png(fig)


def grouped_bars(metrics: Sequence[str], rows: Sequence[tuple[str, bool, Sequence[float | None]]],
                 *, title: str = "", size: tuple[int, int] = (900, 300)) -> bytes:
    """One panel per metric, one bar per row (label, is_ours, values by metric): the
    paper's published rows in grey, ours in series colours."""
    fig, axes = _figure(size, 1, len(metrics))
    ours = 0
    cols = []
    for _, is_ours, _ in rows:
        cols.append(colour(ours) if is_ours else PAPER_GREY)
        ours += bool(is_ours)
    for j, metric in enumerate(metrics):
        ax = axes[0, j]
        vals = [r[2][j] for r in rows]
        heights = [v if v is not None and math.isfinite(v) else 0.0 for v in vals]
        bars = ax.bar(range(len(rows)), heights, color=cols)
        ax.bar_label(bars, labels=[f"{v:.3g}" if v is not None else "-" for v in vals],
                     fontsize=7)
        ax.set_xticks(range(len(rows)), [r[0][:12] for r in rows], rotation=60, ha="right")
        _style(ax, metric, "", "")
    if title:
        fig.suptitle(title, fontsize=10)
    return _png(fig)


def contact_sheet(tiles: Sequence[tuple[str, np.ndarray]], *, cols: int = 6,
                  tile_width: int = 192, title: str = "") -> bytes:
    """Grid of RGB uint8 thumbnails with a caption above each."""
    if not tiles:
        fig, axes = _figure((2 * tile_width, 80))
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no thumbnails", ha="center", va="center")
        return _png(fig)
    cols = max(1, min(cols, len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    aspect = max(t.shape[0] / max(t.shape[1], 1) for _, t in tiles)
    cell_h = tile_width * aspect + 22
    fig, axes = _figure((cols * (tile_width + 8), int(rows * cell_h + (28 if title else 8))),
                        rows, cols)
    for k in range(rows * cols):
        ax = axes[divmod(k, cols)]
        ax.axis("off")
        if k < len(tiles):
            label, img = tiles[k]
            ax.imshow(img, interpolation="antialiased")
            ax.set_title(label[:28], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return _png(fig)
