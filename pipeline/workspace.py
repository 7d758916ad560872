"""A dataset root's work state, kept in the sibling folder ``<root>.s2rhdr-work/``.

Why a sibling: readers take every folder of a dataset root for a sequence (the official
release lists the root with ``os.listdir`` in ``preprocess_s2r_hdr_data.py``), so nothing
but sequences and ``manifest.json`` may sit there. A shot is staged here and renamed into
the root when complete, which needs one filesystem: :func:`open_workspace` proves it with a
real rename and otherwise stages in one hidden folder of the root
(``layout.ROOT_STAGING``, removed again when empty) with a warning.

```
<root>.s2rhdr-work/
  manifest.lock               lock for read-modify-writes of <root>/manifest.json
  claims/<shot>.json          who renders a shot now (pipeline.claims)
  staging/<shot>/<attempt>/   a shot being rendered; the attempt becomes <root>/<shot>
  records/<shot>.json         manifest record of a finished shot, merged into manifest.json
  failures/<shot>.json        why the shot's last attempt failed
  runs/<run>.json             what each batch was asked to render (read by `status`)
  render-failures.log         full tracebacks of failed shots
```
Nothing in it is needed by readers: it may be deleted when no batch runs.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import claims
from pipeline.errors import S2RError
from s2rhdr_loader.core import layout
from s2rhdr_loader.core.atomic import atomic_path, atomic_write_json, dumps_json

FAILURE_LOG = "render-failures.log"
_OLD_STYLE = (layout.SHOT_TMP_PREFIX, layout.SHOT_OLD_PREFIX, ".s2rhdr-probe-")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Workspace:
    root: Path
    work: Path
    staging: Path

    @property
    def claims(self) -> Path:
        return self.work / "claims"

    @property
    def records(self) -> Path:
        return self.work / "records"

    @property
    def failures(self) -> Path:
        return self.work / "failures"

    @property
    def runs(self) -> Path:
        return self.work / "runs"

    @property
    def failure_log(self) -> Path:
        return self.work / FAILURE_LOG

    def shot_stage(self, shot: str) -> Path:
        return layout.safe_child(self.staging, shot)


def _work_dir(root: Path) -> Path:
    if not root.name:
        raise S2RError(f"{root}: a filesystem root cannot be a dataset root",
                       hint="use a folder below it (its work state lives beside it)")
    return layout.work_dir(root)


def locate(root: str | os.PathLike) -> Workspace:
    """The workspace of ``root`` as it is on disk (creates nothing; for ``status``)."""
    root = Path(root).resolve()
    work = _work_dir(root)
    inside = root / layout.ROOT_STAGING
    return Workspace(root, work, inside if inside.is_dir() else work / "staging")


def _rename_probe(staging: Path, root: Path) -> OSError | None:
    """Rename a folder from ``staging`` into ``root`` and back out: None if that works."""
    probe = staging / f".probe-{os.getpid()}"
    target = root / f".s2rhdr-probe-{os.getpid()}"
    try:
        probe.mkdir(exist_ok=True)
        os.rename(probe, target)
        target.rmdir()
        return None
    except OSError as exc:
        for p in (probe, target):
            try:
                p.rmdir()
            except OSError:
                pass
        return exc


def open_workspace(root: str | os.PathLike, warn: Callable[[str], None] = _warn) -> Workspace:
    """Create the root and its work folder; stage inside the root only if renames need it."""
    root = Path(root).resolve()
    work = _work_dir(root)
    for folder, what in ((root, "the output folder"), (work, "the work folder")):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise S2RError(f"{folder}: cannot create {what} ({exc.strerror})",
                           hint="--out must be a writable folder whose parent is writable "
                                f"(work state lives beside it in {work.name})") from None
    staging = work / "staging"
    staging.mkdir(exist_ok=True)
    problem = _rename_probe(staging, root)
    if problem is not None:
        if problem.errno != errno.EXDEV:
            raise S2RError(f"{root}: cannot move a folder from {staging} into the root "
                           f"({problem.strerror})") from None
        staging = root / layout.ROOT_STAGING
        staging.mkdir(exist_ok=True)
        warn(f"{work} is not on the filesystem of {root} (is the root a mount point?): "
             f"shots are staged in {staging} while they render; readers that list every "
             f"folder of the root see it until the batch ends (choose an output folder "
             f"below the mount point to avoid this)")
    for sub in ("claims", "records", "failures", "runs"):
        (work / sub).mkdir(exist_ok=True)
    return Workspace(root, work, staging)


# ---- per-shot records, failures, runs -------------------------------------------------------

def _read_folder(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("*.json")):
        try:
            out[p.stem] = layout.read_json(p)
        except layout.LayoutError:
            continue  # a record being replaced right now; the next read sees it
    return out


def write_record(ws: Workspace, shot: str, entry: Mapping[str, Any]) -> None:
    """Publish a finished shot's record atomically (rename), without fsync: the shot's own
    files are not fsynced either, and after a power cut an empty or missing record only
    means the shot is rendered again (an unreadable record counts as none)."""
    with atomic_path(layout.safe_child(ws.records, f"{shot}.json")) as tmp:
        tmp.write_text(dumps_json(dict(entry)), encoding="utf-8")


def delete_record(ws: Workspace, shot: str) -> None:
    layout.safe_child(ws.records, f"{shot}.json").unlink(missing_ok=True)


def read_records(ws: Workspace) -> dict[str, dict[str, Any]]:
    return _read_folder(ws.records)


def merged_manifest(ws: Workspace) -> dict[str, Any]:
    """manifest.json with every per-shot record laid over it (records are newer)."""
    data = layout.read_manifest(ws.root)
    data["sequences"].update(read_records(ws))
    return data


def sync_manifest(ws: Workspace, tool_version: str = "") -> int:
    """Merge records that manifest.json lacks into it (locked); returns how many."""
    on_disk = layout.read_manifest(ws.root)["sequences"]
    todo = {k: v for k, v in read_records(ws).items() if on_disk.get(k) != v}
    if todo:
        layout.merge_manifest(ws.root, todo, tool_version)
    return len(todo)


def write_failure(ws: Workspace, shot: str, info: Mapping[str, Any]) -> None:
    try:
        atomic_write_json(layout.safe_child(ws.failures, f"{shot}.json"), dict(info))
    except OSError:
        pass  # a full disk: the summary table still carries the reason


def clear_failure(ws: Workspace, shot: str) -> None:
    layout.safe_child(ws.failures, f"{shot}.json").unlink(missing_ok=True)


def read_failures(ws: Workspace) -> dict[str, dict[str, Any]]:
    return _read_folder(ws.failures)


def log_failure(ws: Workspace, shot: str, message: str, detail: str = "") -> None:
    """Append the full traceback of a failed shot to the work folder's failure log."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        with open(ws.failure_log, "a", encoding="utf-8") as fh:
            fh.write(f"=== {stamp} {shot}: {message}\n{(detail or message).rstrip()}\n")
    except OSError:
        pass


def run_path(ws: Workspace, run: str) -> Path:
    return layout.safe_child(ws.runs, f"{run}.json")


def write_run(ws: Workspace, run: str, info: Mapping[str, Any]) -> Path:
    return atomic_write_json(run_path(ws, run), dict(info))


def read_runs(ws: Workspace) -> dict[str, dict[str, Any]]:
    runs = _read_folder(ws.runs)
    for run, info in runs.items():
        try:
            info["heartbeat"] = run_path(ws, run).stat().st_mtime
        except OSError:
            info["heartbeat"] = 0.0
    return runs


def frames_staged(stage: Path) -> int:
    """Frames written so far by the newest attempt of a shot (img/NNNN.exr files)."""
    best = 0
    try:
        attempts = [p for p in stage.iterdir() if p.is_dir()]
    except OSError:
        return 0
    for attempt in attempts:
        try:
            n = sum(1 for f in os.scandir(attempt / "img") if f.name.endswith(".exr")
                    and f.name[:-4].isdigit())
        except OSError:
            continue
        best = max(best, n)
    return best


# ---- leftovers ------------------------------------------------------------------------------

def _old_style_pid(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def clean_old_style(ws: Workspace) -> list[Path]:
    """Remove what earlier versions left inside the root (``.tmp-*``/``.old-*`` folders of
    dead processes, ``.manifest.lock``); move ``render-failures.log`` to the work folder."""
    removed: list[Path] = []
    if not ws.root.is_dir():
        return removed
    for child in sorted(ws.root.iterdir()):
        if child.is_dir() and child.name.startswith(_OLD_STYLE):
            pid = _old_style_pid(child.name)
            if pid == os.getpid() or not claims.pid_alive(pid):
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child)
    lock = ws.root / ".manifest.lock"
    if lock.is_file():
        lock.unlink(missing_ok=True)
        removed.append(lock)
    old_log = ws.root / FAILURE_LOG
    if old_log.is_file():
        try:
            with open(ws.failure_log, "a", encoding="utf-8") as fh:
                fh.write(old_log.read_text(encoding="utf-8", errors="replace"))
            old_log.unlink()
            removed.append(old_log)
        except OSError:
            pass
    return removed


def wipe_stage(ws: Workspace, shot: str, keep: Path | None = None) -> None:
    """Delete a shot's staging area (all attempts but ``keep``); only its claimant may."""
    stage = ws.shot_stage(shot)
    if not stage.is_dir():
        return
    if keep is None:
        shutil.rmtree(stage, ignore_errors=True)
        return
    for child in stage.iterdir():
        if child != keep:
            shutil.rmtree(child, ignore_errors=True)


def clean_staging(ws: Workspace, run: str, timeout: float) -> dict[str, str]:
    """Remove staging areas nobody renders any more: claim the shot (taking stale claims
    over), wipe its area, release. Areas of live claims are left alone. Returns
    ``{shot: why its claim was stale ("" if it had none)}`` for the areas removed."""
    removed: dict[str, str] = {}
    if not ws.staging.is_dir():
        return removed
    for stage in sorted(p for p in ws.staging.iterdir() if p.is_dir()):
        if stage.name.startswith("."):
            continue
        claim, _holder, why = claims.acquire(ws.claims, stage.name, run, timeout=timeout)
        if claim is None:
            continue
        try:
            shutil.rmtree(stage, ignore_errors=True)
            removed[stage.name] = why
        finally:
            claims.release(claim)
    return removed


def remove_empty_root_staging(ws: Workspace) -> None:
    """The in-root fallback staging folder goes as soon as it is empty."""
    if ws.staging.parent == ws.root:
        try:
            ws.staging.rmdir()
        except OSError:
            pass
