"""Inference latency: plain backbone vs S2R-Adapter (unmerged) vs merged, for every net.

``--models`` defaults to our two reference nets and the release-shaped ``hdr-transformer`` and
``sctnet`` (adapters on their window-attention qkv/proj layers, as the release injects).

Target: merged / plain <= 1.02 (merge() must cost nothing at inference). The three models are
timed interleaved (round robin, order rotated each round) so machine load hits them alike;
ratios use the *minimum* over the repeats (the least-disturbed run, as ``timeit`` advises on
a shared machine); medians are stored too.

    .venv/bin/python benchmarks/adapter_merge.py [--size 128] [--repeats 9] [--tiny]
        [--models ahdr transformer hdr-transformer sctnet]

Writes benchmarks/results/adapter_merge.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import torch

from s2rhdr_loader.learn.adapter import AdapterConfig, adapter_parameters, inject, merge
from s2rhdr_loader.learn.models import MODELS, TINY, build_model, count_parameters


def _time(model: torch.nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    with torch.inference_mode():
        model(x)
    return time.perf_counter() - t0


def bench(name: str, size: int, repeats: int, tiny: bool) -> dict:
    torch.manual_seed(0)
    kwargs = TINY[name] if tiny else {}
    plain = build_model(name, **kwargs).eval()
    adapted = build_model(name, **kwargs).eval()
    adapted.load_state_dict(plain.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inject(adapted, AdapterConfig(r_share=1, r_transfer=64))
    with torch.no_grad():
        for p in adapter_parameters(adapted):
            p.normal_(0, 0.01)
    merged = merge(adapted).eval()
    x = torch.rand(1, 18, size, size)
    with torch.inference_mode():
        diff = float((merged(x) - adapted(x)).abs().max())
    models = {"plain": plain, "adapter": adapted, "merged": merged}
    for m in models.values():       # warm-up
        _time(m, x)
    times: dict[str, list[float]] = {k: [] for k in models}
    names = list(models)
    for i in range(repeats):            # rotate the order so no model always runs first
        for k in names[i % 3:] + names[:i % 3]:
            times[k].append(_time(models[k], x))
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    return {
        "model": name, "tiny": tiny, "input": [1, 18, size, size],
        "params_plain": count_parameters(plain), "params_adapter": count_parameters(adapted),
        "median_s": med, "min_s": best,
        "ratio_merged_over_plain": best["merged"] / best["plain"],
        "ratio_adapter_over_plain": best["adapter"] / best["plain"],
        "median_ratio_merged_over_plain": med["merged"] / med["plain"],
        "merge_max_abs_diff": diff,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--tiny", action="store_true", help="tiny configurations (quick check)")
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS),
                    default=["ahdr", "transformer", "hdr-transformer", "sctnet"])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 = stable timings on a shared machine)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "adapter_merge.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench(n, args.size, args.repeats, args.tiny) for n in args.models]
    for r in rows:
        print(f"{r['model']:15s} plain {r['min_s']['plain'] * 1e3:8.1f} ms  "
              f"adapter x{r['ratio_adapter_over_plain']:.3f}  "
              f"merged x{r['ratio_merged_over_plain']:.3f} (target <= 1.02)  "
              f"max|diff| {r['merge_max_abs_diff']:.1e}  params {r['params_plain']:,} -> "
              f"{r['params_adapter']:,} while adapted")
    result = {"benchmark": "adapter_merge", "torch": torch.__version__,
              "threads": torch.get_num_threads(), "machine": platform.machine(),
              "device": "cpu", "repeats": args.repeats, "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
