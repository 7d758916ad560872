"""Exact forward optical flow, depth and masks from geometry (no image matching).

Why geometry and not a flow network: the renderer knows where every visible surface point is
(world position AOV, 1 sample per pixel with a box filter so nothing is averaged across
edges) and which shape it belongs to (shape id AOV). The plan knows every rigid transform of
the camera and of each moving part at t and t+1. Moving the point with its part's motion and
projecting it with the t+1 camera (``K``, ``world_to_camera``) gives the flow exactly;
pixels that see the sky (no shape) move with the camera rotation only (points at infinity).

All world coordinates here are the plan's Unreal axes (metres); flow is in pixels, U right,
V down, forward t -> t+1 (``s2rhdr_loader.core.layout.PASS_CHANNELS['flow']``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

FLIP_Y = np.array([1.0, -1.0, 1.0])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """4x4 affine matrix applied to (..., 3) points."""
    return pts @ m[:3, :3].T + m[:3, 3]


def project_points(k: np.ndarray, w2c: np.ndarray,
                   pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) pixel coordinates (centres at i + 0.5) and camera z of (..., 3) world points."""
    cam = _apply(np.asarray(w2c, float), pts)
    z = cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k[0, 0] * cam[..., 0] / z + k[0, 2]
        v = k[1, 1] * cam[..., 1] / z + k[1, 2]
    return np.stack([u, v], axis=-1), z


def pixel_centres(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([xs + 0.5, ys + 0.5], axis=-1)


def rotation_only_flow(k0: np.ndarray, w2c0: np.ndarray, k1: np.ndarray, w2c1: np.ndarray,
                       width: int, height: int) -> np.ndarray:
    """Flow of points at infinity (sky): only the camera rotation moves them."""
    uv = pixel_centres(width, height)
    rays = np.stack([(uv[..., 0] - k0[0, 2]) / k0[0, 0], (uv[..., 1] - k0[1, 2]) / k0[1, 1],
                     np.ones(uv.shape[:2])], axis=-1)
    world = rays @ np.asarray(w2c0)[:3, :3]  # R^T d  (camera -> world direction)
    cam1 = world @ np.asarray(w2c1)[:3, :3].T
    z = cam1[..., 2]
    ok = z > 1e-9
    zs = np.where(ok, z, 1.0)
    u1 = k1[0, 0] * cam1[..., 0] / zs + k1[0, 2]
    v1 = k1[1, 1] * cam1[..., 1] / zs + k1[1, 2]
    flow = np.stack([u1, v1], axis=-1) - uv
    flow[~ok] = 0.0
    return flow


def moved_points(pos: np.ndarray, ids: np.ndarray,
                 motions: Mapping[int, np.ndarray]) -> np.ndarray:
    """World points at t+1: each shape id's rigid motion (4x4, world t -> world t+1) applied."""
    out = pos.copy()
    for sid, m in motions.items():
        sel = ids == sid
        if np.any(sel):
            out[sel] = _apply(m, pos[sel])
    return out


def forward_flow(pos: np.ndarray, ids: np.ndarray, motions: Mapping[int, np.ndarray],
                 k0: np.ndarray, w2c0: np.ndarray, k1: np.ndarray, w2c1: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32 forward flow.

    ``pos``: (H, W, 3) world positions (plan axes) of the surface seen at each pixel sample;
    ``ids``: (H, W) int shape ids, 0 = nothing hit (sky); ``motions``: per moving shape id
    the world-space rigid motion from t to t+1 (static shapes are absent = identity).
    """
    h, w = ids.shape
    k0, k1 = np.asarray(k0, float), np.asarray(k1, float)
    uv0, _ = project_points(k0, w2c0, pos)
    uv1, z1 = project_points(k1, w2c1, moved_points(pos, ids, motions))
    flow = uv1 - uv0
    sky = ids == 0
    bad = ~np.isfinite(flow).all(axis=-1) | (z1 <= 0)
    flow[bad] = 0.0
    if np.any(sky):
        flow[sky] = rotation_only_flow(k0, w2c0, k1, w2c1, w, h)[sky]
    return flow.astype(np.float32)


def camera_depth(pos: np.ndarray, ids: np.ndarray, w2c: np.ndarray) -> np.ndarray:
    """Metres along the camera z axis; 0 where nothing was hit (sky)."""
    z = _apply(np.asarray(w2c, float), pos)[..., 2]
    return np.where(ids > 0, z, 0.0).astype(np.float32)


def actor_mask(ids: np.ndarray, id_to_actor: Mapping[int, int]) -> np.ndarray:
    """0 for the static scene, k + 1 for pixels showing actor k."""
    mask = np.zeros(ids.shape, np.float32)
    for sid, k in id_to_actor.items():
        mask[ids == sid] = k + 1
    return mask


def warp_backward(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` (frame t+1) at ``x + flow(x)`` bilinearly: reconstructs frame t.

    Used by tests and QA: where the flow is right and nothing is occluded, the result equals
    frame t (up to render noise).
    """
    h, w = flow.shape[:2]
    uv = pixel_centres(w, h) + flow - 0.5
    x0 = np.clip(np.floor(uv[..., 0]).astype(int), 0, w - 1)
    y0 = np.clip(np.floor(uv[..., 1]).astype(int), 0, h - 1)
    x1, y1 = np.clip(x0 + 1, 0, w - 1), np.clip(y0 + 1, 0, h - 1)
    fx = np.clip(uv[..., 0] - x0, 0, 1)[..., None]
    fy = np.clip(uv[..., 1] - y0, 0, 1)[..., None]
    img = image if image.ndim == 3 else image[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bot = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    out = top * (1 - fy) + bot * fy
    return out if image.ndim == 3 else out[..., 0]
