"""Helpers for the Unreal plugin tests (a helper module: no tests here): a hand-built plan
with every actor kind, asset registration in the fake, and a versioned fake engine with the
plugin importable against it."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import geometry as g
from pipeline.plan_model import (
    ActorPlan,
    ActorPose,
    CameraPlan,
    CameraPose,
    EnvironmentPlan,
    ExposurePlan,
    FramePlan,
    RenderPlan,
    ShotPlan,
    SkyPlan,
    exposure_scale,
)

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PY = ROOT / "ue_plugin" / "S2RHDR" / "Content" / "Python"
LEVEL = "/Game/Maps/Street"


def purge() -> None:
    """Forget the plugin's modules (each test imports them against its own fake)."""
    for name in list(sys.modules):
        if name == "s2rhdr_unreal" or name.startswith("s2rhdr_unreal."):
            del sys.modules[name]


def fake_engine(version: str) -> Any:
    """The fake ``unreal`` of ``version``; the test skips (saying why) without its dump."""
    from tests.fake_unreal import StubUnavailable, make_module

    try:
        return make_module(version)
    except StubUnavailable as exc:
        pytest.skip(f"UE {version} API dump unavailable: {exc}")


def install_fake(monkeypatch: Any, version: str) -> Any:
    """A fresh fake engine in ``sys.modules`` with the plugin importable against it."""
    fake = fake_engine(version)
    monkeypatch.setitem(sys.modules, "unreal", fake)
    monkeypatch.syspath_prepend(str(PLUGIN_PY))
    purge()
    return fake


def plugin_module(name: str) -> Any:
    """Import a pure plugin module (no ``unreal`` needed) from the source tree."""
    import importlib

    sys.path.insert(0, str(PLUGIN_PY))
    try:
        return importlib.import_module(f"s2rhdr_unreal.{name}")
    finally:
        sys.path.remove(str(PLUGIN_PY))


def hand_plan(frames: int = 3, warmup: int = 2) -> ShotPlan:
    """Every actor kind, a camera whose yaw crosses +-180 deg, an actor hidden at the start."""
    k = g.intrinsics(24, 36, 64, 36)
    timeline = []
    for i in range(-warmup, frames):
        loc, rot = (0.5 * i, 0.02 * i, 1.6), (0.3 * i, -2.0 + 0.1 * i, 178.0 + 1.5 * (i + warmup))
        rot = (rot[0], rot[1], (rot[2] + 180.0) % 360.0 - 180.0)
        actors = (
            ActorPose("actor_00", (6.0, -3 + 0.05 * i, 0.0), (0.0, 0.0, 90.0)),
            ActorPose("actor_01", (20.0, -15 + 0.3 * i, 0.0), (0.0, 0.0, 90.0)),
            ActorPose("actor_02", (8.0, 1.0, 0.0), (0.0, 0.0, -90.0), visible=i >= 1),
        )
        timeline.append(FramePlan(i, i / 30, CameraPose(loc, rot, g.world_to_camera(loc, rot)),
                                  actors))
    unreal_q = {"spatial_samples": 4, "temporal_samples": 3, "warmup_frames": 16}
    return ShotPlan(
        name="hand_shot", seed=3, spec_hash="feed", fps=30, frames=frames, warmup_frames=warmup,
        camera=CameraPlan(24, (36, 20.25), k, "walking", fstop=5.6, focus_distance_m=12.0),
        exposure=ExposurePlan(11.5, exposure_scale(11.5)),
        environment=EnvironmentPlan(None, SkyPlan(3000.0), backends={"unreal": {"level": LEVEL}}),
        actors=(
            ActorPlan("actor_00", "pedestrian", {"unreal": {"mesh": "/Game/People/SK_Man",
                                                            "anim": "/Game/People/A_Walk"}},
                      ((6, -3, 0), (6, 3, 0)), 1.4),
            ActorPlan("actor_01", "vehicle", {"unreal": {"mesh": "/Game/Cars/SM_Sedan"}},
                      ((20, -15, 0), (20, 15, 0)), 9.0),
            ActorPlan("actor_02", "animal", {"unreal": {"mesh": "/Game/Animals/SK_Dog",
                                                        "anim": "/Game/Animals/A_Trot"}},
                      ((8, 1, 0), (8, -1, 0)), 2.0, start_frame=1, scale=0.8),
        ),
        render=RenderPlan((64, 36), ("img",), quality={"unreal": unreal_q}),
        timeline=tuple(timeline),
    )


def register_assets(fake: Any, plan: ShotPlan) -> None:
    """Make every asset the plan names exist in the fake project."""
    level = (plan.environment.backends.get("unreal") or {}).get("level")
    if level:
        fake.add_asset(level, "World")
    for actor in plan.actors:
        refs = actor.backends.get("unreal") or {}
        if refs.get("mesh"):
            kind = "StaticMesh" if actor.kind == "vehicle" else "SkeletalMesh"
            fake.add_asset(refs["mesh"], kind)
        if refs.get("anim"):
            fake.add_asset(refs["anim"], "AnimSequence")


def start_headless(fake: Any, plan: ShotPlan, tmp_path: Path, quality: str = "default",
                   *extra: str) -> tuple[int, list[int], Path, Path]:
    """``headless.main`` on ``plan`` as the host would call it; exits are recorded."""
    from s2rhdr_unreal import headless

    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "plan.json").write_text(plan.to_json())
    exits: list[int] = []
    out, status = tmp_path / "shot", tmp_path / "status.json"
    rc = headless.main(["--plan", str(tmp_path / "plan.json"), "--out", str(out),
                        "--status", str(status), "--quality", quality, *extra],
                       exit_fn=exits.append)
    return rc, exits, out, status


def job_of(fake: Any) -> tuple[Any, Any]:
    """The one MRQ job in the fake queue and its config."""
    sub = fake.get_editor_subsystem(fake.MoviePipelineQueueSubsystem)
    (job,) = sub.queue.get_jobs()
    return job, job.get_configuration()


def lock_volume(fake: Any, sequence: Any) -> Any:
    vols = [b.template for b in sequence.bindings if type(b.template).__name__ ==
            "PostProcessVolume"]
    assert len(vols) == 1, "exactly one linear-lock volume, as a spawnable of the sequence"
    return vols[0]


def sequence_of(fake: Any, plan: ShotPlan) -> Any:
    return fake.assets[f"/Game/S2RHDR/Sequences/{plan.name}"]


def engine_scale(pp: Any, cvars: dict) -> float:
    """The pixel value of 1 cd/m^2 the engine gives with these post-process settings, from
    the engine source (PostProcessEyeAdaptation.cpp CalculateManualAutoExposure and
    LuminanceMaxFromLensAttenuation; PostProcessEyeAdaptation.usf EyeAdaptationCommon):
    2^bias / (LuminanceMax * 2^EV100), EV100 = log2(N^2 S 100 / max(1, ISO))."""
    ev = math.log2(pp.prop("depth_of_field_fstop") ** 2 * pp.prop("camera_shutter_speed") * 100
                   / max(1.0, pp.prop("camera_iso")))
    lum_max = 1.0
    if int(cvars.get("r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange", 0)):
        lum_max = 0.78 / max(cvars.get("r.EyeAdaptation.LensAttenuation", 0.78), 0.01)
    return 2.0 ** pp.prop("auto_exposure_bias") / (lum_max * 2.0 ** ev)
