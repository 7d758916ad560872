"""Axes, transforms and shape bookkeeping shared by the Mitsuba scene modules.

Axes: the plan uses Unreal's left-handed world (X forward, Y right, Z up); Mitsuba is
right-handed, so every world point is mapped with ``F = diag(1, -1, 1)`` (flip Y). A rigid
Unreal transform ``M`` becomes ``F M F`` (determinant +1 again). The camera's OpenCV frame
(x right, y down, z forward) maps to Mitsuba's sensor frame (x left, y up, z forward) with
``D = diag(-1, -1, 1)``, so ``sensor.to_world = F @ camera_to_world @ D``. The same F is used
for geometry and camera, which is why rendered pixels match ``plan.camera_params(i)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.geometry import camera_to_world, rotator_axes

F = np.diag([1.0, -1.0, 1.0, 1.0])
D = np.diag([-1.0, -1.0, 1.0, 1.0])
SUN_DISTANCE_M = 5.0e4
HIDDEN = np.array([[1e-6, 0, 0, 0], [0, 1e-6, 0, 0], [0, 0, 1e-6, -1e5], [0, 0, 0, 1.0]])


def unreal_pose(location: Any, rotation: Any) -> np.ndarray:
    """4x4 Unreal local -> Unreal world (columns forward, right, up, location)."""
    fwd, right, up = rotator_axes(rotation)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = fwd, right, up, location
    return m


def to_mitsuba(m_unreal: np.ndarray) -> np.ndarray:
    """Unreal-axes rigid transform -> the same motion in Mitsuba's right-handed axes."""
    return F @ m_unreal @ F


def point_to_mitsuba(p: Any) -> list[float]:
    return [float(p[0]), -float(p[1]), float(p[2])]


def sensor_to_world(location: Any, rotation: Any) -> np.ndarray:
    return F @ np.array(camera_to_world(location, rotation)) @ D


def translate(x: float, y: float, z: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def scale(sx: float, sy: float, sz: float) -> np.ndarray:
    return np.diag([sx, sy, sz, 1.0])


def rot(axis: str, deg: float) -> np.ndarray:
    """Right-handed rotation about a Mitsuba-local axis."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    m = np.eye(4)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def mi_transform(m: np.ndarray) -> Any:
    import mitsuba as mi

    return mi.ScalarTransform4f(np.asarray(m, dtype=np.float64).tolist())


@dataclass
class Part:
    """One Mitsuba shape. ``local(phase) -> 4x4`` moves an actor part's rest geometry."""

    key: str
    actor: int = -1  # -1 static scene, k for plan.actors[k]
    mesh: bool = False  # meshes move by vertex update, analytic shapes by to_world
    rest: np.ndarray = field(default_factory=lambda: np.eye(4))  # canonical -> part space
    local: Callable[[float], np.ndarray] | None = None  # part space -> actor space at phase


LUMA = (0.2126, 0.7152, 0.0722)
TYPICAL_DISTANCE_M = 5.0


def _luminance(spectrum: dict[str, Any]) -> float:
    v = spectrum.get("value", 0.0)
    v = [float(v)] * 3 if np.isscalar(v) else [float(c) for c in v]
    return sum(a * b for a, b in zip(LUMA, v))


def area_weight(emitter: dict[str, Any], area_m2: float) -> float:
    """Emitter-sampling weight of an area light: the illuminance it gives at a typical
    distance (L * A / d^2 for a small source). Mitsuba picks emitters in proportion to
    ``sampling_weight`` (uniformly by default), so a sun among 25 street lamps would get only
    1/27 of the light samples: weighting by illuminance spends them where the light is."""
    return max(_luminance(emitter["radiance"]) * area_m2 / TYPICAL_DISTANCE_M**2, 1e-12)


def shape_area(kind: str, m: np.ndarray) -> float:
    sx, sy, sz = (float(np.linalg.norm(m[:3, i])) for i in range(3))
    if kind == "sphere":
        return 4 * math.pi * sx * sx
    if kind == "rectangle":
        return 4 * sx * sy
    if kind == "disk":
        return math.pi * sx * sy
    if kind == "cube":
        return 8 * (sx * sy + sy * sz + sx * sz)
    return 2 * math.pi * sx * sz  # cylinder side


class Shapes:
    """The scene's shapes dictionary and the bookkeeping of its parts (static helpers take
    Unreal-axes centres and full sizes in metres)."""

    def __init__(self) -> None:
        self.shapes: dict[str, Any] = {}
        self.parts: list[Part] = []

    def add(self, key: str, shape: dict[str, Any], part: Part | None = None) -> None:
        self.shapes[key] = shape
        self.parts.append(part or Part(key))

    def static(self, key: str, kind: str, m: np.ndarray, bsdf: dict[str, Any],
               emitter: dict[str, Any] | None = None) -> None:
        d: dict[str, Any] = {"type": kind, "to_world": mi_transform(m), "bsdf": bsdf}
        if emitter is not None:
            emitter.setdefault("sampling_weight", area_weight(emitter, shape_area(kind, m)))
            d["emitter"] = emitter
        self.add(key, d)

    def box(self, key: str, center_u: Any, size: Any, bsdf: dict[str, Any],
            emitter: dict[str, Any] | None = None) -> None:
        c = point_to_mitsuba(center_u)
        self.static(key, "cube", translate(*c) @ scale(size[0] / 2, size[1] / 2, size[2] / 2),
                    bsdf, emitter)

    def cyl(self, key: str, base_u: Any, radius: float, height: float,
            bsdf: dict[str, Any]) -> None:
        c = point_to_mitsuba(base_u)
        self.static(key, "cylinder", translate(*c) @ scale(radius, radius, height), bsdf)

    def disk(self, key: str, center_u: Any, radius: float, bsdf: dict[str, Any]) -> None:
        c = point_to_mitsuba(center_u)
        self.static(key, "disk", translate(*c) @ scale(radius, radius, 1.0), bsdf)

    def sphere(self, key: str, center_u: Any, radius: float, bsdf: dict[str, Any],
               emitter: dict[str, Any] | None = None) -> None:
        c = point_to_mitsuba(center_u)
        self.static(key, "sphere", translate(*c) @ scale(radius, radius, radius), bsdf, emitter)

    def panel(self, key: str, center_u: Any, facing_y: float, size: tuple[float, float],
              bsdf: dict[str, Any], emitter: dict[str, Any] | None = None) -> None:
        """A vertical rectangle in an x-z plane whose front faces Unreal ``+Y * facing_y``."""
        c = point_to_mitsuba(center_u)
        # rectangle normal +Z -> Mitsuba -Y*facing (Unreal +Y*facing)
        m = translate(*c) @ rot("x", 90.0 if facing_y > 0 else -90.0) \
            @ scale(size[0] / 2, size[1] / 2, 1.0)
        self.static(key, "rectangle", m, bsdf, emitter)
