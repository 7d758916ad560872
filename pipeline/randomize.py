"""Resolve a spec's randomisation (uniform / normal / choice) from a seed, deterministically.

Why a per-field stream: each randomised field draws from its own ``random.Random`` seeded by
``sha256(f"{seed}|{field_path}")``, so adding, removing or reordering *other* random fields
never changes this field's value, and results do not depend on Python's hash seed.
Standard library only (vendored into the Unreal editor).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import fields, is_dataclass, replace
from typing import Any

from pipeline.errors import S2RError
from pipeline.spec import Choice, Normal, SceneSpec, Uniform, check_consistency

DRAW_DIGITS = 6  # drawn floats are rounded so plans stay readable and stable
MAX_REDRAWS = 1000


def field_rng(seed: int, path: str) -> random.Random:
    """The random stream of one field path (also used by the planner for its own choices)."""
    digest = hashlib.sha256(f"{int(seed)}|{path}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _inside(x: float, d: Normal) -> bool:
    if d.lo is not None and (x < d.lo or (d.lo_open and x <= d.lo)):
        return False
    return d.hi is None or x <= d.hi


def draw(value: Any, seed: int, path: str) -> Any:
    """One concrete value for a distribution (or the value itself if it is fixed)."""
    if isinstance(value, Uniform):
        rng = field_rng(seed, path)
        if value.integer:
            return rng.randint(int(value.lo), int(value.hi))
        return round(rng.uniform(value.lo, value.hi), DRAW_DIGITS)
    if isinstance(value, Normal):
        rng = field_rng(seed, path)
        for _ in range(MAX_REDRAWS):  # truncated normal: mu is inside, so this ends fast
            x = rng.gauss(value.mu, value.sigma)
            x = float(round(x)) if value.integer else round(x, DRAW_DIGITS)
            if _inside(x, value):
                break
        else:
            x = value.mu
        return int(x) if value.integer else x
    if isinstance(value, Choice):
        return _resolve(field_rng(seed, path).choice(value.options), seed, path + "#")
    return value


def _resolve(value: Any, seed: int, path: str) -> Any:
    if isinstance(value, (Uniform, Normal, Choice)):
        return draw(value, seed, path)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in fields(value):
            if not f.compare:
                continue
            old = getattr(value, f.name)
            new = _resolve(old, seed, f"{path}.{f.name}" if path else f.name)
            if new is not old:
                changes[f.name] = new
        return replace(value, **changes) if changes else value
    if isinstance(value, tuple):
        items = tuple(_resolve(v, seed, f"{path}[{i}]") for i, v in enumerate(value))
        return items if any(a is not b for a, b in zip(items, value)) else value
    return value


def resolve(spec: SceneSpec, seed: int | None = None) -> SceneSpec:
    """A copy of ``spec`` with every random value drawn from ``seed`` (default: ``spec.seed``).

    Cross-field checks run again on the drawn values; a failure is a ``SpecError`` at the
    randomised field.
    """
    seed = spec.seed if seed is None else int(seed)
    if seed < 0:
        raise S2RError(f"seed must be >= 0, got {seed}")
    out = _resolve(spec, seed, "")
    if seed != out.seed:
        out = replace(out, seed=seed)
    check_consistency(out)
    return out
