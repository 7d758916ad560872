"""Camera maths: rotators mean what they mean in Unreal; projection follows OpenCV."""

from __future__ import annotations

import math

import pytest

from pipeline import geometry as g


def _close(a, b, tol=1e-9):
    return all(abs(x - y) < tol for x, y in zip(a, b))


def test_rotator_axes_match_unreal_conventions():
    f, r, u = g.rotator_axes((0, 0, 0))
    assert _close(f, (1, 0, 0)) and _close(r, (0, 1, 0)) and _close(u, (0, 0, 1))
    f, r, _ = g.rotator_axes((0, 0, 90))  # yaw +90: forward turns to +Y (right)
    assert _close(f, (0, 1, 0)) and _close(r, (-1, 0, 0))
    f, _, u = g.rotator_axes((0, 30, 0))  # pitch up
    assert f[2] > 0 and u[0] < 0


def test_look_at_points_forward_axis_at_target():
    loc, tgt = (1.0, 2.0, 1.5), (10.0, -3.0, 4.0)
    rot = g.look_at_rotator(loc, tgt)
    f, _, _ = g.rotator_axes(rot)
    d = [t - s for t, s in zip(tgt, loc)]
    n = math.sqrt(sum(x * x for x in d))
    assert _close(f, [x / n for x in d], 1e-12)
    with pytest.raises(ValueError):
        g.look_at_rotator(loc, loc)


def test_projection_centre_right_and_up():
    k = g.intrinsics(24.0, 36.0, 640, 360)
    w2c = g.world_to_camera((0, 0, 0), (0, 0, 0))
    u, v, z = g.project(k, w2c, (10.0, 0.0, 0.0))
    assert (u, v, z) == (320.0, 180.0, 10.0)
    u, v, _ = g.project(k, w2c, (10.0, 1.0, 0.5))  # right (+Y) and up (+Z)
    assert u > 320 and v < 180
    assert math.isnan(g.project(k, w2c, (-1.0, 0, 0))[0])  # behind the camera


def test_horizontal_fov_matches_intrinsics():
    fov = g.horizontal_fov_deg(24.0, 36.0)
    k = g.intrinsics(24.0, 36.0, 640, 360)
    assert abs(math.degrees(2 * math.atan(320 / k[0][0])) - fov) < 1e-9


def test_camera_to_world_inverts_world_to_camera():
    loc, rot = (3.0, -2.0, 1.7), (5.0, -12.0, 140.0)
    w2c, c2w = g.world_to_camera(loc, rot), g.camera_to_world(loc, rot)
    p = (7.0, 1.0, 0.3)
    assert _close(g.transform_point(c2w, g.transform_point(w2c, p)), p, 1e-9)
