"""Name table of the real UE 5.6 Python API, parsed from the ``unreal-stub`` package.

The stub cannot be imported (a generated ``def`` at line 118336 is a SyntaxError), so it is
AST-parsed once with that one line replaced in memory (reference/ue5-api.md section 2) and the
result -- class -> bases, members, editor properties -- is cached as JSON outside the repo.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

BAD_LINE = 118336  # 1-based line of ToolBarStyle.__init__ in unreal-stub 0.3
_PROP_RE = re.compile(r"^\s*- ``(\w+)`` \(")


def stub_path() -> Path | None:
    """The installed stub's ``unreal.py`` (found without importing it), or None."""
    import importlib.util

    spec = importlib.util.find_spec("unreal")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "unreal.py"
    return path if path.is_file() else None


def _cache_file(path: Path) -> Path:
    st = path.stat()
    key = hashlib.sha256(f"{path}:{st.st_size}:{st.st_mtime_ns}:v2".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path(tempfile.gettempdir()))
    return base / "s2rhdr-unreal-stub" / f"names-{key}.json"


def _parse(path: Path) -> dict[str, Any]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    bad = lines[BAD_LINE - 1]
    if "def __init__" in bad:
        indent = bad[: len(bad) - len(bad.lstrip())]
        lines[BAD_LINE - 1] = f"{indent}def __init__(self, *args, **kwargs) -> None:"
    tree = ast.parse("\n".join(lines))
    classes: dict[str, Any] = {}
    functions: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions.append(node.name)
        elif isinstance(node, ast.ClassDef):
            members = []
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.append(item.name)
                elif isinstance(item, ast.Assign):
                    members += [t.id for t in item.targets if isinstance(t, ast.Name)]
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.append(item.target.id)
            doc = ast.get_docstring(node) or ""
            props = [m.group(1) for ln in doc.splitlines() if (m := _PROP_RE.match(ln))]
            bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
            classes[node.name] = {"bases": bases, "members": members, "props": props}
    return {"classes": classes, "functions": functions}


def load_table() -> dict[str, Any] | None:
    """The cached name table (parsing the stub on first use, ~3 s), or None without the stub."""
    path = stub_path()
    if path is None:
        return None
    cache = _cache_file(path)
    if cache.is_file():
        try:
            return json.loads(cache.read_text())
        except ValueError:
            pass
    table = _parse(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table))
    os.replace(tmp, cache)
    return table


def _inherited(table: dict[str, Any], cls: str, field: str) -> set[str]:
    """``table["classes"][c][field]`` over ``cls`` and all its bases."""
    out: set[str] = set()
    seen: set[str] = set()
    stack = [cls]
    while stack:
        name = stack.pop()
        if name in seen or name not in table["classes"]:
            continue
        seen.add(name)
        info = table["classes"][name]
        out.update(info[field])
        stack.extend(info["bases"])
    return out


def all_members(table: dict[str, Any], cls: str) -> set[str]:
    """Members of ``cls`` including inherited ones."""
    return _inherited(table, cls, "members")


def all_props(table: dict[str, Any], cls: str) -> set[str]:
    """Editor properties of ``cls`` including inherited ones."""
    return _inherited(table, cls, "props")
