"""Materials of the embedded sets: textures, glossy paint, glass, metal, wet asphalt, emitters.

Why these: HDR fusion networks must learn highlights, so every daylight set has surfaces
that reflect the sun and sky far above diffuse white: car paint (a smooth or slightly rough
dielectric coat over a coloured base, Mitsuba ``plastic``/``roughplastic``), windows (a
dark base under a smooth dielectric coat: ~4 % Fresnel reflection at normal incidence, more at
grazing angles), metal street furniture (``roughconductor``, aluminium), mirrors
(``conductor``), and wet asphalt (puddles of smooth coat blended into rough asphalt). Emitters
(signs, lamp heads) are given in cd/m^2 and scaled by the exposure like every other light.

Seeded variation without random numbers: :func:`unit` hashes (set seed, key) with sha256, so
the same plan gives the same palette on every machine.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

RGB = tuple[float, float, float]

# linear albedos (sRGB paint swatches converted to linear)
CAR_PAINTS: tuple[RGB, ...] = (
    (0.50, 0.02, 0.02), (0.02, 0.06, 0.30), (0.75, 0.75, 0.75), (0.03, 0.03, 0.03),
    (0.25, 0.27, 0.28), (0.60, 0.35, 0.02), (0.05, 0.20, 0.08), (0.80, 0.78, 0.70))
FACADES: tuple[RGB, ...] = (
    (0.55, 0.45, 0.35), (0.62, 0.60, 0.55), (0.45, 0.28, 0.20), (0.70, 0.66, 0.56),
    (0.35, 0.36, 0.38), (0.58, 0.50, 0.38))
SIGNS: tuple[RGB, ...] = ((1.0, 0.25, 0.1), (0.2, 0.5, 1.0), (1.0, 0.85, 0.4), (0.3, 1.0, 0.4))


def unit(seed: int, *key: Any) -> float:
    """A deterministic number in [0, 1) for (seed, key): the sets' only source of variation."""
    digest = hashlib.sha256("|".join(map(str, (int(seed), *key))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def pick(seq: tuple, seed: int, *key: Any) -> Any:
    return seq[int(unit(seed, *key) * len(seq))]


def rgb(value: Any) -> dict[str, Any]:
    v = [float(value)] * 3 if np.isscalar(value) else [float(c) for c in value]
    return {"type": "rgb", "value": v}


# ---- procedural textures (deterministic hash noise, no RNG) -------------------------------

def hash2(ix: np.ndarray, iy: np.ndarray, salt: float) -> np.ndarray:
    v = np.sin(ix * 12.9898 + iy * 78.233 + salt * 37.719) * 43758.5453
    return v - np.floor(v)


def value_noise(size: int, cells: int, salt: float) -> np.ndarray:
    """Tileable bilinear value noise in [0, 1] (size x size)."""
    t = np.arange(size) / size * cells
    i0 = np.floor(t).astype(int)
    f = t - i0
    f = f * f * (3 - 2 * f)
    i1 = (i0 + 1) % cells
    y0, x0 = np.meshgrid(i0, i0, indexing="ij")
    y1, x1 = np.meshgrid(i1, i1, indexing="ij")
    fy, fx = np.meshgrid(f, f, indexing="ij")
    a, b = hash2(x0, y0, salt), hash2(x1, y0, salt)
    c, d = hash2(x0, y1, salt), hash2(x1, y1, salt)
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def window_mask(size: int = 64) -> np.ndarray:
    """1 where a facade texel is window glass (a 4 x 4 grid of windows per texture tile)."""
    yy, xx = np.mgrid[0:size, 0:size]
    cell = size // 4
    return (((xx % cell) > cell // 4) & ((xx % cell) < 3 * cell // 4)
            & ((yy % cell) > cell // 5) & ((yy % cell) < 4 * cell // 5)).astype(np.float32)


def texture(base: RGB, pattern: str, salt: float, size: int = 64) -> np.ndarray:
    """Linear albedo texture: checker / facade / stripes / noise modulating ``base``."""
    n = 0.5 * value_noise(size, 8, salt) + 0.5 * value_noise(size, 32, salt + 1.0)
    yy, xx = np.mgrid[0:size, 0:size]
    if pattern == "checker":
        mod = np.where(((xx // (size // 4)) + (yy // (size // 4))) % 2 == 0, 1.0, 0.55)
        mod = mod * (0.8 + 0.4 * n)
    elif pattern == "facade":  # dark window glass over unlit rooms on a lighter wall
        mod = np.where(window_mask(size) > 0, 0.06, 1.0) * (0.8 + 0.4 * n)
    elif pattern == "stripes":
        mod = np.where((xx % (size // 2)) < size // 16, 2.2, 1.0) * (0.8 + 0.4 * n)
    else:
        mod = 0.6 + 0.8 * n
    out = np.clip(np.asarray(base)[None, None, :] * mod[..., None], 0.0, 0.95)
    return out.astype(np.float32)


def _bitmap(data: np.ndarray, repeat: float) -> dict[str, Any]:
    import mitsuba as mi

    return {"type": "bitmap", "data": mi.TensorXf(np.ascontiguousarray(data, np.float32)),
            "raw": True, "wrap_mode": "repeat", "filter_type": "bilinear",
            "to_uv": mi.ScalarTransform4f().scale([repeat, repeat, 1.0])}


# ---- BSDFs --------------------------------------------------------------------------------

def diffuse(color: Any) -> dict[str, Any]:
    return {"type": "diffuse", "reflectance": rgb(color)}


def diffuse_tex(base: RGB, pattern: str, salt: float, repeat: float = 1.0) -> dict[str, Any]:
    return {"type": "diffuse", "reflectance": _bitmap(texture(base, pattern, salt), repeat)}


# Smallest coat roughness: a GGX lobe of ~2 deg still lets next-event estimation reach the
# 0.53 deg sun from a coat (a perfectly smooth coat only finds it by chance: fireflies).
MIN_ALPHA = 0.05


def coat(diffuse_reflectance: dict[str, Any], alpha: float, ior: float = 1.5
         ) -> dict[str, Any]:
    """A dielectric coat over a diffuse base (Mitsuba ``roughplastic``, GGX)."""
    return {"type": "roughplastic", "distribution": "ggx", "alpha": max(float(alpha), MIN_ALPHA),
            "diffuse_reflectance": diffuse_reflectance, "int_ior": float(ior)}


def paint(color: Any, alpha: float = 0.0) -> dict[str, Any]:
    """Car paint / lacquer: a clear coat over a coloured base (``alpha``: coat roughness)."""
    return coat(rgb(color), alpha)


def metal(alpha: float = 0.12, material: str = "Al") -> dict[str, Any]:
    """Brushed street furniture: rough aluminium (measured complex IOR in Mitsuba)."""
    return {"type": "roughconductor", "material": material, "distribution": "ggx",
            "alpha": float(alpha)}


def mirror() -> dict[str, Any]:
    """A silver mirror: reflects ~97 % of the sun and sky (a barely rough silver, so the sun
    is found by next-event estimation: a delta mirror shows it only by chance)."""
    return {"type": "roughconductor", "material": "Ag", "distribution": "ggx",
            "alpha": 0.005}


def glass() -> dict[str, Any]:
    """Window glass over a dark room: the dielectric reflection of sun and sky only."""
    return coat(rgb(0.02), MIN_ALPHA, 1.52)


def facade(base: RGB, salt: float, repeat: float = 2.0) -> dict[str, Any]:
    """A wall with glass windows (the facade texture's window cells reflect sun and sky)."""
    return {"type": "blendbsdf", "weight": _bitmap(window_mask()[..., None], repeat),
            "bsdf_0": diffuse_tex(base, "facade", salt, repeat), "bsdf_1": glass()}


def asphalt(base: RGB, salt: float, wetness: float, repeat: float) -> dict[str, Any]:
    """Rough asphalt with puddles: ``wetness`` (0..1) of the ground is a smooth wet coat."""
    n = 0.6 * value_noise(64, 4, salt + 5.0) + 0.4 * value_noise(64, 16, salt + 6.0)
    thresh = float(np.quantile(n, 1.0 - min(max(wetness, 0.0), 1.0))) if wetness > 0 else 2.0
    puddles = np.clip((n - thresh) / 0.03, 0.0, 1.0)[..., None]
    dry = {"type": "roughplastic", "distribution": "ggx", "alpha": 0.6, "int_ior": 1.5,
           "diffuse_reflectance": _bitmap(texture(base, "noise", salt), repeat)}
    wet = coat(_bitmap(0.5 * texture(base, "noise", salt), repeat), MIN_ALPHA, 1.33)
    if wetness <= 0:
        return dry
    return {"type": "blendbsdf", "weight": _bitmap(puddles, repeat), "bsdf_0": dry,
            "bsdf_1": wet}


def by_name(name: str, color: Any) -> dict[str, Any]:
    """The spec's ``material:`` names (props and actor meshes)."""
    if name == "paint":
        return paint(color, 0.05)
    if name == "metal":
        return metal()
    if name == "mirror":
        return mirror()
    if name == "glass":
        return glass()
    return diffuse(color)


def black() -> dict[str, Any]:
    return {"type": "diffuse", "reflectance": rgb(0.0)}


def emitter(color: Any, luminance: float, exposure: float) -> dict[str, Any]:
    """An area emitter of ``luminance`` cd/m^2 (times the exposure scale, like all lights)."""
    c = [float(v) for v in color]
    y = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    return {"type": "area", "radiance": rgb([v / max(y, 1e-6) * luminance * exposure
                                             for v in c])}
