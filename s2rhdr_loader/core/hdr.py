"""Radiance RGBE (``.hdr``) files: the label format of Kalantari, SCT and Challenge123.

Decoding and encoding are OpenCV's (``imgcodecs/src/rgbe.cpp``, Greg Ward's reference code:
``value = mantissa * 2**(exponent - 136)``, flat and run-length encoded scanlines), so labels
read here equal ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` bit for bit, but in RGB order.
cv2 is imported on first use, never at import time. Black pixels are written as exponent 0
(the release's own RGBE writer divided by zero there). This module also finds the labels of
a real benchmark folder (``reference/hdr-metrics.md`` section 7).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2rhdr_loader.core.atomic import atomic_path
from s2rhdr_loader.core.errors import DataError

LABEL_NAMES = ("HDRImg.hdr", "hdr_img.hdr")
_SIGNATURES = (b"#?RADIANCE", b"#?RGBE")


class HdrError(DataError):
    """An ``.hdr`` file is missing, truncated or not Radiance RGBE; the message names it."""


def _cv2():
    import cv2

    return cv2


def read_hdr(path: str | os.PathLike) -> np.ndarray:
    """Linear RGB float32 (H, W, 3) of a Radiance file; any defect is an :class:`HdrError`."""
    path = Path(path)
    if not path.is_file():
        raise HdrError(f"{path}: file not found")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head.startswith(_SIGNATURES):
        raise HdrError(f"{path}: not a Radiance .hdr file (missing '#?RADIANCE' signature)")
    cv2 = _cv2()
    level = cv2.getLogLevel() if hasattr(cv2, "getLogLevel") else None
    if level is not None:  # cv2 logs its own RGBE error to stderr; ours is the one line
        cv2.setLogLevel(0)
    try:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    finally:
        if level is not None:
            cv2.setLogLevel(level)
    if img is None:
        raise HdrError(f"{path}: cannot decode Radiance pixels (truncated or corrupt file)")
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.float32:
        raise HdrError(f"{path}: expected 3 float channels, got {img.dtype} {img.shape}")
    return np.ascontiguousarray(img[:, :, ::-1])


def write_hdr(path: str | os.PathLike, img: np.ndarray) -> Path:
    """Write (H, W, 3) linear RGB as run-length encoded RGBE, atomically.

    Negative and non-finite values become 0 (RGBE has no sign and no infinity).
    """
    path = Path(path)
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{path}: expected an (H, W, 3) image, got shape {arr.shape}")
    arr = np.maximum(np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    with atomic_path(path, ".hdr") as tmp:
        if not _cv2().imwrite(str(tmp), np.ascontiguousarray(arr[:, :, ::-1])):
            raise HdrError(f"{path}: cv2 could not write the Radiance file")
    return path


@dataclass(frozen=True)
class LabelImage:
    """One real-benchmark label: ``name`` is its scene folder relative to the dataset root."""

    name: str
    path: Path


def find_labels(root: str | os.PathLike) -> list[LabelImage]:
    """Every HDRImg.hdr / hdr_img.hdr under ``root`` (or ``*.hdr`` if none), sorted by path."""
    root = Path(root)
    found = sorted(p for name in LABEL_NAMES for p in root.rglob(name) if p.is_file())
    if not found:
        found = sorted(p for p in root.rglob("*.hdr") if p.is_file())
    out = []
    for p in found:
        rel = p.parent.relative_to(root).as_posix()
        name = rel if rel != "." else p.stem
        if len(found) > 1 and sum(q.parent == p.parent for q in found) > 1:
            name = f"{name}/{p.stem}" if rel != "." else p.stem
        out.append(LabelImage(name, p))
    return out
