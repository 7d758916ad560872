"""Readers for real HDR benchmark labels (Radiance RGBE ``.hdr``) so datasets can be compared.

Kalantari and SCT ship ``HDRImg.hdr`` per scene, Challenge123 ``xxx_2/hdr_img.hdr``
(``reference/hdr-metrics.md`` section 7). cv2 decodes RGBE natively (no EXR involved), returns
BGR; we return RGB like every other reader in the toolkit. Labels are at their native scale
(~[0, 1], shortest-exposure radiance), which is what the statistics expect for real data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABEL_NAMES = ("HDRImg.hdr", "hdr_img.hdr")


class HdrError(ValueError):
    """An RGBE file is missing, empty or cannot be decoded; the message names the file."""


def read_hdr(path: str | os.PathLike) -> np.ndarray:
    """Linear RGB float32 (H, W, 3) from a Radiance RGBE file."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise HdrError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise HdrError(f"{path}: empty file (0 bytes), not a Radiance .hdr")
    with open(path, "rb") as fh:
        if not fh.read(2) == b"#?":
            raise HdrError(f"{path}: not a Radiance .hdr file (missing '#?' signature)")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if img is None or img.ndim != 3 or img.shape[2] < 3:
        raise HdrError(f"{path}: cannot decode Radiance .hdr (truncated or corrupt)")
    return np.ascontiguousarray(img[:, :, 2::-1], dtype=np.float32)


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
