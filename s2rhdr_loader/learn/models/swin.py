"""Shifted-window self-attention pieces shared by the release-shaped networks.

The S2R-HDR release builds its HDR-Transformer (Liu et al., ECCV 2022) and SCTNet (Tel et al.,
ICCV 2023) from the Swin Transformer block (Liu et al., ICCV 2021; SwinIR's variant): layer
norm, multi-head attention inside w x w windows with a learned relative position bias, every
second block shifted by w/2 with an attention mask, and an MLP. The module and parameter names
here are the ones those networks use (``attn.qkv``, ``attn.proj``,
``relative_position_bias_table``, ``norm1``, ``mlp.fc1`` ...), and the persistent buffers are
the same (``relative_position_index``, ``attn_mask`` of shifted blocks), so state dicts move
between the two code bases unchanged. The code is written from the papers' equations.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MASKED = -100.0   # the value Swin puts on attention logits across shifted-window seams


def window_partition(x: torch.Tensor, w: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/w * W/w, w, w, C), windows in row-major order."""
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w, w, c)


def window_reverse(windows: torch.Tensor, w: int, h: int, wd: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (nW * B, w, w, C) -> (B, H, W, C)."""
    b = windows.shape[0] // ((h // w) * (wd // w))
    x = windows.view(b, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, wd, -1)


def shift_mask(h: int, wd: int, window: int, shift: int) -> torch.Tensor:
    """(nW, w*w, w*w) additive mask: 0 inside one region of the rolled image, -100 across.

    After rolling the feature map by -shift, windows on the last row/column hold pixels from up
    to four image regions that were not neighbours; the mask keeps attention within a region.
    """
    region = torch.zeros(1, h, wd, 1)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for rows in bounds:
        for cols in bounds:
            region[:, rows, cols, :] = label
            label += 1
    ids = window_partition(region, window).reshape(-1, window * window)
    diff = ids.unsqueeze(1) - ids.unsqueeze(2)
    return torch.where(diff != 0, torch.tensor(MASKED), torch.tensor(0.0))


class Mlp(nn.Module):
    """Linear -> GELU -> Linear (``fc1``, ``fc2``), on the last dimension."""

    def __init__(self, dim: int, hidden: int | None = None, out: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden or dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden or dim, out or dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def relative_index(window: int) -> torch.Tensor:
    """(w*w, w*w) index into the (2w-1)^2 bias table for every (query, key) pair of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


class WindowAttention(nn.Module):
    """Multi-head self-attention within a window, relative position bias (Swin, eq. 4).

    ``qkv`` and ``proj`` are plain ``nn.Linear`` children called as modules, so the
    S2R-Adapter can wrap them (they are the release's injection targets).
    """

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.dim, self.window, self.heads = dim, window, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape                         # b = windows * batch, n = w * w
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        logits = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        logits = logits + bias.reshape(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            logits = logits.view(b // nw, nw, self.heads, n, n) + mask[None, :, None]
            logits = logits.view(-1, self.heads, n, n)
        out = logits.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class SwinBlock(nn.Module):
    """norm1 -> (shifted) window attention -> residual -> norm2 -> MLP -> residual.

    ``resolution`` is the training patch size the release builds its networks for: the mask of
    a shifted block is precomputed for it (a persistent buffer, ``attn_mask``) and recomputed
    for any other size, as in the release. ``context`` adds HDR-Transformer's local context
    extractor ``lce`` (a convolutional branch on the normalised input, added at the end).
    """

    def __init__(self, dim: int, resolution: tuple[int, int], heads: int, window: int,
                 shift: int, mlp_ratio: float, context: nn.Module | None = None):
        super().__init__()
        self.resolution = tuple(resolution)
        if min(self.resolution) <= window:          # the window covers the whole patch
            window, shift = min(self.resolution), 0
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = shift_mask(*self.resolution, window, shift) if shift > 0 else None
        self.register_buffer("attn_mask", mask)
        if context is not None:
            self.lce = context

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h, w = size
        b, _, c = x.shape
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        local = x.permute(0, 3, 1, 2)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        windows = window_partition(x, self.window).reshape(-1, self.window ** 2, c)
        mask = self.attn_mask
        if self.shift and tuple(size) != self.resolution:
            mask = shift_mask(h, w, self.window, self.shift).to(x.device, x.dtype)
        windows = self.attn(windows, mask=mask)
        x = window_reverse(windows.view(-1, self.window, self.window, c), self.window, h, w)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + x.reshape(b, h * w, c)
        x = x + self.mlp(self.norm2(x))
        if hasattr(self, "lce"):
            x = x + self.lce(local).reshape(b, c, h * w).permute(0, 2, 1)
        return x


class BlockStack(nn.Module):
    """``depth`` Swin blocks, every second one shifted by half a window (``blocks``)."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, heads: int,
                 window: int, mlp_ratio: float, context: type[nn.Module] | None = None):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, resolution, heads, window, 0 if i % 2 == 0 else window // 2,
                      mlp_ratio, context(dim) if context is not None else None)
            for i in range(depth))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, size)
        return x


def tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C)."""
    return x.flatten(2).transpose(1, 2)


def image(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, H*W, C) -> (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], size[0], size[1])


def init_linear_and_norm(module: nn.Module) -> None:
    """The Swin init both release networks apply: trunc-normal(0.02) linears, unit norms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def pad_reflect(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad H and W up to a multiple (what SCTNet's ``check_image_size`` does)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
