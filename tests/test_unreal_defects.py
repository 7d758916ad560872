"""Issue 12's numbered defects, one test (or a few) each, against the versioned fake.

Each test states the engine fact it relies on and where it was read (engine source text or
the unreal-stub API dumps); each failed on the plugin as it was before issue 12. Nothing
here ran inside Unreal.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from pipeline.plan_model import SkyPlan, SunPlan
from tests.fake_unreal.world import REC709, transmittance
from tests.helpers.unreal_plans import (
    ROOT,
    engine_scale,
    hand_plan,
    install_fake,
    job_of,
    lock_volume,
    plugin_module,
    purge,
    register_assets,
    sequence_of,
    start_headless,
)

ENGINES = ["5.4", "5.5", "5.6"]


@pytest.fixture(params=ENGINES)
def ue(request, monkeypatch):
    fake = install_fake(monkeypatch, request.param)
    yield fake
    purge()


def _shot(ue, plan=None, tmp_path=None):
    from s2rhdr_unreal import sequence

    plan = plan or hand_plan()
    register_assets(ue, plan)
    return plan, sequence.build_sequence(plan)


# ---- 1. headless never renders --------------------------------------------------------

def test_1_headless_keeps_the_editor_alive_until_mrq_finishes_then_quits(ue, tmp_path):
    """EditorPythonExecuter.cpp (and every dump's set_keep_python_script_alive docstring):
    after -ExecutePythonScript returns, the editor closes on the next tick unless the script
    set the keep-alive flag. MRQ renders on later ticks, so without it nothing renders."""
    from s2rhdr_unreal import headless

    plan = hand_plan()
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path, "default")
    assert rc == 0 and ue.after_script() is False, "the editor would quit before rendering"
    ue.simulate_render(True)
    assert exits == [0] and json.loads(status.read_text())["ok"] is True
    # the real exit path releases the flag and quits
    headless.default_exit(headless.EXIT_OK)
    assert ue.keep_alive is False
    assert ("SystemLibrary", "quit_editor", (), {}) in ue.calls


def test_1_watchdog_fails_a_stalled_render_with_a_status(ue, tmp_path):
    """No MRQ progress for --watchdog_s: cancel, failed (retryable) status, exit 3."""
    plan = hand_plan()
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path, "default", "--watchdog_s", "5")
    assert rc == 0
    for _ in range(4):
        ue.tick(1.0)
    assert exits == []  # 4 s without a frame: still waiting
    ue.tick(1.0)
    ue.tick(1.0)
    assert exits == [3]
    st = json.loads(status.read_text())
    assert st["ok"] is False and st["retryable"] is True and "watchdog" in st["error"]
    from s2rhdr_unreal import render

    assert render._ACTIVE["executor"].prop("_cancelled") is True
    ue.simulate_render(True)  # a late MRQ callback must not overwrite the verdict
    assert exits == [3] and json.loads(status.read_text())["ok"] is False


def test_1_watchdog_resets_while_frames_keep_coming(ue, tmp_path):
    plan = hand_plan()
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path, "default", "--watchdog_s", "3")
    staging = out / ".mrq" / "FinalImage"
    staging.mkdir(parents=True)
    for i in range(6):  # one frame every 2 s: never 3 s idle
        (staging / f"{i:04d}.exr").write_bytes(b"x")
        ue.tick(1.0)
        ue.tick(1.0)
    assert exits == []


# ---- 2. exposure ----------------------------------------------------------------------

@pytest.mark.parametrize("ev100,fstop", [(20.0, 1.4), (25.0, 1.0), (-3.0, 22.0), (11.5, 5.6)])
def test_2_engine_pixel_scale_equals_the_plan_scale_even_at_the_clamps(ue, tmp_path, ev100,
                                                                       fstop):
    """CalculateManualAutoExposure (PostProcessEyeAdaptation.cpp): EV100 = log2(N^2 S 100 /
    max(1, ISO)); shutter speed clamps at 1..2000 (Scene.h). At EV 20 / f1.4 the shutter
    clamps and the ISO would fall below 1: the bias must carry the rest."""
    plan = hand_plan()
    plan = dataclasses.replace(
        plan, camera=dataclasses.replace(plan.camera, fstop=fstop),
        exposure=dataclasses.replace(plan.exposure, ev100=ev100, scale=2.0 ** -ev100))
    register_assets(ue, plan)
    start_headless(ue, plan, tmp_path)
    pp = lock_volume(ue, sequence_of(ue, plan)).prop("settings")
    assert pp.prop("camera_iso") >= 1.0 and 1.0 <= pp.prop("camera_shutter_speed") <= 2000.0
    assert engine_scale(pp, ue.cvars) == pytest.approx(2.0 ** -ev100, rel=1e-9)
    assert pp.prop("override_auto_exposure_bias") is True


@pytest.mark.parametrize("extend,attenuation,bias", [(1, 0.65, math.log2(0.78 / 0.65)),
                                                     (0, 0.65, 0.0), (1, 0.78, 0.0)])
def test_2_project_cvars_are_read_compensated_and_recorded(ue, tmp_path, extend, attenuation,
                                                           bias):
    """LuminanceMaxFromLensAttenuation (PostProcessEyeAdaptation.cpp): 0.78 / LensAttenuation
    when ExtendDefaultLuminanceRange is on, else 1: the white point scales with it."""
    ue.cvars.update({"r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange": extend,
                     "r.EyeAdaptation.LensAttenuation": attenuation})
    plan = hand_plan()
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path)
    pp = lock_volume(ue, sequence_of(ue, plan)).prop("settings")
    assert pp.prop("auto_exposure_bias") == pytest.approx(bias, abs=1e-12)
    assert engine_scale(pp, ue.cvars) == pytest.approx(plan.exposure.scale, rel=1e-9)
    ue.simulate_render(True)
    meta = json.loads((out / "meta.json").read_text())["exposure"]
    assert meta["cvars"]["r.EyeAdaptation.LensAttenuation"] == attenuation
    assert meta["cvars"]["r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange"] == extend
    assert meta["auto_exposure_bias"] == pytest.approx(bias, abs=1e-12)
    assert meta["scale"] == plan.exposure.scale


def test_2_unreadable_lens_attenuation_falls_back_to_the_default(ue, tmp_path):
    ue.cvars.pop("r.EyeAdaptation.LensAttenuation")  # the engine returns 0 for it
    plan = hand_plan()
    register_assets(ue, plan)
    start_headless(ue, plan, tmp_path)
    pp = lock_volume(ue, sequence_of(ue, plan)).prop("settings")
    assert pp.prop("auto_exposure_bias") == 0.0
    assert any("LensAttenuation unreadable" in line for line in ue.log_lines)


# ---- 3. path tracer pass name ---------------------------------------------------------

@pytest.mark.parametrize("passes", [("img",), ("img", "depth")])
def test_3_path_traced_frames_are_found_under_the_pass_class_name(ue, tmp_path, passes):
    """MoviePipelineDeferredPasses.h: the path tracer pass identifies itself as "PathTracer";
    material passes are "<identifier><material>" (GatherOutputPassesImpl)."""
    plan = hand_plan()
    plan = dataclasses.replace(plan, render=dataclasses.replace(
        plan.render, passes=passes, quality={"unreal": {"path_tracer": True}}))
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path, "final")
    written = {p.parent.name for p in ue.simulate_render(True)}
    assert written == {"PathTracer", *(["PathTracerMovieRenderQueue_WorldDepth"]
                                       if "depth" in passes else [])}
    assert exits == [0], json.loads(status.read_text())["error"]
    assert sorted(p.name for p in (out / "img").iterdir()) == ["0000.exr", "0001.exr",
                                                               "0002.exr"]
    if "depth" in passes:
        assert sorted(p.name for p in (out / ".mrq_aux" / "depth").iterdir())[0] == "0000.exr"


# ---- 4. version-dependent MRQ properties ----------------------------------------------

def test_4_camera_overscan_override_only_where_it_exists(ue, tmp_path):
    """override_camera_overscan appears in 5.5 (MoviePipelineCameraSetting.h); before it the
    fake refuses it like the editor would."""
    from s2rhdr_unreal import render

    plan, shot = _shot(ue)
    render.configure_job(plan, shot.sequence, shot.level, tmp_path / ".mrq")
    _, cfg = job_of(ue)
    cam = cfg.find_setting_by_class(ue.MoviePipelineCameraSetting)
    assert cam.prop("overscan_percentage") == 0.0
    if ue.__fake_version__ == "5.4":
        with pytest.raises(AttributeError):
            cam.set_editor_property("override_camera_overscan", True)
    else:
        assert cam.prop("override_camera_overscan") is True


def test_4_every_versioned_name_is_routed_through_compat():
    """compat.VERSIONED is the table of names missing or deprecated in some version; each
    entry names an existing shim."""
    compat_src = (ROOT / "ue_plugin/S2RHDR/Content/Python/s2rhdr_unreal/compat.py").read_text()
    import ast

    tree = ast.parse(compat_src)
    table = next(n for n in tree.body if isinstance(n, ast.AnnAssign)
                 and getattr(n.target, "id", "") == "VERSIONED")
    versioned = ast.literal_eval(table.value)
    shims = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name, (_where, shim) in versioned.items():
        assert shim.split("(")[0] in shims or "." in shim, f"{name}: no shim {shim}"


# ---- 5. sun through SkyAtmosphere ------------------------------------------------------

def test_5_ground_receives_the_planned_illuminance_and_colour(ue):
    """With atmosphere_sun_light the intensity is outer-space illuminance; the ground gets
    it times the atmosphere's transmittance (SkyAtmosphereComponent.cpp). The plugin must
    use the engine's transmittance, whatever it is (the fake's differs from Unreal's)."""
    sun = SunPlan(elevation_deg=12.0, azimuth_deg=40.0, illuminance_lux=50000.0,
                  color=(1.05, 1.0, 0.9))
    plan = hand_plan()
    plan = dataclasses.replace(plan, environment=dataclasses.replace(
        plan.environment, sun=sun, sky=SkyPlan(2000.0)))
    _, shot = _shot(ue, plan)
    light = next(b.get_object_template() for b in shot.lights
                 if b.display_name.endswith("_sun")).prop("light_component")
    t = transmittance(sun.direction())
    ground = [light.prop("intensity") * c * tc
              for c, tc in zip(light._values["_light_color"][:3], t)]
    assert ground == pytest.approx([50000.0 * c for c in sun.color], rel=1e-9)
    rec = shot.lighting["sun_through_atmosphere"]
    assert rec["transmittance"] == pytest.approx(list(t))
    engine = rec["engine_outer_space_lux_white"]
    if ue.__fake_version__ == "5.4":  # get_atmospheric_light_to_match... is 5.5+ (dumps)
        assert engine is None
    else:  # the engine's own number for a white sun: lux / luminance(T)
        assert engine == pytest.approx(50000.0 / sum(w * c for w, c in zip(REC709, t)))


# ---- 6. depth of field ----------------------------------------------------------------

def test_6_camera_focus_is_disabled_and_the_lock_keeps_the_exposure_aperture(ue):
    """UpdateCameraLens (CineCameraComponent.cpp): DISABLE sets DepthOfFieldFocalDistance 0
    and writes no f-stop, so the lock volume's depth_of_field_fstop drives the exposure."""
    plan, shot = _shot(ue)
    comp = shot.camera.get_object_template().get_cine_camera_component()
    assert comp.prop("focus_settings").prop("focus_method") is ue.CameraFocusMethod.DISABLE
    pp = lock_volume(ue, shot.sequence).prop("settings")
    assert pp.prop("depth_of_field_fstop") == plan.camera.fstop
    assert pp.prop("depth_of_field_focal_distance") == 0.0
    assert pp.prop("override_depth_of_field_focal_distance") is True


# ---- 7. lock gaps ---------------------------------------------------------------------

def test_7_lock_overrides_tint_tonal_grading_and_curves(ue, tmp_path):
    plan = hand_plan()
    register_assets(ue, plan)
    start_headless(ue, plan, tmp_path)
    pp = lock_volume(ue, sequence_of(ue, plan)).prop("settings")
    assert pp.prop("scene_color_tint").tuple() == (1.0, 1.0, 1.0, 1.0)
    for tone in ("shadows", "midtones", "highlights"):
        for name in ("saturation", "contrast", "gamma", "gain"):
            assert pp.prop(f"color_{name}_{tone}").tuple() == (1.0, 1.0, 1.0, 1.0)
            assert pp.prop(f"override_color_{name}_{tone}") is True
        assert pp.prop(f"color_offset_{tone}").tuple() == (0.0, 0.0, 0.0, 0.0)
    for curve in ("auto_exposure_bias_curve", "local_exposure_highlight_contrast_curve",
                  "local_exposure_shadow_contrast_curve"):
        assert pp.prop(curve) is None and pp.prop(f"override_{curve}") is True


def test_7_level_volumes_with_post_process_materials_are_named(ue, tmp_path):
    volume = ue.PostProcessVolume()
    volume.set_actor_label("PPV_Grade")
    settings = volume.get_editor_property("settings")
    settings.set_editor_property("weighted_blendables", ue.WeightedBlendables(
        array=[ue.WeightedBlendable(1.0, ue.Material("/Game/M_Grade"))]))
    volume.set_editor_property("settings", settings)
    ue.world.append(volume)
    plan = hand_plan()
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path)
    assert any("PPV_Grade" in line and "cannot remove" in line for line in ue.log_lines)
    ue.simulate_render(True)
    assert json.loads((out / "meta.json").read_text())["lock"]["level_blendables"] == [
        "PPV_Grade"]


# ---- 8. the lock is saved ------------------------------------------------------------

def test_8_build_only_saves_the_sequence_with_its_lock_idempotently(ue, tmp_path, monkeypatch):
    from s2rhdr_unreal import menu

    plan = hand_plan()
    register_assets(ue, plan)
    monkeypatch.setattr("pipeline.plan.make_plan", lambda spec: plan)
    monkeypatch.setattr("pipeline.spec.load_spec", lambda path: None)
    for _ in range(2):  # rebuilding replaces, never duplicates
        assert menu.run(str(tmp_path / "a.yaml"), render=False) is not None
        saved = ue.saved[f"/Game/S2RHDR/Sequences/{plan.name}"]
        assert [t for t, _ in saved].count("PostProcessVolume") == 1
        assert ("PostProcessVolume", "S2RHDR_LinearLock") in saved


# ---- 9: the host (tests/test_unreal_launcher.py::test_9_dim_linear_shot_passes_the_host)


# ---- 10. smaller ----------------------------------------------------------------------

def test_10_spawnables_avoid_the_method_deprecated_in_56(ue):
    """The 0.3 dump marks MovieSceneSequence.add_spawnable_from_instance deprecated ("use
    AddSpawnableFromInstance in the Level Sequence Editor Subsystem"); 5.4/5.5 lack the
    subsystem method."""
    _shot(ue)
    assert ue.deprecated_calls == []
    owners = {c[0] for c in ue.calls if c[1] == "add_spawnable_from_instance"}
    assert owners == ({"LevelSequenceEditorSubsystem"} if ue.__fake_version__ == "5.6"
                      else {"LevelSequence"})


def test_10_lens_range_widened_for_an_f_stop_above_the_default_maximum(ue):
    """RecalcDerivedData (CineCameraComponent.cpp) clamps CurrentAperture to MaxFStop."""
    plan = hand_plan()
    plan = dataclasses.replace(plan, camera=dataclasses.replace(plan.camera, fstop=32.0))
    _, shot = _shot(ue, plan)
    comp = shot.camera.get_object_template().get_cine_camera_component()
    lens = comp.prop("lens_settings")
    assert lens.prop("min_f_stop") <= 32.0 <= lens.prop("max_f_stop")
    assert comp.prop("current_aperture") == 32.0


def test_10_uplugin_declares_no_python_requirements():
    """PythonRequirements makes 5.4+ run pip at editor start (offline, unhashed); PyYAML is
    vendored by install-plugin instead."""
    data = json.loads((ROOT / "ue_plugin/S2RHDR/S2RHDR.uplugin").read_text())
    assert "PythonRequirements" not in data


def test_exposure_solve_is_pure():
    linear = plugin_module("linear")
    setup = linear.exposure_setup(20.0, 1.4, {})
    assert setup["physical"]["camera_iso"] == 1.0
    assert setup["auto_exposure_bias"] == pytest.approx(setup["engine_ev100"] - 20.0)
    purge()
