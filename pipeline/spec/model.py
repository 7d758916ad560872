"""The scene spec model: frozen dataclasses, each field declared once with its default and
its converter (:func:`pipeline.spec.readers.spec_field`).

The YAML keys a section accepts are exactly the declared fields (``source`` and
``locations`` of :class:`SceneSpec` are bookkeeping, not keys). ``random=False`` marks
structural fields that cannot be randomised. Cross-field rules live in
``pipeline.spec.schema``. Standard library + PyYAML only (vendored into the Unreal editor).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.errors import SpecError
from pipeline.spec.readers import (
    COLOR,
    POINTS,
    POS,
    ROT,
    TINT,
    VEC3,
    Num,
    boolean,
    enum,
    envmap_source,
    list_of,
    mesh_file,
    num_range,
    passes,
    section,
    sequence_name,
    spec_field,
    tuple_of,
    unreal_asset,
)
from pipeline.spec.values import Loc, Vec3
from s2rhdr_loader.core.layout import LOSSLESS_COMPRESSIONS as LOSSLESS
from s2rhdr_loader.core.layout import PASSES

MITSUBA_PRESETS = ("street", "plaza", "interior", "parking", "park", "room", "none")
MATERIALS = ("diffuse", "paint", "metal", "glass", "mirror")
PROXIES = ("capsule", "quadruped", "box", "sphere")
ACTOR_KINDS = ("pedestrian", "animal", "vehicle")
DEFAULT_PROXY = {"pedestrian": "capsule", "animal": "quadruped", "vehicle": "box"}
DEFAULT_SPEED = {"pedestrian": 1.4, "animal": 1.2, "vehicle": 8.0}
HANDHELD_PROFILES = ("tripod", "standing", "walking", "running")
LIGHT_KINDS = ("area", "point", "spot")


# ---- environment ----------------------------------------------------------------------

@dataclass(frozen=True)
class UnrealEnvironment:
    level: str | None = spec_field(None, unreal_asset)  # /Game/... map asset
    # keep the level's own lights instead of the plan's
    use_level_lighting: bool = spec_field(False, boolean)


@dataclass(frozen=True)
class EnvmapSpec:
    """An equirectangular HDR map lighting the Mitsuba scene (replaces the analytic sky)."""

    map: str = spec_field(conv=envmap_source)  # a named map (pipeline.envmaps) or a file
    # yaw in degrees; None: turn the map so its sun lies at sun.azimuth_deg (else 0)
    rotation_deg: float | None = spec_field(None, Num(-360.0, 360.0))
    # horizontal illuminance of the map without its sun; None: the named map's value, or a
    # file's pixel values taken as cd/m^2
    illuminance_lux: float | None = spec_field(
        None, Num(0.0, 200000.0, what="lux on a horizontal surface, e.g. 15000 for a clear sky"))
    sun: str | None = spec_field(None, enum(("extract", "keep"), "sun handling"))
    # extracted sun, on a surface facing it; None: clear-sky value of its elevation
    sun_illuminance_lux: float | None = spec_field(None, Num(0.0, 200000.0))


@dataclass(frozen=True)
class PropSpec:
    """A static mesh placed in the Mitsuba set."""

    mesh: str = spec_field(conv=mesh_file, random=False)  # .obj/.ply/.gltf/.glb
    position: Vec3 = spec_field(conv=VEC3)
    rotation: Vec3 = spec_field((0.0, 0.0, 0.0), ROT)
    scale: float = spec_field(1.0, Num(0.0, 100.0, lo_open=True))
    color: Vec3 | None = spec_field(None, COLOR)  # None: the mesh's own texture/colour
    material: str = spec_field("diffuse", enum(MATERIALS, "material"))


@dataclass(frozen=True)
class MitsubaEnvironment:
    preset: str = spec_field("street", enum(MITSUBA_PRESETS, "preset"))
    envmap: EnvmapSpec | None = spec_field(None, section(EnvmapSpec))
    props: tuple[PropSpec, ...] = spec_field((), list_of(section(PropSpec), what="props"))
    # layout and material variation of the preset; None: the plan's seed
    set_seed: int | None = spec_field(None, Num(0, 2**31 - 1, integer=True))
    wetness: float | None = spec_field(None, Num(0.0, 1.0, what="0 dry .. 1 flooded"))


@dataclass(frozen=True)
class SunSpec:
    elevation_deg: float = spec_field(conv=Num(-18.0, 90.0, what="below -18 it is night"))
    azimuth_deg: float = spec_field(180.0, Num(-360.0, 360.0))
    # None: clear-sky value from the elevation
    illuminance_lux: float | None = spec_field(
        None, Num(0.0, 200000.0, what="clear noon sun is ~100000 lux"))
    visible: bool = spec_field(True, boolean)
    angular_diameter_deg: float = spec_field(0.53, Num(0.01, 20.0))
    color: Vec3 | None = spec_field(None, COLOR)  # None: warmer towards the horizon


@dataclass(frozen=True)
class SkySpec:
    # zenith cd/m^2; None: from the sun elevation
    luminance: float | None = spec_field(None, Num(0.0, 1e6, what="cd/m^2 at the zenith"))
    radiance_scale: float | None = spec_field(None, Num(0.0, 1000.0))  # x the default
    color: Vec3 = spec_field((0.8, 0.9, 1.1), TINT)


@dataclass(frozen=True)
class LightSpec:
    kind: str = spec_field(conv=enum(LIGHT_KINDS, "light kind"), random=False)
    position: Vec3 = spec_field(conv=VEC3)
    rotation: Vec3 | None = spec_field(None, ROT)
    target: Vec3 | None = spec_field(None, VEC3)
    size: tuple[float, float] = spec_field((0.5, 0.5),
                                           tuple_of(2, POS, " [width, height] in metres"))
    luminance: float | None = spec_field(  # area lights, cd/m^2
        None, Num(0.0, 1e9, what="cd/m^2 of the emitting surface"))
    intensity_cd: float | None = spec_field(None, Num(0.0, 1e9, what="candela"))  # point/spot
    cone_deg: float = spec_field(45.0, Num(1.0, 89.0, what="outer half-angle in degrees"))
    color: Vec3 = spec_field((1.0, 1.0, 1.0), TINT)
    visible: bool = spec_field(True, boolean)


@dataclass(frozen=True)
class EnvironmentSpec:
    unreal: UnrealEnvironment | None = spec_field(None, section(UnrealEnvironment),
                                                  random=False)
    mitsuba: MitsubaEnvironment = spec_field(MitsubaEnvironment(), section(MitsubaEnvironment),
                                             random=False)
    sun: SunSpec | None = spec_field(None, section(SunSpec))
    sky: SkySpec = spec_field(SkySpec(), section(SkySpec))
    lights: tuple[LightSpec, ...] = spec_field((), list_of(section(LightSpec), what="lights"))


# ---- camera ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HandheldSpec:
    profile: str = spec_field("tripod", enum(HANDHELD_PROFILES, "handheld profile"))
    amplitude_scale: float = spec_field(1.0, Num(0.0, 10.0))


@dataclass(frozen=True)
class RotationKey:
    frame: int = spec_field(conv=Num(integer=True), random=False)
    rotation: Vec3 = spec_field(conv=ROT)


@dataclass(frozen=True)
class CameraSpec:
    path: tuple[Vec3, ...] = spec_field(conv=POINTS, random=False)
    focal_length_mm: float = spec_field(24.0, Num(1.0, 2000.0))
    sensor_mm: tuple[float, float] = spec_field(
        (36.0, 20.25), tuple_of(2, Num(1.0, 100.0), " [width, height] in mm"))
    interpolation: str = spec_field("linear", enum(("linear", "catmull_rom"), "interpolation"))
    look_at: Vec3 | None = spec_field(None, VEC3)
    rotation: Vec3 | None = spec_field(None, ROT)
    rotation_keys: tuple[RotationKey, ...] = spec_field(
        (), list_of(section(RotationKey), 1, "rotation keys"), random=False)
    handheld: HandheldSpec = spec_field(HandheldSpec(), section(HandheldSpec))
    fstop: float = spec_field(8.0, Num(0.5, 64.0))
    focus_distance_m: float = spec_field(10.0, Num(0.01, 1e6))


@dataclass(frozen=True)
class ExposureSpec:
    ev100: float = spec_field(conv=Num(-10.0, 25.0, what="sunny day ~15, dusk ~8, indoor ~7, "
                                                         "night ~2"))


# ---- actors ---------------------------------------------------------------------------

@dataclass(frozen=True)
class UnrealActor:
    mesh: str = spec_field(conv=unreal_asset)
    anim: str | None = spec_field(None, unreal_asset)


@dataclass(frozen=True)
class MitsubaActor:
    proxy: str = spec_field("capsule", enum(PROXIES, "proxy"))  # default: by the actor's kind
    # .ply / .obj / .gltf / .glb, relative to the spec's folder (or under an asset root)
    mesh: str | None = spec_field(None, mesh_file, random=False)
    material: str | None = spec_field(None, enum(MATERIALS, "material"))  # None: by kind


@dataclass(frozen=True)
class ActorSpec:
    kind: str = spec_field(conv=enum(ACTOR_KINDS, "actor kind"), random=False)
    path: tuple[Vec3, ...] = spec_field(conv=POINTS, random=False)
    speed_mps: float = spec_field(  # default: DEFAULT_SPEED of the kind
        None, Num(0.0, 100.0, what="metres per second; walking ~1.4"))
    unreal: UnrealActor | None = spec_field(None, section(UnrealActor), random=False)
    mitsuba: MitsubaActor = spec_field(MitsubaActor(), section(MitsubaActor), random=False)
    start_frame: int = spec_field(0, Num(-100000, 100000, integer=True))
    scale: float = spec_field(1.0, Num(0.0, 100.0, lo_open=True))
    color: Vec3 | None = spec_field(None, COLOR)  # None: the planner picks a proxy albedo
    at_end: str = spec_field("hide", enum(("hide", "stop", "loop"), "at_end"))
    yaw_deg: float | None = spec_field(None, Num(-360.0, 360.0))  # None: path tangent


# ---- render ---------------------------------------------------------------------------

@dataclass(frozen=True)
class UnrealQuality:
    spatial_samples: int = spec_field(8, Num(1, 65536, integer=True), random=False)
    temporal_samples: int = spec_field(1, Num(1, 1024, integer=True), random=False)
    warmup_frames: int = spec_field(32, Num(0, 10000, integer=True), random=False)
    path_tracer: bool = spec_field(False, boolean, random=False)


@dataclass(frozen=True)
class MitsubaQuality:
    spp: int = spec_field(64, Num(1, 1 << 20, integer=True), random=False)


@dataclass(frozen=True)
class QualitySpec:
    unreal: UnrealQuality = spec_field(UnrealQuality(), section(UnrealQuality), random=False)
    mitsuba: MitsubaQuality = spec_field(MitsubaQuality(), section(MitsubaQuality),
                                         random=False)


@dataclass(frozen=True)
class ExrSpec:
    pixel_type: str = spec_field("half", enum(("half", "float"), "pixel type"), random=False)
    compression: str = spec_field("zip", enum(LOSSLESS, "compression"), random=False)


@dataclass(frozen=True)
class RenderSpec:
    resolution: tuple[int, int] = spec_field(
        (640, 360), tuple_of(2, Num(1, 16384, integer=True, what="pixels, e.g. [640, 360]"),
                             " [width, height]"), random=False)
    quality: QualitySpec = spec_field(QualitySpec(), section(QualitySpec), random=False)
    passes: tuple[str, ...] = spec_field(PASSES, passes, random=False)
    exr: ExrSpec = spec_field(ExrSpec(), section(ExrSpec), random=False)


# ---- variations -----------------------------------------------------------------------

@dataclass(frozen=True)
class RandomizeSpec:
    """How ``--variations N`` turns this spec into N distinct shots (pipeline.variations)."""

    variations: int = spec_field(0, Num(0, 100000, integer=True), random=False)
    ev100_offset: tuple[float, float] = spec_field((-0.5, 0.5), num_range(Num(-5.0, 5.0)),
                                                   random=False)
    rotation_offset_deg: tuple[float, float] = spec_field(
        (-30.0, 30.0), num_range(Num(-180.0, 180.0)), random=False)
    sun_elevation_offset_deg: tuple[float, float] = spec_field(
        (-5.0, 5.0), num_range(Num(-30.0, 30.0)), random=False)
    actor_offset_m: float = spec_field(1.5, Num(0.0, 50.0), random=False)
    actor_speed_scale: tuple[float, float] = spec_field(
        (0.8, 1.25), num_range(Num(0.01, 10.0)), random=False)
    actor_start_frames: tuple[int, int] = spec_field(
        (-5, 5), num_range(Num(-10000, 10000, integer=True)), random=False)
    camera_offset_m: float = spec_field(0.3, Num(0.0, 10.0), random=False)
    new_set: bool = spec_field(True, boolean, random=False)


# ---- the spec -------------------------------------------------------------------------

@dataclass(frozen=True)
class SceneSpec:
    name: str = spec_field(conv=sequence_name, random=False)
    frames: int = spec_field(conv=Num(1, 100000, integer=True, what="number of output frames"),
                             random=False)
    camera: CameraSpec = spec_field(conv=section(CameraSpec), random=False)
    exposure: ExposureSpec = spec_field(conv=section(ExposureSpec), random=False)
    seed: int = spec_field(0, Num(0, 2**63 - 1, integer=True), random=False)
    fps: float = spec_field(30.0, Num(1.0, 1000.0), random=False)
    warmup_frames: int = spec_field(0, Num(0, 10000, integer=True), random=False)
    environment: EnvironmentSpec = spec_field(EnvironmentSpec(), section(EnvironmentSpec),
                                              random=False)
    actors: tuple[ActorSpec, ...] = spec_field((), list_of(section(ActorSpec), what="actors"),
                                               random=False)
    render: RenderSpec = spec_field(RenderSpec(), section(RenderSpec), random=False)
    randomize: RandomizeSpec = spec_field(RandomizeSpec(), section(RandomizeSpec),
                                          random=False)
    source: str = field(default="", compare=False)
    # field path -> (file, line, column); lets later checks point at the YAML
    locations: Mapping[str, Loc] = field(default_factory=dict, compare=False, repr=False)

    def location(self, path: str) -> Loc:
        """Best location for a field path (falls back to its parents, then the file)."""
        p = path
        while p:
            if p in self.locations:
                return self.locations[p]
            cut = max(p.rfind("."), p.rfind("["))
            p = p[:cut] if cut > 0 else ""
        return (self.source, 1, 1)

    def error(self, path: str, message: str, hint: str | None = None) -> SpecError:
        f, line, col = self.location(path)
        return SpecError(f, line, col, message, hint=hint)
