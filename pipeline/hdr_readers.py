"""Readers for real HDR benchmark labels (Radiance RGBE ``.hdr``) so datasets can be compared.

Kalantari and SCT ship ``HDRImg.hdr`` per scene, Challenge123 ``xxx_2/hdr_img.hdr``
(``reference/hdr-metrics.md`` section 7). Decoding is the shared numpy RGBE reader
(``s2rhdr_loader.rgbe``, RGB order, identical to cv2's decode); this module finds the labels.
Labels are at their native scale (~[0, 1], shortest-exposure radiance), which is what the
statistics expect for real data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABEL_NAMES = ("HDRImg.hdr", "hdr_img.hdr")


def read_hdr(path: str | os.PathLike) -> np.ndarray:
    """Linear RGB float32 (H, W, 3); delegates to the shared ``s2rhdr_loader.rgbe`` reader.

    Raises ``RGBEError`` (a ValueError naming the file) for missing, empty, truncated or
    non-Radiance files.
    """
    from s2rhdr_loader.rgbe import read_hdr as _read

    return np.ascontiguousarray(_read(path), dtype=np.float32)


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
