"""HDR fusion metrics of the Kalantari 2017 protocol, as the published numbers compute them.

Exactly reference/hdr-metrics.md section 6 (S2R-HDR ``test.py``, HDR-Transformer, SCTNet):

* the prediction P is clipped to [0, 1]; the label G is **not** clipped;
* PSNR-l = 10 log10(1 / mean((G - P)^2)) over all pixels and channels (data range 1, no
  crop); PSNR-mu the same on ``T(x) = log(1 + 5000 x) / log(5001)``; identical images give
  ``inf`` (guarded, no division warning);
* SSIM on ``clip(255 x, 0, 255)`` in float64 (not rounded), 11x11 Gaussian window of
  sigma 1.5 (``cv2.getGaussianKernel`` outer product), C1 = (0.01*255)^2, C2 = (0.03*255)^2,
  local statistics by ``cv2.filter2D`` per channel, map cropped by 5 px on each side ("valid"),
  mean over the remaining pixels and channels. SSIM-mu the same on ``T``.

numpy functions take channels-last images (H, W, 3) or batches (B, H, W, 3); torch functions
take channels-first (3, H, W) or (B, 3, H, W) and compute in float64. Batched inputs return
one score per image; the dataset score is the mean of per-image scores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MU = 5000.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def mu_tonemap(x: Any) -> Any:
    """The mu-law ``log(1 + 5000 x) / log(5001)`` (numpy array or torch tensor)."""
    if isinstance(x, np.ndarray):
        return np.log1p(MU * x) / math.log1p(MU)
    import torch

    return torch.log1p(MU * x) / math.log1p(MU)


def _psnr_value(mse: float) -> float:
    return math.inf if mse == 0 else float(10.0 * np.log10(1.0 / mse))  # as skimage


def _batched(fn: Any, pred: np.ndarray, label: np.ndarray) -> Any:
    pred, label = np.asarray(pred, np.float64), np.asarray(label, np.float64)
    if pred.shape != label.shape:
        raise ValueError(f"prediction {pred.shape} and label {label.shape} differ in shape")
    if pred.ndim == 4:
        return np.array([fn(p, g) for p, g in zip(pred, label)])
    if pred.ndim != 3:
        raise ValueError(f"expected (H, W, C) or (B, H, W, C) arrays, got shape {pred.shape}")
    return fn(pred, label)


def _psnr(p: np.ndarray, g: np.ndarray) -> float:
    return _psnr_value(float(np.mean((g - p) ** 2)))


def psnr_l(pred: np.ndarray, label: np.ndarray) -> Any:
    """Linear-domain PSNR (P clipped to [0, 1], G as is)."""
    return _batched(lambda p, g: _psnr(np.clip(p, 0, 1), g), pred, label)


def psnr_mu(pred: np.ndarray, label: np.ndarray) -> Any:
    """PSNR after mu-law tone mapping (mu = 5000)."""
    return _batched(lambda p, g: _psnr(mu_tonemap(np.clip(p, 0, 1)), mu_tonemap(g)),
                    pred, label)


def gaussian_window() -> np.ndarray:
    import cv2

    k = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA).astype(np.float64)
    return k @ k.T


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cropped ("valid") SSIM map of two (H, W, C) images already in [0, 255]."""
    import cv2

    r = SSIM_WINDOW // 2
    if a.shape[0] <= 2 * r or a.shape[1] <= 2 * r:
        raise ValueError(f"image {a.shape[1]}x{a.shape[0]} too small for the 11x11 SSIM window")
    win = gaussian_window()

    def filt(x: np.ndarray) -> np.ndarray:
        out = cv2.filter2D(x, -1, win)
        out = out[..., None] if out.ndim == 2 else out
        return out[r:-r, r:-r]

    mu1, mu2 = filt(a), filt(b)
    s11 = filt(a * a) - mu1 * mu1
    s22 = filt(b * b) - mu2 * mu2
    s12 = filt(a * b) - mu1 * mu2
    return ((2 * mu1 * mu2 + _C1) * (2 * s12 + _C2)) / (
        (mu1 * mu1 + mu2 * mu2 + _C1) * (s11 + s22 + _C2))


def _ssim(p: np.ndarray, g: np.ndarray) -> float:
    a = np.clip(255.0 * p, 0, 255)
    b = np.clip(255.0 * g, 0, 255)
    return float(ssim_map(np.ascontiguousarray(a), np.ascontiguousarray(b)).mean())


def ssim_l(pred: np.ndarray, label: np.ndarray) -> Any:
    """Linear-domain SSIM (P clipped to [0, 1] first, as the prediction always is)."""
    return _batched(lambda p, g: _ssim(np.clip(p, 0, 1), g), pred, label)


def ssim_mu(pred: np.ndarray, label: np.ndarray) -> Any:
    return _batched(lambda p, g: _ssim(mu_tonemap(np.clip(p, 0, 1)), mu_tonemap(g)),
                    pred, label)


def evaluate(pred: np.ndarray, label: np.ndarray) -> dict[str, Any]:
    """All four scores for (H, W, 3) or (B, H, W, 3) channels-last arrays."""
    return {"psnr_mu": psnr_mu(pred, label), "psnr_l": psnr_l(pred, label),
            "ssim_mu": ssim_mu(pred, label), "ssim_l": ssim_l(pred, label)}


# ---- torch (channels first, float64, batched) -------------------------------------------

def _t4(pred: Any, label: Any) -> tuple[Any, Any, bool]:
    if pred.shape != label.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ")
    single = pred.dim() == 3
    if single:
        pred, label = pred[None], label[None]
    if pred.dim() != 4:
        raise ValueError(f"expected (C, H, W) or (B, C, H, W) tensors, got {tuple(pred.shape)}")
    return pred.double(), label.double(), single


def _psnr_t(p: Any, g: Any) -> Any:
    import torch

    mse = ((g - p) ** 2).flatten(1).mean(1)
    safe = torch.where(mse > 0, mse, torch.ones_like(mse))
    return torch.where(mse > 0, -10.0 * torch.log10(safe), torch.full_like(mse, math.inf))


def _torch_metric(fn: Any, pred: Any, label: Any, mu: bool) -> Any:
    """Protocol shared by the torch metrics: clip the prediction (not the label), optional
    mu-law on both, per image for batches and a scalar for a single image."""
    p, g, single = _t4(pred, label)
    p = p.clamp(0, 1)
    out = fn(mu_tonemap(p), mu_tonemap(g)) if mu else fn(p, g)
    return out[0] if single else out


def psnr_l_torch(pred: Any, label: Any) -> Any:
    return _torch_metric(_psnr_t, pred, label, mu=False)


def psnr_mu_torch(pred: Any, label: Any) -> Any:
    return _torch_metric(_psnr_t, pred, label, mu=True)


def _ssim_t(p: Any, g: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if p.shape[-1] < SSIM_WINDOW or p.shape[-2] < SSIM_WINDOW:
        raise ValueError(f"image {p.shape[-1]}x{p.shape[-2]} too small for the SSIM window")
    a, b = (255.0 * p).clamp(0, 255), (255.0 * g).clamp(0, 255)
    c = a.shape[1]
    win = torch.from_numpy(gaussian_window()).to(a)[None, None].expand(c, 1, -1, -1)

    def filt(x: Any) -> Any:  # valid correlation == filter2D then the 5-px crop
        return F.conv2d(x, win, groups=c)

    mu1, mu2 = filt(a), filt(b)
    s11 = filt(a * a) - mu1 * mu1
    s22 = filt(b * b) - mu2 * mu2
    s12 = filt(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + _C1) * (2 * s12 + _C2)) / (
        (mu1 * mu1 + mu2 * mu2 + _C1) * (s11 + s22 + _C2))
    return m.flatten(1).mean(1)


def ssim_l_torch(pred: Any, label: Any) -> Any:
    return _torch_metric(_ssim_t, pred, label, mu=False)


def ssim_mu_torch(pred: Any, label: Any) -> Any:
    return _torch_metric(_ssim_t, pred, label, mu=True)


def evaluate_torch(pred: Any, label: Any) -> dict[str, Any]:
    """All four scores for (C, H, W) or (B, C, H, W) tensors (float64 results)."""
    return {"psnr_mu": psnr_mu_torch(pred, label), "psnr_l": psnr_l_torch(pred, label),
            "ssim_mu": ssim_mu_torch(pred, label), "ssim_l": ssim_l_torch(pred, label)}
