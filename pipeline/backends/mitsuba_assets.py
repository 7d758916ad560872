"""User meshes (``mitsuba: {mesh: FILE}`` actors, ``environment.mitsuba.props``) for Mitsuba.

PLY and untextured OBJ go to Mitsuba's own loaders. glTF/GLB and OBJ files with an MTL
texture are read with ``trimesh`` (a well-kept mesh library: node transforms, UVs, PBR base
colour textures and factors) and handed to Mitsuba as in-memory meshes with a bitmap BSDF.
Axes: OBJ/PLY vertices are taken as X forward, Y left, Z up (right-handed, metres: the
Mitsuba-local frame of an actor); glTF files follow their specification (+Y up, +Z forward,
metres) and are turned to that frame. Textures are sRGB and converted to linear albedo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import RenderError

# glTF (+Y up, +Z forward, +X left) -> our mesh frame (x forward, y left, z up)
GLTF_TO_LOCAL = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0],
                          [0.0, 0.0, 0.0, 1.0]])


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _obj_has_texture(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("mtllib"):
            mtl = path.parent / line.split(None, 1)[1].strip()
            try:
                return "map_Kd" in mtl.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return False
    return False


def needs_trimesh(path: Path) -> bool:
    ext = path.suffix.lower()
    return ext in (".gltf", ".glb") or (ext == ".obj" and _obj_has_texture(path))


def _material(geom: Any, color: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(linear base-colour texture HxWx3 or None, uv Nx2 or None) of a trimesh geometry."""
    visual = getattr(geom, "visual", None)
    uv = getattr(visual, "uv", None)
    mat = getattr(visual, "material", None)
    image = None
    for attr in ("baseColorTexture", "image"):
        image = getattr(mat, attr, None) if mat is not None else None
        if image is not None:
            break
    if image is None or uv is None or color is not None:
        return None, None
    tex = _srgb_to_linear(np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0)
    factor = getattr(mat, "baseColorFactor", None)
    if factor is not None:
        tex = tex * (np.asarray(factor[:3], dtype=np.float64) / 255.0
                     if np.max(factor) > 1 else np.asarray(factor[:3], dtype=np.float64))
    return tex, np.asarray(uv, dtype=np.float64)


def _base_color(geom: Any) -> tuple[float, float, float]:
    mat = getattr(getattr(geom, "visual", None), "material", None)
    for attr in ("baseColorFactor", "diffuse"):
        v = getattr(mat, attr, None) if mat is not None else None
        if v is not None:
            v = np.asarray(v, dtype=np.float64)[:3]
            v = v / 255.0 if v.max() > 1.0 else v
            return tuple(float(c) for c in _srgb_to_linear(np.clip(v, 0, 1)))
    return (0.5, 0.5, 0.5)


def load_meshes(path: Path) -> list[Any]:
    """trimesh geometries of a file with their scene transforms applied (our mesh frame)."""
    try:
        import trimesh
    except ImportError:
        raise RenderError(f"{path}: glTF and textured OBJ need the trimesh package",
                          hint="pip install 's2rhdr[mitsuba]' (or pip install trimesh)") from None
    try:
        scene = trimesh.load(str(path), force="scene")
        geoms = [g for g in scene.dump() if len(getattr(g, "faces", ())) > 0]
    except Exception as exc:  # a damaged file is the user's, not a bug
        raise RenderError(f"{path}: cannot read mesh ({' '.join(str(exc).split())[:200]})",
                          hint="check the file opens in a 3D viewer") from None
    if not geoms:
        raise RenderError(f"{path}: no triangles in the file")
    if path.suffix.lower() in (".gltf", ".glb"):
        for g in geoms:
            g.apply_transform(GLTF_TO_LOCAL)
    return geoms


def mitsuba_mesh(name: str, geom: Any, m: np.ndarray, bsdf: dict[str, Any] | None,
                 color: Any) -> Any:
    """An in-memory ``mi.Mesh`` of one geometry transformed by ``m`` (textured if it has one)."""
    import drjit as dr
    import mitsuba as mi

    from pipeline.backends import mitsuba_materials as mm

    v = np.asarray(geom.vertices, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]
    f = np.asarray(geom.faces, dtype=np.uint32)
    tex, uv = _material(geom, color)
    if bsdf is None:
        if tex is not None:
            bsdf = {"type": "diffuse", "reflectance": {
                "type": "bitmap", "data": mi.TensorXf(tex.astype(np.float32)), "raw": True,
                "filter_type": "bilinear", "wrap_mode": "repeat"}}
        else:
            bsdf = mm.diffuse(color if color is not None else _base_color(geom))
    props = mi.Properties()
    props["bsdf"] = mi.load_dict(bsdf)
    mesh = mi.Mesh(name, len(v), len(f), props=props, has_vertex_texcoords=uv is not None)
    params = mi.traverse(mesh)
    params["vertex_positions"] = dr.ravel(mi.Point3f(*v.T.astype(np.float32)))
    params["faces"] = dr.ravel(mi.Vector3u(*f.T))
    if uv is not None:
        flipped = np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1)  # OBJ/trimesh v is up
        params["vertex_texcoords"] = dr.ravel(mi.Point2f(*flipped.T.astype(np.float32)))
    params.update()
    return mesh
