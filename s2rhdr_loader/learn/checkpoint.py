"""Checkpoints: weights as safetensors (written/read in-house), config as JSON, optimiser apart.

Why in-house: the safetensors format is tiny (8-byte little-endian header length, a JSON header
``{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`` padded with spaces to 8 bytes,
then raw little-endian tensor bytes) and reading it never executes code, unlike pickle. Files
written here load with the ``safetensors`` package and vice versa.

A checkpoint directory holds::

    model.safetensors   weights (backbone + adapter branches + scales)
    config.json         model name/kwargs, adapter config, step, metrics, anything JSON
    optim.pt            optimiser/scheduler/RNG state (torch.save; loaded with weights_only=True)

Directories are written under a temporary name and renamed, so a kill never leaves half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from s2rhdr_loader.core.atomic import atomic_write_bytes, atomic_write_json
from s2rhdr_loader.core.errors import DataError
from s2rhdr_loader.core.layout import read_json

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in DTYPES.items()}
WEIGHTS, CONFIG, OPTIM, LATEST = "model.safetensors", "config.json", "optim.pt", "latest.json"
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(DataError):
    """A checkpoint is missing, truncated or inconsistent; the message names the file."""


def _bytes_of(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.numel() == 0:
        return b""
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes()
    if sys.byteorder == "big" and t.element_size() > 1:   # pragma: no cover - big-endian hosts
        import numpy as np
        raw = np.frombuffer(raw, dtype=np.uint8).reshape(-1, t.element_size())[:, ::-1].tobytes()
    return raw


def save_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` atomically in the safetensors format (sorted names, no aliasing)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _NAMES:
            raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {t.dtype}")
        blob = _bytes_of(t)
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return atomic_write_bytes(path, struct.pack("<Q", len(head)) + head + b"".join(blobs))


def load_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file into CPU tensors; validate every offset before trusting it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc.strerror})") from None
    if len(data) < 8:
        raise CheckpointError(f"{path}: truncated (no header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise CheckpointError(f"{path}: truncated or not a safetensors file (header {n} bytes)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    out: dict[str, torch.Tensor] = {}
    for name, info in header.items():
        try:
            dtype = DTYPES[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: bad header entry for {name!r}") from None
        size = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
        if not 0 <= begin <= end <= len(body) or end - begin != size:
            raise CheckpointError(f"{path}: tensor {name!r} offsets {begin}..{end} do not fit "
                                  f"{info['dtype']}{shape} in {len(body)} data bytes "
                                  "(file truncated?)")
        buf = bytearray(body[begin:end])
        if sys.byteorder == "big" and dtype.itemsize > 1:   # pragma: no cover
            import numpy as np
            buf = bytearray(np.frombuffer(buf, np.uint8).reshape(-1, dtype.itemsize)[:, ::-1])
        flat = (torch.frombuffer(buf, dtype=torch.uint8) if buf
                else torch.empty(0, dtype=torch.uint8))
        out[name] = flat.view(dtype).reshape(shape).clone()
    return out, {str(k): str(v) for k, v in metadata.items()}


# ---- checkpoint directories ----------------------------------------------------------------

def save_checkpoint(directory: str | os.PathLike, state: Mapping[str, torch.Tensor],
                    config: Mapping[str, Any], optim_state: Mapping[str, Any] | None = None
                    ) -> Path:
    """Write a checkpoint directory atomically (temp dir, then rename over any old one)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        save_safetensors(tmp / WEIGHTS, state, {"format": "pt"})
        atomic_write_json(tmp / CONFIG, dict(config))
        if optim_state is not None:
            torch.save(dict(optim_state), tmp / OPTIM)
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
                                  f"({type(exc).__name__})") from None
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
