"""Training losses for HDR fusion: mu-law L1 (+ optional VGG16 perceptual term).

mu(x) = log(1 + 5000 x) / log(5001) (reference/s2rhdr-format.md §8). Predictions and labels may
exceed 1 with the highlight-preserving recipe; mu stays monotonic there, so no clipping.

The perceptual term needs VGG16 ImageNet weights in a *local* file (a torchvision
``vgg16`` state_dict or just its ``features.*`` keys); nothing is ever downloaded.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from s2rhdr_loader.core.errors import DataError

MU = 5000.0


def mu_law(x: torch.Tensor, mu: float = MU) -> torch.Tensor:
    """Tonemap linear HDR ``x`` (>= 0) with the mu-law used by every HDR fusion paper."""
    return torch.log1p(mu * x.clamp_min(0)) / math.log1p(mu)


def l1_mu(pred: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None
          ) -> torch.Tensor:
    """Mean |mu(pred) - mu(label)|, optionally per-pixel weighted (TTA confidence)."""
    diff = (mu_law(pred.float()) - mu_law(label.float())).abs()
    if weight is None:
        return diff.mean()
    w = weight.expand_as(diff)
    return (diff * w).sum() / w.sum().clamp_min(1e-12)


# torchvision vgg16().features layout: conv channel counts, "M" = max-pool.
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]
_SLICES = (4, 9, 16, 23)   # relu1_2, relu2_2, relu3_3, relu4_3 (as the official loss)


def _vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    c = 3
    for v in _VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=False)]
            c = int(v)
    return nn.Sequential(*layers)


class VGGPerceptual(nn.Module):
    """Sum of L1 distances of VGG16 relu1_2..relu4_3 features of mu-law images (frozen)."""

    def __init__(self, weights: str | os.PathLike):
        super().__init__()
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: VGG16 weights not found (pass a local vgg16 "
                                    "state_dict file; nothing is downloaded)")
        state = torch.load(path, map_location="cpu", weights_only=True)
        feats = {k.removeprefix("features."): v for k, v in state.items()
                 if k.startswith("features.") or k[0].isdigit()}
        self.features = _vgg16_features()
        try:
            self.features.load_state_dict(feats, strict=True)
        except RuntimeError as exc:
            raise DataError(f"{path}: not a VGG16 state_dict ({str(exc).splitlines()[0]})") \
                from None
        self.features.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        x = (mu_law(pred.float()) - self.mean) / self.std
        y = (mu_law(label.float()) - self.mean) / self.std
        loss = pred.new_zeros((), dtype=torch.float32)
        start = 0
        for end in _SLICES:
            block = self.features[start:end]
            x, y = block(x), block(y)
            loss = loss + F.l1_loss(x, y)
            start = end
        return loss


class FusionLoss(nn.Module):
    """L1-mu + ``alpha`` x perceptual (official JointReconPerceptualLoss uses alpha = 0.01)."""

    def __init__(self, vgg_weights: str | os.PathLike | None = None, alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha
        self.vgg = VGGPerceptual(vgg_weights) if vgg_weights else None

    def forward(self, pred: torch.Tensor, label: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        loss = l1_mu(pred, label, weight)
        if self.vgg is not None:
            loss = loss + self.alpha * self.vgg(pred, label)
        return loss
