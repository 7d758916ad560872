"""Disk space: what a shot will take before it renders, and what a full disk looks like.

Why: a cluster run fills shared storage for days; a batch that notices only when a write
fails has wasted the shot in flight, and every later shot fails the same way. The batch
therefore estimates each shot (resolution x passes x frames x bytes per pixel of the EXR
settings) and stops cleanly while ``--min-free-gb`` is still free; a write that fails with
``ENOSPC`` anyway (other writers on the same disk) removes its partial shot and stops the
run the same way.

The estimate is an upper bound: raw pixel bytes times the compression ratio measured on a
noisy 1920x1080 HDR frame (reference/measurements.md section 2: OpenEXR 3.5, e.g. HALF ZIP
7.54 MB of 12.44 MB raw, FLOAT ZIP 23.55 of 24.88) plus 0.10 headroom for noisier frames
(few samples per pixel), the EXR header and offset table, camera records, plan.json and
meta.json, each file rounded up to whole filesystem blocks. Passes other than img and the
FLOAT geometry passes (diffuse, normal) are counted as FLOAT: Mitsuba writes them HALF, the
Unreal host FLOAT.
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Sequence

from pipeline.plan_model import ShotPlan
from s2rhdr_loader.core import layout

GB = 1e9
# file size / raw pixel bytes, measured for (pixel type, compression) (measurements.md §2)
MEASURED_RATIO: dict[tuple[str, str], float] = {
    ("half", "none"): 1.002, ("half", "rle"): 0.871, ("half", "zips"): 0.649,
    ("half", "zip"): 0.606, ("half", "piz"): 0.563, ("half", "pxr24"): 0.654,
    ("half", "b44"): 0.437, ("half", "b44a"): 0.437, ("half", "dwaa"): 0.264,
    ("half", "dwab"): 0.262, ("half", "zstd"): 0.638, ("half", "htj2k32"): 0.601,
    ("half", "htj2k256"): 0.588, ("half", "lj2k"): 0.224,
    ("float", "none"): 1.001, ("float", "rle"): 1.001, ("float", "zips"): 0.991,
    ("float", "zip"): 0.947, ("float", "piz"): 0.844, ("float", "pxr24"): 0.541,
    ("float", "b44"): 1.0, ("float", "b44a"): 1.0, ("float", "dwaa"): 0.132,
    ("float", "dwab"): 0.131, ("float", "zstd"): 0.791, ("float", "htj2k32"): 0.710,
    ("float", "htj2k256"): 0.702, ("float", "lj2k"): 0.111,
}
HEADROOM = 0.10  # noisier frames than the measured one compress worse
EXR_HEADER_BYTES = 4096  # attributes incl. chromaticities; measured files carry < 1 KiB
JSON_FRAME_BYTES = 4096  # camera_params/NNNN.json (about 1 KiB)
META_BYTES = 8192  # meta.json without the per-frame timings
BYTES_PER_SAMPLE = {"half": 2, "float": 4}


def _blocks(size: int, block: int) -> int:
    return int(math.ceil(size / block) * block) if size > 0 else 0


def ratio(pixel_type: str, compression: str) -> float:
    """Upper bound of file size / raw size for an EXR setting (1.0 + headroom if unknown)."""
    measured = MEASURED_RATIO.get((pixel_type.lower(), compression.lower()), 1.0)
    return min(1.0 + HEADROOM, measured + HEADROOM)


def pass_file_bytes(pass_name: str, width: int, height: int, img_type: str,
                    compression: str) -> int:
    """Upper bound of one EXR file of ``pass_name`` (header + offsets + pixels)."""
    pixel_type = img_type if pass_name == "img" else "float"
    raw = width * height * len(layout.PASS_CHANNELS[pass_name]) * BYTES_PER_SAMPLE[pixel_type]
    return int(raw * ratio(pixel_type, compression)) + EXR_HEADER_BYTES + 8 * height


def estimate_shot_bytes(plan: ShotPlan, passes: Sequence[str],
                        resolution: tuple[int, int] | None = None, *,
                        block: int = 4096) -> int:
    """Upper bound of the disk space one rendered shot occupies (whole blocks)."""
    w, h = resolution or plan.render.resolution
    per_frame = sum(_blocks(pass_file_bytes(p, w, h, plan.render.exr_pixel_type,
                                            plan.render.exr_compression), block)
                    for p in dict.fromkeys(("img", *passes)))
    per_frame += _blocks(JSON_FRAME_BYTES, block)
    plan_json = _blocks(int(len(plan.to_json().encode("utf-8")) * 1.1) + 1024, block)
    meta = _blocks(META_BYTES + 32 * plan.frames, block)
    return per_frame * plan.frames + plan_json + meta


def shot_resolution(plan: ShotPlan, backend: str, quality: str) -> tuple[int, int]:
    """The resolution a backend renders at a quality (Mitsuba's preview is 1/4 size)."""
    if backend == "mitsuba":
        from pipeline.backends.mitsuba import profile

        return tuple(profile(plan, quality)[0].render.resolution)  # type: ignore[return-value]
    return tuple(plan.render.resolution)  # type: ignore[return-value]


def free_bytes(path: str | os.PathLike) -> int:
    """Bytes an unprivileged writer may still use on the filesystem of ``path``."""
    st = os.statvfs(path)
    return int(st.f_bavail) * int(st.f_frsize)


def block_size(path: str | os.PathLike) -> int:
    try:
        return int(os.statvfs(path).f_frsize) or 4096
    except OSError:
        return 4096


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXT = ("no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` or anything in its cause/context chain is ENOSPC or EDQUOT.

    Some writers (OpenEXR's C++ core) report the OS error only in their message.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if any(t in str(exc).lower() for t in _FULL_TEXT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
