"""Mitsuba backend speed: a 1080p frame at 64 spp, img only vs all six passes.

Baselines measured in the same run: the seconds inside Mitsuba's own ``mi.render`` calls
(``meta.json`` timings.mitsuba_render_s). Reported: seconds per frame for img only and for all
passes, the overhead ratio total / inside-Mitsuba of each (target <= 1.05: posing, flow maths
and EXR writing overlap the next render), the all-passes / img-only ratio, and, when an
NVIDIA GPU is usable (``cuda_ad_rgb``), the GPU / CPU speed ratio from a child process.

    .venv/bin/python benchmarks/render.py            # 1920x1080, 64 spp, 3 frames (~5 min)
    .venv/bin/python benchmarks/render.py --quick    # 320x180, 16 spp: proves it runs
Writes benchmarks/results/render.json. Absolute seconds are machine-dependent; ratios are not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSES = ("img", "depth", "normal", "diffuse", "flow", "mask")


def measure(spec: str, size: tuple[int, int], spp: int, frames: int, passes: tuple) -> dict:
    from pipeline.backends import mitsuba as mb
    from pipeline.plan import make_plan
    from pipeline.profiles import apply_profile
    from pipeline.spec import load_spec
    from s2rhdr_loader.core import layout

    s = apply_profile(load_spec(spec), None, size)
    s = dataclasses.replace(s, frames=frames, warmup_frames=0)
    plan = make_plan(s)
    plan = dataclasses.replace(plan, render=dataclasses.replace(
        plan.render, passes=passes, quality={"mitsuba": {"spp": spp}}))
    with tempfile.TemporaryDirectory() as tmp:
        mb.render(plan, Path(tmp) / "seq", quality="final", verbose=False)
        meta = layout.read_json(Path(tmp) / "seq" / layout.META_FILE)
    t = meta["timings"]
    return {"variant": meta["variant"], "device": meta["device"], "size": list(size),
            "spp": spp, "frames": frames, "passes": list(passes),
            "s_per_frame": round(t["total_s"] / frames, 3),
            "overhead_total_over_mitsuba": round(t["total_s"] / t["mitsuba_render_s"], 4),
            "per_frame_loop_over_mitsuba": round(sum(t["per_frame_s"]) / t["mitsuba_render_s"],
                                                 4)}


def run(args: argparse.Namespace) -> dict:
    size = (320, 180) if args.quick else (1920, 1080)
    spp = 16 if args.quick else 64
    frames = 2 if args.quick else 3
    img = measure(args.spec, size, spp, frames, ("img",))
    full = measure(args.spec, size, spp, frames, PASSES)
    return {"img_only": img, "all_passes": full,
            "all_passes_over_img_only": round(full["s_per_frame"] / img["s_per_frame"], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "scene_specs" / "street_city_noon.yaml"))
    ap.add_argument("--quick", action="store_true", help="320x180, 16 spp, 2 frames")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    result = run(args)
    if args.child:
        print(json.dumps(result))
        return
    from pipeline.backends.mitsuba_variant import cached_cuda_probe

    cuda_ok, reason = cached_cuda_probe()
    result["gpu"] = {"usable": cuda_ok, "reason": reason}
    if cuda_ok:  # the same measurement on the other device, in a child process
        env = {**os.environ, "S2RHDR_MITSUBA_VARIANT": "llvm_ad_rgb"}
        cmd = [sys.executable, __file__, "--child", "--spec", args.spec] + \
            (["--quick"] if args.quick else [])
        cpu = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env,
                                        check=True).stdout.splitlines()[-1])
        result["cpu"] = cpu
        result["gpu_speedup_img_only"] = round(cpu["img_only"]["s_per_frame"]
                                               / result["img_only"]["s_per_frame"], 3)
    out = ROOT / "benchmarks" / "results" / ("render-quick.json" if args.quick else
                                             "render.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
