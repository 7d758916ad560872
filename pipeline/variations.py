"""Variations: one spec -> N distinct, seeded shots (``--variations N`` or ``randomize:``).

Why: nine hand-written specs are not a dataset. Variation ``k`` of a spec redraws what can
change without breaking the shot: the exposure within a stated range, the sun's azimuth and
elevation (an envmap follows the sun, or turns by the same offset when it has its own
rotation), the set's layout and materials (``environment.mitsuba.set_seed``), each actor's
path offset, speed and start frame, and a small camera offset. Ranges come from the spec's
``randomize:`` block (``pipeline.spec.RandomizeSpec``). Every draw is a
``pipeline.randomize.field_rng`` stream (sha256 of seed and path), so the same spec and seed
give the same shots on any machine and Python hash seed; the drawn values are stored in each
plan's ``variation`` field. Names are ``<name>-v0003`` (``<name>-s<seed>-v0003`` with seeds).

Standard library only (planner code, vendored into the Unreal editor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pipeline.plan import make_plan
from pipeline.plan_model import ShotPlan
from pipeline.randomize import DRAW_DIGITS, field_rng, resolve
from pipeline.spec import SceneSpec, check_consistency
from s2rhdr_loader.core.layout import NAME_RE


def variation_seed(seed: int, index: int) -> int:
    """The seed of variation ``index`` of a spec planned with ``seed``."""
    return field_rng(seed, f"variation[{index}]").randrange(2**31)


class _Draw:
    """Named draws of one variation, each from its own stream, recorded as they are made."""

    def __init__(self, seed: int):
        self.seed, self.record = seed, {}

    def uniform(self, key: str, lo: float, hi: float) -> float:
        value = round(field_rng(self.seed, f"variation.{key}").uniform(lo, hi), DRAW_DIGITS)
        self.record[key] = value
        return value

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = field_rng(self.seed, f"variation.{key}").randint(int(lo), int(hi))
        self.record[key] = value
        return value


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _vary_environment(spec: SceneSpec, d: _Draw) -> Any:
    r, env = spec.randomize, spec.environment
    turn = d.uniform("rotation_offset_deg", *r.rotation_offset_deg)
    sun = env.sun
    if sun is not None:
        el = _clamp(sun.elevation_deg + d.uniform("sun_elevation_offset_deg",
                                                  *r.sun_elevation_offset_deg), -18.0, 90.0)
        az = (sun.azimuth_deg + turn + 180.0) % 360.0 - 180.0
        sun = replace(sun, elevation_deg=round(el, DRAW_DIGITS), azimuth_deg=round(az, DRAW_DIGITS))
    m = env.mitsuba
    if m.envmap is not None and (m.envmap.rotation_deg is not None or sun is None):
        rot = ((m.envmap.rotation_deg or 0.0) + turn + 180.0) % 360.0 - 180.0
        m = replace(m, envmap=replace(m.envmap, rotation_deg=round(rot, DRAW_DIGITS)))
    if r.new_set:
        m = replace(m, set_seed=d.integer("set_seed", 0, 2**31 - 1))
    return replace(env, sun=sun, mitsuba=m)


def _vary_actors(spec: SceneSpec, d: _Draw) -> tuple:
    r, out = spec.randomize, []
    for i, a in enumerate(spec.actors):
        dx = d.uniform(f"actors[{i}].dx_m", -r.actor_offset_m, r.actor_offset_m)
        dy = d.uniform(f"actors[{i}].dy_m", -r.actor_offset_m, r.actor_offset_m)
        speed = a.speed_mps * d.uniform(f"actors[{i}].speed_scale", *r.actor_speed_scale)
        start = a.start_frame + d.integer(f"actors[{i}].start_shift_frames",
                                          *r.actor_start_frames)
        path = tuple((p[0] + dx, p[1] + dy, p[2]) for p in a.path)
        out.append(replace(a, path=path, speed_mps=round(min(speed, 100.0), DRAW_DIGITS),
                           start_frame=int(_clamp(start, -100000, 100000))))
    return tuple(out)


def vary(spec: SceneSpec, index: int, seed: int) -> tuple[SceneSpec, dict[str, Any]]:
    """Variation ``index`` of ``spec`` (randomisation resolved with its seed) + what was drawn."""
    vseed = variation_seed(seed, index)
    base = resolve(spec, vseed)
    d = _Draw(vseed)
    r = base.randomize
    ev = _clamp(base.exposure.ev100 + d.uniform("ev100_offset", *r.ev100_offset), -10.0, 25.0)
    cx = d.uniform("camera_dx_m", -r.camera_offset_m, r.camera_offset_m)
    cy = d.uniform("camera_dy_m", -r.camera_offset_m, r.camera_offset_m)
    cam = replace(base.camera, path=tuple((p[0] + cx, p[1] + cy, p[2]) for p in base.camera.path))
    out = replace(base, exposure=replace(base.exposure, ev100=round(ev, DRAW_DIGITS)),
                  camera=cam, environment=_vary_environment(base, d),
                  actors=_vary_actors(base, d), seed=vseed)
    check_consistency(out)
    return out, {"index": index, "seed": vseed, "base_seed": int(seed), "base": spec.name,
                 "drawn": dict(sorted(d.record.items()))}


def _name(spec: SceneSpec, suffix: str) -> str:
    name = spec.name + suffix
    if len(name) > 100 or not NAME_RE.match(name):
        raise spec.error("name", f"name {spec.name!r} is too long for variations ({name!r})",
                         hint="use at most 94 characters")
    return name


def plans_for(spec: SceneSpec, *, variations: int | None = None,
              seeds: Sequence[int] = ()) -> list[ShotPlan]:
    """The shots of one spec: one per seed (``<name>-s<seed>``), each expanded into
    ``variations`` (default: the spec's ``randomize.variations``) shots ``...-vNNNN``."""
    n = spec.randomize.variations if variations is None else int(variations)
    base_seeds = [int(s) for s in seeds] or [spec.seed]
    plans = []
    for s in base_seeds:
        tag = f"-s{s}" if seeds else ""
        if n <= 0:
            p = make_plan(spec, seed=s)
            plans.append(replace(p, name=_name(spec, tag)) if tag else p)
            continue
        for k in range(n):
            varied, record = vary(spec, k, s)
            record["count"] = n
            p = make_plan(varied)
            plans.append(replace(p, name=_name(spec, f"{tag}-v{k:04d}"), variation=record))
    return plans
