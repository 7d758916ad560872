"""Image-based lighting and highlights, against values derived by hand.

- A Lambertian surface of albedo rho under a uniform environment of radiance L reflects
  rho * L whatever its orientation (it sees nothing else): pixel = rho * L * exposure scale.
- A horizontal Lambertian surface under L(theta) = L0 cos(theta) (upper hemisphere) receives
  E = int L0 cos^2(theta) d_omega = 2 pi L0 / 3, so it shows rho * E / pi = 2 rho L0 / 3.
- A mirror shows the sun disk (1e5 lux over 6.7e-5 sr ~ 1.5e9 cd/m^2, or less when widened
  to 2.5 px) where a white Lambertian surface under the same sun shows E sin(el) / pi.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline import envmaps
from pipeline.backends import mitsuba as mb
from pipeline.backends import mitsuba_lights
from pipeline.geometry import world_to_camera
from pipeline.plan_model import CameraPose, SunPlan
from s2rhdr_loader.core import exr, layout
from tests.helpers.mitsuba_plans import make_plan

LUMA = np.array([0.2126, 0.7152, 0.0722])


def write_map(path: Path, rgb: np.ndarray) -> Path:
    exr.write_exr(path, rgb.astype(np.float32), pixel_type="float")
    return path


def envmap_plan(name: str, envmap: dict, **kw):
    opts = {"envmap": {"named": False, "rotation_deg": None, "illuminance_lux": None,
                       "sun": "keep", "sun_illuminance_lux": None, **envmap}}
    opts.update(kw.pop("mitsuba", {}))
    return make_plan(name, frames=1, preset="none", sun=None, sky=0.0, pixel_type="float",
                     passes=("img",), mitsuba=opts, **kw)


def looking_down(plan, height: float = 3.0):
    rot = (0.0, -90.0, 0.0)
    loc = (0.0, 0.0, height)
    frame = dataclasses.replace(plan.timeline[0], camera=CameraPose(loc, rot,
                                                                     world_to_camera(loc, rot)))
    return dataclasses.replace(plan, timeline=(frame,))


def _img(seq: Path) -> np.ndarray:
    return exr.read_exr(layout.frame_path(seq, "img", 0))


@pytest.mark.parametrize("lux", [None, 31415.9])
def test_uniform_map_lambertian_sphere_shows_albedo_times_radiance(tmp_path, lux):
    L = 2000.0  # cd/m^2 (file values taken as cd/m^2 when no illuminance is given)
    path = write_map(tmp_path / "flat.exr", np.full((32, 64, 3), L))
    plan = envmap_plan("flat", {"map": str(path), "illuminance_lux": lux}, size=(48, 32),
                       spp=16, target=(6.0, 0.0, 1.6),
                       mitsuba={"spheres": [{"center": (6.0, 0.0, 1.6), "radius": 1.0,
                                             "color": (0.8, 0.8, 0.8)}]})
    mb.render(plan, tmp_path / "out", quality="final", verbose=False)
    y = _img(tmp_path / "out") @ LUMA
    radiance = L if lux is None else lux / math.pi  # E_h of a uniform map = pi * L
    expected_bg, expected_sphere = radiance * plan.exposure.scale, \
        0.8 * radiance * plan.exposure.scale
    assert np.median(y[0]) == pytest.approx(expected_bg, rel=0.01)  # top row: the map
    assert y[16, 24] == pytest.approx(expected_sphere, rel=0.03)  # sphere centre
    meta = layout.read_json(tmp_path / "out" / "meta.json")
    assert meta["lighting"]["envmap"]["licence"] == "user supplied"
    record = meta["environment_map"]  # the stable field the dataset card reads
    assert record["used"] and record["licence"] == "user supplied"
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_named_map_is_recorded_as_not_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(envmaps, "SYSTEM_DIRS", (str(tmp_path / "none"),))
    monkeypatch.setenv(envmaps.ENV_VAR, "")
    monkeypatch.setattr(mitsuba_lights, "_warned", set())
    plan = envmap_plan("nomap", {"map": "city", "named": True}, size=(16, 8), spp=1)
    mb.render(plan, tmp_path / "out", quality="final", verbose=False)
    assert "notice: environment map 'city' not found" in capsys.readouterr().err
    record = layout.read_json(tmp_path / "out" / "meta.json")["environment_map"]
    assert record["name"] == "city" and record["used"] is False and record["sha256"] is None


def test_cosine_map_lights_a_horizontal_surface_with_its_integral(tmp_path):
    h, w, L0 = 64, 128, 3000.0
    cos_t = np.cos((np.arange(h) + 0.5) / h * np.pi)
    rgb = np.repeat((L0 * np.maximum(cos_t, 0.0))[:, None, None], w, axis=1).repeat(3, axis=2)
    path = write_map(tmp_path / "cos.exr", rgb)
    plan = envmap_plan("cosmap", {"map": str(path)}, size=(32, 32), spp=32,
                       mitsuba={"quads": [{"center": (0, 0, 0), "size": 200.0,
                                           "color": (0.9, 0.9, 0.9)}]})
    mb.render(looking_down(plan), tmp_path / "out", quality="final", verbose=False)
    y = _img(tmp_path / "out") @ LUMA
    expected = 0.9 * (2.0 / 3.0) * L0 * plan.exposure.scale  # rho E / pi, E = 2 pi L0 / 3
    assert np.mean(y) == pytest.approx(expected, rel=0.03)


def test_extracted_sun_lights_with_its_illuminance_and_sits_where_meta_says(tmp_path):
    h, w = 128, 256
    sky, blob = 1000.0, 4.0e6
    rgb = np.full((h, w, 3), sky)
    el, col = 40.0, 100  # texel row of elevation 40 deg, any column
    row = int((90.0 - el) / 180.0 * h)
    rgb[row - 1:row + 1, col - 1:col + 1] = blob
    path = write_map(tmp_path / "sun.exr", rgb)
    e_sky, e_sun = 20000.0, 90000.0
    plan = envmap_plan("sunmap", {"map": str(path), "sun": "extract", "illuminance_lux": e_sky,
                                  "sun_illuminance_lux": e_sun}, size=(32, 32), spp=32,
                       mitsuba={"quads": [{"center": (0, 0, 0), "size": 400.0,
                                           "color": (0.5, 0.5, 0.5)}]})
    mb.render(looking_down(plan), tmp_path / "out", quality="final", verbose=False)
    meta = layout.read_json(tmp_path / "out" / "meta.json")
    found = meta["lighting"]["envmap"]["sun"]
    assert found["elevation_deg"] == pytest.approx(90.0 - (row / h) * 180.0, abs=1.0)
    y = _img(tmp_path / "out") @ LUMA
    sin_el = math.sin(math.radians(found["elevation_deg"]))
    expected = 0.5 * (e_sky + e_sun * sin_el) / math.pi * plan.exposure.scale
    assert np.mean(y) == pytest.approx(expected, rel=0.03)
    # the disk is drawn where meta.json says: look at it
    az = found["azimuth_deg"]
    target = (100 * math.cos(math.radians(el)) * math.cos(math.radians(az)),
              100 * math.cos(math.radians(el)) * math.sin(math.radians(az)),
              1.6 + 100 * math.sin(math.radians(el)))
    seen = make_plan("sunview", frames=1, preset="none", sun=None, sky=0.0, size=(33, 33),
                     spp=8, pixel_type="float", passes=("img",), target=target,
                     mitsuba=envmap_plan("x", {"map": str(path), "sun": "extract"})
                     .environment.backends["mitsuba"])
    mb.render(seen, tmp_path / "view", quality="final", verbose=False)
    y = _img(tmp_path / "view") @ LUMA
    r, c = np.unravel_index(np.argmax(y), y.shape)
    assert abs(r - 16) <= 1 and abs(c - 16) <= 1


def test_mirror_shows_the_sun_above_100x_diffuse_white(tmp_path):
    el, lux = 30.0, 100000.0
    plan = make_plan("mirror", frames=1, size=(64, 48), spp=16, preset="none",
                     sun=SunPlan(el, 0.0, lux, visible=True), sky=0.0, pixel_type="float",
                     passes=("img",), ev100=14.0, focal_mm=50.0,
                     cam_path=[(0.0, 0.0, 2.0)],
                     target=(2.0 / math.tan(math.radians(el)), 0.0, 0.0),
                     mitsuba={"quads": [{"center": (0, 0, 0), "size": 200.0,
                                         "material": "mirror"}]})
    mb.render(plan, tmp_path / "out", quality="final", verbose=False)
    white = lux * math.sin(math.radians(el)) / math.pi * plan.exposure.scale  # rho = 1
    y = _img(tmp_path / "out") @ LUMA
    assert y.max() > 100 * white
    r, c = np.unravel_index(np.argmax(y), y.shape)
    assert abs(r - 24) <= 2 and abs(c - 32) <= 2  # the reflection is at the aim point
