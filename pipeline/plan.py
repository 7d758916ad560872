"""The planner: a validated :class:`SceneSpec` + seed -> a fully resolved :class:`ShotPlan`.

Why a plan: backends (Mitsuba, Unreal) must not parse YAML or draw random numbers, so every
number they need (per-frame camera pose with shake, actor poses, lights in absolute units,
exposure, output settings) is computed here once, deterministically: the same spec and seed
give byte-identical ``plan.to_json()``. Standard library only (vendored into Unreal).
See ``docs/plan-format.md`` for the conventions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from pipeline import envmaps, geometry
from pipeline.plan_model import (
    ActorPlan,
    ActorPose,
    CameraPlan,
    CameraPose,
    EnvironmentPlan,
    ExposurePlan,
    FramePlan,
    LightPlan,
    RenderPlan,
    ShotPlan,
    SkyPlan,
    SunPlan,
    exposure_scale,
    load_plan,
)
from pipeline.randomize import field_rng, resolve
from pipeline.shake import shake_offsets
from pipeline.spec import (
    ActorSpec,
    LightSpec,
    MitsubaEnvironment,
    SceneSpec,
    SkySpec,
    SunSpec,
    spec_hash,
)

Vec3 = tuple[float, float, float]

DIGITS = 10  # plan floats are rounded: readable JSON, and -0.0 never appears
CATMULL_ROM_STEPS = 32  # samples per segment of the dense polyline that arc length runs on
# metres per gait cycle (two steps) or wheel turn (0.34 m wheel radius: 2.14 m)
STRIDE_M = {"pedestrian": 1.4, "animal": 1.0, "vehicle": 2.14}
DEFAULT_AREA_LUMINANCE = 2000.0  # cd/m^2: a bright LED panel / lit shop window
DEFAULT_INTENSITY_CD = 1000.0  # candela: a strong street or flood lamp
NIGHT_SKY_LUMINANCE = 0.03  # cd/m^2, urban night sky glow (no sun in the spec)
PROXY_PALETTE: tuple[Vec3, ...] = (  # linear albedos of common clothing / fur / paint
    (0.60, 0.10, 0.08), (0.08, 0.20, 0.55), (0.50, 0.45, 0.12), (0.12, 0.40, 0.15),
    (0.55, 0.55, 0.55), (0.05, 0.05, 0.05), (0.35, 0.20, 0.10), (0.70, 0.65, 0.55),
)
# clear-sky zenith luminance (cd/m^2) against sun elevation (deg); log-interpolated
_SKY_TABLE = ((-18.0, 0.001), (-12.0, 0.01), (-6.0, 1.0), (-3.0, 30.0), (0.0, 300.0),
              (5.0, 1500.0), (10.0, 2500.0), (20.0, 4000.0), (40.0, 6500.0), (60.0, 8000.0),
              (90.0, 8000.0))

__all__ = ["ShotPlan", "load_plan", "make_plan", "Polyline", "sun_illuminance_lux",
           "sky_zenith_luminance"]


def _r(x: float) -> float:
    return round(float(x), DIGITS) + 0.0


def _rv(v: Sequence[float]) -> tuple[float, ...]:
    return tuple(_r(x) for x in v)


# ---- paths ----------------------------------------------------------------------------

def _catmull_rom(points: Sequence[Vec3], steps: int = CATMULL_ROM_STEPS) -> list[Vec3]:
    """Dense samples of a uniform Catmull-Rom spline through ``points`` (ends reflected)."""
    p = [tuple(map(float, q)) for q in points]
    ext = [tuple(2 * a - b for a, b in zip(p[0], p[1]))] + p + \
        [tuple(2 * a - b for a, b in zip(p[-1], p[-2]))]
    out: list[Vec3] = [p[0]]  # type: ignore[list-item]
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        for k in range(1, steps + 1):
            t = k / steps
            t2, t3 = t * t, t * t * t
            out.append(tuple(0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2
                                    + (-a + 3 * b - 3 * c + d) * t3)
                             for a, b, c, d in zip(p0, p1, p2, p3)))  # type: ignore[arg-type]
    return out


class Polyline:
    """Arc-length parametrised path: ``at(s)`` is the point ``s`` metres from the start."""

    def __init__(self, points: Sequence[Sequence[float]], interpolation: str = "linear"):
        pts = [tuple(float(c) for c in q) for q in points]
        if interpolation == "catmull_rom" and len(pts) > 2:
            pts = _catmull_rom(pts)  # type: ignore[arg-type]
        dedup = [pts[0]]
        for q in pts[1:]:
            if math.dist(q, dedup[-1]) > 1e-12:
                dedup.append(q)
        self.points: list[Vec3] = dedup  # type: ignore[assignment]
        self.cum = [0.0]
        for a, b in zip(dedup, dedup[1:]):
            self.cum.append(self.cum[-1] + math.dist(a, b))
        self.length = self.cum[-1]

    def _segment(self, s: float) -> int:
        lo, hi = 0, len(self.cum) - 2
        while lo < hi:  # last segment whose start <= s
            mid = (lo + hi + 1) // 2
            if self.cum[mid] <= s:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def at(self, s: float) -> Vec3:
        if len(self.points) == 1 or s <= 0.0:
            return self.points[0]
        if s >= self.length:
            return self.points[-1]
        i = self._segment(s)
        a, b = self.points[i], self.points[i + 1]
        u = (s - self.cum[i]) / (self.cum[i + 1] - self.cum[i])
        return tuple(x + (y - x) * u for x, y in zip(a, b))  # type: ignore[return-value]

    def tangent(self, s: float) -> Vec3 | None:
        """Unit direction of travel at ``s`` (None for a one-point path)."""
        if len(self.points) == 1:
            return None
        i = self._segment(min(max(s, 0.0), self.length))
        a, b = self.points[i], self.points[i + 1]
        d = math.dist(a, b)
        return tuple((y - x) / d for x, y in zip(a, b))  # type: ignore[return-value]


# ---- light ----------------------------------------------------------------------------

def _air_mass(elevation_deg: float) -> float:
    """Kasten & Young (1989) relative optical air mass."""
    h = max(elevation_deg, 0.0)
    return 1.0 / (math.sin(math.radians(h)) + 0.50572 * (h + 6.07995) ** -1.6364)


def sun_illuminance_lux(elevation_deg: float) -> float:
    """Clear-sky direct normal illuminance: ~104 klux at the zenith, ~2 klux at 2 degrees."""
    if elevation_deg <= 0.0:
        return 0.0
    return 128000.0 * math.exp(-0.21 * _air_mass(elevation_deg))


def sky_zenith_luminance(elevation_deg: float) -> float:
    """Clear-sky zenith luminance (cd/m^2) for a sun elevation; twilight down to night."""
    t = _SKY_TABLE
    if elevation_deg <= t[0][0]:
        return t[0][1]
    for (e0, l0), (e1, l1) in zip(t, t[1:]):
        if elevation_deg <= e1:
            u = (elevation_deg - e0) / (e1 - e0)
            return math.exp(math.log(l0) + u * (math.log(l1) - math.log(l0)))
    return t[-1][1]


def _sun_color(elevation_deg: float) -> Vec3:
    """Warmer sun near the horizon, normalised to unit Rec.709 luminance."""
    w = min(max((15.0 - elevation_deg) / 15.0, 0.0), 1.0)
    c = (1.0, 1.0 - 0.25 * w, 1.0 - 0.55 * w)
    y = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    return tuple(v / y for v in c)  # type: ignore[return-value]


def _sun(sun: SunSpec | None) -> SunPlan | None:
    if sun is None or sun.elevation_deg < -sun.angular_diameter_deg / 2.0:
        return None  # below the horizon: only the (twilight) sky lights the scene
    lux = sun.illuminance_lux if sun.illuminance_lux is not None else \
        sun_illuminance_lux(sun.elevation_deg)
    color = sun.color if sun.color is not None else _sun_color(sun.elevation_deg)
    return SunPlan(elevation_deg=_r(sun.elevation_deg), azimuth_deg=_r(sun.azimuth_deg),
                   illuminance_lux=_r(lux), visible=sun.visible,
                   angular_diameter_deg=_r(sun.angular_diameter_deg), color=_rv(color))


def _sky(sky: SkySpec, sun: SunSpec | None) -> SkyPlan:
    base = sky_zenith_luminance(sun.elevation_deg) if sun is not None else NIGHT_SKY_LUMINANCE
    if sky.luminance is not None:
        lum = sky.luminance
    else:
        lum = base * (sky.radiance_scale if sky.radiance_scale is not None else 1.0)
    return SkyPlan(luminance=_r(lum), color=_rv(sky.color))


def _light(light: LightSpec) -> LightPlan:
    if light.target is not None:
        rotation = geometry.look_at_rotator(light.position, light.target)
    else:
        rotation = light.rotation if light.rotation is not None else (0.0, -90.0, 0.0)
    area = light.kind == "area"
    return LightPlan(
        kind=light.kind, position=_rv(light.position), rotation=_rv(rotation),
        size=_rv(light.size),
        luminance=_r((light.luminance if light.luminance is not None
                      else DEFAULT_AREA_LUMINANCE) if area else 0.0),
        intensity_cd=_r(0.0 if area else (light.intensity_cd if light.intensity_cd is not None
                                          else DEFAULT_INTENSITY_CD)),
        cone_deg=_r(light.cone_deg), color=_rv(light.color), visible=light.visible,
    )


# ---- camera ---------------------------------------------------------------------------

def _lerp_angle(a: float, b: float, u: float) -> float:
    d = (b - a + 180.0) % 360.0 - 180.0  # shortest way round
    return a + d * u


def _keyed_rotation(spec: SceneSpec, index: int) -> Vec3:
    keys = spec.camera.rotation_keys
    if index <= keys[0].frame:
        return keys[0].rotation
    for k0, k1 in zip(keys, keys[1:]):
        if index <= k1.frame:
            u = (index - k0.frame) / (k1.frame - k0.frame)
            return tuple(_lerp_angle(a, b, u)
                         for a, b in zip(k0.rotation, k1.rotation))  # type: ignore[return-value]
    return keys[-1].rotation


def _camera_poses(spec: SceneSpec, seed: int) -> list[CameraPose]:
    cam = spec.camera
    path = Polyline(cam.path, cam.interpolation)
    step = path.length / (spec.frames - 1) if spec.frames > 1 else 0.0
    n = spec.warmup_frames + spec.frames
    shake = shake_offsets(cam.handheld.profile, cam.handheld.amplitude_scale, seed, spec.fps, n)
    poses = []
    for k in range(n):
        index = k - spec.warmup_frames
        base = path.at(index * step)  # warm-up frames hold the first point
        if cam.look_at is not None:
            if math.dist(base, cam.look_at) < 1e-6:
                raise spec.error("camera.look_at", f"camera.look_at {list(cam.look_at)} "
                                 f"coincides with the camera position at frame {index}",
                                 hint="move the target off the camera path")
            rot = geometry.look_at_rotator(base, cam.look_at)
        elif cam.rotation is not None:
            rot = cam.rotation
        else:
            rot = _keyed_rotation(spec, index)
        dx, dy, dz, droll, dpitch, dyaw = shake[k]
        fwd, right, up = geometry.rotator_axes(rot)
        loc = tuple(b + dx * f + dy * r + dz * u for b, f, r, u in zip(base, fwd, right, up))
        rotation = (rot[0] + droll, rot[1] + dpitch, rot[2] + dyaw)
        loc, rotation = _rv(loc), _rv(rotation)
        poses.append(CameraPose(location=loc, rotation=rotation,  # type: ignore[arg-type]
                                world_to_camera=tuple(_rv(row) for row in
                                                      geometry.world_to_camera(loc, rotation))))
    return poses


# ---- actors ---------------------------------------------------------------------------

def _actor_pose(actor: ActorSpec, aid: str, path: Polyline, index: int, fps: float) -> ActorPose:
    """Pose at frame ``index``: arc length ``speed * (t - start)`` along the polyline."""
    t = (index - actor.start_frame) / fps
    travelled = actor.speed_mps * max(t, 0.0)
    visible = t >= 0.0
    if path.length == 0.0:  # standing actor
        s = walked = 0.0
    elif travelled <= path.length:
        s = walked = travelled
    elif actor.at_end == "loop":
        s, walked = math.fmod(travelled, path.length), travelled
    else:  # hide | stop: park at the end (hidden actors stay there, invisible)
        s = walked = path.length
        visible = visible and actor.at_end == "stop"
    if actor.yaw_deg is not None:
        yaw = actor.yaw_deg
    else:
        tan = path.tangent(s)
        yaw = geometry.heading_rotator(tan)[2] if tan is not None else 0.0
    phase = math.fmod(walked / (STRIDE_M[actor.kind] * actor.scale), 1.0)
    return ActorPose(id=aid, location=_rv(path.at(s)),  # type: ignore[arg-type]
                     rotation=_rv((0.0, 0.0, yaw)),  # type: ignore[arg-type]
                     visible=visible, phase=_r(phase))


def _actor_plan(actor: ActorSpec, aid: str, index: int, seed: int,
                spec_dir: Path) -> ActorPlan:
    backends: dict[str, dict[str, object]] = {}
    if actor.unreal is not None:
        backends["unreal"] = {"mesh": actor.unreal.mesh}
        if actor.unreal.anim is not None:
            backends["unreal"]["anim"] = actor.unreal.anim
    backends["mitsuba"] = {"proxy": actor.mitsuba.proxy}
    if actor.mitsuba.mesh is not None:
        backends["mitsuba"]["mesh"] = str((spec_dir / actor.mitsuba.mesh).resolve())
    if actor.mitsuba.material is not None:
        backends["mitsuba"]["material"] = actor.mitsuba.material
    color = actor.color if actor.color is not None else \
        field_rng(seed, f"actors[{index}].color").choice(PROXY_PALETTE)
    return ActorPlan(id=aid, kind=actor.kind, backends=backends,
                     path=tuple(_rv(p) for p in actor.path),  # type: ignore[arg-type]
                     speed_mps=_r(actor.speed_mps), start_frame=actor.start_frame,
                     scale=_r(actor.scale), color=_rv(color))  # type: ignore[arg-type]


# ---- the Mitsuba set ------------------------------------------------------------------

def _mitsuba_set(m: MitsubaEnvironment, seed: int, spec_dir: Path) -> dict[str, object]:
    """Preset, set seed (layout and material variation), wetness, envmap and props."""
    out: dict[str, object] = {"preset": m.preset,
                              "set_seed": int(m.set_seed if m.set_seed is not None else seed)}
    if m.wetness is not None:
        out["wetness"] = _r(m.wetness)
    if m.envmap is not None:
        e = m.envmap
        named = envmaps.is_named(e.map)
        out["envmap"] = {
            "map": e.map if named else str((spec_dir / e.map).resolve()),
            "named": named,
            "rotation_deg": None if e.rotation_deg is None else _r(e.rotation_deg),
            "illuminance_lux": None if e.illuminance_lux is None else _r(e.illuminance_lux),
            "sun": e.sun, "sun_illuminance_lux": None if e.sun_illuminance_lux is None
            else _r(e.sun_illuminance_lux)}
    if m.props:
        out["props"] = [{"mesh": str((spec_dir / p.mesh).resolve()), "position": _rv(p.position),
                         "rotation": _rv(p.rotation), "scale": _r(p.scale),
                         "color": None if p.color is None else _rv(p.color),
                         "material": p.material} for p in m.props]
    return out


# ---- the plan -------------------------------------------------------------------------

def make_plan(spec: SceneSpec, *, seed: int | None = None) -> ShotPlan:
    """Resolve randomisation with ``seed`` (default ``spec.seed``) and plan every frame."""
    digest = spec_hash(spec)
    spec = resolve(spec, seed)
    seed = spec.seed
    cam = spec.camera
    width, height = spec.render.resolution
    poses = _camera_poses(spec, seed)
    ids = [f"actor_{i:02d}" for i in range(len(spec.actors))]
    paths = [Polyline(a.path) for a in spec.actors]
    timeline = []
    for k, pose in enumerate(poses):
        index = k - spec.warmup_frames
        actors = tuple(_actor_pose(a, aid, p, index, spec.fps)
                       for a, aid, p in zip(spec.actors, ids, paths))
        timeline.append(FramePlan(index=index, time_s=_r(index / spec.fps), camera=pose,
                                  actors=actors))
    env = spec.environment
    backends: dict[str, dict[str, object]] = {
        "mitsuba": _mitsuba_set(env.mitsuba, seed, Path(spec.source).parent)}
    if env.unreal is not None and env.unreal.level is not None:
        backends["unreal"] = {"level": env.unreal.level}
        if env.unreal.use_level_lighting:  # only when set: existing plans stay byte-identical
            backends["unreal"]["use_level_lighting"] = True
    q = spec.render.quality
    return ShotPlan(
        name=spec.name, seed=seed, spec_hash=digest, fps=_r(spec.fps), frames=spec.frames,
        warmup_frames=spec.warmup_frames,
        camera=CameraPlan(
            focal_length_mm=_r(cam.focal_length_mm), sensor_mm=_rv(cam.sensor_mm),  # type: ignore
            K=tuple(_rv(row) for row in geometry.intrinsics(cam.focal_length_mm,
                                                             cam.sensor_mm[0], width, height)),
            handheld_profile=cam.handheld.profile,
            amplitude_scale=_r(cam.handheld.amplitude_scale), fstop=_r(cam.fstop),
            focus_distance_m=_r(cam.focus_distance_m)),
        exposure=ExposurePlan(ev100=_r(spec.exposure.ev100),
                              scale=exposure_scale(spec.exposure.ev100)),
        environment=EnvironmentPlan(sun=_sun(env.sun), sky=_sky(env.sky, env.sun),
                                    lights=tuple(_light(li) for li in env.lights),
                                    backends=backends),
        actors=tuple(_actor_plan(a, aid, i, seed, Path(spec.source).parent)
                     for i, (a, aid) in enumerate(zip(spec.actors, ids))),
        render=RenderPlan(resolution=(width, height), passes=spec.render.passes,
                          exr_pixel_type=spec.render.exr.pixel_type,
                          exr_compression=spec.render.exr.compression,
                          quality={"unreal": asdict(q.unreal), "mitsuba": asdict(q.mitsuba)}),
        timeline=tuple(timeline),
        spec_path=spec.source,
    )
