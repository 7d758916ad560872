"""Section rules: the cross-field checks and kind-dependent defaults of the spec sections,
and the whole-spec consistency check that runs again after randomisation.

Single-field rules (types, ranges, enums) are the converters declared in
``pipeline.spec.model``; what is here needs more than one field. Standard library only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from pipeline.spec.model import (
    DEFAULT_PROXY,
    DEFAULT_SPEED,
    ActorSpec,
    CameraSpec,
    ExrSpec,
    LightSpec,
    SceneSpec,
    SkySpec,
)
from pipeline.spec.nodes import Map, Node, Scalar, fail
from pipeline.spec.readers import RULES, Fields, Reader, read_section
from pipeline.spec.values import is_fixed
from s2rhdr_loader.core.layout import LOSSLESS_COMPRESSIONS as LOSSLESS
from s2rhdr_loader.core.layout import LOSSY_COMPRESSIONS as LOSSY


def _rule(cls: type, *, post: bool = False):
    def register(fn):
        pre_fn, post_fn = RULES.get(cls, (None, None))
        RULES[cls] = (pre_fn, fn) if post else (fn, post_fn)
        return fn
    return register


@_rule(SkySpec)
def _sky_one_unit(f: Fields) -> None:
    if f.has("luminance") and f.has("radiance_scale"):
        raise fail(f.loc("radiance_scale"), f"{f.path}: give luminance or radiance_scale, "
                                            "not both")


@_rule(LightSpec)
def _light_units_match_kind(f: Fields) -> None:
    kind, path = f.read("kind"), f.path
    if f.has("rotation") and f.has("target"):
        raise fail(f.loc("target"), f"{path}: give rotation or target, not both")
    if kind == "area" and f.has("intensity_cd"):
        raise fail(f.loc("intensity_cd"), f"{path}: area lights take luminance (cd/m^2)",
                   hint="intensity_cd is for point and spot lights")
    if kind != "area" and f.has("luminance"):
        raise fail(f.loc("luminance"), f"{path}: {kind} lights take intensity_cd (candela)",
                   hint="luminance is for area lights")
    if kind == "point" and (f.has("cone_deg") or f.has("rotation") or f.has("target")):
        key = next(k for k in ("cone_deg", "rotation", "target") if f.has(k))
        raise fail(f.loc(key), f"{path}: point lights have no {key}",
                   hint="use kind: spot for a directed light")


@_rule(CameraSpec)
def _camera_has_one_aim(f: Fields) -> None:
    aims = [k for k in ("look_at", "rotation", "rotation_keys") if f.has(k)]
    if not aims:
        raise fail(f.loc(), "camera needs one of look_at, rotation or rotation_keys",
                   hint="e.g. look_at: [10, 0, 1.5]")
    if len(aims) > 1:
        raise fail(f.loc(aims[1]), f"camera: give only one of {' / '.join(aims)}")
    frames = [k.frame for k in f.read("rotation_keys")]
    if frames != sorted(set(frames)):
        raise fail(f.loc("rotation_keys"), "camera.rotation_keys frames must be strictly "
                                           "increasing")


@_rule(ActorSpec, post=True)
def _actor_defaults_by_kind(f: Fields, values: dict[str, Any]) -> None:
    kind = values["kind"]
    if values["speed_mps"] is None:
        values["speed_mps"] = DEFAULT_SPEED[kind]
    m = f.node.items.get("mitsuba", (None,))[0]
    if not (isinstance(m, Map) and "proxy" in m.items):
        values["mitsuba"] = dataclasses.replace(values["mitsuba"], proxy=DEFAULT_PROXY[kind])


@_rule(ExrSpec)
def _exr_lossless(f: Fields) -> None:
    if f.has("compression"):
        cnode = f.node.items["compression"][0]
        if isinstance(cnode, Scalar) and isinstance(cnode.value, str) \
                and cnode.value.lower() in LOSSY:
            raise fail(cnode.loc, f"{f.path}.compression {cnode.value!r} is lossy",
                       hint=f"datasets need lossless compression: {', '.join(LOSSLESS)}")


def read_scene(node: Node, source: str) -> SceneSpec:
    """The validated spec of a (merged) top-level YAML mapping."""
    r = Reader()
    values = read_section(SceneSpec, r, node, "")
    spec = SceneSpec(**values, source=source, locations=dict(r.locs))
    check_consistency(spec)
    return spec


def check_consistency(spec: SceneSpec) -> None:
    """Cross-field checks; randomised values are skipped here and checked after resolution."""
    cam = spec.camera
    if cam.look_at is not None and is_fixed(cam.look_at):
        for i, p in enumerate(cam.path):
            if is_fixed(p) and math.dist(p, cam.look_at) < 1e-6:
                raise spec.error("camera.look_at", f"camera.look_at equals camera.path[{i}]",
                                 hint="the camera cannot look at its own position")
    for i, key in enumerate(cam.rotation_keys):
        if not 0 <= key.frame < spec.frames:
            raise spec.error(f"camera.rotation_keys[{i}].frame",
                             f"camera.rotation_keys[{i}].frame {key.frame} is outside "
                             f"0..{spec.frames - 1}")
    for i, a in enumerate(spec.actors):
        if len(a.path) < 2 and is_fixed(a.speed_mps) and a.speed_mps > 0:
            if f"actors[{i}].speed_mps" in spec.locations:
                raise spec.error(f"actors[{i}].speed_mps",
                                 f"actors[{i}] has a one-point path but speed_mps > 0",
                                 hint="add a second path point or set speed_mps: 0")
    for i, light in enumerate(spec.environment.lights):
        if light.target is not None and is_fixed(light.target) and is_fixed(light.position) \
                and math.dist(light.target, light.position) < 1e-6:
            raise spec.error(f"environment.lights[{i}].target",
                             f"environment.lights[{i}].target equals its position")
