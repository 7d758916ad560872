"""Samples per pixel, and the adaptive stop of indoor presets.

A room lit through a window or by a few lamps is far noisier than a sunlit street at the same
spp: most light samples end on a wall instead of the small sky seen through the window
(measured: docs/rendering.md, "Noise per quality"). Indoor presets (``interior``, ``room``) at
``default`` and ``final`` quality therefore render in rounds that double the sample count
until the frame is clean or a cap is reached.

The error estimate is the two-buffer one of Dammertz, Hanika, Keller and Lensch, "A
hierarchical automatic stopping condition for Monte Carlo global illumination" (WSCG 2010):
the samples go alternately into two images A and B of equal count; for the average
I = (A + B) / 2 the per-pixel noise is sigma_I ~ |A - B| / 2 (Var I = E[(A - B)^2] / 4). Per
block of 8 x 8 pixels the robust sigma (1.4826 x the median of |A - B| / 2I) is taken, and the
frame is clean when ``QUANTILE`` % of the blocks are at or below the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
# quality -> (relative noise target, cap as a multiple of the first round's spp)
ADAPTIVE = {"default": (0.05, 8), "final": (0.03, 16)}
BLOCK = 8  # pixels per block side
QUANTILE = 75.0  # % of the blocks that must meet the target
MAD_TO_SIGMA = 1.4826  # sigma of a normal distribution / its median absolute deviation
_GOLDEN = 0x9E3779B1  # seed stride between rounds


@dataclass(frozen=True)
class Sampling:
    spp: int  # the first round (fixed sampling: the only one)
    max_spp: int  # the cap (== spp: fixed sampling)
    noise_target: float | None  # relative per-pixel noise at which to stop

    @property
    def adaptive(self) -> bool:
        return self.noise_target is not None and self.max_spp > self.spp


def sampling_for(spp: int, quality: str, indoor: bool, forced: bool) -> Sampling:
    """Fixed spp, except indoor presets at default/final quality (an explicit ``-O spp=N``
    is always fixed: the user asked for exactly that)."""
    if forced or not indoor or quality not in ADAPTIVE:
        return Sampling(spp, spp, None)
    target, factor = ADAPTIVE[quality]
    first = max(2, spp)
    return Sampling(first, first * factor, target)


def frame_noise(a: np.ndarray, b: np.ndarray) -> float:
    """Relative per-pixel noise of (a + b) / 2 met by ``QUANTILE`` % of the 8x8 blocks."""
    la, lb = a[..., :3] @ LUMA, b[..., :3] @ LUMA
    mean = (la + lb) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mean > 0, np.abs(la - lb) / (2 * mean), np.nan)
    h, w = rel.shape
    hb, wb = max(1, h // BLOCK), max(1, w // BLOCK)
    blocks = rel[:hb * BLOCK, :wb * BLOCK].reshape(hb, min(h, BLOCK), wb, min(w, BLOCK))
    blocks = blocks.transpose(0, 2, 1, 3).reshape(hb * wb, -1)
    lit = np.isfinite(blocks).mean(axis=1) > 0.5  # blocks mostly black carry no estimate
    if not lit.any():
        return 0.0
    sigma = MAD_TO_SIGMA * np.nanmedian(blocks[lit], axis=1)
    return float(np.percentile(sigma, QUANTILE))


def render_image(render: Callable[[int, int], np.ndarray], sampling: Sampling, seed: int
                 ) -> tuple[np.ndarray, int, float | None]:
    """The image, the spp it took and its final noise estimate (None when fixed).

    ``render(spp, seed)`` renders one image. Fixed sampling is a single call with ``seed``
    (bit-identical to a plain render); adaptive sampling doubles the total each round.
    """
    if not sampling.adaptive:
        return render(sampling.spp, seed), sampling.spp, None
    half = max(1, sampling.spp // 2)
    a, b = render(half, seed), render(half, (seed + _GOLDEN) & 0x7FFFFFFF)
    n, k = half, 2
    noise = frame_noise(a, b)
    while noise > float(sampling.noise_target) and 4 * n <= sampling.max_spp:
        a2 = render(n, (seed + k * _GOLDEN) & 0x7FFFFFFF)
        b2 = render(n, (seed + (k + 1) * _GOLDEN) & 0x7FFFFFFF)
        a, b = (a + a2) / 2, (b + b2) / 2  # equal counts: the running means stay unbiased
        n, k = 2 * n, k + 2
        noise = frame_noise(a, b)
    return ((a + b) / 2).astype(np.float32), 2 * n, noise
