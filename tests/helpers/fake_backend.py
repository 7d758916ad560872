"""A fast Backend for batch tests (a helper module: no tests here).

It writes a real shot in the layout (HDR-looking img EXRs through ``core.exr``, camera
records, plan.json, meta.json) that ``check_shot`` accepts, in milliseconds, so tests of
claims, concurrency, Ray node loss and full disks do not pay for Mitsuba in every worker.
Picklable: Ray workers and spawned processes import it from ``tests.helpers``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import RenderError
from pipeline.plan_model import ShotPlan
from s2rhdr_loader.core import exr, layout
from s2rhdr_loader.core.atomic import atomic_write_json, atomic_write_text


def _node_id() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - not in a Ray worker
        pass
    return "local"


class FakeBackend:
    """``frame_seconds`` per frame; frame 0 waits for the file ``gate`` (if set); each
    start writes ``<marker_dir>/<shot>.<pid>`` holding the Ray node id; shots named in
    ``fail`` raise a RenderError; with ``die_once`` (a folder) the first attempt of every
    shot kills its own process with SIGKILL after frame 0 (a worker lost mid-shot)."""

    name = "fake"

    def __init__(self, frame_seconds: float = 0.0, gate: str | None = None,
                 marker_dir: str | None = None, gate_timeout: float = 120.0,
                 fail: tuple[str, ...] = (), die_once: str | None = None):
        self.frame_seconds = frame_seconds
        self.gate = gate
        self.marker_dir = marker_dir
        self.gate_timeout = gate_timeout
        self.fail = tuple(fail)
        self.die_once = die_once

    def render(self, plan: ShotPlan, out_dir: Path, *, quality: str = "default",
               progress: Any = None, options: Any = None) -> list[Path]:
        if plan.name in self.fail:
            raise RenderError(f"{plan.name}: the fake renderer was told to fail",
                              hint="remove it from FakeBackend(fail=...)")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.marker_dir:
            Path(self.marker_dir, f"{plan.name}.{os.getpid()}").write_text(_node_id())
        w, h = plan.render.resolution
        rng = np.random.default_rng(plan.seed)
        written = []
        for i in range(plan.frames):
            if i == 0 and self.gate:
                deadline = time.monotonic() + self.gate_timeout
                while not Path(self.gate).exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            img = (np.exp(rng.normal(0.0, 2.0, (h, w, 3))) * 10.0).astype(np.float32)
            exr.write_exr(layout.frame_path(out_dir, "img", i), img,
                          pixel_type=plan.render.exr_pixel_type,
                          compression=plan.render.exr_compression)
            written.append(layout.frame_path(out_dir, "img", i))
            written.append(layout.write_camera_params(out_dir, i, plan.camera_params(i)))
            if i == 0 and self.die_once:
                mark = Path(self.die_once, f"{plan.name}.died")
                if not mark.exists():
                    mark.write_text(str(os.getpid()))
                    os.kill(os.getpid(), signal.SIGKILL)
            if self.frame_seconds:
                time.sleep(self.frame_seconds)
        written.append(atomic_write_text(out_dir / layout.PLAN_FILE, plan.to_json()))
        written.append(atomic_write_json(out_dir / layout.META_FILE, {
            "backend": "fake", "variant": "fake", "resolution": [w, h], "name": plan.name,
            "frames": plan.frames, "pid": os.getpid(), "node": _node_id()}))
        return written

    def resources(self, options: Any) -> dict[str, float]:
        return {"CPU": 1.0}

    def passes_written(self, plan: ShotPlan) -> tuple[str, ...]:
        return ("img",)
