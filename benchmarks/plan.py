"""Planner scaling: per-frame cost of make_plan (+ to_json) for long shots vs a 100-frame shot.

Why: batch runs plan every shot (and the Unreal plugin plans inside the editor), so planning
must stay linear in frames x actors. The shot: Catmull-Rom camera path, walking shake, 10
actors on multi-segment polylines. Target: per-frame cost at 10 000 frames within 2x of the
100-frame baseline measured in the same run (no hidden quadratic step).
Run: ``.venv/bin/python benchmarks/plan.py``; writes benchmarks/results/plan.json.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pipeline.plan import make_plan  # noqa: E402
from pipeline.spec import load_spec  # noqa: E402

SPEC = """\
name: bench
seed: 1
frames: {frames}
warmup_frames: 8
camera:
  path: [[0, 0, 1.6], [5, 1, 1.6], [10, -1, 1.6], [15, 0, 1.6]]
  interpolation: catmull_rom
  look_at: [40, 0, 1.5]
  handheld: {{profile: walking}}
exposure: {{ev100: 12}}
environment:
  sun: {{elevation_deg: 30}}
actors:
{actors}
"""
ACTOR = ("  - {{kind: pedestrian, path: [[{x}, -10, 0], [{x}, 0, 0], [{y}, 10, 0]], "
         "speed_mps: 1.4, at_end: loop}}")


def timed(path: Path, repeats: int) -> tuple[float, float, int]:
    spec = load_spec(path)
    plan_t, json_t, size = [], [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = make_plan(spec)
        t1 = time.perf_counter()
        text = plan.to_json()
        t2 = time.perf_counter()
        plan_t.append(t1 - t0)
        json_t.append(t2 - t1)
        size = len(text)
    return statistics.median(plan_t), statistics.median(json_t), size


def main() -> None:
    actors = "\n".join(ACTOR.format(x=5 + 2 * i, y=6 + 2 * i) for i in range(10))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for frames, repeats in ((100, 7), (1000, 5), (10000, 3)):
            path = Path(tmp) / f"bench{frames}.yaml"
            path.write_text(SPEC.format(frames=frames, actors=actors))
            plan_s, json_s, size = timed(path, repeats)
            rows.append({"frames": frames, "plan_s": plan_s, "to_json_s": json_s,
                         "plan_us_per_frame": 1e6 * plan_s / (frames + 8),
                         "json_bytes": size})
    base = rows[0]["plan_us_per_frame"]
    print(f"{'frames':>7} {'plan s':>8} {'us/frame':>9} {'x base':>7} {'to_json s':>9} {'MB':>6}")
    for r in rows:
        r["per_frame_ratio_vs_100"] = r["plan_us_per_frame"] / base
        print(f"{r['frames']:>7} {r['plan_s']:>8.3f} {r['plan_us_per_frame']:>9.1f} "
              f"{r['per_frame_ratio_vs_100']:>7.2f} {r['to_json_s']:>9.3f} "
              f"{r['json_bytes'] / 1e6:>6.2f}")
    ok = rows[-1]["per_frame_ratio_vs_100"] <= 2.0
    print(f"target: per-frame cost at 10000 frames <= 2x the 100-frame cost: "
          f"{'met' if ok else 'NOT met'}")
    out = HERE / "results" / "plan.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                               "actors": 10, "rows": rows, "target_met": ok}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
