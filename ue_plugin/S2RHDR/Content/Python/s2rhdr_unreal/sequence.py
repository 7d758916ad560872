"""A Level Sequence built from a ShotPlan: camera, camera cut, moving actors and the lights.

Nothing is simulated here: the plan already holds every frame's camera pose (handheld shake
baked in) and every actor's pose, so each becomes one transform key per frame, warm-up frames
(negative indices) included. The rendered pose therefore equals the pose written to
``camera_params`` -- the property the dataset relies on.

Units: the plan is in metres and degrees (roll, pitch, yaw) on Unreal's axes; Unreal wants
centimetres (``pipeline.geometry.to_unreal_cm``) and the same rotator order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import unreal

from pipeline.geometry import to_unreal_cm
from s2rhdr_unreal import compat, lighting, linear

SEQUENCE_PACKAGE = "/Game/S2RHDR/Sequences"
SKELETAL_KINDS = ("pedestrian", "animal")


class MissingAssetsError(RuntimeError):
    """Assets named in the plan do not exist in the project."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)
        super().__init__("missing Unreal assets: " + ", ".join(self.paths)
                         + " (fix the spec's unreal: paths or add the assets to the project)")


@dataclass
class BuiltShot:
    sequence: Any
    level: str
    camera: Any  # binding proxy
    actors: dict[str, Any] = field(default_factory=dict)  # actor id -> binding proxy
    frame_range: tuple[int, int] = (0, 0)  # playback [start, end)
    warmup_range: tuple[int, int] = (0, 0)  # camera cut [start, end), warm-up included
    lights: list[Any] = field(default_factory=list)  # binding proxies of the plan's lights
    lighting: dict[str, Any] = field(default_factory=dict)  # sun compensation, for meta.json
    lock: Any = None  # binding proxy of the linear-lock volume
    lock_record: dict[str, Any] = field(default_factory=dict)  # exposure set-up, for meta.json
    extras: Any = None  # what the ``extras`` hook of build_sequence returned


def level_path(plan: Any) -> str:
    level = (plan.environment.backends.get("unreal") or {}).get("level")
    if not level:
        raise ValueError(f"plan {plan.name!r} has no environment.unreal.level; "
                         f"add `unreal: {{level: /Game/Maps/...}}` to the spec's environment")
    return str(level)


def actor_assets(actor: Any) -> dict[str, str]:
    """The actor's ``unreal`` asset references (``mesh`` required, ``anim`` optional)."""
    refs = dict(actor.backends.get("unreal") or {})
    if not refs.get("mesh"):
        raise ValueError(f"actor {actor.id} ({actor.kind}) has no unreal.mesh in the spec")
    return {k: str(v) for k, v in refs.items() if k in ("mesh", "anim") and v}


def required_assets(plan: Any) -> list[str]:
    """Every asset path the shot needs, level first, in plan order (no duplicates)."""
    out = [level_path(plan)]
    for actor in plan.actors:
        for path in actor_assets(actor).values():
            if path not in out:
                out.append(path)
    return out


def missing_assets(plan: Any) -> list[str]:
    return [p for p in required_assets(plan) if not unreal.EditorAssetLibrary.does_asset_exist(p)]


def frame_rate(fps: float) -> Any:
    """Exact ``FrameRate`` for 24, 30, 29.97 (30000/1001), ..."""
    frac = Fraction(float(fps)).limit_denominator(1001)
    return unreal.FrameRate(frac.numerator, frac.denominator)


def unwrap_degrees(values: Iterable[float]) -> list[float]:
    """Make an angle sequence continuous (179 -> -179 becomes 179 -> 181) so that key
    interpolation between frames never spins the long way round."""
    out: list[float] = []
    for v in values:
        v = float(v)
        if out:
            v += 360.0 * round((out[-1] - v) / 360.0)
        out.append(v)
    return out


def transform_keys(frames: Sequence[int], locations_m: Sequence[Sequence[float]],
                   rotations: Sequence[Sequence[float]], scale: float = 1.0
                   ) -> list[list[tuple[int, float]]]:
    """Nine channels (Location.XYZ cm, Rotation.XYZ = roll/pitch/yaw deg, Scale.XYZ) of
    ``(frame, value)`` keys, one per frame."""
    locs = [to_unreal_cm(p) for p in locations_m]
    channels: list[list[tuple[int, float]]] = [
        [(f, loc[axis]) for f, loc in zip(frames, locs)] for axis in range(3)]
    for axis in range(3):
        channels.append(list(zip(frames, unwrap_degrees(r[axis] for r in rotations))))
    for _ in range(3):
        channels.append([(f, float(scale)) for f in frames])
    return channels


def _key_transform(binding: Any, keys: list[list[tuple[int, float]]], start: int, end: int) -> Any:
    track = binding.add_track(unreal.MovieScene3DTransformTrack)
    section = track.add_section()
    section.set_range(start, end)
    channels = compat.section_channels(section)
    for channel, channel_keys in zip(channels[:9], keys):
        for frame, value in channel_keys:
            channel.add_key(unreal.FrameNumber(frame), value, 0.0,
                            unreal.MovieSceneTimeUnit.DISPLAY_RATE,
                            unreal.MovieSceneKeyInterpolation.LINEAR)
    return section


def _key_visibility(binding: Any, frames: Sequence[int], visible: Sequence[bool]) -> None:
    """Spawn-track keys where an actor appears/disappears (path not started or finished)."""
    if all(visible):
        return
    tracks = binding.find_tracks_by_type(unreal.MovieSceneSpawnTrack)
    track = tracks[0] if tracks else binding.add_track(unreal.MovieSceneSpawnTrack)
    sections = track.get_sections()
    section = sections[0] if sections else track.add_section()
    channel = compat.section_channels(section)[0]
    previous = None
    for frame, vis in zip(frames, visible):
        if vis != previous:
            channel.add_key(unreal.FrameNumber(frame), bool(vis), 0.0,
                            unreal.MovieSceneTimeUnit.DISPLAY_RATE)
            previous = vis


def _vector(loc_m: Sequence[float]) -> Any:
    return unreal.Vector(*to_unreal_cm(loc_m))


def _rotator(rot: Sequence[float]) -> Any:
    return unreal.Rotator(float(rot[0]), float(rot[1]), float(rot[2]))


def _spawnable(sequence: Any, actor: Any, label: str) -> Any:
    """Turn a configured editor actor into a spawnable of the sequence (the sequence then owns
    a copy, so the level is never modified or saved)."""
    actor.set_actor_label(label)
    binding = compat.add_spawnable(sequence, actor)
    binding.set_display_name(label)
    compat.destroy_actor(actor)
    return binding


def lens_range(lens: Any, focal: float, fstop: float) -> None:
    """Widen the lens range to include ``focal`` and ``fstop``: the CineCamera clamps its
    current focal length and aperture to it (``RecalcDerivedData``, CineCameraComponent.cpp)."""
    for key, value, pick in (("min_focal_length", focal, min), ("max_focal_length", focal, max),
                             ("min_f_stop", fstop, min), ("max_f_stop", fstop, max)):
        current = lens.get_editor_property(key)
        lens.set_editor_property(key, pick(value, current) if current else value)


def _camera(plan: Any, sequence: Any) -> Any:
    first = plan.timeline[0].camera
    actor = compat.spawn_actor(unreal.CineCameraActor, _vector(first.location),
                               _rotator(first.rotation))
    comp = actor.get_cine_camera_component()
    width, height = plan.render.resolution
    sensor_w = float(plan.camera.sensor_mm[0])
    # Filmback aspect = output aspect: K uses the sensor *width* and square pixels, so the
    # height follows the resolution (no letterbox, no crop).
    comp.set_editor_property("filmback", unreal.CameraFilmbackSettings(
        sensor_width=sensor_w, sensor_height=sensor_w * height / width))
    focal = float(plan.camera.focal_length_mm)
    fstop = float(plan.camera.fstop)
    lens = comp.get_editor_property("lens_settings")
    lens_range(lens, focal, fstop)
    comp.set_editor_property("lens_settings", lens)
    comp.set_editor_property("current_focal_length", focal)
    comp.set_editor_property("current_aperture", fstop)
    # DISABLE: no depth of field (the plan and camera_params are pinhole). MANUAL would blur
    # the beauty; with DISABLE the camera writes DepthOfFieldFocalDistance = 0 and leaves the
    # f-stop of the exposure to the lock volume (UpdateCameraLens, CineCameraComponent.cpp).
    comp.set_editor_property("focus_settings", unreal.CameraFocusSettings(
        focus_method=unreal.CameraFocusMethod.DISABLE,
        manual_focus_distance=float(plan.camera.focus_distance_m) * 100.0))
    comp.set_editor_property("constrain_aspect_ratio", False)
    return _spawnable(sequence, actor, f"{plan.name}_camera")


def _actor(plan: Any, sequence: Any, actor_plan: Any) -> Any:
    assets = actor_assets(actor_plan)
    mesh = unreal.EditorAssetLibrary.load_asset(assets["mesh"])
    poses = [_pose(f, actor_plan.id) for f in plan.timeline]
    skeletal = isinstance(mesh, unreal.SkeletalMesh)
    cls = unreal.SkeletalMeshActor if skeletal else unreal.StaticMeshActor
    actor = compat.spawn_actor(cls, _vector(poses[0].location), _rotator(poses[0].rotation))
    if skeletal:
        comp = actor.get_editor_property("skeletal_mesh_component")
        compat.set_skeletal_mesh(comp, mesh)
        comp.set_editor_property("animation_mode", unreal.AnimationMode.ANIMATION_SINGLE_NODE)
    else:
        comp = actor.get_editor_property("static_mesh_component")
        comp.set_static_mesh(mesh)
    binding = _spawnable(sequence, actor, f"{plan.name}_{actor_plan.id}")
    frames = [f.index for f in plan.timeline]
    start, end = frames[0], frames[-1] + 1
    _key_transform(binding, transform_keys(frames, [p.location for p in poses],
                                           [p.rotation for p in poses], actor_plan.scale),
                   start, end)
    _key_visibility(binding, frames, [p.visible for p in poses])
    if skeletal and assets.get("anim"):
        _animate(binding, assets["anim"], actor_plan, start, end)
    return binding


def _pose(frame: Any, actor_id: str) -> Any:
    for pose in frame.actors:
        if pose.id == actor_id:
            return pose
    raise ValueError(f"plan frame {frame.index} has no pose for actor {actor_id}")


def anim_play_rate(actor_plan: Any) -> float:
    """Playback rate that matches the clip's authored speed to the planned speed
    (``unreal.anim_speed_mps`` in the spec; rate 1 when it is not given)."""
    authored = (actor_plan.backends.get("unreal") or {}).get("anim_speed_mps")
    if not authored:
        return 1.0
    return float(actor_plan.speed_mps) / float(authored)


def _animate(binding: Any, anim_path: str, actor_plan: Any, start: int, end: int) -> Any:
    track = binding.add_track(unreal.MovieSceneSkeletalAnimationTrack)
    section = track.add_section()
    section.set_range(start, end)  # the clip loops past its length
    params = section.get_editor_property("params")  # struct copy: set it back below
    params.set_editor_property("animation", unreal.EditorAssetLibrary.load_asset(anim_path))
    params.set_editor_property("play_rate", compat.play_rate(anim_play_rate(actor_plan)))
    section.set_editor_property("params", params)
    return section


def build_sequence(plan: Any, *, package: str = SEQUENCE_PACKAGE, lock: bool = True,
                   cvars: dict[str, float] | None = None,
                   extras: Callable[[Any], Any] | None = None) -> BuiltShot:
    """Open the plan's level and build ``<package>/<plan.name>`` from scratch: camera, cut,
    actors, lights, the linear lock (and ``extras(sequence)``), then save the sequence.

    The lock is part of the saved sequence, so a sequence built here and rendered later (or
    from "Build sequence only") is locked too; rebuilding replaces everything (idempotent).
    ``cvars`` overrides the exposure cvars read from the editor (tests)."""
    missing = missing_assets(plan)
    if missing:
        raise MissingAssetsError(missing)
    level = level_path(plan)
    if not compat.load_level(level):
        raise RuntimeError(f"could not open level {level}")
    asset_path = f"{package}/{plan.name}"
    if unreal.EditorAssetLibrary.does_asset_exist(asset_path):
        unreal.EditorAssetLibrary.delete_asset(asset_path)
    tools = unreal.AssetToolsHelpers.get_asset_tools()
    sequence = tools.create_asset(plan.name, package, unreal.LevelSequence,
                                  unreal.LevelSequenceFactoryNew())
    frames = [f.index for f in plan.timeline]
    warm_start, end = frames[0], frames[-1] + 1
    sequence.set_display_rate(frame_rate(plan.fps))
    sequence.set_playback_start(0)
    sequence.set_playback_end(plan.frames)  # end exclusive

    camera = _camera(plan, sequence)
    _key_transform(camera, transform_keys(frames, [f.camera.location for f in plan.timeline],
                                          [f.camera.rotation for f in plan.timeline]),
                   warm_start, end)
    cut_track = sequence.add_track(unreal.MovieSceneCameraCutTrack)
    cut = cut_track.add_section()
    cut.set_range(warm_start, end)  # extended before 0: MRQ warms up on these frames
    cut.set_camera_binding_id(compat.binding_id(sequence, camera))

    shot = BuiltShot(sequence, level, camera, frame_range=(0, plan.frames),
                     warmup_range=(warm_start, end))
    for actor_plan in plan.actors:
        shot.actors[actor_plan.id] = _actor(plan, sequence, actor_plan)
    shot.lights, shot.lighting = lighting.apply(plan, sequence)  # [] with use_level_lighting
    if lock:
        shot.lock, shot.lock_record = linear.apply_lock(
            plan.exposure.ev100, plan.camera.fstop, sequence=sequence, cvars=cvars)
    if extras is not None:
        shot.extras = extras(sequence)
    unreal.EditorAssetLibrary.save_loaded_asset(sequence, False)
    return shot
