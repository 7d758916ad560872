"""Run one task per scene, in this process or in worker processes, results as they come.

Shared by ``export-official`` and ``official-preprocess``: each task returns
``(scene name, result or the exception it caught)``, so one bad scene never stops the others
and the caller records every result (resume state, progress bar) in the parent process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

SceneTask = Callable[..., tuple[str, Any]]


def each_scene(task: SceneTask, scenes: Sequence[Any], args: tuple[Any, ...], *,
               jobs: int = 1) -> Iterator[tuple[str, Any]]:
    """``task(scene, *args)`` for every scene; ``jobs > 1`` runs them in processes."""
    if jobs <= 1:
        for scene in scenes:
            yield task(scene, *args)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(task, scene, *args) for scene in scenes]
        for fut in as_completed(futures):
            yield fut.result()
