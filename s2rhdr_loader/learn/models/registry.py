"""One registry for the reference fusion nets (the official code had two spellings of one
key, defect #13). ``build_model(name, **kwargs)`` is what checkpoints record and rebuild."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.learn.models.ahdr import AHDRNet
from s2rhdr_loader.learn.models.release_nets import HDRTransformerRelease, SCTNet
from s2rhdr_loader.learn.models.transformer import HDRTransformer

MODELS: dict[str, Callable[..., nn.Module]] = {
    "ahdr": AHDRNet,
    "transformer": HDRTransformer,
    # the release's networks with its state-dict names (``s2rhdr-train export-release``)
    "hdr-transformer": HDRTransformerRelease,
    "sctnet": SCTNet,
}
# registry name -> the release's ``--model`` name for it
RELEASE_NAMES = {"hdr-transformer": "HDR-Transformer", "sctnet": "SCTNet"}

# Tiny configurations for tests, CI smoke runs and the CPU adapter study.
TINY: dict[str, dict[str, Any]] = {
    "ahdr": {"feat": 16, "growth": 8, "blocks": 2, "layers": 3},
    "transformer": {"dim": 16, "depths": (1, 1), "heads": 2, "window": 4},
    "hdr-transformer": {"embed_dim": 16, "depths": (2,), "num_heads": 2, "window_size": 4,
                        "img_size": 16},
    "sctnet": {"embed_dim": 24, "depths": (2,), "num_heads": 2, "window_size": 4,
               "img_size": 16, "channel_heads": 2},
}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered model; unknown names/kwargs raise a one-line ValueError."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise OptionError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    for key in ("depths", "num_heads", "img_size"):   # JSON turns tuples into lists
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise OptionError(f"model {name!r}: bad arguments {kwargs} ({exc})") from None


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
