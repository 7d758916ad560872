"""The name check: every ``unreal`` name the plugin uses, per engine version, against the
``unreal-stub`` dumps (5.4, 5.5, 5.6) and the MRQ table.

``python -m tests.fake_unreal.name_check`` prints, per version, the names used, the names
that version does not know and the names it marks deprecated (``make unreal-names``).
A name missing or deprecated somewhere must be listed in ``compat.VERSIONED`` (the shim
that routes it); ``tests/test_unreal_names.py`` asserts that.

What counts as a use (AST scan of ``ue_plugin/S2RHDR/Content/Python``):

- ``unreal.X`` / ``unreal.X.Y`` chains: class or module function X, member Y;
- ``obj.method(...)`` calls whose method is not Python's or our own: the engine class that
  has it is declared in :data:`CALL_OWNERS` (undeclared calls are reported as unknown);
- ``set_editor_property("p", ...)`` / ``get_editor_property("p")`` and ``try_set(o, "p", ...)``:
  property p on some class of that version;
- ``getattr(x, "n", ...)`` / ``hasattr(x, "n")`` probes: n must name something of *some*
  version (a typo would silently take the fallback forever).
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import mrq_table, stub_oracle

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PY = ROOT / "ue_plugin" / "S2RHDR" / "Content" / "Python"
VERSIONS = ("5.4", "5.5", "5.6")

# Every engine method the plugin calls on an object, with the class(es) that must have it.
CALL_OWNERS: dict[str, tuple[str, ...]] = {
    "add_callable_unique": ("MulticastDelegateBase",),
    "add_key": ("MovieSceneScriptingDoubleChannel",), "add_menu_entry": ("ToolMenu",),
    "add_section": ("MovieSceneTrack",),
    "add_spawnable_from_instance": ("LevelSequence", "LevelSequenceEditorSubsystem"),
    "add_sub_menu": ("ToolMenu",), "add_track": ("MovieSceneBindingProxy", "LevelSequence"),
    "create_asset": ("AssetTools",), "delete_asset": ("EditorAssetLibrary",),
    "destroy_actor": ("EditorActorSubsystem",), "does_asset_exist": ("EditorAssetLibrary",),
    "extend_menu": ("ToolMenus",), "find_tracks_by_type": ("MovieSceneBindingProxy",),
    "get_asset_tools": ("AssetToolsHelpers",),
    "get_cine_camera_component": ("CineCameraActor",), "get_editor_property": ("Object",),
    "get_engine_version": ("SystemLibrary",), "get_path_name": ("Object",),
    "get_sections": ("MovieSceneTrack",), "is_unattended": ("SystemLibrary",),
    "load_asset": ("EditorAssetLibrary",), "load_level": ("LevelEditorSubsystem",),
    "new_level": ("LevelEditorSubsystem",), "save_current_level": ("LevelEditorSubsystem",),
    "project_dir": ("Paths",), "project_saved_dir": ("Paths",),
    "convert_relative_path_to_full": ("Paths",), "quit_editor": ("SystemLibrary",),
    "refresh_all_widgets": ("ToolMenus",), "save_loaded_asset": ("EditorAssetLibrary",),
    "set_actor_label": ("Actor",), "set_actor_scale3d": ("Actor",),
    "set_camera_binding_id": ("MovieSceneCameraCutSection",),
    "set_display_name": ("MovieSceneBindingProxy",), "set_display_rate": ("LevelSequence",),
    "set_editor_property": ("Object",), "set_label": ("ToolMenuEntry",),
    "set_playback_end": ("LevelSequence",), "set_playback_start": ("LevelSequence",),
    "set_range": ("MovieSceneSection",), "set_static_mesh": ("StaticMeshComponent",),
    "set_material": ("StaticMeshComponent",), "set_string_command": ("ToolMenuEntry",),
    "set_tool_tip": ("ToolMenuEntry",), "show_message": ("EditorDialog",),
    "spawn_actor_from_class": ("EditorActorSubsystem",),
    "unregister_owner_by_name": ("ToolMenus",),
    "get_all_channels": ("MovieScene3DTransformSection",),
    "get_binding_id": ("LevelSequence",),
    "set_skeletal_mesh_asset": ("SkeletalMeshComponent",),
    "set_light_color": ("LightComponent",), "get_actor_label": ("Actor",),
    "get_all_level_actors": ("EditorActorSubsystem",), "actor_has_tag": ("Actor",),
    "get_atmosphere_transmitance_on_ground_at_planet_top": ("SkyAtmosphereComponent",),
    "create_material_expression": ("MaterialEditingLibrary",),
    "connect_material_property": ("MaterialEditingLibrary",),
    "recompile_material": ("MaterialEditingLibrary",),
    # Movie Render Queue (the MRQ table)
    "allocate_new_job": ("MoviePipelineQueue",), "delete_all_jobs": ("MoviePipelineQueue",),
    "find_or_add_setting_by_class": ("MoviePipelinePrimaryConfig",),
    "find_setting_by_class": ("MoviePipelinePrimaryConfig",),
    "get_all_settings": ("MoviePipelinePrimaryConfig",),
    "remove_setting": ("MoviePipelinePrimaryConfig",),
    "get_configuration": ("MoviePipelineExecutorJob",),
    "set_configuration": ("MoviePipelineExecutorJob",),
    "get_queue": ("MoviePipelineQueueSubsystem",),
    "is_rendering": ("MoviePipelineQueueSubsystem",),
    "render_queue_with_executor_instance": ("MoviePipelineQueueSubsystem",),
    "add_or_update_console_variable": ("MoviePipelineConsoleVariableSetting",),
    "set_is_rendering_offscreen": ("MoviePipelinePIEExecutor",),
    "cancel_all_jobs": ("MoviePipelinePIEExecutor",),
}
# Python's own methods (str, list, Path, argparse ...), never engine calls.
PY_METHODS = set().union(*(dir(t) for t in (str, list, dict, set, tuple, int, float, bytes,
                                            Path, Fraction, argparse.ArgumentParser)))
PY_METHODS |= {"withdraw", "destroy", "fileno", "flush", "write"}  # tkinter / file objects
PROP_CALLS = {"set_editor_property": 0, "get_editor_property": 0, "try_set": 1}


@dataclass(frozen=True)
class Use:
    file: str
    line: int
    kind: str  # attr | call | prop | probe
    owner: str  # class or "" (module function / any class)
    name: str

    @property
    def key(self) -> str:
        return f"{self.owner}.{self.name}" if self.owner else self.name


def plugin_files() -> list[Path]:
    return sorted(PLUGIN_PY.rglob("*.py"))


def own_defs() -> set[str]:
    """Functions and classes defined by the plugin and the modules vendored into it."""
    from pipeline import plugin_install

    vendored = [plugin_install._module_file(m) for m in plugin_install.vendor_closure()]
    names: set[str] = set()
    for f in [*plugin_files(), *vendored]:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
    return names


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]
    return []


def _scan_file(f: Path, own: set[str]) -> list[Use]:
    tree = ast.parse(f.read_text())
    modules = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
               if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    out: list[Use] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
            chain, x = [], node
            while isinstance(x, ast.Attribute):
                chain.append(x.attr)
                x = x.value
            chain.reverse()
            if isinstance(x, ast.Name) and x.id == "unreal" and len(chain) <= 2:
                owner, name = (chain[0], chain[1]) if len(chain) == 2 else ("", chain[0])
                out.append(Use(f.name, node.lineno, "attr", owner, name))
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
        if isinstance(fn, ast.Name) and name in ("getattr", "hasattr") and len(node.args) > 1:
            out += [Use(f.name, node.lineno, "probe", "", s) for s in _strings(node.args[1])]
        if name in PROP_CALLS and len(node.args) > PROP_CALLS[name]:
            out += [Use(f.name, node.lineno, "prop", "", s)
                    for s in _strings(node.args[PROP_CALLS[name]])]
        if isinstance(fn, ast.Attribute):
            receiver = fn.value
            while isinstance(receiver, ast.Attribute):
                receiver = receiver.value  # unreal.X.y(): an attr use, scanned above
            if isinstance(receiver, ast.Name) and receiver.id in modules | {"unreal"}:
                continue
            if name in PY_METHODS or (name in own and name not in CALL_OWNERS):
                continue
            for owner in CALL_OWNERS.get(name, ("?",)):
                out.append(Use(f.name, node.lineno, "call", owner, name))
    return out


def scan() -> list[Use]:
    own = own_defs()
    return [u for f in plugin_files() for u in _scan_file(f, own)]


@dataclass
class Report:
    version: str
    used: set[str] = field(default_factory=set)
    unknown: dict[str, list[str]] = field(default_factory=dict)  # name -> where
    deprecated: dict[str, str] = field(default_factory=dict)  # name -> note


def _members(table: dict[str, Any], mrq: dict[str, set[str]], cls: str) -> set[str] | None:
    if cls in mrq:
        return mrq[cls] | stub_oracle.all_members(table, "Object")
    if cls in table["classes"]:
        return stub_oracle.all_members(table, cls)
    return None


def check(version: str, uses: list[Use] | None = None) -> Report:
    """The report of one version (raises StubUnavailable without its dump)."""
    table = stub_oracle.load_table(version)
    mrq, mrq_dep = mrq_table.names(version), mrq_table.deprecated(version)
    all_props = {p for info in table["classes"].values() for p in info["props"]}
    all_props |= set().union(*mrq.values()) if mrq else set()
    dep_props = {p for info in table["classes"].values() for p in info["deprecated_props"]}
    ok_props = {p for info in table["classes"].values() for p in info["props"]
                if p not in info["deprecated_props"]}
    rep = Report(version)
    for u in uses if uses is not None else scan():
        rep.used.add(u.key)
        where = f"{u.file}:{u.line}"
        if u.kind == "prop":
            if u.name not in all_props:
                rep.unknown.setdefault(u.key, []).append(where)
            elif u.name in dep_props and u.name not in ok_props:
                rep.deprecated[u.key] = "deprecated on every class that has it"
            continue
        if u.kind == "probe":
            continue  # checked across versions by the test
        if u.owner == "":  # unreal.X
            if u.name not in table["classes"] and u.name not in table["functions"] \
                    and u.name not in mrq:
                rep.unknown.setdefault(u.key, []).append(where)
            elif u.name in mrq_dep and "" in mrq_dep[u.name]:
                rep.deprecated[u.key] = "deprecated (MRQ table)"
            elif u.name in table["classes"] and table["classes"][u.name]["class_deprecated"]:
                rep.deprecated[u.key] = table["classes"][u.name]["class_deprecated"]
            continue
        members = _members(table, mrq, u.owner)
        if members is None or u.name not in members:
            rep.unknown.setdefault(u.key, []).append(where)
            continue
        note = stub_oracle.deprecated_members(table, u.owner).get(u.name) \
            if u.owner in table["classes"] else None
        if note or u.name in mrq_dep.get(u.owner, set()):
            rep.deprecated[u.key] = note or "deprecated (MRQ table)"
    return rep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The plugin's unreal names per UE version.")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every name used")
    args = parser.parse_args(argv)
    uses = scan()
    status = 0
    for version in VERSIONS:
        try:
            rep = check(version, uses)
        except stub_oracle.StubUnavailable as exc:
            print(f"UE {version}: API dump unavailable ({exc})")
            status = 1
            continue
        print(f"UE {version} ({stub_oracle.DUMP_NOTES[version]}): {len(rep.used)} names used, "
              f"{len(rep.unknown)} unknown, {len(rep.deprecated)} deprecated")
        for name, where in sorted(rep.unknown.items()):
            print(f"  unknown     {name}  ({', '.join(sorted(set(where))[:3])})")
        for name, note in sorted(rep.deprecated.items()):
            print(f"  deprecated  {name}  ({note})")
        if args.verbose:
            print("  used: " + ", ".join(sorted(rep.used)))
    return status


if __name__ == "__main__":
    sys.exit(main())
