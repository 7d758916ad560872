"""Name oracle: every Unreal name the plugin uses must exist in the UE 5.6 Python API.

The 5.6 API is read from the ``unreal-stub`` package (AST-parsed, see
tests/fake_unreal/stub_oracle.py). Movie Render Queue is absent from the stub (it was dumped
without the plugin), so MRQ names come from the allow-list below, copied from
reference/ue5-api.md section 4 (Epic's docs). Names of older engines may only appear through
``compat.legacy(obj, "name")`` and must be listed in LEGACY (reference section 1).
"""

from __future__ import annotations

import argparse
import ast
import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fake_unreal"))
import stub_oracle  # noqa: E402

sys.path.pop(0)

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PY = ROOT / "ue_plugin" / "S2RHDR" / "Content" / "Python"

# reference/ue5-api.md section 4 (+ the AntiAliasingMethod members of section 3.1).
MRQ_ALLOW: dict[str, set[str]] = {
    "MoviePipelineQueueSubsystem": {"get_queue", "render_queue_with_executor",
                                    "render_queue_with_executor_instance", "is_rendering",
                                    "get_active_executor", "load_queue", "is_queue_dirty"},
    "MoviePipelineQueue": {"allocate_new_job", "delete_job", "delete_all_jobs", "duplicate_job",
                           "get_jobs", "copy_from"},
    "MoviePipelineExecutorJob": {"job_name", "author", "comment", "map", "sequence",
                                 "shot_info", "user_data", "get_configuration",
                                 "set_configuration"},
    "MoviePipelinePrimaryConfig": {"find_or_add_setting_by_class", "find_setting_by_class",
                                   "remove_setting", "get_all_settings",
                                   "get_effective_frame_rate", "copy_from", "settings"},
    "MoviePipelinePIEExecutor": {"on_executor_finished_delegate", "on_executor_errored_delegate",
                                 "on_individual_job_started_delegate",
                                 "on_individual_job_work_finished_delegate",
                                 "set_is_rendering_offscreen", "is_rendering_offscreen",
                                 "execute", "is_rendering", "cancel_all_jobs"},
    "MoviePipelineDeferredPassBase": {"accumulator_includes_alpha",
                                      "disable_multisample_effects",
                                      "use32_bit_post_process_materials", "render_main_pass",
                                      "additional_post_process_materials"},
    # https://dev.epicgames.com/documentation/en-us/unreal-engine/python-api/class/
    # MoviePipelinePostProcessPass?application_version=5.4 (enabled, material)
    "MoviePipelinePostProcessPass": {"enabled", "material"},
    "MoviePipelineDeferredPass_PathTracer": set(),
    "MoviePipelineImageSequenceOutput_EXR": {"compression", "multilayer"},
    "MoviePipelineImageSequenceOutput_PNG": set(),
    "MoviePipelineImageSequenceOutput_JPG": set(),
    "MoviePipelineImageSequenceOutput_BMP": set(),
    "MoviePipelineOutputSetting": {
        "output_directory", "file_name_format", "output_resolution", "use_custom_frame_rate",
        "output_frame_rate", "use_custom_playback_range", "custom_start_frame",
        "custom_end_frame", "zero_pad_frame_numbers", "frame_number_offset",
        "handle_frame_count", "output_frame_step", "override_existing_output",
        "flush_disk_writes_per_shot", "auto_version", "version_number"},
    "MoviePipelineColorSetting": {"disable_tone_curve", "ocio_configuration"},
    "OpenColorIODisplayConfiguration": {"is_enabled", "color_configuration"},
    "MoviePipelineAntiAliasingSetting": {
        "spatial_sample_count", "temporal_sample_count", "override_anti_aliasing",
        "anti_aliasing_method", "engine_warm_up_count", "render_warm_up_count",
        "use_camera_cut_for_warm_up", "render_warm_up_frames"},
    "MoviePipelineCameraSetting": {"shutter_timing", "overscan_percentage",
                                   "override_camera_overscan", "render_all_cameras"},
    "MoviePipelineGameOverrideSetting": {
        "cinematic_quality_settings", "use_lod_zero", "disable_hlods", "disable_hlo_ds",
        "flush_grass_streaming", "flush_streaming_managers", "override_view_distance_scale",
        "use_high_quality_shadows", "shadow_distance_scale"},
    "MoviePipelineConsoleVariableSetting": {"add_or_update_console_variable",
                                            "add_console_variable",
                                            "update_console_variable_enable_state",
                                            "console_variable_presets",
                                            "start_console_commands", "end_console_commands"},
    "EXRCompressionFormat": {"NONE", "RLE", "ZIPS", "ZIP", "PIZ", "PXR24", "B44", "B44A",
                             "DWAA", "DWAB"},  # an MRQ enum: not in the stub either
    "AntiAliasingMethod": {"AAM_NONE", "AAM_FXAA", "AAM_TEMPORAL_AA", "AAM_MSAA", "AAM_TSR"},
}
# Pre-5.6 names (reference section 1), reachable only through compat.legacy().
LEGACY = {"MoviePipelineMasterConfig", "get_channels", "make_binding_id",
          "MovieSceneObjectBindingSpace", "console_variables",
          "on_individual_job_finished_delegate", "skeletal_mesh", "disable_hlo_ds"}

# Every engine method the plugin calls, with the class that must have it (5.6 or MRQ).
CALL_OWNERS = {
    "add_callable_unique": "MulticastDelegateBase", "add_key": "MovieSceneScriptingDoubleChannel",
    "add_menu_entry": "ToolMenu", "add_section": "MovieScene3DTransformTrack",
    "add_spawnable_from_instance": "LevelSequence", "add_sub_menu": "ToolMenu",
    "add_track": "MovieSceneBindingProxy", "create_asset": "AssetTools",
    "delete_asset": "EditorAssetLibrary", "destroy_actor": "EditorActorSubsystem",
    "does_asset_exist": "EditorAssetLibrary", "extend_menu": "ToolMenus",
    "find_tracks_by_type": "MovieSceneBindingProxy", "get_asset_tools": "AssetToolsHelpers",
    "get_cine_camera_component": "CineCameraActor", "get_editor_property": "Object",
    "get_engine_version": "SystemLibrary", "get_path_name": "Object",
    "get_sections": "MovieSceneSpawnTrack", "is_unattended": "SystemLibrary",
    "load_asset": "EditorAssetLibrary", "load_level": "LevelEditorSubsystem",
    "project_dir": "Paths", "project_saved_dir": "Paths",
    "convert_relative_path_to_full": "Paths", "quit_editor": "SystemLibrary",
    "refresh_all_widgets": "ToolMenus", "save_loaded_asset": "EditorAssetLibrary",
    "set_actor_label": "Actor", "set_camera_binding_id": "MovieSceneCameraCutSection",
    "set_display_name": "MovieSceneBindingProxy", "set_display_rate": "LevelSequence",
    "set_editor_property": "Object", "set_label": "ToolMenuEntry",
    "set_playback_end": "LevelSequence", "set_playback_start": "LevelSequence",
    "set_range": "MovieSceneSection", "set_static_mesh": "StaticMeshComponent",
    "set_string_command": "ToolMenuEntry", "set_tool_tip": "ToolMenuEntry",
    "show_message": "EditorDialog", "spawn_actor_from_class": "EditorActorSubsystem",
    "unregister_owner_by_name": "ToolMenus", "get_all_channels": "MovieScene3DTransformSection",
    "get_binding_id": "LevelSequence", "set_skeletal_mesh_asset": "SkeletalMeshComponent",
    "fixed_play_rate": "MovieSceneTimeWarpVariant",
    "set_light_color": "LightComponent", "get_actor_label": "Actor",
    "get_all_level_actors": "EditorActorSubsystem", "actor_has_tag": "Actor",
    # Movie Render Queue (allow-list)
    "allocate_new_job": "MoviePipelineQueue", "delete_all_jobs": "MoviePipelineQueue",
    "find_or_add_setting_by_class": "MoviePipelinePrimaryConfig",
    "find_setting_by_class": "MoviePipelinePrimaryConfig",
    "get_all_settings": "MoviePipelinePrimaryConfig",
    "remove_setting": "MoviePipelinePrimaryConfig",
    "get_configuration": "MoviePipelineExecutorJob",
    "set_configuration": "MoviePipelineExecutorJob",
    "get_queue": "MoviePipelineQueueSubsystem", "is_rendering": "MoviePipelineQueueSubsystem",
    "render_queue_with_executor_instance": "MoviePipelineQueueSubsystem",
    "add_or_update_console_variable": "MoviePipelineConsoleVariableSetting",
    "set_is_rendering_offscreen": "MoviePipelinePIEExecutor",
}
# Python's own methods (str, list, Path, argparse ...), never engine calls.
PY_METHODS = set().union(*(dir(t) for t in (str, list, dict, set, tuple, int, float, bytes,
                                            Path, Fraction, argparse.ArgumentParser)))
PY_METHODS |= {"withdraw", "destroy", "fileno", "flush", "write"}  # tkinter / file objects


@pytest.fixture(scope="module")
def table():
    t = stub_oracle.load_table()
    if t is None:
        pytest.skip("unreal-stub is not installed (pip install unreal-stub==0.3)")
    return t


def _plugin_files() -> list[Path]:
    return sorted(PLUGIN_PY.rglob("*.py"))


def _own_defs() -> set[str]:
    """Functions and methods defined by the plugin and the modules vendored into it."""
    from pipeline import plugin_install

    vendored = [plugin_install._module_file(m) for m in plugin_install.vendor_closure()]
    names: set[str] = set()
    for f in [*_plugin_files(), *vendored]:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
    return names


def _scan() -> dict[str, list]:
    """unreal.X[.Y] chains, engine-looking method calls, legacy() strings, property names."""
    out: dict[str, list] = {"attrs": [], "calls": [], "legacy": [], "props": [],
                            "getattr": []}
    for f in _plugin_files():
        tree = ast.parse(f.read_text())
        modules = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
                   if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
                chain, x = [], node
                while isinstance(x, ast.Attribute):
                    chain.append(x.attr)
                    x = x.value
                if isinstance(x, ast.Name) and x.id == "unreal":
                    out["attrs"].append((f.name, node.lineno, tuple(reversed(chain))))
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in ("getattr", "hasattr") and \
                    len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                out["getattr"].append((f.name, node.lineno, node.args[1].value))
            if isinstance(fn, ast.Name) and fn.id == "legacy" or (
                    isinstance(fn, ast.Attribute) and fn.attr == "legacy"):
                out["legacy"].append((f.name, node.lineno, node.args[1].value))
            if isinstance(fn, ast.Attribute):
                if fn.attr in ("set_editor_property", "get_editor_property") and node.args \
                        and isinstance(node.args[0], ast.Constant):
                    out["props"].append((f.name, node.lineno, node.args[0].value))
                receiver = fn.value
                if isinstance(receiver, ast.Name) and receiver.id in modules | {"unreal"}:
                    continue
                out["calls"].append((f.name, node.lineno, fn.attr))
    return out


def _all_names(table) -> tuple[set[str], set[str]]:
    members: set[str] = set()
    props: set[str] = set()
    for info in table["classes"].values():
        members.update(info["members"])
        props.update(info["props"])
    return members, props


ALLOWED_IMPORTS = {"unreal", "yaml", "pipeline", "s2rhdr_loader", "s2rhdr_unreal", "tkinter",
                   "__future__"}


def test_plugin_imports_only_stdlib_unreal_and_vendored_modules():
    """No numpy/torch/OpenEXR inside the editor (DESIGN.md section 1)."""
    from pipeline.plugin_install import vendor_closure

    vendored = set(vendor_closure())
    problems = []
    for f in _plugin_files():
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED_IMPORTS and top not in sys.stdlib_module_names:
                    problems.append(f"{f.name}:{node.lineno}: imports {name}")
                if top in ("pipeline", "s2rhdr_loader") and name not in vendored:
                    problems.append(f"{f.name}:{node.lineno}: {name} is not vendored")
    assert not problems, "\n".join(problems)


def test_stub_table_is_the_56_api(table):
    assert len(table["classes"]) > 8000
    assert "MovieSceneTimeWarpVariant" in table["classes"]
    assert "get_channels" not in stub_oracle.all_members(table, "MovieSceneSection")
    assert not any(c.startswith("MoviePipeline") for c in table["classes"])


def test_every_unreal_attribute_exists_in_56(table):
    problems = []
    for fname, line, chain in _scan()["attrs"]:
        head = chain[0]
        if head in MRQ_ALLOW:
            if len(chain) > 1 and chain[1] not in MRQ_ALLOW[head]:
                problems.append(f"{fname}:{line}: unreal.{'.'.join(chain)} (not in MRQ list)")
            continue
        if head in LEGACY:
            problems.append(f"{fname}:{line}: unreal.{head} is a legacy name; use compat.legacy")
            continue
        if head not in table["classes"] and head not in table["functions"]:
            problems.append(f"{fname}:{line}: unreal.{head} does not exist in UE 5.6")
            continue
        if len(chain) > 1 and chain[1] not in stub_oracle.all_members(table, head):
            problems.append(f"{fname}:{line}: unreal.{head}.{chain[1]} does not exist in 5.6")
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_engine_method_call_is_declared_and_exists(table):
    members, _ = _all_names(table)
    own = _own_defs()
    problems = []
    for fname, line, name in _scan()["calls"]:
        if name in PY_METHODS or (name in own and name not in CALL_OWNERS):
            continue
        owner = CALL_OWNERS.get(name)
        if owner is None:
            where = "exists somewhere in 5.6" if name in members else "is not a 5.6 method"
            problems.append(f"{fname}:{line}: .{name}() {where}; declare its class in "
                            f"CALL_OWNERS")
        elif owner in MRQ_ALLOW:
            if name not in MRQ_ALLOW[owner]:
                problems.append(f"{fname}:{line}: {owner}.{name} is not in the MRQ list")
        elif name not in stub_oracle.all_members(table, owner):
            problems.append(f"{fname}:{line}: {owner}.{name} does not exist in UE 5.6")
    assert not problems, "\n".join(problems)


def test_legacy_names_only_through_compat(table):
    scan = _scan()
    members, props = _all_names(table)
    for fname, line, name in scan["legacy"]:
        assert fname == "compat.py", f"{fname}:{line}: legacy names belong in compat.py"
        assert name in LEGACY, f"{fname}:{line}: {name!r} is not a documented legacy name"
    for fname, line, name in scan["props"]:
        if name in LEGACY:
            assert fname == "compat.py", f"{fname}:{line}: legacy property {name} outside compat"


def test_feature_probes_name_real_api(table):
    """``getattr(obj, "name", None)`` probes in compat must name something of 5.6, MRQ or a
    documented legacy name -- a typo would silently take the fallback branch forever."""
    members, _ = _all_names(table)
    known = members | set(table["classes"]) | set(MRQ_ALLOW) | set().union(*MRQ_ALLOW.values())
    problems = [f"{f}:{ln}: getattr probe {name!r} names nothing known"
                for f, ln, name in _scan()["getattr"]
                if name not in known and name not in LEGACY]
    assert not problems, "\n".join(problems)
    assert any(name == "set_is_rendering_offscreen" for _, _, name in _scan()["getattr"])


def test_editor_property_names_exist(table):
    _, props = _all_names(table)
    mrq_props = set().union(*MRQ_ALLOW.values())
    problems = [f"{f}:{ln}: editor property {name!r} unknown in 5.6 and MRQ"
                for f, ln, name in _scan()["props"]
                if name not in props and name not in mrq_props and name not in LEGACY]
    assert not problems, "\n".join(problems)


def test_linear_lock_settings_and_overrides_exist_on_postprocesssettings(table):
    sys.path.insert(0, str(PLUGIN_PY))
    try:
        from s2rhdr_unreal import linear
    finally:
        sys.path.remove(str(PLUGIN_PY))
        for name in [n for n in sys.modules if n.startswith("s2rhdr_unreal")]:
            del sys.modules[name]
    pp = stub_oracle.all_props(table, "PostProcessSettings")
    for name in linear.settings_values(12.0, 8.0):
        assert name in pp, f"PostProcessSettings has no {name}"
        assert f"override_{name}" in pp, f"PostProcessSettings has no override_{name}"
    vol = stub_oracle.all_props(table, "PostProcessVolume")
    assert {"settings", "unbound", "priority", "blend_weight", "enabled"} <= vol
    assert {"AEM_MANUAL"} <= set(table["classes"]["AutoExposureMethod"]["members"])


def test_struct_and_component_properties_used_exist(table):
    expect = {
        "CineCameraComponent": {"filmback", "lens_settings", "focus_settings",
                                "current_focal_length", "current_aperture",
                                "constrain_aspect_ratio"},
        "CameraLensSettings": {"min_focal_length", "max_focal_length", "min_f_stop"},
        "CameraFocusSettings": {"focus_method", "manual_focus_distance"},
        "MovieSceneSkeletalAnimationParams": {"animation", "play_rate"},
        "MovieSceneSkeletalAnimationSection": {"params"},
        "SkeletalMeshActor": {"skeletal_mesh_component"},
        "StaticMeshActor": {"static_mesh_component"},
        "SkeletalMeshComponent": {"animation_mode"},
    }
    for cls, names in expect.items():
        missing = names - stub_oracle.all_props(table, cls)
        assert not missing, f"{cls} lacks {missing} in 5.6"


def test_fake_module_invents_no_api(table):
    """The fake's engine-facing methods exist in 5.6 (or MRQ), so tests cannot pass on a
    method the real editor lacks."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_unreal import make_module

    fake = make_module("5.6")
    helpers = {"prop", "tuple", "get_keys", "get_id", "broadcast"}
    problems = []
    for name in dir(fake):
        obj = getattr(fake, name)
        if not isinstance(obj, type) or name.startswith("_"):
            continue
        if name in MRQ_ALLOW:  # UObjects/structs: the generic property access is real
            allowed = MRQ_ALLOW[name] | stub_oracle.all_members(table, "Object") | \
                stub_oracle.all_members(table, "StructBase")
        elif name in table["classes"]:
            allowed = stub_oracle.all_members(table, name)
        else:
            continue
        for klass in obj.__mro__:
            if klass.__module__ != "tests.fake_unreal":
                continue
            for attr, value in vars(klass).items():
                if callable(value) and not attr.startswith("_") and attr not in helpers \
                        and attr not in allowed and attr not in {"static_class", "get_name"}:
                    problems.append(f"fake {name}.{attr}")
    assert not problems, ", ".join(sorted(set(problems)))


def test_fake_module_invents_no_editor_properties(table):
    """Every editor property the fake accepts exists on that class in 5.6 (stub docstrings,
    inherited ones included) or in the MRQ allow-list, so a misspelt or invented property
    cannot be stored silently by the fake while the editor would raise."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_unreal import make_module

    fake = make_module("5.6")
    problems = []
    for name in dir(fake):
        obj = getattr(fake, name)
        if not isinstance(obj, type) or name.startswith("_"):
            continue
        klasses = [k for k in obj.__mro__ if k.__module__ == "tests.fake_unreal"]
        allowed: set[str] = set()
        known = False
        for k in klasses:  # an MRQ subclass inherits its parents' documented properties
            if k.__name__ in MRQ_ALLOW:
                allowed |= MRQ_ALLOW[k.__name__]
                known = True
            elif k.__name__ in table["classes"]:
                allowed |= stub_oracle.all_props(table, k.__name__)
                known = True
        if not known:
            continue
        props = set().union(*(set(vars(k).get("_PROPS", {})) for k in klasses))
        problems += [f"fake {name}.{p}" for p in sorted(props - allowed)]
    assert not problems, ", ".join(problems)
