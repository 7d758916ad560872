"""16-bit TIFF read/write for the LDR inputs of the real benchmarks (cv2 handles TIFF fine).

Everything here is RGB: cv2 reads and writes BGR, and the reference loaders kept that BGR
for real data while synthetic data was RGB (official defect #9). We convert at the edge.
cv2 is imported on first use, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from s2rhdr_loader.core.atomic import atomic_path
from s2rhdr_loader.core.errors import DataError


class TiffError(DataError):
    """A TIFF is missing, unreadable or not 16-bit RGB; the message names the file."""


def read_tiff16(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint16 RGB; anything else (8-bit, grey, RGBA, corrupt) is a :class:`TiffError`."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise TiffError(f"{path}: file not found")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise TiffError(f"{path}: cannot decode TIFF (corrupt or not an image)")
    if img.dtype != np.uint16:
        raise TiffError(f"{path}: expected a 16-bit TIFF, got {img.dtype} "
                        "(the benchmarks ship 16-bit LDR inputs)")
    if img.ndim != 3 or img.shape[2] != 3:
        raise TiffError(f"{path}: expected 3 colour channels, got shape {img.shape}")
    return np.ascontiguousarray(img[:, :, ::-1])


def write_tiff16(path: str | os.PathLike, img: np.ndarray) -> Path:
    """Write (H, W, 3) uint16 RGB atomically."""
    import cv2

    path = Path(path)
    arr = np.asarray(img)
    if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{path}: expected (H, W, 3) uint16, got {arr.dtype} {arr.shape}")
    with atomic_path(path, ".tif") as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(arr[:, :, ::-1])):
            raise TiffError(f"{path}: cv2 could not write the TIFF")
    return path
