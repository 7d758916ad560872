"""Build a Mitsuba scene dictionary from a ShotPlan: set, props, actors, lights, sensors.

The pieces live in their own modules: axes and shape bookkeeping (``mitsuba_shapes``),
materials (``mitsuba_materials``), the procedural sets (``mitsuba_sets``), sun, sky, envmaps
and lights (``mitsuba_lights``) and user meshes (``mitsuba_assets``). Here they are put
together, and actors get their proxy geometry (moved per frame by ``mitsuba._Poser``).
No randomness: variation comes from the plan's ``set_seed`` through a hash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.backends import mitsuba_materials as mm
from pipeline.backends.mitsuba_assets import load_meshes, mitsuba_mesh, needs_trimesh
from pipeline.backends.mitsuba_lights import build_lights, environment_light, is_dark
from pipeline.backends.mitsuba_sets import PRESETS, SetStyle, build_set
from pipeline.backends.mitsuba_shapes import (
    HIDDEN,
    SUN_DISTANCE_M,
    F,
    Part,
    Shapes,
    mi_transform,
    point_to_mitsuba,
    rot,
    scale,
    sensor_to_world,
    to_mitsuba,
    translate,
    unreal_pose,
)
from pipeline.errors import RenderError
from pipeline.plan_model import ActorPlan, ActorPose, ShotPlan

__all__ = ["F", "HIDDEN", "PRESETS", "Part", "SceneBuild", "build_scene", "part_transform",
           "sensor_to_world"]


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
    d: dict[str, Any] = {"type": kind, "to_world": mi_transform(rest), "bsdf": bsdf}
    if filename:
        d["filename"] = filename
    shapes[key] = d
    return Part(key, actor, kind not in ("sphere", "cylinder"), rest, local)


def mesh_file_shapes(s: Shapes, key: str, path: Path, m: np.ndarray, material: str | None,
                     color: Any, actor: int = -1) -> None:
    """Shapes of a mesh file under the Mitsuba-local transform ``m`` (vertices moved once)."""
    ext = path.suffix.lower()
    if ext not in (".ply", ".obj", ".gltf", ".glb"):
        raise RenderError(f"mesh {path} must be .ply, .obj, .gltf or .glb")
    if not path.is_file():
        raise RenderError(f"mesh file {path} not found",
                          hint="paths are relative to the spec file")
    bsdf = None if material in (None, "diffuse") and color is None else \
        mm.by_name(material or "diffuse", color if color is not None else (0.5, 0.5, 0.5))
    if needs_trimesh(path):
        for n, geom in enumerate(load_meshes(path)):
            name = f"{key}_{n}"
            s.add(name, mitsuba_mesh(name, geom, m, bsdf, color), Part(name, actor, True))
        return
    d = {"type": ext[1:], "filename": str(path), "to_world": mi_transform(m),
         "bsdf": bsdf or mm.diffuse(color if color is not None else (0.5, 0.5, 0.5))}
    s.add(key, d, Part(key, actor, True, m))


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
        sub = Shapes()
        try:
            mesh_file_shapes(sub, f"{p}_mesh", path, scale(*(float(actor.scale),) * 3),
                             opts.get("material"), col, actor=k)
        except RenderError as exc:
            raise RenderError(f"actor {actor.id}: {exc.one_line()}") from None
        shapes.update(sub.shapes)
        parts.extend(sub.parts)
        return
    skin = mm.by_name(str(opts.get("material") or "diffuse"), col)
    dark = mm.diffuse((0.08, 0.08, 0.09))
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
            mm.diffuse((0.55, 0.4, 0.3)))
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
        add("body", "cube", translate(0, 0, 0.75) @ scale(2.2, 0.9, 0.38),
            mm.by_name(str(opts.get("material") or "paint"), col))
        add("cabin", "cube", translate(-0.3, 0, 1.35) @ scale(1.1, 0.8, 0.27), mm.glass())
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


# ---- the whole scene ----------------------------------------------------------------------

@dataclass
class SceneBuild:
    scene_dict: dict[str, Any]
    parts: list[Part]
    notes: dict[str, Any]


def _props(s: Shapes, opts: dict[str, Any]) -> None:
    for i, prop in enumerate(opts.get("props", ()) or ()):
        m = to_mitsuba(unreal_pose(prop["position"], prop["rotation"])) \
            @ scale(*(float(prop["scale"]),) * 3)
        try:
            mesh_file_shapes(s, f"prop{i}", Path(prop["mesh"]), m, prop.get("material"),
                             prop.get("color"))
        except RenderError as exc:
            raise RenderError(f"prop {i}: {exc.one_line()}") from None


def _markers(s: Shapes, opts: dict[str, Any], exposure: float) -> None:
    """Small marker spheres (tests, calibration), optionally emissive or with a material."""
    for n, extra in enumerate(opts.get("spheres", ()) or ()):
        col = tuple(extra.get("color", (0.8, 0.8, 0.8)))
        bsdf = mm.by_name(str(extra.get("material", "diffuse")), col)
        emitter = None
        if extra.get("radiance"):
            emitter = {"type": "area", "radiance": {"type": "rgb", "value": [
                float(c) * float(extra["radiance"]) * exposure for c in col]}}
        s.sphere(f"marker{n}", extra["center"], float(extra["radius"]), bsdf, emitter)
    for n, quad in enumerate(opts.get("quads", ()) or ()):  # horizontal squares (tests)
        c = point_to_mitsuba(quad["center"])
        m = translate(*c) @ scale(quad["size"] / 2, quad["size"] / 2, 1.0)
        s.static(f"quad{n}", "rectangle", m,
                 mm.by_name(str(quad.get("material", "diffuse")), quad.get("color", (1, 1, 1))))


def build_scene(plan: ShotPlan, width: int, height: int, fov_x_deg: float, spp: int,
                max_depth: int = 6) -> SceneBuild:
    """The scene dictionary for ``mi.load_dict`` plus the movable parts' bookkeeping."""
    s = Shapes()
    opts = dict(plan.environment.backends.get("mitsuba", {}) or {})
    preset = str(opts.get("preset", "street"))
    env = environment_light(plan)
    if preset != "none":
        wet = opts.get("wetness")
        build_set(preset, s, SetStyle(int(opts.get("set_seed", plan.seed)),
                                      None if wet is None else float(wet),
                                      is_dark(plan, env), float(plan.exposure.scale)))
    _props(s, opts)
    spec_dir = Path(plan.spec_path).parent if plan.spec_path else None
    for k, actor in enumerate(plan.actors):
        build_actor(k, actor, s.parts, s.shapes, spec_dir)
    _markers(s, opts, float(plan.exposure.scale))
    notes = build_lights(plan, s, pixel_deg=fov_x_deg / width, env=env)
    first = plan.timeline[0].camera
    to_world = mi_transform(sensor_to_world(first.location, first.rotation))

    def sensor(filt: str, sampler: dict[str, Any]) -> dict[str, Any]:
        return {"type": "perspective", "fov": fov_x_deg, "fov_axis": "x",
                "near_clip": 0.01, "far_clip": 2.0 * SUN_DISTANCE_M, "to_world": to_world,
                "film": {"type": "hdrfilm", "width": width, "height": height,
                         "rfilter": {"type": filt}, "pixel_format": "rgb"},
                "sampler": sampler}

    # the geometry render (depth, mask, flow) samples each pixel once at its centre (an
    # unjittered 1-sample stratified sampler), the point ``camera_params`` unprojects
    centre = {"type": "stratified", "sample_count": 1, "jitter": False}
    d: dict[str, Any] = {"type": "scene",
                         "integrator": {"type": "path", "max_depth": max_depth},
                         "cam": sensor("gaussian", {"type": "independent", "sample_count": spp}),
                         "cam_ids": sensor("box", centre)}
    d.update(s.shapes)
    return SceneBuild(d, s.parts, notes)
