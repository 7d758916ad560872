"""Shadow sharpness: the penumbra of a straight edge under a 0.53 deg sun, derived by hand.

A horizontal occluder at height H ends in a straight edge perpendicular to the sun's azimuth.
A ground point at distance u behind the edge's foot sees the edge at elevation
alpha = atan(H / u); the occluder covers every elevation above alpha in the sun's direction,
so the point sees the part of the sun disk (centre elevation e, angular radius r) below alpha.
For a uniform disk and a straight chord at signed distance s = (alpha - e) / r from its centre
the visible fraction is the circular segment

    f(s) = 1 - (acos(s) - s * sqrt(1 - s^2)) / pi        (s clipped to [-1, 1]),

so the ground is fully lit where alpha >= e + r and dark where alpha <= e - r: a penumbra
H * (cot(e - r) - cot(e + r)) ~ 2 r H / sin^2(e) wide (37 cm for H = 20 m, e = 45 deg).
Its 10-90 % width is 0.687 of that (25 cm). A sun left blurred in an environment map, or a sky-only
light, gives a much wider edge or none at all; a sharp directional light gives none of width.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.backends import mitsuba as mb
from pipeline.plan_model import SunPlan
from s2rhdr_loader.core import exr, layout
from tests.helpers.mitsuba_plans import make_plan

LUMA = np.array([0.2126, 0.7152, 0.0722])
H, EDGE_X = 20.0, 30.0  # occluder height and its +X edge; the shadow edge lies near x = 10


def lit_fraction(alpha: np.ndarray, e: float, r: float) -> np.ndarray:
    s = np.clip((alpha - e) / r, -1.0, 1.0)
    return 1.0 - (np.arccos(s) - s * np.sqrt(1.0 - s * s)) / np.pi


def expected_10_90(e_deg: float, diameter_deg: float) -> tuple[float, float]:
    """Ground x of the 10 % and 90 % lit points (numerically from ``lit_fraction``)."""
    x = np.linspace(EDGE_X - H / math.tan(math.radians(e_deg - 2)),
                    EDGE_X - H / math.tan(math.radians(e_deg + 2)), 200001)
    f = lit_fraction(np.arctan2(H, EDGE_X - x), math.radians(e_deg),
                     math.radians(diameter_deg / 2))
    return float(np.interp(0.1, f, x)), float(np.interp(0.9, f, x))


def ground_profile(seq: Path) -> tuple[np.ndarray, np.ndarray]:
    """World x and luminance of every ground pixel (unprojected from depth and K)."""
    y = exr.read_exr(layout.frame_path(seq, "img", 0)) @ LUMA
    depth = exr.read_exr(layout.frame_path(seq, "depth", 0))[..., 0]
    cam = layout.read_json(layout.camera_params_path(seq, 0))
    k, c2w = np.array(cam["K"]), np.array(cam["camera_to_world"])
    h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w]
    rays = np.stack([(xs + 0.5 - k[0, 2]) / k[0, 0], (ys + 0.5 - k[1, 2]) / k[1, 1],
                     np.ones_like(depth)], axis=-1)
    world = (rays * depth[..., None]) @ c2w[:3, :3].T + c2w[:3, 3]
    ground = (depth > 0) & (np.abs(world[..., 2]) < 0.01)
    return world[..., 0][ground], y[ground]


def measured_10_90(x: np.ndarray, y: np.ndarray, x_edge: float) -> tuple[float, float, float]:
    dark = np.median(y[x < x_edge - 0.5])
    lit = np.median(y[x > x_edge + 0.5])
    order = np.argsort(x)
    bins = np.arange(x_edge - 0.5, x_edge + 0.5, 0.01)  # 1 cm bins, mean of each
    idx = np.digitize(x[order], bins)
    cx = np.array([x[order][idx == i].mean() for i in range(1, len(bins)) if (idx == i).any()])
    cf = np.array([(y[order][idx == i].mean() - dark) / (lit - dark)
                   for i in range(1, len(bins)) if (idx == i).any()])
    cf = np.maximum.accumulate(cf)  # monotone envelope against residual noise
    contrast = float(lit / max(dark, 1e-9 * lit))
    return float(np.interp(0.1, cf, cx)), float(np.interp(0.9, cf, cx)), contrast


def shadow_plan(name: str, sun: SunPlan, envmap: dict | None = None):
    occluder = {"center": (EDGE_X - 10.0, 0.0, H), "size": 20.0, "color": (0.5, 0.5, 0.5)}
    ground = {"center": (10.0, 0.0, 0.0), "size": 200.0, "color": (0.6, 0.6, 0.6)}
    opts = {"quads": [ground, occluder]}
    if envmap is not None:
        opts["envmap"] = {"named": False, "rotation_deg": None, "illuminance_lux": 20000.0,
                          "sun": "extract", "sun_illuminance_lux": 90000.0, **envmap}
    # 200 mm lens, 64 px wide: 0.16 deg per pixel, so the 0.53 deg disk is not widened
    # (MIN_SUN_PIXELS); 1.7 cm of ground per pixel along x, the 10-90 % edge spans ~ 15 px
    return make_plan(name, frames=1, size=(64, 128), spp=32, focal_mm=200.0, preset="none",
                     cam_path=[(7.0, 0.0, 3.0)], target=(10.0, 0.0, 0.0), sun=sun, sky=0.0,
                     pixel_type="float", passes=("img", "depth"), mitsuba=opts)


def sun_map(path: Path, el: float, blob_deg: float) -> Path:
    """A uniform sky with a sun blob ``blob_deg`` wide (a clipped HDRI sun is such a blob)."""
    h, w = 256, 512
    rgb = np.full((h, w, 3), 1000.0)
    theta = (np.arange(h) + 0.5) / h * 180.0
    rows = np.abs((90.0 - theta) - el) <= blob_deg / 2
    phi = (np.arange(w) + 0.5) / w * 360.0
    cols = np.abs(phi - 180.0) <= blob_deg / 2 / math.cos(math.radians(el))
    rgb[np.ix_(rows, cols)] = 2.0e6
    exr.write_exr(path, rgb.astype(np.float32), pixel_type="float")
    return path


def _check_edge(seq: Path, e_deg: float) -> None:
    x10_exp, x90_exp = expected_10_90(e_deg, 0.53)
    x, y = ground_profile(seq)
    x10, x90, contrast = measured_10_90(x, y, EDGE_X - H / math.tan(math.radians(e_deg)))
    assert contrast > 3.0  # a shadow at all (a sky-only light gives none)
    width, width_exp = x90 - x10, x90_exp - x10_exp
    assert 0.23 < width_exp < 0.28  # the hand value: 0.687 * 2 r H / sin^2(e) ~ 0.254 m
    # measured 1.5 % wider (pixel filter, 1.7 cm footprint); a 2x blurrier sun fails
    assert width_exp * 0.85 < width < width_exp * 1.2, (width, width_exp)
    assert abs((x10 + x90) / 2 - (x10_exp + x90_exp) / 2) < 0.05  # the edge where the sun says


def test_visible_sun_casts_the_penumbra_of_a_half_degree_disk(tmp_path):
    sun = SunPlan(45.0, 0.0, 100000.0, visible=True)
    mb.render(shadow_plan("shadow", sun), tmp_path / "out", quality="final", verbose=False)
    _check_edge(tmp_path / "out", 45.0)


def test_sun_extracted_from_a_blurry_map_sun_casts_a_sharp_shadow(tmp_path):
    # the map's sun is a 3 deg blob: left in the map it would blur the edge about 6x
    path = sun_map(tmp_path / "blob.exr", 45.0, 3.0)
    plan = shadow_plan("mapshadow", SunPlan(45.0, 0.0, 90000.0, visible=True),
                       envmap={"map": str(path)})
    mb.render(plan, tmp_path / "out", quality="final", verbose=False)
    found = layout.read_json(tmp_path / "out" / "meta.json")["lighting"]["envmap"]["sun"]
    assert found["azimuth_deg"] == pytest.approx(0.0, abs=0.5)  # turned to the plan's sun
    _check_edge(tmp_path / "out", found["elevation_deg"])


def test_the_check_rejects_a_sun_twice_too_wide(tmp_path):
    """The checks above must fail for a sun of the wrong size (a 1.06 deg disk)."""
    sun = dataclasses.replace(SunPlan(45.0, 0.0, 100000.0, visible=True),
                              angular_diameter_deg=1.06)
    mb.render(shadow_plan("blurry", sun), tmp_path / "out", quality="final", verbose=False)
    with pytest.raises(AssertionError):
        _check_edge(tmp_path / "out", 45.0)
