"""Patch cache: each sequence's frames as one memory-mapped half-float ``.npy`` (N, H, W, 3).

Why: a 128x128 window of a memmap costs ~0.1 ms against 4-9 ms for an EXR band read and
~30 ms for the whole-frame decode the release does per sample (reference/measurements.md
sections 3 and 5). ``index.json`` records, per sequence, the source files' hash, sizes,
the array's SHA-256 and frame-0 normalisation statistics, so building is resumable (a
sequence whose source hash matches is skipped) and a stale or damaged cache is detected.
Values are stored as float16, clamped to +-65504 (sources are HALF EXRs already).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2rhdr_loader.core.atomic import atomic_write_json
from s2rhdr_loader.core.exr import HALF_MAX, ExrError, read_exr
from s2rhdr_loader.core.layout import (
    LayoutError,
    SequenceInfo,
    discover,
    file_sha256,
    read_json,
    safe_child,
)
from s2rhdr_loader.core.progress import Progress
from s2rhdr_loader.recipes import frame_stats, half_to_float

INDEX = "index.json"
FORMAT = "s2rhdr.patch_cache"


def source_hash(seq: SequenceInfo) -> str:
    """SHA-256 over the img frames' names and contents (what the cache was built from)."""
    h = hashlib.sha256()
    for i, p in enumerate(seq.frames):
        h.update(f"{i}:{p.name}:{file_sha256(p)}\n".encode())
    return h.hexdigest()


def _sizes(seq: SequenceInfo) -> list[int]:
    return [p.stat().st_size for p in seq.frames]


def read_index(cache_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(cache_dir) / INDEX
    if not path.is_file():
        return {"format": FORMAT, "version": 1, "sequences": {}}
    data = read_json(path)
    if data.get("format") != FORMAT:
        raise LayoutError(f"{path}: not an s2rhdr patch-cache index")
    return data


@dataclass
class CacheReport:
    built: list[str]
    skipped: list[str]
    failed: dict[str, str]


def _build_one(seq: SequenceInfo, cache_dir: Path, src_hash: str) -> dict[str, Any]:
    first = read_exr(seq.frames[0], channels=("R", "G", "B"))
    h, w = first.shape[:2]
    target = safe_child(cache_dir, f"{seq.name}.npy")
    tmp = target.with_name(f".{target.name}.tmp")
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16,
                                    shape=(seq.num_frames, h, w, 3))
    try:
        clamped = 0
        for i, p in enumerate(seq.frames):
            img = first if i == 0 else read_exr(p, channels=("R", "G", "B"))
            if img.shape[:2] != (h, w):
                raise LayoutError(f"{p}: size {img.shape[1]}x{img.shape[0]} differs from "
                                  f"frame 0 ({w}x{h})")
            clamped += int(np.count_nonzero(np.abs(img) > HALF_MAX))
            arr[i] = np.clip(img, -HALF_MAX, HALF_MAX)
        arr.flush()
        del arr
        digest = file_sha256(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"file": target.name, "shape": [seq.num_frames, h, w, 3], "dtype": "float16",
            "npy_sha256": digest, "source_hash": src_hash, "source_sizes": _sizes(seq),
            "clamped": clamped, "stats": frame_stats(first)}


def build_cache(root: str | os.PathLike, cache_dir: str | os.PathLike, *,
                progress: bool = True) -> CacheReport:
    """Cache every sequence under ``root``; resumable, one failed sequence does not stop others."""
    cache_dir = Path(cache_dir)
    seqs = discover(root)  # bad input fails before anything is created
    if not seqs:
        raise LayoutError(f"{root}: no sequences found")
    cache_dir.mkdir(parents=True, exist_ok=True)
    index = read_index(cache_dir)
    report = CacheReport([], [], {})
    with Progress(len(seqs), "cache", enabled=progress) as bar:
        for seq in seqs:
            try:
                src = source_hash(seq)
                rec = index["sequences"].get(seq.name)
                if rec and rec.get("source_hash") == src and _array_ok(cache_dir, rec):
                    report.skipped.append(seq.name)
                else:
                    index["sequences"][seq.name] = _build_one(seq, cache_dir, src)
                    atomic_write_json(cache_dir / INDEX, index)
                    report.built.append(seq.name)
            except (ExrError, LayoutError, OSError) as exc:
                report.failed[seq.name] = " ".join(str(exc).split())
            bar.update(1, note=seq.name)
    return report


def _array_ok(cache_dir: Path, rec: dict[str, Any]) -> bool:
    """Cheap resume check: the array exists and its header maps the recorded shape in full.

    Why: a truncated or overwritten array must be rebuilt by a re-run, not skipped (full
    content hashes are what ``--verify`` is for).
    """
    try:
        arr = np.load(safe_child(cache_dir, rec["file"]), mmap_mode="r")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return list(arr.shape) == list(rec.get("shape", [])) and arr.dtype == np.float16


def verify_cache(cache_dir: str | os.PathLike) -> list[str]:
    """Problems found by re-hashing every cached array; [] when intact."""
    cache_dir = Path(cache_dir)
    problems = []
    for name, rec in sorted(read_index(cache_dir)["sequences"].items()):
        p = cache_dir / rec["file"]
        if not p.is_file():
            problems.append(f"{p}: missing (sequence {name})")
        elif file_sha256(p) != rec["npy_sha256"]:
            problems.append(f"{p}: content changed (sha256 mismatch); delete it and rerun "
                            "`s2rhdr-loader cache` to rebuild it")
    return problems


class CachedFrames:
    """Crops of one sequence from its memory-mapped array (opened lazily, per process)."""

    def __init__(self, seq: SequenceInfo, path: Path, rec: dict[str, Any]):
        self.seq, self.path = seq, path
        self.num_frames, self.height, self.width = (int(v) for v in rec["shape"][:3])
        self._stats = dict(rec["stats"])
        self._arr: np.ndarray | None = None

    def _array(self) -> np.ndarray:
        if self._arr is None:
            try:
                self._arr = np.load(self.path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise LayoutError(f"{self.path}: unreadable cache array ({exc}); rebuild with "
                                  "`s2rhdr-loader cache`") from None
            if tuple(self._arr.shape) != (self.num_frames, self.height, self.width, 3):
                raise LayoutError(f"{self.path}: shape {self._arr.shape} does not match "
                                  f"{INDEX}; rebuild with `s2rhdr-loader cache`")
        return self._arr

    def crop(self, i: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return half_to_float(np.array(self._array()[i, y0:y1, x0:x1]))

    def stats(self) -> dict[str, float]:
        return self._stats

    def __getstate__(self) -> dict[str, Any]:  # workers reopen the memmap themselves
        state = dict(self.__dict__)
        state["_arr"] = None
        return state


def open_cache(cache_dir: str | os.PathLike,
               sequences: Iterable[SequenceInfo]) -> list[CachedFrames]:
    """Cache accessors for ``sequences``; a missing or stale entry is a one-line error."""
    cache_dir = Path(cache_dir)
    if not (cache_dir / INDEX).is_file():
        raise LayoutError(f"{cache_dir}: no {INDEX} (build it with "
                          f"`s2rhdr-loader cache ROOT -o {cache_dir}`)")
    index = read_index(cache_dir)["sequences"]
    out = []
    for seq in sequences:
        rec = index.get(seq.name)
        if rec is None:
            raise LayoutError(f"{cache_dir}: sequence {seq.name!r} is not cached (run "
                              f"`s2rhdr-loader cache {seq.path.parent} -o {cache_dir}`)")
        if rec.get("source_sizes") != _sizes(seq):
            raise LayoutError(f"{cache_dir}: cache of {seq.name!r} is stale (source frames "
                              "changed); rerun `s2rhdr-loader cache`")
        out.append(CachedFrames(seq, safe_child(cache_dir, rec["file"]), rec))
    return out
