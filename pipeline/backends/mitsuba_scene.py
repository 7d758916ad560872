"""Build a Mitsuba scene dictionary from a ShotPlan, and pose it frame by frame.

Axes: the plan uses Unreal's left-handed world (X forward, Y right, Z up); Mitsuba is
right-handed, so every world point is mapped with ``F = diag(1, -1, 1)`` (flip Y). A rigid
Unreal transform ``M`` becomes ``F M F`` (determinant +1 again). The camera's OpenCV frame
(x right, y down, z forward) maps to Mitsuba's sensor frame (x left, y up, z forward) with
``D = diag(-1, -1, 1)``, so ``sensor.to_world = F @ camera_to_world @ D``. The same F is used
for geometry and camera, which is why rendered pixels match ``plan.camera_params(i)``.

Radiometry: emitters are given in photometric units times ``plan.exposure.scale`` (we scale
the emitters, not the image), so a pixel value is luminance (cd/m^2) x exposure scale.
No randomness: textures come from a fixed integer hash, geometry from the preset tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import RenderError
from pipeline.geometry import camera_to_world, rotator_axes
from pipeline.plan_model import ActorPlan, ActorPose, ShotPlan

F = np.diag([1.0, -1.0, 1.0, 1.0])
D = np.diag([-1.0, -1.0, 1.0, 1.0])
PRESETS = ("street", "plaza", "interior", "parking", "park")
SUN_DISTANCE_M = 5.0e4
HIDDEN = np.array([[1e-6, 0, 0, 0], [0, 1e-6, 0, 0], [0, 0, 1e-6, -1e5], [0, 0, 0, 1.0]])


# ---- transforms ---------------------------------------------------------------------------

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


def _mi_transform(m: np.ndarray) -> Any:
    import mitsuba as mi

    return mi.ScalarTransform4f(np.asarray(m, dtype=np.float64).tolist())


# ---- procedural textures (deterministic hash noise, no RNG) -------------------------------

def _hash(ix: np.ndarray, iy: np.ndarray, salt: float) -> np.ndarray:
    v = np.sin(ix * 12.9898 + iy * 78.233 + salt * 37.719) * 43758.5453
    return v - np.floor(v)


def value_noise(size: int, cells: int, salt: float) -> np.ndarray:
    """Tileable bilinear value noise in [0, 1] (size x size)."""
    t = np.arange(size) / size * cells
    i0 = np.floor(t).astype(int)
    f = t - i0
    f = f * f * (3 - 2 * f)
    i1 = (i0 + 1) % cells
    y0, x0 = np.meshgrid(i0, i0, indexing="ij")
    y1, x1 = np.meshgrid(i1, i1, indexing="ij")
    fy, fx = np.meshgrid(f, f, indexing="ij")
    a, b = _hash(x0, y0, salt), _hash(x1, y0, salt)
    c, d = _hash(x0, y1, salt), _hash(x1, y1, salt)
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def texture(base: tuple[float, float, float], pattern: str, salt: float,
            size: int = 64) -> np.ndarray:
    """Linear albedo texture: checker / noise / stripes modulating ``base`` (so SI is not 0)."""
    n = 0.5 * value_noise(size, 8, salt) + 0.5 * value_noise(size, 32, salt + 1.0)
    if pattern == "checker":
        yy, xx = np.mgrid[0:size, 0:size]
        mod = np.where(((xx // (size // 4)) + (yy // (size // 4))) % 2 == 0, 1.0, 0.55)
        mod = mod * (0.8 + 0.4 * n)
    elif pattern == "facade":
        # a grid of dark windows (glass over unlit rooms, albedo ~0.03) on a lighter wall
        yy, xx = np.mgrid[0:size, 0:size]
        cell = size // 4
        window = ((xx % cell) > cell // 4) & ((xx % cell) < 3 * cell // 4) & \
                 ((yy % cell) > cell // 5) & ((yy % cell) < 4 * cell // 5)
        mod = np.where(window, 0.06, 1.0) * (0.8 + 0.4 * n)
    elif pattern == "stripes":
        xx = np.mgrid[0:size, 0:size][1]
        mod = np.where((xx % (size // 2)) < size // 16, 2.2, 1.0) * (0.8 + 0.4 * n)
    else:
        mod = 0.6 + 0.8 * n
    rgb = np.clip(np.asarray(base)[None, None, :] * mod[..., None], 0.0, 0.95)
    return rgb.astype(np.float32)


def diffuse_tex(base: tuple[float, float, float], pattern: str, salt: float,
                repeat: float = 1.0) -> dict[str, Any]:
    import mitsuba as mi

    return {"type": "diffuse", "reflectance": {
        "type": "bitmap", "data": mi.TensorXf(texture(base, pattern, salt)), "raw": True,
        "wrap_mode": "repeat", "filter_type": "bilinear",
        "to_uv": mi.ScalarTransform4f().scale([repeat, repeat, 1.0])}}


def diffuse(rgb: tuple[float, float, float]) -> dict[str, Any]:
    return {"type": "diffuse", "reflectance": {"type": "rgb", "value": list(rgb)}}


def paint(rgb: tuple[float, float, float]) -> dict[str, Any]:
    """Car paint / glossy props: rough plastic gives specular sun glints."""
    return {"type": "roughplastic", "distribution": "ggx", "alpha": 0.08,
            "diffuse_reflectance": {"type": "rgb", "value": list(rgb)}}


# ---- scene pieces -------------------------------------------------------------------------

@dataclass
class Part:
    """One Mitsuba shape. ``pose(frame_actor_pose) -> 4x4`` moves its rest geometry."""

    key: str
    actor: int = -1  # -1 static scene, k for plan.actors[k]
    mesh: bool = False  # meshes move by vertex update, analytic shapes by to_world
    rest: np.ndarray = field(default_factory=lambda: np.eye(4))  # canonical -> part space
    local: Callable[[float], np.ndarray] | None = None  # part space -> actor space at phase


def _box(key: str, center_u: Any, size: Any, bsdf: dict[str, Any],
         parts: list[Part], shapes: dict[str, Any]) -> None:
    """Static axis-aligned box from an Unreal-axes centre and full size (metres)."""
    c = point_to_mitsuba(center_u)
    m = translate(*c) @ scale(size[0] / 2, size[1] / 2, size[2] / 2)
    shapes[key] = {"type": "cube", "to_world": _mi_transform(m), "bsdf": bsdf}
    parts.append(Part(key))


def _cyl(key: str, base_u: Any, radius: float, height: float, bsdf: dict[str, Any],
         parts: list[Part], shapes: dict[str, Any]) -> None:
    c = point_to_mitsuba(base_u)
    m = translate(*c) @ scale(radius, radius, height)
    shapes[key] = {"type": "cylinder", "to_world": _mi_transform(m), "bsdf": bsdf}
    parts.append(Part(key))


def _sphere(key: str, center_u: Any, radius: float, bsdf: dict[str, Any],
            parts: list[Part], shapes: dict[str, Any]) -> None:
    c = point_to_mitsuba(center_u)
    shapes[key] = {"type": "sphere", "to_world": _mi_transform(
        translate(*c) @ scale(radius, radius, radius)), "bsdf": bsdf}
    parts.append(Part(key))


def _ground(size: float, base: tuple[float, float, float], pattern: str, salt: float,
            parts: list[Part], shapes: dict[str, Any], repeat: float) -> None:
    shapes["env_ground"] = {"type": "rectangle",
                            "to_world": _mi_transform(scale(size / 2, size / 2, 1.0)),
                            "bsdf": diffuse_tex(base, pattern, salt, repeat)}
    parts.append(Part("env_ground"))


def _buildings(row_y: float, xs: range, depth: float, side: int, salt: float,
               parts: list[Part], shapes: dict[str, Any], gap: tuple[float, float] | None,
               prefix: str) -> None:
    for i, x in enumerate(xs):
        if gap and gap[0] <= x <= gap[1]:
            continue
        h = 6.0 + 14.0 * float(_hash(np.array(i), np.array(side), salt))
        tint = 0.35 + 0.3 * float(_hash(np.array(i), np.array(side + 7), salt))
        bsdf = diffuse_tex((tint, tint * 0.9, tint * 0.8), "facade", salt + i, 2.0)
        _box(f"{prefix}_{i}", (x, side * (row_y + depth / 2), h / 2), (9.5, depth, h), bsdf,
             parts, shapes)


def build_preset(name: str, parts: list[Part], shapes: dict[str, Any]) -> None:
    """Procedural sets. Layouts keep the region x in [-5, 40], |y| < 10 free for actors."""
    if name not in PRESETS:
        raise RenderError(f"unknown mitsuba preset {name!r}",
                          hint=f"use one of {', '.join(PRESETS)}")
    if name == "street":
        _ground(400, (0.18, 0.18, 0.19), "noise", 1.0, parts, shapes, 60)
        for side in (-1, 1):
            _box(f"env_walk{side + 1}", (40, side * 11, 0.075), (140, 4, 0.15),
                 diffuse_tex((0.45, 0.43, 0.4), "checker", 2.0, 4.0), parts, shapes)
            _buildings(13, range(-30, 110, 10), 10, side, 3.0 + side, parts, shapes,
                       (14, 26), f"env_bld{side + 1}")
            for k, x in enumerate(range(0, 100, 16)):
                _cyl(f"env_pole{side + 1}_{k}", (x + 3, side * 9.5, 0), 0.08, 5.0,
                     paint((0.2, 0.2, 0.22)), parts, shapes)
    elif name == "plaza":
        _ground(400, (0.5, 0.47, 0.42), "checker", 11.0, parts, shapes, 100)
        for k in range(12):
            a = 2 * math.pi * k / 12
            _box(f"env_bld{k}", (18 + 45 * math.cos(a), 45 * math.sin(a), 8), (14, 14, 16),
                 diffuse_tex((0.6, 0.55, 0.5), "facade", 12.0 + k, 2.0), parts, shapes)
        _cyl("env_fountain", (22, 14, 0), 3.0, 0.8, diffuse_tex((0.7, 0.7, 0.7), "noise", 13.0),
             parts, shapes)
        for k in range(4):
            _box(f"env_bench{k}", (5 + 8 * k, -12, 0.25), (2.0, 0.6, 0.5),
                 paint((0.35, 0.2, 0.1)), parts, shapes)
    elif name == "interior":
        def wall() -> dict[str, Any]:  # a fresh dict per shape: Mitsuba consumes the texture
            return diffuse_tex((0.75, 0.72, 0.66), "noise", 21.0, 2.0)

        _box("env_floor", (5, 0, -0.05), (24, 16, 0.1),
             diffuse_tex((0.45, 0.3, 0.18), "stripes", 22.0, 6.0), parts, shapes)
        _box("env_ceiling", (5, 0, 3.55), (24, 16, 0.1), wall(), parts, shapes)
        _box("env_wall_back", (17, 0, 1.75), (0.2, 16, 3.5), wall(), parts, shapes)
        _box("env_wall_front", (-7, 0, 1.75), (0.2, 16, 3.5), wall(), parts, shapes)
        _box("env_wall_right", (5, 8, 1.75), (24, 0.2, 3.5), wall(), parts, shapes)
        # the left wall has a window band (1.0 .. 2.6 m) letting sun and sky in
        _box("env_wall_left_lo", (5, -8, 0.5), (24, 0.2, 1.0), wall(), parts, shapes)
        _box("env_wall_left_hi", (5, -8, 3.05), (24, 0.2, 0.9), wall(), parts, shapes)
        for k in range(3):
            _box(f"env_table{k}", (2 + 5 * k, 4, 0.4), (1.6, 0.9, 0.8),
                 paint((0.5, 0.35, 0.2)), parts, shapes)
        _box("env_shelf", (14, -5, 1.0), (0.5, 3, 2.0),
             diffuse_tex((0.3, 0.3, 0.35), "checker", 23.0), parts, shapes)
        _box("env_outside", (5, 0, -0.3), (200, 200, 0.2),
             diffuse_tex((0.25, 0.35, 0.15), "noise", 24.0, 40.0), parts, shapes)
    elif name == "parking":
        _ground(300, (0.3, 0.3, 0.3), "stripes", 31.0, parts, shapes, 50)
        for row, y in enumerate((-9.0, 9.0)):
            for k in range(10):
                if 14 <= -8 + 6 * k <= 26:
                    continue
                tone = (0.2 + 0.5 * float(_hash(np.array(k), np.array(row), 32.0)), 0.25, 0.3)
                _box(f"env_car{row}_{k}", (-8 + 6 * k, y, 0.75), (4.4, 1.9, 1.5),
                     paint(tone), parts, shapes)
        for k in range(6):
            _box(f"env_pillar{k}", (-10 + 12 * k, 14, 2.0), (0.6, 0.6, 4.0),
                 diffuse_tex((0.6, 0.6, 0.6), "noise", 33.0 + k), parts, shapes)
        _box("env_wall", (20, 20, 3), (80, 0.4, 6),
             diffuse_tex((0.5, 0.5, 0.48), "checker", 34.0, 8.0), parts, shapes)
    elif name == "park":
        _ground(400, (0.12, 0.25, 0.07), "noise", 41.0, parts, shapes, 80)
        _box("env_path", (20, 0, 0.01), (120, 3, 0.02),
             diffuse_tex((0.5, 0.45, 0.35), "noise", 42.0, 10.0), parts, shapes)
        for k in range(14):
            x = -10 + 9 * k
            y = (12 + 6 * float(_hash(np.array(k), np.array(1), 43.0))) * (1 if k % 2 else -1)
            _cyl(f"env_trunk{k}", (x, y, 0), 0.25, 3.5,
                 diffuse_tex((0.3, 0.2, 0.12), "noise", 44.0 + k), parts, shapes)
            _sphere(f"env_crown{k}", (x, y, 5.0), 2.4,
                    diffuse_tex((0.1, 0.3, 0.06), "noise", 60.0 + k), parts, shapes)
        for k in range(3):
            _box(f"env_bench{k}", (4 + 12 * k, 4, 0.25), (2, 0.6, 0.5),
                 paint((0.4, 0.25, 0.12)), parts, shapes)


# ---- actor proxies ------------------------------------------------------------------------

def _swing(pivot_z: float, amplitude_deg: float, sign: float) -> Callable[[float], np.ndarray]:
    """A limb hanging from a pivot, swinging about the actor's lateral axis with the gait."""
    def local(phase: float) -> np.ndarray:
        angle = sign * amplitude_deg * math.sin(2 * math.pi * phase)
        return translate(0, 0, pivot_z) @ rot("y", angle) @ translate(0, 0, -pivot_z)
    return local


def _spin(center: tuple[float, float, float]) -> Callable[[float], np.ndarray]:
    """A wheel turning with the wheel phase (cycles) about the lateral axis."""
    def local(phase: float) -> np.ndarray:
        return translate(*center) @ rot("y", 360.0 * phase) @ translate(*(-c for c in center))
    return local


def _mesh_part(key: str, actor: int, kind: str, rest: np.ndarray, bsdf: dict[str, Any],
               shapes: dict[str, Any], local: Callable[[float], np.ndarray] | None = None,
               filename: str | None = None) -> Part:
    d: dict[str, Any] = {"type": kind, "to_world": _mi_transform(rest), "bsdf": bsdf}
    if filename:
        d["filename"] = filename
    if kind in ("sphere", "cylinder"):
        shapes[key] = d
        return Part(key, actor, False, rest, local)
    shapes[key] = d
    return Part(key, actor, True, rest, local)


def _limb(z_top: float, length: float, radius: float, y: float, x: float = 0.0) -> np.ndarray:
    """Cylinder hanging down from (x, y, z_top) (Mitsuba actor-local axes)."""
    return translate(x, y, z_top - length) @ scale(radius, radius, length)


# spec proxy name -> proxy geometry (anything else: the actor's kind decides)
PROXY_SHAPES = {"capsule": "pedestrian", "quadruped": "animal", "box": "vehicle",
                "sphere": "sphere"}


def build_actor(k: int, actor: ActorPlan, parts: list[Part], shapes: dict[str, Any],
                spec_dir: Path | None) -> None:
    """Proxy geometry in the actor's Mitsuba-local frame (x forward, y left, z up), metres."""
    s = float(actor.scale)
    col = tuple(float(c) for c in actor.color)
    opts = dict(actor.backends.get("mitsuba", {}) or {})
    mesh = opts.get("mesh")
    p = f"actor{k}"

    def add(name: str, kind: str, rest: np.ndarray, bsdf: dict[str, Any],
            local: Callable[[float], np.ndarray] | None = None, filename: str | None = None):
        parts.append(_mesh_part(f"{p}_{name}", k, kind, scale(s, s, s) @ rest, bsdf, shapes,
                                _scaled(local, s), filename))

    if mesh:
        path = Path(str(mesh))
        if not path.is_absolute() and spec_dir is not None:
            path = spec_dir / path
        ext = path.suffix.lower()
        if ext not in (".ply", ".obj"):
            raise RenderError(f"actor {actor.id}: mesh {path} must be .ply or .obj")
        if not path.is_file():
            raise RenderError(f"actor {actor.id}: mesh file {path} not found",
                              hint="paths are relative to the spec file")
        add("mesh", ext[1:], F @ np.eye(4) @ F, diffuse(col), filename=str(path))
        return
    skin = diffuse(col)
    dark = diffuse((0.08, 0.08, 0.09))
    shape = PROXY_SHAPES.get(str(opts.get("proxy", "")), actor.kind)
    if shape == "sphere":
        add("ball", "sphere", translate(0, 0, 0.5) @ scale(0.5, 0.5, 0.5), skin,
            _spin((0.0, 0.0, 0.5)))
    elif shape == "pedestrian":
        add("leg_l", "cylinder", _limb(0.9, 0.88, 0.075, 0.1), dark, _swing(0.9, 28, 1))
        add("leg_r", "cylinder", _limb(0.9, 0.88, 0.075, -0.1), dark, _swing(0.9, 28, -1))
        add("torso", "cylinder", translate(0, 0, 0.88) @ scale(0.19, 0.19, 0.55), skin)
        add("hips", "sphere", translate(0, 0, 0.9) @ scale(0.19, 0.19, 0.19), dark)
        add("chest", "sphere", translate(0, 0, 1.42) @ scale(0.19, 0.19, 0.19), skin)
        add("head", "sphere", translate(0, 0, 1.66) @ scale(0.115, 0.115, 0.115),
            diffuse((0.55, 0.4, 0.3)))
        add("arm_l", "cylinder", _limb(1.45, 0.62, 0.05, 0.26), skin, _swing(1.45, 22, -1))
        add("arm_r", "cylinder", _limb(1.45, 0.62, 0.05, -0.26), skin, _swing(1.45, 22, 1))
    elif shape == "animal":
        add("body", "cube", translate(0, 0, 0.5) @ scale(0.38, 0.13, 0.13), skin)
        add("head", "sphere", translate(0.45, 0, 0.66) @ scale(0.1, 0.1, 0.1), skin)
        add("tail", "cylinder", translate(-0.38, 0, 0.55) @ rot("y", -60)
            @ scale(0.025, 0.025, 0.3), skin)
        for name, x, y, sign in (("fl", 0.28, 0.09, 1), ("fr", 0.28, -0.09, -1),
                                 ("bl", -0.28, 0.09, -1), ("br", -0.28, -0.09, 1)):
            add(f"leg_{name}", "cylinder", _limb(0.42, 0.42, 0.035, y, x), dark,
                _swing(0.42, 30, sign))
    elif shape == "vehicle":
        add("body", "cube", translate(0, 0, 0.75) @ scale(2.2, 0.9, 0.38), paint(col))
        add("cabin", "cube", translate(-0.3, 0, 1.35) @ scale(1.1, 0.8, 0.27),
            paint((0.05, 0.06, 0.08)))
        for name, x, y in (("fl", 1.4, 0.9), ("fr", 1.4, -0.9), ("bl", -1.4, 0.9),
                           ("br", -1.4, -0.9)):
            center = (x, y, 0.34)
            rest = translate(x, y - 0.11, 0.34) @ rot("x", -90) @ scale(0.34, 0.34, 0.22)
            add(f"wheel_{name}", "cylinder", rest, dark, _spin(center))
    else:
        raise RenderError(f"actor {actor.id}: unknown kind {actor.kind!r} for the mitsuba proxy",
                          hint="use pedestrian, animal or vehicle, or give mitsuba: {mesh: FILE}")


def _scaled(local: Callable[[float], np.ndarray] | None, s: float):
    if local is None:
        return None
    return lambda phase: scale(s, s, s) @ local(phase) @ scale(1 / s, 1 / s, 1 / s)


def part_transform(part: Part, pose: ActorPose | None) -> np.ndarray:
    """Motion of a part's rest geometry into the Mitsuba world at this pose (I if static)."""
    if part.actor < 0 or pose is None:
        return np.eye(4)
    m = to_mitsuba(unreal_pose(pose.location, pose.rotation))
    if part.local is not None:
        m = m @ part.local(float(pose.phase))
    return m


# ---- lights and sky -----------------------------------------------------------------------

def _rgb(color: Any, value: float) -> dict[str, Any]:
    return {"type": "rgb", "value": [float(c) * value for c in color]}


def envmap_directions(h: int, w: int) -> np.ndarray:
    """World (Mitsuba axes) direction of each texel of a lat-long envmap posed with
    ``rotate([1, 0, 0], 90)``: Mitsuba's local frame is Y-up, u = atan2(x, -z) / 2pi,
    v = acos(y) / pi; the rotation maps local (x, y, z) to world (x, -z, y), Z up."""
    theta = (np.arange(h) + 0.5) / h * np.pi
    phi = (np.arange(w) + 0.5) / w * 2 * np.pi
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    return np.stack([np.sin(th) * np.sin(ph), np.sin(th) * np.cos(ph), np.cos(th)], axis=-1)


def cie_sky_ratio(dirs: np.ndarray, sun_dir: Any | None) -> np.ndarray:
    """Relative sky luminance L / L_zenith of the CIE standard skies (ISO 15469 / CIE S 011).

    With a sun: type 12, clear sky (a=-1, b=-0.32, c=10, d=-3, e=0.45): a bright circumsolar
    region and a darker sky opposite the sun. Without a sun: type 1, overcast,
    ``(1 + 2 cos Z) / 3``. Below the horizon the sky is replaced by 0.25 x zenith (ground).
    """
    cos_z = dirs[..., 2]
    above = cos_z > 1e-4
    if sun_dir is None:
        ratio = (1 + 2 * np.clip(cos_z, 0, 1)) / 3
    else:
        a, b, c, d, e = -1.0, -0.32, 10.0, -3.0, 0.45
        sd = np.asarray(sun_dir, dtype=np.float64)
        sd = sd / np.linalg.norm(sd)

        def grad(cz: np.ndarray) -> np.ndarray:
            return 1 + a * np.exp(b / np.maximum(cz, 1e-4))

        def indic(chi: np.ndarray) -> np.ndarray:
            return 1 + c * (np.exp(d * chi) - math.exp(d * math.pi / 2)) + e * np.cos(chi) ** 2

        chi = np.arccos(np.clip(dirs @ sd, -1, 1))
        zs = math.acos(max(-1.0, min(1.0, float(sd[2]))))
        ratio = indic(chi) * grad(cos_z) / (indic(np.array(zs)) * grad(np.array(1.0)))
    return np.where(above, ratio, 0.25)


def sky_bitmap(luminance: float, color: Any, exposure: float,
               sun_dir: Any | None = None, h: int = 64, w: int = 128) -> np.ndarray:
    """Lat-long sky texture (cd/m^2 x exposure), zenith = ``luminance`` (CIE sky shape)."""
    ratio = cie_sky_ratio(envmap_directions(h, w), sun_dir)
    img = ratio[..., None] * np.asarray(color, dtype=np.float64)[None, None, :]
    return (img * luminance * exposure).astype(np.float32)


MIN_SUN_PIXELS = 2.5


def build_lights(plan: ShotPlan, shapes: dict[str, Any], parts: list[Part],
                 pixel_deg: float = 0.0) -> dict[str, str]:
    """Sun, sky and spec lights as Mitsuba emitters (already scaled by the exposure).

    ``pixel_deg`` (angular size of one pixel): a visible sun disk smaller than
    ``MIN_SUN_PIXELS`` pixels is widened to that size at the same illuminance (lower
    radiance), otherwise a preview render at 4 spp misses the sub-pixel disk by chance.
    """
    import mitsuba as mi

    env = plan.environment
    k = float(plan.exposure.scale)
    notes = {}
    if env.sky.luminance > 0:
        sun_dir = point_to_mitsuba(env.sun.direction()) if env.sun is not None else None
        bmp = sky_bitmap(env.sky.luminance, env.sky.color, k, sun_dir)
        shapes["sky"] = {"type": "envmap", "bitmap": mi.Bitmap(bmp),
                         "to_world": mi.ScalarTransform4f().rotate([1, 0, 0], 90)}
    sun = env.sun
    if sun is not None and sun.illuminance_lux > 0:
        d = point_to_mitsuba(sun.direction())
        if sun.visible:
            # A real disk: a far sphere of the sun's angular size whose radiance gives the
            # requested illuminance (E = L * solid angle). It lights the scene by itself, so no
            # directional emitter is added (that would count the sun twice).
            diameter = max(float(sun.angular_diameter_deg), MIN_SUN_PIXELS * pixel_deg)
            half = math.radians(diameter) / 2
            omega = 2 * math.pi * (1 - math.cos(half))
            radiance = sun.illuminance_lux / omega
            r = SUN_DISTANCE_M * math.sin(half)
            c = [SUN_DISTANCE_M * v for v in d]
            shapes["sun_disk"] = {"type": "sphere", "to_world": _mi_transform(
                translate(*c) @ scale(r, r, r)),
                "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": 0.0}},
                "emitter": {"type": "area", "radiance": _rgb(sun.color, radiance * k)}}
            parts.append(Part("sun_disk"))
            notes["sun"] = (f"visible disk, {diameter:.3g} deg, radiance {radiance:.4g} cd/m^2"
                            + (" (widened to 2.5 px)" if diameter > sun.angular_diameter_deg
                               else ""))
        else:
            shapes["sun"] = {"type": "directional", "direction": [-v for v in d],
                             "irradiance": _rgb(sun.color, sun.illuminance_lux * k)}
            notes["sun"] = "directional (not visible)"
    for i, light in enumerate(env.lights):
        pose = to_mitsuba(unreal_pose(light.position, light.rotation))
        if light.kind == "area":
            # rectangle normal (+Z) -> the light's forward axis (+X of the pose)
            m = pose @ rot("y", 90) @ scale(light.size[0] / 2, light.size[1] / 2, 1)
            shapes[f"light{i}"] = {
                "type": "rectangle", "to_world": _mi_transform(m),
                "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": 0.0}},
                "emitter": {"type": "area",
                            "radiance": _rgb(light.color, light.luminance * k)}}
            parts.append(Part(f"light{i}"))
        elif light.kind == "point":
            shapes[f"light{i}"] = {"type": "point",
                                   "position": point_to_mitsuba(light.position),
                                   "intensity": _rgb(light.color, light.intensity_cd * k)}
        elif light.kind == "spot":
            m = pose @ rot("y", 90)
            shapes[f"light{i}"] = {"type": "spot", "to_world": _mi_transform(m),
                                   "cutoff_angle": float(light.cone_deg),
                                   "beam_width": 0.75 * float(light.cone_deg),
                                   "intensity": _rgb(light.color, light.intensity_cd * k)}
        else:
            raise RenderError(f"light {i}: unknown kind {light.kind!r}",
                              hint="use area, point or spot")
    return notes


# ---- the whole scene ----------------------------------------------------------------------

@dataclass
class SceneBuild:
    scene_dict: dict[str, Any]
    parts: list[Part]
    notes: dict[str, str]


def build_scene(plan: ShotPlan, width: int, height: int, fov_x_deg: float, spp: int,
                max_depth: int = 6) -> SceneBuild:
    """The scene dictionary for ``mi.load_dict`` plus the movable parts' bookkeeping."""
    shapes: dict[str, Any] = {}
    parts: list[Part] = []
    opts = dict(plan.environment.backends.get("mitsuba", {}) or {})
    preset = str(opts.get("preset", "street"))
    if preset != "none":
        build_preset(preset, parts, shapes)
    spec_dir = Path(plan.spec_path).parent if plan.spec_path else None
    for k, actor in enumerate(plan.actors):
        build_actor(k, actor, parts, shapes, spec_dir)
    for extra in opts.get("spheres", ()) or ():  # small marker spheres (tests, calibration)
        key = f"marker{len([q for q in parts if q.key.startswith('marker')])}"
        col = tuple(extra.get("color", (0.8, 0.8, 0.8)))
        bsdf = diffuse(col)
        shapes[key] = {"type": "sphere", "to_world": _mi_transform(
            translate(*point_to_mitsuba(extra["center"])) @ scale(*[float(extra["radius"])] * 3)),
            "bsdf": bsdf}
        if extra.get("radiance"):
            shapes[key]["emitter"] = {"type": "area", "radiance": _rgb(
                col, float(extra["radiance"]) * plan.exposure.scale)}
        parts.append(Part(key))
    notes = build_lights(plan, shapes, parts, pixel_deg=fov_x_deg / width)
    first = plan.timeline[0].camera
    to_world = _mi_transform(sensor_to_world(first.location, first.rotation))

    def sensor(filt: str, count: int) -> dict[str, Any]:
        return {"type": "perspective", "fov": fov_x_deg, "fov_axis": "x",
                "near_clip": 0.01, "far_clip": 2.0 * SUN_DISTANCE_M, "to_world": to_world,
                "film": {"type": "hdrfilm", "width": width, "height": height,
                         "rfilter": {"type": filt}, "pixel_format": "rgb"},
                "sampler": {"type": "independent", "sample_count": count}}

    d: dict[str, Any] = {"type": "scene",
                         "integrator": {"type": "path", "max_depth": max_depth},
                         "cam": sensor("gaussian", spp), "cam_ids": sensor("box", 1)}
    d.update(shapes)
    return SceneBuild(d, parts, notes)
