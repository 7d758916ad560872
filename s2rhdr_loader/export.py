"""``export-official``: a rendered dataset in the official S2R-HDR release's raw form.

Writes what the release's code reads (``release.py`` lists the facts, from its source)::

    <out>/<scene>/img/HDR/0003.exr ... 0026.exr     24 frames, renumbered from 3
    <out>/<scene>/<pass>/HDR/0003.exr ...           depth, normal, diffuse, flow, mask
    <out>/<scene>/camera_params/0003.json ...       our per-frame camera records
    <out>/<scene>/plan.json, meta.json              provenance (files: the release skips them)
    <out>/trainlist.txt, vallist.txt, testlist.txt  our by-scene split, in the release's format

so ``preprocess_s2r_hdr_data.py`` (or ``s2rhdr-loader official-preprocess``) runs on ``<out>``
unchanged. Colour frames are hard links to ours where the filesystem allows (no extra space;
our writers replace files by rename, so a re-render never changes an export in place), copies
otherwise, and re-encoded (ZIP, same pixels) when their compression is one OpenCV 4.x cannot
decode (the release reads frames with ``cv2.imread``). Auxiliary passes are rewritten, by
default, with the channel names OpenCV reads (``aux="rgb"``, see :data:`AUX_RGB`): cv2 4.x
returns ``None`` for our flow (U, V), zeros for depth (Z) and a single plane for normals
(X, Y, Z). ``aux="original"`` links them unchanged (for OpenEXR-based readers), ``"none"``
leaves them out.

Atomic and resumable: a scene is assembled in ``<out>.s2rhdr-work/staging/`` and renamed into
``<out>`` when complete; ``<out>.s2rhdr-work/export_official.json`` records each scene's
source fingerprint, so a re-run skips unchanged scenes and redoes changed ones. Nothing but
scenes and the three lists is ever written into ``<out>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s2rhdr_loader.core.atomic import atomic_write_json
from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.core.exr import ExrError, read_exr, read_header, write_exr
from s2rhdr_loader.core.layout import (
    CAMERA_PARAMS,
    COLOUR_PASSES,
    META_FILE,
    PLAN_FILE,
    LayoutError,
    SequenceInfo,
    discover,
    read_json,
    safe_child,
    work_dir,
)
from s2rhdr_loader.core.progress import Progress
from s2rhdr_loader.release import FIRST_FRAME, FRAMES, LIST_FILES, raw_frame_name, write_list
from s2rhdr_loader.scene_jobs import each_scene
from s2rhdr_loader.splits import DEFAULT_FRACTIONS, resolve

AUX_MODES = ("rgb", "original", "none")
# OpenCV 4.x decodes EXR with its bundled OpenEXR 2.3: these newer codecs fail ("can't read
# header"), reference/measurements.md section 2
CV2_UNREADABLE_COMPRESSIONS = ("zstd", "htj2k32", "htj2k256", "lj2k")
# What each non-colour pass becomes in the export: EXR channel (R, G, B) <- our channel;
# None = a plane of zeros. cv2 reads R,G,B files under every flag (IMREAD_UNCHANGED, -1,
# ANYDEPTH|COLOR as the release's read_flow), as BGR.
AUX_RGB: dict[str, tuple[str | None, str | None, str | None]] = {
    "flow": ("U", "V", None),
    "normal": ("X", "Y", "Z"),
    "depth": ("Z", "Z", "Z"),
    "mask": ("Y", "Y", "Y"),
}
STATE = "export_official.json"
STAGING, REPLACED = "staging", "replaced"
FORMAT = "s2rhdr.export_official"


@dataclass(frozen=True)
class FileJob:
    """One output file of a scene: ``kind`` is link (link or copy), transcode or convert."""

    kind: str
    src: Path
    rel: str
    pass_name: str = ""


@dataclass
class ExportReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=lambda: {"linked": 0, "copied": 0,
                                                           "transcoded": 0, "converted": 0})
    truncated: list[str] = field(default_factory=list)  # had more than 24 frames
    small: list[str] = field(default_factory=list)  # smaller than the release's 640 px patch
    lists: dict[str, int] = field(default_factory=dict)


def _rgb_job(src: Path, rel: str, pass_name: str) -> FileJob:
    comp = read_header(src).compression
    return FileJob("transcode" if comp in CV2_UNREADABLE_COMPRESSIONS else "link", src, rel,
                   pass_name)


def _numbered(paths: tuple[Path, ...], first: int) -> dict[int, Path]:
    """0-based frame index -> file, from the file names (passes may lack frames)."""
    out = {}
    for p in paths:
        if p.stem.isdigit():
            out[int(p.stem) - first] = p
    return out


def plan_scene(seq: SequenceInfo, aux: str = "rgb") -> list[FileJob]:
    """Every file the export of ``seq`` consists of (the first 24 frames)."""
    if aux not in AUX_MODES:
        raise OptionError(f"aux must be one of {AUX_MODES}, got {aux!r}")
    if seq.num_frames < FRAMES:
        raise LayoutError(f"{seq.path}: {seq.num_frames} frames, the release reads {FRAMES} "
                          f"(img/HDR/{raw_frame_name(0)} ... {raw_frame_name(FRAMES - 1)}); "
                          "render with `s2rhdr-render batch --profile s2rhdr`")
    jobs = [_rgb_job(seq.frames[i], f"img/HDR/{raw_frame_name(i)}", "img")
            for i in range(FRAMES)]
    if aux != "none":
        for name, paths in sorted(seq.passes.items()):
            for i, p in sorted(_numbered(paths, seq.first_index).items()):
                if not 0 <= i < FRAMES:
                    continue
                rel = f"{name}/HDR/{raw_frame_name(i)}"
                if name in COLOUR_PASSES or aux == "original" or name not in AUX_RGB:
                    jobs.append(_rgb_job(p, rel, name) if name in COLOUR_PASSES
                                else FileJob("link", p, rel, name))
                else:
                    jobs.append(FileJob("convert", p, rel, name))
    for i in range(FRAMES):
        cam = seq.camera_params(i)
        if cam.is_file():
            jobs.append(FileJob("link", cam, f"{CAMERA_PARAMS}/{FIRST_FRAME + i:04d}.json"))
    for extra in (PLAN_FILE, META_FILE):
        if (seq.path / extra).is_file():
            jobs.append(FileJob("link", seq.path / extra, extra))
    return jobs


def fingerprint(jobs: list[FileJob], aux: str) -> str:
    """Changes when a source file (size, mtime), the file set or the aux mode changes."""
    h = hashlib.sha256(f"{FORMAT}:1:{aux}\n".encode())
    for j in jobs:
        st = j.src.stat()
        h.update(f"{j.kind}:{j.rel}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _link_or_copy(src: Path, dst: Path, copy: bool) -> str:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not copy:
        try:
            os.link(src, dst)
            return "linked"
        except OSError:  # another filesystem (EXDEV), no hard links (EPERM/ENOTSUP), ...
            pass
    shutil.copyfile(src, dst)
    return "copied"


def convert_aux(src: Path, dst: Path, pass_name: str) -> None:
    """Rewrite one geometry pass with R, G, B channels (``AUX_RGB``), pixel type kept."""
    head = read_header(src)
    mapping = AUX_RGB[pass_name]
    wanted = sorted({c for c in mapping if c is not None})
    planes = read_exr(src, channels=wanted)
    pixel = "float" if any(head.channels.get(c) == "float" for c in wanted) else "half"
    zero = np.zeros(planes.shape[:2], np.float32)
    rgb = np.stack([planes[..., wanted.index(c)] if c is not None else zero for c in mapping],
                   axis=-1)
    desc = " ".join(f"{k}={c if c is not None else 0}" for k, c in zip("RGB", mapping))
    comp = head.compression if head.compression not in CV2_UNREADABLE_COMPRESSIONS else "zip"
    write_exr(dst, rgb, channels=("R", "G", "B"), pixel_type=pixel, compression=comp,
              colour=False, attributes={"s2rhdrPass": pass_name, "s2rhdrChannels": desc})


def _transcode(src: Path, dst: Path) -> None:
    head = read_header(src)
    names = [c for c in ("R", "G", "B", "A") if c in head.channels]
    pixel = "float" if any(head.channels[c] == "float" for c in names) else "half"
    write_exr(dst, read_exr(src, channels=names), channels=names, pixel_type=pixel,
              compression="zip")


def _write_scene(jobs: list[FileJob], stage: Path, copy: bool) -> dict[str, int]:
    counts = {"linked": 0, "copied": 0, "transcoded": 0, "converted": 0}
    for j in jobs:
        dst = safe_child(stage, *j.rel.split("/"))
        if j.kind == "link":
            counts[_link_or_copy(j.src, dst, copy)] += 1
        elif j.kind == "transcode":
            _transcode(j.src, dst)
            counts["transcoded"] += 1
        else:
            convert_aux(j.src, dst, j.pass_name)
            counts["converted"] += 1
    return counts


def _export_task(seq: SequenceInfo, out: Path, aux: str, copy: bool) -> tuple[str, Any]:
    """Stage one scene and swap it into ``out``; returns (name, result or error)."""
    work = work_dir(out)
    stage = safe_child(work, STAGING, seq.name)
    old = safe_child(work, REPLACED, seq.name)
    try:
        jobs = plan_scene(seq, aux)
        fp = fingerprint(jobs, aux)
        for leftover in (stage, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        stage.mkdir(parents=True)
        counts = _write_scene(jobs, stage, copy)
        final = safe_child(out, seq.name)
        if final.exists():  # a previous export of this scene: move aside, then swap
            old.parent.mkdir(parents=True, exist_ok=True)
            os.replace(final, old)
        os.replace(stage, final)
        shutil.rmtree(old, ignore_errors=True)
        return seq.name, {"fingerprint": fp, "aux": aux, "counts": counts,
                          "frames": seq.num_frames}
    except (ExrError, LayoutError, OptionError, OSError, ValueError) as exc:
        shutil.rmtree(stage, ignore_errors=True)
        return seq.name, RuntimeError(" ".join(str(exc).split()))


def _read_state(out: Path) -> dict[str, Any]:
    path = work_dir(out) / STATE
    if not path.is_file():
        return {"format": FORMAT, "version": 1, "scenes": {}}
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LayoutError(f"{path}: not an export-official record; delete it and rerun")
    return data


def _check_roots(root: Path, out: Path) -> None:
    r, o = root.resolve(), out.resolve()
    if r == o or r in o.parents or o in r.parents:
        raise LayoutError(f"{out}: the export must be outside the source root {root} (and "
                          "not contain it): the release takes every folder of its root for "
                          "a scene")


def _is_current(out: Path, name: str, rec: dict[str, Any] | None, seq: SequenceInfo,
                aux: str) -> bool:
    if not rec or not (out / name / "img" / "HDR").is_dir():
        return False
    try:
        return rec.get("fingerprint") == fingerprint(plan_scene(seq, aux), aux)
    except (LayoutError, ExrError, OSError):
        return False


def export_official(root: str | os.PathLike, out: str | os.PathLike, *, aux: str = "rgb",
                    copy: bool = False, jobs: int = 1, force: bool = False,
                    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
                    progress: bool = True) -> ExportReport:
    """Export every sequence of ``root`` into ``out`` in the release's raw form (see module)."""
    if aux not in AUX_MODES:
        raise OptionError(f"aux must be one of {AUX_MODES}, got {aux!r}")
    root, out = Path(root), Path(out)
    seqs = discover(root)  # files, hidden and staging folders, folders without img/: skipped
    if not seqs:
        raise LayoutError(f"{root}: no sequences found")
    _check_roots(root, out)
    out.mkdir(parents=True, exist_ok=True)
    state = _read_state(out)
    state_path = work_dir(out) / STATE
    report = ExportReport()
    todo = []
    for seq in seqs:
        if not force and _is_current(out, seq.name, state["scenes"].get(seq.name), seq, aux):
            report.skipped.append(seq.name)
        else:
            todo.append(seq)
    with Progress(len(seqs), "export-official", enabled=progress,
                  initial=len(report.skipped)) as bar:

        def record(name: str, result: Any) -> None:
            if isinstance(result, Exception):
                report.failed[name] = str(result)
            else:
                state["scenes"][name] = result
                atomic_write_json(state_path, state)
                report.done.append(name)
                for k, v in result["counts"].items():
                    report.files[k] += v
            bar.update(1, note=name)

        for name, result in each_scene(_export_task, todo, (out, aux, copy), jobs=jobs):
            record(name, result)
    shutil.rmtree(work_dir(out) / STAGING, ignore_errors=True)
    exported = [s for s in seqs if s.name not in report.failed]
    report.truncated = [s.name for s in exported if s.num_frames > FRAMES]
    for s in exported:
        head = read_header(s.frames[0])
        if head.width < 640 or head.height < 640:
            report.small.append(s.name)
    report.lists = write_scene_lists(root, out, [s.name for s in exported], fractions)
    return report


def write_scene_lists(root: Path, out: Path, names: list[str],
                      fractions: tuple[float, float, float]) -> dict[str, int]:
    """``trainlist.txt`` (train), ``vallist.txt`` (val), ``testlist.txt`` (test) in ``out``.

    The split is the source root's (``splits.json`` if present, else the by-name hash rule),
    by scene. The release reads ``trainlist.txt`` for training and ``testlist.txt`` for any
    other task; ``vallist.txt`` is ours (swap it in to select checkpoints without touching
    the test scenes, which the release's scripts do not do).
    """
    groups = resolve(root, names, fractions)
    counts = {}
    for split, list_name in LIST_FILES.items():
        write_list(out / list_name, sorted(groups[split]))
        counts[list_name] = len(groups[split])
    return counts
