"""The ShotPlan data model: every number a backend needs, already resolved from the spec.

A plan is the contract between the planner and the renderer backends (Mitsuba, Unreal):
backends never parse YAML and never draw random numbers, so the same plan renders the same
camera path, shake and actor motion everywhere. Standard library only (imported by the
Unreal editor). See ``docs/plan-format.md`` for the JSON form.

Units: metres, degrees (roll, pitch, yaw), seconds, luminance in cd/m^2 (nits), illuminance
in lux. Pixel value = luminance * ``exposure.scale``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import S2RError

PLAN_FORMAT = "s2rhdr.plan"
PLAN_VERSION = 2  # 2: exposure.scale = 2^-EV100 (the engine's manual exposure, no 1.2)

Vec3 = tuple[float, float, float]


def _t(value: Any) -> Any:
    """Lists (from JSON) to tuples, recursively, so plans are hashable and compare equal."""
    if isinstance(value, (list, tuple)):
        return tuple(_t(v) for v in value)
    return value


@dataclass(frozen=True)
class CameraPose:
    location: Vec3
    rotation: Vec3  # roll, pitch, yaw (deg); the handheld shake is already included
    world_to_camera: tuple  # 4x4, OpenCV camera axes (see pipeline.geometry)


@dataclass(frozen=True)
class ActorPose:
    id: str
    location: Vec3  # root of the actor (feet / wheels on the ground), metres
    rotation: Vec3  # roll, pitch, yaw (deg); yaw follows the path tangent
    visible: bool = True  # False before the actor's start frame or after its path ends
    phase: float = 0.0  # gait / wheel phase in cycles (drives proxy limbs, anim offsets)


@dataclass(frozen=True)
class FramePlan:
    index: int  # output frame number; negative for warm-up frames (rendered, discarded)
    time_s: float
    camera: CameraPose
    actors: tuple[ActorPose, ...] = ()


@dataclass(frozen=True)
class CameraPlan:
    focal_length_mm: float
    sensor_mm: tuple[float, float]
    K: tuple  # 3x3 intrinsics for render.resolution
    handheld_profile: str  # tripod | standing | walking | running
    amplitude_scale: float = 1.0
    fstop: float = 8.0
    focus_distance_m: float = 10.0


@dataclass(frozen=True)
class ExposurePlan:
    ev100: float
    scale: float  # pixel value per cd/m^2 = 2**-ev100 (Unreal's manual exposure); all backends


@dataclass(frozen=True)
class SunPlan:
    elevation_deg: float
    azimuth_deg: float  # from +X towards +Y (Unreal yaw of the direction *to* the sun)
    illuminance_lux: float  # on a surface facing the sun
    visible: bool = True  # the disk itself is seen by the camera
    angular_diameter_deg: float = 0.53
    color: Vec3 = (1.0, 1.0, 1.0)  # linear Rec.709, luminance-normalised

    def direction(self) -> Vec3:
        """Unit vector from the scene towards the sun (world axes)."""
        el, az = math.radians(self.elevation_deg), math.radians(self.azimuth_deg)
        return (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))


@dataclass(frozen=True)
class SkyPlan:
    luminance: float  # cd/m^2 of the sky at the zenith (0 = black sky, e.g. indoors)
    color: Vec3 = (0.8, 0.9, 1.1)


@dataclass(frozen=True)
class LightPlan:
    kind: str  # area | point | spot
    position: Vec3
    rotation: Vec3 = (0.0, -90.0, 0.0)  # area/spot: forward axis is the emission direction
    size: tuple[float, float] = (0.5, 0.5)  # area lights, metres
    luminance: float = 0.0  # area lights: cd/m^2 of the emitting surface
    intensity_cd: float = 0.0  # point/spot lights: candela
    cone_deg: float = 45.0  # spot lights: outer half-angle
    color: Vec3 = (1.0, 1.0, 1.0)
    visible: bool = True


@dataclass(frozen=True)
class EnvironmentPlan:
    sun: SunPlan | None
    sky: SkyPlan
    lights: tuple[LightPlan, ...] = ()
    backends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # unreal: {level}, ...


@dataclass(frozen=True)
class ActorPlan:
    id: str  # actor_00, actor_01, ... (stable, used by the mask pass: id index + 1)
    kind: str  # pedestrian | animal | vehicle
    backends: Mapping[str, Mapping[str, Any]]  # unreal: {mesh, anim}, mitsuba: {proxy|mesh}
    path: tuple[Vec3, ...]
    speed_mps: float
    start_frame: int = 0
    scale: float = 1.0
    color: Vec3 = (0.5, 0.5, 0.5)  # proxy albedo chosen by the planner (linear)


@dataclass(frozen=True)
class RenderPlan:
    resolution: tuple[int, int]  # width, height
    passes: tuple[str, ...]  # subset of img, depth, normal, diffuse, flow, mask; img always
    exr_pixel_type: str = "half"  # half (clamped to 65504) | float
    exr_compression: str = "zip"  # lossless only: none, rle, zips, zip, piz, zstd
    quality: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per backend


@dataclass(frozen=True)
class ShotPlan:
    name: str
    seed: int
    spec_hash: str
    fps: float
    frames: int
    warmup_frames: int
    camera: CameraPlan
    exposure: ExposurePlan
    environment: EnvironmentPlan
    actors: tuple[ActorPlan, ...]
    render: RenderPlan
    timeline: tuple[FramePlan, ...]  # warm-up frames first (negative index), then 0..frames-1
    spec_path: str = ""
    # the parameters a variation drew (pipeline.variations); None for a plain shot
    variation: Mapping[str, Any] | None = None
    format: str = PLAN_FORMAT
    version: int = PLAN_VERSION
    tool_version: str = __version__

    # ---- access -----------------------------------------------------------------------
    def output_frames(self) -> tuple[FramePlan, ...]:
        return tuple(f for f in self.timeline if f.index >= 0)

    def frame(self, index: int) -> FramePlan:
        for f in self.timeline:
            if f.index == index:
                return f
        raise KeyError(f"plan {self.name!r} has no frame {index}")

    def camera_params(self, index: int) -> dict[str, Any]:
        """The ``camera_params/NNNN.json`` record of an output frame (dataset layout)."""
        f = self.frame(index)
        from pipeline.geometry import camera_to_world

        return {
            "frame": index,
            "time_s": f.time_s,
            "resolution": list(self.render.resolution),
            "K": [list(r) for r in self.camera.K],
            "world_to_camera": [list(r) for r in f.camera.world_to_camera],
            "camera_to_world": [list(r) for r in camera_to_world(f.camera.location,
                                                                 f.camera.rotation)],
            "location_m": list(f.camera.location),
            "rotation_deg": list(f.camera.rotation),
            "focal_length_mm": self.camera.focal_length_mm,
            "sensor_mm": list(self.camera.sensor_mm),
            "exposure": {"ev100": self.exposure.ev100, "scale": self.exposure.scale},
            "convention": "world: Unreal axes (X fwd, Y right, Z up), metres; camera: OpenCV "
                          "(x right, y down, z fwd); pixel centres at i+0.5",
        }

    # ---- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: same plan, same bytes (sorted keys, fixed float repr)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShotPlan:
        if data.get("format") != PLAN_FORMAT:
            raise S2RError(f"not an s2rhdr plan (format={data.get('format')!r})")
        if int(data.get("version", -1)) != PLAN_VERSION:
            raise S2RError(
                f"plan format version {data.get('version')} is not supported "
                f"(this tool reads version {PLAN_VERSION})",
                hint="re-plan the spec with this version: s2rhdr-render plan SPEC -o plan.json",
            )
        return _build(cls, data)


def _build(cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild nested frozen dataclasses from their ``asdict`` form."""
    kwargs = {}
    for name in (f.name for f in fields(cls)):
        if name not in data:
            continue
        value = data[name]
        sub = _NESTED.get((cls.__name__, name))
        if sub is not None:
            if isinstance(sub, tuple):  # a sequence of dataclasses
                value = tuple(_build(sub[0], v) for v in value)
            elif value is not None:
                value = _build(sub, value)
        elif isinstance(value, dict):
            value = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
        else:
            value = _t(value)
        kwargs[name] = value
    return cls(**kwargs)


_NESTED: dict[tuple[str, str], Any] = {
    ("ShotPlan", "camera"): CameraPlan,
    ("ShotPlan", "exposure"): ExposurePlan,
    ("ShotPlan", "environment"): EnvironmentPlan,
    ("ShotPlan", "actors"): (ActorPlan,),
    ("ShotPlan", "render"): RenderPlan,
    ("ShotPlan", "timeline"): (FramePlan,),
    ("FramePlan", "camera"): CameraPose,
    ("FramePlan", "actors"): (ActorPose,),
    ("EnvironmentPlan", "sun"): SunPlan,
    ("EnvironmentPlan", "sky"): SkyPlan,
    ("EnvironmentPlan", "lights"): (LightPlan,),
}


def load_plan(path: str | Path) -> ShotPlan:
    """Read a ``plan.json`` written by :meth:`ShotPlan.to_json`."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise S2RError(f"{p}: plan file not found") from None
    except (OSError, ValueError) as exc:
        raise S2RError(f"{p}: cannot read plan ({exc})") from None
    try:
        return ShotPlan.from_dict(data)
    except S2RError as exc:
        raise S2RError(f"{p}: {exc.one_line()}") from None
    except (TypeError, KeyError, ValueError) as exc:
        raise S2RError(f"{p}: malformed plan ({exc})") from None


def exposure_scale(ev100: float) -> float:
    """Pixel value per cd/m^2 for a fixed EV100: ``2**-EV100``, as Unreal's manual exposure.

    UE5's ``PostProcessEyeAdaptation.cpp`` maps luminance L to ``L / (LuminanceMax *
    2^EV100)`` with LuminanceMax = 1 unless ``r.DefaultFeature.AutoExposure.
    ExtendDefaultLuminanceRange`` is on (then ``0.78 / r.EyeAdaptation.LensAttenuation``,
    also 1 at the default 0.78): 1 cd/m^2 becomes 1.0 at EV100 0. The 1.2 of the photographic
    saturation-based exposure formula (``L_max = 1.2 * 2^EV100``) is not applied by UE5.
    """
    return 2.0 ** -float(ev100)
