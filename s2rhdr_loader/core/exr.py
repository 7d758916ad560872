"""EXR I/O: the one place that reads and writes OpenEXR files (OpenEXR package only).

Why a module of our own: opencv 5 wheels cannot read EXR, imageio silently returns garbage,
and a float32 -> float16 cast turns values >= 65520 into inf. Here HALF output is clamped to
65504 (and the clamp counted), writes are atomic (temporary name, then rename), every error
names the file, and crops can be decoded from a band of rows instead of the whole frame
(about 7x cheaper, ``reference/measurements.md`` section 3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2rhdr_loader.core.atomic import atomic_path
from s2rhdr_loader.core.errors import DataError, OptionError
from s2rhdr_loader.core.layout import HALF_MAX, LOSSLESS_COMPRESSIONS, LOSSY_COMPRESSIONS

REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
__all__ = ["HALF_MAX", "REC709_CHROMATICITIES", "ExrError", "ExrHeader", "WriteReport",
           "read_exr", "read_exr_rows", "read_header", "write_exr"]


class ExrError(DataError):
    """An EXR file is missing, truncated, not an EXR, or lacks the requested channels."""


@dataclass(frozen=True)
class ExrHeader:
    path: str
    width: int
    height: int
    channels: dict[str, str]  # name -> "half" | "float" | "uint"
    compression: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class WriteReport:
    path: str
    clamped: int  # values clamped to +-65504 (HALF only)
    nonfinite: int  # NaN/inf values found in the input (written as they are)


def _oe():
    import OpenEXR  # imported lazily: cheap, but keeps `import s2rhdr_loader` light

    return OpenEXR


def _compression(name: str) -> Any:
    name = name.lower()
    choices = ", ".join(LOSSLESS_COMPRESSIONS)
    if name in LOSSY_COMPRESSIONS:
        raise OptionError(f"EXR compression {name!r} is lossy; use one of {choices}")
    if name not in LOSSLESS_COMPRESSIONS:
        raise OptionError(f"unknown EXR compression {name!r}; use one of {choices}")
    return getattr(_oe(), "NO_COMPRESSION" if name == "none" else f"{name.upper()}_COMPRESSION")


def default_channels(n: int) -> tuple[str, ...]:
    return {1: ("Y",), 2: ("U", "V"), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}[n]


def write_exr(path: str | os.PathLike, image: np.ndarray, *, channels: Sequence[str] | None = None,
              pixel_type: str = "half", compression: str = "zip",
              attributes: Mapping[str, Any] | None = None,
              colour: bool | None = None) -> WriteReport:
    """Write ``image`` (H, W) or (H, W, C) atomically; HALF values are clamped to +-65504.

    ``channels`` names the C planes (default R,G,B / U,V / Y). Colour data (by default: the
    channels are R,G,B[,A]) gets the Rec.709 ``chromaticities`` attribute so readers know it
    is linear Rec.709; depth, normal, flow and mask planes are not colours and get none.
    """
    path = Path(path)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{path}: image must be (H, W) or (H, W, C), got shape {arr.shape}")
    names = tuple(channels) if channels is not None else default_channels(arr.shape[2])
    if len(names) != arr.shape[2]:
        raise ValueError(f"{path}: {arr.shape[2]} planes but {len(names)} channel names")
    pixel_type = pixel_type.lower()
    if pixel_type not in ("half", "float"):
        raise OptionError(f"{path}: pixel_type must be 'half' or 'float', got {pixel_type!r}")
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr)
    nonfinite = int(arr.size - np.count_nonzero(finite))
    clamped = 0
    if pixel_type == "half":
        over = np.abs(arr) > HALF_MAX
        clamped = int(np.count_nonzero(over & finite))
        if clamped:
            arr = np.where(over & finite, np.sign(arr) * HALF_MAX, arr)
        arr = arr.astype(np.float16)
    header: dict[str, Any] = {
        "compression": _compression(compression),
        "type": _oe().scanlineimage,
    }
    if colour if colour is not None else names[:3] == ("R", "G", "B"):
        header["chromaticities"] = REC709_CHROMATICITIES
    for key, value in (attributes or {}).items():
        header[str(key)] = value
    planes = {n: np.ascontiguousarray(arr[:, :, i]) for i, n in enumerate(names)}
    with atomic_path(path, ".exr") as tmp:
        _oe().File(header, planes).write(str(tmp))
    return WriteReport(str(path), clamped, nonfinite)


def _open(path: Path, header_only: bool = False):
    if not path.is_file():
        raise ExrError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ExrError(f"{path}: empty file (0 bytes), not an EXR")
    with open(path, "rb") as fh:
        if fh.read(4) != b"\x76\x2f\x31\x01":
            raise ExrError(f"{path}: not an OpenEXR file (bad magic number)")
    try:
        return _oe().File(str(path), header_only=header_only)
    except Exception as exc:  # OpenEXR raises plain RuntimeError / Exception on corrupt data
        raise ExrError(f"{path}: cannot read EXR ({' '.join(str(exc).split())})") from None


def read_header(path: str | os.PathLike) -> ExrHeader:
    """Header only (no pixel decode): size, channel types, compression, attributes."""
    path = Path(path)
    # The new API validates magic number and header and knows every compression (the old
    # Imath enum cannot print ZSTD/HTJ2K); the old one still gives channel pixel types.
    compression = _open(path, header_only=True).header().get("compression")
    try:
        h = _oe().InputFile(str(path)).header()
    except Exception as exc:
        raise ExrError(f"{path}: cannot read EXR header ({' '.join(str(exc).split())})") from None
    box = h["dataWindow"]
    width, height = box.max.x - box.min.x + 1, box.max.y - box.min.y + 1
    chans = {}
    for name, ch in h["channels"].items():
        t = str(ch)
        chans[name] = "half" if "HALF" in t else "float" if "FLOAT" in t else "uint"
    comp = getattr(compression, "name", "").replace("_COMPRESSION", "").lower()
    comp = "none" if comp == "no" else comp
    skip = {"channels", "dataWindow", "compression"}
    attrs = {k: v for k, v in h.items() if k not in skip}
    return ExrHeader(str(path), int(width), int(height), chans, comp, attrs)


def _split_planes(f: Any, path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, ch in f.channels().items():
        px = ch.pixels
        if px is None:
            raise ExrError(f"{path}: channel {name!r} has no pixel data (truncated file?)")
        if px.ndim == 3:  # grouped RGB / RGBA
            suffix = "RGBA"[: px.shape[2]]
            prefix = name[: -len(suffix)] if name.endswith(suffix) else ""
            for i, s in enumerate(suffix):
                out[prefix + s] = px[:, :, i]
        else:
            out[name] = px
    return out


def read_exr(path: str | os.PathLike, channels: Sequence[str] | None = None,
             dtype: Any = np.float32) -> np.ndarray:
    """Read a whole EXR as (H, W, C) ``dtype``; ``channels`` selects and orders the planes.

    Default channel order: R,G,B(,A) when present, else the file's channels sorted by name.
    """
    path = Path(path)
    f = _open(path)
    try:
        planes = _split_planes(f, path)
    except ExrError:
        raise
    except Exception as exc:
        raise ExrError(f"{path}: cannot decode EXR ({' '.join(str(exc).split())})") from None
    names = _order(list(planes), channels, path)
    return np.stack([planes[n] for n in names], axis=-1).astype(dtype, copy=False)


def _order(available: list[str], channels: Sequence[str] | None, path: Path) -> list[str]:
    if channels is None:
        rgb = [c for c in ("R", "G", "B", "A") if c in available]
        return rgb if len(rgb) >= 3 else sorted(available)
    missing = [c for c in channels if c not in available]
    if missing:
        raise ExrError(f"{path}: missing channel(s) {missing}; file has {sorted(available)}")
    return list(channels)


def read_exr_rows(path: str | os.PathLike, y0: int, y1: int,
                  channels: Sequence[str] | None = None, dtype: Any = np.float32, *,
                  columns: tuple[int, int] | None = None,
                  header: ExrHeader | None = None) -> np.ndarray:
    """Decode only rows ``[y0, y1)`` (a band read, far cheaper than a whole-frame read).

    ``columns=(x0, x1)`` keeps only those columns (cut before the planes are stacked, which
    otherwise costs a third of a 128-row band read). ``header``: the file's header when the
    caller already has it (e.g. frame 0 of a sequence whose frames share one format); saves
    re-reading it, and a file that does not match it is an :class:`ExrError`.
    """
    import Imath

    path = Path(path)
    head = header if header is not None else read_header(path)
    if not (0 <= y0 < y1 <= head.height):
        raise ValueError(f"{path}: row band [{y0}, {y1}) outside image height {head.height}")
    x0, x1 = columns if columns is not None else (0, head.width)
    if not (0 <= x0 < x1 <= head.width):
        raise ValueError(f"{path}: columns [{x0}, {x1}) outside image width {head.width}")
    names = _order(list(head.channels), channels, path)
    types = {head.channels[n] for n in names}
    as_half = types == {"half"}
    pt = Imath.PixelType(Imath.PixelType.HALF if as_half else Imath.PixelType.FLOAT)
    if header is not None and not path.is_file():
        raise ExrError(f"{path}: file not found")
    try:
        fh = _oe().InputFile(str(path))
        buffers = fh.channels(names, pt, y0, y1 - 1)
    except Exception as exc:
        raise ExrError(f"{path}: cannot decode rows {y0}-{y1} ({' '.join(str(exc).split())})") \
            from None
    np_t = np.float16 if as_half else np.float32
    rows = y1 - y0
    out = np.empty((rows, x1 - x0, len(names)), dtype=dtype)
    for i, b in enumerate(buffers):
        if len(b) != rows * head.width * np.dtype(np_t).itemsize:
            raise ExrError(f"{path}: size or pixel type differs from the expected "
                           f"{head.width}x{head.height} {sorted(types)} header")
        out[:, :, i] = np.frombuffer(b, dtype=np_t).reshape(rows, head.width)[:, x0:x1]
    return out
