"""Interior noise per quality: relative Monte-Carlo noise on a flat back wall, frame 0.

Why a wall and why two seeds: the `interior` preset's back wall (the face at Unreal x = 16.9 m,
``mitsuba_sets.interior``) is a flat diffuse plane lit only indirectly and by the room's lamps,
the case issue 13 calls visibly noisy. Its pixels are found from the depth pass and the
recorded camera (unprojected world position within 2 cm of the plane, then eroded by a margin
so no occlusion edge, wall corner or actor is in it). On that region two figures are reported:

* ``mc_noise``: the frame is rendered twice with different sampler seeds (only the plan's seed
  differs; the set is pinned by its ``set_seed``), ``std(a - b) / sqrt(2) / mean((a + b) / 2)``
  of the luminance: the per-pixel relative noise, free of texture, shading gradients and
  shadows (they cancel in the difference). This is the number the docs table gives.
* ``mc_noise_robust``: the same with the standard deviation taken as 1.4826 x the median absolute
  deviation, and ``outliers_per_10k``: wall pixels whose difference a - b exceeds 8 of those
  robust deviations (fireflies; Gaussian noise has ~1e-15 of them), per 10 000. A delta spot
  light over a glossy table makes rare, very bright caustic paths (measured: without the spot,
  none); they dominate ``mc_noise`` at low spp, not the grain.
* ``patch_std_over_mean``: the literal std/mean of one render's luminance divided by the albedo
  pass, after removing a least-squares plane in pixel coordinates (the slow fall-off from the
  lamps). It converges to the wall's real shading structure as spp grows, not to zero.

    .venv/bin/python benchmarks/noise.py            # ~25 min on a loaded 2-core machine
    .venv/bin/python benchmarks/noise.py --quick    # default/final at half that size

Writes benchmarks/results/noise.json (noise-quick.json with --quick). Noise figures do not
depend on the machine; the seconds do.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPECS = ("interior_lamp_cat", "interior_day_window")
BACK_WALL_X = 16.9  # Unreal x of the interior set's back wall face (box at 17, 0.2 thick)
LUMA = np.array([0.2126, 0.7152, 0.0722])
# (label, quality profile, forced spp or None, frame scale): the profiles as shipped (indoor
# default/final: the adaptive stop), the old fixed default for comparison, and final at half
# size (per-pixel noise depends on the spp, not on the frame size; this keeps the run short)
LEVELS = (("preview", "preview", None, 1.0), ("default-fixed-64", "default", 64, 1.0),
          ("default", "default", None, 1.0), ("final", "final", None, 0.5))


def frame0_plan(spec_name: str, seed_offset: int = 0):
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec

    spec = load_spec(ROOT / "scene_specs" / f"{spec_name}.yaml")
    plan = make_plan(dataclasses.replace(spec, warmup_frames=0))
    frame0 = next(f for f in plan.timeline if f.index == 0)
    render = dataclasses.replace(plan.render, passes=("img", "depth", "diffuse", "mask"),
                                 exr_pixel_type="float")
    # the set is pinned by the plan's resolved set_seed, so only the sampler seed changes
    return dataclasses.replace(plan, seed=plan.seed + seed_offset, frames=1, warmup_frames=0,
                               timeline=(frame0,), render=render)


def wall_region(depth: np.ndarray, mask: np.ndarray, cam: dict, margin: int) -> np.ndarray:
    """Pixels on the back wall plane, ``margin`` pixels away from anything else."""
    h, w = depth.shape
    k = np.array(cam["K"], dtype=np.float64)
    c2w = np.array(cam["camera_to_world"], dtype=np.float64)
    ys, xs = np.mgrid[0:h, 0:w]
    rays = np.stack([(xs + 0.5 - k[0, 2]) / k[0, 0], (ys + 0.5 - k[1, 2]) / k[1, 1],
                     np.ones_like(depth)], axis=-1)
    world = (rays * depth[..., None]) @ c2w[:3, :3].T + c2w[:3, 3]
    on = (depth > 0) & (mask == 0) & (np.abs(world[..., 0] - BACK_WALL_X) < 0.02)
    on &= (np.abs(world[..., 1]) < 7.7) & (world[..., 2] > 0.2) & (world[..., 2] < 3.3)
    keep = on.copy()
    for dy in range(-margin, margin + 1):  # erosion by a square of side 2 * margin + 1
        for dx in range(-margin, margin + 1):
            keep &= np.roll(np.roll(on, dy, axis=0), dx, axis=1)
    keep[:margin], keep[-margin:], keep[:, :margin], keep[:, -margin:] = False, False, False, False
    return keep


def detrended_rel_std(values: np.ndarray, region: np.ndarray) -> float:
    ys, xs = np.nonzero(region)
    v = values[region]
    a = np.stack([np.ones_like(xs), xs, ys], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, v, rcond=None)
    return float(np.std(v - a @ coef) / np.mean(v))


def render(plan, out: Path, quality: str, spp: int | None) -> float:
    from pipeline.backends import mitsuba as mb

    t0 = time.perf_counter()
    mb.render(plan, out, quality=quality, options={"spp": spp} if spp else None, verbose=False)
    return time.perf_counter() - t0


def measure(spec_name: str, quality: str, spp: int | None, scale: float) -> dict:
    from s2rhdr_loader.core import exr, layout

    plans = [frame0_plan(spec_name, off) for off in (0, 1)]
    if scale != 1.0:  # --quick: a smaller frame, same spp
        w, h = plans[0].render.resolution
        size = (max(16, round(w * scale)), max(8, round(h * scale)))
        plans = [_resized(p, size) for p in plans]
    with tempfile.TemporaryDirectory() as tmp:
        seq = Path(tmp) / "s0"
        seconds = [render(plans[0], seq, quality, spp)]
        meta = layout.read_json(seq / layout.META_FILE)
        # the second image: other seeds, the spp the first one took (its adaptive stop)
        seconds.append(render(plans[1], Path(tmp) / "s1", quality, int(meta["spp"])))
        a, b = (exr.read_exr(layout.frame_path(Path(tmp) / f"s{i}", "img", 0)) @ LUMA
                for i in (0, 1))
        depth = exr.read_exr(layout.frame_path(seq, "depth", 0))[..., 0]
        mask = exr.read_exr(layout.frame_path(seq, "mask", 0))[..., 0]
        albedo = exr.read_exr(layout.frame_path(seq, "diffuse", 0)) @ LUMA
        cam = layout.read_json(layout.camera_params_path(seq, 0))
    h, w = depth.shape
    region = wall_region(depth, mask, cam, margin=max(2, round(w / 100)))
    if region.sum() < 50:
        raise SystemExit(f"{spec_name}: only {int(region.sum())} wall pixels at {w}x{h}")
    mean = float(np.mean((a + b)[region]) / 2)
    d = (a - b)[region]
    mad = float(np.median(np.abs(d - np.median(d))))
    outliers = int((np.abs(d - np.median(d)) > 8 * 1.4826 * mad).sum())
    sampling = meta.get("sampling", {})
    return {"spec": spec_name, "quality": quality, "size": [w, h], "spp": meta["spp"],
            "adaptive": bool(sampling.get("adaptive")),
            "stop_estimate": sampling.get("noise_per_frame", {}).get("0000"),
            "variant": meta["variant"], "wall_pixels": int(region.sum()),
            "wall_mean": round(mean, 5),
            "mc_noise": round(float(np.std(d) / np.sqrt(2) / mean), 4),
            "mc_noise_robust": round(1.4826 * mad / np.sqrt(2) / mean, 4),
            "outliers_per_10k": round(1e4 * outliers / int(region.sum()), 2),
            "patch_std_over_mean": round(detrended_rel_std(a / np.maximum(albedo, 1e-4),
                                                           region), 4),
            "seconds_per_render": round(sum(seconds) / 2, 2)}


def _resized(plan, size: tuple[int, int]):
    from pipeline.geometry import intrinsics

    k = intrinsics(plan.camera.focal_length_mm, plan.camera.sensor_mm[0], *size)
    return dataclasses.replace(plan, render=dataclasses.replace(plan.render, resolution=size),
                               camera=dataclasses.replace(plan.camera, K=k))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="default and final at half the size")
    ap.add_argument("--specs", default=",".join(SPECS), help="comma-separated spec names")
    args = ap.parse_args()
    from s2rhdr_loader.core.atomic import atomic_write_text

    rows = []
    for name in args.specs.split(","):
        for label, quality, spp, scale in LEVELS:
            if args.quick and quality != "preview":
                scale /= 2
            row = {"level": label, **measure(name, quality, spp, scale)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = ROOT / "benchmarks" / "results" / ("noise-quick.json" if args.quick else "noise.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
