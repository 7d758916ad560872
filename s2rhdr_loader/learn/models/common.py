"""Shared pieces of the reference fusion nets: input splitting and output heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

HEADS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,     # official recipe: labels in [0, 1]
    "softplus": nn.Softplus,   # ours: labels may exceed 1 (highlight-preserving / sensor recipe)
}


def split_inputs(x0: Any, x1: torch.Tensor | None = None,
                 x2: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Accept a sample dict, three (B,6,H,W) tensors or one (B,18,H,W) tensor.

    Why: the loader yields dicts, exported/merged models are called with plain tensors, and the
    official nets take 18 stacked channels; all three should work with every model here.
    """
    if isinstance(x0, Mapping):
        try:
            return x0["input0"], x0["input1"], x0["input2"]
        except KeyError as exc:
            raise ValueError(f"sample dict lacks key {exc}; expected input0, input1, input2") \
                from None
    if x1 is None and x2 is None:
        if x0.dim() != 4 or x0.shape[1] % 3:
            raise ValueError(f"expected (B, 3*C, H, W) stacked inputs, got {tuple(x0.shape)}")
        return tuple(x0.chunk(3, dim=1))  # type: ignore[return-value]
    if x1 is None or x2 is None:
        raise ValueError("pass all three frames (short, reference, long) or one stacked tensor")
    return x0, x1, x2


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad H and W up to a multiple (replicate when the image is too small to reflect).

    Why reflect: the official test tiling padded with 1.0, i.e. fake saturation (defect #12).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, h, w
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), h, w


class AttentionFusion(nn.Module):
    """Shared front of both reference nets: attention maps from (non-reference, reference).

    Subclasses define ``att1``, ``att2`` (convolutions) and ``act``; parameters stay on the
    subclass so state-dict keys are the plain ``att1.weight`` etc.
    """

    att1: nn.Conv2d
    att2: nn.Conv2d
    act: nn.Module

    def _attend(self, other: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        a = self.act(self.att1(torch.cat([other, ref], dim=1)))
        return other * torch.sigmoid(self.att2(a))
