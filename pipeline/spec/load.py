"""Loading specs from files: defaults merging, folders, duplicate names, hashing."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import SpecError
from pipeline.spec.model import SceneSpec
from pipeline.spec.nodes import Map, describe, fail, merge, read_yaml
from pipeline.spec.schema import read_scene

DEFAULTS_FILE = "_defaults.yaml"


def load_spec(path: str | os.PathLike) -> SceneSpec:
    """Parse and validate one spec file (``_defaults.yaml`` beside it is merged under it).

    Randomised values stay unresolved (see :func:`pipeline.randomize.resolve`).
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(str(p), None, None, "is a directory, not a spec file",
                        hint="use load_specs() or validate-spec DIR for folders")
    node = read_yaml(p)
    if node is None:
        raise SpecError(str(p), 1, 1, "spec file is empty", hint="see docs/scene-spec.md")
    if not isinstance(node, Map):
        raise fail(node.loc, f"a spec must be a mapping (key: value), got {describe(node)}")
    defaults_path = p.parent / DEFAULTS_FILE
    if p.name != DEFAULTS_FILE and defaults_path.is_file():
        base = read_yaml(defaults_path)
        if base is not None:
            if not isinstance(base, Map):
                raise fail(base.loc, f"{DEFAULTS_FILE} must be a mapping, got {describe(base)}")
            node = merge(base, node)
    return read_scene(node, str(p))


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
