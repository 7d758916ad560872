"""A real-texture target domain: exposure brackets cut from captured HDR panoramas.

Why: an adapter or test-time adaptation study needs a target that differs from renders the way
real cameras do -- real texture and lighting statistics, sensor noise, a camera response that
is not the gamma 2.2 the network assumes, white balance, camera and object motion -- and whose
ground truth is known. Captured equirectangular HDR panoramas give the first two for free; the
rest is simulated on top:

* **views**: pinhole crops of a panorama (``perspective_crop``; yaw, pitch, field of view drawn
  per sample, supersampled to avoid aliasing);
* **camera motion**: each of the three frames looks in a slightly different direction
  (Gaussian jitter of ``camera_jitter_px`` pixels, the reference frame is the anchor);
* **object motion**: a disc cut from another view moves across the frame
  (``object_speed_px`` per frame, soft edge), over a background that keeps its own motion;
* **white balance**: per-sample channel gains of the capturing camera (scene and label alike:
  the ground truth of a real dataset is in its camera's colour space);
* **exposure brackets**: the frames are normalised by the reference frame's 99.9th percentile,
  clipped to [0, 1] (as the release's training data) and turned into LDR inputs by the
  ``sensor`` recipe (``s2rhdr_loader.recipes``: Poisson-Gaussian noise, an sRGB or filmic
  response while the network linearises with ^2.2, quantisation).

The default panoramas are the eight CC0 HDR captures by Greg Zaal (HDRI Haven) that Debian's
``blender-data`` package ships (1024 x 512, real sun): ``apt-get install blender-data``.
Samples have the loader's keys (``input0..2`` (6, P, P), ``label`` (3, P, P), ``exp`` (3,)).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from s2rhdr_loader import recipes
from s2rhdr_loader.core.errors import DataError, OptionError

STUDIOLIGHTS = Path("/usr/share/blender/datafiles/studiolights/world")


def find_panoramas(folder: str | os.PathLike = STUDIOLIGHTS) -> list[Path]:
    """The ``*.exr`` panoramas in ``folder`` (sorted); a clear error when there are none."""
    folder = Path(folder)
    found = sorted(folder.glob("*.exr")) if folder.is_dir() else []
    if not found:
        hint = " (apt-get install blender-data)" if folder == STUDIOLIGHTS else ""
        raise DataError(f"{folder}: no .exr panoramas found{hint}")
    return found


def load_panorama(path: str | os.PathLike) -> np.ndarray:
    """An equirectangular HDR panorama as (H, W, 3) float32, non-finite values set to 0."""
    from s2rhdr_loader.core.exr import read_exr

    pano = read_exr(path, channels=("R", "G", "B"), dtype=np.float32)
    pano = np.nan_to_num(pano, nan=0.0, posinf=0.0, neginf=0.0)
    if pano.ndim != 3 or pano.shape[1] != 2 * pano.shape[0]:
        raise DataError(f"{path}: {pano.shape[1]}x{pano.shape[0]} is not a 2:1 "
                        "equirectangular panorama")
    return np.maximum(pano, 0.0)


def view_rays(size: int, fov_deg: float, yaw_deg: float, pitch_deg: float,
              shift: tuple[float, float] = (0.0, 0.0), supersample: int = 1) -> np.ndarray:
    """World directions (size*s, size*s, 3) of a pinhole camera's pixels (y up, z forward).

    ``shift`` moves the image content by (dx, dy) pixels (a principal-point offset), which is
    how a moving object's texture is translated exactly.
    """
    s = int(supersample)
    f = (size / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    coords = (np.arange(size * s, dtype=np.float64) + 0.5) / s
    xs = (coords - size / 2.0 - shift[0]) / f
    ys = -(coords - size / 2.0 - shift[1]) / f
    x, y = np.meshgrid(xs, ys)
    d = np.stack([x, y, np.ones_like(x)], axis=-1)
    p, q = math.radians(pitch_deg), math.radians(yaw_deg)
    pitch = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    yaw = np.array([[math.cos(q), 0, math.sin(q)], [0, 1, 0], [-math.sin(q), 0, math.cos(q)]])
    d = d @ (yaw @ pitch).T
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def sample_equirect(pano: np.ndarray, rays: np.ndarray) -> np.ndarray:
    """Bilinear lookup of unit ``rays`` in an equirectangular panorama (wraps in longitude).

    Longitude ``atan2(x, z)`` maps to columns (0 at the centre column), latitude ``asin(y)``
    to rows (+90 degrees at row 0).
    """
    h, w = pano.shape[:2]
    lon = np.arctan2(rays[..., 0], rays[..., 2])
    lat = np.arcsin(np.clip(rays[..., 1], -1.0, 1.0))
    u = (lon / (2 * math.pi) + 0.5) * w - 0.5
    v = (0.5 - lat / math.pi) * h - 0.5
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = (u - u0)[..., None], (v - v0)[..., None]
    u1, v0c, v1c = (u0 + 1) % w, np.clip(v0, 0, h - 1), np.clip(v0 + 1, 0, h - 1)
    u0 %= w
    top = pano[v0c, u0] * (1 - fu) + pano[v0c, u1] * fu
    bottom = pano[v1c, u0] * (1 - fu) + pano[v1c, u1] * fu
    return (top * (1 - fv) + bottom * fv).astype(np.float32)


def perspective_crop(pano: np.ndarray, size: int, fov_deg: float, yaw_deg: float,
                     pitch_deg: float, shift: tuple[float, float] = (0.0, 0.0),
                     supersample: int = 3) -> np.ndarray:
    """A (size, size, 3) pinhole view of ``pano``, box-filtered over supersample^2 rays."""
    rays = view_rays(size, fov_deg, yaw_deg, pitch_deg, shift, supersample)
    img = sample_equirect(pano, rays)
    s = int(supersample)
    return img.reshape(size, s, size, s, 3).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def soft_disc(size: int, centre: tuple[float, float], radius: float, edge: float = 1.5
              ) -> np.ndarray:
    """(size, size, 1) alpha of a disc with a ``edge``-pixel soft border (anti-aliased)."""
    c = np.arange(size, dtype=np.float32) + 0.5
    x, y = np.meshgrid(c, c)
    r = np.hypot(x - centre[0], y - centre[1])
    return np.clip((radius - r) / edge + 0.5, 0.0, 1.0)[..., None].astype(np.float32)


def default_sensor() -> recipes.SensorModel:
    """A consumer camera: sRGB or filmic response, 12 bits, a small well (visible noise)."""
    return recipes.SensorModel(full_well=(3000.0, 20000.0), read_noise=(2.0, 10.0),
                               gain=(1.0, 8.0), crfs=("srgb", "filmic"), bits=12)


@dataclass(frozen=True)
class BracketConfig:
    """How views, motion, white balance and the camera of the target domain are drawn."""

    fov_deg: tuple[float, float] = (40.0, 60.0)
    pitch_deg: tuple[float, float] = (-20.0, 20.0)
    yaw_deg: tuple[float, float] = (0.0, 360.0)
    camera_jitter_px: float = 0.8
    object_speed_px: tuple[float, float] = (1.0, 4.0)
    object_radius: tuple[float, float] = (0.15, 0.3)     # fraction of the patch
    wb_red: tuple[float, float] = (0.8, 1.25)
    wb_blue: tuple[float, float] = (0.75, 1.3)
    percentile: float = 99.9
    sensor: recipes.SensorModel = field(default_factory=default_sensor)

    def __post_init__(self) -> None:
        for name in ("fov_deg", "pitch_deg", "yaw_deg", "object_speed_px", "object_radius",
                     "wb_red", "wb_blue"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise OptionError(f"bracket config {name}: low {lo} > high {hi}")
        if not (0 < self.fov_deg[0] and self.fov_deg[1] < 170):
            raise OptionError("bracket config fov_deg must lie in (0, 170) degrees")


class PanoramaBracketDataset(Dataset):
    """``n`` target samples of ``patch`` pixels from ``panoramas``; a pure function of
    ``(seed, index)``. ``panoramas``: paths or (H, 2H, 3) arrays."""

    def __init__(self, panoramas: Sequence[str | os.PathLike | np.ndarray], n: int,
                 patch: int = 64, seed: int = 0, config: BracketConfig | None = None):
        if n < 1 or patch < 8:
            raise OptionError("panorama dataset needs n >= 1 and patch >= 8")
        if not panoramas:
            raise OptionError("panorama dataset needs at least one panorama")
        self.panos = [p if isinstance(p, np.ndarray) else load_panorama(p) for p in panoramas]
        self.names = [f"pano{i}" if isinstance(p, np.ndarray) else Path(p).stem
                      for i, p in enumerate(panoramas)]
        self.n, self.patch, self.seed = int(n), int(patch), int(seed)
        self.config = config or BracketConfig()

    def __len__(self) -> int:
        return self.n

    def scene(self, index: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Linear HDR frames (3, P, P, 3) before normalisation, and what was drawn."""
        if not 0 <= index < self.n:
            raise IndexError(index)
        cfg, p = self.config, self.patch
        rng = np.random.default_rng([self.seed, index])
        k = int(rng.integers(len(self.panos)))
        fov = float(rng.uniform(*cfg.fov_deg))
        yaw, pitch = float(rng.uniform(*cfg.yaw_deg)), float(rng.uniform(*cfg.pitch_deg))
        f_px = (p / 2.0) / math.tan(math.radians(fov) / 2.0)
        obj = int(rng.integers(len(self.panos)))
        obj_yaw, obj_pitch = float(rng.uniform(0, 360)), float(rng.uniform(*cfg.pitch_deg))
        radius = float(rng.uniform(*cfg.object_radius)) * p
        centre = rng.uniform(radius, p - radius, 2)
        angle = float(rng.uniform(0, 2 * math.pi))
        speed = float(rng.uniform(*cfg.object_speed_px))
        velocity = speed * np.array([math.cos(angle), math.sin(angle)])
        wb = np.array([rng.uniform(*cfg.wb_red), 1.0, rng.uniform(*cfg.wb_blue)], np.float32)
        frames = []
        for i in range(3):   # list order short, reference, long = temporal order
            jitter = np.zeros(2) if i == 1 else rng.normal(0.0, cfg.camera_jitter_px, 2)
            bg = perspective_crop(self.panos[k], p, fov, yaw + math.degrees(jitter[0] / f_px),
                                  pitch + math.degrees(jitter[1] / f_px))
            offset = velocity * (i - 1)
            sprite = perspective_crop(self.panos[obj], p, fov, obj_yaw, obj_pitch,
                                      shift=(float(offset[0]), float(offset[1])))
            alpha = soft_disc(p, (float(centre[0] + offset[0]), float(centre[1] + offset[1])),
                              radius)
            frames.append(((1 - alpha) * bg + alpha * sprite) * wb)
        info = {"panorama": self.names[k], "fov": fov, "yaw": yaw, "pitch": pitch,
                "wb": wb.tolist(), "speed": speed}
        return np.stack(frames).astype(np.float32), info

    def __getitem__(self, index: int) -> dict[str, Any]:
        hdr, info = self.scene(index)
        scale = float(np.percentile(hdr[1], self.config.percentile))
        hdr = np.clip(hdr / np.float32(scale if scale > 0 else 1.0), 0.0, 1.0)
        rng = np.random.default_rng([self.seed, index, 1])
        syn = recipes.sensor(hdr, rng, train=False, model=self.config.sensor)
        chw = np.ascontiguousarray(syn.inputs.transpose(0, 3, 1, 2), dtype=np.float32)
        sample: dict[str, Any] = {f"input{i}": torch.from_numpy(chw[i].copy()) for i in range(3)}
        sample["label"] = torch.from_numpy(np.ascontiguousarray(syn.label.transpose(2, 0, 1)))
        sample["exp"] = torch.tensor(np.asarray(syn.exposures, np.float32))
        sample["panorama"] = info["panorama"]
        return sample
