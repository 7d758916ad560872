"""Synthetic calibration frames for the self-test analysis (a helper module: no tests here).

A linear render of the calibration scene as the plan predicts it: black backdrop, each card
its expected pixel value with 4x4-supersampled (anti-aliased) edges, HALF precision. The
faults the self-test must catch are applied on top by the tests (tone curve, exposure
factor, blur, clamp)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline import unreal_calibration as cal


def render(plan: Any = None, *, frames: int | None = None, half: bool = True) -> list[Any]:
    plan = plan or cal.calibration_plan()
    w, h = plan.render.resolution
    ss = 4
    img = np.zeros((h * ss, w * ss), np.float64)
    for t in cal.targets():
        u0, v0, u1, v1 = (c * ss for c in cal.pixel_rect(plan, t))
        cols = slice(int(round(u0)), int(round(u1)))
        rows = slice(int(round(v0)), int(round(v1)))
        img[rows, cols] = t.luminance * plan.exposure.scale
    lum = img.reshape(h, ss, w, ss).mean(axis=(1, 3))
    rgb = np.repeat(lum[..., None], 3, axis=2).astype(np.float32)
    if half:
        rgb = rgb.astype(np.float16).astype(np.float32)
    return [rgb.copy() for _ in range(frames or plan.frames)]


def blur(img: Any, sigma: float) -> Any:
    """Separable Gaussian blur (what depth of field does to the card edges)."""
    from scipy.ndimage import gaussian_filter

    return np.stack([gaussian_filter(img[..., c], sigma) for c in range(img.shape[-1])], -1)
