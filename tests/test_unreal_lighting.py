"""The Unreal plugin spawns the plan's sun, sky and lights with the right classes and units.

Against the recording fake ``unreal`` (tests/fake_unreal): what the plugin asks the engine to
spawn. Whether Unreal's atmosphere then matches the plan's sky luminance is not testable here
(docs/unreal.md, "Lighting").
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from pipeline import geometry as g
from pipeline.plan_model import LightPlan, SkyPlan, SunPlan
from tests.fake_unreal.world import transmittance
from tests.helpers.unreal_plans import hand_plan, install_fake, purge, register_assets

SUN = SunPlan(elevation_deg=35.0, azimuth_deg=210.0, illuminance_lux=80000.0, visible=False,
              color=(1.1, 1.0, 0.8))
LIGHTS = (
    LightPlan("point", (1.0, 2.0, 3.0), intensity_cd=500.0, color=(1.0, 0.9, 0.7)),
    LightPlan("spot", (0.0, 0.0, 4.0), rotation=(0.0, -60.0, 30.0), intensity_cd=2000.0,
              cone_deg=40.0),
    LightPlan("area", (4.0, 2.0, 3.0), rotation=(0.0, -90.0, 0.0), size=(0.5, 0.25),
              luminance=20000.0),
)


def lit_plan(**backend):
    plan = hand_plan()
    env = dataclasses.replace(plan.environment, sun=SUN, sky=SkyPlan(4000.0), lights=LIGHTS,
                              backends={"unreal": {"level": "/Game/Maps/Street", **backend}})
    return dataclasses.replace(plan, environment=env)


@pytest.fixture(params=["5.4", "5.5", "5.6"])
def ue(request, monkeypatch):
    fake = install_fake(monkeypatch, request.param)
    yield fake
    purge()


def build(fake, plan):
    from s2rhdr_unreal import sequence

    register_assets(fake, plan)
    return sequence.build_sequence(plan)


def templates(shot) -> dict[str, object]:
    return {b.display_name: b.get_object_template() for b in shot.lights}


def test_lights_spawned_with_classes_units_intensities_and_colours(ue):
    shot = build(ue, lit_plan())
    t = templates(shot)
    name = "hand_shot"
    assert {k: type(v).__name__ for k, v in t.items()} == {
        f"{name}_sun": "DirectionalLight", f"{name}_atmosphere": "SkyAtmosphere",
        f"{name}_sky": "SkyLight", f"{name}_light0_point": "PointLight",
        f"{name}_light1_spot": "SpotLight", f"{name}_light2_area": "RectLight"}
    movable = ue.ComponentMobility.MOVABLE
    sun = t[f"{name}_sun"].prop("light_component")
    # through the SkyAtmosphere: colour x intensity x T(engine) = plan colour x lux on the
    # ground, channel by channel (colour normalised to max 1; T from the engine's function)
    t_sun = transmittance(SUN.direction())
    ground = [sun.prop("intensity") * c * tc
              for c, tc in zip(sun._values["_light_color"][:3], t_sun)]
    assert ground == pytest.approx([80000.0 * c for c in SUN.color], rel=1e-9)
    assert max(sun._values["_light_color"][:3]) == pytest.approx(1.0)
    assert sun.prop("mobility") is movable and sun.prop("atmosphere_sun_light") is True
    assert sun.prop("atmosphere_sun_disk_color_scale").tuple() == (0.0, 0.0, 0.0, 1.0)  # hidden
    assert sun.prop("light_source_angle") == pytest.approx(0.53)

    point = t[f"{name}_light0_point"].prop("light_component")
    assert point.prop("intensity_units") is ue.LightUnits.CANDELAS
    assert point.prop("intensity") == pytest.approx(500.0)
    assert point._values["_light_color"] == pytest.approx((1.0, 0.9, 0.7, 1.0))
    assert t[f"{name}_light0_point"]._values["_location"].tuple() == pytest.approx(
        (100.0, 200.0, 300.0))
    spot = t[f"{name}_light1_spot"].prop("light_component")
    assert spot.prop("intensity_units") is ue.LightUnits.CANDELAS
    assert (spot.prop("outer_cone_angle"), spot.prop("inner_cone_angle")) == (40.0, 30.0)
    assert t[f"{name}_light1_spot"]._values["_rotation"].tuple() == (0.0, -60.0, 30.0)

    rect = t[f"{name}_light2_area"].prop("light_component")
    assert (rect.prop("source_width"), rect.prop("source_height")) == (50.0, 25.0)
    assert rect.prop("barn_door_length") == 0.0
    if hasattr(ue.LightUnits, "NITS"):  # 5.6: luminance directly
        assert rect.prop("intensity_units") is ue.LightUnits.NITS
        assert rect.prop("intensity") == pytest.approx(20000.0)
    else:  # older flavour: candela = luminance x area
        assert rect.prop("intensity_units") is ue.LightUnits.CANDELAS
        assert rect.prop("intensity") == pytest.approx(20000.0 * 0.5 * 0.25)
    sky = t[f"{name}_sky"].prop("light_component")
    assert sky.prop("source_type") is ue.SkyLightSourceType.SLS_CAPTURED_SCENE
    assert sky.prop("real_time_capture") is True and sky.prop("mobility") is movable
    for actor in t.values():
        assert actor.prop("tags") == ["s2rhdr"]


def test_sun_points_from_the_sun_in_unreal_axes(ue):
    shot = build(ue, lit_plan())
    rot = templates(shot)["hand_shot_sun"]._values["_rotation"].tuple()
    forward = g.rotator_axes(rot)[0]
    assert forward == pytest.approx(tuple(-c for c in SUN.direction()), abs=1e-9)
    # elevation 35 deg above the horizon -> the light points 35 deg down
    assert rot[1] == pytest.approx(-35.0)


def test_rebuild_is_idempotent_and_leaves_the_level_clean(ue):
    plan = lit_plan()
    build(ue, plan)
    leftover = ue.DirectionalLight()  # as if a previous run crashed mid-build
    leftover._values["tags"] = ["s2rhdr"]
    ue.world.append(leftover)
    shot = build(ue, plan)
    assert len(shot.lights) == 6
    assert not [a for a in ue.world if a.actor_has_tag("s2rhdr")]
    lights = [b for b in shot.sequence.get_bindings()
              if type(b.get_object_template()).__name__ in ("DirectionalLight", "SkyLight")]
    assert len(lights) == 2


def test_use_level_lighting_spawns_nothing_and_warns_otherwise(ue):
    own = ue.DirectionalLight()
    own.set_actor_label("LevelSun")
    ue.world.append(own)
    shot = build(ue, lit_plan(use_level_lighting=True))
    assert shot.lights == [] and own in ue.world
    assert any("use_level_lighting" in line for line in ue.log_lines)
    ue.log_lines.clear()
    build(ue, lit_plan())
    assert any("LevelSun" in line for line in ue.log_lines)  # warned: it adds to the plan's


def test_no_sun_no_atmosphere_and_black_sky_no_sky_light(ue):
    from s2rhdr_unreal import lighting

    plan = lit_plan()
    night = dataclasses.replace(plan, environment=dataclasses.replace(
        plan.environment, sun=None, sky=SkyPlan(0.0), lights=()))
    assert lighting.light_records(night) == []
    overcast = dataclasses.replace(night, environment=dataclasses.replace(
        night.environment, sky=SkyPlan(2000.0)))
    assert [r["class"] for r in lighting.light_records(overcast)] == ["SkyLight"]
    summary = lighting.summary(overcast)
    assert summary["sky_zenith_cd_m2_planned"] == 2000.0 and not summary["sky_zenith_enforced"]
    json.dumps(summary)  # goes into meta.json


def test_split_color_keeps_colour_times_intensity(ue):
    from s2rhdr_unreal.lighting import split_color

    tint, k = split_color((0.8, 1.2, 0.4))
    assert max(tint) == 1.0 and all(math.isclose(a * k, b) for a, b in zip(tint, (0.8, 1.2,
                                                                                0.4)))


def test_depth_and_normal_requested_become_enabled_32bit_mrq_materials(ue, tmp_path):
    from s2rhdr_unreal import render

    plan = lit_plan()
    plan = dataclasses.replace(plan, render=dataclasses.replace(
        plan.render, passes=("img", "depth", "normal", "flow")))
    shot = build(ue, plan)
    job = render.configure_job(plan, shot.sequence, shot.level, tmp_path / ".mrq")
    deferred = job.get_configuration().find_setting_by_class(ue.MoviePipelineDeferredPassBase)
    entries = deferred.prop("additional_post_process_materials")
    assert [(e.prop("enabled"), e.prop("material").get_name()) for e in entries] == [
        (True, "MovieRenderQueue_WorldDepth"), (True, "MovieRenderQueue_WorldNormal")]
    if ue.__fake_version__ == "5.4":  # one pass-wide flag before 5.5
        assert deferred.prop("use32_bit_post_process_materials") is True
        assert all(e.prop("high_precision_output") is None for e in entries)
    else:  # 5.5+: the flag is _DEPRECATED (not settable); each entry asks for 32 bits
        assert all(e.prop("high_precision_output") is True for e in entries)
        assert deferred.prop("use32_bit_post_process_materials") is False
        with pytest.raises(AttributeError):
            deferred.set_editor_property("use32_bit_post_process_materials", True)
    render.start(lambda ok: None)
    names = {p.parent.name for p in ue.simulate_render()}
    assert names == {"FinalImage", "FinalImageMovieRenderQueue_WorldDepth",
                     "FinalImageMovieRenderQueue_WorldNormal"}  # MRQ's {render_pass} names
