"""Name tables of the real UE Python API, parsed from three ``unreal-stub`` releases.

The ``unreal-stub`` package on PyPI is a dump of the editor's generated ``unreal.py``:

=========  =================  ============================================================
flavour    unreal-stub        what the package says
=========  =================  ============================================================
``5.4``    0.1                nothing (files dated 2024-04-30; UE 5.4.0 shipped 2024-04-23)
``5.5``    0.2.1              "latest: 5.5.4" (Python 3.11.8)
``5.6``    0.3                "latest: 5.6.0", ``5.6.0-43139311+++UE5+Release-5.6``
=========  =================  ============================================================

None can be imported (0.3 has a generated ``def`` that is a SyntaxError), so each is
AST-parsed once -- offending generated signatures replaced in memory by a generic one
(reference/ue5-api.md section 2) -- into ``class -> bases, members, editor properties,
read-only properties, deprecated members`` and cached as JSON next to the downloaded wheels
(``.venv/unreal-stubs/`` or ``$S2RHDR_UNREAL_STUBS``): parsing takes seconds, the tests only
read the JSON. The installed package (``requirements-lock.txt`` pins 0.3) is used when its
version matches; the others are fetched with ``pip download --no-deps`` on first use
(``make setup`` does it; offline, the per-version tests skip and say why).

Run ``python -m tests.fake_unreal.stub_oracle --fetch`` to fetch and parse all three.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STUBS: dict[str, str] = {"5.4": "0.1", "5.5": "0.2.1", "5.6": "0.3"}
DUMP_NOTES = {
    "5.4": "unreal-stub 0.1: dump of 2024-04 (engine version not stated; treated as 5.4)",
    "5.5": "unreal-stub 0.2.1: UE 5.5.4",
    "5.6": "unreal-stub 0.3: UE 5.6.0-43139311",
}
TABLE_FORMAT = 5  # bump when the parsed fields change
_PROP_RE = re.compile(r"^\s*- ``(\w+)`` \((.*?)\):\s*(\[Read-Only\]|\[Read-Write\])?(.*)$")
_DEPRECATED_RE = re.compile(r"\bdeprecated\b", re.IGNORECASE)


class StubUnavailable(RuntimeError):
    """The dump of one engine version cannot be had (offline, pip failed): say why."""


def stub_dir() -> Path:
    """Where wheels and parsed tables live (ignored by git: inside .venv by default)."""
    return Path(os.environ.get("S2RHDR_UNREAL_STUBS") or ROOT / ".venv" / "unreal-stubs")


def _installed(package_version: str) -> Path | None:
    """The installed stub's ``unreal.py`` when it is that release (found without importing)."""
    import importlib.metadata
    import importlib.util

    try:
        installed = importlib.metadata.version("unreal-stub")
    except importlib.metadata.PackageNotFoundError:
        return None
    if installed != package_version:
        return None
    spec = importlib.util.find_spec("unreal")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "unreal.py"
    return path if path.is_file() else None


def _download(package_version: str, target: Path) -> Path:
    """``pip download --no-deps unreal-stub==X``, then unpack ``unreal/unreal.py``."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", f"unreal-stub=={package_version}", "-d", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StubUnavailable(f"pip download unreal-stub=={package_version}: {exc}") from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = " ".join((proc.stderr or proc.stdout).split()[-30:])
            raise StubUnavailable(f"pip download unreal-stub=={package_version} failed: {tail}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read("unreal/unreal.py")
        out = target / "unreal.py"
        part = out.with_suffix(f".{os.getpid()}.part")
        part.write_bytes(data)
        os.replace(part, out)
    return out


def stub_file(version: str, *, fetch: bool = True) -> Path:
    """``unreal.py`` of the dump for engine flavour ``version`` (downloaded if needed)."""
    if version not in STUBS:
        raise KeyError(f"no API dump for UE {version}; known: {', '.join(STUBS)}")
    package = STUBS[version]
    installed = _installed(package)
    if installed is not None:
        return installed
    cached = stub_dir() / package / "unreal.py"
    if cached.is_file():
        return cached
    if not fetch:
        raise StubUnavailable(f"unreal-stub=={package} not downloaded (run make setup)")
    return _download(package, cached.parent)


def _repair_and_parse(text: str) -> ast.Module:
    """``ast.parse`` after replacing generated ``def`` lines that are not valid Python
    (0.3 line 118336: ``ToolBarStyle.__init__`` with a 36,566-character signature)."""
    lines = text.splitlines()
    for _ in range(20):
        try:
            return ast.parse("\n".join(lines))
        except SyntaxError as exc:
            bad = lines[(exc.lineno or 1) - 1]
            if "def " not in bad:
                raise
            indent = bad[: len(bad) - len(bad.lstrip())]
            name = bad.split("def ", 1)[1].split("(", 1)[0]
            lines[(exc.lineno or 1) - 1] = f"{indent}def {name}(self, *args, **kwargs) -> None:"
    raise SyntaxError("unreal-stub: too many unparsable generated signatures")


def _props(doc: str) -> tuple[dict[str, str], list[str], list[str]]:
    """Editor properties listed in a class docstring: ({name: type}, read-only, deprecated)."""
    names: dict[str, str] = {}
    read_only, deprecated = [], []
    for line in doc.splitlines():
        m = _PROP_RE.match(line)
        if not m:
            continue
        name, type_, access, rest = m.groups()
        names[name] = type_
        if access == "[Read-Only]":
            read_only.append(name)
        if _DEPRECATED_RE.search(rest or ""):
            deprecated.append(name)
    return names, read_only, deprecated


def _deprecation(doc: str) -> str | None:
    """The ``deprecated: ...`` line the generator writes into a docstring, if any."""
    for line in doc.splitlines():
        if line.strip().lower().startswith("deprecated:"):
            return line.strip()[len("deprecated:"):].strip() or "deprecated"
    return None


def parse(path: Path) -> dict[str, Any]:
    """The name table of one dump (slow: seconds)."""
    tree = _repair_and_parse(path.read_text(encoding="utf-8-sig"))
    classes: dict[str, Any] = {}
    functions: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions.append(node.name)
        elif isinstance(node, ast.ClassDef):
            members, deprecated = [], {}
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.append(item.name)
                    note = _deprecation(ast.get_docstring(item) or "")
                    if note:
                        deprecated[item.name] = note
                elif isinstance(item, ast.Assign):
                    members += [t.id for t in item.targets if isinstance(t, ast.Name)]
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.append(item.target.id)
            doc = ast.get_docstring(node) or ""
            props, read_only, dep_props = _props(doc)
            head = re.split(r"\*\*(?:C\+\+ Source|Editor Properties):\*\*", doc)[0]
            classes[node.name] = {
                "bases": [b.id for b in node.bases if isinstance(b, ast.Name)],
                "members": members, "props": props, "read_only": read_only,
                "deprecated": deprecated, "deprecated_props": dep_props,
                "class_deprecated": _deprecation(head)}
    return {"format": TABLE_FORMAT, "source": str(path), "classes": classes,
            "functions": functions}


def _cache_file(version: str, path: Path) -> Path:
    st = path.stat()
    key = hashlib.sha256(f"{path}:{st.st_size}:{st.st_mtime_ns}:{TABLE_FORMAT}".encode())
    return stub_dir() / f"names-{STUBS[version]}-{key.hexdigest()[:12]}.json"


_LOADED: dict[str, dict[str, Any]] = {}


def load_table(version: str = "5.6", *, fetch: bool = True) -> dict[str, Any]:
    """The cached name table of one engine flavour (parsing the dump on first use; kept in
    memory afterwards).

    Raises :class:`StubUnavailable` (with the reason) when the dump cannot be had."""
    if version in _LOADED:
        return _LOADED[version]
    path = stub_file(version, fetch=fetch)
    cache = _cache_file(version, path)
    if cache.is_file():
        try:
            table = json.loads(cache.read_text())
            if table.get("format") == TABLE_FORMAT:
                _LOADED[version] = table
                return table
        except ValueError:
            pass
    table = parse(path)
    table["version"] = version
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table))
    os.replace(tmp, cache)
    _LOADED[version] = table
    return table


def known_classes() -> set[str]:
    """Class names of every dump that can be had (an API class of *some* version)."""
    out: set[str] = set()
    for version in STUBS:
        try:
            out |= set(load_table(version, fetch=False)["classes"])
        except StubUnavailable:
            continue
    return out


def _walk(table: dict[str, Any], cls: str) -> list[dict[str, Any]]:
    """The class entry and all its bases' entries (classes absent from the dump skipped)."""
    out, seen, stack = [], set(), [cls]
    while stack:
        name = stack.pop()
        if name in seen or name not in table["classes"]:
            continue
        seen.add(name)
        info = table["classes"][name]
        out.append(info)
        stack.extend(info["bases"])
    return out


def all_members(table: dict[str, Any], cls: str) -> set[str]:
    """Members of ``cls`` including inherited ones."""
    return {m for info in _walk(table, cls) for m in info["members"]}


def all_props(table: dict[str, Any], cls: str) -> set[str]:
    """Editor properties of ``cls`` (the docstring lists inherited ones too)."""
    return {p for info in _walk(table, cls) for p in info["props"]}


def prop_type(table: dict[str, Any], cls: str, name: str) -> str | None:
    """The type the dump documents for editor property ``name`` (``float``,
    ``MovieSceneTimeWarpVariant``, ``Array[Name]`` ...), or None."""
    for info in _walk(table, cls):
        if name in info["props"]:
            return info["props"][name]
    return None


def read_only_props(table: dict[str, Any], cls: str) -> set[str]:
    return {p for info in _walk(table, cls) for p in info["read_only"]}


def deprecated_members(table: dict[str, Any], cls: str) -> dict[str, str]:
    """``{member: note}`` of members whose docstring says ``deprecated:`` (inherited too)."""
    out: dict[str, str] = {}
    for info in reversed(_walk(table, cls)):
        out.update(info["deprecated"])
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fetch", action="store_true", help="download and parse every dump")
    args = parser.parse_args(argv)
    status = 0
    for version in STUBS:
        try:
            table = load_table(version, fetch=args.fetch)
        except StubUnavailable as exc:
            print(f"UE {version}: unavailable ({exc})")
            status = 1
            continue
        print(f"UE {version}: {DUMP_NOTES[version]}: {len(table['classes'])} classes, "
              f"{len(table['functions'])} functions ({table['source']})")
    return status


if __name__ == "__main__":
    sys.exit(main())
