"""The planner: determinism, camera path and aim, actor motion, lights and exposure."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline import geometry as g
from pipeline.cli import main
from pipeline.errors import SpecError
from pipeline.plan import (
    Polyline,
    load_plan,
    make_plan,
    sky_zenith_luminance,
    sun_illuminance_lux,
)
from pipeline.plan_model import exposure_scale
from pipeline.shake import PROFILES
from pipeline.spec import load_spec, spec_hash

SPECS = Path(__file__).resolve().parents[1] / "scene_specs"

BASE = """\
name: shot
seed: 4
frames: {frames}
warmup_frames: {warmup}
fps: {fps}
camera:
  path: {path}
  look_at: [20, 0, 1.5]
  handheld: {{profile: {profile}}}
exposure: {{ev100: 12}}
render: {{resolution: [96, 64]}}
"""


def spec_of(tmp_path: Path, extra: str = "", *, frames: int = 10, warmup: int = 0,
            fps: float = 30, path: str = "[[0, 0, 1.6], [3, 0, 1.6]]",
            profile: str = "tripod", name: str = "s.yaml"):
    text = BASE.format(frames=frames, warmup=warmup, fps=fps, path=path, profile=profile)
    file = tmp_path / name
    file.write_text(text + extra, encoding="utf-8")
    return load_spec(file)


def test_same_seed_same_bytes_different_seed_different_shake(tmp_path):
    spec = spec_of(tmp_path, profile="walking")
    a, b = make_plan(spec).to_json(), make_plan(spec).to_json()
    assert a == b
    assert make_plan(spec, seed=4).to_json() == a  # the spec's own seed is 4
    other = make_plan(spec, seed=5)
    assert other.to_json() != a
    locs_a = [f.camera.location for f in make_plan(spec).timeline]
    locs_b = [f.camera.location for f in other.timeline]
    assert all(x != y for x, y in zip(locs_a, locs_b))


def test_plan_json_round_trip_and_cli(tmp_path, capsys):
    spec_file = SPECS / "street_day_walk.yaml"
    out = tmp_path / "plan.json"
    main(["plan", str(spec_file), "-o", str(out), "--seed", "3"])
    assert "wrote" in capsys.readouterr().out
    plan = load_plan(out)
    assert plan.seed == 3 and plan.spec_hash == spec_hash(load_spec(spec_file))
    assert out.read_text() == make_plan(load_spec(spec_file), seed=3).to_json()
    assert json.loads(out.read_text())["format"] == "s2rhdr.plan"
    assert not list(tmp_path.glob("*.tmp*"))  # atomic: no temp files left


def test_plan_cli_bad_output_and_bad_spec(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", str(SPECS / "street_day_walk.yaml"), "-o", str(tmp_path)])
    assert exc.value.code == 2 and "is a folder" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nframes: -1\ncamera: {path: [[0, 0, 1]], rotation: [0, 0, 0]}\n"
                   "exposure: {ev100: 10}\n")
    with pytest.raises(SystemExit) as exc:
        main(["plan", str(bad), "-o", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith(f"error: {bad}:2:")
    assert not (tmp_path / "p.json").exists()


def test_timeline_warmup_first_with_negative_indices(tmp_path):
    plan = make_plan(spec_of(tmp_path, frames=5, warmup=3, fps=25))
    assert [f.index for f in plan.timeline] == [-3, -2, -1, 0, 1, 2, 3, 4]
    assert [f.time_s for f in plan.timeline] == [i / 25 for i in range(-3, 5)]
    assert len(plan.output_frames()) == 5
    record = plan.camera_params(0)
    assert record["K"][0][0] == pytest.approx(24 * 96 / 36)


def test_camera_moves_along_path_at_constant_speed(tmp_path):
    plan = make_plan(spec_of(tmp_path, frames=7, warmup=2,
                             path="[[0, 0, 1.6], [2, 0, 1.6], [2, 4, 1.6]]"))
    locs = [f.camera.location for f in plan.output_frames()]
    assert locs[0] == (0.0, 0.0, 1.6) and locs[-1] == (2.0, 4.0, 1.6)
    assert locs[2] == pytest.approx((2.0, 0.0, 1.6))  # 6 m in 6 steps: frame 2 at the corner
    assert plan.frame(-2).camera.location == locs[0]  # warm-up holds the first point


def test_catmull_rom_passes_through_points_and_is_smooth():
    pts = [(0, 0, 0), (4, 0, 0), (4, 4, 0), (0, 4, 0)]
    line = Polyline(pts, "catmull_rom")
    for p in pts:
        assert min(math.dist(p, q) for q in line.points) < 1e-9
    assert line.length > 12.0  # curves bulge past the straight segments
    a, b = line.tangent(0.4 * line.length), line.tangent(0.4 * line.length + 0.05)
    assert np.dot(a, b) > 0.99


def test_look_at_target_projects_to_image_centre(tmp_path):
    plan = make_plan(spec_of(tmp_path))
    for f in plan.timeline:
        u, v, z = g.project(plan.camera.K, f.camera.world_to_camera, (20, 0, 1.5))
        assert (u, v) == pytest.approx((48.0, 32.0), abs=1e-6) and z > 0


def test_rotation_keys_interpolate_by_frame(tmp_path):
    text = BASE.format(frames=5, warmup=0, fps=30, path="[[0, 0, 1]]", profile="tripod")
    text = text.replace("  look_at: [20, 0, 1.5]\n", "  rotation_keys:\n"
                        "    - {frame: 0, rotation: [0, 0, 170]}\n"
                        "    - {frame: 4, rotation: [0, -10, -170]}\n")
    (tmp_path / "k.yaml").write_text(text)
    plan = make_plan(load_spec(tmp_path / "k.yaml"))
    yaws = [f.camera.rotation[2] for f in plan.timeline]
    assert yaws[0] == 170 and yaws[2] == pytest.approx(180.0)  # the short way round
    assert plan.timeline[2].camera.rotation[1] == pytest.approx(-5.0)


ACTOR = """\
actors:
  - kind: {kind}
    path: {path}
    speed_mps: {speed}
    start_frame: {start}
    at_end: {at_end}
"""


def actor_plan(tmp_path, *, kind="pedestrian", path="[[5, -10, 0], [5, 10, 0]]", speed=1.4,
               start=0, at_end="hide", frames=30, fps=30.0):
    spec = spec_of(tmp_path, ACTOR.format(kind=kind, path=path, speed=speed, start=start,
                                          at_end=at_end), frames=frames, fps=fps)
    return make_plan(spec)


@pytest.mark.parametrize("kind,speed,fps", [("pedestrian", 1.4, 30), ("vehicle", 13.9, 24),
                                            ("animal", 3.3, 60)])
def test_actor_speed_matches_spec(tmp_path, kind, speed, fps):
    plan = actor_plan(tmp_path, kind=kind, speed=speed, fps=fps,
                      path="[[0, -60, 0], [0, 0, 0], [0, 60, 0]]")
    locs = np.array([f.actors[0].location for f in plan.output_frames()])
    step = np.linalg.norm(np.diff(locs, axis=0), axis=1) * fps
    assert np.all(np.abs(step / speed - 1.0) < 0.01)
    assert plan.actors[0].id == "actor_00"


def test_actor_speed_is_arc_length_around_corners(tmp_path):
    plan = actor_plan(tmp_path, speed=2.0, path="[[0, 0, 0], [1, 0, 0], [1, 3, 0]]", frames=31)
    # after 1 s it has walked 2 m: 1 m along x, then 1 m along y
    assert plan.frame(30).actors[0].location == pytest.approx((1.0, 1.0, 0.0))
    assert plan.frame(0).actors[0].rotation[2] == pytest.approx(0.0)  # yaw along +X
    assert plan.frame(30).actors[0].rotation[2] == pytest.approx(90.0)  # then along +Y


def test_actor_start_frame_and_path_end(tmp_path):
    plan = actor_plan(tmp_path, speed=3.0, path="[[0, 0, 0], [1.5, 0, 0]]", start=3)
    poses = [f.actors[0] for f in plan.output_frames()]
    assert not poses[0].visible and poses[0].location == (0.0, 0.0, 0.0)
    assert poses[3].visible and poses[3].location == (0.0, 0.0, 0.0)
    assert poses[3 + 15].visible and poses[3 + 15].location == pytest.approx((1.5, 0, 0))
    assert not poses[3 + 16].visible  # hidden once the path has ended
    stop = actor_plan(tmp_path, speed=3.0, path="[[0, 0, 0], [1.5, 0, 0]]", at_end="stop")
    assert stop.frame(29).actors[0].visible and stop.frame(29).actors[0].location[0] == 1.5
    loop = actor_plan(tmp_path, speed=3.0, path="[[0, 0, 0], [1.5, 0, 0]]", at_end="loop")
    assert loop.frame(20).actors[0].location[0] == pytest.approx(0.5)  # 2.0 m mod 1.5 m


def test_gait_phase_advances_with_distance(tmp_path):
    plan = actor_plan(tmp_path, speed=1.4, frames=31)
    phases = [f.actors[0].phase for f in plan.output_frames()]
    assert phases[0] == 0.0 and phases[15] == pytest.approx(0.5)  # 0.7 m of a 1.4 m stride
    assert all(0.0 <= p < 1.0 for p in phases)


def test_camera_shake_in_plan_matches_profile_rms(tmp_path):
    """The planned camera deviates from its tripod twin by the profile's RMS."""
    for profile in ("standing", "walking", "running"):
        still = make_plan(spec_of(tmp_path, profile="tripod", frames=90))
        shaky = make_plan(spec_of(tmp_path, profile=profile, frames=90))
        d = np.array([s.camera.location for s in shaky.timeline]) - \
            np.array([s.camera.location for s in still.timeline])
        rms = np.sqrt((d ** 2).sum(axis=1).mean())
        expected = math.sqrt(sum(x * x for x in PROFILES[profile].rms[:3]))
        assert rms == pytest.approx(expected, rel=1e-6)
        rot = np.array([s.camera.rotation for s in shaky.timeline]) - \
            np.array([s.camera.rotation for s in still.timeline])
        np.testing.assert_allclose(np.sqrt((rot ** 2).mean(axis=0)),
                                   PROFILES[profile].rms[3:], rtol=1e-6)


def test_world_to_camera_matches_pose(tmp_path):
    plan = make_plan(spec_of(tmp_path, profile="running"))
    for f in plan.timeline:
        m = np.array(g.world_to_camera(f.camera.location, f.camera.rotation))
        np.testing.assert_allclose(np.array(f.camera.world_to_camera), m, atol=1e-9)


def test_lighting_in_physical_units(tmp_path):
    extra = """\
environment:
  sun: {elevation_deg: 60, azimuth_deg: 30}
  lights:
    - {kind: spot, position: [0, 0, 5], target: [0, 0, 0]}
    - {kind: area, position: [1, 0, 3], luminance: 5000}
"""
    plan = make_plan(spec_of(tmp_path, extra))
    sun = plan.environment.sun
    assert 80000 < sun.illuminance_lux < 110000
    assert 6000 < plan.environment.sky.luminance < 9000
    spot, area = plan.environment.lights
    assert spot.rotation[1] == pytest.approx(-90.0) and spot.intensity_cd > 0
    assert area.luminance == 5000 and area.intensity_cd == 0
    assert plan.exposure.scale == exposure_scale(12)
    night = make_plan(spec_of(tmp_path, "environment:\n  sun: {elevation_deg: -8}\n"))
    assert night.environment.sun is None and night.environment.sky.luminance < 1.0


def test_sun_and_sky_defaults_fall_with_elevation():
    lux = [sun_illuminance_lux(e) for e in (90, 30, 10, 3, 0)]
    assert lux == sorted(lux, reverse=True) and 95000 < lux[0] < 110000 and lux[-1] == 0
    sky = [sky_zenith_luminance(e) for e in (60, 10, 0, -6, -18)]
    assert sky == sorted(sky, reverse=True) and sky[0] == 8000 and sky[-1] < 0.01


def test_planner_modules_use_only_stdlib_and_yaml():
    """spec/plan/shake/randomize are vendored into the Unreal editor: no numpy, no torch;
    and the plans they make there are byte-identical to these (another hash seed)."""
    import hashlib
    import os
    import subprocess
    import sys

    from pipeline.spec import load_specs

    code = (
        "import sys; sys.modules['numpy'] = None; sys.modules['torch'] = None\n"
        "before = set(sys.modules)\n"
        "from pipeline.spec import load_specs; from pipeline.plan import make_plan\n"
        f"[make_plan(s) for s in load_specs({str(SPECS)!r})]\n"
        "allowed = set(sys.stdlib_module_names) | {'yaml', '_yaml', 'pipeline'}\n"
        "core = {'s2rhdr_loader', 's2rhdr_loader.core', 's2rhdr_loader.core.layout',\n"
        "        's2rhdr_loader.core.atomic', 's2rhdr_loader.core.errors'}  # vendored too\n"
        "fresh = set(sys.modules) - before - core\n"
        "new = {m.split('.')[0] for m in fresh}\n"
        "bad = sorted(m for m in new - allowed if 'cython' not in m)  # PyYAML's C ext\n"
        "print(','.join(bad))\n"
        "import hashlib\n"
        f"for s in load_specs({str(SPECS)!r}):\n"
        "    print(s.name, hashlib.sha256(make_plan(s).to_json().encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # plans must not depend on hash order
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].strip() == ""  # no module outside the standard library and PyYAML
    here = {s.name: hashlib.sha256(make_plan(s).to_json().encode()).hexdigest()
            for s in load_specs(SPECS)}
    assert dict(line.split() for line in lines[1:]) == here


def test_mitsuba_mesh_is_relative_in_spec_and_absolute_in_plan(tmp_path):
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "dog.ply").write_text("ply\n")
    extra = ("actors:\n  - {kind: animal, path: [[5, 0, 0]], "
             "mitsuba: {mesh: meshes/dog.ply}}\n")
    spec = spec_of(tmp_path, extra)
    assert spec.actors[0].mitsuba.mesh == "meshes/dog.ply"
    plan = make_plan(spec)
    assert plan.actors[0].backends["mitsuba"]["mesh"] == str(tmp_path / "meshes" / "dog.ply")
    missing = extra.replace("dog.ply", "cat.ply")
    with pytest.raises(SpecError, match=r"s.yaml:\d+:\d+: actors\[0\].mitsuba.mesh: mesh file"):
        spec_of(tmp_path, missing)
