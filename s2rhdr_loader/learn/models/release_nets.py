"""The S2R-HDR release's two transformer fusion networks, rebuilt with interchangeable weights.

``HDRTransformerRelease`` follows HDR-Transformer (Liu et al., "Ghost-free High Dynamic Range
Imaging with Context-aware Transformer", ECCV 2022) and ``SCTNet`` follows SCTNet (Tel et al.,
"Alignment-free HDR Deghosting with Semantics Consistent Transformer", ICCV 2023), in the shape
the release (github.com/OpenImagingLab/S2R-HDR, ``models/hdr_transformer.py``,
``models/SCTNet.py``, ``models/SCAB.py``) configures them. Module names, parameter names and
persistent buffers are the release's, so a ``state_dict`` trained here loads into the release's
classes with ``strict=True`` (tested against the release's own source when a copy is at hand)
and the release's checkpoints load here. Written from the papers and the architecture; no code
is copied.

Deliberate differences (forward only; weights are unaffected):
* any H x W: inputs are reflect-padded to a multiple of the window and the output is cropped
  back (the release's HDR-Transformer needs multiples of 8; its SCTNet pads but crops with
  ``H * upscale``, i.e. not at all, defect #13);
* ``head="softplus"`` is available for labels above 1; the default is the release's sigmoid;
* inputs as for every net here: a sample dict, three (B, 6, H, W) tensors or one stacked
  (B, 18, H, W) tensor.

Default arguments are the release's test configuration (``test.py``): HDR-Transformer with
``embed_dim=60, depths=(6, 6, 6), num_heads=6, mlp_ratio=2, img_size=128`` (1,222,113
parameters); SCTNet with ``img_size=72, embed_dim=60, depths=(6, 6, 6, 6), num_heads=6,
window_size=8, mlp_ratio=2, in_chans=18`` (994,555 parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.learn.models.common import HEADS, split_inputs
from s2rhdr_loader.learn.models.swin import (
    BlockStack,
    Mlp,
    image,
    init_linear_and_norm,
    pad_reflect,
    tokens,
)

# The release's injection targets (train_adapter_*.py: every nn.Linear inside a
# "WindowAttention"): the qkv and proj layers of each Swin block.
RELEASE_TARGETS = ("layers.*.attn.qkv", "layers.*.attn.proj")


def _heads(num_heads: int | Sequence[int], n: int) -> list[int]:
    heads = [num_heads] * n if isinstance(num_heads, int) else [int(h) for h in num_heads]
    if len(heads) != n:
        raise OptionError(f"num_heads {num_heads}: need one per stage ({n} stages)")
    return heads


def _size(img_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(img_size, int):
        return (img_size, img_size)
    h, w = (int(v) for v in img_size)
    return (h, w)


# ---- HDR-Transformer ------------------------------------------------------------------------

class SpatialAttention(nn.Module):
    """Attention map for a non-reference frame from (frame, reference) features (AHDRNet)."""

    def __init__(self, dim: int):
        super().__init__()
        self.att1 = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1)
        self.att2 = nn.Conv2d(2 * dim, dim, 3, padding=1)
        self.relu = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.att2(self.relu(self.att1(torch.cat([x, ref], dim=1)))))


class LocalContextExtractor(nn.Module):
    """HDR-Transformer's convolutional branch: 1x1-3x3-1x1 bottleneck, squeeze-excitation."""

    def __init__(self, dim: int, reduction: int = 8):
        super().__init__()
        mid = dim // reduction
        self.conv = nn.Sequential(nn.Conv2d(dim, mid, 1), nn.Conv2d(mid, mid, 3, padding=1),
                                  nn.Conv2d(mid, dim, 1), nn.LeakyReLU(0.2, inplace=True))
        self.fc = nn.Sequential(nn.Linear(dim, mid, bias=False), nn.ReLU(),
                                nn.Linear(mid, dim, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class ContextBlock(nn.Module):
    """A context-aware transformer block group (CTB): Swin blocks + dilated conv, residual."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, heads: int,
                 window: int, mlp_ratio: float):
        super().__init__()
        self.residual_group = BlockStack(dim, resolution, depth, heads, window, mlp_ratio,
                                         context=LocalContextExtractor)
        self.dilated_conv = nn.Conv2d(dim, dim, 3, padding=2, dilation=2)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return tokens(self.dilated_conv(image(self.residual_group(x, size), size))) + x


class _PatchNorm(nn.Module):
    """The release's ``patch_embed``: flatten to tokens, then its LayerNorm (``norm``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(tokens(x))


class HDRTransformerRelease(nn.Module):
    """HDR-Transformer as the release builds it (keys ``conv_f1``, ``att_module_h``,
    ``layers.i.residual_group.blocks.j.attn.qkv``, ``conv_last`` ...)."""

    adapter_targets = RELEASE_TARGETS
    def __init__(self, in_chans: int = 6, embed_dim: int = 60,
                 depths: Sequence[int] = (6, 6, 6), num_heads: int | Sequence[int] = 6,
                 window_size: int = 8, mlp_ratio: float = 2.0,
                 img_size: int | Sequence[int] = 128, head: str = "sigmoid"):
        super().__init__()
        if head not in HEADS:
            raise OptionError(f"HDRTransformerRelease: unknown head {head!r}")
        if embed_dim < 8 or any(embed_dim % h for h in _heads(num_heads, len(depths))):
            raise OptionError(f"embed_dim {embed_dim}: must be >= 8 and divisible by the heads")
        size = _size(img_size)
        self.window = int(window_size)
        self.conv_f1 = nn.Conv2d(in_chans, embed_dim, 3, padding=1)
        self.conv_f2 = nn.Conv2d(in_chans, embed_dim, 3, padding=1)
        self.conv_f3 = nn.Conv2d(in_chans, embed_dim, 3, padding=1)
        self.att_module_l = SpatialAttention(embed_dim)
        self.att_module_h = SpatialAttention(embed_dim)
        self.conv_first = nn.Conv2d(3 * embed_dim, embed_dim, 3, padding=1)
        self.patch_embed = _PatchNorm(embed_dim)
        self.layers = nn.ModuleList(
            ContextBlock(embed_dim, size, d, h, self.window, mlp_ratio)
            for d, h in zip(depths, _heads(num_heads, len(depths)), strict=True))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.conv_last = nn.Conv2d(embed_dim, 3, 3, padding=1)
        self.head = HEADS[head]()
        self.apply(init_linear_and_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[2], x.shape[3])
        t = self.patch_embed(x)
        for layer in self.layers:
            t = layer(t, size)
        return image(self.norm(t), size)

    def forward(self, x0: Any, x1: torch.Tensor | None = None,
                x2: torch.Tensor | None = None) -> torch.Tensor:
        frames = split_inputs(x0, x1, x2)
        h, w = frames[0].shape[-2:]
        short, ref, long = (pad_reflect(f, self.window) for f in frames)
        f1, f2, f3 = self.conv_f1(short), self.conv_f2(ref), self.conv_f3(long)
        f1 = f1 * self.att_module_h(f1, f2)
        f3 = f3 * self.att_module_l(f3, f2)
        x = self.conv_first(torch.cat([f1, f2, f3], dim=1))
        res = self.conv_after_body(self.features(x) + x)
        return self.head(self.conv_last(f2 + res))[..., :h, :w]


# ---- SCTNet ---------------------------------------------------------------------------------

class ChannelNorm(nn.Module):
    """Layer norm over the channels of a (B, C, H, W) map (``body.weight``, ``body.bias``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = _Affine(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return image(self.body(tokens(x)), (h, w))


class _Affine(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class MutualAttention(nn.Module):
    """Channel cross-attention (Restormer-style): queries from x, keys/values from y."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.q = nn.Conv2d(dim, dim, 1, bias=False)
        self.k = nn.Conv2d(dim, dim, 1, bias=False)
        self.v = nn.Conv2d(dim, dim, 1, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, self.heads, c // self.heads, h * w)

        q = nn.functional.normalize(split(self.q(x)), dim=-1)
        k = nn.functional.normalize(split(self.k(y)), dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ split(self.v(y))).reshape(b, c, h, w))


class SCAB(nn.Module):
    """Spatial-channel attention block: x + attention(norm x, norm y), then an MLP."""

    def __init__(self, dim: int, heads: int, expansion: int = 4):
        super().__init__()
        self.norm1_x = ChannelNorm(dim)
        self.norm1_y = ChannelNorm(dim)
        self.attn = MutualAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = Mlp(dim, dim * expansion)

    def forward(self, x: torch.Tensor, y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        xi, yi = image(x, size), image(y, size)
        fused = tokens(xi + self.attn(self.norm1_x(xi), self.norm1_y(yi)))
        return fused + self.ffn(self.norm2(fused))


class GSAB(nn.Module):
    """Global spatial attention block: Swin blocks + 3x3 conv, residual (SwinIR's RSTB)."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, heads: int,
                 window: int, mlp_ratio: float):
        super().__init__()
        self.residual_group = BlockStack(dim, resolution, depth, heads, window, mlp_ratio)
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return tokens(self.conv(image(self.residual_group(x, size), size))) + x


class SCTNet(nn.Module):
    """SCTNet as the release builds it (keys ``conv1..3``, ``conv_first.fc1``,
    ``layers.i.residual_group.blocks.j.attn.qkv``, ``channel_layers_lm.i``, ``mlps.i``,
    ``upsample.0`` ...). The three frames are embedded apart (``embed_dim / 3`` channels
    each); after every spatial stage the reference third attends to each non-reference third.
    """

    adapter_targets = RELEASE_TARGETS

    def __init__(self, in_chans: int = 18, embed_dim: int = 60,
                 depths: Sequence[int] = (6, 6, 6, 6), num_heads: int | Sequence[int] = 6,
                 window_size: int = 8, mlp_ratio: float = 2.0,
                 img_size: int | Sequence[int] = 72, channel_heads: int = 4,
                 head: str = "sigmoid"):
        super().__init__()
        if head not in HEADS:
            raise OptionError(f"SCTNet: unknown head {head!r}")
        third = embed_dim // 3
        if in_chans % 3 or embed_dim % 3 or third % channel_heads:
            raise OptionError(f"SCTNet: in_chans {in_chans} and embed_dim {embed_dim} must split "
                              f"into 3 frames, embed_dim/3 into {channel_heads} channel heads")
        size = _size(img_size)
        self.window = int(window_size)
        stages = len(depths)
        self.conv1 = nn.Conv2d(in_chans // 3, third, 3, padding=1)
        self.conv2 = nn.Conv2d(in_chans // 3, third, 3, padding=1)
        self.conv3 = nn.Conv2d(in_chans // 3, third, 3, padding=1)
        self.conv_end = nn.Conv2d(third, embed_dim, 3, padding=1)
        self.conv_first = Mlp(embed_dim)
        self.patch_embed = _PatchNorm(embed_dim)
        self.layers = nn.ModuleList(
            GSAB(embed_dim, size, d, h, self.window, mlp_ratio)
            for d, h in zip(depths, _heads(num_heads, stages), strict=True))
        self.channel_layers_lm = nn.ModuleList(SCAB(third, channel_heads) for _ in range(stages))
        self.channel_layers_rm = nn.ModuleList(SCAB(third, channel_heads) for _ in range(stages))
        self.mlps = nn.ModuleList(Mlp(embed_dim) for _ in range(stages))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.upsample = nn.Sequential(nn.Conv2d(embed_dim, 3, 3, padding=1))
        self.head = HEADS[head]()
        self.apply(init_linear_and_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[2], x.shape[3])
        t = self.patch_embed(x)
        s1, s2, s3 = t.chunk(3, dim=2)
        t = self.conv_first(t)
        for layer, lm, rm, mlp in zip(self.layers, self.channel_layers_lm,
                                      self.channel_layers_rm, self.mlps, strict=True):
            t = layer(t, size)
            t1, t2, t3 = t.chunk(3, dim=2)
            ref = s2 + t2
            t = mlp(torch.cat([lm(ref, s1 + t1, size), ref, rm(ref, s3 + t3, size)], dim=2))
        return image(self.norm(t), size)

    def forward(self, x0: Any, x1: torch.Tensor | None = None,
                x2: torch.Tensor | None = None) -> torch.Tensor:
        frames = split_inputs(x0, x1, x2)
        h, w = frames[0].shape[-2:]
        short, ref, long = (pad_reflect(f, self.window) for f in frames)
        e1, e2, e3 = self.conv1(short), self.conv2(ref), self.conv3(long)
        x = self.conv_after_body(self.features(torch.cat([e1, e2, e3], dim=1)))
        return self.head(self.upsample(x + self.conv_end(e2)))[..., :h, :w]
