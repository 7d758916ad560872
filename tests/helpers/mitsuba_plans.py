"""Hand-built ShotPlans for the Mitsuba/batch/flow tests (a helper module: no tests here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.geometry import heading_rotator, intrinsics, look_at_rotator, world_to_camera
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
)


def camera_pose(location: Sequence[float], target: Sequence[float]) -> CameraPose:
    rot = look_at_rotator(location, target)
    return CameraPose(tuple(location), rot, world_to_camera(location, rot))


def make_plan(name: str = "tiny", *, frames: int = 2, size: tuple[int, int] = (48, 32),
              spp: int = 4, focal_mm: float = 24.0, ev100: float = 12.0,
              cam_path: Sequence[Sequence[float]] | None = None,
              target: Sequence[float] = (12.0, 0.0, 1.0),
              sun: SunPlan | None = SunPlan(35.0, 200.0, 50000.0, visible=False),
              sky: float = 3000.0, lights: Sequence[LightPlan] = (),
              actors: Sequence[tuple[str, Sequence[Sequence[float]]]] = (),
              preset: str = "street", mitsuba: dict[str, Any] | None = None,
              passes: Sequence[str] = ("img", "depth", "normal", "diffuse", "flow", "mask"),
              pixel_type: str = "half", seed: int = 3, warmup: int = 0,
              spec_hash: str = "h0") -> ShotPlan:
    """A shot on a preset; actors: (kind, per-frame root locations) moving along +their path."""
    w, h = size
    cam_path = cam_path or [(0.0, 0.0, 1.6)] * (frames + warmup)
    actor_plans, timeline = [], []
    for k, (kind, _locs) in enumerate(actors):
        actor_plans.append(ActorPlan(f"actor_{k:02d}", kind, {"mitsuba": {"proxy": "auto"}},
                                     tuple(tuple(p) for p in _locs), 1.4,
                                     color=(0.6, 0.3, 0.2)))
    for j in range(frames + warmup):
        idx = j - warmup
        poses = []
        for k, (_kind, locs) in enumerate(actors):
            loc = tuple(locs[j])
            nxt = locs[min(j + 1, len(locs) - 1)]
            prv = locs[max(j - 1, 0)]
            heading = (nxt[0] - prv[0], nxt[1] - prv[1], 0.0)
            rot = heading_rotator(heading) if any(heading) else (0.0, 0.0, 0.0)
            poses.append(ActorPose(f"actor_{k:02d}", loc, rot, True, 0.25 * j))
        timeline.append(FramePlan(idx, idx / 30.0, camera_pose(cam_path[j], target),
                                  tuple(poses)))
    backends = {"mitsuba": dict(mitsuba or {}, preset=preset)}
    return ShotPlan(
        name=name, seed=seed, spec_hash=spec_hash, fps=30.0, frames=frames,
        warmup_frames=warmup,
        camera=CameraPlan(focal_mm, (36.0, 36.0 * h / w), intrinsics(focal_mm, 36.0, w, h),
                          "tripod"),
        exposure=ExposurePlan(ev100, exposure_scale(ev100)),
        environment=EnvironmentPlan(sun, SkyPlan(sky), tuple(lights), backends),
        actors=tuple(actor_plans),
        render=RenderPlan((w, h), tuple(passes), exr_pixel_type=pixel_type,
                          quality={"mitsuba": {"spp": spp, "max_depth": 4}}),
        timeline=tuple(timeline))
