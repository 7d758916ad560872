"""A small windowed-attention fusion transformer (after HDR-Transformer, Liu et al. ECCV 2022).

Why this shape: an attention-guided shallow fusion (as in AHDRNet) aligns the three exposures;
residual groups of window self-attention blocks then reconstruct long-range context. Instead
of shifted windows (which need attention masks), each block's MLP carries a 3x3 depthwise conv
(as in LeFF / HDR-Transformer's context branch) so information crosses window borders.

Any H x W works: inputs are reflect-padded to a multiple of the window and cropped back (the
official HDR-Transformer required multiples of 8, defect #13).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.learn.models.common import HEADS, AttentionFusion, pad_to_multiple, split_inputs


class WindowAttention(nn.Module):
    """Multi-head self-attention inside non-overlapping w x w windows, relative position bias."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        if dim % heads:
            raise OptionError(f"WindowAttention: dim {dim} not divisible by heads {heads}")
        self.heads, self.window = heads, window
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                            indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("bias_index", rel[..., 0] * (2 * window - 1) + rel[..., 1],
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x: (B*nW, w*w, C)
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        bias = self.bias_table[self.bias_index.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.unsqueeze(0).to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class ConvMLP(nn.Module):
    """Linear -> 3x3 depthwise conv -> GELU -> Linear (carries context across windows)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dw = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x: (B, H, W, C)
        h = self.fc1(x).permute(0, 3, 1, 2)
        h = F.gelu(self.dw(h)).permute(0, 2, 3, 1)
        return self.fc2(h)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: float):
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = ConvMLP(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (B, H, W, C), H, W multiples of w
        b, h, w, c = x.shape
        s = self.window
        win = self.norm1(x).reshape(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5)
        win = self.attn(win.reshape(-1, s * s, c))
        win = win.reshape(b, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5)
        x = x + win.reshape(b, h, w, c)
        return x + self.mlp(self.norm2(x))


class ResidualGroup(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float):
        super().__init__()
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, window, mlp_ratio)
                                      for _ in range(depth)))
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (B, C, H, W)
        h = self.blocks(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x + self.conv(h)


class HDRTransformer(AttentionFusion):
    """Windowed-attention fusion of three ``[LDR^2.2/t, LDR]`` frames.

    Parameter counts (tested in tests/test_models.py): ``HDRTransformer()`` (dim 60, depths
    (6, 6, 6), 6 heads, window 8, mlp_ratio 2) has 1,002,783 parameters (official
    HDR-Transformer: 1,222,113); the tiny ``registry.TINY["transformer"]`` configuration
    (dim 16, depths (1, 1), 2 heads, window 4) has 34,359.
    """

    def __init__(self, in_ch: int = 6, dim: int = 60, depths: tuple[int, ...] = (6, 6, 6),
                 heads: int = 6, window: int = 8, mlp_ratio: float = 2.0, out_ch: int = 3,
                 head: str = "softplus"):
        super().__init__()
        if head not in HEADS:
            raise OptionError(f"HDRTransformer: unknown head {head!r}; use one of {sorted(HEADS)}")
        self.window = window
        self.encode = nn.Conv2d(in_ch, dim, 3, padding=1)
        self.att1 = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1)
        self.att2 = nn.Conv2d(2 * dim, dim, 3, padding=1)
        self.merge = nn.Conv2d(3 * dim, dim, 3, padding=1)
        self.groups = nn.Sequential(*(ResidualGroup(dim, d, heads, window, mlp_ratio)
                                      for d in depths))
        self.norm = nn.Conv2d(dim, dim, 3, padding=1)
        self.decode = nn.Conv2d(dim, out_ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)
        self.head = HEADS[head]()

    def forward(self, x0: Any, x1: torch.Tensor | None = None,
                x2: torch.Tensor | None = None) -> torch.Tensor:
        frames = split_inputs(x0, x1, x2)
        padded = [pad_to_multiple(t, self.window) for t in frames]
        h, w = padded[0][1], padded[0][2]
        fs, fm, fl = (self.act(self.encode(p[0])) for p in padded)
        f = self.merge(torch.cat([self._attend(fs, fm), fm, self._attend(fl, fm)], dim=1))
        y = self.norm(self.groups(f)) + fm
        return self.head(self.decode(y))[..., :h, :w]
