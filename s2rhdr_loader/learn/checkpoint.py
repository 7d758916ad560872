"""Checkpoints: weights as safetensors, config as JSON, optimiser state apart.

Why safetensors (the Hugging Face package, https://github.com/huggingface/safetensors): reading
it never executes code (unlike pickle), the file is memory-mapped, and the library validates
the header and every tensor's offsets before handing out a tensor. The layout is the one the
in-house writer of earlier versions produced (8-byte little-endian header length, a JSON header
``{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`` padded with spaces, raw
little-endian bytes), so checkpoints written before the switch load unchanged (tested on a
file the old writer made, ``tests/data/old_checkpoint``).

A checkpoint directory holds::

    model.safetensors   weights (backbone + adapter branches + scales)
    config.json         model name/kwargs, adapter config, step, metrics, anything JSON
    optim.pt            optimiser/scheduler/scaler state (torch.save; loaded with weights_only=True)

Directories are written under a temporary name and renamed, so a kill never leaves half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from s2rhdr_loader.core.atomic import atomic_path, atomic_write_json
from s2rhdr_loader.core.errors import DataError
from s2rhdr_loader.core.layout import read_json

WEIGHTS, CONFIG, OPTIM, LATEST = "model.safetensors", "config.json", "optim.pt", "latest.json"
# what safetensors stores; anything else (complex, quantised) is refused with a clear message
DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
          torch.int16, torch.int8, torch.uint8, torch.bool)


class CheckpointError(DataError):
    """A checkpoint is missing, truncated or inconsistent; the message names the file."""


def save_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` atomically as safetensors (CPU, contiguous, no shared storage)."""
    path = Path(path)
    flat: dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        if t.dtype not in DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {t.dtype}")
        # clone: safetensors refuses tensors sharing storage (tied weights, views of one buffer)
        flat[str(name)] = t.detach().to("cpu").contiguous().clone()
    meta = {str(k): str(v) for k, v in (metadata or {}).items()} or None
    with atomic_path(path, ".safetensors") as tmp:
        save_file(flat, tmp, metadata=meta)
    return path


def load_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors on the CPU, metadata); any defect of the file is one :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable safetensors file ({reason}); "
                              "the file is truncated or corrupt: re-save or re-train it") \
            from None
    return tensors, metadata


# ---- checkpoint directories ----------------------------------------------------------------

def save_checkpoint(directory: str | os.PathLike, state: Mapping[str, torch.Tensor],
                    config: Mapping[str, Any], optim_state: Mapping[str, Any] | None = None
                    ) -> Path:
    """Write a checkpoint directory atomically (temp dir, then rename over any old one)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())   # mkdtemp makes 0700; a plain mkdir gets the umask
        save_safetensors(tmp / WEIGHTS, state, {"format": "pt"})
        atomic_write_json(tmp / CONFIG, dict(config))
        if optim_state is not None:
            with atomic_path(tmp / OPTIM, ".pt") as part:
                torch.save(dict(optim_state), part)
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_checkpoint(directory: str | os.PathLike, with_optim: bool = False
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any] | None]:
    """(state_dict, config, optimiser state or None). Accepts a run dir with ``latest.json``."""
    directory = resolve(directory)
    state, _ = load_safetensors(directory / WEIGHTS)
    try:
        config = read_json(directory / CONFIG)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    optim = None
    if with_optim and (directory / OPTIM).exists():
        try:
            optim = torch.load(directory / OPTIM, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise CheckpointError(f"{directory / OPTIM}: unreadable optimiser state "
                                  f"({type(exc).__name__}); delete the run folder to start "
                                  "over") from None
    return state, config, optim


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint dir itself, or a run dir whose ``latest.json`` names one."""
    path = Path(path)
    if (path / WEIGHTS).exists():
        return path
    if (path / LATEST).exists():
        try:
            name = read_json(path / LATEST)["checkpoint"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{path / LATEST}: unreadable, delete it to start over") \
                from None
        target = path / str(name)
        if (target / WEIGHTS).exists():
            return target
        # killed between the two renames of save_checkpoint: the previous one is intact
        old = target.with_name(f".{target.name}.old")
        if (old / WEIGHTS).exists():
            return old
        raise CheckpointError(f"{path / LATEST}: names {target}, which has no {WEIGHTS}")
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    raise CheckpointError(f"{path}: no {WEIGHTS} or {LATEST} here (not a checkpoint)")


def mark_latest(run_dir: str | os.PathLike, name: str, step: int) -> None:
    atomic_write_json(Path(run_dir) / LATEST, {"checkpoint": name, "step": int(step)})
