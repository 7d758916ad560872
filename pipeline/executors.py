"""Run independent units of work (shots, statistics chunks) locally or on a Ray cluster.

One API for both so the batch renderer and the statistics share the same scaling story:
``run_tasks(fn, items, jobs=N, executor="local"|"ray")`` yields ``(item, result, error)`` in
completion order. ``fn`` must be a picklable top-level function. Errors are returned, never
raised, so one failing unit does not stop the rest.

``items`` is consumed lazily: the next unit is taken only when a slot is free (``jobs``
local processes; on Ray ``jobs`` or, by default, as many as the cluster's resources run at
once), so a batch claims a shot only when it really starts it. Units whose worker died
(a killed or out-of-memory process, a lost Ray node) are run again up to ``max_retries``
times and reported through ``on_retry(item, attempt, reason)``: the driver resubmits
instead of Ray's own ``max_retries`` so that it knows which units were retried and why.
Errors raised by ``fn`` itself are never retried (they would fail again).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.errors import S2RError

T = TypeVar("T")
EXECUTORS = ("local", "ray")
RetryHook = Callable[[Any, int, str], None]


@dataclass(frozen=True)
class TaskError:
    """What went wrong in one unit: the one-line message, the full traceback, and its kind:
    ``error`` (raised by the unit), ``disk_full`` (ENOSPC/EDQUOT), ``lost`` (the worker or
    node died and no retry was left)."""

    message: str
    traceback: str = ""
    kind: str = "error"

    def __str__(self) -> str:
        return self.message


def _describe(exc: BaseException) -> TaskError:
    from pipeline.diskspace import is_disk_full

    msg = exc.one_line() if isinstance(exc, S2RError) else f"{type(exc).__name__}: {exc}"
    return TaskError(" ".join(msg.split()), traceback.format_exc(),
                     "disk_full" if is_disk_full(exc) else "error")


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[Any, TaskError | None]:
    try:
        return fn(item), None
    except Exception as exc:  # reported per unit; the batch goes on
        return None, _describe(exc)


def exit_with_parent() -> None:
    """Pool-worker initializer: exit as soon as the parent process is gone.

    Why: after ``kill -9`` of the batch, ``ProcessPoolExecutor`` workers keep running the
    tasks already queued to them and then block forever. The parent's sentinel becomes
    ready when it dies, which ends the worker whatever it is doing.
    """
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
              resources: Mapping[str, float] | None = None, max_retries: int = 0,
              on_retry: RetryHook | None = None,
              ) -> Iterator[tuple[T, Any, TaskError | None]]:
    """Run ``fn(item)`` for every item; yield ``(item, result, error)`` as units finish."""
    if executor not in EXECUTORS:
        raise S2RError(f"unknown executor {executor!r}", hint=f"use one of {', '.join(EXECUTORS)}")
    hook = on_retry or (lambda item, attempt, reason: None)
    if executor == "ray":
        yield from _run_ray(fn, iter(items), address, resources or {}, jobs,
                            max(0, max_retries), hook)
        return
    if jobs <= 1:
        for item in items:
            result, err = _call(fn, item)
            yield item, result, err
        return
    yield from _run_pool(fn, iter(items), jobs, max(0, max_retries), hook)


_END = object()


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    # spawn: renderers (Mitsuba/LLVM, torch) are not fork-safe once initialised
    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                               initializer=exit_with_parent)


def _workers(pool: ProcessPoolExecutor) -> dict[int, Any]:
    """The pool's worker processes now (the pool forgets them once it breaks)."""
    return dict(getattr(pool, "_processes", None) or {})


def _dead_workers(procs: dict[int, Any]) -> str:
    """'pid 123 killed by signal 9' for the dead ones among ``procs`` (a snapshot taken
    while the pool was alive: after a break the pool clears its own table)."""
    notes = []
    for pid, proc in procs.items():
        proc.join(timeout=5)
        code = proc.exitcode
        if code is not None and code != 0:
            notes.append(f"pid {pid} " + (f"killed by signal {-code}" if code < 0
                                          else f"exit status {code}"))
    return ", ".join(notes)


def _run_pool(fn: Callable[[Any], Any], items: Iterator[Any], jobs: int, max_retries: int,
              on_retry: RetryHook) -> Iterator[tuple[Any, Any, TaskError | None]]:
    pool = _new_pool(jobs)
    pending: dict[Future, tuple[Any, int]] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < jobs:
                item = next(items, _END)
                if item is _END:
                    exhausted = True
                    break
                pending[pool.submit(_call, fn, item)] = (item, 0)
            if not pending:
                return
            procs = _workers(pool)
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = [f for f in done if isinstance(f.exception(), BrokenProcessPool)]
            for fut in done:
                if fut in broken:
                    continue
                item, _tries = pending.pop(fut)
                try:
                    result, err = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
                    result, err = None, TaskError(f"worker process failed: {exc}")
                yield item, result, err
            if broken:
                pool = yield from _recover(pool, procs, pending, fn, jobs, max_retries,
                                           on_retry)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _recover(pool: ProcessPoolExecutor, procs: dict[int, Any],
             pending: dict[Future, tuple[Any, int]], fn: Callable[[Any], Any], jobs: int,
             max_retries: int, on_retry: RetryHook,
             ) -> Iterator[tuple[Any, Any, TaskError | None]]:
    """A worker died, which breaks the whole pool: finish what finished, resubmit the rest
    on a fresh pool (or report them lost when their retries are used up)."""
    why = _dead_workers(procs)
    reason = f"worker process died ({why})" if why else "worker process died"
    pool.shutdown(wait=True, cancel_futures=True)
    fresh = _new_pool(jobs)
    for fut, (item, tries) in list(pending.items()):
        del pending[fut]
        if fut.done() and fut.exception() is None:
            result, err = fut.result()
            yield item, result, err
        elif tries < max_retries:
            on_retry(item, tries + 1, reason)
            pending[fresh.submit(_call, fn, item)] = (item, tries + 1)
        else:
            yield item, None, TaskError(f"{reason}; no retry left (--max-retries "
                                        f"{max_retries})", kind="lost")
    return fresh


# ---- Ray ------------------------------------------------------------------------------------

def _ray_options(resources: Mapping[str, float]) -> dict[str, Any]:
    opts: dict[str, Any] = {"max_retries": 0}  # the driver retries (see the module docstring)
    res = dict(resources)
    if "GPU" in res:
        opts["num_gpus"] = res.pop("GPU")
    if "CPU" in res:
        opts["num_cpus"] = res.pop("CPU")
    if res:
        opts["resources"] = res
    return opts


def _ray_capacity(ray: Any, resources: Mapping[str, float]) -> int:
    """How many units the cluster runs at once (at least 1)."""
    total = ray.cluster_resources()
    need = {k: float(v) for k, v in resources.items() if float(v) > 0} or {"CPU": 1.0}
    fits = [int(float(total.get(k, 0.0)) // v) for k, v in need.items()]
    return max(1, min(fits))


def _retryable(ray: Any) -> tuple[type[BaseException], ...]:
    ex = ray.exceptions
    names = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError")
    return tuple(getattr(ex, n) for n in names if hasattr(ex, n))


def _short(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextmanager
def _loopback_only(ray: Any, private: bool) -> Iterator[None]:
    """A private one-machine instance binds and connects to 127.0.0.1 only.

    Ray resolves 127.0.0.1 to the machine's "remotely reachable" address unless
    ``ENABLE_RAY_CLUSTER`` is off (env ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read by every
    Ray process at import); a cluster given by ``--address`` is left alone.
    """
    if not private:
        yield
        return
    from ray._private import ray_constants

    saved_env, saved_flag = os.environ.get(_LOOPBACK_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_LOOPBACK_ENV] = "0"  # inherited by the GCS, raylet and workers
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(_LOOPBACK_ENV, None)
        else:
            os.environ[_LOOPBACK_ENV] = saved_env


def _ray_init(ray: Any, address: str | None) -> bool:
    """Connect to ``address`` or start a private local instance; True if we started one."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "ignore_reinit_error": True}
    if address is None:
        kwargs["_node_ip_address"] = "127.0.0.1"
    ray.init(address=address, **kwargs)
    return True


def _run_ray(fn: Callable[[Any], Any], items: Iterator[Any], address: str | None,
             resources: Mapping[str, float], jobs: int, max_retries: int,
             on_retry: RetryHook) -> Iterator[tuple[Any, Any, TaskError | None]]:
    try:
        import ray
    except ImportError:
        raise S2RError("the ray executor needs Ray", hint="pip install '.[ray]'") from None
    with _loopback_only(ray, address is None and not ray.is_initialized()):
        yield from _ray_loop(ray, fn, items, address, resources, jobs, max_retries, on_retry)


def _ray_loop(ray: Any, fn: Callable[[Any], Any], items: Iterator[Any], address: str | None,
              resources: Mapping[str, float], jobs: int, max_retries: int,
              on_retry: RetryHook) -> Iterator[tuple[Any, Any, TaskError | None]]:
    started = _ray_init(ray, address)
    try:
        remote = ray.remote(_call).options(**_ray_options(resources))
        slots = jobs if jobs > 1 else _ray_capacity(ray, resources)
        retryable = _retryable(ray)
        refs: dict[Any, tuple[Any, int]] = {}
        exhausted = False
        while True:
            while not exhausted and len(refs) < slots:
                item = next(items, _END)
                if item is _END:
                    exhausted = True
                    break
                refs[remote.remote(fn, item)] = (item, 0)
            if not refs:
                return
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=2.0)
            for ref in ready:
                item, tries = refs.pop(ref)
                try:
                    result, err = ray.get(ref)
                except retryable as exc:
                    if tries < max_retries:
                        on_retry(item, tries + 1, _short(exc))
                        refs[remote.remote(fn, item)] = (item, tries + 1)
                        continue
                    result, err = None, TaskError(f"{_short(exc)}; no retry left "
                                                  f"(--max-retries {max_retries})", kind="lost")
                except Exception as exc:  # noqa: BLE001 - reported per unit
                    result, err = None, TaskError(f"ray task failed: {_short(exc)}")
                yield item, result, err
    finally:
        if started:
            ray.shutdown()
