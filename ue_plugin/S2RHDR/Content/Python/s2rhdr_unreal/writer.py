"""After MRQ: move its files into the dataset layout and write the shot's JSON records.

Runs inside the editor, where only the standard library and the vendored pure-Python
modules exist. The layout and its atomic writes are *the* layout code
(``s2rhdr_loader.core.layout`` / ``.atomic``, vendored by ``install-plugin`` as the spec and
plan are), so the editor writes exactly what the readers read: ``img/NNNN.exr``,
``camera_params/NNNN.json``, ``plan.json``, ``meta.json`` -- each atomically.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from s2rhdr_loader.core import layout
from s2rhdr_loader.core.atomic import atomic_write_json, atomic_write_text
from s2rhdr_unreal import job_settings

STAGING = layout.MRQ_STAGING  # MRQ's output folder inside the shot folder
STATUS_FORMAT = "s2rhdr.unreal.status"
RENDERED_PASSES = ("img",)  # what the editor itself finalises (MRQ's beauty)
AUX_STAGING = layout.MRQ_AUX_STAGING  # raw MRQ material passes, converted by the HOST
_FRAME = re.compile(r"^(?:.*?[._])?(-?\d+)\.exr$")
__all__ = ["atomic_write_json", "atomic_write_text", "finalize", "mrq_frames", "write_status"]


def mrq_frames(staging_dir: str | os.PathLike, pass_name: str) -> dict[int, Path]:
    """``{frame number: file}`` of one render pass written by MRQ (``<pass>/NNNN.exr``)."""
    folder = Path(staging_dir) / pass_name
    out: dict[int, Path] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _FRAME.match(p.name)
            if m and p.is_file():
                out[int(m.group(1))] = p
    return out


requested_aux = job_settings.requested_aux


def as_rendered(plan: Any) -> Any:
    """The plan as this backend rendered it: only the passes it writes, so ``plan.json``
    never promises depth/normal/... files that are not there."""
    from dataclasses import replace

    return replace(plan, render=replace(plan.render, passes=RENDERED_PASSES))


def finalize(plan: Any, out_dir: str | os.PathLike, meta: Mapping[str, Any], *,
             pass_names: Mapping[str, str] | None = None) -> list[Path]:
    """Rename MRQ's beauty frames to ``img/NNNN.exr`` and write the JSON records.

    ``pass_names`` (layout pass -> MRQ ``{render_pass}``) come from
    ``job_settings.mrq_settings`` of the render (``FinalImage...`` for the deferred renderer,
    ``PathTracer...`` for the path tracer); by default those of ``meta["quality"]``.
    Raises ``RuntimeError`` naming the missing frame numbers when MRQ did not write them all.
    """
    out = Path(out_dir)
    staging = out / STAGING
    if pass_names is None:
        pass_names = job_settings.mrq_settings(plan, str(meta.get("quality", "default")))[
            "pass_names"]
    pass_name = pass_names["img"]
    frames = mrq_frames(staging, pass_name)
    wanted = [f.index for f in plan.output_frames()]
    missing = [i for i in wanted if i not in frames]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise RuntimeError(f"MRQ wrote {len(frames)} of {len(wanted)} frames into "
                           f"{staging / pass_name} (missing {shown})")
    aux: dict[str, dict[int, Path]] = {}
    for layout_pass in requested_aux(plan):
        got = mrq_frames(staging, pass_names[layout_pass])
        lost = [i for i in wanted if i not in got]
        if lost:
            raise RuntimeError(f"MRQ wrote {len(wanted) - len(lost)} of {len(wanted)} "
                               f"{layout_pass} frames into {staging / pass_names[layout_pass]}")
        aux[layout_pass] = got
    written: list[Path] = []
    for layout_pass, got in aux.items():  # raw: the host converts them (no numpy here)
        (out / AUX_STAGING / layout_pass).mkdir(parents=True, exist_ok=True)
        for i in wanted:
            os.replace(got[i], out / AUX_STAGING / layout_pass / layout.frame_name(i))
    (out / "img").mkdir(parents=True, exist_ok=True)
    for i in wanted:
        target = layout.frame_path(out, "img", i)
        os.replace(frames[i], target)
        written.append(target)
    for i in wanted:
        written.append(layout.write_camera_params(out, i, plan.camera_params(i)))
    written.append(atomic_write_text(out / layout.PLAN_FILE, as_rendered(plan).to_json()))
    record = {"backend": "unreal", "name": plan.name, "seed": plan.seed,
              "spec_hash": plan.spec_hash, "frames": plan.frames,
              "warmup_frames": plan.warmup_frames, "passes": list(RENDERED_PASSES),
              "aux_raw": sorted(aux),
              "resolution": list(plan.render.resolution), "tool_version": plan.tool_version}
    record.update(dict(meta))
    written.append(atomic_write_json(out / layout.META_FILE, record))
    _remove_tree(staging)
    return written


def _remove_tree(folder: Path) -> None:
    """Delete the staging folder once its frames are moved (only our own shot folder)."""
    shutil.rmtree(folder, ignore_errors=True)


def write_status(path: str | os.PathLike, *, ok: bool, error: str = "",
                 missing_assets: list[str] | None = None, files: list[str] | None = None,
                 engine_version: str = "", elapsed_s: float = 0.0,
                 retryable: bool = False) -> Path:
    """The status file the host launcher reads (authoritative over the editor's exit code).
    ``retryable``: the failure may not repeat (an MRQ/GPU failure), so the host may retry."""
    return atomic_write_json(path, {
        "format": STATUS_FORMAT, "ok": bool(ok), "error": error, "retryable": bool(retryable),
        "missing_assets": list(missing_assets or []), "files": list(files or []),
        "engine_version": engine_version, "elapsed_s": round(float(elapsed_s), 3)})
