"""A recording fake of the ``unreal`` module, just large enough for the S2R-HDR plugin.

Why a fake: Unreal cannot run in CI, and the ``unreal-stub`` package cannot be imported (and
returns ``None`` from every call). This fake keeps state the way the editor does -- editor
properties with struct *copies* on get, delegates that fire, sequences with bindings, tracks,
sections and keyed channels, an MRQ queue with settings -- and records every call, so tests
can assert what the plugin asked the engine to do. It is strict where the engine is: unknown
editor properties raise, keys need ``FrameNumber``, and ``play_rate`` must have the type the
engine version expects.

``make_module(version)`` builds one engine flavour. Differences follow reference/ue5-api.md
section 1; where that table does not pin the version of a rename (``get_channels`` ->
``get_all_channels``), the older name is given to the older flavour. "5.1" is a legacy
flavour (``MoviePipelineMasterConfig`` only, cvar map) kept to exercise the fallbacks.
"""

from __future__ import annotations

import copy
import itertools
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSIONS = ("5.1", "5.2", "5.3", "5.6")


def make_module(version: str = "5.6") -> types.ModuleType:  # noqa: C901 - one flavour builder
    if version not in VERSIONS:
        raise ValueError(version)
    ver = tuple(int(x) for x in version.split("."))
    m = types.ModuleType("unreal")
    m.__fake_version__ = version
    m.calls: list[tuple[str, str, tuple, dict]] = []
    m.log_lines: list[str] = []
    m.assets: dict[str, Any] = {}
    m.world: list[Any] = []  # actors spawned in the editor world (destroyed ones removed)
    m.paths = {"project": "/tmp/fake_project/", "saved": "/tmp/fake_project/Saved/"}
    ids = itertools.count(1)

    def record(target: Any, method: str, *args: Any, **kwargs: Any) -> None:
        m.calls.append((type(target).__name__ if not isinstance(target, str) else target,
                        method, args, kwargs))

    # ---- core object model ---------------------------------------------------------
    class _EnumValue:
        def __init__(self, enum: str, name: str, value: int):
            self.enum, self.name, self.value = enum, name, value

        def __repr__(self) -> str:
            return f"{self.enum}.{self.name}"

    def enum(name: str, members: list[str] | dict[str, int]) -> type:
        items = members if isinstance(members, dict) else {k: i for i, k in enumerate(members)}
        cls = type(name, (), {})
        for k, v in items.items():
            setattr(cls, k, _EnumValue(name, k, v))
        setattr(m, name, cls)
        return cls

    class _Obj:
        _PROPS: dict[str, Any] = {}
        _ANY_PROPS: Callable[[str], bool] | None = None

        def __init__(self, **kwargs: Any):
            object.__setattr__(self, "_values", {})
            object.__setattr__(self, "_id", next(ids))
            for k, v in kwargs.items():
                self.set_editor_property(k, v)

        @classmethod
        def _allowed(cls, name: str) -> bool:
            for klass in cls.__mro__:
                if name in getattr(klass, "_PROPS", {}):
                    return True
                check = klass.__dict__.get("_ANY_PROPS")
                if check is not None and check(name):
                    return True
            return False

        @classmethod
        def _default(cls, name: str) -> Any:
            for klass in cls.__mro__:
                props = klass.__dict__.get("_PROPS", {})
                if name in props:
                    d = props[name]
                    return d() if callable(d) else d
            return None

        def _check(self, name: str) -> None:
            if not self._allowed(name):
                raise AttributeError(f"{type(self).__name__}: Failed to find property "
                                     f"'{name}' (fake unreal)")

        def set_editor_property(self, name: str, value: Any, notify_mode: Any = None) -> None:
            self._check(name)
            self._validate(name, value)
            record(self, "set_editor_property", name, value)
            self._values[name] = value

        def set_editor_properties(self, mapping: dict[str, Any]) -> None:
            for k, v in mapping.items():
                self.set_editor_property(k, v)

        def _validate(self, name: str, value: Any) -> None:
            """Per-class type checks (overridden)."""

        def get_editor_property(self, name: str) -> Any:
            self._check(name)
            if name not in self._values:
                self._values[name] = self._default(name)
            value = self._values[name]
            return copy.deepcopy(value) if isinstance(value, _Struct) else value

        def prop(self, name: str) -> Any:
            """Test helper: the stored value (no copy, no recording)."""
            return self._values.get(name, self._default(name))

        def __getattr__(self, name: str) -> Any:
            if not name.startswith("_") and type(self)._allowed(name):
                return self.get_editor_property(name)
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

        def get_name(self) -> str:
            return self._values.get("_name", f"{type(self).__name__}_{self._id}")

        def __deepcopy__(self, memo: dict) -> Any:
            return self  # UObjects are references; only structs are copied

        @classmethod
        def static_class(cls) -> type:
            return cls

    class _Struct(_Obj):
        def __deepcopy__(self, memo: dict) -> Any:
            new = object.__new__(type(self))
            object.__setattr__(new, "_values", copy.deepcopy(self._values, memo))
            object.__setattr__(new, "_id", self._id)
            for k, v in self.__dict__.items():
                if k not in ("_values", "_id"):
                    object.__setattr__(new, k, copy.deepcopy(v, memo))
            return new

    def cls(name: str, base: type = _Obj, props: dict[str, Any] | None = None,
            **members: Any) -> type:
        klass = type(name, (base,), {"_PROPS": dict(props or {}), **members})
        setattr(m, name, klass)
        return klass

    m._Obj, m._Struct, m._EnumValue = _Obj, _Struct, _EnumValue

    # ---- enums -------------------------------------------------------------------------
    enum("AutoExposureMethod", ["AEM_HISTOGRAM", "AEM_BASIC", "AEM_MANUAL"])
    enum("CameraFocusMethod", ["DO_NOT_OVERRIDE", "MANUAL", "TRACKING", "DISABLE"])
    enum("AnimationMode", ["ANIMATION_BLUEPRINT", "ANIMATION_SINGLE_NODE",
                           "ANIMATION_CUSTOM_MODE"])
    enum("MovieSceneKeyInterpolation", ["AUTO", "USER", "BREAK", "LINEAR", "CONSTANT",
                                        "SMART_AUTO"])
    enum("MovieSceneTimeUnit", ["DISPLAY_RATE", "TICK_RESOLUTION"])
    enum("MultiBlockType", ["NONE", "BUTTON_ROW", "EDITABLE_TEXT", "HEADING", "MENU_ENTRY",
                            "SEPARATOR", "TOOL_BAR_BUTTON", "TOOL_BAR_COMBO_BUTTON", "WIDGET"])
    enum("ToolMenuStringCommandType", ["COMMAND", "PYTHON", "CUSTOM"])
    enum("AppMsgType", ["OK", "YES_NO", "OK_CANCEL"])
    enum("AntiAliasingMethod", ["AAM_NONE", "AAM_FXAA", "AAM_TEMPORAL_AA", "AAM_MSAA",
                                "AAM_TSR"])
    if ver <= (5, 3):
        enum("EXRCompressionFormat", {"NONE": 0, "PIZ": 1, "ZIP": 2, "DWAA": 3, "DWAB": 4})
    else:
        enum("EXRCompressionFormat", {"NONE": 0, "RLE": 1, "ZIPS": 2, "ZIP": 3, "PIZ": 4,
                                      "PXR24": 5, "B44": 6, "B44A": 7, "DWAA": 8, "DWAB": 9})

    # ---- structs -----------------------------------------------------------------------
    class _Vec(_Struct):
        _FIELDS: tuple[str, ...] = ()

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__()
            for k, v in zip(self._FIELDS, args):
                self._values[k] = v
            for k, v in kwargs.items():
                self._values[k] = v

        def tuple(self) -> tuple:
            return tuple(self.prop(k) for k in self._FIELDS)

    def vec(name: str, fields: tuple[str, ...], default: Any = 0.0, *,
            ctor_only: bool = False, **members: Any) -> type:
        """A struct; ``ctor_only``: the fields are constructor arguments only, NOT editor
        properties (SoftObjectPath, MovieSceneTimeWarpVariant have none in 5.6)."""
        props = {} if ctor_only else dict.fromkeys(fields, default)
        klass = type(name, (_Vec,), {"_FIELDS": fields, "_PROPS": props, **members})
        setattr(m, name, klass)
        return klass

    vec("Vector", ("x", "y", "z"))
    vec("Rotator", ("roll", "pitch", "yaw"))
    vec("Vector4", ("x", "y", "z", "w"))
    vec("LinearColor", ("r", "g", "b", "a"))
    vec("IntPoint", ("x", "y"), 0)
    vec("FrameNumber", ("value",), 0)
    vec("FrameRate", ("numerator", "denominator"), 1)
    vec("SoftObjectPath", ("path_string",), "", ctor_only=True)
    vec("DirectoryPath", ("path",), "")
    vec("MovieSceneObjectBindingID", ("guid",), 0)
    vec("CameraFilmbackSettings", ("sensor_width", "sensor_height", "sensor_horizontal_offset",
                                   "sensor_vertical_offset"))
    vec("CameraFocusSettings", ("focus_method", "manual_focus_distance", "focus_offset",
                                "smooth_focus_changes"))
    vec("CameraLensSettings", ("min_focal_length", "max_focal_length", "min_f_stop",
                               "max_f_stop", "minimum_focus_distance",
                               "diaphragm_blade_count"))
    vec("OpenColorIODisplayConfiguration", ("is_enabled", "color_configuration"), False)
    if ver >= (5, 6):
        def _set_rate(self: Any, fixed_play_rate: float) -> None:
            self._values["fixed_play_rate"] = float(fixed_play_rate)

        vec("MovieSceneTimeWarpVariant", ("fixed_play_rate",), 0.0, ctor_only=True,
            to_fixed_play_rate=lambda self: float(self._values.get("fixed_play_rate", 0.0)),
            set_fixed_play_rate=_set_rate)

    pp_names = {
        "auto_exposure_method", "auto_exposure_apply_physical_camera_exposure",
        "auto_exposure_bias", "auto_exposure_min_brightness", "auto_exposure_max_brightness",
        "camera_iso", "camera_shutter_speed", "depth_of_field_fstop", "bloom_intensity",
        "vignette_intensity", "film_grain_intensity", "lens_flare_intensity",
        "scene_fringe_intensity", "motion_blur_amount", "motion_blur_max", "tone_curve_amount",
        "expand_gamut", "blue_correction", "sharpen", "local_exposure_highlight_contrast_scale",
        "local_exposure_shadow_contrast_scale", "local_exposure_detail_strength",
        "color_grading_intensity", "white_temp", "white_tint", "color_saturation",
        "color_contrast", "color_gamma", "color_gain", "color_offset"}

    class PostProcessSettings(_Struct):
        _ANY_PROPS = staticmethod(lambda n: n in pp_names or (
            n.startswith("override_") and n[len("override_"):] in pp_names))

        def _validate(self, name: str, value: Any) -> None:
            if name.startswith("override_") and not isinstance(value, bool):
                raise TypeError(f"{name} must be bool")
            if name == "auto_exposure_method" and not isinstance(value, _EnumValue):
                raise TypeError("auto_exposure_method must be an AutoExposureMethod")
            if name.startswith("color_") and name != "color_grading_intensity" and \
                    not isinstance(value, m.Vector4):
                raise TypeError(f"{name} must be a Vector4")

    m.PostProcessSettings = PostProcessSettings

    class MovieSceneSkeletalAnimationParams(_Struct):
        _PROPS = {"animation": None, "play_rate": 1.0, "start_frame_offset": 0,
                  "end_frame_offset": 0, "first_loop_start_frame_offset": 0, "reverse": False,
                  "slot_name": "DefaultSlot"}

        def _validate(self, name: str, value: Any) -> None:
            if name == "play_rate":
                if ver >= (5, 6) and not isinstance(value, m.MovieSceneTimeWarpVariant):
                    raise TypeError("5.6: play_rate must be a MovieSceneTimeWarpVariant")
                if ver < (5, 6) and not isinstance(value, float):
                    raise TypeError(f"{version}: play_rate must be a float")

    m.MovieSceneSkeletalAnimationParams = MovieSceneSkeletalAnimationParams

    # ---- assets ------------------------------------------------------------------------
    class _Asset(_Obj):
        def __init__(self, path: str = ""):
            super().__init__()
            self._values["_path"] = path

        def get_path_name(self) -> str:
            p = self._values["_path"]
            return f"{p}.{p.rsplit('/', 1)[-1]}"

    def _asset_name(self: Any) -> str:
        return self._values["_path"].rsplit("/", 1)[-1].split(".")[0]

    cls("Material", _Asset, get_name=_asset_name)
    cls("SkeletalMesh", _Asset)
    cls("StaticMesh", _Asset)
    cls("AnimSequence", _Asset)
    cls("World", _Asset)
    cls("LevelSequenceFactoryNew")

    def add_asset(path: str, kind: str) -> Any:
        asset = getattr(m, kind)(path)
        m.assets[path] = asset
        return asset

    m.add_asset = add_asset
    for _mat in ("MovieRenderQueue_WorldDepth", "MovieRenderQueue_WorldNormal",
                 "MovieRenderQueue_MotionVectors"):  # shipped with the MRQ plugin
        add_asset(f"/MovieRenderPipeline/Materials/{_mat}", "Material")

    def load_asset(path: str) -> Any:
        record("unreal", "load_asset", path)
        return m.assets.get(path)

    m.load_asset = load_asset

    class EditorAssetLibrary:
        @staticmethod
        def does_asset_exist(path: str) -> bool:
            record("EditorAssetLibrary", "does_asset_exist", path)
            return path in m.assets

        @staticmethod
        def load_asset(path: str) -> Any:
            record("EditorAssetLibrary", "load_asset", path)
            return m.assets.get(path)

        @staticmethod
        def delete_asset(path: str) -> bool:
            record("EditorAssetLibrary", "delete_asset", path)
            return m.assets.pop(path, None) is not None

        @staticmethod
        def save_loaded_asset(asset: Any, only_if_is_dirty: bool = True) -> bool:
            record("EditorAssetLibrary", "save_loaded_asset", asset)
            return True

    m.EditorAssetLibrary = EditorAssetLibrary

    # ---- actors ------------------------------------------------------------------------
    class Actor(_Obj):
        _PROPS = {"hidden": False, "tags": list}

        def actor_has_tag(self, tag: str) -> bool:
            return tag in (self._values.get("tags") or [])

        def set_actor_label(self, label: str) -> None:
            record(self, "set_actor_label", label)
            self._values["_label"] = label

        def get_actor_label(self) -> str:
            return self._values.get("_label", "")

    m.Actor = Actor

    class CineCameraComponent(_Obj):
        _PROPS = {"filmback": lambda: m.CameraFilmbackSettings(36.0, 24.0),
                  "lens_settings": lambda: m.CameraLensSettings(12.0, 1000.0, 1.2, 22.0),
                  "focus_settings": lambda: m.CameraFocusSettings(),
                  "current_focal_length": 35.0, "current_aperture": 2.8,
                  "constrain_aspect_ratio": True}

        def _validate(self, name: str, value: Any) -> None:
            kinds = {"filmback": "CameraFilmbackSettings", "lens_settings": "CameraLensSettings",
                     "focus_settings": "CameraFocusSettings"}
            if name in kinds and type(value).__name__ != kinds[name]:
                raise TypeError(f"{name} must be {kinds[name]}")

    m.CineCameraComponent = CineCameraComponent

    class CineCameraActor(Actor):
        def __init__(self) -> None:
            super().__init__()
            self._values["_component"] = CineCameraComponent()

        def get_cine_camera_component(self) -> Any:
            return self._values["_component"]

    m.CineCameraActor = CineCameraActor

    skel_members: dict[str, Any] = {}
    if ver >= (5, 1):
        def set_skeletal_mesh_asset(self: Any, mesh: Any) -> None:
            record(self, "set_skeletal_mesh_asset", mesh)
            self._values["skeletal_mesh_asset"] = mesh
        skel_members["set_skeletal_mesh_asset"] = set_skeletal_mesh_asset
    SkeletalMeshComponent = cls("SkeletalMeshComponent", _Obj,
                                {"skeletal_mesh_asset": None, "animation_mode": None},
                                **skel_members)

    def set_static_mesh(self: Any, mesh: Any) -> bool:
        record(self, "set_static_mesh", mesh)
        self._values["static_mesh"] = mesh
        return True

    StaticMeshComponent = cls("StaticMeshComponent", _Obj, {"static_mesh": None},
                              set_static_mesh=set_static_mesh)
    cls("SkeletalMeshActor", Actor, {"skeletal_mesh_component": SkeletalMeshComponent})
    cls("StaticMeshActor", Actor, {"static_mesh_component": StaticMeshComponent})
    cls("PostProcessVolume", Actor, {"settings": PostProcessSettings, "unbound": False,
                                     "priority": 0.0, "blend_weight": 1.0, "enabled": True})

    # ---- lights (5.6 stub names; NITS exists in 5.6, the older flavours test the fallback) --
    enum("ComponentMobility", ["STATIC", "STATIONARY", "MOVABLE"])
    enum("LightUnits", ["UNITLESS", "CANDELAS", "LUMENS", "EV"] + (["NITS"] if ver >= (5, 6)
                                                                    else []))
    enum("SkyLightSourceType", ["SLS_CAPTURED_SCENE", "SLS_SPECIFIED_CUBEMAP"])

    def set_light_color(self: Any, new_light_color: Any, srgb: bool = True) -> None:
        if type(new_light_color).__name__ != "LinearColor":
            raise TypeError("set_light_color needs a LinearColor")
        record(self, "set_light_color", new_light_color.tuple())
        self._values["_light_color"] = new_light_color.tuple()

    light_base = {"intensity": 1.0, "mobility": None, "visible": True}
    LightComponent = cls("LightComponent", _Obj, light_base, set_light_color=set_light_color)
    cls("DirectionalLightComponent", LightComponent, {
        "atmosphere_sun_light": False, "light_source_angle": 0.5357,
        "atmosphere_sun_disk_color_scale": lambda: m.LinearColor(1.0, 1.0, 1.0, 1.0)})
    local = cls("LocalLightComponent", LightComponent, {"intensity_units": None,
                                                        "attenuation_radius": 1000.0})
    cls("PointLightComponent", local, {"source_radius": 0.0})
    cls("SpotLightComponent", m.PointLightComponent, {"inner_cone_angle": 0.0,
                                                      "outer_cone_angle": 44.0})
    cls("RectLightComponent", local, {"source_width": 64.0, "source_height": 64.0,
                                      "barn_door_angle": 88.0, "barn_door_length": 20.0})
    cls("SkyLightComponent", _Obj, {"intensity": 1.0, "mobility": None, "source_type": None,
                                    "real_time_capture": False}, set_light_color=set_light_color)
    cls("SkyAtmosphereComponent", _Obj, {"mobility": None, "sky_luminance_factor":
                                         lambda: m.LinearColor(1.0, 1.0, 1.0, 1.0)})

    def _light_actor(name: str, comp: str, prop: str = "light_component") -> None:
        def init(self: Any) -> None:
            Actor.__init__(self)
            self._values[prop] = getattr(m, comp)()
        cls(name, Actor, {prop: None}, __init__=init)

    for actor_name, comp_name in (("DirectionalLight", "DirectionalLightComponent"),
                                  ("PointLight", "PointLightComponent"),
                                  ("SpotLight", "SpotLightComponent"),
                                  ("RectLight", "RectLightComponent"),
                                  ("SkyLight", "SkyLightComponent")):
        _light_actor(actor_name, comp_name)
    _light_actor("SkyAtmosphere", "SkyAtmosphereComponent", "sky_atmosphere_component")

    # ---- editor subsystems -------------------------------------------------------------
    subsystems: dict[type, Any] = {}

    def spawn(klass: type, location: Any, rotation: Any = None, transient: bool = False) -> Any:
        record("EditorActorSubsystem", "spawn_actor_from_class", klass, location, rotation)
        actor = klass()
        actor._values["_location"], actor._values["_rotation"] = location, rotation
        m.world.append(actor)
        return actor

    def destroy(actor: Any) -> bool:
        record("EditorActorSubsystem", "destroy_actor", actor)
        if actor in m.world:
            m.world.remove(actor)
            return True
        return False

    def load_level(path: str) -> bool:
        record("LevelEditorSubsystem", "load_level", path)
        m.current_level = path
        return path in m.assets

    m.current_level = None
    cls("EditorActorSubsystem", _Obj, spawn_actor_from_class=lambda self, *a, **k: spawn(*a, **k),
        destroy_actor=lambda self, a: destroy(a), get_all_level_actors=lambda self: list(m.world))
    cls("LevelEditorSubsystem", _Obj, load_level=lambda self, p: load_level(p))
    cls("EditorLevelLibrary", _Obj, spawn_actor_from_class=staticmethod(spawn),
        destroy_actor=staticmethod(destroy), load_level=staticmethod(load_level))

    def get_editor_subsystem(klass: type) -> Any:
        if klass not in subsystems:
            subsystems[klass] = klass()
        return subsystems[klass]

    m.get_editor_subsystem = get_editor_subsystem

    # ---- sequencer ---------------------------------------------------------------------
    class _Channel(_Obj):
        def __init__(self, name: str = ""):
            super().__init__()
            self._values["_name"] = name
            self.keys: list[tuple[int, Any, Any]] = []

        def get_name(self) -> str:
            return self._values["_name"]

        def add_key(self, time: Any, new_value: Any, sub_frame: float = 0.0,
                    time_unit: Any = None, interpolation: Any = None) -> Any:
            if type(time).__name__ != "FrameNumber":
                raise TypeError("add_key: time must be a FrameNumber")
            self._check_value(new_value)
            record(self, "add_key", time.prop("value"), new_value)
            self.keys.append((time.prop("value"), new_value, interpolation))

        def _check_value(self, value: Any) -> None:
            if not isinstance(value, float):
                raise TypeError("double channel keys are floats")

        def get_keys(self) -> list:
            return list(self.keys)

    class MovieSceneScriptingDoubleChannel(_Channel):
        pass

    class MovieSceneScriptingBoolChannel(_Channel):
        def add_key(self, time: Any, new_value: Any, sub_frame: float = 0.0,
                    time_unit: Any = None) -> Any:
            return super().add_key(time, new_value, sub_frame, time_unit)

        def _check_value(self, value: Any) -> None:
            if not isinstance(value, bool):
                raise TypeError("bool channel keys are bools")

    m.MovieSceneScriptingDoubleChannel = MovieSceneScriptingDoubleChannel
    m.MovieSceneScriptingBoolChannel = MovieSceneScriptingBoolChannel

    class MovieSceneSection(_Obj):
        _CHANNELS: tuple[tuple[str, type], ...] = ()

        def __init__(self) -> None:
            super().__init__()
            self.range: tuple[int, int] | None = None
            self.channels = [kind(name) for name, kind in self._CHANNELS]

        def set_range(self, start: int, end: int) -> None:
            record(self, "set_range", start, end)
            self.range = (int(start), int(end))

    if ver >= (5, 3):
        MovieSceneSection.get_all_channels = lambda self: list(self.channels)
    if ver < (5, 6):
        MovieSceneSection.get_channels = lambda self: list(self.channels)
    m.MovieSceneSection = MovieSceneSection

    xform = tuple((f"{g}.{a}", MovieSceneScriptingDoubleChannel)
                  for g in ("Location", "Rotation", "Scale") for a in "XYZ")
    sections = {
        "MovieScene3DTransformSection": ({"use_quaternion_interpolation": False}, xform),
        "MovieSceneCameraCutSection": ({"camera_binding_id": None,
                                        "lock_previous_camera": False}, ()),
        "MovieSceneSkeletalAnimationSection": ({"params": MovieSceneSkeletalAnimationParams},
                                               ()),
        "MovieSceneSpawnSection": ({}, (("Spawned", MovieSceneScriptingBoolChannel),)),
    }
    for name, (props, channels) in sections.items():
        cls(name, MovieSceneSection, props, _CHANNELS=channels)

    def _set_cut_binding(self: Any, binding_id: Any) -> None:
        record(self, "set_camera_binding_id", binding_id)
        self._values["camera_binding_id"] = binding_id

    m.MovieSceneCameraCutSection.set_camera_binding_id = _set_cut_binding

    class MovieSceneTrack(_Obj):
        _SECTION = "MovieSceneSection"

        def __init__(self) -> None:
            super().__init__()
            self.sections: list[Any] = []

        def add_section(self) -> Any:
            section = getattr(m, self._SECTION)()
            record(self, "add_section")
            self.sections.append(section)
            return section

        def get_sections(self) -> list:
            return list(self.sections)

    m.MovieSceneTrack = MovieSceneTrack
    for track, section in (("MovieScene3DTransformTrack", "MovieScene3DTransformSection"),
                           ("MovieSceneCameraCutTrack", "MovieSceneCameraCutSection"),
                           ("MovieSceneSkeletalAnimationTrack",
                            "MovieSceneSkeletalAnimationSection"),
                           ("MovieSceneSpawnTrack", "MovieSceneSpawnSection")):
        cls(track, MovieSceneTrack, _SECTION=section)

    class _TrackOwner:
        def add_track(self, klass: type) -> Any:
            if not (isinstance(klass, type) and issubclass(klass, MovieSceneTrack)):
                raise TypeError(f"add_track needs a track class, got {klass!r}")
            track = klass()
            record(self, "add_track", klass.__name__)
            self.tracks.append(track)
            return track

        def find_tracks_by_type(self, klass: type) -> list:
            return [t for t in self.tracks if isinstance(t, klass)]

        def get_tracks(self) -> list:
            return list(self.tracks)

    class MovieSceneBindingProxy(_TrackOwner, _Struct):
        def __init__(self, template: Any = None, spawnable: bool = True):
            _Struct.__init__(self)
            self.tracks: list[Any] = []
            self.template = template
            self.display_name = ""
            self.spawnable = spawnable
            if spawnable:
                spawn_track = m.MovieSceneSpawnTrack()
                spawn_track.add_section()
                self.tracks.append(spawn_track)

        def set_display_name(self, name: str) -> None:
            record(self, "set_display_name", name)
            self.display_name = name

        def get_object_template(self) -> Any:
            return self.template

        def get_id(self) -> int:
            return self._id

    m.MovieSceneBindingProxy = MovieSceneBindingProxy

    class LevelSequence(_TrackOwner, _Asset):
        def __init__(self, path: str = ""):
            _Asset.__init__(self, path)
            self.tracks: list[Any] = []
            self.bindings: list[Any] = []
            self.display_rate = None
            self.playback = [0, 0]

        def set_display_rate(self, rate: Any) -> None:
            record(self, "set_display_rate", rate.tuple())
            self.display_rate = rate.tuple()

        def set_playback_start(self, frame: int) -> None:
            record(self, "set_playback_start", frame)
            self.playback[0] = int(frame)

        def set_playback_end(self, frame: int) -> None:
            record(self, "set_playback_end", frame)
            self.playback[1] = int(frame)

        def add_spawnable_from_instance(self, obj: Any) -> Any:
            record(self, "add_spawnable_from_instance", obj)
            binding = MovieSceneBindingProxy(obj)
            self.bindings.append(binding)
            return binding

        def add_possessable(self, obj: Any) -> Any:
            binding = MovieSceneBindingProxy(obj, spawnable=False)
            self.bindings.append(binding)
            return binding

        def get_bindings(self) -> list:
            return list(self.bindings)

        def get_binding_id(self, binding: Any) -> Any:
            return m.MovieSceneObjectBindingID(binding.get_id())

    m.LevelSequence = LevelSequence

    class AssetTools(_Obj):
        def create_asset(self, asset_name: str, package_path: str, asset_class: type,
                         factory: Any, calling_context: str = "None") -> Any:
            record(self, "create_asset", asset_name, package_path, asset_class.__name__)
            path = f"{package_path}/{asset_name}"
            asset = asset_class(path)
            m.assets[path] = asset
            return asset

    m.AssetTools = AssetTools
    m.AssetToolsHelpers = type("AssetToolsHelpers", (), {
        "get_asset_tools": staticmethod(lambda: get_editor_subsystem(AssetTools))})

    # ---- Movie Render Queue ------------------------------------------------------------
    class MoviePipelineSetting(_Obj):
        pass

    m.MoviePipelineSetting = MoviePipelineSetting
    vec("MoviePipelinePostProcessPass", ("enabled", "material"), None)
    cls("MoviePipelineDeferredPassBase", MoviePipelineSetting,
        {"disable_multisample_effects": False, "accumulator_includes_alpha": False,
         "use32_bit_post_process_materials": False,
         # MRQ pre-seeds depth and motion vectors, disabled (engine constructor)
         "additional_post_process_materials": lambda: [
             m.MoviePipelinePostProcessPass(False, m.assets.get(
                 f"/MovieRenderPipeline/Materials/MovieRenderQueue_{n}"))
             for n in ("WorldDepth", "MotionVectors")]})
    cls("MoviePipelineDeferredPass_PathTracer", m.MoviePipelineDeferredPassBase)
    cls("MoviePipelineImageSequenceOutput_EXR", MoviePipelineSetting,
        {"compression": m.EXRCompressionFormat.PIZ, "multilayer": False})
    for ldr in ("PNG", "JPG", "BMP"):
        cls(f"MoviePipelineImageSequenceOutput_{ldr}", MoviePipelineSetting)
    cls("MoviePipelineColorSetting", MoviePipelineSetting,
        {"disable_tone_curve": False,
         "ocio_configuration": lambda: m.OpenColorIODisplayConfiguration(True)})
    cls("MoviePipelineOutputSetting", MoviePipelineSetting, {
        "output_directory": lambda: m.DirectoryPath(""),
        "file_name_format": "{sequence_name}.{frame_number}",
        "output_resolution": lambda: m.IntPoint(1920, 1080), "zero_pad_frame_numbers": 4,
        "frame_number_offset": 0, "override_existing_output": True,
        "use_custom_frame_rate": False, "use_custom_playback_range": False,
        "custom_start_frame": 0, "custom_end_frame": 0})
    cls("MoviePipelineAntiAliasingSetting", MoviePipelineSetting, {
        "override_anti_aliasing": False, "anti_aliasing_method": None,
        "spatial_sample_count": 1, "temporal_sample_count": 1, "engine_warm_up_count": 0,
        "render_warm_up_count": 32, "render_warm_up_frames": False,
        "use_camera_cut_for_warm_up": False})
    cls("MoviePipelineCameraSetting", MoviePipelineSetting,
        {"override_camera_overscan": False, "overscan_percentage": 0.0})
    cls("MoviePipelineGameOverrideSetting", MoviePipelineSetting, {
        "cinematic_quality_settings": False, "use_lod_zero": False,
        "flush_streaming_managers": False,
        ("disable_hlods" if ver >= (5, 6) else "disable_hlo_ds"): False})

    if ver >= (5, 2):
        def add_cvar(self: Any, name: str, value: float) -> bool:
            record(self, "add_or_update_console_variable", name, value)
            self._values.setdefault("_cvars", {})[name] = value
            return True
        cls("MoviePipelineConsoleVariableSetting", MoviePipelineSetting,
            add_or_update_console_variable=add_cvar)
    else:
        cls("MoviePipelineConsoleVariableSetting", MoviePipelineSetting,
            {"console_variables": dict})

    def cvars_of(setting: Any) -> dict:
        return dict(setting._values.get("_cvars") or setting._values.get("console_variables")
                    or {})

    m.cvars_of = cvars_of

    class _Config(_Obj):
        def __init__(self) -> None:
            super().__init__()
            # project defaults a job may arrive with: LDR outputs included
            self.settings = [m.MoviePipelineDeferredPassBase(),
                             m.MoviePipelineImageSequenceOutput_PNG(),
                             m.MoviePipelineImageSequenceOutput_JPG(),
                             m.MoviePipelineOutputSetting()]

        def find_setting_by_class(self, klass: type) -> Any:
            for s in self.settings:
                if isinstance(s, klass):
                    return s
            return None

        def find_or_add_setting_by_class(self, klass: type, include_disabled_settings: bool =
                                         False, exact_match: bool = False) -> Any:
            record(self, "find_or_add_setting_by_class", klass.__name__)
            for s in self.settings:
                if type(s) is klass:
                    return s
            s = klass()
            self.settings.append(s)
            return s

        def remove_setting(self, setting: Any) -> None:
            record(self, "remove_setting", type(setting).__name__)
            self.settings.remove(setting)

        def get_all_settings(self, include_disabled_settings: bool = False,
                             exact_match: bool = False) -> list:
            return list(self.settings)

    if ver >= (5, 2):
        cls("MoviePipelinePrimaryConfig", _Config)
    if ver <= (5, 5):
        cls("MoviePipelineMasterConfig", _Config)
    config_cls = getattr(m, "MoviePipelinePrimaryConfig", None) or m.MoviePipelineMasterConfig

    class MoviePipelineExecutorJob(_Obj):
        _PROPS = {"job_name": "", "sequence": None, "map": None, "author": "", "comment": ""}

        def __init__(self) -> None:
            super().__init__()
            self.config = config_cls()

        def get_configuration(self) -> Any:
            return self.config

    m.MoviePipelineExecutorJob = MoviePipelineExecutorJob

    class MoviePipelineQueue(_Obj):
        def __init__(self) -> None:
            super().__init__()
            self.jobs: list[Any] = [MoviePipelineExecutorJob()]  # a stale job from before

        def delete_all_jobs(self) -> None:
            record(self, "delete_all_jobs")
            self.jobs.clear()

        def allocate_new_job(self, job_type: type) -> Any:
            record(self, "allocate_new_job", job_type.__name__)
            job = job_type()
            self.jobs.append(job)
            return job

        def get_jobs(self) -> list:
            return list(self.jobs)

    m.MoviePipelineQueue = MoviePipelineQueue

    class Delegate:
        def __init__(self) -> None:
            self.callables: list[Callable[..., Any]] = []

        def add_callable_unique(self, fn: Callable[..., Any]) -> None:
            if fn not in self.callables:
                self.callables.append(fn)

        def add_callable(self, fn: Callable[..., Any]) -> None:
            self.callables.append(fn)

        def broadcast(self, *args: Any) -> None:
            for fn in list(self.callables):
                fn(*args)

    m.Delegate = Delegate
    delegate_props = {"on_executor_finished_delegate": Delegate,
                      "on_executor_errored_delegate": Delegate,
                      "on_individual_job_started_delegate": Delegate,
                      "on_individual_job_work_finished_delegate": Delegate}
    pie_members: dict[str, Any] = {}
    if ver >= (5, 2):
        def set_offscreen(self: Any, value: bool) -> None:
            record(self, "set_is_rendering_offscreen", value)
            self._values["_offscreen"] = value
        pie_members["set_is_rendering_offscreen"] = set_offscreen
    cls("MoviePipelinePIEExecutor", _Obj, delegate_props, **pie_members)

    class MoviePipelineQueueSubsystem(_Obj):
        def __init__(self) -> None:
            super().__init__()
            self.queue = MoviePipelineQueue()
            self.executor = None

        def get_queue(self) -> Any:
            return self.queue

        def render_queue_with_executor_instance(self, executor: Any) -> None:
            record(self, "render_queue_with_executor_instance", executor)
            self.executor = executor

        def is_rendering(self) -> bool:
            return self.executor is not None

    m.MoviePipelineQueueSubsystem = MoviePipelineQueueSubsystem

    def simulate_render(success: bool = True, frames_written: int | None = None,
                        data: Callable[[int], bytes] | None = None) -> list[Path]:
        """What MRQ would do: write each frame of the custom range, then fire the delegates.
        Files go where the job's output settings say; content comes from ``data(frame)``."""
        sub = get_editor_subsystem(MoviePipelineQueueSubsystem)
        if sub.executor is None:
            raise RuntimeError("fake MRQ: no executor was started")
        written = []
        for job in sub.queue.jobs:
            cfg = job.get_configuration()
            out = cfg.find_setting_by_class(m.MoviePipelineOutputSetting)
            exr = cfg.find_setting_by_class(m.MoviePipelineImageSequenceOutput_EXR)
            if out.prop("use_custom_playback_range"):
                start, end = out.prop("custom_start_frame"), out.prop("custom_end_frame")
            else:
                start, end = 0, 0
            frames = list(range(start, end))[:frames_written]
            main = cfg.find_setting_by_class(m.MoviePipelineDeferredPassBase)
            passes = ["FinalImage"] + [  # "FinalImage" + material name, as MRQ names them
                "FinalImage" + e.prop("material").get_name()
                for e in (main.prop("additional_post_process_materials") if main else [])
                if e.prop("enabled")]
            for f in frames if exr is not None else []:
                for render_pass in passes:
                    pad = out.prop("zero_pad_frame_numbers")
                    name = out.prop("file_name_format").format(
                        render_pass=render_pass, frame_number=f"{f:0{pad}d}",
                        sequence_name="seq", shot_name="shot", camera_name="cam")
                    path = Path(out.prop("output_directory").prop("path")) / f"{name}.exr"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data(f) if data else b"exr %d" % f)
                    written.append(path)
            sub.executor.prop("on_individual_job_work_finished_delegate").broadcast(job)
        executor, sub.executor = sub.executor, None
        executor.prop("on_executor_finished_delegate").broadcast(executor, success)
        return written

    m.simulate_render = simulate_render

    # ---- module functions, system, menus -----------------------------------------------
    def new_object(type_: type, outer: Any = None, name: str = "") -> Any:
        record("unreal", "new_object", type_.__name__)
        return type_()

    m.new_object = new_object
    m.is_editor = lambda: True
    for fn in ("log", "log_warning", "log_error"):
        def _log(msg: Any, _fn: str = fn) -> None:
            m.log_lines.append(str(msg))
            record("unreal", _fn, str(msg))
        setattr(m, fn, _log)
    m.log_flush = lambda: None
    m.tick_callbacks = {}

    def register_tick(fn: Callable[[float], None]) -> int:
        handle = next(ids)
        m.tick_callbacks[handle] = fn
        return handle

    def unregister_tick(handle: int) -> None:
        m.tick_callbacks.pop(handle, None)

    m.register_slate_post_tick_callback = register_tick
    m.unregister_slate_post_tick_callback = unregister_tick

    def tick(delta: float = 1.0) -> None:
        for fn in list(m.tick_callbacks.values()):
            fn(delta)

    m.tick = tick
    m.unattended = False

    class SystemLibrary:
        @staticmethod
        def get_engine_version() -> str:
            return f"{version}.0-fake+++UE5+Release-{version}"

        @staticmethod
        def quit_editor() -> None:
            record("SystemLibrary", "quit_editor")

        @staticmethod
        def is_unattended() -> bool:
            return m.unattended

    m.SystemLibrary = SystemLibrary

    class Paths:
        @staticmethod
        def project_dir() -> str:
            return m.paths["project"]

        @staticmethod
        def project_saved_dir() -> str:
            return m.paths["saved"]

        @staticmethod
        def convert_relative_path_to_full(path: str, base_path: str = "") -> str:
            return path

    m.Paths = Paths
    m.dialogs = []

    class EditorDialog:
        @staticmethod
        def show_message(title: Any, message: Any, message_type: Any, default_value: Any = None,
                         message_category: Any = None) -> Any:
            m.dialogs.append((str(title), str(message)))

    m.EditorDialog = EditorDialog

    class ToolMenuEntry(_Struct):
        _PROPS = {"name": "", "type": None, "owner": None}

        def set_label(self, label: str) -> None:
            self._values["_label"] = label

        def set_tool_tip(self, tip: str) -> None:
            self._values["_tip"] = tip

        def set_string_command(self, type_: Any, custom_type: str, string: str) -> None:
            self._values["_command"] = (type_, string)

    m.ToolMenuEntry = ToolMenuEntry

    class ToolMenu(_Obj):
        def __init__(self, name: str = "") -> None:
            super().__init__()
            self.name, self.sections, self.entries, self.subs = name, [], [], {}

        def add_sub_menu(self, owner: str, section_name: str, name: str, label: str,
                         tool_tip: str = "") -> Any:
            sub = ToolMenu(f"{self.name}.{name}")
            sub.owner, sub.label = owner, label
            self.subs[name] = sub
            return sub

        def add_section(self, section_name: str, label: str = "", **_: Any) -> None:
            self.sections.append(section_name)

        def add_menu_entry(self, section_name: str, entry: Any) -> None:
            if section_name not in self.sections:
                raise ValueError(f"fake ToolMenu: unknown section {section_name!r}")
            self.entries.append((section_name, entry))

    m.ToolMenu = ToolMenu

    class ToolMenus(_Obj):
        _instance: Any = None

        def __init__(self) -> None:
            super().__init__()
            self.menus: dict[str, Any] = {}
            self.refreshed = 0

        @classmethod
        def get(cls_) -> Any:
            if cls_._instance is None:
                cls_._instance = cls_()
            return cls_._instance

        def extend_menu(self, name: str) -> Any:
            return self.menus.setdefault(name, ToolMenu(name))

        def unregister_owner_by_name(self, owner: str) -> None:
            for menu in self.menus.values():
                menu.subs = {k: v for k, v in menu.subs.items() if v.owner != owner}

        def refresh_all_widgets(self) -> None:
            self.refreshed += 1

    m.ToolMenus = ToolMenus
    return m
