"""Exact flow/depth/mask maths (pure numpy, no renderer)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.flow import actor_mask, camera_depth, forward_flow, rotation_only_flow, warp_backward
from pipeline.geometry import intrinsics, project, world_to_camera

K = np.array(intrinsics(24.0, 36.0, 48, 32))


def _cam(loc, rot=(0.0, 0.0, 0.0)):
    return np.array(world_to_camera(loc, rot))


def test_static_point_flow_is_the_projection_difference():
    w0, w1 = _cam((0, 0, 1.5)), _cam((0, 0.2, 1.5))  # camera steps right (+Y)
    p = np.array([[[10.0, 1.0, 2.0]]])
    flow = forward_flow(p, np.array([[5]]), {}, K, w0, K, w1)
    u0, v0, _ = project(K, w0, p[0, 0])
    u1, v1, _ = project(K, w1, p[0, 0])
    assert flow[0, 0] == pytest.approx([u1 - u0, v1 - v0], abs=1e-4)
    assert flow[0, 0, 0] < 0  # camera right -> the scene slides left


def test_moving_shape_uses_its_rigid_motion():
    w = _cam((0, 0, 1.5))
    move = np.eye(4)
    move[1, 3] = 0.5  # +Y (right) by half a metre
    p = np.array([[[8.0, 0.0, 1.5], [8.0, 0.0, 1.5]]])
    ids = np.array([[3, 4]])
    flow = forward_flow(p, ids, {3: move}, K, w, K, w)
    expected = project(K, w, (8.0, 0.5, 1.5))[0] - project(K, w, (8.0, 0.0, 1.5))[0]
    assert flow[0, 0, 0] == pytest.approx(expected, rel=1e-5) and expected > 0
    assert np.all(flow[0, 1] == 0)  # shape 4 has no motion: static


def test_sky_moves_with_camera_rotation_only():
    w0 = _cam((0, 0, 0), (0, 0, 0))
    w1 = _cam((5, 5, 5), (0, 0, 2.0))  # translation must not matter at infinity
    flow = rotation_only_flow(K, w0, K, w1, 48, 32)
    # yawing right by 2 deg moves the centre pixel left by f * tan(2 deg)
    assert flow[16, 24, 0] == pytest.approx(-K[0, 0] * math.tan(math.radians(2.0)), rel=1e-3)
    sky = forward_flow(np.zeros((32, 48, 3)), np.zeros((32, 48), int), {}, K, w0, K, w1)
    assert np.allclose(sky, flow, atol=1e-4)


def test_depth_and_mask():
    w = _cam((0, 0, 1.5))
    pos = np.array([[[7.0, 0.3, 1.0], [0.0, 0.0, 0.0]]])
    ids = np.array([[9, 0]])
    assert camera_depth(pos, ids, w)[0].tolist() == pytest.approx([7.0, 0.0])
    assert actor_mask(np.array([[9, 2, 0]]), {9: 1}).tolist() == [[2.0, 0.0, 0.0]]


def test_warp_backward_undoes_a_shift():
    img = np.random.default_rng(0).random((16, 20, 3)).astype(np.float32)
    shifted = np.roll(img, 2, axis=1)  # frame t+1: content moved 2 px right
    flow = np.zeros((16, 20, 2), np.float32)
    flow[..., 0] = 2.0
    out = warp_backward(shifted, flow)
    assert np.allclose(out[:, :-3], img[:, :-3])
