"""Renderer backends: one :class:`Backend` protocol, looked up by name.

A backend receives a :class:`~pipeline.plan_model.ShotPlan` and a sequence folder, writes one
sequence in the dataset layout there and returns the files it wrote; it says which Ray
resources one shot needs and which passes it writes for a plan (the batch validates exactly
those). Backends are imported on first use, so ``import pipeline`` stays cheap and the Unreal
launcher does not pull in Mitsuba, nor Mitsuba the Unreal launcher.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pipeline.errors import S2RError
from pipeline.plan_model import ShotPlan

QUALITIES = ("preview", "default", "final")


@runtime_checkable
class Backend(Protocol):
    """What the batch needs from a renderer."""

    name: str

    def render(self, plan: ShotPlan, out_dir: Path, *, quality: str = "default",
               progress: Any = None, options: Mapping[str, Any] | None = None) -> list[Path]:
        """Render every output frame of ``plan`` into ``out_dir``; return the files written."""
        ...

    def resources(self, options: Mapping[str, Any]) -> dict[str, float]:
        """Per-shot resources for a cluster scheduler (Ray): ``{"CPU": n, "GPU": m}``."""
        ...

    def passes_written(self, plan: ShotPlan) -> tuple[str, ...]:
        """The layout passes this backend writes for ``plan`` (always starting with img)."""
        ...


def _mitsuba() -> Backend:
    from pipeline.backends.mitsuba import MitsubaBackend

    return MitsubaBackend()


def _unreal() -> Backend:
    from pipeline.backends.unreal import UnrealBackend

    return UnrealBackend()


BACKENDS: dict[str, Callable[[], Backend]] = {"mitsuba": _mitsuba, "unreal": _unreal}


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (imported on first use); a one-line error otherwise."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise S2RError(f"unknown backend {name!r}", hint=f"use one of {', '.join(BACKENDS)}")
    try:
        return factory()
    except ImportError as exc:
        raise S2RError(f"backend {name!r} is not available ({exc})") from None


def resource_request(name: str, options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Per-shot resources of backend ``name`` (Unreal asks for a GPU, Mitsuba for one CPU)."""
    return dict(get_backend(name).resources(dict(options or {})))
