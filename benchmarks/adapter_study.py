"""Adapter study: Mitsuba-rendered source -> real-texture "camera" target, >= 3 seeds.

Source: our own renders (``s2rhdr-render batch scene_specs/ --quality default --resolution
192x108 --seeds 0,1,2``, ~1 min on one core; reused when ``--source-root`` already holds
them), the release's LDR recipe (exact gamma 2.2, tiny noise, labels <= 1), 32-px crops.
Target (``s2rhdr_loader.learn.panorama``): perspective crops of eight captured CC0 HDR
panoramas (Debian ``blender-data``) with camera shake and a moving object, per-image white
balance, and LDR brackets from the ``sensor`` recipe with an sRGB or filmic response (the net
still linearises with ^2.2), Poisson-Gaussian noise and 12 bits. Labelled target crops come
from one half of every panorama (yaw 0-180), test images from the other half (yaw 180-360).

Methods (tiny AHDR-like net, 39k parameters, pre-trained per seed on the source):
  source only | ensemble inference (mean over the TTA augmentations, no adaptation) |
  TTA, release recipe (teacher target, same view; all weights, lr 1e-4, 24 crops, EMA .999) |
  TTA ours, frozen backbone (ensemble target, augmented view, normalized U; lr 1e-3, 16 crops,
  EMA .99) | TTA ours, all weights (our target with the release's trainable set and budget) |
  self-calibration (label-free response estimate, no training) |
  self-calibration + TTA ours, frozen backbone |
  fine-tune (all weights) | share only | transfer only | share + transfer  (8 labelled crops)

    .venv/bin/python benchmarks/adapter_study.py            # ~20-30 min on one busy core
    .venv/bin/python benchmarks/adapter_study.py --quick    # smoke run (~2 min)

Writes benchmarks/results/adapter_study.json (+ a markdown table on stdout). Timings vary with
machine load: only the quality figures are comparable between runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from s2rhdr_loader.core.atomic import atomic_write_text
from s2rhdr_loader.core.layout import discover
from s2rhdr_loader.dataset import S2RHDRDataset
from s2rhdr_loader.learn.adapter import AdapterConfig, inject
from s2rhdr_loader.learn.models import TINY
from s2rhdr_loader.learn.panorama import (
    STUDIOLIGHTS,
    BracketConfig,
    PanoramaBracketDataset,
    find_panoramas,
)
from s2rhdr_loader.learn.selfcal import recalibrate
from s2rhdr_loader.learn.train import TrainConfig, build_from_meta, evaluate, fit, model_meta
from s2rhdr_loader.learn.tta import MeanTeacherTTA, TTAConfig, ensemble_predict

ROOT = Path(__file__).resolve().parent.parent
TTA_METHODS = ("TTA, release recipe", "TTA ours, frozen backbone", "TTA ours, all weights",
               "self-calibration + TTA ours, frozen backbone")
SUPERVISED = ("fine-tune (all weights)", "share only", "transfer only", "share + transfer")
METHODS = ("source only", "ensemble inference", *TTA_METHODS[:3], "self-calibration",
           TTA_METHODS[3], *SUPERVISED)
KEYS = ("psnr_mu", "psnr_l", "ssim_mu")
INPUTS = ("input0", "input1", "input2", "exp")


class Calibrated(Dataset):
    """A dataset whose inputs go through the label-free response estimate first."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return recalibrate(self.base[i])[0]


class Ensembled(torch.nn.Module):
    """Inference = mean over the TTA augmentations (no adaptation)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return ensemble_predict(self.model, x)


def ensure_source(args: argparse.Namespace) -> Path:
    root = Path(args.source_root)
    if root.exists() and discover(root):
        return root
    cmd = [sys.executable, "-m", "pipeline.cli", "batch", str(ROOT / "scene_specs"), "--out",
           str(root), "--quality", "default", "--resolution", args.render_resolution,
           "--seeds", args.render_seeds, "-q"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    found = discover(root) if root.exists() else []
    if not found:
        raise SystemExit(f"rendering the source failed (exit {done.returncode})")
    print(f"rendered {len(found)} source sequences in {time.perf_counter() - t0:.0f} s"
          + (" (some shots failed validation; using the rest)" if done.returncode else ""),
          flush=True)
    return root


def _eval(model: torch.nn.Module, data: Dataset) -> dict[str, float]:
    r = evaluate(model, data, progress=False)
    return {k: r[k] for k in KEYS}


def _with_adapters(model: torch.nn.Module, seed: int, r_transfer: int, **kw: Any
                   ) -> AdapterConfig:
    acfg = AdapterConfig(r_transfer=r_transfer, seed=seed, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inject(model, acfg)
    return acfg


def pretrain(args: argparse.Namespace, source: Dataset, seed: int, work: Path
             ) -> tuple[torch.nn.Module, float]:
    meta = model_meta("ahdr", TINY["ahdr"], None)
    torch.manual_seed(seed)
    base = build_from_meta(meta)
    rows = fit(base, source, TrainConfig(steps=args.pretrain_steps, batch_size=args.batch,
                                         lr=args.lr, lr_min=args.lr / 10, seed=seed,
                                         ckpt_every=10**9),
               work / f"pretrain_{seed}", meta, progress=False)
    return base.eval(), rows[-1]["loss"]


def run_tta(args: argparse.Namespace, base: torch.nn.Module, test: Dataset, method: str,
            seed: int) -> tuple[dict[str, float], dict[str, float]]:
    model = copy.deepcopy(base)
    official = method == "TTA, release recipe"
    every = official or "all weights" in method
    _with_adapters(model, seed, args.r_transfer, train_backbone=every)
    if official:
        cfg = TTAConfig.official(crop=args.patch, seed=seed)
    elif every:   # the release's trainable set and budget (lr 1e-4, 24 crops, EMA 0.999)
        cfg = TTAConfig.official(crop=args.patch, seed=seed, target="ensemble",
                                 student_view="augmented", uncertainty="normalized",
                                 augs=TTAConfig().augs)
    else:
        cfg = TTAConfig(crop=args.patch, crops=args.tta_crops, lr=args.tta_lr,
                        ema=args.tta_ema, seed=seed)
    data = Calibrated(test) if method.startswith("self-calibration") else test
    tta = MeanTeacherTTA(model, cfg)
    for i in range(len(data)):       # unlabelled: the label never reaches the runner
        x = {k: v.unsqueeze(0) for k, v in data[i].items() if k in INPUTS}
        tta.adapt_image(x)
    hist = tta.state.history
    info = {"mean_U": statistics.fmean(h["U"] for h in hist),
            "mean_loss": statistics.fmean(h["loss"] for h in hist), "steps": len(hist)}
    return _eval(tta.merged_teacher().eval(), data), info


def run_supervised(args: argparse.Namespace, base: torch.nn.Module, labelled: Dataset,
                   test: Dataset, method: str, seed: int, work: Path) -> dict[str, float]:
    model = copy.deepcopy(base)
    acfg = None
    if method != "fine-tune (all weights)":
        branches = {"share only": ("share",), "transfer only": ("transfer",),
                    "share + transfer": ("share", "transfer")}[method]
        acfg = _with_adapters(model, seed, args.r_transfer, branches=branches)
    lr = args.ft_lr if acfg is None else args.adapter_lr
    fit(model, labelled, TrainConfig(steps=args.adapt_steps, batch_size=args.batch, lr=lr,
                                     lr_min=lr / 10, seed=seed, ckpt_every=10**9),
        work / f"{method.replace(' ', '_')}_{seed}", model_meta("ahdr", TINY["ahdr"], acfg),
        progress=False)
    return _eval(model.eval(), test)


def run_seed(args: argparse.Namespace, data: dict[str, Dataset], seed: int, work: Path
             ) -> dict[str, dict[str, Any]]:
    t0 = time.perf_counter()
    base, loss = pretrain(args, data["source"], seed, work)
    print(f"seed {seed}: pretrained {args.pretrain_steps} steps in "
          f"{time.perf_counter() - t0:.0f} s (loss {loss:.4f}); source test "
          f"{_eval(base, data['source_test'])['psnr_mu']:.2f} dB PSNR-mu", flush=True)
    labelled = PanoramaBracketDataset(data["panoramas"], args.labelled, args.patch,
                                      seed=1 + seed, config=BracketConfig(yaw_deg=(0, 180)))
    out: dict[str, dict[str, Any]] = {}
    for method in args.methods:
        t0 = time.perf_counter()
        extra: dict[str, float] = {}
        if method == "source only":
            scores = _eval(base, data["test"])
        elif method == "ensemble inference":
            scores = _eval(Ensembled(base), data["test"])
        elif method == "self-calibration":
            scores = _eval(base, Calibrated(data["test"]))
        elif method in TTA_METHODS:
            scores, extra = run_tta(args, base, data["test"], method, seed)
        else:
            scores = run_supervised(args, base, labelled, data["test"], method, seed, work)
        out[method] = {**scores, **extra, "seconds": time.perf_counter() - t0}
        print(f"seed {seed} {method:42s} psnr_mu {scores['psnr_mu']:6.2f}  psnr_l "
              f"{scores['psnr_l']:6.2f}  ssim_mu {scores['ssim_mu']:.4f}  "
              f"({out[method]['seconds']:.0f} s)", flush=True)
    return out


def summarise(per_seed: dict[int, dict[str, dict[str, Any]]], methods: list[str]) -> dict:
    summary: dict[str, Any] = {}
    seeds = sorted(per_seed)
    for m in methods:
        entry: dict[str, Any] = {}
        for k in KEYS:
            vals = [per_seed[s][m][k] for s in seeds]
            entry[k] = {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals),
                        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
            if "source only" in methods:
                gains = [per_seed[s][m][k] - per_seed[s]["source only"][k] for s in seeds]
                entry[k]["gain_mean"] = statistics.fmean(gains)
                entry[k]["gain_std"] = statistics.stdev(gains) if len(gains) > 1 else 0.0
        summary[m] = entry
    return summary


def table(result: dict) -> str:
    lines = ["| method | PSNR-mu (min..max) | gain vs source (mean +- sd) | PSNR-l | SSIM-mu |",
             "|---|---|---|---|---|"]
    for method, s in result["summary"].items():
        mu = s["psnr_mu"]
        gain = f"{mu['gain_mean']:+.2f} +- {mu['gain_std']:.2f}" if "gain_mean" in mu else ""
        lines.append(f"| {method} | {mu['mean']:.2f} ({mu['min']:.2f}..{mu['max']:.2f}) | "
                     f"{gain} | {s['psnr_l']['mean']:.2f} | {s['ssim_mu']['mean']:.4f} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="adapter_study_"))
    root = ensure_source(args)
    panoramas = find_panoramas(args.panoramas)
    data: dict[str, Any] = {
        "panoramas": panoramas,
        "source": S2RHDRDataset(root, split="all", patch_size=args.patch, recipe="official",
                                seed=0, augment=True, repeat=46),
        "source_test": S2RHDRDataset(root, split="all", patch_size=args.test_patch,
                                     recipe="official", seed=1, augment=False),
        "test": PanoramaBracketDataset(panoramas, args.test_n, args.test_patch, seed=10_000,
                                       config=BracketConfig(yaw_deg=(180, 360))),
    }
    per_seed = {}
    t0 = time.perf_counter()
    for seed in args.seeds:
        per_seed[seed] = run_seed(args, data, seed, work)
    return {"benchmark": "adapter_study", "args": vars(args),
            "source_sequences": len(discover(root)), "panoramas": [p.name for p in panoramas],
            "seconds": time.perf_counter() - t0, "per_seed": per_seed,
            "summary": summarise(per_seed, list(args.methods)), "torch": torch.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                    metavar="METHOD", help=f"subset of: {'; '.join(METHODS)}")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1,
                    help="1 is fastest on a shared 2-core box (no spin-wait contention)")
    ap.add_argument("--source-root", default=str(Path(tempfile.gettempdir())
                                                 / "s2rhdr_adapter_study_source"))
    ap.add_argument("--render-resolution", default="192x108")
    ap.add_argument("--render-seeds", default="0,1,2")
    ap.add_argument("--panoramas", default=str(STUDIOLIGHTS))
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--test-patch", type=int, default=64)
    ap.add_argument("--test-n", type=int, default=24)
    ap.add_argument("--labelled", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--adapt-steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ft-lr", type=float, default=5e-4)
    ap.add_argument("--adapter-lr", type=float, default=5e-4)
    ap.add_argument("--r-transfer", type=int, default=8)
    ap.add_argument("--tta-crops", type=int, default=16)
    ap.add_argument("--tta-lr", type=float, default=1e-3)
    ap.add_argument("--tta-ema", type=float, default=0.99)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "adapter_study.json"))
    args = ap.parse_args()
    if args.quick:
        args.pretrain_steps, args.adapt_steps, args.test_n, args.tta_crops = 30, 5, 3, 2
        args.seeds = args.seeds[:2]
    result = run(args)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
