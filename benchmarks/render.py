"""Mitsuba backend speed: per-frame time at preview/default quality and the overhead ratio.

The baseline, measured in the same run, is the time spent inside Mitsuba's own render calls
(``meta.json`` timings.mitsuba_render_s); the ratio total wall / inside-Mitsuba shows what
our scene posing, flow maths and EXR writing cost on top (target <= 1.15). A second run in a
child process with ``S2RHDR_MITSUBA_VARIANT=scalar_rgb`` gives the llvm/scalar speed ratio.

    .venv/bin/python benchmarks/render.py [--spec scene_specs/street_day_walk.yaml]
Writes benchmarks/results/render.json. Absolute seconds are machine-dependent; ratios are not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(spec: str, quality: str, frames: int) -> dict:
    import dataclasses

    from pipeline.backends import mitsuba as mb
    from pipeline.batch import load_plans

    plan = load_plans([spec])[0]
    keep = [f for f in plan.timeline if f.index < frames]
    plan = dataclasses.replace(plan, timeline=tuple(keep), frames=min(frames, plan.frames))
    with tempfile.TemporaryDirectory() as tmp:
        mb.render(plan, Path(tmp) / "warm", quality=quality, verbose=False)  # JIT + caches
        t0 = time.perf_counter()
        mb.render(plan, Path(tmp) / "run", quality=quality, verbose=False)
        wall = time.perf_counter() - t0
        meta = json.loads((Path(tmp) / "run" / "meta.json").read_text())
    t = meta["timings"]
    n = meta["frames"]
    return {"quality": quality, "variant": meta["variant"], "resolution": meta["resolution"],
            "spp": meta["spp"], "frames": n, "wall_s": round(wall, 4),
            "per_frame_s": round(wall / n, 4),
            "inside_mitsuba_s": t["mitsuba_render_s"],
            "overhead_ratio": round(wall / t["mitsuba_render_s"], 4),
            "steady_overhead_ratio": round(sum(t["per_frame_s"]) / t["mitsuba_render_s"], 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "scene_specs" / "street_day_walk.yaml"))
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.spec, "preview", args.frames)))
        return
    results = [measure(args.spec, q, args.frames) for q in ("preview", "default")]
    env = dict(os.environ, S2RHDR_MITSUBA_VARIANT="scalar_rgb")
    child = subprocess.run([sys.executable, __file__, "--child", "--spec", args.spec,
                            "--frames", str(args.frames)], env=env, capture_output=True,
                           text=True, check=True)
    scalar = json.loads(child.stdout.strip().splitlines()[-1])
    spec = Path(args.spec).resolve()
    out = {"spec": str(spec.relative_to(ROOT)) if ROOT in spec.parents else str(spec),
           "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
           "results": results, "scalar_preview": scalar,
           "llvm_speedup_preview": round(scalar["per_frame_s"] / results[0]["per_frame_s"], 3)
           if results[0]["variant"] != "scalar_rgb" else None,
           "target_overhead_ratio": 1.15}
    for r in results + [scalar]:
        print(f"{r['quality']:8s} {r['variant']:11s} {r['resolution'][0]}x{r['resolution'][1]} "
              f"{r['spp']:3d} spp  {r['per_frame_s']:.3f} s/frame  total/inside-mitsuba "
              f"{r['overhead_ratio']:.3f} (per-frame loop {r['steady_overhead_ratio']:.3f})")
    if out["llvm_speedup_preview"]:
        print(f"llvm_ad_rgb vs scalar_rgb at preview: {out['llvm_speedup_preview']:.2f}x faster")
    dest = ROOT / "benchmarks" / "results" / "render.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    os.replace(tmp, dest)
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
