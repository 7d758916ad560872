"""Training loops for the fusion nets and S2R-Adapter: pre-train, adapt, evaluate.

Why the loop looks like this:
* Every step's batch is a pure function of ``(seed, step, rank)`` (indices and global RNG
  seeds), and checkpoints carry the optimiser, scheduler and scaler, so a run killed at any
  point resumes to the *same* loss trajectory.
* Checkpoints are safetensors + JSON (``checkpoint.py``), written atomically every
  ``ckpt_every`` steps into ``<run>/last`` (``<run>/latest.json`` points at it); the metrics
  log ``<run>/metrics.jsonl`` is trimmed back to the checkpoint's step on resume.
* Single process or ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on CUDA); rank 0
  writes. Learnable adapter scales are module parameters, so DDP all-reduces them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from s2rhdr_loader.core.atomic import atomic_write_text
from s2rhdr_loader.core.errors import S2RError
from s2rhdr_loader.core.progress import Progress
from s2rhdr_loader.learn import checkpoint as ckpt
from s2rhdr_loader.learn.adapter import AdapterConfig, adapter_parameters, inject
from s2rhdr_loader.learn.losses import FusionLoss
from s2rhdr_loader.learn.models import build_model

LAST = "last"
METRICS = "metrics.jsonl"


class TrainError(S2RError, ValueError):
    """A user-facing training problem (bad run folder, mismatching resume, bad option)."""


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 4
    lr: float = 2e-4
    lr_min: float = 1e-4
    adapter_lr_scale: float = 1.0   # adapter lr = lr / adapter_lr_scale (official --lr_scale)
    seed: int = 443
    amp: str = "auto"               # off | bf16 | fp16 | auto (cuda: bf16/fp16; cpu: off)
    ckpt_every: int = 100
    grad_clip: float = 0.0
    vgg_weights: str | None = None
    perceptual_alpha: float = 0.01
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise TrainError("steps and batch size must be >= 1")
        if self.amp not in ("off", "bf16", "fp16", "auto"):
            raise TrainError(f"amp {self.amp!r}: use off, bf16, fp16 or auto")
        if self.lr <= 0 or self.lr_min < 0 or self.adapter_lr_scale <= 0:
            raise TrainError("learning rates and --adapter-lr-scale must be positive")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ---- distributed helpers ---------------------------------------------------------------------

def dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def init_distributed() -> bool:
    """Join a ``torchrun`` job if its environment variables are set; True when distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or torch.distributed.is_initialized():
        return torch.distributed.is_initialized()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# ---- model construction -------------------------------------------------------------------

def model_meta(name: str, kwargs: Mapping[str, Any], adapter: AdapterConfig | None) -> dict:
    return {"model": name, "kwargs": json.loads(json.dumps(dict(kwargs))),
            "adapter": adapter.to_dict() if adapter else None}


def build_from_meta(meta: Mapping[str, Any]) -> nn.Module:
    """Rebuild the (possibly adapted) model a checkpoint's config describes (no weights)."""
    try:
        model = build_model(meta["model"], **dict(meta.get("kwargs") or {}))
    except KeyError:
        raise TrainError("checkpoint config lacks 'model'") from None
    if meta.get("adapter"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inject(model, AdapterConfig.from_dict(dict(meta["adapter"])))
    return model


def load_model(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """(model with weights, checkpoint config) from a checkpoint or run folder."""
    state, config, _ = ckpt.load_checkpoint(path)
    model = build_from_meta(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise TrainError(f"{ckpt.resolve(path)}: weights do not match the config "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model, config


# ---- data ---------------------------------------------------------------------------------

def seed_step(seed: int, step: int, rank: int) -> torch.Generator:
    """Seed every global RNG for one step and return a generator for the batch indices."""
    s = (seed * 1_000_003 + step * 7919 + rank * 104_729) % (2**31 - 1)
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    return torch.Generator().manual_seed(s)


def batch_for_step(dataset: Dataset, step: int, batch_size: int, seed: int,
                   rank: int = 0) -> dict[str, Any]:
    gen = seed_step(seed, step, rank)
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise TrainError("the training dataset is empty")
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(step)
    idx = torch.randint(0, n, (batch_size,), generator=gen).tolist()
    return default_collate([dataset[i] for i in idx])


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
            for k, v in batch.items()}


def _autocast(device: torch.device, amp: str) -> tuple[Any, bool]:
    """(context manager factory, needs GradScaler)."""
    if amp == "auto":
        amp = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") \
            if device.type == "cuda" else "off"
    if amp == "off":
        return contextlib.nullcontext, False
    if amp == "fp16" and device.type != "cuda":
        raise TrainError("fp16 autocast needs CUDA; use --amp bf16 or off on CPU")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return (lambda: torch.autocast(device.type, dtype=dtype)), amp == "fp16"


# ---- the loop ------------------------------------------------------------------------------

def _param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    adapter_ids = {id(p) for p in adapter_parameters(model)}
    backbone = [p for p in model.parameters() if p.requires_grad and id(p) not in adapter_ids]
    adapters = [p for p in model.parameters() if p.requires_grad and id(p) in adapter_ids]
    groups = []
    if backbone:
        groups.append({"params": backbone, "lr": cfg.lr, "name": "backbone"})
    if adapters:
        groups.append({"params": adapters, "lr": cfg.lr / cfg.adapter_lr_scale,
                       "name": "adapter"})
    if not groups:
        raise TrainError("nothing to train: every parameter is frozen")
    return groups


def _read_log(run_dir: Path, upto: int) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if isinstance(row, dict) and row.get("step", math.inf) <= upto:
                rows.append(row)
    return rows


def _write_log(run_dir: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows))
    if rows:
        keys = list(rows[-1])
        csv = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
        atomic_write_text(run_dir / "metrics.csv", "\n".join(csv) + "\n")


@dataclass
class _Run:
    """What one training run holds between steps (built by :func:`_start_run`)."""

    model: nn.Module
    net: nn.Module                  # the model, or its DDP wrapper
    cfg: TrainConfig
    run_dir: Path
    meta: Mapping[str, Any]
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    use_scaler: bool
    autocast: Any
    loss_fn: nn.Module
    rank: int
    world: int
    rows: list[dict[str, Any]]


def _start_run(model: nn.Module, cfg: TrainConfig, run_dir: Path, meta: Mapping[str, Any],
               device: torch.device) -> _Run:
    """Model on the device, Adam + per-step cosine schedule, autocast, scaler and loss."""
    rank, world = dist_info()
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(_param_groups(model, cfg), betas=(0.9, 0.999), eps=1e-8)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.steps,
                                                           eta_min=cfg.lr_min)
    autocast, use_scaler = _autocast(device, cfg.amp)
    return _Run(model=model, net=model, cfg=cfg, run_dir=run_dir, meta=meta, device=device,
                optimizer=optimizer, scheduler=scheduler,
                scaler=torch.amp.GradScaler("cuda", enabled=use_scaler), use_scaler=use_scaler,
                autocast=autocast,
                loss_fn=FusionLoss(cfg.vgg_weights, cfg.perceptual_alpha).to(device),
                rank=rank, world=world, rows=[])


def _resume(run: _Run) -> int:
    """Load the run folder's checkpoint into ``run`` (refusing a different run); its step."""
    state, config, optim = ckpt.load_checkpoint(run.run_dir, with_optim=True)
    for key in ("model", "kwargs", "adapter"):
        if config.get(key) != run.meta.get(key):
            raise TrainError(f"{run.run_dir}: holds a run with a different {key} "
                             f"({config.get(key)!r}); use another --out or --no-resume")
    planned = config.get("train", {}).get("steps")
    if planned != run.cfg.steps:
        raise TrainError(f"{run.run_dir}: run was planned for {planned} steps, "
                         f"not {run.cfg.steps}; use the same --steps or another --out")
    run.model.load_state_dict(state)
    if optim is None:
        raise TrainError(f"{run.run_dir}: checkpoint lacks optim.pt; cannot resume exactly")
    run.optimizer.load_state_dict(optim["optimizer"])
    run.scheduler.load_state_dict(optim["scheduler"])
    if optim.get("scaler"):
        run.scaler.load_state_dict(optim["scaler"])
    start = int(config["step"])
    run.rows = _read_log(run.run_dir, start)
    return start


def _save(run: _Run, step: int) -> None:
    """Checkpoint ``<run>/last`` + metrics log, then point ``latest.json`` at it (rank 0)."""
    if run.rank != 0:
        return
    config = {**run.meta, "step": step, "train": asdict(run.cfg),
              "last_loss": run.rows[-1]["loss"] if run.rows else None}
    optim = {"optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
             "scaler": run.scaler.state_dict() if run.use_scaler else {}}
    ckpt.save_checkpoint(run.run_dir / LAST, run.model.state_dict(), config, optim)
    _write_log(run.run_dir, run.rows)
    ckpt.mark_latest(run.run_dir, LAST, step)


def _train_step(run: _Run, dataset: Dataset, step: int) -> dict[str, Any]:
    """One optimiser step on the batch of ``step``; the logged row (loss averaged over ranks)."""
    cfg = run.cfg
    batch = to_device(batch_for_step(dataset, step, cfg.batch_size, cfg.seed, run.rank),
                      run.device)
    if cfg.channels_last:
        batch = {k: (v.contiguous(memory_format=torch.channels_last)
                     if isinstance(v, torch.Tensor) and v.dim() == 4 else v)
                 for k, v in batch.items()}
    run.optimizer.zero_grad(set_to_none=True)
    with run.autocast():
        pred = run.net(batch)
    loss = run.loss_fn(pred.float(), batch["label"].float())
    if not torch.isfinite(loss):
        raise TrainError(f"non-finite loss at step {step + 1}; lower --lr or check data")
    run.scaler.scale(loss).backward()
    if cfg.grad_clip > 0:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    lr = run.optimizer.param_groups[-1]["lr"]
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.scheduler.step()
    value = loss.detach()
    if run.world > 1:
        torch.distributed.all_reduce(value)
        value = value / run.world
    return {"step": step + 1, "loss": float(value), "lr": lr}


def fit(model: nn.Module, dataset: Dataset, cfg: TrainConfig, run_dir: str | os.PathLike,
        meta: Mapping[str, Any], *, resume: bool = True, stop_after: int | None = None,
        progress: bool = True, device: torch.device | None = None,
        label: str = "train") -> list[dict[str, Any]]:
    """Train ``model`` for ``cfg.steps`` steps (continuing a checkpoint in ``run_dir``).

    ``stop_after`` ends this call after that many steps (what a kill does, minus the mess);
    the returned list holds one ``{"step", "loss", "lr"}`` row per step of the whole run.
    """
    run = _start_run(model, cfg, Path(run_dir), meta, device or default_device())
    start = _resume(run) if resume and (run.run_dir / ckpt.LATEST).exists() else 0
    if run.world > 1:
        run.net = nn.parallel.DistributedDataParallel(
            model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    model.eval()   # no dropout/BN in these nets; eval keeps student == teacher semantics
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    # a resumed run starts the bar at its step: the ETA comes from this run's rate
    with Progress(cfg.steps, label, enabled=progress and run.rank == 0, initial=start) as bar:
        for step in range(start, end):
            row = _train_step(run, dataset, step)
            run.rows.append(row)
            bar.update(1, note=f"loss {row['loss']:.5f}")
            if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
                _save(run, step + 1)
    if end > start and end % cfg.ckpt_every and end != cfg.steps:
        _save(run, end)   # stopped early on purpose: keep what was done
    if run.world > 1:
        torch.distributed.barrier()
    return run.rows


# ---- evaluation ----------------------------------------------------------------------------

def iterate_samples(dataset: Dataset, limit: int | None = None) -> Iterator[dict[str, Any]]:
    n = len(dataset)  # type: ignore[arg-type]
    for i in range(n if limit is None else min(n, limit)):
        yield default_collate([dataset[i]])


@torch.no_grad()
def predict(model: nn.Module, batch: Mapping[str, Any]) -> torch.Tensor:
    """Full-image prediction, cropped back when the reader padded the inputs (``size``)."""
    pred = model({k: batch[k] for k in ("input0", "input1", "input2", "exp") if k in batch})
    if "size" in batch:
        h, w = (int(v) for v in batch["size"][0].tolist())
        pred = pred[..., :h, :w]
    return pred


def evaluate(model: nn.Module, dataset: Dataset, *, device: torch.device | None = None,
             limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Mean PSNR-l/mu and SSIM-l/mu (engineer E's ``s2rhdr_loader.metrics``) over a dataset."""
    from s2rhdr_loader.metrics import evaluate_torch

    device = device or default_device()
    model = model.to(device).eval()
    n = len(dataset) if limit is None else min(len(dataset), limit)  # type: ignore[arg-type]
    per_image: list[dict[str, float]] = []
    with Progress(n, "eval", enabled=progress) as bar:
        for batch in iterate_samples(dataset, limit):
            batch = to_device(batch, device)
            pred = predict(model, batch).float().cpu()
            label = batch["label"].float().cpu()[..., :pred.shape[-2], :pred.shape[-1]]
            scores = evaluate_torch(pred, label)
            per_image.append({k: float(v.reshape(-1)[0]) for k, v in scores.items()})
            bar.update(1)
    if not per_image:
        raise TrainError("evaluation dataset is empty")
    means = {k: float(np.mean([r[k] for r in per_image])) for k in per_image[0]}
    return {"images": len(per_image), **means, "per_image": per_image}
