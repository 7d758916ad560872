"""A compact attention-guided CNN fusion network (after AHDRNet, Yan et al. CVPR 2019).

Why this shape: the reference (medium) frame carries the geometry; attention maps computed from
(non-reference, reference) feature pairs suppress misaligned or saturated regions of the other
exposures before a dilated residual-dense merge. It is fully convolutional, so any H x W works.

Output head: ``"sigmoid"`` reproduces the official [0, 1] labels; ``"softplus"`` (default) is
non-negative and unbounded, needed for the highlight-preserving/sensor recipe whose labels may
exceed 1 (a sigmoid can never reach them).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.learn.models.common import HEADS, AttentionFusion, split_inputs


class _DenseLayer(nn.Module):
    def __init__(self, channels: int, growth: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, growth, 3, padding=dilation, dilation=dilation)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.act(self.conv(x))], dim=1)


class DRDB(nn.Module):
    """Dilated residual dense block: dense dilated convs, 1x1 fusion, local residual."""

    def __init__(self, channels: int, growth: int, layers: int, dilation: int = 2):
        super().__init__()
        blocks = []
        c = channels
        for _ in range(layers):
            blocks.append(_DenseLayer(c, growth, dilation))
            c += growth
        self.dense = nn.Sequential(*blocks)
        self.fuse = nn.Conv2d(c, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(self.dense(x))


class AHDRNet(AttentionFusion):
    """Attention-guided fusion of three ``[LDR^2.2/t, LDR]`` frames (short, reference, long).

    Parameter counts (tested in tests/test_models.py):
    ``AHDRNet()`` (feat=64, growth=32, blocks=3, layers=6) has 1,219,907 parameters (the
    original AHDRNet: ~1.44 M); the tiny ``registry.TINY["ahdr"]`` configuration has 39,011.
    """

    def __init__(self, in_ch: int = 6, feat: int = 64, growth: int = 32, blocks: int = 3,
                 layers: int = 6, out_ch: int = 3, head: str = "softplus"):
        super().__init__()
        if head not in HEADS:
            raise OptionError(f"AHDRNet: unknown head {head!r}; use one of {sorted(HEADS)}")
        self.head_name = head
        self.encode = nn.Conv2d(in_ch, feat, 3, padding=1)       # shared per-frame features
        self.att1 = nn.Conv2d(2 * feat, 2 * feat, 3, padding=1)  # (non-ref, ref) -> attention
        self.att2 = nn.Conv2d(2 * feat, feat, 3, padding=1)
        self.merge = nn.Conv2d(3 * feat, feat, 3, padding=1)
        self.drdbs = nn.ModuleList(DRDB(feat, growth, layers) for _ in range(blocks))
        self.gff1 = nn.Conv2d(blocks * feat, feat, 1)
        self.gff2 = nn.Conv2d(feat, feat, 3, padding=1)
        self.post = nn.Conv2d(feat, feat, 3, padding=1)
        self.decode = nn.Conv2d(feat, out_ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)
        self.head = HEADS[head]()

    def forward(self, x0: Any, x1: torch.Tensor | None = None,
                x2: torch.Tensor | None = None) -> torch.Tensor:
        s, m, lo = split_inputs(x0, x1, x2)
        fs, fm, fl = (self.act(self.encode(t)) for t in (s, m, lo))
        f = self.merge(torch.cat([self._attend(fs, fm), fm, self._attend(fl, fm)], dim=1))
        outs = []
        h = f
        for block in self.drdbs:
            h = block(h)
            outs.append(h)
        h = self.gff2(self.gff1(torch.cat(outs, dim=1))) + fm   # global residual on reference
        return self.head(self.decode(self.act(self.post(h))))
