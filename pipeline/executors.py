"""Run independent units of work (shots, statistics chunks) locally or on a Ray cluster.

One API for both so the batch renderer and the statistics share the same scaling story:
``run_tasks(fn, items, jobs=N, executor="local"|"ray")`` yields ``(item, result, error)`` in
completion order. ``fn`` must be a picklable top-level function. Errors are returned, never
raised, so one failing unit does not stop the rest.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.errors import S2RError

T = TypeVar("T")
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class TaskError:
    """What went wrong in one unit: the one-line message and the full traceback."""

    message: str
    traceback: str = ""

    def __str__(self) -> str:
        return self.message


def _describe(exc: BaseException) -> TaskError:
    msg = exc.one_line() if isinstance(exc, S2RError) else f"{type(exc).__name__}: {exc}"
    return TaskError(" ".join(msg.split()), traceback.format_exc())


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[Any, TaskError | None]:
    try:
        return fn(item), None
    except Exception as exc:  # reported per unit; the batch goes on
        return None, _describe(exc)


def exit_with_parent() -> None:
    """Pool-worker initializer: exit as soon as the parent process is gone.

    Why: after ``kill -9`` of the batch, ``ProcessPoolExecutor`` workers keep running the
    tasks already queued to them and then block forever; their live PIDs also keep the next
    run from removing their ``.tmp-*`` folders. The parent's sentinel becomes ready when it
    dies, which ends the worker whatever it is doing.
    """
    import os
    import threading
    from multiprocessing.connection import wait as wait_for

    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait_for([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_tasks(fn: Callable[[T], Any], items: Iterable[T], *, jobs: int = 1,
              executor: str = "local", address: str | None = None,
              resources: Mapping[str, float] | None = None,
              ) -> Iterator[tuple[T, Any, TaskError | None]]:
    """Run ``fn(item)`` for every item; yield ``(item, result, error)`` as units finish."""
    items = list(items)
    if executor not in EXECUTORS:
        raise S2RError(f"unknown executor {executor!r}", hint=f"use one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        yield from _run_ray(fn, items, address, resources or {})
        return
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            result, err = _call(fn, item)
            yield item, result, err
        return
    # spawn: renderers (Mitsuba/LLVM, torch) are not fork-safe once initialised
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                             initializer=exit_with_parent) as pool:
        pending = {pool.submit(_call, fn, item): item for item in items}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                item = pending.pop(fut)
                try:
                    result, err = fut.result()
                except Exception as exc:  # worker died (killed, out of memory)
                    result, err = None, TaskError(f"worker process failed: {exc}")
                yield item, result, err


def _run_ray(fn: Callable[[Any], Any], items: list[Any], address: str | None,
             resources: Mapping[str, float]) -> Iterator[tuple[Any, Any, TaskError | None]]:
    try:
        import ray
    except ImportError:
        raise S2RError("the ray executor needs Ray", hint="pip install '.[ray]'") from None
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
        started = True
    try:
        opts: dict[str, Any] = {"max_retries": 0}
        res = dict(resources)
        if "GPU" in res:
            opts["num_gpus"] = res.pop("GPU")
        if "CPU" in res:
            opts["num_cpus"] = res.pop("CPU")
        if res:
            opts["resources"] = res
        remote = ray.remote(_call).options(**opts)
        refs = {remote.remote(fn, item): item for item in items}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                item = refs.pop(ref)
                try:
                    result, err = ray.get(ref)
                except Exception as exc:
                    result, err = None, TaskError(f"ray task failed: {exc}")
                yield item, result, err
    finally:
        if started:
            ray.shutdown()
