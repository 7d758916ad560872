"""Value types shared by the spec model and its readers: vectors, YAML locations and the
unresolved randomisation values (``pipeline.randomize`` draws them from the seed).

Standard library only (vendored into the Unreal editor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Vec3 = tuple[float, float, float]
Loc = tuple[str, int, int]  # file, line, column (1-based)


@dataclass(frozen=True)
class Uniform:
    """Uniform draw in ``[lo, hi]`` (integers: inclusive ``randint``)."""

    lo: float
    hi: float
    integer: bool = False
    dist: str = "uniform"


@dataclass(frozen=True)
class Normal:
    """Gaussian draw truncated to the field's valid range (redrawn until inside it)."""

    mu: float
    sigma: float
    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    lo_open: bool = False  # the range excludes ``lo`` (e.g. scale > 0)
    dist: str = "normal"


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (each already validated as a value of the field)."""

    options: tuple
    dist: str = "choice"


RANDOM_TYPES = (Uniform, Normal, Choice)


def is_random(value: Any) -> bool:
    return isinstance(value, RANDOM_TYPES)


def is_fixed(value: Any) -> bool:
    """True when nothing in ``value`` is still random."""
    if is_random(value):
        return False
    if isinstance(value, tuple):
        return all(is_fixed(v) for v in value)
    return True
