"""Weights in and out of the S2R-HDR release's form (``.pth`` files its scripts load).

The release's ``test.py`` builds its network with fixed arguments, then does
``torch.load(path)``, takes ``["state_dict"]`` when present, strips ``module.`` prefixes and calls
``load_state_dict`` (strict). ``export_state`` turns a checkpoint of ours (possibly carrying
S2R-Adapter branches, which are merged first) into exactly that plain state dict;
``load_release_state`` reads one of the release's checkpoints (``weights_only=True``: no code
runs) so our trainer can adapt, test-time adapt or evaluate the released models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from s2rhdr_loader.core.atomic import atomic_path
from s2rhdr_loader.learn.adapter import adapted_layers, merge
from s2rhdr_loader.learn.checkpoint import CheckpointError
from s2rhdr_loader.learn.models.registry import RELEASE_NAMES

# What the release's test.py passes to each constructor, in our keyword names (our defaults).
RELEASE_TEST_KWARGS: dict[str, dict[str, Any]] = {
    "hdr-transformer": {"in_chans": 6, "embed_dim": 60, "depths": [6, 6, 6], "num_heads": 6,
                        "window_size": 8, "mlp_ratio": 2.0, "img_size": 128},
    "sctnet": {"in_chans": 18, "embed_dim": 60, "depths": [6, 6, 6, 6], "num_heads": 6,
               "window_size": 8, "mlp_ratio": 2.0, "img_size": 72, "channel_heads": 4},
}


def release_mismatch(name: str, kwargs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Constructor arguments where a checkpoint differs from the release's test.py build."""
    expected = RELEASE_TEST_KWARGS[name]

    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, tuple | list) else v

    return {k: (norm(kwargs.get(k, v)), v) for k, v in expected.items()
            if norm(kwargs.get(k, v)) != norm(v)}


def export_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The plain backbone state dict (adapter branches merged at their current scales)."""
    plain = merge(model) if adapted_layers(model) else model
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in plain.state_dict().items()}


def save_release_pth(path: str | os.PathLike, state: dict[str, torch.Tensor],
                     extra: dict[str, Any] | None = None) -> Path:
    """``{"state_dict": state, **extra}`` as the release's ``.pth`` (written atomically)."""
    path = Path(path)
    with atomic_path(path, ".pth") as tmp:
        torch.save({"state_dict": state, **(extra or {})}, tmp)
    return path


def load_release_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A release checkpoint's weights (``state_dict`` entry or the whole dict, no ``module.``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: not a loadable .pth of tensors ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") \
            from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: holds no state_dict of tensors")
    return {k.removeprefix("module."): v for k, v in data.items()}


def release_name(name: str) -> str:
    """The release's ``--model`` name for one of our registry names, or a one-line error."""
    if name not in RELEASE_NAMES:
        raise CheckpointError(f"model {name!r} has no counterpart in the S2R-HDR release; "
                              f"train one of {sorted(RELEASE_NAMES)} to export it")
    return RELEASE_NAMES[name]
