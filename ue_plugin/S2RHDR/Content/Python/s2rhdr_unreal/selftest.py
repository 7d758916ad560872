"""The linearity self-test scene in the editor: an empty level, cards of known luminance.

The targets and the plan come from ``pipeline.unreal_calibration`` (pure, shared with the
host analysis); this module only makes them exist: an empty level, two materials (unlit
emissive with a vector parameter ``Emission``, default-lit with ``Albedo``, specular 0,
roughness 1), one material instance per card, and the cards as spawnables of the shot's
sequence (``/Engine/BasicShapes/Plane``, 1 m, normal +Z, pitched 90 degrees to face -X).
The render then goes through the same lock and MRQ job as every shot (``headless``/menu).
"""

from __future__ import annotations

from typing import Any

import unreal

from pipeline import unreal_calibration as cal
from s2rhdr_unreal import compat

PACKAGE = "/Game/S2RHDR/Calibration"
PLANE = "/Engine/BasicShapes/Plane"
EMISSIVE = f"{PACKAGE}/M_S2RHDR_Emissive"
LIT = f"{PACKAGE}/M_S2RHDR_Lit"
TAG = "s2rhdr"
FACING_CAMERA = (0.0, 90.0, 0.0)  # roll, pitch, yaw: the plane's normal (+Z) becomes -X


def ensure_level() -> str:
    """Create (once) and save the empty self-test level; the build then opens it."""
    if not unreal.EditorAssetLibrary.does_asset_exist(cal.LEVEL):
        sub = unreal.get_editor_subsystem(unreal.LevelEditorSubsystem)
        if not sub.new_level(cal.LEVEL):
            raise RuntimeError(f"could not create the self-test level {cal.LEVEL}")
        sub.save_current_level()
    return cal.LEVEL


def _base_material(path: str, emissive: bool) -> Any:
    """The parent material: a vector parameter into emissive (unlit) or base colour (lit)."""
    if unreal.EditorAssetLibrary.does_asset_exist(path):
        return unreal.EditorAssetLibrary.load_asset(path)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    name = path.rsplit("/", 1)[-1]
    material = tools.create_asset(name, PACKAGE, unreal.Material, unreal.MaterialFactoryNew())
    lib = unreal.MaterialEditingLibrary
    param = lib.create_material_expression(material, unreal.MaterialExpressionVectorParameter,
                                           -300, 0)
    param.set_editor_property("parameter_name", "Emission" if emissive else "Albedo")
    if emissive:
        material.set_editor_property("shading_model", unreal.MaterialShadingModel.MSM_UNLIT)
        lib.connect_material_property(param, "", unreal.MaterialProperty.MP_EMISSIVE_COLOR)
    else:
        lib.connect_material_property(param, "", unreal.MaterialProperty.MP_BASE_COLOR)
        for prop, value in ((unreal.MaterialProperty.MP_SPECULAR, 0.0),
                            (unreal.MaterialProperty.MP_ROUGHNESS, 1.0)):
            const = lib.create_material_expression(material,
                                                   unreal.MaterialExpressionConstant, -300, 200)
            const.set_editor_property("r", value)
            lib.connect_material_property(const, "", prop)
    lib.recompile_material(material)
    unreal.EditorAssetLibrary.save_loaded_asset(material, False)
    return material


def _instance(target: cal.Target, parent: Any) -> Any:
    """One material instance per card (rebuilt every run: the values are the test)."""
    path = f"{PACKAGE}/MI_S2RHDR_{target.id.replace('+', 'p').replace('-', 'm')}"
    if unreal.EditorAssetLibrary.does_asset_exist(path):
        unreal.EditorAssetLibrary.delete_asset(path)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    mi = tools.create_asset(path.rsplit("/", 1)[-1], PACKAGE, unreal.MaterialInstanceConstant,
                            unreal.MaterialInstanceConstantFactoryNew())
    mi.set_editor_property("parent", parent)
    value = target.luminance if target.emissive else target.albedo
    unreal.MaterialEditingLibrary.set_material_instance_vector_parameter_value(
        mi, "Emission" if target.emissive else "Albedo",
        unreal.LinearColor(value, value, value, 1.0))
    unreal.EditorAssetLibrary.save_loaded_asset(mi, False)
    return mi


def _card(sequence: Any, label: str, center_m: tuple[float, ...], size_m: tuple[float, float],
          material: Any, mesh: Any) -> Any:
    actor = compat.spawn_actor(unreal.StaticMeshActor,
                               unreal.Vector(*(c * 100.0 for c in center_m)),
                               unreal.Rotator(*FACING_CAMERA))
    actor.set_actor_label(label)
    actor.set_editor_property("tags", [TAG])
    actor.set_actor_scale3d(unreal.Vector(size_m[1], size_m[0], 1.0))  # local X -> world Z
    comp = actor.get_editor_property("static_mesh_component")
    comp.set_static_mesh(mesh)
    comp.set_material(0, material)
    binding = compat.add_spawnable(sequence, actor)
    binding.set_display_name(label)
    compat.destroy_actor(actor)
    return binding


def add_cards(sequence: Any) -> list[Any]:
    """Every calibration card and the black backdrop, as spawnables of ``sequence``."""
    mesh = unreal.EditorAssetLibrary.load_asset(PLANE)
    if mesh is None:
        raise RuntimeError(f"{PLANE} not found (engine content missing?)")
    emissive, lit = _base_material(EMISSIVE, True), _base_material(LIT, False)
    bindings = []
    for target in cal.targets():
        mi = _instance(target, emissive if target.emissive else lit)
        bindings.append(_card(sequence, f"{cal.NAME}_{target.id}", target.center_m,
                              (target.size_m, target.size_m), mi, mesh))
    black = cal.Target("backdrop", "backdrop", (cal.BACKDROP_DISTANCE_M, 0.0, cal.CAMERA_Z),
                       0.0, 0.0)
    bindings.append(_card(sequence, f"{cal.NAME}_backdrop", black.center_m,
                          cal.BACKDROP_SIZE_M, _instance(black, emissive), mesh))
    return bindings
