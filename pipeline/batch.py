"""Resumable batch rendering: one shot (spec x seed) at a time, atomically, with a manifest.

Why this shape (Infinigen's job manager, Kubric's per-seed folders): a shot renders into
``<out>/.tmp-<name>-<pid>/``, is checked (complete and linear:
``pipeline.validate.check_shot``), then renamed into ``<out>/<name>/`` and recorded in
``manifest.json`` with per-file hashes, the spec hash, seed, backend and quality. A re-run
skips shots whose record matches and whose files verify, re-renders partial or stale ones,
and removes temp folders left by killed runs, so ``kill -9`` at any moment costs at most the
shot in flight. Only the parent process renames folders and writes the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.backends import QUALITIES, get_backend, resource_request
from pipeline.errors import RenderError, S2RError
from pipeline.executors import exit_with_parent, run_tasks
from pipeline.plan_model import ShotPlan, load_plan
from pipeline.validate import check_shot
from s2rhdr_loader.core import layout
from s2rhdr_loader.core.progress import Progress

TMP_PREFIX = layout.SHOT_TMP_PREFIX
OLD_PREFIX = layout.SHOT_OLD_PREFIX
_local_progress: Progress | None = None  # set while shots run in this very process


@dataclass(frozen=True)
class ShotTask:
    """Everything a worker needs (picklable: the plan travels as canonical JSON)."""

    name: str
    plan_json: str
    backend: str
    quality: str
    out_root: str
    options: dict[str, Any] = field(default_factory=dict)
    ticks: Any = None  # a multiprocessing queue: (name, 1) per finished frame, for the bar


@dataclass
class ShotOutcome:
    name: str
    status: str  # rendered | skipped | failed
    frames: int = 0
    seconds: float = 0.0
    reason: str = ""


# ---- inputs -------------------------------------------------------------------------------

def load_plans(paths: Sequence[str | os.PathLike], *, only: Sequence[str] = (),
               seeds: Sequence[int] = (), profile: str | None = None,
               resolution: tuple[int, int] | None = None,
               variations: int | None = None) -> list[ShotPlan]:
    """Shots from spec files/folders (planned here) and ``plan.json`` files (used as is).

    ``seeds`` renders every spec once per seed, as ``<name>-s<seed>``. ``profile`` (e.g.
    ``"s2rhdr"``) and ``resolution`` override every spec before planning
    (``pipeline.profiles``); they do not apply to ready-made ``plan.json`` files.
    ``variations`` expands every spec into that many seeded shots ``<name>-vNNNN``
    (``pipeline.variations``; default: the spec's ``randomize.variations``).
    """
    plan_files = [Path(p) for p in paths if str(p).endswith(".json")]
    spec_paths = [p for p in paths if not str(p).endswith(".json")]
    plans = [load_plan(p) for p in plan_files]
    if spec_paths:
        from pipeline.profiles import apply_profile
        from pipeline.spec import load_specs
        from pipeline.variations import plans_for

        for spec in (apply_profile(s, profile, resolution) for s in load_specs(spec_paths)):
            plans.extend(plans_for(spec, variations=variations, seeds=seeds))
    if only:
        wanted = set(only)
        unknown = wanted - {p.name for p in plans}
        if unknown:
            raise S2RError(f"--only {', '.join(sorted(unknown))}: no such shot",
                           hint=f"shots are: {', '.join(sorted(p.name for p in plans))}")
        plans = [p for p in plans if p.name in wanted]
    names = [p.name for p in plans]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise S2RError(f"shot name(s) used twice: {', '.join(dup)}",
                       hint="sequence names must be unique in one output folder")
    for p in plans:
        if not layout.NAME_RE.match(p.name):
            raise S2RError(f"shot name {p.name!r} is not a valid folder name",
                           hint="use lowercase letters, digits, '-' and '_'")
    return plans


# ---- state of a shot on disk --------------------------------------------------------------

def shot_state(root: Path, plan: ShotPlan, backend: str, quality: str,
               manifest: dict[str, Any], options: dict[str, Any] | None = None,
               ) -> tuple[str, str]:
    """("complete" | "missing" | "stale" | "partial", why) for one shot."""
    rec = manifest.get("sequences", {}).get(plan.name)
    folder = root / plan.name
    if rec is None:
        return ("partial", "folder without manifest record") if folder.exists() else (
            "missing", "not rendered yet")
    want = {"spec_hash": plan.spec_hash, "seed": plan.seed, "backend": backend,
            "quality": quality, "options": dict(options or {})}
    for key, value in want.items():
        if rec.get(key, {} if key == "options" else None) != value:
            return "stale", f"{key} changed ({rec.get(key)!r} -> {value!r})"
    problems = layout.verify_sequence(root, plan.name, manifest)
    if problems:
        return "partial", problems[0]
    return "complete", ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(root: Path) -> list[Path]:
    """Remove ``.tmp-*`` / ``.old-*`` folders whose writer process is gone (or is us)."""
    removed = []
    if not root.is_dir():
        return removed
    for child in root.iterdir():
        if not child.is_dir() or not child.name.startswith((TMP_PREFIX, OLD_PREFIX)):
            continue
        tail = child.name.rsplit("-", 1)[-1]
        pid = int(tail) if tail.isdigit() else -1
        if pid == os.getpid() or pid < 0 or not _pid_alive(pid):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


# ---- worker -------------------------------------------------------------------------------

class _QueueTicks:
    """Progress sink in a worker process: forwards each frame to the parent's bar."""

    def __init__(self, queue: Any, name: str):
        self.queue, self.name = queue, name

    def update(self, n: int = 1, note: str | None = None) -> None:
        try:
            self.queue.put((self.name, n, note or self.name))
        except Exception:  # noqa: BLE001 - a lost tick must never fail a render
            pass


def _drain(queue: Any, bar: Progress, lock: threading.Lock, seen: dict[str, int]) -> None:
    while True:
        item = queue.get()
        if item is None:
            return
        name, n, note = item
        with lock:
            seen[name] = seen.get(name, 0) + n
            bar.update(n, note=note)


def render_shot(task: ShotTask) -> dict[str, Any]:
    """Render one shot into its temp folder and validate it (runs in a worker process)."""
    t0 = time.perf_counter()
    plan = ShotPlan.from_dict(json.loads(task.plan_json))
    root = Path(task.out_root)
    tmp = layout.safe_child(root, f"{TMP_PREFIX}{task.name}-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    backend = get_backend(task.backend)
    progress: Any = _local_progress
    if progress is None and task.ticks is not None:
        progress = _QueueTicks(task.ticks, task.name)
    try:
        backend.render(plan, tmp, quality=task.quality, progress=progress,
                       options=dict(task.options) or None)
        # check exactly the passes this backend writes (Unreal: no flow/mask/diffuse)
        check = check_shot(tmp, passes=backend.passes_written(plan), mode="quick")
        if not check.ok:
            raise RenderError(f"validation failed: {check.summary()}")
        frames = check.frames
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"tmp": str(tmp), "frames": frames, "seconds": time.perf_counter() - t0}


def finalize_shot(root: Path, task: ShotTask, plan: ShotPlan, tmp: Path,
                  frames: int) -> None:
    """Swap the validated temp folder into place and record it (parent process only)."""
    final = layout.safe_child(root, task.name)
    layout.update_manifest(root, task.name, None, tool_version=__version__)
    old = None
    if final.exists():
        old = layout.safe_child(root, f"{OLD_PREFIX}{task.name}-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    meta = layout.read_json(final / layout.META_FILE)
    entry = {"spec_hash": plan.spec_hash, "seed": plan.seed, "backend": task.backend,
             "quality": task.quality, "options": dict(task.options), "frames": frames,
             "spec_path": plan.spec_path,
             "variant": meta.get("variant", ""), "resolution": meta.get("resolution"),
             "rendered_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "files": layout.hash_files(final)}
    layout.update_manifest(root, task.name, entry, tool_version=__version__)


# ---- the batch ----------------------------------------------------------------------------

def run_batch(plans: Sequence[ShotPlan], out: str | os.PathLike, *, backend: str = "mitsuba",
              quality: str = "default", jobs: int = 1, executor: str = "local",
              address: str | None = None, force: bool = False,
              options: dict[str, Any] | None = None, show_progress: bool = True,
              ) -> list[ShotOutcome]:
    """Render every shot not already complete; returns one outcome per shot, in plan order."""
    global _local_progress
    if quality not in QUALITIES:
        raise S2RError(f"unknown quality {quality!r}", hint=f"use one of {', '.join(QUALITIES)}")
    get_backend(backend)  # fail early (one line) if the backend cannot be imported
    root = Path(out).resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise S2RError(f"{root}: cannot create the output folder ({exc.strerror})",
                       hint="--out must be a writable folder") from None
    clean_stale_temps(root)
    manifest = layout.read_manifest(root)
    outcomes: dict[str, ShotOutcome] = {}
    reasons: dict[str, str] = {}
    todo: list[ShotTask] = []
    by_name = {p.name: p for p in plans}
    for plan in plans:
        state, why = shot_state(root, plan, backend, quality, manifest, options)
        if state == "complete" and not force:
            outcomes[plan.name] = ShotOutcome(plan.name, "skipped", plan.frames, 0.0,
                                              "complete (manifest + hashes match)")
            continue
        reasons[plan.name] = "forced" if force and state == "complete" else (
            "" if state == "missing" else f"redone: {why}")
        todo.append(ShotTask(plan.name, plan.to_json(), backend, quality, str(root),
                             dict(options or {})))
    total = sum(by_name[t.name].frames for t in todo)
    in_process = executor == "local" and (jobs <= 1 or len(todo) <= 1)
    lock, seen = threading.Lock(), {}
    manager = drain = None
    if executor == "local" and not in_process and show_progress:
        import multiprocessing as mp
        from multiprocessing.managers import SyncManager

        manager = SyncManager(ctx=mp.get_context("spawn"))
        manager.start(exit_with_parent)  # no lingering queue server after kill -9
        ticks = manager.Queue()
        todo = [replace(t, ticks=ticks) for t in todo]
    with Progress(total, f"render[{backend}/{quality}]", enabled=show_progress) as bar:
        _local_progress = bar if in_process else None
        if manager is not None:
            drain = threading.Thread(target=_drain, args=(ticks, bar, lock, seen), daemon=True)
            drain.start()
        try:
            results = run_tasks(render_shot, todo, jobs=jobs, executor=executor,
                                address=address, resources=resource_request(backend, options))
            for task, result, err in results:
                plan = by_name[task.name]
                if err is None:
                    try:
                        finalize_shot(root, task, plan, Path(result["tmp"]), result["frames"])
                        outcomes[task.name] = ShotOutcome(task.name, "rendered",
                                                          result["frames"], result["seconds"],
                                                          reasons.get(task.name, ""))
                    except (OSError, S2RError, layout.LayoutError) as exc:
                        err = f"could not move the shot into place: {exc}"
                if err is not None:
                    outcomes[task.name] = ShotOutcome(task.name, "failed", 0, 0.0, str(err))
                    _log_failure(root, task.name, err)
                if not in_process:
                    with lock:  # frames not reported frame by frame (Ray, failures)
                        rest = plan.frames - seen.get(task.name, 0)
                        seen[task.name] = plan.frames
                        if rest > 0:
                            bar.update(rest, note=task.name)
        finally:
            _local_progress = None
            if manager is not None:
                ticks.put(None)
                if drain is not None:
                    drain.join(timeout=5)
                manager.shutdown()
    clean_stale_temps(root)
    return [outcomes[p.name] for p in plans if p.name in outcomes]


FAILURE_LOG = "render-failures.log"


def _log_failure(root: Path, name: str, err: Any) -> None:
    """Append the full traceback of a failed shot to ``<out>/render-failures.log``."""
    detail = getattr(err, "traceback", "") or str(err)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        with open(layout.safe_child(root, FAILURE_LOG), "a", encoding="utf-8") as fh:
            fh.write(f"=== {stamp} {name}: {err}\n{detail.rstrip()}\n")
    except OSError:
        pass  # the summary table still carries the one-line reason


def summary_table(outcomes: Sequence[ShotOutcome]) -> str:
    """Fixed-width table: shot, status, frames, seconds, reason."""
    rows = [("shot", "status", "frames", "seconds", "reason")]
    rows += [(o.name, o.status, str(o.frames), f"{o.seconds:.1f}", o.reason) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("rendered", "skipped", "failed")}
    lines.append(f"{counts['rendered']} rendered, {counts['skipped']} skipped, "
                 f"{counts['failed']} failed"
                 + (f" (tracebacks in {FAILURE_LOG})" if counts["failed"] else ""))
    return "\n".join(line.rstrip() for line in lines)
