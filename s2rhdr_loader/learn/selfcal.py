"""Test-time radiometric self-calibration: a camera's response from its own exposure bracket.

Why: the fusion nets are trained on inputs linearised as ``LDR ** 2.2`` (renders go through an
exact gamma 2.2). A real camera's response is not that curve (sRGB, filmic tone curves,
vendor looks), and no label-free consistency objective can see the difference, because every
augmentation of the input is built with the same assumed curve. The bracket itself does see
it: a static, well-exposed point observed at exposures ``t_a < t_b`` satisfies
``g(L_b) = (t_b / t_a) g(L_a)`` for the inverse response ``g``, which pins ``g`` down once the
ratios are known (Mitsunaga & Nayar, "Radiometric self calibration", CVPR 1999; Debevec &
Malik, SIGGRAPH 1997).

``estimate_inverse_response`` fits a piecewise-linear ``g`` (``g(0) = 0``, ``g(1) = 1``: the
sensor's clip point) to those ratio equations, written for matched *quantiles* of two frames
rather than pixel pairs (camera shake and moving objects break pixel pairs), plus clip-point
anchors that fix the scale, a smoothness penalty (Debevec & Malik's), a weak pull towards the
gamma-2.2 curve and Huber reweighting; the result is made monotone (running maximum) and falls
back to gamma 2.2 when the bracket has too few usable levels. ``recalibrate`` rewrites a
sample's inputs as if the camera had been gamma 2.2: ``L' = g(L) ** (1/2.2)``, ``g(L) / t``.
Defaults (``anchor=100``, ``smooth=3``) were chosen on a validation draw of the study's target
(yaw 0-180 of every panorama, seed 20000), not on its test images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

GAMMA = 2.2


def knots(count: int = 40) -> np.ndarray:
    """Knot positions on [0, 1], denser towards 1 where tone curves put their shoulder."""
    u = np.linspace(0.0, 1.0, count)
    return 1.0 - (1.0 - u) ** 2


def _hat(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation weights (..., K) of ``x`` on knots ``k``."""
    x = np.clip(x, 0.0, 1.0)
    j = np.clip(np.searchsorted(k, x, side="right") - 1, 0, len(k) - 2)
    t = (x - k[j]) / (k[j + 1] - k[j])
    out = np.zeros((*x.shape, len(k)))
    np.put_along_axis(out, j[..., None], (1 - t)[..., None], axis=-1)
    np.put_along_axis(out, (j + 1)[..., None], t[..., None], axis=-1)
    return out


@dataclass(frozen=True)
class Response:
    """An inverse camera response, piecewise linear through ``values`` at ``knots()``
    (``g(0) = 0``, ``g(1) = 1``); ``fallback`` when the fit was rejected (then ``g`` is the
    gamma-2.2 curve)."""

    values: tuple[float, ...]
    fallback: bool = False
    pairs: int = 0

    def __call__(self, ldr: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(ldr, np.float64), 0.0, 1.0)
        if self.fallback:
            return x ** GAMMA
        k = knots(len(self.values))
        return np.interp(x, k, np.asarray(self.values))


def _pairs(ldr: np.ndarray, exps: np.ndarray, lo: float, hi: float, levels: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L_a, L_b, ratio): matched quantiles of frames a < b, per channel, where both are well
    exposed. Under an exposure change the radiance histogram stays the same, so the q-th
    quantiles of two frames show the same radiance (the brightness transfer function;
    Grossberg & Nayar, "What is knowable?", PAMI 2003): unlike pixel pairs this survives
    camera shake and moving objects, and it averages noise."""
    q = np.linspace(0.0, 1.0, levels + 2)[1:-1]
    la_all, lb_all, r_all = [], [], []
    order = np.argsort(exps)
    chans = ldr.reshape(ldr.shape[0], ldr.shape[1], -1)          # (F, C, pixels)
    for c in range(chans.shape[1]):
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                a, b = order[i], order[j]
                la = np.quantile(chans[a, c], q)
                lb = np.quantile(chans[b, c], q)
                ok = (la > lo) & (la < hi) & (lb > lo) & (lb < hi)
                la_all.append(la[ok])
                lb_all.append(lb[ok])
                r_all.append(np.full(int(ok.sum()), exps[b] / exps[a]))
    return np.concatenate(la_all), np.concatenate(lb_all), np.concatenate(r_all)


def _anchors(ldr: np.ndarray, exps: np.ndarray, lo: float, hi: float, min_fraction: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """(L_a, g value) where the longer frame b clips: the fraction p of pixels at the clip
    level (the bracket's largest code) in b have radiance >= 1 / t_b, so the (1 - p) quantile
    of the shorter frame a sits at g = t_a / t_b exactly. This fixes the scale of ``g``
    however steep the tone curve's shoulder (ratio equations alone leave it free: ``a * g``
    satisfies them too)."""
    order = np.argsort(exps)
    chans = ldr.reshape(ldr.shape[0], ldr.shape[1], -1)
    clipped = float(chans.max()) - 1e-7
    ls, vs = [], []
    for c in range(chans.shape[1]):
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                a, b = order[i], order[j]
                p = float(np.mean(chans[b, c] >= clipped))
                if p < min_fraction:
                    continue
                la = float(np.quantile(chans[a, c], 1.0 - p))
                if lo < la < hi:
                    ls.append(la)
                    vs.append(exps[a] / exps[b])
    return np.asarray(ls), np.asarray(vs)


def estimate_inverse_response(ldr: np.ndarray, exps: np.ndarray, count: int = 40,
                              lo: float = 0.01, hi: float = 0.98, smooth: float = 3.0,
                              prior: float = 1e-3, levels: int = 256, min_pairs: int = 30,
                              anchor: float = 100.0, min_clipped: float = 0.002,
                              min_levels: int = 20, iters: int = 4) -> Response:
    """Fit the inverse response to an exposure bracket ``ldr`` (frames, channels, H, W; values
    in [0, 1]) with exposure times ``exps`` (only their ratios matter); one curve for all
    channels.

    Unknowns: ``g`` at the inner knots. Rows: ``g(L_b) - R g(L_a) = 0`` per quantile pair (in
    units of the shorter frame, Huber-reweighted), clip-point anchors ``g(L_a) = t_a / t_b``
    (weight ``anchor`` pairs each), ``smooth`` x second differences of ``g`` (per unit of knot
    spacing) and ``prior`` x (g - L^2.2) at the knots.
    """
    ldr = np.asarray(ldr, np.float64)
    exps = np.asarray(exps, np.float64)
    la, lb, ratio = _pairs(ldr, exps, lo, hi, levels)
    distinct = np.unique(np.round(np.concatenate([la, lb]), 3)).size
    if la.size < min_pairs or distinct < min_levels:   # flat or nearly black/white brackets
        return Response((), fallback=True, pairs=int(la.size))
    k = knots(count)
    full = (_hat(lb, k) - ratio[:, None] * _hat(la, k)) / ratio[:, None]
    rows, rhs = full[:, 1:-1], -full[:, -1]          # g(0) = 0, g(1) = 1 moved to the rhs
    n = float(la.size)
    d2 = np.zeros((count - 2, count))
    for i in range(1, count - 1):
        h0, h1 = k[i] - k[i - 1], k[i + 1] - k[i]
        d2[i - 1, i - 1:i + 2] = np.array([1 / h0, -(1 / h0 + 1 / h1), 1 / h1]) * (h0 + h1) / 2
    reg = np.concatenate([d2 * np.sqrt(smooth * n / count),
                          np.eye(count) * np.sqrt(prior * n / count)])
    reg_rhs = np.concatenate([np.zeros(count - 2), k ** GAMMA * np.sqrt(prior * n / count)])
    reg_rows, reg_rhs = reg[:, 1:-1], reg_rhs - reg[:, -1]
    al, av = _anchors(ldr, exps, lo, hi, min_clipped)
    if al.size:
        ha = _hat(al, k) * np.sqrt(anchor)
        reg_rows = np.concatenate([reg_rows, ha[:, 1:-1]])
        reg_rhs = np.concatenate([reg_rhs, av * np.sqrt(anchor) - ha[:, -1]])
    w = np.ones_like(la)
    values = None
    for _ in range(iters):
        sw = np.sqrt(w)
        sol, *_ = np.linalg.lstsq(np.concatenate([rows * sw[:, None], reg_rows]),
                                  np.concatenate([rhs * sw, reg_rhs]), rcond=None)
        values = np.concatenate([[0.0], sol, [1.0]])
        res = np.abs(rows @ sol - rhs)
        delta = 1.5 * max(float(np.median(res)), 1e-5)
        w = np.where(res <= delta, 1.0, delta / np.maximum(res, 1e-12))
    assert values is not None
    values = np.clip(np.maximum.accumulate(values), 0.0, 1.0)   # a response is monotone
    values[-1] = 1.0
    return Response(tuple(map(float, values)), pairs=int(la.size))


def recalibrate(sample: Mapping[str, torch.Tensor], response: Response | None = None,
                **fit: float) -> tuple[dict[str, torch.Tensor], Response]:
    """Inputs rewritten through the estimated (or given) response, for one sample (no batch
    dimension) or a batch of one; other keys are passed through."""
    frames = [sample[f"input{i}"] for i in range(3)]
    batched = frames[0].dim() == 4
    ldr = torch.stack([f[0] if batched else f for f in frames])[:, 3:].double().numpy()
    exps = (sample["exp"][0] if batched else sample["exp"]).double().numpy()
    if response is None:
        response = estimate_inverse_response(ldr, exps, **fit)   # type: ignore[arg-type]
    out = dict(sample)
    for i in range(3):
        lin = np.maximum(response(ldr[i]), 0.0)
        enc = lin ** (1 / GAMMA)
        new = np.concatenate([lin / (exps[i] + 1e-8), enc]).astype(np.float32)
        t = torch.from_numpy(new)
        out[f"input{i}"] = t.unsqueeze(0) if batched else t
    return out, response
