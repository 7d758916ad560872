"""Fake engine types of the world: enums, structs, post-process settings, assets and
materials, actors, cameras, lights and the sky atmosphere."""

from __future__ import annotations

import math
from typing import Any

from .core import Builder

REC709 = (0.2126, 0.7152, 0.0722)
FAKE_TAU = (0.10, 0.18, 0.35)  # the fake atmosphere's optical depth at the zenith (R, G, B)


def install(b: Builder) -> None:
    _enums(b)
    _structs(b)
    _post_process(b)
    _assets(b)
    _materials(b)
    _actors(b)
    _lights(b)


def _enums(b: Builder) -> None:
    b.enum("AutoExposureMethod", ["AEM_HISTOGRAM", "AEM_BASIC", "AEM_MANUAL"])
    b.enum("CameraFocusMethod", ["DO_NOT_OVERRIDE", "MANUAL", "TRACKING", "DISABLE"])
    b.enum("AnimationMode", ["ANIMATION_BLUEPRINT", "ANIMATION_SINGLE_NODE",
                             "ANIMATION_CUSTOM_MODE"])
    b.enum("MovieSceneKeyInterpolation", ["AUTO", "USER", "BREAK", "LINEAR", "CONSTANT",
                                          "SMART_AUTO"])
    b.enum("MovieSceneTimeUnit", ["DISPLAY_RATE", "TICK_RESOLUTION"])
    b.enum("MultiBlockType", ["NONE", "BUTTON_ROW", "EDITABLE_TEXT", "HEADING", "MENU_ENTRY",
                              "SEPARATOR", "TOOL_BAR_BUTTON", "TOOL_BAR_COMBO_BUTTON",
                              "WIDGET"])
    b.enum("ToolMenuStringCommandType", ["COMMAND", "PYTHON", "CUSTOM"])
    b.enum("AppMsgType", ["OK", "YES_NO", "OK_CANCEL"])
    b.enum("AntiAliasingMethod", ["AAM_NONE", "AAM_FXAA", "AAM_TEMPORAL_AA", "AAM_MSAA",
                                  "AAM_TSR"])
    if b.ver <= (5, 3):  # the numbering changed in 5.4 (mrq_table: EXR)
        b.enum("EXRCompressionFormat", {"NONE": 0, "PIZ": 1, "ZIP": 2, "DWAA": 3, "DWAB": 4})
    else:
        b.enum("EXRCompressionFormat", {"NONE": 0, "RLE": 1, "ZIPS": 2, "ZIP": 3, "PIZ": 4,
                                        "PXR24": 5, "B44": 6, "B44A": 7, "DWAA": 8, "DWAB": 9})
    b.enum("ComponentMobility", ["STATIC", "STATIONARY", "MOVABLE"])
    # NITS only where the dump has it (5.6); the restriction removes it elsewhere
    b.enum("LightUnits", ["UNITLESS", "CANDELAS", "LUMENS", "EV", "NITS"])
    b.enum("SkyLightSourceType", ["SLS_CAPTURED_SCENE", "SLS_SPECIFIED_CUBEMAP"])
    b.enum("MaterialShadingModel", ["MSM_UNLIT", "MSM_DEFAULT_LIT"])
    b.enum("MaterialProperty", ["MP_EMISSIVE_COLOR", "MP_OPACITY", "MP_BASE_COLOR",
                                "MP_METALLIC", "MP_SPECULAR", "MP_ROUGHNESS"])


def _structs(b: Builder) -> None:
    m = b.m
    b.vec("Vector", ("x", "y", "z"))
    b.vec("Rotator", ("roll", "pitch", "yaw"))
    b.vec("Vector4", ("x", "y", "z", "w"))
    b.vec("LinearColor", ("r", "g", "b", "a"))
    b.vec("IntPoint", ("x", "y"), 0)
    b.vec("FrameNumber", ("value",), 0)
    b.vec("FrameRate", ("numerator", "denominator"), 1)
    b.vec("SoftObjectPath", ("path_string",), "", ctor_only=True)
    b.vec("DirectoryPath", ("path",), "")
    b.vec("MovieSceneObjectBindingID", ("guid",), 0)
    b.vec("CameraFilmbackSettings", ("sensor_width", "sensor_height",
                                     "sensor_horizontal_offset", "sensor_vertical_offset"))
    b.vec("CameraFocusSettings", ("focus_method", "manual_focus_distance", "focus_offset",
                                  "smooth_focus_changes"))
    b.vec("CameraLensSettings", ("min_focal_length", "max_focal_length", "min_f_stop",
                                 "max_f_stop", "minimum_focus_distance",
                                 "diaphragm_blade_count"))
    b.vec("OpenColorIODisplayConfiguration", ("is_enabled", "color_configuration"), False)
    b.vec("WeightedBlendable", ("weight", "object"), None)
    b.vec("WeightedBlendables", ("array",), None)

    def _set_rate(self: Any, fixed_play_rate: float) -> None:
        self._values["fixed_play_rate"] = float(fixed_play_rate)

    # 5.5+ (the restriction removes the class where the dump lacks it)
    b.vec("MovieSceneTimeWarpVariant", ("fixed_play_rate",), 0.0, ctor_only=True,
          to_fixed_play_rate=lambda self: float(self._values.get("fixed_play_rate", 0.0)),
          set_fixed_play_rate=_set_rate)
    b.cls("MovieSceneSkeletalAnimationParams", m._Struct, {
        "animation": None, "play_rate": 1.0, "start_frame_offset": 0, "end_frame_offset": 0,
        "first_loop_start_frame_offset": 0, "reverse": False, "slot_name": "DefaultSlot"})


def _post_process(b: Builder) -> None:
    m = b.m

    class PostProcessSettings(m._Struct):
        # every PostProcessSettings property of the dump (prop_known restricts to it); the
        # documented types are checked (Vector4 grading, LinearColor tint, enum, curves ...)
        _ANY_PROPS = staticmethod(lambda n: True)
        _PROPS = {"weighted_blendables": lambda: m.WeightedBlendables(array=[])}

        def _validate(self, name: str, value: Any) -> None:
            if name.startswith("override_") and not isinstance(value, bool):
                raise TypeError(f"{name} must be bool")

    m.PostProcessSettings = PostProcessSettings


def _assets(b: Builder) -> None:
    m = b.m

    class _Asset(m._Obj):
        def __init__(self, path: str = ""):
            super().__init__()
            self._values["_path"] = path

        def get_path_name(self) -> str:
            p = self._values["_path"]
            return f"{p}.{p.rsplit('/', 1)[-1]}"

        def get_name(self) -> str:
            return self._values["_path"].rsplit("/", 1)[-1].split(".")[0]

    m._Asset = _Asset
    b.cls("MaterialInterface", _Asset)
    b.cls("Material", m.MaterialInterface, {"shading_model": None})
    b.cls("MaterialInstanceConstant", m.MaterialInterface, {"parent": None})
    for name in ("SkeletalMesh", "StaticMesh", "AnimSequence", "World", "CurveFloat"):
        b.cls(name, _Asset)
    for name in ("LevelSequenceFactoryNew", "MaterialFactoryNew",
                 "MaterialInstanceConstantFactoryNew"):
        b.cls(name)
    b.cls("MaterialExpressionVectorParameter", m._Obj, {"parameter_name": ""})
    b.cls("MaterialExpressionConstant", m._Obj, {"r": 0.0})

    def add_asset(path: str, kind: str) -> Any:
        asset = getattr(m, kind)(path)
        m.assets[path] = asset
        return asset

    m.add_asset = add_asset
    for mat in ("MovieRenderQueue_WorldDepth", "MovieRenderQueue_WorldNormal",
                "MovieRenderQueue_MotionVectors"):  # shipped with the MRQ plugin
        add_asset(f"/MovieRenderPipeline/Materials/{mat}", "Material")
    add_asset("/Engine/BasicShapes/Plane", "StaticMesh")

    def load_asset(path: str) -> Any:
        b.record("unreal", "load_asset", path)
        return m.assets.get(path)

    m.load_asset = load_asset

    def _snapshot(asset: Any) -> Any:
        if hasattr(asset, "bindings"):  # a sequence: what a later editor session would load
            return [(type(x.template).__name__, x.display_name) for x in asset.bindings]
        return dict(asset._values)

    class EditorAssetLibrary:
        @staticmethod
        def does_asset_exist(path: str) -> bool:
            b.record("EditorAssetLibrary", "does_asset_exist", path)
            return path in m.assets

        @staticmethod
        def load_asset(path: str) -> Any:
            b.record("EditorAssetLibrary", "load_asset", path)
            return m.assets.get(path)

        @staticmethod
        def delete_asset(path: str) -> bool:
            b.record("EditorAssetLibrary", "delete_asset", path)
            m.saved.pop(path, None)
            return m.assets.pop(path, None) is not None

        @staticmethod
        def save_loaded_asset(asset: Any, only_if_is_dirty: bool = True) -> bool:
            b.record("EditorAssetLibrary", "save_loaded_asset", asset)
            m.saved[asset._values["_path"]] = _snapshot(asset)
            return True

    m.saved: dict[str, Any] = {}  # asset path -> what was on disk after the last save
    m.EditorAssetLibrary = EditorAssetLibrary


def _materials(b: Builder) -> None:
    m = b.m

    class MaterialEditingLibrary:
        @staticmethod
        def create_material_expression(material: Any, expression_class: type,
                                       node_pos_x: int = 0, node_pos_y: int = 0) -> Any:
            expr = expression_class()
            expr._values["_material"] = material
            material._values.setdefault("_expressions", []).append(expr)
            return expr

        @staticmethod
        def connect_material_property(from_expression: Any, from_output_name: str,
                                      property_: Any) -> bool:
            material = from_expression._values["_material"]
            material._values.setdefault("_inputs", {})[property_.name] = from_expression
            return True

        @staticmethod
        def recompile_material(material: Any) -> None:
            material._values["_compiled"] = True

        @staticmethod
        def set_material_instance_vector_parameter_value(instance: Any, parameter_name: str,
                                                         value: Any, association: Any = None
                                                         ) -> bool:
            instance._values.setdefault("_vectors", {})[parameter_name] = value.tuple()
            return True

    m.MaterialEditingLibrary = MaterialEditingLibrary


def _actors(b: Builder) -> None:
    m = b.m

    class Actor(m._Obj):
        _PROPS = {"hidden": False, "tags": list}

        def actor_has_tag(self, tag: str) -> bool:
            return tag in (self._values.get("tags") or [])

        def set_actor_label(self, label: str, mark_dirty: bool = True) -> None:
            b.record(self, "set_actor_label", label)
            self._values["_label"] = label

        def get_actor_label(self) -> str:
            return self._values.get("_label", "")

        def set_actor_scale3d(self, new_scale3d: Any) -> None:
            self._values["_scale"] = new_scale3d.tuple()

    m.Actor = Actor

    class CineCameraComponent(m._Obj):
        _PROPS = {"filmback": lambda: m.CameraFilmbackSettings(36.0, 24.0),
                  "lens_settings": lambda: m.CameraLensSettings(12.0, 1000.0, 1.2, 22.0),
                  "focus_settings": lambda: m.CameraFocusSettings(),
                  "current_focal_length": 35.0, "current_aperture": 2.8,
                  "constrain_aspect_ratio": True}

    m.CineCameraComponent = CineCameraComponent

    class CineCameraActor(Actor):
        def __init__(self) -> None:
            super().__init__()
            self._values["_component"] = CineCameraComponent()

        def get_cine_camera_component(self) -> Any:
            return self._values["_component"]

    m.CineCameraActor = CineCameraActor

    def set_skeletal_mesh_asset(self: Any, new_mesh: Any) -> None:
        b.record(self, "set_skeletal_mesh_asset", new_mesh)
        self._values["skeletal_mesh_asset"] = new_mesh

    skeletal = b.cls("SkeletalMeshComponent", m._Obj,
                     {"skeletal_mesh_asset": None, "animation_mode": None},
                     set_skeletal_mesh_asset=set_skeletal_mesh_asset)

    def set_static_mesh(self: Any, new_mesh: Any) -> bool:
        b.record(self, "set_static_mesh", new_mesh)
        self._values["static_mesh"] = new_mesh
        return True

    def set_material(self: Any, element_index: int, material: Any) -> None:
        self._values.setdefault("_materials", {})[int(element_index)] = material

    static = b.cls("StaticMeshComponent", m._Obj, {"static_mesh": None},
                   set_static_mesh=set_static_mesh, set_material=set_material)
    b.cls("SkeletalMeshActor", Actor, {"skeletal_mesh_component": skeletal})
    b.cls("StaticMeshActor", Actor, {"static_mesh_component": static})
    b.cls("PostProcessVolume", Actor, {"settings": m.PostProcessSettings, "unbound": False,
                                       "priority": 0.0, "blend_weight": 1.0, "enabled": True})


def transmittance(toward_light: tuple[float, float, float]) -> tuple[float, float, float]:
    """The fake atmosphere: Beer-Lambert with a plane-parallel air mass (not Unreal's model;
    the plugin must only use whatever the engine returns)."""
    n = math.sqrt(sum(c * c for c in toward_light)) or 1.0
    sin_el = max(toward_light[2] / n, 0.02)
    return tuple(math.exp(-tau / sin_el) for tau in FAKE_TAU)  # type: ignore[return-value]


def _lights(b: Builder) -> None:
    m = b.m
    from pipeline.geometry import rotator_axes

    def set_light_color(self: Any, new_light_color: Any, srgb: bool = True) -> None:
        if type(new_light_color).__name__ != "LinearColor":
            raise TypeError("set_light_color needs a LinearColor")
        b.record(self, "set_light_color", new_light_color.tuple())
        self._values["_light_color"] = new_light_color.tuple()

    light_base = {"intensity": 1.0, "mobility": None, "visible": True}
    light = b.cls("LightComponent", m._Obj, light_base, set_light_color=set_light_color)
    b.cls("DirectionalLightComponent", light, {
        "atmosphere_sun_light": False, "light_source_angle": 0.5357,
        "atmosphere_sun_disk_color_scale": lambda: m.LinearColor(1.0, 1.0, 1.0, 1.0)})
    local = b.cls("LocalLightComponent", light, {"intensity_units": None,
                                                 "attenuation_radius": 1000.0})
    b.cls("PointLightComponent", local, {"source_radius": 0.0})
    b.cls("SpotLightComponent", m.PointLightComponent, {"inner_cone_angle": 0.0,
                                                        "outer_cone_angle": 44.0})
    b.cls("RectLightComponent", local, {"source_width": 64.0, "source_height": 64.0,
                                        "barn_door_angle": 88.0, "barn_door_length": 20.0})
    b.cls("SkyLightComponent", m._Obj, {"intensity": 1.0, "mobility": None, "source_type": None,
                                        "real_time_capture": False},
          set_light_color=set_light_color)

    def _toward(light_component: Any) -> tuple[float, float, float]:
        owner = light_component._values["_owner"]
        forward = rotator_axes(owner._values["_rotation"].tuple())[0]
        return (-forward[0], -forward[1], -forward[2])  # -GetDirection(): towards the light

    def get_transmittance(self: Any, directional_light: Any) -> Any:
        return m.LinearColor(*transmittance(_toward(directional_light)), 1.0)

    def get_outer(self: Any, light_direction: Any = None, illuminance_on_ground: float = 1.0
                  ) -> float:
        t = transmittance(light_direction.tuple())  # SkyAtmosphereComponent.cpp:
        return illuminance_on_ground / max(1e-8, sum(w * c for w, c in zip(REC709, t)))

    b.cls("SkyAtmosphereComponent", m._Obj, {
        "mobility": None, "sky_luminance_factor": lambda: m.LinearColor(1.0, 1.0, 1.0, 1.0)},
        get_atmosphere_transmitance_on_ground_at_planet_top=get_transmittance,
        get_atmospheric_light_to_match_illuminance_on_ground=get_outer)

    def _light_actor(name: str, comp: str, prop: str = "light_component") -> None:
        def init(self: Any) -> None:
            m.Actor.__init__(self)
            component = getattr(m, comp)()
            component._values["_owner"] = self
            self._values[prop] = component
        b.cls(name, m.Actor, {prop: None}, __init__=init)

    for actor_name, comp_name in (("DirectionalLight", "DirectionalLightComponent"),
                                  ("PointLight", "PointLightComponent"),
                                  ("SpotLight", "SpotLightComponent"),
                                  ("RectLight", "RectLightComponent"),
                                  ("SkyLight", "SkyLightComponent")):
        _light_actor(actor_name, comp_name)
    _light_actor("SkyAtmosphere", "SkyAtmosphereComponent", "sky_atmosphere_component")
