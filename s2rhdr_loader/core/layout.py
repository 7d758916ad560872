"""The on-disk dataset layout (DESIGN.md section 4): the contract writers and readers share.

```
<root>/manifest.json
<root>/<sequence>/img/0000.exr ...            ours (also the official README form)
<root>/<sequence>/img/HDR/0003.exr ...        official preprocessing form (renumbered 0..)
<root>/<sequence>/{depth,normal,diffuse,flow,mask}/NNNN.exr
<root>/<sequence>/camera_params/NNNN.json
<root>/<sequence>/plan.json, meta.json
<root>.s2rhdr-work/                           work state of writers (never inside the root)
```
This module also owns the constants of that contract (passes, their channels and pixel
types, the EXR compressions we accept, the HALF limit), so the spec parser, the renderers,
the validator and the editor all read one table. Every write goes through
``s2rhdr_loader.core.atomic``, and :func:`safe_child` keeps every output inside the root.

Standard library only (vendored into the Unreal editor).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2rhdr_loader.core.atomic import atomic_write_json
from s2rhdr_loader.core.errors import DataError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "s2rhdr.dataset"
MANIFEST_VERSION = 1
PASSES = ("img", "depth", "normal", "diffuse", "flow", "mask")
# EXR channel names per pass (img/diffuse linear Rec.709 RGB; depth in metres along the
# camera z axis; normal world-space unit vector; flow forward t->t+1 in pixels (U right,
# V down); mask: 0 static scene, k+1 for actor k of the plan, as float).
PASS_CHANNELS: dict[str, tuple[str, ...]] = {
    "img": ("R", "G", "B"),
    "diffuse": ("R", "G", "B"),
    "normal": ("X", "Y", "Z"),
    "depth": ("Z",),
    "flow": ("U", "V"),
    "mask": ("Y",),
}
COLOUR_PASSES = ("img", "diffuse")  # linear Rec.709: the only passes with chromaticities
# Geometry passes are always FLOAT (metres, sub-pixel flow, exact ids); colour passes follow
# the spec's ``exr_pixel_type``.
FLOAT_PASSES = ("depth", "flow", "mask")
HALF_MAX = 65504.0  # largest finite float16; float32 >= 65520 would become inf
# EXR compressions (OpenEXR 3.5, reference/measurements.md section 2). HTJ2K is lossless;
# LJ2K, DWA, B44 (HALF) and PXR24 (24-bit FLOAT) are not. cv2 4.x cannot read zstd/htj2k.
LOSSLESS_COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "zstd", "htj2k32", "htj2k256")
LOSSY_COMPRESSIONS = ("pxr24", "b44", "b44a", "dwaa", "dwab", "lj2k")
# Staging names: work in progress that must never be taken for a finished sequence.
SHOT_TMP_PREFIX = ".tmp-"  # batch: a shot being rendered (``.tmp-<name>-<pid>``)
SHOT_OLD_PREFIX = ".old-"  # batch: a replaced shot being deleted
MRQ_STAGING = ".mrq"  # Unreal: MRQ's raw output inside a shot folder
MRQ_AUX_STAGING = ".mrq_aux"  # Unreal: raw material passes, converted by the host
# Work state of a dataset root (shots in progress, claims, per-shot records, logs) lives in a
# sibling folder, never inside the root: readers such as the official release take every
# folder of the root for a sequence (``os.listdir`` in preprocess_s2r_hdr_data.py).
WORK_SUFFIX = ".s2rhdr-work"
# Only when the work folder cannot share the root's filesystem (the root is a mount point):
# shots are staged in this one hidden folder of the root, removed again when empty.
ROOT_STAGING = ".s2rhdr-staging"
MANIFEST_LOCK = "manifest.lock"  # in the work folder
CAMERA_PARAMS = "camera_params"
PLAN_FILE = "plan.json"
META_FILE = "meta.json"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FRAME_RE = re.compile(r"^(\d+)\.exr$")


class LayoutError(DataError):
    """A dataset folder does not follow the layout; the message names the path."""


def frame_name(index: int) -> str:
    return f"{index:04d}.exr"


def frame_path(seq_dir: str | os.PathLike, pass_name: str, index: int) -> Path:
    """Where frame ``index`` of ``pass_name`` lives in our layout."""
    return Path(seq_dir) / pass_name / frame_name(index)


def camera_params_path(seq_dir: str | os.PathLike, index: int) -> Path:
    return Path(seq_dir) / CAMERA_PARAMS / f"{index:04d}.json"


def work_dir(root: str | os.PathLike) -> Path:
    """The sibling folder holding a root's work state: ``data/`` -> ``data.s2rhdr-work/``."""
    base = Path(root).resolve()
    return base.with_name(base.name + WORK_SUFFIX)


def safe_child(root: str | os.PathLike, *parts: str) -> Path:
    """``root/parts...`` resolved, refusing anything that escapes ``root``."""
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise LayoutError(f"{target}: path escapes the output root {base}")
    return target


def write_camera_params(seq_dir: str | os.PathLike, index: int, record: Mapping[str, Any]) -> Path:
    return atomic_write_json(camera_params_path(seq_dir, index), dict(record))


def read_json(path: str | os.PathLike) -> Any:
    """A JSON record of the layout; a missing or unreadable file is a :class:`LayoutError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LayoutError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise LayoutError(f"{path}: unreadable JSON ({exc})") from None


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---- discovery --------------------------------------------------------------------------

@dataclass(frozen=True)
class SequenceInfo:
    """One sequence on disk: its frames per pass, in frame order (renumbered from 0)."""

    name: str
    path: Path
    variant: str  # "ours" (img/NNNN.exr) or "official_hdr" (img/HDR/NNNN.exr)
    frames: tuple[Path, ...]  # img frames
    passes: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)  # other passes
    first_index: int = 0  # number of the first img file (3 in the official HDR form)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def camera_params(self, i: int) -> Path:
        return camera_params_path(self.path, self.first_index + i)


def _numbered(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for p in folder.iterdir():
        m = _FRAME_RE.match(p.name)
        if m and p.is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def read_sequence(seq_dir: str | os.PathLike) -> SequenceInfo:
    """Describe one sequence folder, accepting both our layout and the official HDR form."""
    seq_dir = Path(seq_dir)
    img = seq_dir / "img"
    if not img.is_dir():
        raise LayoutError(f"{seq_dir}: no img/ folder (not a sequence)")
    numbered = _numbered(img)
    variant = "ours"
    if not numbered and (img / "HDR").is_dir():
        numbered = _numbered(img / "HDR")
        variant = "official_hdr"
    if not numbered:
        raise LayoutError(f"{img}: no frames named NNNN.exr")
    first = numbered[0][0]
    passes: dict[str, tuple[Path, ...]] = {}
    for name in PASSES[1:]:
        folder = seq_dir / name
        if folder.is_dir():
            passes[name] = tuple(p for _, p in _numbered(folder))
    return SequenceInfo(seq_dir.name, seq_dir, variant, tuple(p for _, p in numbered),
                        passes, first)


def discover(root: str | os.PathLike) -> list[SequenceInfo]:
    """All sequences under ``root`` (sorted by name); ``root`` may itself be a sequence.

    Folders starting with ``.`` or ``_`` (temporary shot folders, caches) are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: dataset root not found")
    if (root / "img").is_dir():
        return [read_sequence(root)]
    out = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith((".", "_")) and (child / "img").is_dir():
            out.append(read_sequence(child))
    return out


# ---- manifest ---------------------------------------------------------------------------

def empty_manifest(tool_version: str = "") -> dict[str, Any]:
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
            "tool_version": tool_version, "sequences": {}}


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.exists():
        return empty_manifest()
    data = read_json(path)
    if data.get("format") != MANIFEST_FORMAT:
        raise LayoutError(f"{path}: not an s2rhdr manifest")
    return data


_THREAD_LOCK = threading.Lock()  # flock is per open file; POSIX locks (NFS) per process


@contextmanager
def manifest_lock(root: str | os.PathLike) -> Iterator[None]:
    """Hold the exclusive lock for a read-modify-write of ``root``'s manifest.

    The lock file lives in the root's work folder (:func:`work_dir`), never in the root.
    ``flock`` works between processes of one host and, on Linux NFS clients, is sent to the
    server as a POSIX lock (needs NFSv4 or lockd; docs/rendering.md "100 nodes").
    """
    import fcntl

    work = work_dir(root)
    try:
        work.mkdir(parents=True, exist_ok=True)
        fh = open(work / MANIFEST_LOCK, "a+")
    except OSError as exc:
        raise LayoutError(f"{work}: cannot create the manifest lock ({exc.strerror})") from None
    with _THREAD_LOCK, fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
        except OSError as exc:
            raise LayoutError(f"{work / MANIFEST_LOCK}: the filesystem refuses file locks "
                              f"({exc.strerror}); on NFS enable locking (NFSv4 or lockd)"
                              ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def hash_files(seq_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """``{relative path: {size, sha256}}`` for every file of a sequence folder."""
    seq_dir = Path(seq_dir)
    out = {}
    for p in sorted(seq_dir.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            out[p.relative_to(seq_dir).as_posix()] = {"size": p.stat().st_size,
                                                      "sha256": file_sha256(p)}
    return out


def merge_manifest(root: str | os.PathLike, entries: Mapping[str, Mapping[str, Any] | None],
                   tool_version: str = "") -> dict[str, Any]:
    """Set (``None``: remove) several sequences' records in one locked read-modify-write.

    Entries of sequences not named are kept as they are on disk, so concurrent writers
    (two batches on one root) never lose each other's records.
    """
    root = Path(root)
    with manifest_lock(root):
        data = read_manifest(root)
        if tool_version:
            data["tool_version"] = tool_version
        for sequence, entry in entries.items():
            if entry is None:
                data["sequences"].pop(sequence, None)
            else:
                data["sequences"][sequence] = dict(entry)
        atomic_write_json(root / MANIFEST, data)
    return data


def update_manifest(root: str | os.PathLike, sequence: str, entry: Mapping[str, Any] | None,
                    tool_version: str = "") -> dict[str, Any]:
    """Set (or with ``entry=None`` remove) one sequence's record, atomically and locked."""
    return merge_manifest(root, {sequence: entry}, tool_version)


def verify_sequence(root: str | os.PathLike, sequence: str,
                    manifest: Mapping[str, Any] | None = None, *,
                    hashes: bool = True) -> list[str]:
    """Problems with a recorded sequence (missing, resized or changed files); [] if intact.

    ``hashes=False`` checks presence and sizes only (what a batch does at every start: a
    1080p dataset is terabytes to re-hash).
    """
    root = Path(root)
    manifest = manifest if manifest is not None else read_manifest(root)
    rec = manifest.get("sequences", {}).get(sequence)
    if rec is None:
        return [f"{sequence}: not recorded in {MANIFEST}"]
    problems = []
    for rel, info in rec.get("files", {}).items():
        p = root / sequence / rel
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif p.stat().st_size != info.get("size"):
            problems.append(f"{p}: size changed")
        elif hashes and info.get("sha256") and file_sha256(p) != info["sha256"]:
            problems.append(f"{p}: content changed (sha256 mismatch)")
    return problems
