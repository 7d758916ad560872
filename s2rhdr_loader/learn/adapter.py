"""S2R-Adapter: low-rank share + transfer branches around a backbone's Conv2d / Linear layers.

    y = W x + b + s_share * U1 D1 x + s_transfer * U2 D2 x

The share branch (rank 1) and transfer branch (rank 64) follow the paper / official code
(reference/s2rhdr-format.md §7). What we do differently, and why:

* Exact merge for every Conv2d, grouped/strided/dilated included. The official branch is a
  dense 1x1 conv beside a k x k conv, which cannot be folded into a strided or grouped conv.
  Here the down projection D is a k x k conv with the *base conv's* stride, padding, dilation,
  padding mode and groups (r = rank x groups channels), and the up projection U is a grouped
  1x1 conv. Group j of the output then sees ``U_j (D_j * x_j)`` = ``(U_j D_j) * x_j``: a
  single conv with the base's geometry and weight ``U_j D_j`` (shape out/g x in/g x kh x kw),
  so ``W' = W + s1 U1D1 + s2 U2D2`` is exact up to float rounding.
* Scales are registered (buffers, or parameters with ``learn_scales``), one pair per layer,
  so they live in the state_dict and are all-reduced by DDP (defect #5).
* The backbone is frozen by default (``train_backbone=True`` reproduces the official code).
* A rank at or above the layer's full rank (official r2 = 64 > d = 60) is capped with a warning.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from s2rhdr_loader.core.errors import OptionError

BRANCHES = ("share", "transfer")
Filter = Callable[[str, nn.Module], bool]


@dataclass
class AdapterConfig:
    """Everything needed to rebuild an adapted model (stored in checkpoint JSON)."""

    r_share: int = 1
    r_transfer: int = 64
    scale_share: float = 1.0
    scale_transfer: float = 1.0
    learn_scales: bool = False
    train_backbone: bool = False
    branches: tuple[str, ...] = BRANCHES
    include: tuple[str, ...] = ()        # fnmatch patterns on module names; () = default filter
    exclude: tuple[str, ...] = ()
    init: str = "kaiming"                 # "kaiming" (LoRA-style) or "official" N(0, 1/r^2)
    seed: int | None = None               # seed for the down-projection init

    def __post_init__(self) -> None:
        self.branches = tuple(self.branches)
        self.include = tuple(self.include)
        self.exclude = tuple(self.exclude)
        bad = [b for b in self.branches if b not in BRANCHES]
        if bad or not self.branches:
            raise OptionError(f"adapter branches {list(self.branches)}: choose from {BRANCHES}")
        if self.r_share < 1 or self.r_transfer < 1:
            raise OptionError("adapter ranks must be >= 1")
        if self.init not in ("kaiming", "official"):
            raise OptionError(f"adapter init {self.init!r}: use 'kaiming' or 'official'")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("branches", "include", "exclude"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise OptionError(f"adapter config: unknown keys {unknown}")
        return cls(**data)


def _full_rank(base: nn.Module) -> int:
    if isinstance(base, nn.Linear):
        return min(base.in_features, base.out_features)
    g = base.groups
    kh, kw = base.kernel_size
    return min(base.out_channels // g, base.in_channels // g * kh * kw)


class _Branch(nn.Module):
    """Down projection (same geometry as the base layer) then up projection (zero init)."""

    def __init__(self, base: nn.Module, rank: int, init: str):
        super().__init__()
        self.rank = rank
        if isinstance(base, nn.Linear):
            self.down: nn.Module = nn.Linear(base.in_features, rank, bias=False)
            self.up: nn.Module = nn.Linear(rank, base.out_features, bias=False)
        else:
            g = base.groups
            self.down = nn.Conv2d(base.in_channels, rank * g, base.kernel_size,
                                  stride=base.stride, padding=base.padding,
                                  dilation=base.dilation, groups=g, bias=False,
                                  padding_mode=base.padding_mode)
            self.up = nn.Conv2d(rank * g, base.out_channels, 1, groups=g, bias=False)
        self.down.to(base.weight.device, base.weight.dtype)
        self.up.to(base.weight.device, base.weight.dtype)
        if init == "official":
            nn.init.normal_(self.down.weight, std=1.0 / rank ** 2)
        nn.init.zeros_(self.up.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))

    def delta_weight(self, groups: int = 1) -> torch.Tensor:
        """``U D`` in float64 with the base weight's shape (per group for grouped convs)."""
        d = self.down.weight.detach().double()
        u = self.up.weight.detach().double()
        if d.dim() == 2:
            return u @ d
        r, in_g, kh, kw = d.shape
        out = u.shape[0]
        dg = d.reshape(groups, r // groups, in_g * kh * kw)
        ug = u.reshape(groups, out // groups, r // groups)
        return torch.bmm(ug, dg).reshape(out, in_g, kh, kw)


class AdaptedLayer(nn.Module):
    """A Conv2d or Linear plus share/transfer branches; ``merged()`` gives the folded layer."""

    def __init__(self, base: nn.Module, config: AdapterConfig):
        super().__init__()
        if not isinstance(base, nn.Conv2d | nn.Linear):
            raise TypeError(f"AdaptedLayer wraps nn.Conv2d or nn.Linear, not {type(base)}")
        self.base = base
        full = _full_rank(base)
        self.capped: list[str] = []
        for name, rank in (("share", config.r_share), ("transfer", config.r_transfer)):
            if name not in config.branches:
                setattr(self, name, None)
                continue
            if rank >= full and rank > 1:    # not low-rank any more (official r2=64 > d=60)
                self.capped.append(f"{name} r={rank} >= {full}")
            rank = min(rank, full)
            setattr(self, name, _Branch(base, rank, config.init))
        for name, value in (("scale_share", config.scale_share),
                            ("scale_transfer", config.scale_transfer)):
            t = torch.tensor(float(value), dtype=base.weight.dtype, device=base.weight.device)
            if config.learn_scales:
                self.register_parameter(name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.share is not None:
            y = y + self.scale_share * self.share(x)
        if self.transfer is not None:
            y = y + self.scale_transfer * self.transfer(x)
        return y

    def merged(self) -> nn.Module:
        """A copy of the base layer with both branches folded into its weight (float64 sum)."""
        layer = copy.deepcopy(self.base)
        groups = getattr(layer, "groups", 1)
        w = layer.weight.detach().double()
        for branch, scale in ((self.share, self.scale_share),
                              (self.transfer, self.scale_transfer)):
            if branch is not None:
                w = w + float(scale.detach()) * branch.delta_weight(groups)
        with torch.no_grad():
            layer.weight.copy_(w.to(layer.weight.dtype))
        layer.weight.requires_grad_(True)
        if layer.bias is not None:
            layer.bias.requires_grad_(True)
        return layer


def _candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d | nn.Linear) and not _inside_adapter(n, model)]


def _inside_adapter(name: str, model: nn.Module) -> bool:
    parts = name.split(".")
    mod: nn.Module = model
    for p in parts[:-1]:
        mod = getattr(mod, p)
        if isinstance(mod, AdaptedLayer):
            return True
    return False


def select_layers(model: nn.Module, config: AdapterConfig,
                  filter_fn: Filter | None = None) -> list[str]:
    """Names of the layers to wrap: ``include`` patterns, else the model's own
    ``adapter_targets`` (the release's networks: the window-attention ``qkv``/``proj``
    linears, as the release injects), else all Conv2d/Linear except the first and the last.

    Why: the first layer sees raw exposures and the last produces the HDR values; the paper
    adapts the feature-processing layers in between.
    """
    cands = _candidates(model)
    include = config.include or tuple(getattr(model, "adapter_targets", ()))
    if filter_fn is not None:
        names = [n for n, m in cands if filter_fn(n, m)]
    elif include:
        names = [n for n, _ in cands if any(fnmatch.fnmatchcase(n, p) for p in include)]
    else:
        names = [n for n, _ in cands[1:-1]]
    return [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in config.exclude)]


def _set_child(model: nn.Module, name: str, child: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, leaf, child)


def inject(model: nn.Module, config: AdapterConfig | None = None,
           filter_fn: Filter | None = None, **overrides: Any) -> nn.Module:
    """Wrap the selected layers in place and freeze the backbone (unless ``train_backbone``).

    Returns ``model`` (same object, same class). At init the up projections are zero, so the
    adapted model computes exactly what the backbone computed.
    """
    if adapted_layers(model):
        raise OptionError("model already carries adapters; unwrap() or merge() it first")
    config = config or AdapterConfig()
    if overrides:
        config = AdapterConfig.from_dict({**config.to_dict(), **overrides})
    names = select_layers(model, config, filter_fn)
    if not names:
        raise OptionError("adapter filter selected no Conv2d/Linear layer")
    gen_state = torch.random.get_rng_state()
    if config.seed is not None:
        torch.manual_seed(config.seed)
    capped = []
    try:
        for name in names:
            layer = AdaptedLayer(model.get_submodule(name), config)
            if layer.capped:
                capped.append(f"{name} ({', '.join(layer.capped)})")
            _set_child(model, name, layer)
    finally:
        if config.seed is not None:
            torch.random.set_rng_state(gen_state)
    if capped:
        more = f" and {len(capped) - 3} more" if len(capped) > 3 else ""
        warnings.warn(f"adapter rank >= full rank of {len(capped)} layer(s), capped at "
                      "min(in, out): "
                      f"{'; '.join(capped[:3])}{more}", stacklevel=2)
    for p in model.parameters():
        p.requires_grad_(config.train_backbone)
    for p in adapter_parameters(model):
        p.requires_grad_(True)
    model.s2r_adapter = config  # plain attribute: checkpoints record it
    return model


def adapted_layers(model: nn.Module) -> list[tuple[str, AdaptedLayer]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, AdaptedLayer)]


def adapter_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Branch weights and learnable scales (not the wrapped base layers)."""
    params: list[nn.Parameter] = []
    for _, layer in adapted_layers(model):
        for branch in (layer.share, layer.transfer):
            if branch is not None:
                params.extend(branch.parameters())
        params.extend(p for n, p in layer.named_parameters(recurse=False)
                      if n.startswith("scale_"))
    return params


def set_scales(model: nn.Module, share: float | None = None,
               transfer: float | None = None) -> None:
    """Assign the same (share, transfer) scales to every adapted layer (used by TTA)."""
    with torch.no_grad():
        for _, layer in adapted_layers(model):
            if share is not None:
                layer.scale_share.fill_(float(share))
            if transfer is not None:
                layer.scale_transfer.fill_(float(transfer))


def _replace_all(model: nn.Module, fn: Callable[[AdaptedLayer], nn.Module]) -> nn.Module:
    for name, layer in adapted_layers(model):
        _set_child(model, name, fn(layer))
    if "s2r_adapter" in model.__dict__:
        del model.__dict__["s2r_adapter"]
    return model


def merge(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold both branches into the backbone weights; returns a plain model of the original class.

    Requires no grad tracking and costs one small matrix product per layer. Parameters of the
    result are all trainable again (it is a plain backbone).
    """
    target = model if inplace else copy.deepcopy(model)
    target = _replace_all(target, AdaptedLayer.merged)
    for p in target.parameters():
        p.requires_grad_(True)
    return target


def unwrap(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Drop the branches and give back the untouched backbone layers."""
    target = model if inplace else copy.deepcopy(model)
    target = _replace_all(target, lambda layer: layer.base)
    for p in target.parameters():
        p.requires_grad_(True)
    return target


def _is_adapter_key(key: str, wrapped: set[str]) -> bool:
    return any(key.startswith(f"{w}.share.") or key.startswith(f"{w}.transfer.")
               or key in (f"{w}.scale_share", f"{w}.scale_transfer") for w in wrapped)


def load_backbone_state(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load a plain backbone's state_dict into an adapted model (``x.weight`` -> ``x.base.weight``).

    Why: adaptation starts from a pre-trained plain checkpoint; the adapter keys keep their init.
    """
    wrapped = {n for n, _ in adapted_layers(model)}
    mapped = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        mapped[f"{prefix}.base.{leaf}" if prefix in wrapped else key] = value
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not _is_adapter_key(k, wrapped)]
    if missing or unexpected:
        raise OptionError(f"backbone weights do not fit the model: missing {missing[:3]}, "
                         f"unexpected {list(unexpected)[:3]}")


def count_adapter_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in adapter_parameters(model)) + sum(
        b.numel() for _, layer in adapted_layers(model) for n, b in layer.named_buffers(
            recurse=False) if n.startswith("scale_"))


def summary_line(model: nn.Module) -> str:
    """One line for logs: how many layers are adapted and how many adapter parameters."""
    layers = adapted_layers(model)
    return (f"{len(layers)} adapted layers, {count_adapter_parameters(model):,} adapter "
            f"parameters ({math.fsum(p.numel() for p in model.parameters()):,.0f} total)")
