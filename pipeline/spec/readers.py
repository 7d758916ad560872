"""Field readers: typed values from located YAML nodes, and the field declarations.

A spec field is declared once, in the model (``pipeline.spec.model``), with
:func:`spec_field`: its default, its converter and whether it may be randomised. The
section reader (:func:`section`) derives the allowed and required keys of a mapping from those
declarations, runs the section's cross-field rules (``pipeline.spec.schema``) and builds the
frozen dataclass. Converters raise ``SpecError`` as ``file:line:column: message (hint)``.

Standard library + PyYAML only (vendored into the Unreal editor).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import MISSING, field, fields
from pathlib import Path
from typing import Any

from pipeline import envmaps
from pipeline.spec.nodes import Map, Node, Scalar, Seq, describe, fail, is_dist
from pipeline.spec.values import Choice, Loc, Normal, Uniform
from s2rhdr_loader.core.layout import NAME_RE, PASSES

Conv = Callable[["Reader", Node, str], Any]

_EXP_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


# ---- declarations ---------------------------------------------------------------------

def spec_field(default: Any = MISSING, conv: Conv | None = None, *, random: bool = True,
               **kw: Any) -> Any:
    """A spec field: ``default`` (none = required key), its converter, randomisable or not."""
    return field(default=default, metadata={"conv": conv, "random": random}, **kw)


def declared(cls: type) -> dict[str, Any]:
    """The YAML keys of a section (its dataclass fields with a converter), in order."""
    return {f.name: f for f in fields(cls) if f.metadata.get("conv") is not None}


# section class -> (check before its fields are read, fix-up after); see pipeline.spec.schema
Rule = Callable[["Fields"], None]
PostRule = Callable[["Fields", dict[str, Any]], None]
RULES: dict[type, tuple[Rule | None, PostRule | None]] = {}


def read_section(cls: type, r: Reader, node: Node, path: str) -> dict[str, Any]:
    """Field values of one section (keys checked against the declarations, rules applied)."""
    decl = declared(cls)
    required = tuple(n for n, f in decl.items() if f.default is MISSING)
    f = r.mapping(node, path, decl, required, decl=decl)
    pre, post = RULES.get(cls, (None, None))
    if pre is not None:
        pre(f)
    values = {name: f.read(name) for name in decl}
    if post is not None:
        post(f, values)
    return values


def section(cls: type) -> Conv:
    """Converter of a nested mapping into the dataclass ``cls``."""
    def conv(r: Reader, node: Node, path: str) -> Any:
        return cls(**read_section(cls, r, node, path))
    conv.section = cls  # type: ignore[attr-defined]
    return conv


# ---- numbers --------------------------------------------------------------------------

class Num:
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

    def number(self, node: Node, path: str) -> float:
        kind = "an integer" if self.integer else "a number"
        if not isinstance(node, Scalar):
            raise fail(node.loc, f"{path} must be {kind}, got {describe(node)}",
                       hint=self.what or None)
        v = node.value
        if isinstance(v, str) and node.plain and _EXP_RE.match(v):
            v = float(v)  # PyYAML reads 1e5 (no dot) as a string
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(node.loc, f"{path} must be {kind}, got {describe(node)}",
                       hint=self.what or None)
        if isinstance(v, float) and not math.isfinite(v):
            raise fail(node.loc, f"{path} must be finite, got {v}")
        if self.integer:
            if isinstance(v, float) and not v.is_integer():
                raise fail(node.loc, f"{path} must be an integer, got {v!r}")
            return int(v)
        return float(v)

    def check(self, value: float, loc: Loc, path: str) -> None:
        bad = (self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo))) \
            or (self.hi is not None and value > self.hi)
        if bad:
            raise fail(loc, f"{path} must be {self.bounds_text()}, got {value:g}",
                       hint=self.what or None)

    def __call__(self, r: Reader, node: Node, path: str) -> Any:
        value = self.number(node, path)
        self.check(value, node.loc, path)
        return value

    def dist(self, r: Reader, kind: str, node: Node, path: str) -> Uniform | Normal:
        if not isinstance(node, Seq) or len(node.items) != 2:
            form = "[low, high]" if kind == "uniform" else "[mean, sigma]"
            raise fail(node.loc, f"{path}: {kind} needs a list of two numbers {form}")
        a = self.number(node.items[0], f"{path}.{kind}[0]")
        b = self.number(node.items[1], f"{path}.{kind}[1]")
        if kind == "uniform":
            if a > b:
                raise fail(node.loc, f"{path}: uniform range [{a:g}, {b:g}] has low > high",
                           hint="write [low, high]")
            self.check(a, node.items[0].loc, path)
            self.check(b, node.items[1].loc, path)
            return Uniform(a, b, self.integer)
        if b < 0:
            raise fail(node.items[1].loc, f"{path}: normal sigma must be >= 0, got {b:g}")
        self.check(a, node.items[0].loc, path)
        return Normal(a, b, self.lo, self.hi, self.integer, self.lo_open)


# ---- the reader -----------------------------------------------------------------------

class Reader:
    """Builds typed values from located nodes and records where each field came from."""

    def __init__(self) -> None:
        self.locs: dict[str, Loc] = {}

    def value(self, node: Node, path: str, conv: Conv, random_ok: bool = True) -> Any:
        self.locs[path] = node.loc
        if is_dist(node):
            assert isinstance(node, Map)
            kind, (arg, kloc) = next(iter(node.items.items()))
            if not random_ok:
                raise fail(kloc, f"{path} cannot be randomised", hint="give a fixed value here")
            if kind == "choice":
                if not isinstance(arg, Seq) or not arg.items:
                    raise fail(arg.loc, f"{path}: choice needs a non-empty list of options")
                return Choice(tuple(self.value(o, f"{path}", conv, random_ok=False)
                                    for o in arg.items))
            if not isinstance(conv, Num):
                raise fail(kloc, f"{path}: {kind} only applies to numbers",
                           hint="use {choice: [...]} for other values")
            return conv.dist(self, kind, arg, path)
        return conv(self, node, path)

    def mapping(self, node: Node, path: str, allowed: Iterable[str],
                required: tuple[str, ...] = (), decl: dict[str, Any] | None = None) -> Fields:
        label = path or "the spec"
        if not isinstance(node, Map):
            raise fail(node.loc, f"{label} must be a mapping (key: value), got {describe(node)}")
        allowed = tuple(allowed)
        for key, (_, kloc) in node.items.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else \
                    f"allowed keys: {', '.join(allowed)}"
                raise fail(kloc, f"unknown key {key!r} in {label}", hint=hint)
        for key in required:
            if key not in node.items:
                raise fail(node.loc, f"{label} is missing the required key {key!r}",
                           hint="see docs/scene-spec.md")
        return Fields(self, node, path, frozenset(required), decl or {})


class Fields:
    """One mapping being read: its keys, their locations and the section's declarations."""

    def __init__(self, reader: Reader, node: Map, path: str, required: frozenset[str],
                 decl: dict[str, Any]):
        self.r, self.node, self.path, self.required, self.decl = reader, node, path, required, decl
        self._read: dict[str, Any] = {}

    def has(self, key: str) -> bool:
        return key in self.node.items

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, conv: Conv, default: Any = None, random_ok: bool = True) -> Any:
        if key not in self.node.items:
            return default
        node = self.node.items[key][0]
        if isinstance(node, Scalar) and node.value is None and default is None \
                and key not in self.required:  # `key:` left empty = not given
            return None
        return self.r.value(node, self.sub(key), conv, random_ok)

    def read(self, name: str) -> Any:
        """A declared field's value (its default when absent); read once."""
        if name not in self._read:
            f = self.decl[name]
            default = None if f.default is MISSING else f.default
            self._read[name] = self.get(name, f.metadata["conv"], default,
                                        random_ok=f.metadata["random"])
        return self._read[name]

    def loc(self, key: str | None = None) -> Loc:
        if key is None or key not in self.node.items:
            return self.node.loc
        return self.node.items[key][0].loc


# ---- converters -----------------------------------------------------------------------

def string(pattern: re.Pattern[str] | None = None, hint: str = "") -> Conv:
    def conv(r: Reader, node: Node, path: str) -> str:
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            raise fail(node.loc, f"{path} must be a string, got {describe(node)}")
        if pattern is not None and not pattern.match(node.value):
            raise fail(node.loc, f"{path} {node.value!r} is not valid", hint=hint or None)
        return node.value
    return conv


def enum(options: Iterable[str], what: str = "") -> Conv:
    options = tuple(options)

    def conv(r: Reader, node: Node, path: str) -> str:
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            raise fail(node.loc, f"{path} must be one of {', '.join(options)}, "
                                 f"got {describe(node)}")
        if node.value not in options:
            close = difflib.get_close_matches(node.value, options, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(options)}"
            raise fail(node.loc, f"{path}: unknown {what or 'value'} {node.value!r}", hint=hint)
        return node.value
    return conv


def boolean(r: Reader, node: Node, path: str) -> bool:
    if not isinstance(node, Scalar) or not isinstance(node.value, bool):
        raise fail(node.loc, f"{path} must be true or false, got {describe(node)}")
    return node.value


def tuple_of(n: int, item: Conv, what: str = "") -> Conv:
    def conv(r: Reader, node: Node, path: str) -> tuple:
        if not isinstance(node, Seq) or len(node.items) != n:
            got = f"a list of {len(node.items)}" if isinstance(node, Seq) else describe(node)
            raise fail(node.loc, f"{path} must be a list of {n} numbers{what}, got {got}")
        return tuple(r.value(it, f"{path}[{i}]", item) for i, it in enumerate(node.items))
    return conv


def list_of(item: Conv, min_len: int = 0, what: str = "items") -> Conv:
    def conv(r: Reader, node: Node, path: str) -> tuple:
        if not isinstance(node, Seq):
            raise fail(node.loc, f"{path} must be a list of {what}, got {describe(node)}")
        if len(node.items) < min_len:
            raise fail(node.loc, f"{path} needs at least {min_len} {what}, "
                                 f"got {len(node.items)}")
        return tuple(r.value(it, f"{path}[{i}]", item) for i, it in enumerate(node.items))
    return conv


ANY = Num()
VEC3 = tuple_of(3, ANY, " [x, y, z] in metres")
ROT = tuple_of(3, ANY, " [roll, pitch, yaw] in degrees")
COLOR = tuple_of(3, Num(0.0, 1.0, what="linear RGB albedo/tint in 0..1"), " [r, g, b]")
TINT = tuple_of(3, Num(0.0), " [r, g, b]")
POS = Num(0.0, lo_open=True)
NONNEG = Num(0.0)
POINTS = list_of(VEC3, 1, "points [x, y, z]")
_ASSET_RE = re.compile(r"^/[A-Za-z0-9_][A-Za-z0-9_./-]*$")
_ASSET = string(_ASSET_RE, "Unreal asset paths look like /Game/Folder/Asset (no spaces)")


def unreal_asset(r: Reader, node: Node, path: str) -> str:
    value = _ASSET(r, node, path)
    if ".." in value.split("/"):
        raise fail(node.loc, f"{path} {value!r} must not contain '..'")
    return value


def sequence_name(r: Reader, node: Node, path: str) -> str:
    value = string()(r, node, path)
    if not NAME_RE.match(value) or len(value) > 100:
        raise fail(node.loc, f"name {value!r} is not a valid sequence name",
                   hint="use 1-100 characters a-z, 0-9, '_' or '-' (it becomes a folder name)")
    return value


def passes(r: Reader, node: Node, path: str) -> tuple[str, ...]:
    values = list_of(enum(PASSES, "pass"), 1, "passes")(r, node, path)
    if "img" not in values:
        raise fail(node.loc, f"{path} must include 'img'", hint="the HDR image is mandatory")
    if len(set(values)) != len(values):
        raise fail(node.loc, f"{path} lists a pass twice")
    return tuple(p for p in PASSES if p in values)


def num_range(item: Num, what: str = "") -> Conv:
    """``[low, high]`` with low <= high (a range a variation draws from)."""
    pair = tuple_of(2, item, what or " [low, high]")

    def conv(r: Reader, node: Node, path: str) -> tuple:
        lo, hi = pair(r, node, path)
        if lo > hi:
            raise fail(node.loc, f"{path}: range [{lo:g}, {hi:g}] has low > high",
                       hint="write [low, high]")
        return (lo, hi)
    return conv


# ---- files a spec points at (meshes, environment maps) ---------------------------------

ASSET_ROOT_ENV = "S2RHDR_ASSET_ROOT"  # os.pathsep-separated folders allowed besides the spec's
MESH_SUFFIXES = (".ply", ".obj", ".gltf", ".glb")
_MAGIC = {".ply": (b"ply",), ".glb": (b"glTF",), ".gltf": (b"{",), ".exr": (b"v/1\x01",),
          ".hdr": (b"#?RADIANCE", b"#?RGBE")}


def asset_roots() -> list[Path]:
    return [Path(p).resolve() for p in os.environ.get(ASSET_ROOT_ENV, "").split(os.pathsep)
            if p.strip()]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def asset_path(spec_file: str, value: str) -> Path:
    """Where a spec's asset path points (relative to the spec's folder, or absolute)."""
    return (Path(spec_file).parent / value).resolve()


def asset_file(what: str, suffixes: tuple[str, ...]) -> Conv:
    """A file next to the spec (or under an asset root) that exists and looks like ``what``.

    Checked at load time so a bad asset fails before anything renders; the value is kept as
    written (``spec_hash`` ignores where the spec lives) and the planner resolves it.
    """
    def conv(r: Reader, node: Node, path: str) -> str:
        value = string()(r, node, path)
        suffix = Path(value).suffix.lower()
        if suffix not in suffixes:
            raise fail(node.loc, f"{path} {value!r} must be a {' / '.join(suffixes)} file")
        full = asset_path(node.loc[0], value)
        spec_dir = Path(node.loc[0]).parent.resolve()
        if not any(_inside(full, root) for root in [spec_dir, *asset_roots()]):
            raise fail(node.loc, f"{path}: {what} {str(full)!r} is outside the spec's folder",
                       hint=f"put it next to the spec or under a folder in ${ASSET_ROOT_ENV}")
        if not full.is_file():
            raise fail(node.loc, f"{path}: {what} file {str(full)!r} not found",
                       hint="paths are relative to the spec file")
        try:
            with open(full, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise fail(node.loc, f"{path}: cannot read {what} {str(full)!r} "
                                 f"({exc.strerror})") from None
        magic = _MAGIC.get(suffix)
        if not head or (magic and not head.lstrip().startswith(magic)):
            raise fail(node.loc, f"{path}: {str(full)!r} is not a valid {suffix[1:]} file",
                       hint=f"expected it to start with {magic[0]!r}" if magic else None)
        return value
    return conv


mesh_file = asset_file("mesh", MESH_SUFFIXES)


def envmap_source(r: Reader, node: Node, path: str) -> str:
    """A named map (``city``, ``sunset``, ...) or an .exr/.hdr file next to the spec."""
    value = string()(r, node, path)
    if envmaps.is_named(value):
        return value
    if Path(value).suffix.lower() not in envmaps.SUFFIXES:
        close = difflib.get_close_matches(value, tuple(envmaps.NAMED), n=1, cutoff=0.6)
        raise fail(node.loc, f"{path}: unknown map {value!r}",
                   hint=f"did you mean {close[0]!r}?" if close else
                   f"use one of {', '.join(envmaps.NAMED)} or an .exr/.hdr file")
    return asset_file("environment map", envmaps.SUFFIXES)(r, node, path)
