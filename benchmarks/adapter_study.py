"""Adapter study: rendered-like source domain -> shifted "sensor" target domain, few labels.

Pre-trains the tiny AHDR-like net on ``synthetic:source`` (gamma-2.2 camera, smooth scenes,
labels <= 1), then adapts to ``synthetic:target`` (S-curve camera response, Poisson-Gaussian
noise, white-balance gains, textures, labels up to ~3) with ``--labelled`` labelled images,
and evaluates every method on held-out target images (PSNR-mu, PSNR-l, SSIM-mu; the published
protocol clips predictions to [0, 1]):

  source only | direct fine-tuning (all weights) | share only (r=1) | transfer only |
  share + transfer (frozen backbone) | TTA without labels (mean teacher, official U) |
  TTA without labels (normalized U, ours)

    .venv/bin/python benchmarks/adapter_study.py            # ~5 min on 2 busy CPU cores
    .venv/bin/python benchmarks/adapter_study.py --quick    # smoke run

Writes benchmarks/results/adapter_study.json (+ the markdown table on stdout).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from s2rhdr_loader.learn.adapter import AdapterConfig, inject
from s2rhdr_loader.learn.models import TINY
from s2rhdr_loader.learn.train import TrainConfig, build_from_meta, evaluate, fit, model_meta
from s2rhdr_loader.learn.tta import MeanTeacherTTA, TTAConfig
from s2rhdr_loader.synthetic import SyntheticHDRDataset

METHODS = ("source only", "direct fine-tuning", "share only", "transfer only",
           "share + transfer", "TTA (official U)", "TTA (normalized U)")


def _eval(model: torch.nn.Module, test: SyntheticHDRDataset) -> dict[str, float]:
    r = evaluate(model, test, progress=False)
    return {k: r[k] for k in ("psnr_mu", "psnr_l", "ssim_mu")}


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="adapter_study_"))
    source = SyntheticHDRDataset(args.source_n, args.patch, "source", seed=0)
    test = SyntheticHDRDataset(args.test_n, args.test_patch, "target", seed=10_000)
    meta = model_meta("ahdr", TINY["ahdr"], None)
    torch.manual_seed(0)
    base = build_from_meta(meta)
    t0 = time.perf_counter()
    pre = fit(base, source, TrainConfig(steps=args.pretrain_steps, batch_size=args.batch,
                                        lr=args.lr, lr_min=args.lr / 10, seed=0,
                                        ckpt_every=10**9),
              work / "pretrain", meta, progress=False)
    pretrain_s = time.perf_counter() - t0
    print(f"pretrained {args.pretrain_steps} steps in {pretrain_s:.0f} s, "
          f"final loss {pre[-1]['loss']:.4f}", flush=True)
    source_eval = {"source": _eval(base, SyntheticHDRDataset(args.test_n, args.test_patch,
                                                             "source", seed=10_000))}
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in args.methods}
    for seed in args.seeds:
        labelled = SyntheticHDRDataset(args.labelled, args.patch, "target", seed=1 + seed)
        for method in args.methods:
            t0 = time.perf_counter()
            model = copy.deepcopy(base)
            if method == "source only":
                pass
            elif method.startswith("TTA"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    inject(model, AdapterConfig(r_transfer=args.r_transfer, seed=seed))
                mode = "official" if "official" in method else "normalized"
                tta = MeanTeacherTTA(model, TTAConfig(
                    ema=args.tta_ema, lr=args.tta_lr, crops=args.tta_crops, crop=args.patch,
                    uncertainty=mode, reset="never", seed=seed))
                for i in range(len(test)):     # unlabelled: the label key is dropped
                    x = {k: v.unsqueeze(0) for k, v in test[i].items() if k != "label"}
                    tta.adapt_image(x)
                model = tta.merged_teacher()
                tta_u = statistics.fmean(h["U"] for h in tta.state.history)
            else:
                acfg = None
                if method != "direct fine-tuning":
                    branches = {"share only": ("share",), "transfer only": ("transfer",),
                                "share + transfer": ("share", "transfer")}[method]
                    acfg = AdapterConfig(r_transfer=args.r_transfer, branches=branches,
                                         seed=seed)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        inject(model, acfg)
                m_meta = model_meta("ahdr", TINY["ahdr"], acfg)
                fit(model, labelled, TrainConfig(
                    steps=args.adapt_steps, batch_size=args.batch,
                    lr=args.ft_lr if acfg is None else args.adapter_lr,
                    lr_min=(args.ft_lr if acfg is None else args.adapter_lr) / 10,
                    seed=seed, ckpt_every=10**9),
                    work / f"{method.replace(' ', '_')}_{seed}", m_meta, progress=False)
            scores = _eval(model, test)
            scores["seconds"] = time.perf_counter() - t0
            if method.startswith("TTA"):
                scores["mean_U"] = tta_u
            rows[method].append(scores)
            print(f"seed {seed} {method:20s} psnr_mu {scores['psnr_mu']:6.2f}  "
                  f"psnr_l {scores['psnr_l']:6.2f}  ssim_mu {scores['ssim_mu']:.4f}  "
                  f"({scores['seconds']:.0f} s)", flush=True)
    summary = {}
    for method, rs in rows.items():
        summary[method] = {k: {"mean": statistics.fmean(r[k] for r in rs),
                               "min": min(r[k] for r in rs), "max": max(r[k] for r in rs)}
                           for k in ("psnr_mu", "psnr_l", "ssim_mu")}
    return {"benchmark": "adapter_study", "args": vars(args), "pretrain_seconds": pretrain_s,
            "pretrain_final_loss": pre[-1]["loss"], "source_domain_eval": source_eval,
            "per_seed": rows, "summary": summary, "torch": torch.__version__}


def table(result: dict) -> str:
    lines = ["| method | PSNR-mu | PSNR-l | SSIM-mu |", "|---|---|---|---|"]
    for method, s in result["summary"].items():
        cells = [f"{s[k]['mean']:.2f} ({s[k]['min']:.2f}..{s[k]['max']:.2f})" if k != "ssim_mu"
                 else f"{s[k]['mean']:.4f}" for k in ("psnr_mu", "psnr_l", "ssim_mu")]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                    metavar="METHOD", help=f"subset of: {'; '.join(METHODS)}")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=1,
                    help="1 is fastest on a shared 2-core box (no spin-wait contention)")
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--test-patch", type=int, default=64)
    ap.add_argument("--source-n", type=int, default=512)
    ap.add_argument("--test-n", type=int, default=16)
    ap.add_argument("--labelled", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--adapt-steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ft-lr", type=float, default=5e-4)
    ap.add_argument("--adapter-lr", type=float, default=5e-4)
    ap.add_argument("--r-transfer", type=int, default=8)
    ap.add_argument("--tta-crops", type=int, default=4)
    ap.add_argument("--tta-lr", type=float, default=1e-4)
    ap.add_argument("--tta-ema", type=float, default=0.99)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "adapter_study.json"))
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.pretrain_steps, args.adapt_steps = [0], 20, 5
        args.test_n, args.source_n, args.tta_crops = 2, 32, 1
    result = run(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
