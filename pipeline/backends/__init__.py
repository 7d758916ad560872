"""Renderer backends: name -> ``render(plan, out_dir, *, quality, progress=None)``.

Backends are imported lazily by name so that ``import pipeline`` stays cheap (and the Unreal
launcher does not pull in Mitsuba, nor Mitsuba the Unreal launcher). Every backend writes one
sequence in the dataset layout into ``out_dir`` and returns the files it wrote.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.errors import S2RError

QUALITIES = ("preview", "default", "final")

# name -> "module:function"; the unreal slot belongs to pipeline/backends/unreal.py
BACKENDS: dict[str, str] = {
    "mitsuba": "pipeline.backends.mitsuba:render",
    "unreal": "pipeline.backends.unreal:render",
}


def get_backend(name: str) -> Callable[..., Any]:
    """The render function of backend ``name`` (imported on first use)."""
    target = BACKENDS.get(name)
    if target is None:
        raise S2RError(f"unknown backend {name!r}", hint=f"use one of {', '.join(BACKENDS)}")
    module_name, func = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise S2RError(f"backend {name!r} is not available ({exc})") from None
    fn = getattr(module, func, None)
    if fn is None:
        raise S2RError(f"backend {name!r}: {module_name} has no {func}()")
    return fn


def resource_request(name: str, options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Per-shot resources for the executor (Ray): a backend may define ``resources(options)``.

    The Unreal backend asks for a GPU this way; Mitsuba (CPU) asks for one CPU.
    """
    target = BACKENDS.get(name)
    if target is None:
        raise S2RError(f"unknown backend {name!r}", hint=f"use one of {', '.join(BACKENDS)}")
    try:
        module = importlib.import_module(target.split(":")[0])
    except ImportError:
        return {"CPU": 1.0}
    fn = getattr(module, "resources", None)
    return dict(fn(dict(options or {}))) if callable(fn) else {"CPU": 1.0}
