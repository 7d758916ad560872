"""Synthetic HDR frames and tiny datasets shared by the validate / stats / report tests.

(A helper module: it holds no tests.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.cli import main
from s2rhdr_loader.core.exr import write_exr

REC709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def hdr_scene(w: int = 48, h: int = 32, seed: int = 0, sun: float = 3e3) -> np.ndarray:
    """Linear HDR frame: bright sky, textured ground with a deep shadow, a lamp, a sun disk."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = h * 0.45
    sky = yy < horizon
    t = yy / horizon
    sky_rgb = np.stack([2.0 + 3 * t, 3.0 + 3 * t, 6.0 + 2 * t], -1)
    tex = np.exp(rng.normal(0, 0.6, (h, w))).astype(np.float32)
    ground = np.stack([0.30 * tex, 0.25 * tex, 0.18 * tex], -1)
    ground[(xx > w * 0.55) & ~sky] *= 0.05
    img = np.where(sky[..., None], sky_rgb, ground).astype(np.float32)
    img[(abs(xx - w * 0.2) < 3) & (abs(yy - h * 0.7) < 2)] = (800, 700, 500)
    img[(xx - w * 0.8) ** 2 + (yy - h * 0.15) ** 2 < 4] = (sun, 0.95 * sun, 0.9 * sun)
    img *= np.exp(rng.normal(0, 0.05, img.shape)).astype(np.float32)
    return img


def gamma_clipped(img: np.ndarray, key: float = 0.18) -> np.ndarray:
    """What a tonemapped export looks like: auto-exposed, clipped at 1, gamma 1/2.2."""
    k = key / np.exp(np.mean(np.log(img @ REC709 + 1e-6)))
    return (np.clip(img * k, 0, 1) ** (1 / 2.2)).astype(np.float32)


def official_normalised(img: np.ndarray) -> np.ndarray:
    """The official S2R-HDR preprocessing: [P1, P99] of the frame mapped to [0, 1] (linear)."""
    lo, hi = np.percentile(img, [1, 99])
    return np.clip((np.clip(img, lo, hi) - lo) / (hi - lo), 0, 1).astype(np.float32)


def write_sequence(seq: Path, frames: list[np.ndarray], *, passes: tuple[str, ...] = ("depth",),
                   plan: bool = True, pixel_type: str = "half", first: int = 0,
                   official: bool = False) -> Path:
    """One sequence in our layout (or the official img/HDR form) with optional plan.json."""
    h, w = frames[0].shape[:2]
    img_dir = seq / "img" / "HDR" if official else seq / "img"
    for i, f in enumerate(frames):
        write_exr(img_dir / f"{first + i:04d}.exr", f, pixel_type=pixel_type)
        if "depth" in passes:
            write_exr(seq / "depth" / f"{first + i:04d}.exr",
                      np.full((h, w), 4.0, np.float32), channels=("Z",))
    if plan:
        (seq / "plan.json").write_text(json.dumps(
            {"frames": len(frames), "render": {"resolution": [w, h],
                                               "passes": ["img", *passes]}}))
    return seq


def run_cli(argv: list[str]) -> int:
    """Exit status of ``s2rhdr-render argv`` run in-process."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def overcast_scene(w: int = 96, h: int = 64, seed: int = 0, median: float = 0.15
                   ) -> np.ndarray:
    """A correctly exposed flat linear frame (overcast light, no sun, maximum below 1):
    a smooth random field of log2 luminance, shadows down to ~5 stops below the median,
    lit surfaces at most ~2 stops above it (albedo-limited), two tints."""
    import cv2

    rng = np.random.default_rng(seed)
    g = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.0)
    g /= g.std()
    stops = np.where(g > 0, 0.6 * g, 1.5 * g)
    y = np.exp2(stops).astype(np.float32)
    tint = np.where(rng.random((h, w, 1)) < 0.5, (1.0, 0.95, 0.85), (0.8, 0.95, 1.1))
    img = (y[..., None] * tint).astype(np.float32)
    img *= np.float32(median / np.median(img @ REC709))
    return img


def official_sequence(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The official preprocessing of a sequence: frame 0's [P1, P99] mapped to [0, 1] and
    the same affine map (clipped) applied to every frame."""
    lo, hi = np.percentile(frames[0], [1, 99])
    return [np.clip((np.clip(f, lo, hi) - lo) / (hi - lo), 0, 1).astype(np.float32)
            for f in frames]


def write_shot(seq: Path, frames: list[np.ndarray], *, passes: tuple[str, ...] = ("depth",)
               ) -> Path:
    """A rendered shot as the batch leaves it: our plan.json (format s2rhdr.plan), meta.json
    and one camera record per frame, next to the frames of :func:`write_sequence`."""
    write_sequence(seq, frames, passes=passes)
    h, w = frames[0].shape[:2]
    (seq / "plan.json").write_text(json.dumps(
        {"format": "s2rhdr.plan", "frames": len(frames),
         "render": {"resolution": [w, h], "passes": ["img", *passes]}}))
    (seq / "meta.json").write_text(json.dumps({"frames": len(frames)}))
    for i in range(len(frames)):
        (seq / "camera_params").mkdir(exist_ok=True)
        (seq / "camera_params" / f"{i:04d}.json").write_text("{}")
    return seq
