"""``official-preprocess``: the release's "processed" data, for exact reproduction of its runs.

Reproduces ``preprocess_s2r_hdr_data.py`` (reference/s2rhdr-format.md section 3):

1. per sequence, ``p1``/``p99`` over all pixels and channels of frame 0 (negatives clipped
   to 0 first), then every frame ``clip((clip(H, p1, p99) - p1) / (p99 - p1), 0, 1)``;
2. 640x640 patches on a stride-512 grid: x over ``range(0, W, 512)``, y over
   ``range(0, H, 512)``, skipped when ``x + 256 > W`` or ``y + 256 > H``, clamped to
   ``W - 640`` / ``H - 640``: 8 patches per 1080p frame, named as the release's loop names
   them (``_1536_0`` then ``_1280_512``: it overwrites ``x`` inside the ``y`` loop;
   ``release.patch_grid``), or by the grid corner with ``naming="grid"``;
3. float16 EXRs with PIZ compression (pyexr's default), ``trainlist.txt`` listing every
   output folder (newline-separated, no trailing newline). A source written by
   ``export-official`` carries ``trainlist/vallist/testlist.txt``: each becomes the list of
   its scenes' outputs instead, so the split survives.

KNOWN FLAW (kept on purpose, this mode exists for fidelity): the p99 clip saturates the top
1% of frame 0 at exactly 1.0 and subtracts a black level, so highlights are destroyed and
the data is no longer a radiance scale. Train on raw data with ``normalize="preserve"``
instead unless you must reproduce the paper. Unlike the release this is sorted, resumable
(finished sequences are recorded in ``<dst>.s2rhdr-work/official_preprocess.json`` and
skipped; staging is there too, so the output root holds nothing but scenes and lists) and
isolates errors per sequence (one bad file does not stop the others).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s2rhdr_loader.core.atomic import atomic_write_json
from s2rhdr_loader.core.exr import ExrError, read_exr, write_exr
from s2rhdr_loader.core.layout import (
    LayoutError,
    SequenceInfo,
    discover,
    read_json,
    safe_child,
    work_dir,
)
from s2rhdr_loader.core.progress import Progress
from s2rhdr_loader.release import LIST_FILES, TRAINLIST, patch_grid, read_list, write_list
from s2rhdr_loader.scene_jobs import each_scene

__all__ = ["PreprocessReport", "official_preprocess", "patch_grid", "preprocess_sequence",
           "state_files"]
STATE = "official_preprocess.json"  # in the output's work folder (layout.work_dir)
LEGACY_STATE = ".official_preprocess.json"  # inside the output root (before issue 14)
PARTIAL = "partial"  # staging, in the work folder: nothing but scenes in the output root


def state_files(root: str | os.PathLike) -> list[Path]:
    """Where a preprocessed root's record may be, newest convention first."""
    return [work_dir(root) / STATE, Path(root) / LEGACY_STATE]


def official_range(frame0: np.ndarray) -> tuple[float, float]:
    f = np.maximum(np.nan_to_num(frame0, nan=0.0, posinf=0.0), 0.0)
    p1, p99 = np.percentile(f, [1, 99])
    return float(p1), float(p99)


def apply_range(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    img = np.maximum(np.nan_to_num(img, nan=0.0, posinf=0.0), 0.0)
    span = hi - lo if hi > lo else 1.0
    return np.clip((np.clip(img, lo, hi) - lo) / span, 0.0, 1.0).astype(np.float32)


def preprocess_sequence(seq: SequenceInfo, work: Path, patch: int | None, stride: int,
                        naming: str = "release") -> list[str]:
    """Write one sequence's outputs under ``work`` (a private folder); returns their names."""
    frame0 = read_exr(seq.frames[0], channels=("R", "G", "B"))
    lo, hi = official_range(frame0)
    h, w = frame0.shape[:2]
    grid = patch_grid(h, w, patch, stride, naming) if patch else [("", 0, 0)]
    names = [f"{seq.name}_{suffix}" if suffix else seq.name for suffix, _, _ in grid]
    for i, path in enumerate(seq.frames):
        img = frame0 if i == 0 else read_exr(path, channels=("R", "G", "B"))
        if img.shape[:2] != (h, w):
            raise LayoutError(f"{path}: size {img.shape[1]}x{img.shape[0]} differs from "
                              f"frame 0 ({w}x{h})")
        norm = apply_range(img, lo, hi)
        for name, (_, x, y) in zip(names, grid):
            crop = norm[y:y + patch, x:x + patch] if patch else norm
            write_exr(work / name / "img" / f"{i:04d}.exr", crop, compression="piz")
    return names


def _task(seq: SequenceInfo, dst: Path, patch: int | None, stride: int,
          naming: str) -> tuple[str, Any]:
    work = safe_child(work_dir(dst), PARTIAL, seq.name)
    try:
        if work.exists():
            shutil.rmtree(work)
        names = preprocess_sequence(seq, work, patch, stride, naming)
        for name in names:
            final = safe_child(dst, name)
            if final.exists():
                shutil.rmtree(final)
            os.replace(work / name, final)
        shutil.rmtree(work, ignore_errors=True)
        return seq.name, names
    except (ExrError, LayoutError, ValueError, OSError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        return seq.name, RuntimeError(" ".join(str(exc).split()))


@dataclass
class PreprocessReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    outputs: int = 0
    lists: dict[str, int] = field(default_factory=dict)  # list file -> entries


def _read_state(dst: Path) -> dict[str, Any]:
    for path in state_files(dst):
        if path.is_file():
            state = read_json(path)
            if isinstance(state, dict) and isinstance(state.get("done"), dict):
                return state
            raise LayoutError(f"{path}: not an official-preprocess record; delete it and rerun")
    return {"done": {}}


def _source_lists(src: Path) -> dict[str, list[str]]:
    """``trainlist.txt``/``vallist.txt``/``testlist.txt`` of the source (export-official's)."""
    return {name: read_list(src / name) for name in LIST_FILES.values() if (src / name).is_file()}


def write_lists(src: Path, dst: Path, done: dict[str, list[str]]) -> dict[str, int]:
    """The output's scene lists: the source's lists carried over to the outputs of their scenes
    (so a split made by ``export-official`` survives), or, without any, ``trainlist.txt`` with
    every output as the release's ``create_scene_list`` writes it."""
    lists = _source_lists(src)
    if not lists:
        lists = {TRAINLIST: sorted(done)}
    counts = {}
    for name, scenes in lists.items():
        outs = sorted(o for s in scenes for o in done.get(s, []))
        write_list(dst / name, outs)
        counts[name] = len(outs)
    return counts


def official_preprocess(src: str | os.PathLike, dst: str | os.PathLike, *, jobs: int = 1,
                        patch: int | None = 640, stride: int = 512, naming: str = "release",
                        progress: bool = True) -> PreprocessReport:
    """Normalise (and with ``patch`` crop) every sequence of ``src`` into ``dst``.

    ``naming``: ``"release"`` (default) names patches exactly as the release's loop does,
    ``"grid"`` by their un-clamped grid corner (``release.patch_grid``). Staging and the resume
    record live in ``layout.work_dir(dst)``, so ``dst`` holds only scenes and scene lists.
    """
    src, dst = Path(src), Path(dst)
    seqs = discover(src)
    if not seqs:
        raise LayoutError(f"{src}: no sequences found")
    if dst.resolve() == src.resolve():
        raise LayoutError(f"{dst}: output must differ from the source folder")
    if patch:
        patch_grid(patch, patch, patch, stride, naming)  # bad options fail before any work
    dst.mkdir(parents=True, exist_ok=True)
    state = _read_state(dst)
    state_path = state_files(dst)[0]
    report = PreprocessReport()
    todo = []
    for seq in seqs:
        outs = state["done"].get(seq.name)
        if outs and all((dst / o / "img").is_dir() for o in outs):
            report.skipped.append(seq.name)
        else:
            todo.append(seq)
    with Progress(len(seqs), "official-preprocess", enabled=progress,
                  initial=len(report.skipped)) as bar:

        def record(name: str, result: Any) -> None:
            if isinstance(result, Exception):
                report.failed[name] = str(result)
            else:
                state["done"][name] = result
                atomic_write_json(state_path, state)
                report.done.append(name)
            bar.update(1, note=name)

        for name, result in each_scene(_task, todo, (dst, patch, stride, naming), jobs=jobs):
            record(name, result)
    shutil.rmtree(work_dir(dst) / PARTIAL, ignore_errors=True)
    report.outputs = sum(len(o) for o in state["done"].values())
    report.lists = write_lists(src, dst, {s: list(o) for s, o in state["done"].items()})
    return report
