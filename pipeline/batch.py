"""Resumable batch rendering that survives killed nodes, concurrent batches and full disks.

The life of one shot (spec x seed), after Infinigen's job manager and Kubric's per-seed
folders:

1. **claim** it (``pipeline.claims``): a second batch on the same root skips it, a dead or
   silent owner's claim is taken over;
2. check the **disk**: the shot's estimated size must leave ``--min-free-gb`` free
   (``pipeline.diskspace``), otherwise the batch stops cleanly;
3. **render** into ``<root>.s2rhdr-work/staging/<shot>/<attempt>/`` (``pipeline.workspace``)
   in a worker (a local process or a Ray task; a lost worker or node is retried, the retry
   replacing the attempt folder) and check it (``pipeline.validate.check_shot``);
4. **finalize** in the driver only: hash the files, write the per-shot record, rename the
   attempt folder to ``<root>/<shot>``, release the claim. Records are merged into
   ``manifest.json`` under a lock (at the end, and in between as often as that costs under
   ``MERGE_BUDGET`` of the wall time), so concurrent writers never lose an entry.

A re-run skips shots whose record matches and whose files are intact, redoes partial or
stale ones and removes what killed runs left, so ``kill -9`` at any moment costs at most the
shots in flight. Nothing but sequences and manifest.json is ever written into the root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import __version__, claims, diskspace, workspace
from pipeline.backends import QUALITIES, Backend, get_backend
from pipeline.errors import RenderError, S2RError
from pipeline.executors import TaskError, run_tasks
from pipeline.plan_model import ShotPlan, load_plan
from pipeline.validate import check_shot
from pipeline.workspace import Workspace
from s2rhdr_loader.core import layout
from s2rhdr_loader.core.progress import Progress

FAILURE_LOG = workspace.FAILURE_LOG
# Share of wall time that merging records into manifest.json may take (half of the 1 % per
# shot budget for the batch's bookkeeping; benchmarks/batch.py): a 20 MB manifest of 1000
# release-shaped shots merges in ~3 s, i.e. every ~10 minutes; a small root after every shot.
MERGE_BUDGET = 0.005
STATUSES = ("rendered", "skipped", "claimed", "failed", "pending")


@dataclass(frozen=True)
class ShotTask:
    """Everything a worker needs (picklable: the plan travels as canonical JSON)."""

    name: str
    plan_json: str
    backend: str
    quality: str
    stage: str  # the shot's staging area; the worker renders into a fresh folder inside
    options: dict[str, Any] = field(default_factory=dict)
    backend_impl: Any = None  # a Backend object passed to run_batch instead of a name


@dataclass
class ShotOutcome:
    name: str
    status: str  # rendered | skipped | claimed (by another batch) | failed | pending
    frames: int = 0
    seconds: float = 0.0
    reason: str = ""
    retries: int = 0


class BatchResult(list):
    """The outcomes of a batch, in plan order, plus why it stopped early ("" if it did not)."""

    def __init__(self, outcomes: Sequence[ShotOutcome] = (), *, stopped: str = "",
                 run: str = "", work_dir: str = ""):
        super().__init__(outcomes)
        self.stopped, self.run, self.work_dir = stopped, run, work_dir


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
               *, hashes: bool = False) -> tuple[str, str]:
    """("complete" | "missing" | "stale" | "partial", why) for one shot.

    ``hashes``: also re-hash every file (else sizes only: hashing a 1080p dataset at every
    start would read terabytes on every node).
    """
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
    problems = layout.verify_sequence(root, plan.name, manifest, hashes=hashes)
    if problems:
        return "partial", problems[0]
    return "complete", ""


# ---- worker -------------------------------------------------------------------------------

def _attempt_name() -> str:
    host = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname())
    return f"{host[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def render_shot(task: ShotTask) -> dict[str, Any]:
    """Render one shot into a fresh attempt folder and check it (runs in a worker).

    Earlier attempts of the shot (a worker or node lost mid-shot) are deleted first: only
    the claimant's attempts live in a shot's staging area.
    """
    t0 = time.perf_counter()
    plan = ShotPlan.from_dict(json.loads(task.plan_json))
    stage = Path(task.stage)
    attempt = stage / _attempt_name()
    stage.mkdir(parents=True, exist_ok=True)
    replaced = sorted(p.name for p in stage.iterdir())
    for old in stage.iterdir():  # the retry replaces what a lost attempt left
        shutil.rmtree(old, ignore_errors=True)
    backend: Backend = task.backend_impl or get_backend(task.backend)
    try:
        backend.render(plan, attempt, quality=task.quality, progress=None,
                       options=dict(task.options) or None)
        # check exactly the passes this backend writes (Unreal: no flow/mask/diffuse)
        check = check_shot(attempt, passes=backend.passes_written(plan), mode="quick")
        if not check.ok:
            raise RenderError(f"validation failed: {check.summary()}")
    except BaseException:
        shutil.rmtree(attempt, ignore_errors=True)
        raise
    return {"tmp": str(attempt), "frames": check.frames, "seconds": time.perf_counter() - t0,
            "host": socket.gethostname(), "replaced": replaced}


# ---- driver: moving a finished shot into place --------------------------------------------

class LostClaim(RenderError):
    """Another batch took this shot over while we rendered it (we stalled past the timeout)."""


def finalize_shot(ws: Workspace, task: ShotTask, plan: ShotPlan, tmp: Path,
                  result: dict[str, Any], claim: claims.Claim | None, run: str,
                  replacing: bool) -> dict[str, Any]:
    """Record the validated attempt folder and rename it into the root (driver only).

    Order: hash, drop the old record (replacing), write the new record, swap. A kill at any
    point leaves either the old shot, or a folder whose files disagree with its record
    (redone by the next run), never a record that matches a half-moved shot.
    """
    if claim is not None and not claims.still_owned(claim):
        raise LostClaim(f"{task.name}: claim taken over by another batch while rendering")
    final = layout.safe_child(ws.root, task.name)
    meta = layout.read_json(tmp / layout.META_FILE)
    entry = {"spec_hash": plan.spec_hash, "seed": plan.seed, "backend": task.backend,
             "quality": task.quality, "options": dict(task.options),
             "frames": result["frames"], "spec_path": plan.spec_path,
             "variant": meta.get("variant", ""), "resolution": meta.get("resolution"),
             "rendered_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "render_s": round(float(result.get("seconds", 0.0)), 3),
             "host": result.get("host", ""), "run": run, "files": layout.hash_files(tmp)}
    if replacing:
        workspace.delete_record(ws, task.name)
        layout.update_manifest(ws.root, task.name, None, tool_version=__version__)
    workspace.write_record(ws, task.name, entry)
    old = None
    if final.exists():
        old = Path(task.stage) / f"old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    workspace.clear_failure(ws, task.name)
    return entry


# ---- the batch ----------------------------------------------------------------------------

@dataclass
class BatchConfig:
    backend: str = "mitsuba"
    backend_impl: Backend | None = None
    quality: str = "default"
    jobs: int = 1
    executor: str = "local"
    address: str | None = None
    force: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    show_progress: bool = True
    claim_timeout: float = claims.DEFAULT_TIMEOUT_S
    min_free_gb: float | None = 1.0
    max_retries: int = 2
    verify_hashes: bool = False


def run_batch(plans: Sequence[ShotPlan], out: str | os.PathLike, *,
              backend: str | Backend = "mitsuba", quality: str = "default", jobs: int = 1,
              executor: str = "local", address: str | None = None, force: bool = False,
              options: dict[str, Any] | None = None, show_progress: bool = True,
              claim_timeout: float = claims.DEFAULT_TIMEOUT_S,
              min_free_gb: float | None = 1.0, max_retries: int = 2,
              verify_hashes: bool = False) -> BatchResult:
    """Render every shot not already complete; one outcome per shot, in plan order.

    ``backend`` is a registered name or a :class:`~pipeline.backends.Backend` object (it
    must be picklable for ``jobs > 1`` and Ray). ``min_free_gb=None`` disables the
    free-space check (ENOSPC is still handled).
    """
    if quality not in QUALITIES:
        raise S2RError(f"unknown quality {quality!r}", hint=f"use one of {', '.join(QUALITIES)}")
    if claim_timeout <= 0:
        raise S2RError(f"claim timeout must be > 0 s, got {claim_timeout:g}")
    impl = backend if not isinstance(backend, str) else None
    name = backend if isinstance(backend, str) else str(backend.name)
    if impl is None:
        get_backend(name)  # fail early (one line) if the backend cannot be imported
    cfg = BatchConfig(name, impl, quality, jobs, executor, address, force,
                      dict(options or {}), show_progress, float(claim_timeout), min_free_gb,
                      int(max_retries), verify_hashes)
    return _Batch(list(plans), Path(out), cfg).run()


class _Batch:
    """One run of the batch: triage, dispatch under claims, finalize, clean up."""

    def __init__(self, plans: list[ShotPlan], out: Path, cfg: BatchConfig):
        self.cfg, self.plans = cfg, plans
        self.by_name = {p.name: p for p in plans}
        self.run_id = uuid.uuid4().hex[:12]
        self.started = time.time()
        self.ws = workspace.open_workspace(out)
        self.outcomes: dict[str, ShotOutcome] = {}
        self.reasons: dict[str, str] = {}
        self.retry_notes: dict[str, list[str]] = {}
        self.in_flight: dict[str, tuple[claims.Claim, int]] = {}
        self.lost: set[str] = set()
        self.stopped = ""
        self.block = diskspace.block_size(self.ws.root)
        self._sync_cost = 0.0
        self.heartbeat: claims.Heartbeat | None = None
        self.bar: Progress | None = None
        self._bar_lock = threading.Lock()
        self._shown: dict[str, int] = {}
        self.todo: list[ShotPlan] = []
        self.known: set[str] = set()  # shots with a record or manifest entry at the start

    # -- setup ----------------------------------------------------------------------------
    def _prepare(self) -> list[ShotPlan]:
        """Clean leftovers, bring manifest.json up to date, decide what to render."""
        workspace.clean_old_style(self.ws)
        reaped = workspace.clean_staging(self.ws, self.run_id, self.cfg.claim_timeout)
        self._sync()
        view = workspace.merged_manifest(self.ws)
        self.known = set(view["sequences"])
        todo = []
        for plan in self.plans:
            state, why = shot_state(self.ws.root, plan, self.cfg.backend, self.cfg.quality,
                                    view, self.cfg.options, hashes=self.cfg.verify_hashes)
            if state == "complete" and not self.cfg.force:
                self.outcomes[plan.name] = ShotOutcome(plan.name, "skipped", plan.frames, 0.0,
                                                       "complete (manifest + files match)")
                continue
            self.reasons[plan.name] = "forced" if self.cfg.force and state == "complete" \
                else ("" if state == "missing" else f"redone: {why}")
            if reaped.get(plan.name):
                self.reasons[plan.name] = f"took over a stale claim: {reaped[plan.name]}"
            todo.append(plan)
        workspace.write_run(self.ws, self.run_id, {
            "run": self.run_id, "host": socket.gethostname(), "pid": os.getpid(),
            "started": self.started, "finished": None, "backend": self.cfg.backend,
            "quality": self.cfg.quality, "executor": self.cfg.executor,
            "slots": self.cfg.jobs, "shots": {p.name: p.frames for p in self.plans}})
        self.todo = todo
        return todo

    def run(self) -> BatchResult:
        todo = self._prepare()
        jobs = self.cfg.jobs if len(todo) > 1 else 1
        resources = (self.cfg.backend_impl or get_backend(self.cfg.backend)).resources(
            dict(self.cfg.options))
        run_file = workspace.run_path(self.ws, self.run_id)
        total = sum(p.frames for p in todo)
        try:
            with claims.Heartbeat(self.cfg.claim_timeout, extra=[run_file],
                                  on_lost=lambda c: self.lost.add(c.info.shot)) as hb, \
                    Progress(total, f"render[{self.cfg.backend}/{self.cfg.quality}]",
                             enabled=self.cfg.show_progress) as bar:
                self.heartbeat, self.bar = hb, bar
                self._note()
                with _Poller(self):
                    for task, result, err in run_tasks(
                            render_shot, self._dispatch(todo), jobs=jobs,
                            executor=self.cfg.executor, address=self.cfg.address,
                            resources=resources, max_retries=self.cfg.max_retries,
                            on_retry=self._on_retry):
                        self._finish(task, result, err)
        finally:
            self._close(run_file)
        return BatchResult([self.outcomes[p.name] for p in self.plans if p.name in self.outcomes],
                           stopped=self.stopped, run=self.run_id, work_dir=str(self.ws.work))

    # -- dispatch -------------------------------------------------------------------------
    def _dispatch(self, todo: list[ShotPlan]) -> Iterator[ShotTask]:
        """Yield a task per shot we may render now; pulled lazily by the executor, so a
        shot is claimed (and its disk space checked) only when a slot is free for it."""
        for plan in todo:
            if self.stopped:
                self._set(plan, "pending", f"not started: {self.stopped}")
                continue
            task = self._claim(plan)
            if task is not None:
                yield task

    def _disk_short(self, plan: ShotPlan) -> tuple[str, int]:
        """("" | why the shot must not start, its estimated bytes)."""
        backend = self.cfg.backend_impl or get_backend(self.cfg.backend)
        res = diskspace.shot_resolution(plan, self.cfg.backend, self.cfg.quality)
        need = diskspace.estimate_shot_bytes(plan, backend.passes_written(plan), res,
                                             block=self.block)
        if self.cfg.min_free_gb is None:
            return "", need
        free = diskspace.free_bytes(self.ws.root)
        busy = sum(n for _, n in self.in_flight.values())
        margin = float(self.cfg.min_free_gb) * diskspace.GB
        if free - busy - need >= margin:
            return "", need
        return (f"{self.ws.root}: {free / diskspace.GB:.2f} GB free; shot {plan.name} needs "
                f"up to {need / diskspace.GB:.3f} GB (+{busy / diskspace.GB:.3f} GB for shots "
                f"in flight) and --min-free-gb {self.cfg.min_free_gb:g} must stay free"), need

    def _claim(self, plan: ShotPlan) -> ShotTask | None:
        short, need = self._disk_short(plan)
        if short:
            self.stopped = short
            self._set(plan, "pending", f"not started: {short}")
            return None
        try:
            claim, holder, why = claims.acquire(self.ws.claims, plan.name, self.run_id,
                                                timeout=self.cfg.claim_timeout)
        except OSError as exc:
            if not diskspace.is_disk_full(exc):
                raise
            self.stopped = f"{self.ws.work}: no space left on device (claiming {plan.name})"
            self._set(plan, "pending", f"not started: {self.stopped}")
            return None
        if claim is None:
            age = time.time() - holder.heartbeat if holder else 0.0
            owner = holder.owner() if holder else "another batch"
            self._set(plan, "claimed", f"claimed by {owner}, heartbeat {age:.0f} s ago")
            return None
        if why:
            self.reasons[plan.name] = f"took over a stale claim: {why}"
        elsewhere = self._done_elsewhere(plan)
        if elsewhere:
            claims.release(claim)
            self._set(plan, *elsewhere)
            return None
        workspace.wipe_stage(self.ws, plan.name)
        assert self.heartbeat is not None
        self.heartbeat.hold(claim)
        self.in_flight[plan.name] = (claim, need)
        return ShotTask(plan.name, plan.to_json(), self.cfg.backend, self.cfg.quality,
                        str(self.ws.shot_stage(plan.name)), dict(self.cfg.options),
                        self.cfg.backend_impl)

    def _done_elsewhere(self, plan: ShotPlan) -> tuple[str, str] | None:
        """Now that we hold the claim: did another batch finish (or fail) it meanwhile?"""
        rec_path = layout.safe_child(self.ws.records, f"{plan.name}.json")
        if rec_path.is_file() and rec_path.stat().st_mtime >= self.started \
                and not self.cfg.force:
            view = {"sequences": {plan.name: layout.read_json(rec_path)}}
            state, _ = shot_state(self.ws.root, plan, self.cfg.backend, self.cfg.quality,
                                  view, self.cfg.options)
            if state == "complete":
                return "skipped", "complete (rendered by another batch meanwhile)"
        fail = layout.safe_child(self.ws.failures, f"{plan.name}.json")
        if fail.is_file() and fail.stat().st_mtime >= self.started:
            info = layout.read_json(fail)
            return "failed", f"failed in run {info.get('run', '?')}: {info.get('reason', '')}"
        return None

    # -- results --------------------------------------------------------------------------
    def _on_retry(self, task: ShotTask, attempt: int, reason: str) -> None:
        self.retry_notes.setdefault(task.name, []).append(reason)
        self._note()

    def _finish(self, task: ShotTask, result: Any, err: TaskError | None) -> None:
        plan = self.by_name[task.name]
        claim, _need = self.in_flight.pop(task.name)
        try:
            if err is None and task.name in self.lost:
                err = TaskError("claim taken over by another batch while rendering "
                                "(this batch stalled past --claim-timeout); result discarded")
            if err is None:
                err = self._finalize(task, plan, result, claim)
            if err is not None:
                self._failed(task, err)
        finally:
            assert self.heartbeat is not None
            self.heartbeat.drop(task.name)
            workspace.wipe_stage(self.ws, task.name)
            claims.release(claim)
            self._top_up(task.name, plan.frames)

    def _finalize(self, task: ShotTask, plan: ShotPlan, result: dict[str, Any],
                  claim: claims.Claim) -> TaskError | None:
        replacing = (task.name in self.known
                     or layout.safe_child(self.ws.records, f"{task.name}.json").is_file())
        try:
            finalize_shot(self.ws, task, plan, Path(result["tmp"]), result, claim,
                          self.run_id, replacing=replacing)
        except (OSError, S2RError) as exc:
            msg = exc.one_line() if isinstance(exc, S2RError) else f"{exc}"
            kind = "disk_full" if diskspace.is_disk_full(exc) else "error"
            return TaskError(f"could not move the shot into place: {msg}", kind=kind)
        reason = self.reasons.get(task.name, "")
        if result.get("replaced"):
            n = len(result["replaced"])
            reason = "; ".join(x for x in (reason, f"replaced {n} attempt folder"
                                           f"{'s' if n > 1 else ''} left by the lost worker")
                               if x)
        self._set(plan, "rendered", reason, frames=result["frames"],
                  seconds=result["seconds"])
        self._maybe_sync()
        return None

    def _failed(self, task: ShotTask, err: TaskError) -> None:
        plan = self.by_name[task.name]
        message = str(err)
        if err.kind == "disk_full" and not self.stopped:
            self.stopped = (f"{self.ws.root}: no space left on device while rendering "
                            f"{task.name} (its partial output was removed)")
        self._set(plan, "failed", message)
        workspace.log_failure(self.ws, task.name, message, err.traceback)
        workspace.write_failure(self.ws, task.name, {
            "reason": message, "kind": err.kind, "run": self.run_id,
            "host": socket.gethostname(), "time": time.time(),
            "retries": len(self.retry_notes.get(task.name, []))})

    def _set(self, plan: ShotPlan, status: str, reason: str, *, frames: int = 0,
             seconds: float = 0.0) -> None:
        notes = self.retry_notes.get(plan.name, [])
        if notes:
            reason = "; ".join(x for x in (reason, f"retried {len(notes)}x: "
                                           + " | ".join(notes)) if x)
        self.outcomes[plan.name] = ShotOutcome(plan.name, status, frames, seconds, reason,
                                               len(notes))
        self._note()

    # -- manifest merging -----------------------------------------------------------------
    def _sync(self) -> None:
        """Merge records into manifest.json; remember what a merge that wrote cost."""
        t0 = time.perf_counter()
        try:
            merged = workspace.sync_manifest(self.ws, __version__)
        except OSError as exc:  # a full disk: records stay; the next run merges them
            if not diskspace.is_disk_full(exc):
                raise
            merged = 0
        if merged:
            self._sync_cost = time.perf_counter() - t0

    def _maybe_sync(self) -> None:
        """Merge into manifest.json when the last merge by any batch on this root (the
        manifest's mtime) is longer ago than the merge cost / MERGE_BUDGET: the budget holds
        for all batches together, so 100 nodes do not queue on the lock."""
        try:
            last = (self.ws.root / layout.MANIFEST).stat().st_mtime
        except OSError:
            last = 0.0
        if time.time() - last >= self._sync_cost / MERGE_BUDGET:
            self._sync()

    # -- progress -------------------------------------------------------------------------
    def _note(self) -> None:
        """Shots done/attempted, running and retried after the frame counts; frames of
        shots that another batch renders leave the bar's total."""
        if self.bar is None:
            return
        names = {p.name for p in self.todo}
        gone = [n for n in names if n in self.outcomes
                and self.outcomes[n].status in ("claimed", "skipped", "pending")]
        done = sum(self.outcomes[n].status in ("rendered", "failed") for n in names
                   if n in self.outcomes)
        retried = sum(len(v) for v in self.retry_notes.values())
        with self._bar_lock:
            self.bar.set_total(sum(p.frames for p in self.todo if p.name not in gone))
            self.bar.update(0, note=f"shots {done}/{len(names) - len(gone)} done, "
                                    f"{len(self.in_flight)} running, {retried} retried")

    def _advance(self, name: str, frames: int) -> None:
        """Show ``frames`` done for shot ``name`` (monotone; called by the poller)."""
        with self._bar_lock:
            shown = self._shown.get(name, 0)
            if frames > shown and self.bar is not None:
                self.bar.update(frames - shown)
                self._shown[name] = frames

    def _top_up(self, name: str, frames: int) -> None:
        self._advance(name, frames)

    # -- teardown -------------------------------------------------------------------------
    def _close(self, run_file: Path) -> None:
        for name, (claim, _need) in list(self.in_flight.items()):
            workspace.wipe_stage(self.ws, name)
            claims.release(claim)
        self.in_flight.clear()
        self._sync()
        workspace.remove_empty_root_staging(self.ws)
        try:
            info = layout.read_json(run_file)
            info["finished"] = time.time()
            workspace.write_run(self.ws, self.run_id, info)
        except (OSError, S2RError):
            pass


class _Poller:
    """Counts the frames in the staging folders of shots in flight, for the progress bar
    (works for every executor: workers on other Ray nodes write to the shared root)."""

    def __init__(self, batch: _Batch, interval: float | None = None):
        self.batch = batch
        self.interval = interval or (2.0 if batch.cfg.executor == "ray" else 0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s2rhdr-progress", daemon=True)

    def __enter__(self) -> _Poller:
        if self.batch.cfg.show_progress:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for name in list(self.batch.in_flight):
                self.batch._advance(name, workspace.frames_staged(
                    self.batch.ws.shot_stage(name)))


# ---- summary ------------------------------------------------------------------------------

def summary_table(outcomes: Sequence[ShotOutcome]) -> str:
    """Fixed-width table: shot, status, frames, seconds, reason; then the counts."""
    rows = [("shot", "status", "frames", "seconds", "reason")]
    rows += [(o.name, o.status, str(o.frames), f"{o.seconds:.1f}", o.reason) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    counts = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
    retried = sum(o.retries > 0 for o in outcomes)
    text = (f"{counts['rendered']} rendered, {counts['skipped']} skipped, "
            f"{counts['failed']} failed")
    if counts["claimed"]:
        text += f", {counts['claimed']} claimed by other batches"
    if counts["pending"]:
        text += f", {counts['pending']} not started"
    if retried:
        text += f", {retried} retried"
    if counts["failed"]:
        work = getattr(outcomes, "work_dir", "")
        text += f" (tracebacks in {Path(work) / FAILURE_LOG if work else FAILURE_LOG})"
    lines.append(text)
    return "\n".join(line.rstrip() for line in lines)
