"""The plan contract: JSON round trip is lossless, canonical, versioned and validated."""

from __future__ import annotations

import json

import pytest

from pipeline import geometry as g
from pipeline.errors import S2RError
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
    SunPlan,
    exposure_scale,
    load_plan,
)


def tiny_plan() -> ShotPlan:
    k = g.intrinsics(24, 36, 64, 36)
    frames = []
    for i in (-1, 0, 1):
        loc, rot = (0.1 * i, 0.0, 1.6), (0.0, -2.0, 0.0)
        frames.append(FramePlan(i, i / 30, CameraPose(loc, rot, g.world_to_camera(loc, rot)),
                                (ActorPose("actor_00", (5.0, 0.1 * i, 0.0), (0, 0, 90), True),)))
    return ShotPlan(
        name="tiny", seed=1, spec_hash="abc", fps=30, frames=2, warmup_frames=1,
        camera=CameraPlan(24, (36, 20.25), k, "tripod"),
        exposure=ExposurePlan(12.0, exposure_scale(12.0)),
        environment=EnvironmentPlan(SunPlan(30, 200, 1e5), SkyPlan(5000.0),
                                    backends={"mitsuba": {"preset": "street"}}),
        actors=(ActorPlan("actor_00", "pedestrian", {"mitsuba": {"proxy": "capsule"}},
                          ((5, 0, 0), (5, 3, 0)), 1.4),),
        render=RenderPlan((64, 36), ("img", "depth")),
        timeline=tuple(frames),
    )


def test_json_round_trip_is_lossless_and_canonical(tmp_path):
    plan = tiny_plan()
    text = plan.to_json()
    (tmp_path / "plan.json").write_text(text)
    back = load_plan(tmp_path / "plan.json")
    assert back == plan
    assert back.to_json() == text
    assert json.loads(text)["format"] == "s2rhdr.plan" and json.loads(text)["version"] == 2


def test_output_frames_exclude_warmup_and_camera_params_match():
    plan = tiny_plan()
    assert [f.index for f in plan.output_frames()] == [0, 1]
    rec = plan.camera_params(1)
    assert rec["frame"] == 1 and rec["K"][0][2] == 32.0
    u, v, _ = g.project(rec["K"], rec["world_to_camera"], (10.0, 0.1, 1.6 + 10 * 0.0349))
    assert 0 <= u < 64 and 0 <= v < 36
    with pytest.raises(KeyError):
        plan.frame(5)


def test_exposure_scale_halves_per_stop():
    assert exposure_scale(13) == pytest.approx(exposure_scale(12) / 2)
    # UE5 PostProcessEyeAdaptation.cpp: 1 cd/m^2 is 1.0 at EV100 0 (no 1.2 factor)
    assert exposure_scale(0) == 1.0 and exposure_scale(10) == 2.0 ** -10


def test_wrong_version_or_format_is_a_clear_error(tmp_path):
    data = json.loads(tiny_plan().to_json())
    data["version"] = 99
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(S2RError, match=r"p.json: plan format version 99 is not supported"):
        load_plan(tmp_path / "p.json")
    (tmp_path / "q.json").write_text("{}")
    with pytest.raises(S2RError, match="not an s2rhdr plan"):
        load_plan(tmp_path / "q.json")
    with pytest.raises(S2RError, match="plan file not found"):
        load_plan(tmp_path / "none.json")
