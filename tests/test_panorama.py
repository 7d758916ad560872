"""Real-texture target domain: pinhole views of equirectangular panoramas, motion, brackets."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from s2rhdr_loader import recipes
from s2rhdr_loader.core.errors import DataError, OptionError
from s2rhdr_loader.learn.panorama import (
    STUDIOLIGHTS,
    BracketConfig,
    PanoramaBracketDataset,
    find_panoramas,
    perspective_crop,
    sample_equirect,
    view_rays,
)


def _angle_panorama(h=256):
    """Channel 0 = longitude (radians), 1 = latitude, 2 = 1: a lookup must return the angles."""
    w = 2 * h
    lon = ((np.arange(w) + 0.5) / w - 0.5) * 2 * math.pi
    lat = (0.5 - (np.arange(h) + 0.5) / h) * math.pi
    pano = np.zeros((h, w, 3), np.float32)
    pano[..., 0] = lon[None, :]
    pano[..., 1] = lat[:, None]
    pano[..., 2] = 1.0
    return pano


def test_view_rays_follow_yaw_and_pitch():
    centre = view_rays(2, 60.0, 0.0, 0.0).mean(axis=(0, 1))
    np.testing.assert_allclose(centre / np.linalg.norm(centre), [0, 0, 1], atol=1e-9)
    right = view_rays(2, 60.0, 90.0, 0.0).mean(axis=(0, 1))
    np.testing.assert_allclose(right / np.linalg.norm(right), [1, 0, 0], atol=1e-9)
    up = view_rays(2, 60.0, 0.0, 30.0).mean(axis=(0, 1))
    np.testing.assert_allclose(up / np.linalg.norm(up), [0, 0.5, math.sqrt(3) / 2], atol=1e-9)
    rays = view_rays(64, 90.0, 0.0, 0.0)
    # pinhole: the horizontal angle of column j is atan((j + 0.5 - 32) / f), f = 32 / tan(45)
    j = 60
    np.testing.assert_allclose(math.atan2(rays[32, j, 0], rays[32, j, 2]),
                               math.atan((j + 0.5 - 32) / 32.0), atol=1e-12)


def test_equirect_lookup_returns_the_directions_angles():
    pano = _angle_panorama()
    yaw, pitch = 40.0, -15.0
    crop = perspective_crop(pano, 33, 50.0, yaw, pitch, supersample=1)
    # the centre pixel looks along (yaw, pitch) exactly
    np.testing.assert_allclose(crop[16, 16, :2], [math.radians(yaw), math.radians(pitch)],
                               atol=2e-3)
    rays = view_rays(33, 50.0, yaw, pitch)
    lon = np.arctan2(rays[..., 0], rays[..., 2])
    lat = np.arcsin(rays[..., 1])
    got = sample_equirect(pano, rays)
    inner = np.abs(lon) < 3.0   # away from the +-pi seam, where the angle image jumps
    np.testing.assert_allclose(got[..., 0][inner], lon[inner], atol=2e-2)
    np.testing.assert_allclose(got[..., 1], lat, atol=2e-2)


def test_a_principal_point_shift_translates_the_image_exactly():
    rng = np.random.default_rng(0)
    pano = rng.random((64, 128, 3)).astype(np.float32)
    a = perspective_crop(pano, 24, 45.0, 10.0, 5.0)
    b = perspective_crop(pano, 24, 45.0, 10.0, 5.0, shift=(3.0, -2.0))
    # content moves 3 px right and 2 px up: b[y, x] = a[y + 2, x - 3]
    np.testing.assert_allclose(b[0:22, 3:24], a[2:24, 0:21], atol=1e-5)
    assert not np.allclose(b, a, atol=1e-3)


def _pano_dataset(n=3, patch=16, **cfg):
    rng = np.random.default_rng(1)
    panos = [np.exp(rng.normal(0, 1.5, (32, 64, 3))).astype(np.float32) for _ in range(2)]
    return PanoramaBracketDataset(panos, n, patch, seed=5, config=BracketConfig(**cfg))


def test_samples_have_the_loader_format_and_are_a_function_of_seed_and_index():
    ds = _pano_dataset()
    s = ds[1]
    for i in range(3):
        assert s[f"input{i}"].shape == (6, 16, 16) and s[f"input{i}"].dtype == torch.float32
        lin, ldr = s[f"input{i}"][:3], s[f"input{i}"][3:]
        torch.testing.assert_close(lin, ldr ** 2.2 / s["exp"][i], atol=1e-6, rtol=1e-5)
    assert s["label"].shape == (3, 16, 16) and 0 <= float(s["label"].min())
    assert float(s["label"].max()) <= 1.0 and float(s["exp"][0]) == 1.0
    again = _pano_dataset()[1]
    assert all(torch.equal(s[k], again[k]) for k in ("input0", "label", "exp"))
    assert not torch.equal(ds[0]["label"], s["label"])
    with pytest.raises(IndexError):
        ds[3]


def test_a_gamma_camera_without_noise_or_motion_reproduces_the_label():
    """With a gamma-2.2 response, no noise, no shake and no moving object, the reference LDR
    is the recipe's equation: clip(label * t)^(1/2.2), quantised to 12 bits."""
    sensor = dataclasses.replace(recipes.SensorModel(), crfs=("gamma2.2",), bits=12,
                                 full_well=(1e12, 1e12), read_noise=(0.0, 0.0), gain=(1, 1))
    ds = _pano_dataset(camera_jitter_px=0.0, object_speed_px=(0.0, 0.0), sensor=sensor)
    s = ds[0]
    t = float(s["exp"][1])
    expected = np.floor(np.clip(s["label"].numpy() * t, 0, 1) ** (1 / 2.2) * 4095) / 4095
    np.testing.assert_allclose(s["input1"][3:].numpy(), expected, atol=1.5 / 4095)
    # the three frames then differ only by exposure: short * t_long == long where unclipped
    hdr, _ = ds.scene(0)
    np.testing.assert_allclose(hdr[0], hdr[1], atol=1e-6)


def test_camera_shake_and_the_moving_object_change_the_other_frames():
    hdr, info = _pano_dataset(object_speed_px=(3.0, 3.0)).scene(0)
    assert not np.allclose(hdr[0], hdr[1]) and not np.allclose(hdr[2], hdr[1])
    assert info["speed"] == 3.0 and len(info["wb"]) == 3


def test_bad_options_and_missing_panoramas_are_one_line_errors(tmp_path):
    with pytest.raises(OptionError, match="fov_deg"):
        BracketConfig(fov_deg=(10.0, 200.0))
    with pytest.raises(OptionError, match="low"):
        BracketConfig(wb_red=(1.2, 0.8))
    with pytest.raises(DataError, match="no .exr panoramas"):
        find_panoramas(tmp_path)


@pytest.mark.skipif(not STUDIOLIGHTS.is_dir(), reason="needs Debian's blender-data")
def test_the_blender_studiolights_captures_load():
    paths = find_panoramas()
    assert len(paths) >= 8
    s = PanoramaBracketDataset(paths[:2], 1, 32, seed=0)[0]
    assert s["input1"].shape == (6, 32, 32) and s["panorama"] in {p.stem for p in paths[:2]}
