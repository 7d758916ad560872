"""Scene spec model: parse and validate ``scene_specs/*.yaml`` into frozen dataclasses.

Why so strict: a typo in a spec silently renders the wrong dataset for hours, so every
unknown key, wrong type or impossible value is rejected up front with a one-line
``file:line:column: message (hint)`` error (``pipeline.errors.SpecError``).

Loading never executes anything: the YAML is *composed* into nodes by a ``SafeLoader``
subclass, every tag outside plain YAML data is refused, and values are built from the nodes
here, so every value keeps its line and column. Randomisation (``{uniform: [a, b]}``,
``{normal: [mu, sigma]}``, ``{choice: [...]}``) is validated but left **unresolved**
(:class:`Uniform`, :class:`Normal`, :class:`Choice` values); ``pipeline.randomize.resolve``
draws it from the seed, which the planner does. See ``docs/scene-spec.md``.

Standard library + PyYAML only (vendored into the Unreal editor).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import SpecError
from s2rhdr_loader.core.layout import LOSSLESS_COMPRESSIONS as LOSSLESS
from s2rhdr_loader.core.layout import LOSSY_COMPRESSIONS as LOSSY
from s2rhdr_loader.core.layout import NAME_RE, PASSES

Vec3 = tuple[float, float, float]
Loc = tuple[str, int, int]  # file, line, column (1-based)

MITSUBA_PRESETS = ("street", "plaza", "interior", "parking", "park")
PROXIES = ("capsule", "quadruped", "box", "sphere")
ACTOR_KINDS = ("pedestrian", "animal", "vehicle")
DEFAULT_PROXY = {"pedestrian": "capsule", "animal": "quadruped", "vehicle": "box"}
DEFAULT_SPEED = {"pedestrian": 1.4, "animal": 1.2, "vehicle": 8.0}
HANDHELD_PROFILES = ("tripod", "standing", "walking", "running")
LIGHT_KINDS = ("area", "point", "spot")
DEFAULTS_FILE = "_defaults.yaml"
MAX_NODES = 200_000  # alias bombs ("billion laughs") stop here
_DIST_KEYS = ("choice", "uniform", "normal")


# ---- randomisation values (resolved later by pipeline.randomize) ----------------------

@dataclass(frozen=True)
class Uniform:
    """Uniform draw in ``[lo, hi]`` (integers: inclusive ``randint``)."""

    lo: float
    hi: float
    integer: bool = False
    dist: str = "uniform"


@dataclass(frozen=True)
class Normal:
    """Gaussian draw truncated to the field's valid range (redrawn until inside it)."""

    mu: float
    sigma: float
    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    lo_open: bool = False  # the range excludes ``lo`` (e.g. scale > 0)
    dist: str = "normal"


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (each already validated as a value of the field)."""

    options: tuple
    dist: str = "choice"


RANDOM_TYPES = (Uniform, Normal, Choice)


def is_random(value: Any) -> bool:
    return isinstance(value, RANDOM_TYPES)


# ---- the spec model -------------------------------------------------------------------

@dataclass(frozen=True)
class UnrealEnvironment:
    level: str | None = None  # /Game/... map asset
    use_level_lighting: bool = False  # keep the level's own lights instead of the plan's


@dataclass(frozen=True)
class MitsubaEnvironment:
    preset: str = "street"


@dataclass(frozen=True)
class SunSpec:
    elevation_deg: float = 45.0
    azimuth_deg: float = 180.0
    illuminance_lux: float | None = None  # None: clear-sky value from the elevation
    visible: bool = True
    angular_diameter_deg: float = 0.53
    color: Vec3 | None = None  # None: warmer towards the horizon


@dataclass(frozen=True)
class SkySpec:
    luminance: float | None = None  # zenith cd/m^2; None: from the sun elevation
    radiance_scale: float | None = None  # multiplies the default luminance
    color: Vec3 = (0.8, 0.9, 1.1)


@dataclass(frozen=True)
class LightSpec:
    kind: str
    position: Vec3
    rotation: Vec3 | None = None
    target: Vec3 | None = None
    size: tuple[float, float] = (0.5, 0.5)
    luminance: float | None = None  # area lights, cd/m^2
    intensity_cd: float | None = None  # point / spot lights
    cone_deg: float = 45.0
    color: Vec3 = (1.0, 1.0, 1.0)
    visible: bool = True


@dataclass(frozen=True)
class EnvironmentSpec:
    unreal: UnrealEnvironment | None = None
    mitsuba: MitsubaEnvironment = MitsubaEnvironment()
    sun: SunSpec | None = None
    sky: SkySpec = SkySpec()
    lights: tuple[LightSpec, ...] = ()


@dataclass(frozen=True)
class HandheldSpec:
    profile: str = "tripod"
    amplitude_scale: float = 1.0


@dataclass(frozen=True)
class RotationKey:
    frame: int
    rotation: Vec3


@dataclass(frozen=True)
class CameraSpec:
    path: tuple[Vec3, ...]
    focal_length_mm: float = 24.0
    sensor_mm: tuple[float, float] = (36.0, 20.25)
    interpolation: str = "linear"
    look_at: Vec3 | None = None
    rotation: Vec3 | None = None
    rotation_keys: tuple[RotationKey, ...] = ()
    handheld: HandheldSpec = HandheldSpec()
    fstop: float = 8.0
    focus_distance_m: float = 10.0


@dataclass(frozen=True)
class ExposureSpec:
    ev100: float


@dataclass(frozen=True)
class UnrealActor:
    mesh: str
    anim: str | None = None


@dataclass(frozen=True)
class MitsubaActor:
    proxy: str = "capsule"
    mesh: str | None = None  # .ply / .obj, relative to the spec's folder


@dataclass(frozen=True)
class ActorSpec:
    kind: str
    path: tuple[Vec3, ...]
    speed_mps: float
    unreal: UnrealActor | None = None
    mitsuba: MitsubaActor = MitsubaActor()
    start_frame: int = 0
    scale: float = 1.0
    color: Vec3 | None = None  # None: the planner picks a proxy albedo from the seed
    at_end: str = "hide"  # hide | stop | loop
    yaw_deg: float | None = None  # None: follow the path tangent


@dataclass(frozen=True)
class UnrealQuality:
    spatial_samples: int = 8
    temporal_samples: int = 1
    warmup_frames: int = 32
    path_tracer: bool = False


@dataclass(frozen=True)
class MitsubaQuality:
    spp: int = 64


@dataclass(frozen=True)
class QualitySpec:
    unreal: UnrealQuality = UnrealQuality()
    mitsuba: MitsubaQuality = MitsubaQuality()


@dataclass(frozen=True)
class ExrSpec:
    pixel_type: str = "half"
    compression: str = "zip"


@dataclass(frozen=True)
class RenderSpec:
    resolution: tuple[int, int] = (640, 360)
    quality: QualitySpec = QualitySpec()
    passes: tuple[str, ...] = PASSES
    exr: ExrSpec = ExrSpec()


@dataclass(frozen=True)
class SceneSpec:
    name: str
    frames: int
    camera: CameraSpec
    exposure: ExposureSpec
    seed: int = 0
    fps: float = 30.0
    warmup_frames: int = 0
    environment: EnvironmentSpec = EnvironmentSpec()
    actors: tuple[ActorSpec, ...] = ()
    render: RenderSpec = RenderSpec()
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


# ---- YAML -> located nodes ------------------------------------------------------------

class _Node:
    __slots__ = ("loc",)

    def __init__(self, loc: Loc):
        self.loc = loc


class _Scalar(_Node):
    __slots__ = ("value", "plain")

    def __init__(self, loc: Loc, value: Any, plain: bool):
        super().__init__(loc)
        self.value, self.plain = value, plain


class _Seq(_Node):
    __slots__ = ("items",)

    def __init__(self, loc: Loc, items: list[_Node]):
        super().__init__(loc)
        self.items = items


class _Map(_Node):
    __slots__ = ("items",)

    def __init__(self, loc: Loc, items: dict[str, tuple[_Node, Loc]]):
        super().__init__(loc)
        self.items = items  # key -> (value node, key location)


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that only composes nodes; values are built by :func:`_to_nodes`."""


_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


def _loc(path: str, node: yaml.Node) -> Loc:
    m = node.start_mark
    return (path, m.line + 1, m.column + 1)


def _tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _fail(loc: Loc, message: str, hint: str | None = None) -> SpecError:
    return SpecError(loc[0], loc[1], loc[2], message, hint=hint)


def _to_nodes(path: str, loader: SpecLoader, node: yaml.Node, budget: list[int]) -> _Node:
    budget[0] -= 1
    if budget[0] < 0:
        raise _fail(_loc(path, node), f"spec too large (more than {MAX_NODES} YAML nodes)",
                    hint="remove recursive aliases")
    loc = _loc(path, node)
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise _fail(loc, f"YAML tag {_tag(node.tag)!r} is not allowed",
                        hint="specs are plain data: use strings, numbers, lists and mappings")
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _fail(loc, f"bad scalar value ({_yaml_problem(exc)})") from None
        return _Scalar(loc, value, node.style is None)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise _fail(loc, f"YAML tag {_tag(node.tag)!r} is not allowed",
                        hint="specs are plain data: use strings, numbers, lists and mappings")
        return _Seq(loc, [_to_nodes(path, loader, n, budget) for n in node.value])
    if node.tag != _TAG + "map":
        raise _fail(loc, f"YAML tag {_tag(node.tag)!r} is not allowed",
                    hint="specs are plain data: use strings, numbers, lists and mappings")
    own = sum(1 for k, _ in node.value if k.tag != _TAG + "merge")
    try:
        loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor) go first, own keys win
    except yaml.YAMLError as exc:
        raise _fail(loc, f"bad merge key ({_yaml_problem(exc)})") from None
    n_merged = len(node.value) - own
    items: dict[str, tuple[_Node, Loc]] = {}
    own_keys: set[str] = set()
    for i, (knode, vnode) in enumerate(node.value):
        kloc = _loc(path, knode)
        if not isinstance(knode, yaml.ScalarNode) or knode.tag != _TAG + "str":
            raise _fail(kloc, "mapping keys must be plain strings",
                        hint="quote the key or fix the indentation")
        key = knode.value
        if i >= n_merged:
            if key in own_keys:
                first = items[key][1]
                raise _fail(kloc, f"duplicate key {key!r} (first defined at line {first[1]})",
                            hint="remove one of them")
            own_keys.add(key)
        items[key] = (_to_nodes(path, loader, vnode, budget), kloc)
    return _Map(loc, items)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    return " ".join(str(problem).split())


def _read_yaml(path: Path) -> _Node | None:
    """Compose one YAML file into located nodes (None for an empty file)."""
    spath = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(spath, None, None, "spec file not found",
                        hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise SpecError(spath, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                        hint="save the spec as UTF-8") from None
    except OSError as exc:
        raise SpecError(spath, None, None, f"cannot read spec ({exc.strerror})") from None
    loader = SpecLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        return _to_nodes(spath, loader, root, [MAX_NODES])
    except SpecError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise SpecError(spath, line, col, f"YAML syntax error: {_yaml_problem(exc)}",
                        hint="check indentation, colons and brackets near this line") from None
    except yaml.YAMLError as exc:
        raise SpecError(spath, None, None, f"YAML error: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise SpecError(spath, None, None, "YAML nesting too deep") from None
    finally:
        loader.dispose()


def _is_dist(node: _Node) -> bool:
    return isinstance(node, _Map) and len(node.items) == 1 and next(iter(node.items)) in _DIST_KEYS


def _merge(base: _Node, over: _Node) -> _Node:
    """Deep-merge ``over`` onto ``base`` (mappings merge, everything else is replaced)."""
    if not isinstance(base, _Map) or not isinstance(over, _Map) or _is_dist(base) \
            or _is_dist(over):
        return over
    items = dict(base.items)
    for key, (value, kloc) in over.items.items():
        items[key] = (_merge(items[key][0], value) if key in items else value, kloc)
    return _Map(over.loc, items)


# ---- validation -----------------------------------------------------------------------

_EXP_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _describe(node: _Node) -> str:
    if isinstance(node, _Map):
        return "a mapping"
    if isinstance(node, _Seq):
        return "a list"
    v = node.value  # type: ignore[attr-defined]
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"{str(v).lower()}"
    if isinstance(v, (int, float)):
        return f"the number {v!r}"
    return f"the string {str(v)!r}"


Conv = Callable[["_Reader", _Node, str], Any]


class _Num:
    """Numeric field with bounds; also builds uniform/normal distributions for it."""

    def __init__(self, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 integer: bool = False, what: str = ""):
        self.lo, self.hi, self.lo_open, self.integer, self.what = lo, hi, lo_open, integer, what

    def bounds_text(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"between {self.lo:g} and {self.hi:g}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return f"<= {self.hi:g}"

    def number(self, node: _Node, path: str) -> float:
        kind = "an integer" if self.integer else "a number"
        if not isinstance(node, _Scalar):
            raise _fail(node.loc, f"{path} must be {kind}, got {_describe(node)}",
                        hint=self.what or None)
        v = node.value
        if isinstance(v, str) and node.plain and _EXP_RE.match(v):
            v = float(v)  # PyYAML reads 1e5 (no dot) as a string
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(node.loc, f"{path} must be {kind}, got {_describe(node)}",
                        hint=self.what or None)
        if isinstance(v, float) and not math.isfinite(v):
            raise _fail(node.loc, f"{path} must be finite, got {v}")
        if self.integer:
            if isinstance(v, float) and not v.is_integer():
                raise _fail(node.loc, f"{path} must be an integer, got {v!r}")
            return int(v)
        return float(v)

    def check(self, value: float, loc: Loc, path: str) -> None:
        bad = (self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo))) \
            or (self.hi is not None and value > self.hi)
        if bad:
            raise _fail(loc, f"{path} must be {self.bounds_text()}, got {value:g}",
                        hint=self.what or None)

    def __call__(self, r: _Reader, node: _Node, path: str) -> Any:
        value = self.number(node, path)
        self.check(value, node.loc, path)
        return value

    def dist(self, r: _Reader, kind: str, node: _Node, path: str) -> Uniform | Normal:
        if not isinstance(node, _Seq) or len(node.items) != 2:
            form = "[low, high]" if kind == "uniform" else "[mean, sigma]"
            raise _fail(node.loc, f"{path}: {kind} needs a list of two numbers {form}")
        a = self.number(node.items[0], f"{path}.{kind}[0]")
        b = self.number(node.items[1], f"{path}.{kind}[1]")
        if kind == "uniform":
            if a > b:
                raise _fail(node.loc, f"{path}: uniform range [{a:g}, {b:g}] has low > high",
                            hint="write [low, high]")
            self.check(a, node.items[0].loc, path)
            self.check(b, node.items[1].loc, path)
            return Uniform(a, b, self.integer)
        if b < 0:
            raise _fail(node.items[1].loc, f"{path}: normal sigma must be >= 0, got {b:g}")
        self.check(a, node.items[0].loc, path)
        return Normal(a, b, self.lo, self.hi, self.integer, self.lo_open)


class _Reader:
    """Builds typed values from located nodes and records where each field came from."""

    def __init__(self) -> None:
        self.locs: dict[str, Loc] = {}

    def value(self, node: _Node, path: str, conv: Conv, random_ok: bool = True) -> Any:
        self.locs[path] = node.loc
        if _is_dist(node):
            assert isinstance(node, _Map)
            kind, (arg, kloc) = next(iter(node.items.items()))
            if not random_ok:
                raise _fail(kloc, f"{path} cannot be randomised",
                            hint="give a fixed value here")
            if kind == "choice":
                if not isinstance(arg, _Seq) or not arg.items:
                    raise _fail(arg.loc, f"{path}: choice needs a non-empty list of options")
                return Choice(tuple(self.value(o, f"{path}", conv, random_ok=False)
                                    for o in arg.items))
            if not isinstance(conv, _Num):
                raise _fail(kloc, f"{path}: {kind} only applies to numbers",
                            hint="use {choice: [...]} for other values")
            return conv.dist(self, kind, arg, path)
        return conv(self, node, path)

    def mapping(self, node: _Node, path: str, allowed: Iterable[str],
                required: tuple[str, ...] = ()) -> _Fields:
        label = path or "the spec"
        if not isinstance(node, _Map):
            raise _fail(node.loc, f"{label} must be a mapping (key: value), got {_describe(node)}")
        allowed = tuple(allowed)
        for key, (_, kloc) in node.items.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else \
                    f"allowed keys: {', '.join(allowed)}"
                raise _fail(kloc, f"unknown key {key!r} in {label}", hint=hint)
        for key in required:
            if key not in node.items:
                raise _fail(node.loc, f"{label} is missing the required key {key!r}",
                            hint="see docs/scene-spec.md")
        return _Fields(self, node, path, frozenset(required))


class _Fields:
    def __init__(self, reader: _Reader, node: _Map, path: str, required: frozenset[str]):
        self.r, self.node, self.path, self.required = reader, node, path, required

    def has(self, key: str) -> bool:
        return key in self.node.items

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, conv: Conv, default: Any = None, random_ok: bool = True) -> Any:
        if key not in self.node.items:
            return default
        node = self.node.items[key][0]
        if isinstance(node, _Scalar) and node.value is None and default is None \
                and key not in self.required:  # `key:` left empty = not given
            return None
        return self.r.value(node, self.sub(key), conv, random_ok)

    def loc(self, key: str | None = None) -> Loc:
        if key is None or key not in self.node.items:
            return self.node.loc
        return self.node.items[key][0].loc


# -- converters -------------------------------------------------------------------------

def _string(pattern: re.Pattern[str] | None = None, hint: str = "") -> Conv:
    def conv(r: _Reader, node: _Node, path: str) -> str:
        if not isinstance(node, _Scalar) or not isinstance(node.value, str):
            raise _fail(node.loc, f"{path} must be a string, got {_describe(node)}")
        if pattern is not None and not pattern.match(node.value):
            raise _fail(node.loc, f"{path} {node.value!r} is not valid", hint=hint or None)
        return node.value
    return conv


def _enum(options: Iterable[str], what: str = "") -> Conv:
    options = tuple(options)

    def conv(r: _Reader, node: _Node, path: str) -> str:
        if not isinstance(node, _Scalar) or not isinstance(node.value, str):
            raise _fail(node.loc, f"{path} must be one of {', '.join(options)}, "
                                  f"got {_describe(node)}")
        if node.value not in options:
            close = difflib.get_close_matches(node.value, options, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(options)}"
            raise _fail(node.loc, f"{path}: unknown {what or 'value'} {node.value!r}", hint=hint)
        return node.value
    return conv


def _bool(r: _Reader, node: _Node, path: str) -> bool:
    if not isinstance(node, _Scalar) or not isinstance(node.value, bool):
        raise _fail(node.loc, f"{path} must be true or false, got {_describe(node)}")
    return node.value


def _tuple(n: int, item: Conv, what: str = "") -> Conv:
    def conv(r: _Reader, node: _Node, path: str) -> tuple:
        if not isinstance(node, _Seq) or len(node.items) != n:
            got = f"a list of {len(node.items)}" if isinstance(node, _Seq) else _describe(node)
            raise _fail(node.loc, f"{path} must be a list of {n} numbers{what}, got {got}")
        return tuple(r.value(it, f"{path}[{i}]", item) for i, it in enumerate(node.items))
    return conv


def _list(item: Conv, min_len: int = 0, what: str = "items") -> Conv:
    def conv(r: _Reader, node: _Node, path: str) -> tuple:
        if not isinstance(node, _Seq):
            raise _fail(node.loc, f"{path} must be a list of {what}, got {_describe(node)}")
        if len(node.items) < min_len:
            raise _fail(node.loc, f"{path} needs at least {min_len} {what}, "
                                  f"got {len(node.items)}")
        return tuple(r.value(it, f"{path}[{i}]", item) for i, it in enumerate(node.items))
    return conv


_ANY = _Num()
_VEC3 = _tuple(3, _ANY, " [x, y, z] in metres")
_ROT = _tuple(3, _ANY, " [roll, pitch, yaw] in degrees")
_COLOR = _tuple(3, _Num(0.0, 1.0, what="linear RGB albedo/tint in 0..1"), " [r, g, b]")
_POS = _Num(0.0, lo_open=True)
_NONNEG = _Num(0.0)
_ASSET_RE = re.compile(r"^/[A-Za-z0-9_][A-Za-z0-9_./-]*$")
_ASSET = _string(_ASSET_RE, "Unreal asset paths look like /Game/Folder/Asset (no spaces)")


def _asset(r: _Reader, node: _Node, path: str) -> str:
    value = _ASSET(r, node, path)
    if ".." in value.split("/"):
        raise _fail(node.loc, f"{path} {value!r} must not contain '..'")
    return value


def _name(r: _Reader, node: _Node, path: str) -> str:
    value = _string()(r, node, path)
    if not NAME_RE.match(value) or len(value) > 100:
        raise _fail(node.loc, f"name {value!r} is not a valid sequence name",
                    hint="use 1-100 characters a-z, 0-9, '_' or '-' (it becomes a folder name)")
    return value


def _sun(r: _Reader, node: _Node, path: str) -> SunSpec:
    f = r.mapping(node, path, ("elevation_deg", "azimuth_deg", "illuminance_lux", "visible",
                               "angular_diameter_deg", "color"), required=("elevation_deg",))
    return SunSpec(
        elevation_deg=f.get("elevation_deg", _Num(-18.0, 90.0, what="below -18 it is night")),
        azimuth_deg=f.get("azimuth_deg", _Num(-360.0, 360.0), 180.0),
        illuminance_lux=f.get("illuminance_lux", _Num(0.0, 200000.0,
                                                      what="clear noon sun is ~100000 lux")),
        visible=f.get("visible", _bool, True),
        angular_diameter_deg=f.get("angular_diameter_deg", _Num(0.01, 20.0), 0.53),
        color=f.get("color", _COLOR),
    )


def _sky(r: _Reader, node: _Node, path: str) -> SkySpec:
    f = r.mapping(node, path, ("luminance", "radiance_scale", "color"))
    if f.has("luminance") and f.has("radiance_scale"):
        raise _fail(f.loc("radiance_scale"), f"{path}: give luminance or radiance_scale, not both")
    return SkySpec(
        luminance=f.get("luminance", _Num(0.0, 1e6, what="cd/m^2 at the zenith")),
        radiance_scale=f.get("radiance_scale", _Num(0.0, 1000.0)),
        color=f.get("color", _tuple(3, _NONNEG, " [r, g, b]"), (0.8, 0.9, 1.1)),
    )


def _light(r: _Reader, node: _Node, path: str) -> LightSpec:
    f = r.mapping(node, path, ("kind", "position", "rotation", "target", "size", "luminance",
                               "intensity_cd", "cone_deg", "color", "visible"),
                  required=("kind", "position"))
    kind = f.get("kind", _enum(LIGHT_KINDS, "light kind"), random_ok=False)
    if f.has("rotation") and f.has("target"):
        raise _fail(f.loc("target"), f"{path}: give rotation or target, not both")
    if kind == "area" and f.has("intensity_cd"):
        raise _fail(f.loc("intensity_cd"), f"{path}: area lights take luminance (cd/m^2)",
                    hint="intensity_cd is for point and spot lights")
    if kind != "area" and f.has("luminance"):
        raise _fail(f.loc("luminance"), f"{path}: {kind} lights take intensity_cd (candela)",
                    hint="luminance is for area lights")
    if kind == "point" and (f.has("cone_deg") or f.has("rotation") or f.has("target")):
        key = next(k for k in ("cone_deg", "rotation", "target") if f.has(k))
        raise _fail(f.loc(key), f"{path}: point lights have no {key}",
                    hint="use kind: spot for a directed light")
    return LightSpec(
        kind=kind,
        position=f.get("position", _VEC3),
        rotation=f.get("rotation", _ROT),
        target=f.get("target", _VEC3),
        size=f.get("size", _tuple(2, _POS, " [width, height] in metres"), (0.5, 0.5)),
        luminance=f.get("luminance", _Num(0.0, 1e9, what="cd/m^2 of the emitting surface")),
        intensity_cd=f.get("intensity_cd", _Num(0.0, 1e9, what="candela")),
        cone_deg=f.get("cone_deg", _Num(1.0, 89.0, what="outer half-angle in degrees"), 45.0),
        color=f.get("color", _tuple(3, _NONNEG, " [r, g, b]"), (1.0, 1.0, 1.0)),
        visible=f.get("visible", _bool, True),
    )


def _environment(r: _Reader, node: _Node, path: str) -> EnvironmentSpec:
    f = r.mapping(node, path, ("unreal", "mitsuba", "sun", "sky", "lights"))
    unreal = None
    if f.has("unreal"):
        u = r.mapping(f.node.items["unreal"][0], f.sub("unreal"), ("level", "use_level_lighting"))
        unreal = UnrealEnvironment(level=u.get("level", _asset, random_ok=True),
                                   use_level_lighting=u.get("use_level_lighting", _bool, False))
    mitsuba = MitsubaEnvironment()
    if f.has("mitsuba"):
        m = r.mapping(f.node.items["mitsuba"][0], f.sub("mitsuba"), ("preset",))
        mitsuba = MitsubaEnvironment(preset=m.get("preset", _enum(MITSUBA_PRESETS, "preset"),
                                                  "street"))
    return EnvironmentSpec(
        unreal=unreal, mitsuba=mitsuba,
        sun=f.get("sun", _sun),
        sky=f.get("sky", _sky, SkySpec()),
        lights=f.get("lights", _list(_light, what="lights"), ()),
    )


def _handheld(r: _Reader, node: _Node, path: str) -> HandheldSpec:
    f = r.mapping(node, path, ("profile", "amplitude_scale"))
    return HandheldSpec(
        profile=f.get("profile", _enum(HANDHELD_PROFILES, "handheld profile"), "tripod"),
        amplitude_scale=f.get("amplitude_scale", _Num(0.0, 10.0), 1.0),
    )


def _rotation_key(r: _Reader, node: _Node, path: str) -> RotationKey:
    f = r.mapping(node, path, ("frame", "rotation"), required=("frame", "rotation"))
    return RotationKey(frame=f.get("frame", _Num(integer=True), random_ok=False),
                       rotation=f.get("rotation", _ROT))


def _camera(r: _Reader, node: _Node, path: str) -> CameraSpec:
    f = r.mapping(node, path, ("focal_length_mm", "sensor_mm", "path", "interpolation", "look_at",
                               "rotation", "rotation_keys", "handheld", "fstop",
                               "focus_distance_m"), required=("path",))
    aims = [k for k in ("look_at", "rotation", "rotation_keys") if f.has(k)]
    if not aims:
        raise _fail(f.loc(), "camera needs one of look_at, rotation or rotation_keys",
                    hint="e.g. look_at: [10, 0, 1.5]")
    if len(aims) > 1:
        raise _fail(f.loc(aims[1]), f"camera: give only one of {' / '.join(aims)}")
    keys = f.get("rotation_keys", _list(_rotation_key, 1, "rotation keys"), (), random_ok=False)
    frames = [k.frame for k in keys]
    if frames != sorted(set(frames)):
        raise _fail(f.loc("rotation_keys"), "camera.rotation_keys frames must be strictly "
                                            "increasing")
    return CameraSpec(
        path=f.get("path", _list(_VEC3, 1, "points [x, y, z]"), random_ok=False),
        focal_length_mm=f.get("focal_length_mm", _Num(1.0, 2000.0), 24.0),
        sensor_mm=f.get("sensor_mm", _tuple(2, _Num(1.0, 100.0), " [width, height] in mm"),
                        (36.0, 20.25)),
        interpolation=f.get("interpolation", _enum(("linear", "catmull_rom"), "interpolation"),
                            "linear"),
        look_at=f.get("look_at", _VEC3),
        rotation=f.get("rotation", _ROT),
        rotation_keys=keys,
        handheld=f.get("handheld", _handheld, HandheldSpec()),
        fstop=f.get("fstop", _Num(0.5, 64.0), 8.0),
        focus_distance_m=f.get("focus_distance_m", _Num(0.01, 1e6), 10.0),
    )


def _exposure(r: _Reader, node: _Node, path: str) -> ExposureSpec:
    f = r.mapping(node, path, ("ev100",), required=("ev100",))
    return ExposureSpec(ev100=f.get("ev100", _Num(-10.0, 25.0, what="sunny day ~15, dusk ~8, "
                                                                    "indoor ~7, night ~2")))


def _actor(r: _Reader, node: _Node, path: str) -> ActorSpec:
    f = r.mapping(node, path, ("kind", "unreal", "mitsuba", "path", "speed_mps", "start_frame",
                               "scale", "color", "at_end", "yaw_deg"), required=("kind", "path"))
    kind = f.get("kind", _enum(ACTOR_KINDS, "actor kind"), random_ok=False)
    unreal = None
    if f.has("unreal"):
        u = r.mapping(f.node.items["unreal"][0], f.sub("unreal"), ("mesh", "anim"),
                      required=("mesh",))
        unreal = UnrealActor(mesh=u.get("mesh", _asset), anim=u.get("anim", _asset))
    mitsuba = MitsubaActor(proxy=DEFAULT_PROXY[kind])
    if f.has("mitsuba"):
        m = r.mapping(f.node.items["mitsuba"][0], f.sub("mitsuba"), ("proxy", "mesh"))
        mesh = m.get("mesh", _mesh_file, random_ok=False)
        mitsuba = MitsubaActor(proxy=m.get("proxy", _enum(PROXIES, "proxy"), DEFAULT_PROXY[kind]),
                               mesh=mesh)
    return ActorSpec(
        kind=kind, unreal=unreal, mitsuba=mitsuba,
        path=f.get("path", _list(_VEC3, 1, "points [x, y, z]"), random_ok=False),
        speed_mps=f.get("speed_mps", _Num(0.0, 100.0, what="metres per second; walking ~1.4"),
                        DEFAULT_SPEED[kind]),
        start_frame=f.get("start_frame", _Num(-100000, 100000, integer=True), 0),
        scale=f.get("scale", _Num(0.0, 100.0, lo_open=True), 1.0),
        color=f.get("color", _COLOR),
        at_end=f.get("at_end", _enum(("hide", "stop", "loop"), "at_end"), "hide"),
        yaw_deg=f.get("yaw_deg", _Num(-360.0, 360.0)),
    )


def _mesh_file(r: _Reader, node: _Node, path: str) -> str:
    value = _string()(r, node, path)
    if not value.lower().endswith((".ply", ".obj")):
        raise _fail(node.loc, f"{path} {value!r} must be a .ply or .obj file")
    full = (Path(node.loc[0]).parent / value).resolve()
    if not full.is_file():
        raise _fail(node.loc, f"{path}: mesh file {str(full)!r} not found",
                    hint="paths are relative to the spec file")
    return value  # as written (spec_hash ignores where the spec lives); the plan resolves it


def _quality(r: _Reader, node: _Node, path: str) -> QualitySpec:
    f = r.mapping(node, path, ("unreal", "mitsuba"))
    unreal, mitsuba = UnrealQuality(), MitsubaQuality()
    if f.has("unreal"):
        u = r.mapping(f.node.items["unreal"][0], f.sub("unreal"),
                      ("spatial_samples", "temporal_samples", "warmup_frames", "path_tracer"))
        unreal = UnrealQuality(
            spatial_samples=u.get("spatial_samples", _Num(1, 65536, integer=True), 8),
            temporal_samples=u.get("temporal_samples", _Num(1, 1024, integer=True), 1),
            warmup_frames=u.get("warmup_frames", _Num(0, 10000, integer=True), 32),
            path_tracer=u.get("path_tracer", _bool, False),
        )
    if f.has("mitsuba"):
        m = r.mapping(f.node.items["mitsuba"][0], f.sub("mitsuba"), ("spp",))
        mitsuba = MitsubaQuality(spp=m.get("spp", _Num(1, 1 << 20, integer=True), 64))
    return QualitySpec(unreal=unreal, mitsuba=mitsuba)


def _exr(r: _Reader, node: _Node, path: str) -> ExrSpec:
    f = r.mapping(node, path, ("pixel_type", "compression"))
    if f.has("compression"):
        cnode = f.node.items["compression"][0]
        if isinstance(cnode, _Scalar) and isinstance(cnode.value, str) \
                and cnode.value.lower() in LOSSY:
            raise _fail(cnode.loc, f"{path}.compression {cnode.value!r} is lossy",
                        hint=f"datasets need lossless compression: {', '.join(LOSSLESS)}")
    return ExrSpec(
        pixel_type=f.get("pixel_type", _enum(("half", "float"), "pixel type"), "half",
                         random_ok=False),
        compression=f.get("compression", _enum(LOSSLESS, "compression"), "zip", random_ok=False),
    )


def _passes(r: _Reader, node: _Node, path: str) -> tuple[str, ...]:
    values = _list(_enum(PASSES, "pass"), 1, "passes")(r, node, path)
    if "img" not in values:
        raise _fail(node.loc, f"{path} must include 'img'", hint="the HDR image is mandatory")
    if len(set(values)) != len(values):
        raise _fail(node.loc, f"{path} lists a pass twice")
    return tuple(p for p in PASSES if p in values)


def _render(r: _Reader, node: _Node, path: str) -> RenderSpec:
    f = r.mapping(node, path, ("resolution", "quality", "passes", "exr"))
    return RenderSpec(
        resolution=f.get("resolution", _tuple(2, _Num(1, 16384, integer=True,
                                                       what="pixels, e.g. [640, 360]"),
                                              " [width, height]"), (640, 360), random_ok=False),
        quality=f.get("quality", _quality, QualitySpec(), random_ok=False),
        passes=f.get("passes", _passes, PASSES, random_ok=False),
        exr=f.get("exr", _exr, ExrSpec(), random_ok=False),
    )


_TOP = ("name", "seed", "frames", "warmup_frames", "fps", "environment", "camera", "exposure",
        "actors", "render")


def _scene(r: _Reader, node: _Node, source: str) -> SceneSpec:
    f = r.mapping(node, "", _TOP, required=("name", "frames", "camera", "exposure"))
    spec = SceneSpec(
        name=f.get("name", _name, random_ok=False),
        seed=f.get("seed", _Num(0, 2**63 - 1, integer=True), 0, random_ok=False),
        frames=f.get("frames", _Num(1, 100000, integer=True, what="number of output frames"),
                     random_ok=False),
        warmup_frames=f.get("warmup_frames", _Num(0, 10000, integer=True), 0, random_ok=False),
        fps=f.get("fps", _Num(1.0, 1000.0), 30.0, random_ok=False),
        environment=f.get("environment", _environment, EnvironmentSpec(), random_ok=False),
        camera=f.get("camera", _camera, random_ok=False),
        exposure=f.get("exposure", _exposure, random_ok=False),
        actors=f.get("actors", _list(_actor, what="actors"), (), random_ok=False),
        render=f.get("render", _render, RenderSpec(), random_ok=False),
        source=source,
        locations=dict(r.locs),
    )
    check_consistency(spec)
    return spec


def _fixed(value: Any) -> bool:
    """True when nothing in ``value`` is still random."""
    if is_random(value):
        return False
    if isinstance(value, tuple):
        return all(_fixed(v) for v in value)
    return True


def check_consistency(spec: SceneSpec) -> None:
    """Cross-field checks; randomised values are skipped here and checked after resolution."""
    cam = spec.camera
    if cam.look_at is not None and _fixed(cam.look_at):
        for i, p in enumerate(cam.path):
            if _fixed(p) and math.dist(p, cam.look_at) < 1e-6:
                raise spec.error("camera.look_at", f"camera.look_at equals camera.path[{i}]",
                                 hint="the camera cannot look at its own position")
    for i, key in enumerate(cam.rotation_keys):
        if not 0 <= key.frame < spec.frames:
            raise spec.error(f"camera.rotation_keys[{i}].frame",
                             f"camera.rotation_keys[{i}].frame {key.frame} is outside "
                             f"0..{spec.frames - 1}")
    for i, a in enumerate(spec.actors):
        if len(a.path) < 2 and _fixed(a.speed_mps) and a.speed_mps > 0:
            if f"actors[{i}].speed_mps" in spec.locations:
                raise spec.error(f"actors[{i}].speed_mps",
                                 f"actors[{i}] has a one-point path but speed_mps > 0",
                                 hint="add a second path point or set speed_mps: 0")
    for i, light in enumerate(spec.environment.lights):
        if light.target is not None and _fixed(light.target) and _fixed(light.position) \
                and math.dist(light.target, light.position) < 1e-6:
            raise spec.error(f"environment.lights[{i}].target",
                             f"environment.lights[{i}].target equals its position")


# ---- public API -----------------------------------------------------------------------

def load_spec(path: str | os.PathLike) -> SceneSpec:
    """Parse and validate one spec file (``_defaults.yaml`` beside it is merged under it).

    Randomised values stay unresolved (see :func:`pipeline.randomize.resolve`).
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(str(p), None, None, "is a directory, not a spec file",
                        hint="use load_specs() or validate-spec DIR for folders")
    node = _read_yaml(p)
    if node is None:
        raise SpecError(str(p), 1, 1, "spec file is empty", hint="see docs/scene-spec.md")
    if not isinstance(node, _Map):
        raise _fail(node.loc, f"a spec must be a mapping (key: value), got {_describe(node)}")
    defaults_path = p.parent / DEFAULTS_FILE
    if p.name != DEFAULTS_FILE and defaults_path.is_file():
        base = _read_yaml(defaults_path)
        if base is not None:
            if not isinstance(base, _Map):
                raise _fail(base.loc, f"{DEFAULTS_FILE} must be a mapping, got {_describe(base)}")
            node = _merge(base, node)
    return _scene(_Reader(), node, str(p))


def spec_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Spec files named by ``paths`` (folders give their ``*.yaml``/``*.yml``, skipping ``_*``)."""
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(c for c in p.iterdir() if c.suffix in (".yaml", ".yml")
                              and not c.name.startswith(("_", ".")) and c.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise SpecError(str(p), None, None, "no such spec file or folder")
    return out


def load_specs(paths_or_dirs: Iterable[str | os.PathLike] | str | os.PathLike) -> list[SceneSpec]:
    """Load every spec named (sorted by name); duplicate names are an error."""
    if isinstance(paths_or_dirs, (str, os.PathLike)):
        paths_or_dirs = [paths_or_dirs]
    specs = [load_spec(p) for p in spec_files(paths_or_dirs)]
    seen: dict[str, SceneSpec] = {}
    for s in specs:
        if s.name in seen:
            raise s.error("name", f"name {s.name!r} is also used by {seen[s.name].source}",
                          hint="sequence names must be unique in a batch")
        seen[s.name] = s
    return sorted(specs, key=lambda s: s.name)


def spec_to_dict(spec: Any) -> Any:
    """Plain-data form of a spec (no source path or locations), for hashing and plans."""
    if is_dataclass(spec) and not isinstance(spec, type):
        return {f.name: spec_to_dict(getattr(spec, f.name)) for f in fields(spec)
                if f.compare}
    if isinstance(spec, (list, tuple)):
        return [spec_to_dict(v) for v in spec]
    if isinstance(spec, Mapping):
        return {str(k): spec_to_dict(v) for k, v in spec.items()}
    return spec


def spec_hash(spec: SceneSpec) -> str:
    """sha256 of the canonical JSON of the spec (independent of file location and layout)."""
    text = json.dumps(spec_to_dict(spec), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


__all__ = [
    "ActorSpec", "CameraSpec", "Choice", "EnvironmentSpec", "ExposureSpec", "HandheldSpec",
    "LightSpec", "Normal", "RenderSpec", "SceneSpec", "SkySpec", "SunSpec", "Uniform",
    "check_consistency", "is_random", "load_spec", "load_specs", "spec_files",
    "spec_hash", "spec_to_dict",
]
