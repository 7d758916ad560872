"""The Unreal plugin against the versioned fake ``unreal``: what it asks the engine to do.

Nothing here ran inside Unreal. The fake (tests/fake_unreal) keeps engine-like state (struct
copies, delegates, keyed channels, an MRQ queue) and is trimmed to the API of one engine
version (unreal-stub dumps of 5.4/5.5/5.6 + the MRQ table), so every test that takes the
``ue`` fixture runs once per version and fails where the plugin uses API that version lacks.
"""

from __future__ import annotations

import json
import math

import pytest

from pipeline.plan_model import ShotPlan, exposure_scale
from tests.helpers.unreal_plans import (
    LEVEL,
    PLUGIN_PY,
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

SPECS = sorted(p for p in (ROOT / "scene_specs").glob("*.yaml") if not p.name.startswith("_"))
ENGINES = ["5.4", "5.5", "5.6"]  # flavours with their own API dump


@pytest.fixture(params=ENGINES)
def ue(request, monkeypatch):
    """A fresh fake engine of each dumped version with the plugin importable against it."""
    fake = install_fake(monkeypatch, request.param)
    yield fake
    purge()


def spec_plans() -> list[ShotPlan]:
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec

    return [make_plan(load_spec(p)) for p in SPECS]


def norm_deg(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


# ---- the whole headless shot ------------------------------------------------------------

def _check_shot(fake, plan: ShotPlan, tmp_path) -> None:
    rc, exits, out, status = start_headless(fake, plan, tmp_path)
    assert rc == 0 and exits == [], fake.log_lines
    seq = sequence_of(fake, plan)
    frames = [f.index for f in plan.timeline]

    # sequence: rate, playback range, camera cut extended over the warm-up frames
    assert seq.display_rate == (30, 1) or seq.display_rate[0] / seq.display_rate[1] == plan.fps
    assert seq.playback == [0, plan.frames]
    (cut_track,) = seq.find_tracks_by_type(fake.MovieSceneCameraCutTrack)
    (cut,) = cut_track.sections
    assert cut.range == (-plan.warmup_frames, plan.frames)
    cam_binding = next(b for b in seq.bindings if type(b.template).__name__ == "CineCameraActor")
    assert cut.prop("camera_binding_id").prop("guid") == cam_binding.get_id()

    # camera: lens, filmback (aspect = output aspect), focus; one key per frame = plan pose
    comp = cam_binding.template.get_cine_camera_component()
    w, h = plan.render.resolution
    assert comp.prop("current_focal_length") == plan.camera.focal_length_mm
    assert comp.prop("current_aperture") == plan.camera.fstop
    fb = comp.prop("filmback")
    assert fb.prop("sensor_width") == plan.camera.sensor_mm[0]
    assert fb.prop("sensor_height") == pytest.approx(plan.camera.sensor_mm[0] * h / w)
    lens = comp.prop("lens_settings")
    assert lens.prop("min_focal_length") <= plan.camera.focal_length_mm <= lens.prop(
        "max_focal_length")
    focus = comp.prop("focus_settings")
    assert focus.prop("focus_method") is fake.CameraFocusMethod.DISABLE  # pinhole, as the plan
    (xf_track,) = cam_binding.find_tracks_by_type(fake.MovieScene3DTransformTrack)
    (xf,) = xf_track.sections
    assert xf.range == (frames[0], frames[-1] + 1)
    chans = {c.get_name(): c for c in xf.channels}
    for axis, name in enumerate("XYZ"):
        loc_keys = chans[f"Location.{name}"].keys
        rot_keys = chans[f"Rotation.{name}"].keys
        assert [k[0] for k in loc_keys] == frames and [k[0] for k in rot_keys] == frames
        for fp, lk, rk in zip(plan.timeline, loc_keys, rot_keys):
            assert lk[1] == pytest.approx(fp.camera.location[axis] * 100.0, abs=1e-9)
            assert norm_deg(rk[1] - fp.camera.rotation[axis]) == pytest.approx(0.0, abs=1e-9)
    yaws = [k[1] for k in chans["Rotation.Z"].keys]
    assert all(abs(b - a) < 180.0 for a, b in zip(yaws, yaws[1:])), "yaw keys are unwrapped"

    # actors: count, assets, classes, keys, animation
    actor_bindings = [b for b in seq.bindings if type(b.template).__name__ in (
        "SkeletalMeshActor", "StaticMeshActor")]
    assert len(actor_bindings) == len(plan.actors)
    for actor, binding in zip(plan.actors, actor_bindings):
        refs = actor.backends["unreal"]
        tmpl = binding.template
        if type(tmpl).__name__ == "SkeletalMeshActor":
            mesh = tmpl.prop("skeletal_mesh_component").prop("skeletal_mesh_asset")
        else:
            mesh = tmpl.prop("static_mesh_component").prop("static_mesh")
        assert mesh is fake.assets[refs["mesh"]]
        assert (type(tmpl).__name__ == "StaticMeshActor") == (actor.kind == "vehicle")
        (track,) = binding.find_tracks_by_type(fake.MovieScene3DTransformTrack)
        ch = {c.get_name(): c for c in track.sections[0].channels}
        poses = [next(a for a in f.actors if a.id == actor.id) for f in plan.timeline]
        assert [k[0] for k in ch["Location.X"].keys] == frames
        for axis, name in enumerate("XYZ"):
            assert [k[1] for k in ch[f"Location.{name}"].keys] == pytest.approx(
                [p.location[axis] * 100.0 for p in poses])
            assert all(norm_deg(k[1] - p.rotation[axis]) == pytest.approx(0, abs=1e-9)
                       for k, p in zip(ch[f"Rotation.{name}"].keys, poses))
            assert {k[1] for k in ch[f"Scale.{name}"].keys} == {float(actor.scale)}
        anims = binding.find_tracks_by_type(fake.MovieSceneSkeletalAnimationTrack)
        if refs.get("anim"):
            (anim_section,) = anims[0].sections
            params = anim_section.prop("params")
            assert params.prop("animation") is fake.assets[refs["anim"]]
            assert anim_section.range == (frames[0], frames[-1] + 1)
        else:
            assert anims == []
        if not all(p.visible for p in poses):
            (spawn,) = binding.find_tracks_by_type(fake.MovieSceneSpawnTrack)
            keys = spawn.sections[0].channels[0].keys
            first_visible = next(f.index for f, p in zip(plan.timeline, poses) if p.visible)
            assert (frames[0], False, None) in keys and (first_visible, True, None) in keys

    # the linear lock
    vol = lock_volume(fake, seq)
    assert vol.prop("unbound") is True and vol.prop("priority") >= 1e5
    assert vol.prop("blend_weight") == 1.0
    pp = vol.prop("settings")
    assert pp.prop("auto_exposure_method") is fake.AutoExposureMethod.AEM_MANUAL
    assert pp.prop("auto_exposure_apply_physical_camera_exposure") is True
    assert pp.prop("auto_exposure_bias") == 0.0  # a default project needs no compensation
    from s2rhdr_unreal import linear

    assert engine_scale(pp, fake.cvars) == pytest.approx(plan.exposure.scale, rel=1e-12)
    assert pp.prop("depth_of_field_fstop") == plan.camera.fstop
    for name, value in linear.EFFECTS_OFF.items():
        assert pp.prop(name) == value, name
    setup = linear.exposure_setup(plan.exposure.ev100, plan.camera.fstop, fake.cvars)
    for name in ("bloom_intensity", "vignette_intensity", "film_grain_intensity",
                 "lens_flare_intensity", "scene_fringe_intensity", "motion_blur_amount",
                 "tone_curve_amount", "expand_gamut", "local_exposure_detail_strength",
                 "auto_exposure_method", "camera_iso", "camera_shutter_speed",
                 "depth_of_field_fstop", "auto_exposure_bias", "color_gamma",
                 *linear.settings_values(setup)):
        assert pp.prop(f"override_{name}") is True, f"override_{name} not set"
    assert pp.prop("color_gamma").tuple() == (1.0, 1.0, 1.0, 1.0)

    # the MRQ job
    job, cfg = job_of(fake)
    assert job.prop("sequence").prop("path_string") == seq.get_path_name()
    level = plan.environment.backends["unreal"]["level"]
    assert job.prop("map").prop("path_string") == f"{level}.{level.rsplit('/', 1)[-1]}"
    names = [type(s).__name__ for s in cfg.get_all_settings()]
    assert not any(n.endswith(("_PNG", "_JPG", "_BMP")) for n in names), names
    exr = cfg.find_setting_by_class(fake.MoviePipelineImageSequenceOutput_EXR)
    assert exr.prop("compression").name == plan.render.exr_compression.upper()
    assert exr.prop("multilayer") is False
    color = cfg.find_setting_by_class(fake.MoviePipelineColorSetting)
    assert color.prop("disable_tone_curve") is True
    assert color.prop("ocio_configuration").prop("is_enabled") is False
    out_s = cfg.find_setting_by_class(fake.MoviePipelineOutputSetting)
    assert out_s.prop("use_custom_playback_range") is True
    assert (out_s.prop("custom_start_frame"), out_s.prop("custom_end_frame")) == (0, plan.frames)
    assert out_s.prop("output_resolution").tuple() == tuple(plan.render.resolution)
    aa = cfg.find_setting_by_class(fake.MoviePipelineAntiAliasingSetting)
    q = {"spatial_samples": 8, "temporal_samples": 1, "warmup_frames": 32}
    q.update(plan.render.quality.get("unreal") or {})
    if not q.get("path_tracer"):
        assert aa.prop("spatial_sample_count") == q["spatial_samples"]
    assert aa.prop("temporal_sample_count") == q["temporal_samples"]
    # MRQ ignores engine_warm_up_count when it warms up on the camera cut (MoviePipeline.cpp:
    # NumWarmupFrames = bUseCameraCutForWarmUp ? <cut extension> : EngineWarmUpCount), so the
    # quality's warm-up count must reach MRQ as rendered-and-discarded warm-up frames.
    assert aa.prop("use_camera_cut_for_warm_up") is (plan.warmup_frames > 0)
    if plan.warmup_frames > 0:
        assert aa.prop("engine_warm_up_count") == -cut.range[0] == plan.warmup_frames
        assert aa.prop("render_warm_up_count") == q["warmup_frames"]
    else:
        assert aa.prop("engine_warm_up_count") == q["warmup_frames"]
    assert aa.prop("override_anti_aliasing") is True
    cvars = fake.cvars_of(cfg.find_setting_by_class(fake.MoviePipelineConsoleVariableSetting))
    assert cvars["r.MotionBlurQuality"] == 0.0
    assert cvars["r.EyeAdaptation.MethodOverride"] == -1.0
    game = cfg.find_setting_by_class(fake.MoviePipelineGameOverrideSetting)
    assert game.prop("cinematic_quality_settings") is True

    # the executor and its callbacks are held by the module (else GC drops the delegates)
    from s2rhdr_unreal import render

    sub = fake.get_editor_subsystem(fake.MoviePipelineQueueSubsystem)
    assert render._ACTIVE["executor"] is sub.executor is not None
    assert all(cb in render._ACTIVE["callbacks"] for cb in
               sub.executor.prop("on_executor_finished_delegate").callables)

    # the editor stays alive after the script returned (else it quits on the next tick)
    assert fake.after_script() is False
    # render, then the dataset layout and status
    fake.tick(2.0)
    assert any(line.startswith("S2RHDR_PROGRESS") for line in fake.log_lines)
    fake.simulate_render(True)
    assert exits == [0]
    assert ("SystemLibrary", "quit_editor", (), {}) not in fake.calls  # exit_fn replaced it
    st = json.loads(status.read_text())
    assert st["ok"] is True and st["error"] == ""
    for i in range(plan.frames):
        assert (out / "img" / f"{i:04d}.exr").read_bytes() == b"exr %d" % i
        cp = json.loads((out / "camera_params" / f"{i:04d}.json").read_text())
        assert cp == json.loads(json.dumps(plan.camera_params(i)))
    assert not (out / ".mrq").exists()
    from dataclasses import replace

    rendered = replace(plan, render=replace(plan.render, passes=("img",)))
    assert (out / "plan.json").read_text() == rendered.to_json()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["backend"] == "unreal" and meta["exposure"]["ev100"] == plan.exposure.ev100
    assert meta["mrq"]["frame_range"] == [0, plan.frames]
    assert fake.deprecated_calls == [], "no member deprecated in this version is called"


def test_hand_plan_builds_locks_and_renders(ue, tmp_path):
    plan = hand_plan()
    register_assets(ue, plan)
    _check_shot(ue, plan, tmp_path)
    assert ue.current_level == LEVEL


@pytest.mark.skipif(not SPECS, reason="no scene specs in scene_specs/ yet")
def test_every_scene_spec_builds_and_renders(tmp_path, monkeypatch):
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec

    exercised = 0
    for i, path in enumerate(SPECS):
        plan = make_plan(load_spec(path))
        if not (plan.environment.backends.get("unreal") or {}).get("level"):
            continue  # a Mitsuba-only spec
        fake = install_fake(monkeypatch, "5.6")
        register_assets(fake, plan)
        _check_shot(fake, plan, tmp_path / f"s{i}")
        # actor count and assets exactly as the spec names them
        spec = load_spec(path)
        seq = sequence_of(fake, plan)
        templates = [b.template for b in seq.bindings
                     if type(b.template).__name__ in ("SkeletalMeshActor", "StaticMeshActor")]
        assert len(templates) == len(spec.actors)
        for actor, tmpl in zip(spec.actors, templates):
            comp = (tmpl.prop("skeletal_mesh_component") if type(tmpl).__name__ ==
                    "SkeletalMeshActor" else tmpl.prop("static_mesh_component"))
            mesh = comp.prop("skeletal_mesh_asset") or comp.prop("static_mesh")
            if isinstance(actor.unreal.mesh, str):  # (a random choice is resolved by the plan)
                assert mesh.get_path_name().split(".")[0] == actor.unreal.mesh
        exercised += 1
    assert exercised >= 1
    purge()


@pytest.mark.parametrize("version", ["5.3", "5.4", "5.5", "5.6"])
def test_version_branches(version, tmp_path, monkeypatch):
    """The same shot on each engine flavour: compat picks the name that version has."""
    ue = install_fake(monkeypatch, version)
    plan = hand_plan()
    register_assets(ue, plan)
    _check_shot(ue, plan, tmp_path)
    _, cfg = job_of(ue)
    exr = cfg.find_setting_by_class(ue.MoviePipelineImageSequenceOutput_EXR)
    # ZIP by name: 2 before the 5.4 renumbering, 3 after (mrq_table EXR rows)
    assert exr.prop("compression").value == (2 if version == "5.3" else 3)
    seq = sequence_of(ue, plan)
    dog = next(b for b in seq.bindings if b.display_name.endswith("actor_02"))
    rate = dog.find_tracks_by_type(ue.MovieSceneSkeletalAnimationTrack)[0].sections[0].prop(
        "params").prop("play_rate")
    if version in ("5.5", "5.6"):  # the 0.2.1 and 0.3 dumps type play_rate as the variant
        assert type(rate).__name__ == "MovieSceneTimeWarpVariant"
        assert rate.to_fixed_play_rate() == 1.0
    else:
        assert rate == 1.0
    spawn_calls = [c[0] for c in ue.calls if c[1] == "add_spawnable_from_instance"]
    assert set(spawn_calls) == {"LevelSequenceEditorSubsystem" if version == "5.6"
                                else "LevelSequence"}
    game = cfg.find_setting_by_class(ue.MoviePipelineGameOverrideSetting)
    assert game.prop("disable_hlo_ds") is True  # bDisableHLODs as the dumps spell "HLODs"
    purge()


def test_missing_assets_are_reported_and_exit_nonzero(ue, tmp_path):
    plan = hand_plan()
    register_assets(ue, plan)
    del ue.assets["/Game/Cars/SM_Sedan"]
    del ue.assets["/Game/People/A_Walk"]
    rc, exits, out, status = start_headless(ue, plan, tmp_path)
    assert rc == 4 and exits == [4]
    st = json.loads(status.read_text())
    assert st["ok"] is False
    assert st["missing_assets"] == ["/Game/People/A_Walk", "/Game/Cars/SM_Sedan"]
    markers = [ln for ln in ue.log_lines if ln.startswith("S2RHDR_MISSING_ASSET")]
    assert markers == ["S2RHDR_MISSING_ASSET /Game/People/A_Walk",
                       "S2RHDR_MISSING_ASSET /Game/Cars/SM_Sedan"]
    assert "/Game/S2RHDR/Sequences/hand_shot" not in ue.assets  # nothing built


def test_failed_or_partial_render_reports_error(ue, tmp_path):
    plan = hand_plan()
    register_assets(ue, plan)
    rc, exits, out, status = start_headless(ue, plan, tmp_path)
    assert rc == 0
    ue.simulate_render(True, frames_written=2)  # MRQ "succeeded" but lost a frame
    assert exits == [3]
    st = json.loads(status.read_text())
    assert st["ok"] is False and "missing 2" in st["error"]
    assert not (out / "meta.json").exists()


def test_preview_quality_and_path_tracer_settings(ue):
    from dataclasses import replace

    from s2rhdr_unreal import job_settings as render

    plan = hand_plan()
    s = render.mrq_settings(plan, "preview")
    assert (s["spatial_samples"], s["temporal_samples"]) == (1, 1)
    # preview caps the quality's 16 warm-up frames at 8 (rendered warm-up: the plan's 2 frames
    # of camera-cut warm-up are MRQ's engine warm-up)
    assert (s["engine_warm_up_count"], s["render_warm_up_count"]) == (2, 8)
    still = replace(plan, warmup_frames=0, timeline=plan.timeline[2:])
    s = render.mrq_settings(still, "preview")
    assert (s["engine_warm_up_count"], s["render_warm_up_count"]) == (8, 0)
    assert s["use_camera_cut_for_warm_up"] is False
    pt = replace(plan, render=replace(plan.render, quality={"unreal": {
        "path_tracer": True, "spatial_samples": 64, "temporal_samples": 1}}))
    s = render.mrq_settings(pt, "final")
    assert s["renderer"] == "path_tracer" and s["spatial_samples"] == 64
    assert s["pass_class"] == "MoviePipelineDeferredPass_PathTracer"
    assert s["pass_names"] == {"img": "PathTracer"}
    assert s["anti_aliasing"] == "AAM_NONE"
    lossy = replace(plan, render=replace(plan.render, exr_compression="dwaa"))
    with pytest.raises(Exception, match="lossy"):
        from s2rhdr_unreal import compat

        compat.exr_compression(render.mrq_settings(lossy)["exr_compression"])


def test_path_tracer_job_replaces_deferred_pass(ue, tmp_path):
    from dataclasses import replace

    from s2rhdr_unreal import render, sequence

    plan = hand_plan()
    plan = replace(plan, render=replace(plan.render, quality={"unreal": {"path_tracer": True}}))
    register_assets(ue, plan)
    shot = sequence.build_sequence(plan)
    render.configure_job(plan, shot.sequence, shot.level, tmp_path / ".mrq", "final")
    _, cfg = job_of(ue)
    kinds = [type(s).__name__ for s in cfg.get_all_settings()]
    assert "MoviePipelineDeferredPass_PathTracer" in kinds
    assert "MoviePipelineDeferredPassBase" not in kinds


@pytest.mark.parametrize("ev100,fstop", [(12.0, 8.0), (2.0, 8.0), (17.0, 1.4), (-3.0, 22.0)])
def test_physical_exposure_round_trips_and_stays_in_slider_range(ev100, fstop):
    linear = plugin_module("linear")
    e = linear.physical_exposure(ev100, fstop)
    assert linear.engine_ev100(e["camera_iso"], e["camera_shutter_speed"], fstop) == \
        pytest.approx(ev100, abs=1e-12)
    assert 1.0 <= e["camera_shutter_speed"] <= 2000.0 and e["camera_iso"] >= 1.0
    # UE5 (PostProcessEyeAdaptation.cpp) scales luminance by 1 / 2^EV100: the plan's scale
    assert exposure_scale(ev100) == pytest.approx(2.0 ** -ev100)
    purge()


def test_menu_registers_specs_and_runs_build_only(ue, tmp_path, monkeypatch):
    from s2rhdr_unreal import menu

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text("name: a\n")
    (specs / "_defaults.yaml").write_text("seed: 1\n")
    monkeypatch.setenv("S2RHDR_SPEC_DIRS", str(specs))
    sub = menu.register()
    menu.register()  # idempotent: rebuilt, not duplicated
    main = ue.ToolMenus.get().extend_menu("LevelEditor.MainMenu")
    assert list(main.subs) == ["S2RHDR"]
    sub = main.subs["S2RHDR"]
    labels = [e.prop("_label") for _, e in sub.entries]
    assert "Render scene spec: a.yaml" in labels and "Build sequence only: a.yaml" in labels
    assert not any("_defaults" in lbl for lbl in labels)
    commands = [e.prop("_command") for _, e in sub.entries]
    assert all(c[0] is ue.ToolMenuStringCommandType.PYTHON for c in commands)
    # a broken spec becomes a dialog with the file name, never a traceback
    monkeypatch.setattr("pipeline.spec.load_spec", _raise_spec_error)
    assert menu.run(str(specs / "a.yaml"), render=False) is None
    assert ue.dialogs and "a.yaml" in ue.dialogs[-1][1]


def _raise_spec_error(path):
    from pipeline.errors import SpecError

    raise SpecError(str(path), 1, 1, "frames: must be a positive integer")


def test_init_unreal_registers_menu_only_when_interactive(ue):
    import runpy

    ue.unattended = True
    runpy.run_path(str(PLUGIN_PY / "init_unreal.py"))
    assert ue.ToolMenus.get().menus == {}
    ue.unattended = False
    runpy.run_path(str(PLUGIN_PY / "init_unreal.py"))
    assert "S2RHDR" in ue.ToolMenus.get().extend_menu("LevelEditor.MainMenu").subs


def test_unwrap_and_frame_rate(ue):
    from s2rhdr_unreal import sequence

    assert sequence.unwrap_degrees([179.0, -179.0, -177.0, 179.0]) == [179.0, 181.0, 183.0,
                                                                       179.0]
    assert sequence.frame_rate(29.97).tuple() == (2997, 100) or math.isclose(
        sequence.frame_rate(29.97).tuple()[0] / sequence.frame_rate(29.97).tuple()[1], 29.97)
    assert sequence.frame_rate(30).tuple() == (30, 1)


def test_headless_reads_the_job_file_when_paths_have_spaces(ue, tmp_path, monkeypatch):
    from s2rhdr_unreal import headless

    plan = hand_plan()
    register_assets(ue, plan)
    base = tmp_path / "with space"
    base.mkdir()
    (base / "plan.json").write_text(plan.to_json())
    job = base / "job.json"
    job.write_text(json.dumps({"plan": str(base / "plan.json"), "out": str(base / "shot"),
                               "status": str(base / "status.json"), "quality": "preview"}))
    monkeypatch.setenv("S2RHDR_JOB", str(job))
    exits: list[int] = []
    assert headless.main([], exit_fn=exits.append) == 0
    ue.simulate_render(True)
    assert exits == [0] and json.loads((base / "status.json").read_text())["ok"] is True
    _, cfg = job_of(ue)
    aa = cfg.find_setting_by_class(ue.MoviePipelineAntiAliasingSetting)
    assert aa.prop("spatial_sample_count") == 1  # the job file's quality=preview was used
    assert (base / "shot" / "img" / "0002.exr").is_file()


def test_menu_render_reports_job_errors_in_a_dialog(ue, tmp_path, monkeypatch):
    """A failure while configuring MRQ (here: a pass material missing) is a dialog naming
    the problem; the menu never raises into the editor and starts no render."""
    from s2rhdr_unreal import menu, render

    plan = hand_plan()
    register_assets(ue, plan)
    monkeypatch.setattr("pipeline.plan.make_plan", lambda spec: plan)
    monkeypatch.setattr("pipeline.spec.load_spec", lambda path: None)
    del ue.assets["/MovieRenderPipeline/Materials/MovieRenderQueue_WorldDepth"]
    from dataclasses import replace

    plan = replace(plan, render=replace(plan.render, passes=("img", "depth")))
    monkeypatch.setenv("S2RHDR_OUT", str(tmp_path / "out"))
    assert menu.run(str(tmp_path / "a.yaml"), render=True) is None
    assert ue.dialogs and "MovieRenderQueue_WorldDepth" in ue.dialogs[-1][1]
    assert render._ACTIVE.get("executor") is None


def test_editor_writer_publishes_files_with_the_umask_mode(tmp_path):
    """Like s2rhdr_loader.core.layout, the editor-side writer must not leave mkstemp's 0600."""
    import os

    writer = plugin_module("writer")
    old = os.umask(0o022)
    try:
        path = writer.atomic_write_json(tmp_path / "meta.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert json.loads(path.read_text()) == {"a": 1}
    purge()


def test_selftest_scene_goes_through_the_same_lock_and_job(ue, tmp_path):
    """headless --selftest: the calibration level, materials and cards, the linear lock and
    the MRQ job of every shot; then calibration.json next to the frames."""
    from s2rhdr_unreal import headless

    from pipeline import unreal_calibration as cal

    exits: list[int] = []
    out, status = tmp_path / "selftest", tmp_path / "status.json"
    assert headless.main(["--selftest", "--out", str(out), "--status", str(status)],
                         exit_fn=exits.append) == 0, ue.log_lines
    assert cal.LEVEL in ue.assets and ue.saved.get(cal.LEVEL) == "level"
    seq = ue.assets[f"/Game/S2RHDR/Sequences/{cal.NAME}"]
    names = [b.display_name for b in seq.bindings]
    assert sum(n.startswith(f"{cal.NAME}_emitter") for n in names) == 13
    assert f"{cal.NAME}_backdrop" in names and f"{cal.NAME}_sun" in names
    assert not any(n.endswith("_sky") for n in names)  # no sky light: the sun card sees the sun
    lock_volume(ue, seq)  # the same lock
    card = next(b.template for b in seq.bindings if b.display_name.endswith("emitter_+6"))
    mi = card.prop("static_mesh_component")._values["_materials"][0]
    assert mi.prop("parent").get_name() == "M_S2RHDR_Emissive"
    assert mi._values["_vectors"]["Emission"][0] == pytest.approx(2.0 ** (cal.EV100 + 6))
    emissive = ue.assets["/Game/S2RHDR/Calibration/M_S2RHDR_Emissive"]
    assert emissive.prop("shading_model") is ue.MaterialShadingModel.MSM_UNLIT
    assert "MP_EMISSIVE_COLOR" in emissive._values["_inputs"]
    assert card._values["_scale"] == pytest.approx((cal.CARD_M, cal.CARD_M, 1.0))
    ue.simulate_render(True)
    assert exits == [0]
    record = json.loads((out / cal.CALIBRATION_FILE).read_text())
    assert record["format"] == cal.FORMAT and len(record["targets"]) == 17
    assert sorted(p.name for p in (out / "img").iterdir()) == ["0000.exr", "0001.exr",
                                                               "0002.exr"]
    assert ue.deprecated_calls == []


def test_menu_offers_the_selftest(ue, tmp_path, monkeypatch):
    from s2rhdr_unreal import menu

    monkeypatch.setenv("S2RHDR_OUT", str(tmp_path / "out"))
    sub = menu.register()
    labels = [e.prop("_label") for _, e in sub.entries]
    assert "Self-test linear output" in labels
    assert menu.selftest() is not None
    ue.simulate_render(True)
    assert (tmp_path / "out" / "selftest" / "calibration.json").is_file()
    assert any("unreal-selftest --from" in text for _, text in ue.dialogs)
