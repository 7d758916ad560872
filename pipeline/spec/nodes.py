"""YAML -> located nodes: every value keeps its file, line and column.

Why not ``yaml.safe_load``: a value without its position cannot produce a
``file:line:column`` error. The YAML is *composed* into nodes by a ``SafeLoader`` subclass,
every tag outside plain YAML data is refused before anything is constructed, and alias bombs
stop after :data:`MAX_NODES` nodes. Standard library + PyYAML only (vendored into Unreal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import SpecError
from pipeline.spec.values import Loc

MAX_NODES = 200_000  # alias bombs ("billion laughs") stop here
DIST_KEYS = ("choice", "uniform", "normal")


class Node:
    __slots__ = ("loc",)

    def __init__(self, loc: Loc):
        self.loc = loc


class Scalar(Node):
    __slots__ = ("value", "plain")

    def __init__(self, loc: Loc, value: Any, plain: bool):
        super().__init__(loc)
        self.value, self.plain = value, plain


class Seq(Node):
    __slots__ = ("items",)

    def __init__(self, loc: Loc, items: list[Node]):
        super().__init__(loc)
        self.items = items


class Map(Node):
    __slots__ = ("items",)

    def __init__(self, loc: Loc, items: dict[str, tuple[Node, Loc]]):
        super().__init__(loc)
        self.items = items  # key -> (value node, key location)


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that only composes nodes; values are built by :func:`to_nodes`."""


_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_PLAIN_HINT = "specs are plain data: use strings, numbers, lists and mappings"


def fail(loc: Loc, message: str, hint: str | None = None) -> SpecError:
    return SpecError(loc[0], loc[1], loc[2], message, hint=hint)


def describe(node: Node) -> str:
    """What the user wrote, for error messages."""
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    v = node.value  # type: ignore[attr-defined]
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"{str(v).lower()}"
    if isinstance(v, (int, float)):
        return f"the number {v!r}"
    return f"the string {str(v)!r}"


def _loc(path: str, node: yaml.Node) -> Loc:
    m = node.start_mark
    return (path, m.line + 1, m.column + 1)


def _tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    return " ".join(str(problem).split())


def _map_node(path: str, loader: SpecLoader, node: yaml.MappingNode, loc: Loc,
              budget: list[int]) -> Map:
    own = sum(1 for k, _ in node.value if k.tag != _TAG + "merge")
    try:
        loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor) go first, own keys win
    except yaml.YAMLError as exc:
        raise fail(loc, f"bad merge key ({_yaml_problem(exc)})") from None
    n_merged = len(node.value) - own
    items: dict[str, tuple[Node, Loc]] = {}
    own_keys: set[str] = set()
    for i, (knode, vnode) in enumerate(node.value):
        kloc = _loc(path, knode)
        if not isinstance(knode, yaml.ScalarNode) or knode.tag != _TAG + "str":
            raise fail(kloc, "mapping keys must be plain strings",
                       hint="quote the key or fix the indentation")
        key = knode.value
        if i >= n_merged:
            if key in own_keys:
                first = items[key][1]
                raise fail(kloc, f"duplicate key {key!r} (first defined at line {first[1]})",
                           hint="remove one of them")
            own_keys.add(key)
        items[key] = (to_nodes(path, loader, vnode, budget), kloc)
    return Map(loc, items)


def to_nodes(path: str, loader: SpecLoader, node: yaml.Node, budget: list[int]) -> Node:
    """Located nodes for a composed YAML node (plain data only)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise fail(_loc(path, node), f"spec too large (more than {MAX_NODES} YAML nodes)",
                   hint="remove recursive aliases")
    loc = _loc(path, node)
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise fail(loc, f"YAML tag {_tag(node.tag)!r} is not allowed", hint=_PLAIN_HINT)
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise fail(loc, f"bad scalar value ({_yaml_problem(exc)})") from None
        return Scalar(loc, value, node.style is None)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise fail(loc, f"YAML tag {_tag(node.tag)!r} is not allowed", hint=_PLAIN_HINT)
        return Seq(loc, [to_nodes(path, loader, n, budget) for n in node.value])
    if node.tag != _TAG + "map":
        raise fail(loc, f"YAML tag {_tag(node.tag)!r} is not allowed", hint=_PLAIN_HINT)
    return _map_node(path, loader, node, loc, budget)  # type: ignore[arg-type]


def _read_text(path: Path) -> str:
    spath = str(path)
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(spath, None, None, "spec file not found",
                        hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise SpecError(spath, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                        hint="save the spec as UTF-8") from None
    except OSError as exc:
        raise SpecError(spath, None, None, f"cannot read spec ({exc.strerror})") from None


def read_yaml(path: Path) -> Node | None:
    """Compose one YAML file into located nodes (None for an empty file)."""
    spath = str(path)
    loader = SpecLoader(_read_text(path))
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        return to_nodes(spath, loader, root, [MAX_NODES])
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


def is_dist(node: Node) -> bool:
    """``{uniform: ...}``, ``{normal: ...}`` or ``{choice: ...}``: a randomised value."""
    return isinstance(node, Map) and len(node.items) == 1 and next(iter(node.items)) in DIST_KEYS


def merge(base: Node, over: Node) -> Node:
    """Deep-merge ``over`` onto ``base`` (mappings merge, everything else is replaced)."""
    if not isinstance(base, Map) or not isinstance(over, Map) or is_dist(base) \
            or is_dist(over):
        return over
    items = dict(base.items)
    for key, (value, kloc) in over.items.items():
        items[key] = (merge(items[key][0], value) if key in items else value, kloc)
    return Map(over.loc, items)
