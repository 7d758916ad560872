"""The Unreal linearity self-test scene: cards of known luminance, as a ShotPlan built in code.

Pure Python (vendored into the editor plugin): the plugin builds the scene from these
targets through the same sequence builder, linear lock and MRQ job as every shot, and the
host (``pipeline.backends.unreal_selftest``) knows from the same numbers what each card
must read: ``pixel = L x exposure.scale`` for the unlit emissive cards, ``E rho cos(theta) /
pi x scale`` for the sun-lit white card.

Layout (Unreal axes, metres): a static camera at the origin, 1.6 m high, looking along +X;
the cards 6 m ahead facing it, on a 6 x 3 grid 0.9 m apart, in front of a large unlit black
backdrop. Emitters at -6..+6 EV around pixel value 1 (``2^k``), three grey cards
(0.05, 0.18, 0.5) and a default-lit white card (albedo 0.8) lit by a 3000 lux sun from
behind the camera (elevation 35 degrees); no sky light, so the white card sees the sun only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from pipeline import geometry as g
from pipeline.plan_model import (
    CameraPlan,
    CameraPose,
    EnvironmentPlan,
    ExposurePlan,
    FramePlan,
    RenderPlan,
    ShotPlan,
    SkyPlan,
    SunPlan,
    exposure_scale,
)

NAME = "s2rhdr_selftest"
LEVEL = "/Game/S2RHDR/Calibration/L_S2RHDR_SelfTest"
CALIBRATION_FILE = "calibration.json"  # written next to the frames by the plugin
FORMAT = "s2rhdr.unreal.calibration"
EV100 = 10.0
RESOLUTION = (480, 270)
FRAMES, WARMUP = 3, 8
CAMERA_Z = 1.6
DISTANCE_M, CARD_M, SPACING_M = 6.0, 0.4, 0.9
EMITTER_EV = tuple(range(-6, 7))
GREY_PIXELS = (0.05, 0.18, 0.5)
SUN_LUX, SUN_ELEVATION, SUN_AZIMUTH, WHITE_ALBEDO = 3000.0, 35.0, 180.0, 0.8
BACKDROP_DISTANCE_M, BACKDROP_SIZE_M = 7.0, (24.0, 14.0)
FOCAL_MM, SENSOR_MM = 24.0, (36.0, 20.25)


@dataclass(frozen=True)
class Target:
    """One card: ``emissive`` cards are unlit with luminance ``luminance`` (cd/m^2); the
    ``lit`` card is default-lit with ``albedo``; its luminance is what the sun should give."""

    id: str
    kind: str  # emitter | grey | sun_card
    center_m: tuple[float, float, float]
    size_m: float
    luminance: float  # cd/m^2 expected (emissive: set; lit: E rho cos / pi)
    emissive: bool = True
    albedo: float = 0.0
    ev: float = 0.0  # emitters: EV relative to pixel value 1


def _grid(index: int) -> tuple[float, float, float]:
    col, row = index % 6, index // 6
    return (DISTANCE_M, (col - 2.5) * SPACING_M, CAMERA_Z + (1 - row) * SPACING_M)


def sun() -> SunPlan:
    return SunPlan(elevation_deg=SUN_ELEVATION, azimuth_deg=SUN_AZIMUTH,
                   illuminance_lux=SUN_LUX, visible=False)


def targets() -> list[Target]:
    """Every card, in grid order (row by row, left to right)."""
    base = 2.0 ** EV100  # cd/m^2 that reads 1.0
    out = [Target(f"emitter_{k:+d}", "emitter", _grid(i), CARD_M, base * 2.0 ** k, ev=float(k))
           for i, k in enumerate(EMITTER_EV)]
    out += [Target(f"grey_{p:g}", "grey", _grid(len(out) + j), CARD_M, base * p)
            for j, p in enumerate(GREY_PIXELS)]
    s = sun().direction()
    cos_theta = max(0.0, -s[0])  # card normal is -X (facing the camera)
    lit = SUN_LUX * WHITE_ALBEDO * cos_theta / math.pi
    out.append(Target("sun_card", "sun_card", _grid(len(out)), CARD_M, lit, emissive=False,
                      albedo=WHITE_ALBEDO))
    return out


def calibration_plan() -> ShotPlan:
    """The self-test shot: static camera, the sun, no actors, no sky light."""
    width, height = RESOLUTION
    k = g.intrinsics(FOCAL_MM, SENSOR_MM[0], width, height)
    loc, rot = (0.0, 0.0, CAMERA_Z), (0.0, 0.0, 0.0)
    pose = CameraPose(loc, rot, g.world_to_camera(loc, rot))
    timeline = tuple(FramePlan(i, i / 30.0, pose) for i in range(-WARMUP, FRAMES))
    return ShotPlan(
        name=NAME, seed=0, spec_hash="selftest", fps=30, frames=FRAMES, warmup_frames=WARMUP,
        camera=CameraPlan(FOCAL_MM, SENSOR_MM, k, "tripod", fstop=8.0, focus_distance_m=6.0),
        exposure=ExposurePlan(EV100, exposure_scale(EV100)),
        environment=EnvironmentPlan(sun(), SkyPlan(0.0), backends={"unreal": {
            "level": LEVEL, "sky_light": False}}),
        actors=(),
        render=RenderPlan(RESOLUTION, ("img",), quality={"unreal": {
            "spatial_samples": 8, "temporal_samples": 1, "warmup_frames": 16}}),
        timeline=timeline)


def pixel_rect(plan: ShotPlan, target: Target, shrink: float = 1.0) -> tuple[float, ...]:
    """``(u0, v0, u1, v1)`` (continuous pixels) of a card as the plan's camera sees it;
    ``shrink`` < 1 keeps the central part (away from anti-aliased edges)."""
    cam = plan.output_frames()[0].camera
    cx, cy, cz = target.center_m
    h = 0.5 * target.size_m * shrink
    corners = [g.project(plan.camera.K, cam.world_to_camera, (cx, cy + dy, cz + dz))
               for dy in (-h, h) for dz in (-h, h)]
    us, vs = [c[0] for c in corners], [c[1] for c in corners]
    return (min(us), min(vs), max(us), max(vs))


def record(plan: ShotPlan) -> dict[str, Any]:
    """``calibration.json``: what the host needs to analyse the frames."""
    return {"format": FORMAT, "plan": plan.name, "ev100": plan.exposure.ev100,
            "scale": plan.exposure.scale, "resolution": list(plan.render.resolution),
            "targets": [asdict(t) for t in targets()]}
