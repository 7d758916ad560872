"""Sun, sky, environment maps and the spec's lights as Mitsuba emitters.

Radiometry: every emitter is given in photometric units times ``plan.exposure.scale`` (we
scale the emitters, not the image), so a pixel value is luminance (cd/m^2) x exposure scale.

Environment maps (``environment.mitsuba.envmap``): an equirectangular HDR image replaces the
analytic sky. Its calibration is photometric: the map is scaled so that its horizontal
illuminance without the sun, ``E_h = sum L cos(theta) d_omega`` over the upper hemisphere,
equals ``illuminance_lux`` (or its pixels are taken as cd/m^2). A real sun is *extracted*:
the texels around the brightest one that stand out from their surroundings are replaced by
the surroundings, and their luminance-weighted direction becomes a 0.53 deg sun disk (a far
emissive sphere) with the clear-sky illuminance of its elevation, so it casts sharp shadows
and is seen where the map had it. Mitsuba's ``envmap`` emitter importance-samples the rest
(bright windows, lamps, a kept sun).
"""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import envmaps
from pipeline.backends.mitsuba_shapes import (
    SUN_DISTANCE_M,
    TYPICAL_DISTANCE_M,
    Shapes,
    mi_transform,
    point_to_mitsuba,
    rot,
    scale,
    to_mitsuba,
    translate,
    unreal_pose,
)
from pipeline.errors import RenderError
from pipeline.plan import sun_illuminance_lux
from pipeline.plan_model import ShotPlan, SkyPlan, SunPlan

LUMA = np.array([0.2126, 0.7152, 0.0722])
MIN_SUN_PIXELS = 2.5
SUN_CORE_DEG, SUN_RING_DEG = 5.0, 8.0  # extraction cone and the surroundings ring
_warned: set[str] = set()


def _rgb(color: Any, value: float) -> dict[str, Any]:
    return {"type": "rgb", "value": [float(c) * value for c in color]}


# ---- lat-long maps ------------------------------------------------------------------------

def envmap_directions(h: int, w: int) -> np.ndarray:
    """World (Mitsuba axes) direction of each texel of a lat-long envmap posed with
    ``rotate([1, 0, 0], 90)``: Mitsuba's local frame is Y-up, u = atan2(x, -z) / 2pi,
    v = acos(y) / pi; the rotation maps local (x, y, z) to world (x, -z, y), Z up."""
    theta = (np.arange(h) + 0.5) / h * np.pi
    phi = (np.arange(w) + 0.5) / w * 2 * np.pi
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    return np.stack([np.sin(th) * np.sin(ph), np.sin(th) * np.cos(ph), np.cos(th)], axis=-1)


def texel_solid_angles(h: int, w: int) -> np.ndarray:
    theta = (np.arange(h) + 0.5) / h * np.pi
    return np.repeat((np.pi / h) * (2 * np.pi / w) * np.sin(theta)[:, None], w, axis=1)


def horizontal_illuminance(rgb: np.ndarray) -> float:
    """``sum L cos(theta) d_omega`` over the upper hemisphere (lux per map unit)."""
    h, w = rgb.shape[:2]
    cos_t = np.cos((np.arange(h) + 0.5) / h * np.pi)[:, None]
    y = rgb @ LUMA
    return float((y * np.maximum(cos_t, 0.0) * texel_solid_angles(h, w)).sum())


def _azimuth_elevation(d_mitsuba: np.ndarray) -> tuple[float, float]:
    """Unreal azimuth (from +X towards +Y) and elevation of a Mitsuba-axes direction."""
    x, y, z = (float(v) for v in d_mitsuba)
    return math.degrees(math.atan2(-y, x)), math.degrees(math.asin(max(-1.0, min(1.0, z))))


@dataclass
class ExtractedSun:
    direction: np.ndarray  # Mitsuba axes, map frame (rotation 0)
    irradiance: float  # luminance x solid angle in map units (what the map held)
    color: tuple[float, float, float]  # unit luminance
    texels: int


def extract_sun(rgb: np.ndarray) -> tuple[np.ndarray, ExtractedSun | None]:
    """The map without its sun (sun texels filled with their surroundings) and the sun."""
    h, w = rgb.shape[:2]
    y = rgb @ LUMA
    dirs = envmap_directions(h, w)
    i, j = np.unravel_index(int(np.argmax(y)), y.shape)
    cos_a = dirs @ dirs[i, j]
    core = cos_a > math.cos(math.radians(SUN_CORE_DEG))
    ring = ~core & (cos_a > math.cos(math.radians(SUN_RING_DEG)))
    bg = np.median(rgb[ring], axis=0)
    sel = core & (y > 4.0 * float(bg @ LUMA) + 1e-6)
    if not sel.any():
        return rgb, None
    dom = texel_solid_angles(h, w)
    excess = np.maximum(rgb[sel] - bg, 0.0) * dom[sel][:, None]
    wts = excess @ LUMA
    direction = (wts[:, None] * dirs[sel]).sum(axis=0)
    e_rgb = excess.sum(axis=0)
    y_sun = float(e_rgb @ LUMA)
    out = rgb.copy()
    out[sel] = bg
    color = tuple(float(c) for c in np.clip(e_rgb / max(y_sun, 1e-12), 0.05, 5.0))
    return out, ExtractedSun(direction / np.linalg.norm(direction), y_sun, color,
                             int(sel.sum()))


def read_map(path: Path) -> np.ndarray:
    """RGB float64 texels of an .exr/.hdr map (negative values from the capture set to 0)."""
    try:
        if path.suffix.lower() == ".hdr":
            from s2rhdr_loader.core import hdr

            data = hdr.read_hdr(path)
        else:
            from s2rhdr_loader.core import exr

            data = exr.read_exr(path)
    except Exception as exc:  # a damaged file is the user's, not a bug
        raise RenderError(f"environment map {path}: cannot read ({exc})") from None
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 3 or data.shape[2] < 3 or data.shape[1] != 2 * data.shape[0]:
        raise RenderError(f"environment map {path}: expected an RGB lat-long image with "
                          f"width = 2 x height, got shape {data.shape}")
    return np.nan_to_num(np.maximum(data[..., :3], 0.0), posinf=0.0)


@dataclass
class EnvLight:
    """A calibrated map ready for Mitsuba: texels in cd/m^2, yaw, and the extracted sun."""

    rgb: np.ndarray  # cd/m^2 (not yet x exposure)
    rotation_deg: float
    sun: SunPlan | None
    notes: dict[str, Any] = field(default_factory=dict)


def _resolve_map(opts: dict[str, Any]) -> Path | None:
    name = str(opts["map"])
    if opts.get("named"):
        return envmaps.find_named(name)
    path = Path(name)
    if not path.is_file():
        raise RenderError(f"environment map {path} not found",
                          hint="re-plan the spec where the map is, or fix the path")
    return path


def _fallback_notice(name: str) -> None:
    if name not in _warned:
        _warned.add(name)
        print(f"notice: environment map {name!r} not found ({envmaps.ENV_VAR} or "
              f"{envmaps.SYSTEM_DIRS[0]}; `make envmaps` installs it); using the analytic "
              f"sky", file=sys.stderr)


def environment_light(plan: ShotPlan) -> EnvLight | None:
    """The plan's calibrated envmap, or None (no map in the plan, or a named map missing)."""
    opts = dict(plan.environment.backends.get("mitsuba", {}) or {}).get("envmap")
    if not opts:
        return None
    path = _resolve_map(opts)
    if path is None:
        _fallback_notice(str(opts["map"]))
        return None
    raw = read_map(path)
    named = envmaps.NAMED.get(str(opts["map"])) if opts.get("named") else None
    mode = opts.get("sun") or (named.sun if named else "keep")
    sky, sun = extract_sun(raw) if mode == "extract" else (raw, None)
    e_h = horizontal_illuminance(sky)
    lux = opts.get("illuminance_lux")
    if lux is None and named is not None:
        lux = named.illuminance_lux
    factor = float(lux) / max(e_h, 1e-12) if lux is not None else 1.0
    sun_plan, rotation = None, opts.get("rotation_deg")
    notes: dict[str, Any] = {
        "map": str(opts["map"]), "file": str(path), "licence": envmaps.LICENCE if named
        else "user supplied", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "cd_m2_per_map_unit": factor, "illuminance_lux_without_sun": e_h * factor}
    if sun is not None:
        az0, el = _azimuth_elevation(sun.direction)
        if rotation is None:
            rotation = (plan.environment.sun.azimuth_deg - az0) if plan.environment.sun else 0.0
        sun_lux = opts.get("sun_illuminance_lux")
        sun_lux = sun_illuminance_lux(el) if sun_lux is None else float(sun_lux)
        az = (az0 + float(rotation) + 180.0) % 360.0 - 180.0
        sun_plan = SunPlan(el, az, sun_lux, True, 0.53, sun.color)
        notes["sun"] = {"elevation_deg": round(el, 3), "azimuth_deg": round(az, 3),
                        "illuminance_lux": round(sun_lux, 1), "texels": sun.texels,
                        "map_illuminance_lux": round(sun.irradiance * factor, 1)}
    notes["rotation_deg"] = float(rotation or 0.0)
    return EnvLight(sky * factor, float(rotation or 0.0), sun_plan, notes)


def envmap_to_world(rotation_deg: float) -> Any:
    """Lat-long pose: Z up, then a yaw of ``rotation_deg`` (Unreal: +X towards +Y)."""
    import mitsuba as mi

    return mi.ScalarTransform4f().rotate([0, 0, 1], -rotation_deg).rotate([1, 0, 0], 90)


# ---- the analytic sky ---------------------------------------------------------------------

def cie_sky_ratio(dirs: np.ndarray, sun_dir: Any | None) -> np.ndarray:
    """Relative sky luminance L / L_zenith of the CIE standard skies (ISO 15469 / CIE S 011).

    With a sun: type 12, clear sky (a=-1, b=-0.32, c=10, d=-3, e=0.45): a bright circumsolar
    region and a darker sky opposite the sun. Without a sun: type 1, overcast,
    ``(1 + 2 cos Z) / 3``. Below the horizon the sky is replaced by 0.25 x zenith (ground).
    """
    cos_z = dirs[..., 2]
    above = cos_z > 1e-4
    if sun_dir is None:
        ratio = (1 + 2 * np.clip(cos_z, 0, 1)) / 3
    else:
        a, b, c, d, e = -1.0, -0.32, 10.0, -3.0, 0.45
        sd = np.asarray(sun_dir, dtype=np.float64)
        sd = sd / np.linalg.norm(sd)

        def grad(cz: np.ndarray) -> np.ndarray:
            return 1 + a * np.exp(b / np.maximum(cz, 1e-4))

        def indic(chi: np.ndarray) -> np.ndarray:
            return 1 + c * (np.exp(d * chi) - math.exp(d * math.pi / 2)) + e * np.cos(chi) ** 2

        chi = np.arccos(np.clip(dirs @ sd, -1, 1))
        zs = math.acos(max(-1.0, min(1.0, float(sd[2]))))
        ratio = indic(chi) * grad(cos_z) / (indic(np.array(zs)) * grad(np.array(1.0)))
    return np.where(above, ratio, 0.25)


def sky_bitmap(luminance: float, color: Any, exposure: float,
               sun_dir: Any | None = None, h: int = 64, w: int = 128) -> np.ndarray:
    """Lat-long sky texture (cd/m^2 x exposure), zenith = ``luminance`` (CIE sky shape)."""
    ratio = cie_sky_ratio(envmap_directions(h, w), sun_dir)
    img = ratio[..., None] * np.asarray(color, dtype=np.float64)[None, None, :]
    return (img * luminance * exposure).astype(np.float32)


# ---- emitters -----------------------------------------------------------------------------

def _add_sky(s: Shapes, sky: SkyPlan, sun: SunPlan | None, env: EnvLight | None,
             k: float) -> None:
    import mitsuba as mi

    if env is not None:
        bmp = (env.rgb * k).astype(np.float32)
        to_world = envmap_to_world(env.rotation_deg)
    elif sky.luminance > 0:
        sun_dir = point_to_mitsuba(sun.direction()) if sun is not None else None
        bmp = sky_bitmap(sky.luminance, sky.color, k, sun_dir)
        to_world = mi.ScalarTransform4f().rotate([1, 0, 0], 90)
    else:
        return
    # emitter sampling in proportion to illuminance (see mitsuba_shapes.area_weight)
    s.shapes["sky"] = {"type": "envmap", "bitmap": mi.Bitmap(bmp), "to_world": to_world,
                       "sampling_weight": max(horizontal_illuminance(bmp), 1e-12)}


def _add_sun(s: Shapes, sun: SunPlan, k: float, pixel_deg: float) -> str:
    d = point_to_mitsuba(sun.direction())
    if not sun.visible:
        s.shapes["sun"] = {"type": "directional", "direction": [-v for v in d],
                           "irradiance": _rgb(sun.color, sun.illuminance_lux * k),
                           "sampling_weight": max(sun.illuminance_lux * k, 1e-12)}
        return "directional (not visible)"
    # A real disk: a far sphere of the sun's angular size whose radiance gives the requested
    # illuminance (E = L * solid angle). It lights the scene by itself, so no directional
    # emitter is added (that would count the sun twice).
    diameter = max(float(sun.angular_diameter_deg), MIN_SUN_PIXELS * pixel_deg)
    half = math.radians(diameter) / 2
    omega = 2 * math.pi * (1 - math.cos(half))
    radiance = sun.illuminance_lux / omega
    r = SUN_DISTANCE_M * math.sin(half)
    c = [SUN_DISTANCE_M * v for v in d]
    s.static("sun_disk", "sphere", translate(*c) @ scale(r, r, r),
             {"type": "diffuse", "reflectance": {"type": "rgb", "value": 0.0}},
             {"type": "area", "radiance": _rgb(sun.color, radiance * k),
              "sampling_weight": max(sun.illuminance_lux * k, 1e-12)})
    return (f"visible disk, {diameter:.3g} deg, radiance {radiance:.4g} cd/m^2"
            + (" (widened to 2.5 px)" if diameter > sun.angular_diameter_deg else ""))


def _point_weight(light: Any, k: float) -> float:
    return max(light.intensity_cd * k / TYPICAL_DISTANCE_M**2, 1e-12)


def _add_light(s: Shapes, i: int, light: Any, k: float) -> None:
    pose = to_mitsuba(unreal_pose(light.position, light.rotation))
    if light.kind == "area":
        # rectangle normal (+Z) -> the light's forward axis (+X of the pose)
        m = pose @ rot("y", 90) @ scale(light.size[0] / 2, light.size[1] / 2, 1)
        s.static(f"light{i}", "rectangle", m,
                 {"type": "diffuse", "reflectance": {"type": "rgb", "value": 0.0}},
                 {"type": "area", "radiance": _rgb(light.color, light.luminance * k)})
    elif light.kind == "point":
        s.shapes[f"light{i}"] = {"type": "point", "position": point_to_mitsuba(light.position),
                                 "intensity": _rgb(light.color, light.intensity_cd * k),
                                 "sampling_weight": _point_weight(light, k)}
    elif light.kind == "spot":
        s.shapes[f"light{i}"] = {"type": "spot", "to_world": mi_transform(pose @ rot("y", 90)),
                                 "cutoff_angle": float(light.cone_deg),
                                 "beam_width": 0.75 * float(light.cone_deg),
                                 "intensity": _rgb(light.color, light.intensity_cd * k),
                                 "sampling_weight": _point_weight(light, k)}
    else:
        raise RenderError(f"light {i}: unknown kind {light.kind!r}",
                          hint="use area, point or spot")


DEFENSIVE_SHARE = 0.5  # share of the light samples spread uniformly over all emitters
EMITTER_TYPES = ("envmap", "directional", "point", "spot", "constant")


def defensive_weights(shapes: dict[str, Any], share: float = DEFENSIVE_SHARE) -> None:
    """Mix the illuminance weights with a uniform choice (defensive importance sampling,
    Hesterberg, Technometrics 37(2), 1995): ``p_i = share / N + (1 - share) w_i / sum(w)``.

    Why: the illuminance weights (``area_weight``, sun and sky by lux) are right where every
    emitter sees the receiver, but a room's sun and sky (tens of klux) are occluded almost
    everywhere inside, and pure weighting left the room's own lamps 0.2 % of the light
    samples: > 5 % of the pixels of a 2-spp interior were exactly black. With the mixture no
    emitter gets less than ``share / N`` of the samples and a sun among 25 lamps still gets
    over half of them. Mitsuba normalises the weights itself; the estimate stays unbiased.
    """
    emitters = [d for d in shapes.values() if isinstance(d, dict)
                and d.get("type") in EMITTER_TYPES]
    emitters += [d["emitter"] for d in shapes.values()
                 if isinstance(d, dict) and isinstance(d.get("emitter"), dict)]
    if len(emitters) < 2:
        return
    total = sum(float(e.get("sampling_weight", 1.0)) for e in emitters)
    for e in emitters:
        w = float(e.get("sampling_weight", 1.0)) / total
        e["sampling_weight"] = share / len(emitters) + (1.0 - share) * w


def build_lights(plan: ShotPlan, s: Shapes, pixel_deg: float = 0.0,
                 env: EnvLight | None = None) -> dict[str, Any]:
    """Sun, sky (or envmap) and spec lights as Mitsuba emitters (already x exposure).

    ``pixel_deg`` (angular size of one pixel): a visible sun disk smaller than
    ``MIN_SUN_PIXELS`` pixels is widened to that size at the same illuminance (lower
    radiance), otherwise a preview render at 4 spp misses the sub-pixel disk by chance.
    With an envmap the plan's analytic sun and sky are replaced by the map and its sun.
    """
    k = float(plan.exposure.scale)
    sun = env.sun if env is not None else plan.environment.sun
    notes: dict[str, Any] = {}
    _add_sky(s, plan.environment.sky, sun, env, k)
    if env is not None:
        notes["envmap"] = env.notes
    if sun is not None and sun.illuminance_lux > 0 and sun.elevation_deg > -2.0:
        notes["sun"] = _add_sun(s, sun, k, pixel_deg)
    for i, light in enumerate(plan.environment.lights):
        _add_light(s, i, light, k)
    defensive_weights(s.shapes)
    return notes


def is_dark(plan: ShotPlan, env: EnvLight | None) -> bool:
    """Dusk or night: lamps and signs glow (a map with under 1000 lux counts as dark)."""
    if env is not None:
        return env.notes["illuminance_lux_without_sun"] < 1000.0 and env.sun is None
    sun = plan.environment.sun
    return (sun is None or sun.elevation_deg < 5.0) and plan.environment.sky.luminance < 1000.0
