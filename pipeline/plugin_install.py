"""``s2rhdr-render install-plugin``: put the S2R-HDR plugin into an Unreal project.

Why vendoring: the editor's embedded Python has no numpy and no network by default, but it
adds ``<Plugin>/Content/Python/Lib/site-packages`` to ``sys.path``. Copying our pure-Python
spec/plan modules and PyYAML's pure-Python package there makes the plugin self-contained,
and the same code that plans on the host plans inside the editor.

The install is all-or-nothing: the plugin is assembled in a temporary folder next to the
target and swapped in by renames; the ``.uproject`` is rewritten atomically.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pipeline
from pipeline.errors import S2RError

PLUGIN_NAME = "S2RHDR"
STAMP = ".s2rhdr-install.json"
SITE_PACKAGES = Path("Content") / "Python" / "Lib" / "site-packages"
# The editor side needs these (DESIGN.md section 1); their imports of our packages are
# followed, so the layout/atomic/errors core that spec and plan use travels with them.
VENDOR_ROOTS = ("pipeline.errors", "pipeline.geometry", "pipeline.plan_model", "pipeline.plan",
                "pipeline.spec", "pipeline.shake", "pipeline.unreal_calibration",
                "s2rhdr_loader.core.layout",
                "s2rhdr_loader.core.atomic", "s2rhdr_loader.core.errors")
OUR_PACKAGES = ("pipeline", "s2rhdr_loader")
# Never allowed inside the editor (the vendored closure is checked against this list).
FORBIDDEN = ("numpy", "torch", "OpenEXR", "cv2", "mitsuba", "click", "ray", "tqdm",
             "matplotlib", "safetensors")


@dataclass
class InstallReport:
    plugin_dir: Path
    modules: list[str] = field(default_factory=list)
    yaml_version: str = ""
    enabled: bool = False
    digest: str = ""


def plugin_source() -> Path:
    """The plugin folder of this checkout (``ue_plugin/S2RHDR``)."""
    src = Path(pipeline.__file__).resolve().parent.parent / "ue_plugin" / PLUGIN_NAME
    if not (src / f"{PLUGIN_NAME}.uplugin").is_file():
        raise S2RError(f"{src}: plugin sources not found",
                       hint="run s2rhdr-render from a source checkout (pip install -e .)")
    return src


def _package_dir(top: str) -> Path:
    import importlib

    return Path(importlib.import_module(top).__file__).resolve().parent


def _module_file(name: str) -> Path:
    """Source file of one of our modules or packages (``__init__.py`` for a package)."""
    top, *rel = name.split(".")
    base = _package_dir(top)
    target = base.joinpath(*rel)
    for path in ((target.with_suffix(".py"),) if rel else ()) + (target / "__init__.py",):
        if path.is_file():
            return path
    raise S2RError(f"vendored module {name} not found under {_package_dir(top)}")


def _is_module(name: str) -> bool:
    try:
        _module_file(name)
    except S2RError:
        return False
    return True


def _imports(path: Path) -> set[str]:
    """Modules a source file imports (static, no execution); for ``from pkg import x`` the
    submodule ``pkg.x`` when ``x`` is one of our modules, not a name."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            if node.module.split(".")[0] in OUR_PACKAGES:
                out.update(f"{node.module}.{a.name}" for a in node.names
                           if _is_module(f"{node.module}.{a.name}"))
    return out


def vendor_closure(roots: tuple[str, ...] = VENDOR_ROOTS) -> list[str]:
    """Our modules the editor needs (roots + everything they import + parent packages).

    Raises if any of them imports a forbidden package (numpy, torch, ...): the editor would
    fail at import time, long after the install said it worked.
    """
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # package __init__s
        path = _module_file(name)
        for imp in _imports(path):
            top = imp.split(".")[0]
            if top in FORBIDDEN:
                raise S2RError(f"{path}: imports {imp}, which the Unreal editor does not have",
                               hint="keep spec/plan and core layout modules standard-library "
                                    "only")
            if top in OUR_PACKAGES:
                todo.append(imp)
    return sorted(seen)


def _yaml_package() -> tuple[Path, str]:
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a hard dependency
        raise S2RError("PyYAML is not installed", hint="pip install pyyaml") from None
    return Path(yaml.__file__).resolve().parent, str(getattr(yaml, "__version__", ""))


def _digest(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for rel, path in sorted(files):
        h.update(rel.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def source_files() -> list[tuple[str, Path]]:
    """``(path inside the installed plugin, source file)`` for everything we install."""
    src = plugin_source()
    files = [(p.relative_to(src).as_posix(), p) for p in sorted(src.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")]
    for name in vendor_closure():
        path = _module_file(name)
        rel = Path(*name.split("."))
        rel = rel / "__init__.py" if path.name == "__init__.py" else rel.with_suffix(".py")
        files.append(((SITE_PACKAGES / rel).as_posix(), path))
    ydir, _ = _yaml_package()
    for p in sorted(ydir.glob("*.py")):  # the pure-Python part; _yaml (C) is optional
        files.append(((SITE_PACKAGES / "yaml" / p.name).as_posix(), p))
    lic = _yaml_license()
    if lic is not None:  # PyYAML is MIT: its licence travels with the copy
        files.append(((SITE_PACKAGES / "yaml" / "LICENSE").as_posix(), lic))
    return files


def _yaml_license() -> Path | None:
    from importlib import metadata

    try:
        dist = metadata.distribution("PyYAML")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name.upper().startswith("LICENSE"):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def read_uproject(project: Path) -> dict[str, Any]:
    if project.suffix != ".uproject":
        raise S2RError(f"{project}: not a .uproject file",
                       hint="pass the project's .uproject, e.g. ~/Unreal/MyProject/MyProject"
                            ".uproject")
    if not project.is_file():
        raise S2RError(f"{project}: project file not found")
    try:
        data = json.loads(project.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise S2RError(f"{project}: not valid JSON ({exc})",
                       hint="open the project once in Unreal to repair it") from None
    if not isinstance(data, dict):
        raise S2RError(f"{project}: top level is not a JSON object")
    if not isinstance(data.get("Plugins", []), list):  # checked before anything is copied
        raise S2RError(f"{project}: the Plugins field is not a list",
                       hint='make it a list of {"Name": ..., "Enabled": ...} entries')
    return data


def enable_in_uproject(data: dict[str, Any]) -> bool:
    """Add or enable our plugin entry (other entries untouched); True if anything changed."""
    plugins = data.setdefault("Plugins", [])
    if not isinstance(plugins, list):
        raise S2RError("the .uproject's Plugins field is not a list")
    for entry in plugins:
        if isinstance(entry, dict) and entry.get("Name") == PLUGIN_NAME:
            if entry.get("Enabled") is True:
                return False
            entry["Enabled"] = True
            return True
    plugins.append({"Name": PLUGIN_NAME, "Enabled": True})
    return True


def install(project: str | Path, *, enable: bool = True) -> InstallReport:
    """Copy the plugin + vendored modules into ``<project dir>/Plugins/S2RHDR``."""
    from s2rhdr_loader.core.atomic import atomic_write_json, atomic_write_text
    from s2rhdr_loader.core.layout import safe_child

    project = Path(project).resolve()
    data = read_uproject(project)
    root = project.parent
    target = safe_child(root, "Plugins", PLUGIN_NAME)
    files = source_files()
    modules = vendor_closure()
    _, yaml_version = _yaml_package()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{PLUGIN_NAME}.", dir=target.parent))
    old = None
    try:
        for rel, src in files:
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        digest = _digest(files)
        atomic_write_json(staging / STAMP, {
            "tool_version": pipeline.__version__, "digest": digest, "modules": modules,
            "pyyaml": yaml_version})
        if target.exists():
            old = target.with_name(f".{PLUGIN_NAME}.old-{staging.name[-8:]}")
            target.rename(old)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    changed = enable and enable_in_uproject(data)
    if changed:
        atomic_write_text(project, json.dumps(data, indent="\t") + "\n")
    return InstallReport(target, modules, yaml_version, bool(enable), digest)


def source_digest() -> str:
    """Digest of this checkout's plugin files (equal to an up-to-date install's)."""
    return _digest(source_files())


def installed_status(project_dir: str | Path) -> tuple[Path, str | None]:
    """``(plugin dir, problem)``: None when the installed files equal this checkout's.

    The installed copy is hashed, not the stamp trusted: a plugin edited in place or a
    checkout updated since the install (a changed plan format) are both caught.
    """
    target = Path(project_dir) / "Plugins" / PLUGIN_NAME
    if not (target / f"{PLUGIN_NAME}.uplugin").is_file():
        return target, "the S2RHDR plugin is not installed"
    sources = source_files()
    installed = [(rel, target / rel) for rel, _ in sources]
    missing = [rel for rel, path in installed if not path.is_file()]
    if missing:
        return target, f"the S2RHDR plugin install is incomplete ({missing[0]} missing)"
    if _digest(installed) != _digest(sources):
        return target, "the installed S2RHDR plugin is out of date with this checkout"
    return target, None
