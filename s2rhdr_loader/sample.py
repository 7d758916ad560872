"""The one sample type of the loader and the one function that builds it.

Every dataset here -- rendered sequences (``S2RHDRDataset``), the real benchmarks
(``real.RealHDRDataset``) and the procedural data (``synthetic.SyntheticHDRDataset``) -- hands a
fusion network the same dict, built by :func:`make_sample`, so a model, a loss or a metric
never needs to know where its data came from. The format is the release's
(``dataset/dataset_render.py``: ``input0..2``, ``label``, ``exp``; reference/s2rhdr-format.md
section 4) in RGB order for every source (the release kept cv2's BGR for real data)::

    input0, input1, input2  (6, H, W) float32  [LDR**2.2 / t, LDR] for short, medium, long
    label                   (3, h, w) float32  linear HDR of the reference (position 1)
    exp                     (3,) float32       exposure times, shortest = 1
    frames                  (3,) int64         source frame of each input      (optional)
    size                    (2,) int64         (h, w) before padding           (optional)
    sequence, index         str, int           where the sample came from      (optional)

Optional keys are present only when the dataset knows them (the synthetic data has none, so
its batches stay pure tensors). A ``Sample`` is a plain ``dict`` at run time, so PyTorch's
``default_collate`` batches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import torch

from s2rhdr_loader.recipes import GAMMA

REQUIRED_KEYS = ("input0", "input1", "input2", "label", "exp")
OPTIONAL_KEYS = ("frames", "size", "sequence", "index")


class Sample(TypedDict, total=False):
    """One fusion-network sample (see the module docstring for shapes and meaning)."""

    input0: torch.Tensor
    input1: torch.Tensor
    input2: torch.Tensor
    label: torch.Tensor
    exp: torch.Tensor
    frames: torch.Tensor
    size: torch.Tensor
    sequence: str
    index: int


def sample_generator(seed: int, *key: int) -> np.random.Generator:
    """A generator that depends only on ``(seed, *key)``, not on the process or worker.

    Why: the release seeds ``np.random`` once at import, so its samples depend on the
    DataLoader's worker count and order; keyed generators make every sample reproducible.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *map(int, key)])))


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0), dtype=np.float32))


def make_sample(ldr: np.ndarray, exposures: Sequence[float] | np.ndarray, label: np.ndarray, *,
                linear: np.ndarray | None = None, gamma: float = GAMMA,
                frames: Sequence[int] | None = None, size: Sequence[int] | None = None,
                sequence: str | None = None, index: int | None = None) -> Sample:
    """Build a :class:`Sample` from channels-last numpy arrays.

    ``ldr`` (3, H, W, 3) in [0, 1], list order short, medium (reference), long; ``exposures``
    (3,) with the shortest at 1; ``label`` (h, w, 3) linear HDR of the reference. ``linear``
    (3, H, W, 3) replaces the default linear half ``LDR**gamma / (t + 1e-8)`` (the release's
    ``ldr_to_hdr``), e.g. with the inverse of a known camera response.
    """
    ldr = np.asarray(ldr)
    exps = np.asarray(exposures, dtype=np.float32).reshape(-1)
    if ldr.ndim != 4 or ldr.shape[0] != 3 or ldr.shape[-1] != 3 or exps.shape != (3,):
        raise ValueError(f"make_sample needs ldr (3, H, W, 3) and 3 exposures, got "
                         f"{ldr.shape} and {exps.shape}")
    if label.ndim != 3 or label.shape[-1] != 3:
        raise ValueError(f"make_sample needs a (h, w, 3) label, got {label.shape}")
    h, w = ldr.shape[1:3]
    out: Sample = {}
    for i in range(3):
        six = np.empty((6, h, w), np.float32)
        ldr_chw = np.moveaxis(ldr[i], -1, 0)
        six[3:] = ldr_chw
        if linear is None:
            np.power(six[3:], np.float32(gamma), out=six[:3])
            six[:3] /= np.float32(float(exps[i]) + 1e-8)
        else:
            six[:3] = np.moveaxis(linear[i], -1, 0)
        out[f"input{i}"] = torch.from_numpy(six)  # type: ignore[literal-required]
    out["label"] = _chw(label)
    out["exp"] = torch.from_numpy(exps.copy())
    if frames is not None:
        out["frames"] = torch.tensor([int(f) for f in frames], dtype=torch.int64)
    if size is not None:
        out["size"] = torch.tensor([int(v) for v in size], dtype=torch.int64)
    if sequence is not None:
        out["sequence"] = str(sequence)
    if index is not None:
        out["index"] = int(index)
    return out


def dataset_repr(dataset: object, body: Sequence[str], root: object | None = None) -> str:
    """torchvision's ``VisionDataset.__repr__`` layout: a head line, indented ``key: value``."""
    lines = [f"Number of datapoints: {len(dataset)}"]  # type: ignore[arg-type]
    if root is not None:
        lines.append(f"Root location: {root}")
    lines += list(body)
    transform = getattr(dataset, "transform", None)
    if transform is not None:
        lines.append(f"Transform: {transform!r}")
    return "\n".join([f"Dataset {type(dataset).__name__}", *("    " + x for x in lines)])
