"""Fake Sequencer: keyed channels, sections, tracks, binding proxies, level sequences and
the asset tools that create them."""

from __future__ import annotations

from typing import Any

from .core import Builder


def install(b: Builder) -> None:
    _channels_and_sections(b)
    _tracks(b)
    _sequence(b)
    _asset_tools(b)


def _channels_and_sections(b: Builder) -> None:
    m = b.m

    class _Channel(m._Obj):
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
            b.record(self, "add_key", time.prop("value"), new_value)
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

    class MovieSceneSection(m._Obj):
        _CHANNELS: tuple[tuple[str, type], ...] = ()

        def __init__(self) -> None:
            super().__init__()
            self.range: tuple[int, int] | None = None
            self.channels = [kind(name) for name, kind in self._CHANNELS]

        def set_range(self, start_frame: int, end_frame: int) -> None:
            b.record(self, "set_range", start_frame, end_frame)
            self.range = (int(start_frame), int(end_frame))

        def get_all_channels(self) -> list:
            return list(self.channels)

    m.MovieSceneSection = MovieSceneSection
    xform = tuple((f"{g}.{a}", MovieSceneScriptingDoubleChannel)
                  for g in ("Location", "Rotation", "Scale") for a in "XYZ")
    sections = {
        "MovieScene3DTransformSection": ({"use_quaternion_interpolation": False}, xform),
        "MovieSceneCameraCutSection": ({"camera_binding_id": None,
                                        "lock_previous_camera": False}, ()),
        "MovieSceneSkeletalAnimationSection": ({"params": m.MovieSceneSkeletalAnimationParams},
                                               ()),
        "MovieSceneSpawnSection": ({}, (("Spawned", MovieSceneScriptingBoolChannel),)),
    }
    for name, (props, channels) in sections.items():
        b.cls(name, MovieSceneSection, props, _CHANNELS=channels)

    def set_camera_binding_id(self: Any, binding_id: Any) -> None:
        b.record(self, "set_camera_binding_id", binding_id)
        self._values["camera_binding_id"] = binding_id

    m.MovieSceneCameraCutSection.set_camera_binding_id = set_camera_binding_id


def _tracks(b: Builder) -> None:
    m = b.m

    class MovieSceneTrack(m._Obj):
        _SECTION = "MovieSceneSection"

        def __init__(self) -> None:
            super().__init__()
            self.sections: list[Any] = []

        def add_section(self) -> Any:
            section = getattr(m, self._SECTION)()
            b.record(self, "add_section")
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
        b.cls(track, MovieSceneTrack, _SECTION=section)


def _sequence(b: Builder) -> None:
    m = b.m

    class _TrackOwner:
        def add_track(self, track_type: type) -> Any:
            if not (isinstance(track_type, type) and issubclass(track_type, m.MovieSceneTrack)):
                raise TypeError(f"add_track needs a track class, got {track_type!r}")
            track = track_type()
            b.record(self, "add_track", track_type.__name__)
            self.tracks.append(track)
            return track

        def find_tracks_by_type(self, track_type: type) -> list:
            return [t for t in self.tracks if isinstance(t, track_type)]

        def get_tracks(self) -> list:
            return list(self.tracks)

    class MovieSceneBindingProxy(_TrackOwner, m._Struct):
        def __init__(self, template: Any = None, spawnable: bool = True):
            m._Struct.__init__(self)
            self.tracks: list[Any] = []
            self.template = template
            self.display_name = ""
            if spawnable:
                spawn_track = m.MovieSceneSpawnTrack()
                spawn_track.add_section()
                self.tracks.append(spawn_track)

        def set_display_name(self, display_name: str) -> None:
            b.record(self, "set_display_name", display_name)
            self.display_name = display_name

        def get_object_template(self) -> Any:
            return self.template

        def get_id(self) -> int:
            return self._id

    m.MovieSceneBindingProxy = MovieSceneBindingProxy

    class LevelSequence(_TrackOwner, m._Asset):
        def __init__(self, path: str = ""):
            m._Asset.__init__(self, path)
            self.tracks: list[Any] = []
            self.bindings: list[Any] = []
            self.display_rate = None
            self.playback = [0, 0]

        def set_display_rate(self, display_rate: Any) -> None:
            b.record(self, "set_display_rate", display_rate.tuple())
            self.display_rate = display_rate.tuple()

        def set_playback_start(self, start_frame: int) -> None:
            b.record(self, "set_playback_start", start_frame)
            self.playback[0] = int(start_frame)

        def set_playback_end(self, end_frame: int) -> None:
            b.record(self, "set_playback_end", end_frame)
            self.playback[1] = int(end_frame)

        def _spawnable(self, obj: Any) -> Any:
            binding = MovieSceneBindingProxy(obj)
            self.bindings.append(binding)
            return binding

        def add_spawnable_from_instance(self, object_to_spawn: Any) -> Any:
            b.record(self, "add_spawnable_from_instance", object_to_spawn)
            return self._spawnable(object_to_spawn)

        def add_possessable(self, object_to_possess: Any) -> Any:
            binding = MovieSceneBindingProxy(object_to_possess, spawnable=False)
            self.bindings.append(binding)
            return binding

        def get_bindings(self) -> list:
            return list(self.bindings)

        def get_binding_id(self, binding: Any) -> Any:
            return m.MovieSceneObjectBindingID(binding.get_id())

    m.LevelSequence = LevelSequence

    def sub_add_spawnable(self: Any, sequence: Any, object_to_spawn: Any) -> Any:
        b.record(self, "add_spawnable_from_instance", sequence, object_to_spawn)
        return sequence._spawnable(object_to_spawn)

    # the restriction keeps this method only where the dump has it (5.6)
    b.cls("LevelSequenceEditorSubsystem", m._Obj,
          add_spawnable_from_instance=sub_add_spawnable)


def _asset_tools(b: Builder) -> None:
    m = b.m

    class AssetTools(m._Obj):
        def create_asset(self, asset_name: str, package_path: str, asset_class: type,
                         factory: Any, calling_context: str = "None") -> Any:
            b.record(self, "create_asset", asset_name, package_path, asset_class.__name__)
            path = f"{package_path}/{asset_name}"
            asset = asset_class(path)
            m.assets[path] = asset
            return asset

    m.AssetTools = AssetTools
    m.AssetToolsHelpers = type("AssetToolsHelpers", (), {
        "get_asset_tools": staticmethod(lambda: m.get_editor_subsystem(AssetTools))})
