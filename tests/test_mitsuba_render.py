"""Physical-meaning tests of the Mitsuba backend on tiny renders (Kubric's habit)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.backends import mitsuba as mb
from pipeline.errors import RenderError
from pipeline.flow import warp_backward
from pipeline.geometry import project, world_to_camera
from pipeline.plan_model import CameraPose, LightPlan, SunPlan
from s2rhdr_loader.core import exr, layout
from tests.helpers.mitsuba_plans import make_plan

LUMA = np.array([0.2126, 0.7152, 0.0722])


def _read(seq: Path, name: str, i: int = 0) -> np.ndarray:
    return exr.read_exr(layout.frame_path(seq, name, i))


def _double_lights(plan):
    env = plan.environment
    sun = dataclasses.replace(env.sun, illuminance_lux=2 * env.sun.illuminance_lux)
    sky = dataclasses.replace(env.sky, luminance=2 * env.sky.luminance)
    lights = tuple(dataclasses.replace(li, luminance=2 * li.luminance,
                                       intensity_cd=2 * li.intensity_cd) for li in env.lights)
    return dataclasses.replace(plan, environment=dataclasses.replace(
        env, sun=sun, sky=sky, lights=lights))


def test_doubling_every_light_doubles_pixel_values(tmp_path):
    lights = (LightPlan("area", (6.0, 2.0, 3.0), (0.0, -60.0, 180.0), (1.0, 1.0),
                        luminance=40000.0),
              LightPlan("point", (5.0, -2.0, 2.0), intensity_cd=3000.0),
              LightPlan("spot", (9.0, 1.0, 4.0), (0.0, -70.0, 0.0), intensity_cd=20000.0,
                        cone_deg=30.0))
    plan = make_plan("dbl", frames=1, spp=8, pixel_type="float", passes=("img",),
                     sun=SunPlan(30.0, 150.0, 40000.0, visible=True), sky=2000.0,
                     lights=lights, actors=[("vehicle", [(14, -2, 0)])])
    mb.render(plan, tmp_path / "a", quality="final")
    mb.render(_double_lights(plan), tmp_path / "b", quality="final")
    a, b = _read(tmp_path / "a", "img"), _read(tmp_path / "b", "img")
    sel = a > 1e-4
    ratio = b[sel] / a[sel]
    assert sel.mean() > 0.95  # the frame is lit
    assert abs(np.median(ratio) - 2.0) < 1e-3
    assert np.mean(np.abs(ratio - 2.0) < 1e-2) > 0.99  # linear: no tone curve, no clamp


def test_visible_sun_gives_more_than_16_stops(tmp_path):
    # The classic HDR shot: a 300 mm telephoto on a low sun peeking past a dark, backlit
    # object (a 2.6 m sphere 100 m away standing in for a tree or a building corner). The
    # 0.53 deg disk (E / solid angle ~ 1.5e9 cd/m^2) covers ~1% of the frame; the CIE clear
    # sky around it is ~40x its zenith luminance; the object's shadowed face is far darker.
    el = math.radians(4.0)
    sun = SunPlan(4.0, 0.0, 100000.0, visible=True)
    target = (1000 * math.cos(el), 0.0, 1.6 + 1000 * math.sin(el))
    az = math.radians(-2.6)
    blocker = (100 * math.cos(el) * math.cos(az), 100 * math.sin(az), 1.6 + 100 * math.sin(el))
    plan = make_plan("sun", frames=1, spp=4, focal_mm=300.0, ev100=15.0, sun=sun, sky=1500.0,
                     target=target, pixel_type="float", passes=("img",),
                     mitsuba={"spheres": [{"center": blocker, "radius": 2.6,
                                           "color": (0.05, 0.05, 0.05)}]})
    mb.render(plan, tmp_path, quality="final")
    lum = _read(tmp_path, "img") @ LUMA
    p1, p999 = np.percentile(lum, [1, 99.9])
    assert p999 / p1 > 2.0 ** 16
    assert lum.max() < 65504  # EV 15 keeps the disk inside HALF range


@pytest.fixture(scope="module")
def actors_render(tmp_path_factory):
    out = tmp_path_factory.mktemp("actors")
    ped = [(8.0, -0.6 + 0.3 * j, 0.0) for j in range(3)]
    plan = make_plan("act", frames=3, size=(64, 48), spp=4, target=(8.0, 0.0, 1.0),
                     cam_path=[(0.0, 0.0, 1.2)] * 3,
                     actors=[("pedestrian", ped), ("vehicle", [(20.0, -7.0, 0.0)] * 3),
                             ("animal", [(6.0, 1.5 + 0.1 * j, 0.0) for j in range(3)])])
    files = mb.render(plan, out, quality="final")
    return plan, out, files


def test_actor_moving_right_has_positive_flow_of_the_right_size(actors_render):
    plan, out, _ = actors_render
    mask, flow = _read(out, "mask")[..., 0], _read(out, "flow")
    assert {1.0, 2.0, 3.0} <= set(np.unique(mask).tolist())  # every proxy is visible
    k = np.array(plan.camera.K)
    w2c = plan.frame(0).camera.world_to_camera
    u0 = project(k, w2c, (8.0, -0.6, 1.2))[0]
    u1 = project(k, w2c, (8.0, -0.3, 1.2))[0]
    ped = mask == 1
    assert np.median(flow[ped, 0]) == pytest.approx(u1 - u0, rel=0.2)
    assert u1 - u0 > 1.0
    assert abs(np.median(flow[ped, 1])) < 0.3 * (u1 - u0)
    # the static scene does not move (camera on a tripod); the parked car's wheels spin
    assert np.abs(flow[mask == 0]).max() < 1e-3
    assert np.abs(flow[mask == 2]).max() > 0.05


def test_output_files_follow_the_layout(actors_render):
    plan, out, files = actors_render
    assert files and all(f.is_file() and out in f.parents for f in files)
    seq = layout.read_sequence(out)
    assert seq.num_frames == 3 and set(seq.passes) == set(layout.PASSES[1:])
    for name, chans in layout.PASS_CHANNELS.items():
        head = exr.read_header(layout.frame_path(out, name, 2))
        assert sorted(head.channels) == sorted(chans), name
        assert head.compression == "zip"
        # only colour passes claim Rec.709 primaries; depth/normal/flow/mask are not colours
        assert ("chromaticities" in head.attributes) == (name in layout.COLOUR_PASSES), name
    assert set(exr.read_header(layout.frame_path(out, "flow", 0)).channels.values()) == {"float"}
    assert set(exr.read_header(layout.frame_path(out, "img", 0)).channels.values()) == {"half"}
    cp = layout.read_json(layout.camera_params_path(out, 1))
    assert cp["resolution"] == [64, 48] and cp["K"][0][2] == 32.0
    meta = layout.read_json(out / "meta.json")
    assert meta["backend"] == "mitsuba" and meta["variant"] in ("llvm_ad_rgb", "scalar_rgb")
    t = meta["timings"]
    assert 0 < t["mitsuba_render_s"] <= t["total_s"]
    assert len(t["per_frame_s"]) == 3
    depth = _read(out, "depth")[..., 0]
    normal = _read(out, "normal")
    ground = (depth > 0) & (normal[..., 2] > 0.99)  # Unreal axes: ground normal is +Z
    assert ground.mean() > 0.2


def _diffuse_material_pixels(plan) -> np.ndarray:
    """Pixels of frame 0 whose surface has a plain ``diffuse`` BSDF (view-independent), from
    the backend's own shape-id render at the pixel centres (where flow is evaluated)."""
    from pipeline.backends.mitsuba_variant import activate

    activate(False)
    import mitsuba as mi

    shot = mb._load_shot(mi, plan, "final", {})
    f0 = plan.timeline[0]
    shot.poser.pose(f0, mb._poses(f0, shot.plan))
    geo = np.array(mi.render(shot.scene, sensor=1, integrator=shot.geo_integrator, spp=1))
    diffuse_ids = [shot.ids[k] for k, d in shot.build.scene_dict.items()
                   if k in shot.ids and dict(d.get("bsdf", {})).get("type") == "diffuse"]
    return np.isin(np.rint(geo[..., 3]).astype(int), diffuse_ids)


def _erode(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    for axis in (0, 1):
        for shift in (-1, 1):
            out &= np.roll(m, shift, axis=axis)
    return out


def test_warping_next_frame_by_flow_reproduces_static_regions(tmp_path):
    path = [(0.0, 0.0, 1.6), (0.0, 0.3, 1.65)]  # sideways step: parallax + rotation
    # the plaza without puddles: diffuse paving (most of the frame), glossy-glass facades
    plan = make_plan("warp", frames=2, size=(96, 64), spp=16, cam_path=path, preset="plaza",
                     mitsuba={"wetness": 0, "set_seed": 1},
                     pixel_type="float", passes=("img", "diffuse", "flow", "depth", "mask"))
    mb.render(plan, tmp_path / "a", quality="final")
    # frame 0 again with other sampler seeds (same set): the render-noise floor
    mb.render(dataclasses.replace(plan, seed=plan.seed + 100, frames=1,
                                  timeline=plan.timeline[:1],
                                  render=dataclasses.replace(plan.render, passes=("img",))),
              tmp_path / "b", quality="final")
    flow = _read(tmp_path / "a", "flow", 0)
    depth = _read(tmp_path / "a", "depth", 0)[..., 0]
    h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w]
    tx, ty = xs + 0.5 + flow[..., 0], ys + 0.5 + flow[..., 1]
    inside = (tx > 2) & (tx < w - 2) & (ty > 2) & (ty < h - 2)
    # skip depth edges (occlusion/disocclusion)
    edge = np.zeros_like(inside)
    dz = np.abs(np.diff(depth, axis=0)) > 0.05 * depth[1:].clip(1e-3)
    edge[1:] |= dz
    edge[:-1] |= dz
    dx = np.abs(np.diff(depth, axis=1)) > 0.05 * depth[:, 1:].clip(1e-3)
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    valid = inside & ~edge
    diffuse = valid & _erode(_diffuse_material_pixels(plan))  # 1 px from other materials
    assert np.linalg.norm(flow[valid], axis=-1).mean() > 1.5  # the camera really moved
    assert diffuse.sum() > 500

    def lum(a: np.ndarray) -> np.ndarray:
        return np.log(a @ LUMA + 1e-3)

    def errors(name: str, region: np.ndarray) -> tuple[float, float]:
        i0, i1 = _read(tmp_path / "a", name, 0), _read(tmp_path / "a", name, 1)
        warp = np.median(np.abs(lum(warp_backward(i1, flow)) - lum(i0))[region])
        return float(warp), float(np.median(np.abs(lum(i1) - lum(i0))[region]))

    # img at 16 spp: measured ratios 0.50-0.57 (all and diffuse pixels, 4 seeds)
    for region in (valid, diffuse):
        warp, none = errors("img", region)
        assert warp < 0.7 * none
    # on diffuse surfaces warping frame 1 is as good as re-rendering frame 0 (0.90-0.97 of
    # the noise floor measured): what is left is render noise, not misregistration
    floor = np.median(np.abs(lum(_read(tmp_path / "b", "img", 0)) -
                             lum(_read(tmp_path / "a", "img", 0)))[diffuse])
    assert errors("img", diffuse)[0] < 1.15 * floor
    # the albedo pass has no lighting noise: geometry alone (measured 0.15-0.17; flow 0.5 px
    # off or 15 % too long gives 0.23-0.28)
    warp, none = errors("diffuse", diffuse)
    assert warp < 0.2 * none


def test_depth_is_sampled_at_the_pixel_centres_camera_params_unproject(tmp_path):
    # a ground plane seen at a grazing angle: depth changes by metres across one pixel, so
    # only a sample at the pixel centre (i + 0.5, the camera_params convention) lands on z = 0
    plan = make_plan("centres", frames=1, size=(48, 32), spp=1, preset="none",
                     mitsuba={"quads": [{"center": (10.0, 0.0, 0.0), "size": 200.0}]},
                     target=(10.0, 0.0, 0.0), passes=("img", "depth"), pixel_type="float")
    mb.render(plan, tmp_path, quality="final")
    depth = _read(tmp_path, "depth")[..., 0]
    cam = layout.read_json(layout.camera_params_path(tmp_path, 0))
    k, c2w = np.array(cam["K"]), np.array(cam["camera_to_world"])
    ys, xs = np.mgrid[0:depth.shape[0], 0:depth.shape[1]]
    rays = np.stack([(xs + 0.5 - k[0, 2]) / k[0, 0], (ys + 0.5 - k[1, 2]) / k[1, 1],
                     np.ones_like(depth)], axis=-1)
    world = (rays * depth[..., None]) @ c2w[:3, :3].T + c2w[:3, 3]
    ground = depth > 0
    assert ground.mean() > 0.4
    assert np.abs(world[..., 2][ground]).max() < 2e-3  # metres


def test_camera_params_reproject_a_bright_marker(tmp_path):
    center = (10.0, 1.2, 2.3)
    plan = make_plan("marker", frames=1, size=(64, 48), spp=8, preset="none", sky=100.0,
                     mitsuba={"spheres": [{"center": center, "radius": 0.25,
                                           "radiance": 1e6}]},
                     passes=("img", "depth"), pixel_type="float")
    rot = (8.0, 4.0, 6.0)  # roll, pitch, yaw: exercises every axis of the conversion
    loc = (0.0, 0.0, 1.5)
    frame = dataclasses.replace(plan.timeline[0],
                                camera=CameraPose(loc, rot, world_to_camera(loc, rot)))
    plan = dataclasses.replace(plan, timeline=(frame,))
    mb.render(plan, tmp_path, quality="final")
    cp = layout.read_json(layout.camera_params_path(tmp_path, 0))
    u, v, z = project(cp["K"], cp["world_to_camera"], center)
    lum = _read(tmp_path, "img") @ LUMA
    ys, xs = np.nonzero(lum > 0.2 * lum.max())
    wts = lum[ys, xs]
    cu, cv = np.average(xs + 0.5, weights=wts), np.average(ys + 0.5, weights=wts)
    assert abs(cu - u) < 0.5 and abs(cv - v) < 0.5
    d = _read(tmp_path, "depth")[int(v), int(u), 0]
    assert z - 0.26 < d < z - 0.1  # the near surface of the 0.25 m sphere


def test_preview_scales_resolution_and_K(tmp_path, monkeypatch):
    import mitsuba as mi

    calls = []
    real = mi.load_dict
    monkeypatch.setattr(mi, "load_dict", lambda *a, **k: calls.append(1) or real(*a, **k))
    plan = make_plan("prev", frames=3, size=(96, 64), spp=32, passes=("img",))
    mb.render(plan, tmp_path, quality="preview")
    img = _read(tmp_path, "img", 2)
    assert img.shape[:2] == (16, 24)
    cp = layout.read_json(layout.camera_params_path(tmp_path, 2))
    assert cp["resolution"] == [24, 16]
    assert cp["K"][0][0] == pytest.approx(plan.camera.K[0][0] / 4)
    assert cp["K"][0][2] == 12.0 and cp["K"][1][2] == 8.0
    meta = layout.read_json(tmp_path / "meta.json")
    assert meta["spp"] == 4 and meta["quality"] == "preview"
    assert len(calls) == 3  # scene + 2 AOV integrators, once per shot (no per-frame rebuild)


def test_warmup_frames_are_skipped_but_numbering_kept(tmp_path):
    plan = make_plan("warm", frames=2, warmup=2, passes=("img",))
    mb.render(plan, tmp_path, quality="preview")
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == ["0000.exr", "0001.exr"]


def test_mesh_actor_from_obj_file(tmp_path):
    obj = tmp_path / "box.obj"
    v = [(x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (0.0, 1.5)]
    faces = [(1, 2, 4, 3), (5, 7, 8, 6), (1, 5, 6, 2), (3, 4, 8, 7), (1, 3, 7, 5), (2, 6, 8, 4)]
    obj.write_text("".join(f"v {a} {b} {c}\n" for a, b, c in v)
                   + "".join("f " + " ".join(map(str, f)) + "\n" for f in faces))
    plan = make_plan("mesh", frames=2, actors=[("pedestrian", [(7.0, 0.0, 0.0),
                                                               (7.0, 0.2, 0.0)])],
                     target=(7.0, 0.0, 0.8), passes=("img", "mask", "flow"))
    actor = dataclasses.replace(plan.actors[0], backends={"mitsuba": {"mesh": str(obj)}})
    plan = dataclasses.replace(plan, actors=(actor,))
    mb.render(plan, tmp_path / "out", quality="final")
    mask = _read(tmp_path / "out", "mask")[..., 0]
    flow = _read(tmp_path / "out", "flow")
    assert (mask == 1).sum() > 20
    assert np.median(flow[mask == 1, 0]) > 0.5
    missing = dataclasses.replace(actor, backends={"mitsuba": {"mesh": "nope.ply"}})
    with pytest.raises(RenderError, match="nope.ply"):
        mb.render(dataclasses.replace(plan, actors=(missing,)), tmp_path / "x", quality="final")


def test_unknown_preset_is_a_one_line_error(tmp_path):
    with pytest.raises(RenderError, match="unknown mitsuba preset 'moon'"):
        mb.render(make_plan("bad", preset="moon"), tmp_path, quality="preview")


@pytest.mark.parametrize("kind", ["area", "spot"])
def test_lights_emit_along_their_forward_axis(tmp_path, kind):
    def lit(pitch: float) -> float:
        light = LightPlan(kind, (8.0, 0.0, 2.5), (0.0, pitch, 0.0), (1.0, 1.0),
                          luminance=5e5, intensity_cd=5e4, cone_deg=40.0, visible=False)
        plan = make_plan(f"l{int(pitch) + 90}", frames=1, sun=None, sky=0.0, lights=[light],
                         target=(8.0, 0.0, 0.0), passes=("img",), pixel_type="float",
                         preset="none", mitsuba={"quads": [{"center": (8, 0, 0), "size": 40}]})
        mb.render(plan, tmp_path / f"{kind}{pitch}", quality="final")
        return float(np.mean(_read(tmp_path / f"{kind}{pitch}", "img")))

    down, up = lit(-90.0), lit(90.0)  # Unreal pitch -90 looks straight down at the ground
    assert down > 20 * max(up, 1e-6)


def test_sunlit_ground_has_the_photometric_value(tmp_path):
    # Lambertian ground: L = albedo * E * sin(elevation) / pi, pixel = L * exposure scale
    sun = SunPlan(45.0, 0.0, 80000.0, visible=False)
    plan = make_plan("lux", frames=1, spp=8, sun=sun, sky=0.0, target=(8.0, 0.0, 0.0),
                     cam_path=[(0.0, 0.0, 4.0)], passes=("img", "diffuse"), pixel_type="float",
                     preset="none", mitsuba={"quads": [{"center": (8, 0, 0), "size": 60,
                                                        "color": (0.6, 0.6, 0.6)}]})
    mb.render(plan, tmp_path, quality="final")
    img, alb = _read(tmp_path, "img")[..., 1], _read(tmp_path, "diffuse")[..., 1]
    sel = alb > 0.05
    expected = 80000.0 * math.sin(math.radians(45.0)) / math.pi * plan.exposure.scale
    assert np.median(img[sel] / alb[sel]) == pytest.approx(expected, rel=0.1)


def test_half_output_clamps_and_counts_overflowing_pixels(tmp_path):
    plan = make_plan("clamp", frames=1, preset="none", sky=100.0, target=(10.0, 0.0, 1.6),
                     mitsuba={"spheres": [{"center": (10.0, 0.0, 1.6), "radius": 0.5,
                                           "radiance": 1e10}]}, passes=("img",))
    mb.render(plan, tmp_path, quality="final")
    img = _read(tmp_path, "img")
    meta = layout.read_json(tmp_path / "meta.json")
    over = int(np.count_nonzero((img >= 65504).any(axis=-1)))
    assert over > 0 and img.max() == 65504 and np.isfinite(img).all()
    assert meta["clamped_pixels"]["total"] == over


def test_sky_is_brightest_around_the_sun_and_zenith_has_the_planned_luminance(tmp_path):
    sun = SunPlan(30.0, 40.0, 50000.0, visible=False)

    def look(name: str, target) -> np.ndarray:
        plan = make_plan(name, frames=1, preset="none", sun=sun, sky=5000.0, target=target,
                         cam_path=[(0.0, 0.0, 0.0)], passes=("img",), pixel_type="float",
                         focal_mm=50.0)
        mb.render(plan, tmp_path / name, quality="final")
        return _read(tmp_path / name, "img") @ LUMA

    toward = look("toward", SunPlan(20.0, 40.0, 1.0).direction())
    away = look("away", SunPlan(20.0, 220.0, 1.0).direction())
    mirror = look("mirror", SunPlan(20.0, -40.0, 1.0).direction())  # catches a flipped Y
    assert np.median(toward) > 3 * np.median(away)  # CIE clear sky: circumsolar glow
    assert np.median(toward) > 1.5 * np.median(mirror)
    up = look("up", (0.001, 0.0, 1.0))
    scale = make_plan("s", ev100=12.0).exposure.scale
    assert up[16, 24] == pytest.approx(5000.0 * scale, rel=0.1)


def test_spec_proxy_name_picks_the_geometry(tmp_path):
    plan = make_plan("proxy", frames=1, actors=[("pedestrian", [(7.0, 0.0, 0.0)])],
                     target=(7.0, 0.0, 0.8), passes=("img", "mask"), focal_mm=50.0)
    sizes = {}
    for proxy in ("capsule", "sphere", "box"):
        actor = dataclasses.replace(plan.actors[0], backends={"mitsuba": {"proxy": proxy}})
        mb.render(dataclasses.replace(plan, actors=(actor,)), tmp_path / proxy,
                  quality="final")
        sizes[proxy] = int((_read(tmp_path / proxy, "mask")[..., 0] == 1).sum())
    # seen from behind: a car (1.8 x 1.5 m) covers far more than a 1 m ball or a person
    assert sizes["box"] > 2 * max(sizes["sphere"], sizes["capsule"])
    assert min(sizes["sphere"], sizes["capsule"]) > 20


@pytest.mark.parametrize("preset", ["street", "plaza", "interior", "parking", "park"])
def test_every_preset_renders_a_lit_textured_frame(tmp_path, preset):
    plan = make_plan(preset, frames=1, size=(32, 24), spp=2, preset=preset, passes=("img",),
                     lights=[LightPlan("point", (4.0, 0.0, 2.5), intensity_cd=2000.0)])
    # exactly 2 spp (no indoor adaptive stop): a room's own lamp must reach every pixel
    # although the occluded sun and sky outshine it (emitter sampling weights)
    mb.render(plan, tmp_path, quality="final", options={"spp": 2})
    lum = _read(tmp_path, "img") @ LUMA
    assert np.isfinite(lum).all() and np.percentile(lum, 5) > 0
    assert np.std(np.log(lum + 1e-6)) > 0.1  # not a flat frame


def test_hidden_actor_is_not_rendered(tmp_path):
    plan = make_plan("hide", frames=2, actors=[("pedestrian", [(7.0, 0.0, 0.0)] * 2)],
                     target=(7.0, 0.0, 0.8), passes=("img", "mask"), focal_mm=50.0)
    f0 = plan.timeline[0]
    hidden = dataclasses.replace(f0, actors=(dataclasses.replace(f0.actors[0], visible=False),))
    mb.render(dataclasses.replace(plan, timeline=(hidden, plan.timeline[1])), tmp_path,
              quality="final")
    assert (_read(tmp_path, "mask", 0) == 1).sum() == 0
    assert (_read(tmp_path, "mask", 1) == 1).sum() > 20
