"""Radiance RGBE (``.hdr``) read/write in numpy: the label format of Kalantari, SCT, Challenge123.

Why our own: imageio needs a FreeImage download for ``.hdr``, and the official RGBE writer
divides by zero on black pixels. Decoding follows Greg Ward's ``rgbe.c`` (the code OpenCV
uses): ``value = mantissa * 2**(exponent - 136)`` with no half-unit offset, so labels read
here equal ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` bit for bit (but in RGB order).
Both flat and new-style run-length encoded scanlines are read; we write RLE scanlines
(smaller files, every reader supports them) or flat ones with ``rle=False``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

_SIZE_RE = re.compile(rb"^([-+])([YX])\s+(\d+)\s+([-+])([YX])\s+(\d+)\s*$")


class RGBEError(ValueError):
    """An ``.hdr`` file is missing, truncated or not Radiance RGBE; the message names it."""


def float_to_rgbe(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB -> (H, W, 4) uint8 RGBE; negatives and NaN become 0 (no /0 on black)."""
    rgb = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    rgb = np.maximum(rgb, 0.0)
    v = rgb.max(axis=-1)
    mant, exp = np.frexp(v)
    big = exp > 127
    exp = np.where(big, 127, exp)
    mant = np.where(big, 255.0 / 256.0, mant)
    v = np.where(big, np.ldexp(mant, exp), v)
    rgb = np.minimum(rgb, v[..., None])
    ok = v >= 1e-32
    scale = np.where(ok, mant * 256.0 / np.where(ok, v, 1.0), 0.0)
    out = np.zeros(rgb.shape[:-1] + (4,), np.uint8)
    out[..., :3] = np.clip(np.floor(rgb * scale[..., None]), 0, 255).astype(np.uint8)
    out[..., 3] = np.where(ok, exp + 128, 0).astype(np.uint8)
    return out


def rgbe_to_float(rgbe: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3) float32, Ward's rule (exponent 0 means black)."""
    e = rgbe[..., 3].astype(np.int32)
    f = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0).astype(np.float32)
    return rgbe[..., :3].astype(np.float32) * f[..., None]


def _rle_channel(row: np.ndarray) -> bytes:
    """Encode one channel of one scanline (runs of >= 4 equal bytes, else literals)."""
    out = bytearray()
    n = len(row)
    i = 0
    data = row.tobytes()
    while i < n:
        j = i
        while j < n and j - i < 127 and data[j] == data[i]:
            j += 1
        if j - i >= 4:
            out += bytes((128 + j - i, data[i]))
            i = j
            continue
        k = i  # literal block until the next run of 4 or 128 bytes
        while k < n and k - i < 128:
            if k + 3 < n and data[k] == data[k + 1] == data[k + 2] == data[k + 3]:
                break
            k += 1
        if k == i:  # a run shorter than 4 but at block end
            k = i + 1
        out += bytes((k - i,)) + data[i:k]
        i = k
    return bytes(out)


def write_hdr(path: str | os.PathLike, img: np.ndarray, *, rle: bool = True) -> Path:
    """Write (H, W, 3) float RGB as Radiance RGBE, atomically (temporary name, then rename)."""
    path = Path(path)
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{path}: expected an (H, W, 3) image, got shape {arr.shape}")
    h, w = arr.shape[:2]
    px = float_to_rgbe(arr)
    parts = [b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n", f"-Y {h} +X {w}\n".encode()]
    if rle and 8 <= w <= 0x7FFF:
        head = bytes((2, 2, w >> 8, w & 255))
        for y in range(h):
            parts.append(head)
            for c in range(4):
                parts.append(_rle_channel(px[y, :, c]))
    else:
        parts.append(px.tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"".join(parts))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_header(data: bytes, path: Path) -> tuple[int, int, int, bool, bool]:
    """Parse the text header; returns (height, width, offset, flip_y, flip_x)."""
    if not (data.startswith(b"#?RADIANCE") or data.startswith(b"#?RGBE")):
        raise RGBEError(f"{path}: not a Radiance .hdr file (missing '#?RADIANCE' signature)")
    end = data.find(b"\n\n")
    if end < 0:
        raise RGBEError(f"{path}: truncated header (no blank line)")
    for line in data[:end].split(b"\n"):
        if line.startswith(b"FORMAT=") and line.strip() != b"FORMAT=32-bit_rle_rgbe":
            raise RGBEError(f"{path}: unsupported format {line.decode(errors='replace')!r} "
                            "(only 32-bit_rle_rgbe)")
    nl = data.find(b"\n", end + 2)
    if nl < 0:
        raise RGBEError(f"{path}: truncated header (no resolution line)")
    m = _SIZE_RE.match(data[end + 2:nl])
    if not m or m.group(2) != b"Y" or m.group(5) != b"X":
        line = data[end + 2:nl][:40].decode(errors="replace")
        raise RGBEError(f"{path}: unsupported resolution line {line!r} (expected '-Y H +X W')")
    h, w = int(m.group(3)), int(m.group(6))
    if h <= 0 or w <= 0:
        raise RGBEError(f"{path}: empty image ({w}x{h})")
    return h, w, nl + 1, m.group(1) == b"+", m.group(4) == b"-"


def _decode(buf: bytes, h: int, w: int, path: Path) -> np.ndarray:
    out = np.empty((h, w, 4), np.uint8)
    mv = memoryview(buf)
    pos = 0
    total = len(buf)
    for y in range(h):
        if total - pos < 4:
            raise RGBEError(f"{path}: truncated pixel data at scanline {y} of {h}")
        b0, b1, b2, b3 = buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]
        if not (8 <= w <= 0x7FFF and b0 == 2 and b1 == 2 and not (b2 & 0x80)):
            need = (h - y) * w * 4  # flat (uncompressed) for the rest of the image
            if total - pos < need:
                raise RGBEError(f"{path}: truncated pixel data at scanline {y} of {h}")
            out[y:] = np.frombuffer(mv[pos:pos + need], np.uint8).reshape(h - y, w, 4)
            return out
        if (b2 << 8 | b3) != w:
            raise RGBEError(f"{path}: corrupt scanline {y} (width {b2 << 8 | b3} != {w})")
        pos += 4
        for c in range(4):
            x = 0
            row = out[y, :, c]
            while x < w:
                if pos >= total:
                    raise RGBEError(f"{path}: truncated pixel data at scanline {y} of {h}")
                n = buf[pos]
                if n > 128:
                    n -= 128
                    if x + n > w or pos + 1 >= total:
                        raise RGBEError(f"{path}: corrupt run at scanline {y}")
                    row[x:x + n] = buf[pos + 1]
                    pos += 2
                else:
                    if n == 0 or x + n > w or pos + 1 + n > total:
                        raise RGBEError(f"{path}: corrupt literal block at scanline {y}")
                    row[x:x + n] = np.frombuffer(mv[pos + 1:pos + 1 + n], np.uint8)
                    pos += 1 + n
                x += n
    return out


def read_hdr(path: str | os.PathLike) -> np.ndarray:
    """Read a Radiance ``.hdr`` as (H, W, 3) float32 **RGB** (cv2 would give BGR)."""
    path = Path(path)
    if not path.is_file():
        raise RGBEError(f"{path}: file not found")
    data = path.read_bytes()
    h, w, off, flip_y, flip_x = _read_header(data, path)
    img = rgbe_to_float(_decode(data[off:], h, w, path))
    if flip_y:
        img = img[::-1]
    if flip_x:
        img = img[:, ::-1]
    return np.ascontiguousarray(img)
