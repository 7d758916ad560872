"""Where the source -> camera gap of the adapter study comes from, and how stable TTA is.

1. Gap decomposition: the source-only model (seed 0 of ``adapter_study.py``) on the target with
   one camera property switched off at a time (gamma-2.2 response, no noise, no white
   balance, no motion) and all of them off.
2. Instability check: our mean-teacher TTA with *all* weights trainable at lr 1e-3 (16 crops,
   continual) over three TTA seeds, against the same seeds with a frozen backbone.

    .venv/bin/python benchmarks/adapter_gap.py --source-root /tmp/s2rhdr_adapter_study_source

Writes benchmarks/results/adapter_gap.json. Reuses the study's source renders and pretraining.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import adapter_study as study  # noqa: E402

from s2rhdr_loader.core.atomic import atomic_write_text  # noqa: E402
from s2rhdr_loader.dataset import S2RHDRDataset  # noqa: E402
from s2rhdr_loader.learn.panorama import (  # noqa: E402
    BracketConfig,
    PanoramaBracketDataset,
    default_sensor,
    find_panoramas,
)
from s2rhdr_loader.learn.tta import MeanTeacherTTA, TTAConfig  # noqa: E402


def variants() -> dict[str, BracketConfig]:
    s = default_sensor()
    gamma = dataclasses.replace(s, crfs=("gamma2.2",))
    quiet = {"full_well": (1e12, 1e12), "read_noise": (0.0, 0.0), "gain": (1.0, 1.0)}
    still = {"camera_jitter_px": 0.0, "object_speed_px": (0.0, 0.0)}
    white = {"wb_red": (1.0, 1.0), "wb_blue": (1.0, 1.0)}
    test = {"yaw_deg": (180.0, 360.0)}
    return {
        "camera target (as in the study)": BracketConfig(**test),
        "gamma-2.2 response": BracketConfig(**test, sensor=gamma),
        "no sensor noise": BracketConfig(**test, sensor=dataclasses.replace(s, **quiet)),
        "no white balance": BracketConfig(**test, **white),
        "no motion": BracketConfig(**test, **still),
        "all four off": BracketConfig(**test, **still, **white,
                                      sensor=dataclasses.replace(gamma, **quiet)),
    }


def tta_run(base: torch.nn.Module, test: PanoramaBracketDataset, seed: int, every: bool,
            patch: int) -> float:
    model = study.copy.deepcopy(base)
    study._with_adapters(model, seed, 8, train_backbone=every)
    tta = MeanTeacherTTA(model, TTAConfig(crop=patch, seed=seed))
    for i in range(len(test)):
        tta.adapt_image({k: v.unsqueeze(0) for k, v in test[i].items() if k in study.INPUTS})
    return study._eval(tta.merged_teacher().eval(), test)["psnr_mu"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source-root", default=str(Path(tempfile.gettempdir())
                                                 / "s2rhdr_adapter_study_source"))
    ap.add_argument("--render-resolution", default="192x108")
    ap.add_argument("--render-seeds", default="0,1,2")
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--tta-seeds", type=int, nargs="+", default=[0, 1, 443])
    ap.add_argument("--out", default=str(study.ROOT / "benchmarks" / "results"
                                         / "adapter_gap.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    ns = argparse.Namespace(source_root=args.source_root, render_resolution=args.render_resolution,
                            render_seeds=args.render_seeds, pretrain_steps=args.pretrain_steps,
                            batch=8, lr=2e-3, patch=32)
    root = study.ensure_source(ns)
    source = S2RHDRDataset(root, split="all", patch_size=32, recipe="official", seed=0,
                           augment=True, repeat=46)
    t0 = time.perf_counter()
    base, _ = study.pretrain(ns, source, 0, Path(tempfile.mkdtemp(prefix="adapter_gap_")))
    panos = find_panoramas()
    gap = {}
    for name, cfg in variants().items():
        gap[name] = study._eval(base, PanoramaBracketDataset(panos, 24, 64, seed=10_000,
                                                             config=cfg))
        print(f"{name:32s} psnr_mu {gap[name]['psnr_mu']:6.2f}", flush=True)
    test = PanoramaBracketDataset(panos, 24, 64, seed=10_000, config=variants()[
        "camera target (as in the study)"])
    stability = {}
    for seed in args.tta_seeds:
        for every in (False, True):
            key = f"seed {seed}, {'all weights' if every else 'frozen backbone'}"
            stability[key] = tta_run(base, test, seed, every, 32)
            print(f"TTA ours lr 1e-3 {key:28s} psnr_mu {stability[key]:6.2f}", flush=True)
    result = {"benchmark": "adapter_gap", "args": vars(args), "gap": gap,
              "tta_stability_psnr_mu": stability, "source_only_psnr_mu":
              gap["camera target (as in the study)"]["psnr_mu"],
              "seconds": time.perf_counter() - t0, "torch": torch.__version__}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
