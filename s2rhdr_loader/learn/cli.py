"""``s2rhdr-train``: pre-train, adapt (S2R-Adapter), test-time adapt, evaluate and merge.

\b
Examples (the synthetic domains run anywhere in seconds):
  s2rhdr-train pretrain --model ahdr --tiny --data synthetic:source --out runs/src --steps 200
  s2rhdr-train adapt --from runs/src --data synthetic:target:8 --out runs/ad --steps 100
  s2rhdr-train tta --from runs/src --data synthetic:target --out runs/tta
  s2rhdr-train eval --ckpt runs/ad --data synthetic:target
  s2rhdr-train merge --ckpt runs/ad --out runs/ad_merged
  torchrun --nproc_per_node 2 -m s2rhdr_loader.learn.cli pretrain ...   (DDP)

Data: --data KIND:PATH with KIND in s2rhdr | kalantari | sct | challenge123 | synthetic
(synthetic:DOMAIN[:N], DOMAIN = source | target).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click
import torch

from s2rhdr_loader.core.atomic import atomic_write_json
from s2rhdr_loader.core.clirunner import run_click
from s2rhdr_loader.learn import checkpoint as ckpt
from s2rhdr_loader.learn.adapter import AdapterConfig, adapted_layers, inject, merge, summary_line
from s2rhdr_loader.learn.models import MODELS, TINY
from s2rhdr_loader.learn.train import (
    TrainConfig,
    TrainError,
    build_from_meta,
    default_device,
    dist_info,
    evaluate,
    fit,
    init_distributed,
    iterate_samples,
    load_model,
    model_meta,
    predict,
)

DATA_KINDS = ("s2rhdr", "kalantari", "sct", "challenge123", "synthetic")


def open_data(spec: str, *, train: bool, patch: int, seed: int, recipe: str = "official",
              split: str | None = None) -> Any:
    """Dataset for ``KIND:PATH``; evaluation sets are full images with seeded noise."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in DATA_KINDS or not rest:
        raise TrainError(f"--data {spec!r}: expected KIND:PATH with KIND one of "
                         f"{', '.join(DATA_KINDS)} (e.g. synthetic:source, s2rhdr:out/demo)")
    if kind == "synthetic":
        from s2rhdr_loader.synthetic import SyntheticHDRDataset

        domain, _, n = rest.partition(":")
        try:
            count = int(n) if n else (64 if train else 16)
        except ValueError:
            raise TrainError(f"--data {spec!r}: N must be an integer") from None
        return SyntheticHDRDataset(count, patch if train else max(patch, 48), domain,
                                   seed=seed if train else seed + 10_000)
    path = Path(rest)
    if not path.exists():
        raise TrainError(f"--data {spec!r}: {path} does not exist")
    if kind == "s2rhdr":
        from s2rhdr_loader.dataset import S2RHDRDataset

        return S2RHDRDataset(path, split="train" if train else (split or "test"),
                             patch_size=patch if train else None, recipe=recipe, seed=seed)
    from s2rhdr_loader import real

    reader = {"kalantari": real.kalantari, "sct": real.sct, "challenge123": real.challenge123}
    return reader[kind](path, mode="train" if train else "test", patch_size=patch, seed=seed)


def _train_options(f: Any) -> Any:
    opts = [
        click.option("--data", "data", required=True, help="KIND:PATH training data."),
        click.option("--out", "out", required=True, type=click.Path(file_okay=False),
                     help="Run folder (checkpoints, metrics); resumed if it exists."),
        click.option("--steps", default=1000, show_default=True, type=click.IntRange(1)),
        click.option("--batch", default=4, show_default=True, type=click.IntRange(1)),
        click.option("--patch", default=128, show_default=True, type=click.IntRange(8)),
        click.option("--lr", default=2e-4, show_default=True, type=float),
        click.option("--lr-min", default=1e-4, show_default=True, type=float),
        click.option("--seed", default=443, show_default=True, type=int),
        click.option("--amp", default="auto", show_default=True,
                     type=click.Choice(["auto", "off", "bf16", "fp16"])),
        click.option("--ckpt-every", default=100, show_default=True, type=click.IntRange(1)),
        click.option("--recipe", default="official", show_default=True,
                     type=click.Choice(["official", "sensor"]), help="s2rhdr data only."),
        click.option("--vgg-weights", type=click.Path(dir_okay=False), default=None,
                     help="Local VGG16 state_dict: adds the perceptual loss term."),
        click.option("--resume/--no-resume", default=True, show_default=True),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _adapter_options(f: Any) -> Any:
    opts = [
        click.option("--r-share", default=1, show_default=True, type=click.IntRange(1)),
        click.option("--r-transfer", default=64, show_default=True, type=click.IntRange(1)),
        click.option("--scale-share", default=1.0, show_default=True, type=float),
        click.option("--scale-transfer", default=1.0, show_default=True, type=float),
        click.option("--learn-scales", is_flag=True, help="Scales become parameters."),
        click.option("--train-backbone", is_flag=True,
                     help="Also train the backbone (the official code's behaviour)."),
        click.option("--branches", default="share,transfer", show_default=True,
                     help="Comma list: share, transfer."),
        click.option("--include", multiple=True, help="Adapt only layers matching (glob)."),
        click.option("--exclude", multiple=True, help="Never adapt layers matching (glob)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _adapter_config(kw: dict[str, Any], seed: int) -> AdapterConfig:
    return AdapterConfig(r_share=kw["r_share"], r_transfer=kw["r_transfer"],
                         scale_share=kw["scale_share"], scale_transfer=kw["scale_transfer"],
                         learn_scales=kw["learn_scales"], train_backbone=kw["train_backbone"],
                         branches=tuple(b.strip() for b in kw["branches"].split(",") if b),
                         include=kw["include"], exclude=kw["exclude"], seed=seed)


def _cfg(kw: dict[str, Any], **extra: Any) -> TrainConfig:
    return TrainConfig(steps=kw["steps"], batch_size=kw["batch"], lr=kw["lr"],
                       lr_min=kw["lr_min"], seed=kw["seed"], amp=kw["amp"],
                       ckpt_every=kw["ckpt_every"], vgg_weights=kw["vgg_weights"], **extra)


def _run(model: torch.nn.Module, meta: dict[str, Any], kw: dict[str, Any],
         cfg: TrainConfig, label: str) -> None:
    joined_before = torch.distributed.is_available() and torch.distributed.is_initialized()
    started = init_distributed() and not joined_before
    try:
        data = open_data(kw["data"], train=True, patch=kw["patch"], seed=kw["seed"],
                         recipe=kw["recipe"])
        rows = fit(model, data, cfg, kw["out"], meta, resume=kw["resume"],
                   progress=not kw["quiet"], label=label)
        rank = dist_info()[0]
    finally:
        if started:  # a clean gloo/nccl shutdown; exiting with it open can abort the process
            torch.distributed.destroy_process_group()
    if rows and rank == 0:
        click.echo(f"{label}: step {rows[-1]['step']}/{cfg.steps} loss {rows[-1]['loss']:.5f} "
                   f"-> {kw['out']}")


def _parse_kwargs(pairs: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise TrainError(f"--model-arg {pair!r}: use KEY=VALUE (VALUE as JSON)")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Train and adapt HDR fusion networks (S2R-Adapter).

    \b
    Examples:
      s2rhdr-train pretrain --tiny --data synthetic:source --out runs/src --steps 200
      s2rhdr-train adapt --from runs/src --data synthetic:target:8 --out runs/ad --steps 100
      s2rhdr-train tta --from runs/src --data synthetic:target --out runs/tta
      s2rhdr-train eval --ckpt runs/ad --data synthetic:target
      s2rhdr-train merge --ckpt runs/ad --out runs/ad_merged
      s2rhdr-train export-release --ckpt runs/sct --out sctnet.pth   (release test.py)

    --data KIND:PATH, KIND = s2rhdr | kalantari | sct | challenge123 | synthetic
    (synthetic:source[:N] or synthetic:target[:N]). A killed run resumes when re-run.
    """


@cli.command()
@click.option("--model", "model_name", default="ahdr", show_default=True,
              type=click.Choice(sorted(MODELS)))
@click.option("--tiny", is_flag=True, help="Tiny configuration (CPU smoke runs, studies).")
@click.option("--model-arg", multiple=True, help="Constructor argument KEY=VALUE (repeatable).")
@click.option("--head", type=click.Choice(["softplus", "sigmoid"]), default=None,
              help="Output head: softplus (labels > 1, default) or sigmoid (official [0,1]).")
@click.option("--init", "init_from", default=None, type=click.Path(),
              help="Start from this checkpoint's weights (direct fine-tuning).")
@_train_options
def pretrain(model_name: str, tiny: bool, model_arg: tuple[str, ...], head: str | None,
             init_from: str | None, **kw: Any) -> None:
    """Train a backbone (or fine-tune all of it with --init)."""
    if init_from:
        model, meta = load_model(init_from)
        if meta.get("adapter"):
            raise TrainError(f"--init {init_from}: has adapters; run 'merge' on it first")
        meta = model_meta(meta["model"], meta["kwargs"], None)
    else:
        kwargs = {**(TINY[model_name] if tiny else {}), **_parse_kwargs(model_arg)}
        if head:
            kwargs["head"] = head
        meta = model_meta(model_name, kwargs, None)
        torch.manual_seed(kw["seed"])
        model = build_from_meta(meta)
    _run(model, meta, kw, _cfg(kw), "pretrain")


@cli.command()
@click.option("--from", "source", required=True, type=click.Path(),
              help="Pre-trained (plain) checkpoint or run folder.")
@click.option("--adapter-lr-scale", default=1.0, show_default=True, type=float)
@_adapter_options
@_train_options
def adapt(source: str, adapter_lr_scale: float, **kw: Any) -> None:
    """Adapt a pre-trained backbone to labelled target data with S2R-Adapter branches."""
    model, meta = load_model(source)
    if meta.get("adapter"):
        raise TrainError(f"--from {source}: already adapted; 'merge' it first")
    acfg = _adapter_config(kw, kw["seed"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inject(model, acfg)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if not kw["quiet"]:
        click.echo(f"adapter: {summary_line(model)}", err=True)
    _run(model, model_meta(meta["model"], meta["kwargs"], acfg), kw,
         _cfg(kw, adapter_lr_scale=adapter_lr_scale), "adapt")


def _tta_config(recipe: str, seed: int, options: dict[str, Any]) -> Any:
    """The recipe's TTAConfig with the options the user gave (None = the recipe's value)."""
    from s2rhdr_loader.learn.tta import TTAConfig

    given = {k: v for k, v in options.items() if v is not None}
    if "augs" in given:
        given["augs"] = tuple(a for a in given["augs"].split(",") if a)
    if recipe == "official":
        return TTAConfig.official(seed=seed, **given)
    return TTAConfig(seed=seed, **given)


def _tta_images(runner: Any, dataset: Any, n: int, calibrate: bool, quiet: bool
                ) -> list[dict[str, float]]:
    """Adapt on each image in order (continual); scores of the teacher where labels exist."""
    from s2rhdr_loader.core.progress import Progress
    from s2rhdr_loader.learn.selfcal import recalibrate
    from s2rhdr_loader.metrics import evaluate_torch

    device = next(runner.student.parameters()).device
    scores = []
    with Progress(n, "tta", enabled=not quiet) as bar:
        for batch in iterate_samples(dataset, n):
            if calibrate:
                batch = recalibrate(batch)[0]
            batch = {k: (v.to(device) if isinstance(v, torch.Tensor) else v)
                     for k, v in batch.items()}
            runner.adapt_image({k: batch[k] for k in ("input0", "input1", "input2", "exp")})
            if "label" in batch:
                pred = predict(runner.teacher, batch).float().cpu()
                label = batch["label"].float().cpu()[..., :pred.shape[-2], :pred.shape[-1]]
                scores.append({k: float(v.reshape(-1)[0])
                               for k, v in evaluate_torch(pred, label).items()})
            bar.update(1)
    return scores


@cli.command()
@click.option("--from", "source", required=True, type=click.Path())
@click.option("--data", required=True, help="KIND:PATH target data (labels only for metrics).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--recipe", "tta_recipe", default="ours", show_default=True,
              type=click.Choice(["ours", "official"]),
              help="ours: ensemble target, augmented student view, normalized U; official: "
                   "the release's (teacher target, same view: no learning signal).")
@click.option("--crops", default=None, type=click.IntRange(1), help="Steps per image [16|24].")
@click.option("--crop", default=128, show_default=True, type=click.IntRange(8))
@click.option("--lr", default=None, type=float, help="[1e-3 | 1e-4]")
@click.option("--ema", default=None, type=click.FloatRange(0, 1), help="[0.99 | 0.999]")
@click.option("--uncertainty", default=None, type=click.Choice(["official", "normalized"]))
@click.option("--target", default=None, type=click.Choice(["ensemble", "teacher"]))
@click.option("--student-view", default=None, type=click.Choice(["augmented", "same"]))
@click.option("--reset", default=None, type=click.Choice(["never", "image"]))
@click.option("--augs", default=None, help="Comma list of flip_w, flip_h, perm, exposure, wb, "
                                           "noise.")
@click.option("--calibrate", is_flag=True,
              help="Estimate each image's camera response from its bracket and re-linearise "
                   "the inputs first (selfcal.py); the saved model then expects such inputs.")
@click.option("--limit", default=None, type=click.IntRange(1), help="Adapt on the first N images.")
@click.option("--split", default="test", show_default=True)
@click.option("--seed", default=443, show_default=True, type=int)
@click.option("--quiet", is_flag=True)
@_adapter_options
def tta(source: str, data: str, out: str, tta_recipe: str, crop: int, calibrate: bool,
        limit: int | None, split: str, seed: int, quiet: bool, **kw: Any) -> None:
    """Test-time adaptation without labels (mean teacher); saves the merged teacher."""
    from s2rhdr_loader.learn.tta import MeanTeacherTTA

    tta_keys = ("crops", "lr", "ema", "uncertainty", "target", "student_view", "reset", "augs")
    config = _tta_config(tta_recipe, seed, {"crop": crop, **{k: kw.pop(k) for k in tta_keys}})
    model, meta = load_model(source)
    if not meta.get("adapter"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inject(model, _adapter_config(kw, seed))
    runner = MeanTeacherTTA(model.to(default_device()), config)
    dataset = open_data(data, train=False, patch=crop, seed=seed, split=split)
    n = len(dataset) if limit is None else min(len(dataset), limit)
    scores = _tta_images(runner, dataset, n, calibrate, quiet)
    out_dir = Path(out)
    plain = model_meta(meta["model"], meta["kwargs"], None)
    record = {**config.__dict__, "augs": list(config.augs), "recipe": tta_recipe,
              "calibrated_inputs": calibrate}
    ckpt.save_checkpoint(out_dir / "merged", runner.merged_teacher().state_dict(),
                         {**plain, "step": runner.state.step, "tta": record})
    ckpt.mark_latest(out_dir, "merged", runner.state.step)
    summary: dict[str, Any] = {"images": n, "steps": runner.state.step,
                               "last": runner.state.history[-1] if runner.state.history else {}}
    if scores:
        summary.update({k: sum(s[k] for s in scores) / len(scores) for k in scores[0]})
    atomic_write_json(out_dir / "tta.json", {**summary, "history": runner.state.history})
    click.echo(json.dumps(summary))


@cli.command("eval")
@click.option("--ckpt", "path", required=True, type=click.Path())
@click.option("--data", required=True)
@click.option("--split", default="test", show_default=True)
@click.option("--limit", default=None, type=click.IntRange(1))
@click.option("--seed", default=443, show_default=True, type=int)
@click.option("--recipe", default="official", type=click.Choice(["official", "sensor"]))
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False))
@click.option("--quiet", is_flag=True)
def eval_cmd(path: str, data: str, split: str, limit: int | None, seed: int, recipe: str,
             json_out: str | None, quiet: bool) -> None:
    """PSNR-l/mu and SSIM-l/mu of a checkpoint on a dataset's evaluation split."""
    model, _ = load_model(path)
    dataset = open_data(data, train=False, patch=128, seed=seed, recipe=recipe, split=split)
    result = evaluate(model, dataset, limit=limit, progress=not quiet)
    if json_out:
        atomic_write_json(json_out, result)
    click.echo(json.dumps({k: v for k, v in result.items() if k != "per_image"}))


@cli.command("merge")
@click.option("--ckpt", "path", required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False))
def merge_cmd(path: str, out: str) -> None:
    """Fold an adapted checkpoint's branches into plain backbone weights (same outputs)."""
    model, meta = load_model(path)
    if not adapted_layers(model):
        raise TrainError(f"{path}: has no adapters to merge")
    plain = merge(model).eval()
    x = {f"input{i}": torch.rand(1, 6, 32, 32, generator=torch.Generator().manual_seed(i))
         for i in range(3)}
    with torch.no_grad():
        diff = float((plain(x) - model.eval()(x)).abs().max())
    out_meta = {**model_meta(meta["model"], meta["kwargs"], None), "step": meta.get("step", 0),
                "merged_from": str(ckpt.resolve(path)), "merge_max_abs_diff": diff}
    ckpt.save_checkpoint(out, plain.state_dict(), out_meta)
    click.echo(f"merged {len(adapted_layers(model))} layers -> {out} (max |diff| {diff:.2e})")


@cli.command("export-release")
@click.option("--ckpt", "path", required=True, type=click.Path(),
              help="Checkpoint or run folder of an hdr-transformer or sctnet model.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The .pth file the release's test.py loads (--pretrained_model).")
def export_release(path: str, out: str) -> None:
    """Write the plain backbone state dict the S2R-HDR release's scripts load (.pth).

    Adapter branches are merged first. The release's test.py builds its network with fixed
    arguments; a checkpoint built differently is exported anyway, with a warning that names
    the constructor arguments the release would need.
    """
    from s2rhdr_loader.learn.release import (
        export_state,
        release_mismatch,
        release_name,
        save_release_pth,
    )

    model, meta = load_model(path)
    name = release_name(meta["model"])
    state = export_state(model.eval())
    differ = release_mismatch(meta["model"], dict(meta.get("kwargs") or {}))
    if differ:
        args = ", ".join(f"{k}={v[0]}" for k, v in differ.items())
        click.echo(f"warning: the release's test.py builds {name} with "
                   f"{', '.join(f'{k}={v[1]}' for k, v in differ.items())}; this model needs "
                   f"{args} there", err=True)
    if (meta.get("kwargs") or {}).get("head", "sigmoid") != "sigmoid":
        click.echo(f"warning: trained with head={meta['kwargs']['head']!r}; the release "
                   "always applies a sigmoid", err=True)
    save_release_pth(out, state, {"s2rhdr": {"model": name, "kwargs": meta.get("kwargs"),
                                             "from": str(ckpt.resolve(path))}})
    click.echo(f"{name}: {len(state)} tensors -> {out} "
               f"(release: python test.py --model {name} --pretrained_model {out})")


@cli.command("import-release")
@click.option("--pth", required=True, type=click.Path(dir_okay=False),
              help="A checkpoint of the release (e.g. sctnet-s2r-hdr.pth).")
@click.option("--model", "model_name", required=True,
              type=click.Choice(["hdr-transformer", "sctnet"]))
@click.option("--out", required=True, type=click.Path(file_okay=False))
def import_release(pth: str, model_name: str, out: str) -> None:
    """Turn a release checkpoint into one of ours (then adapt, tta or eval it)."""
    from s2rhdr_loader.learn.release import load_release_state, release_name

    state = load_release_state(pth)
    meta = model_meta(model_name, {}, None)
    model = build_from_meta(meta)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise TrainError(f"{pth}: not a {release_name(model_name)} of the release's test "
                         f"configuration (missing {missing[:3]}, unexpected {unexpected[:3]})")
    ckpt.save_checkpoint(out, model.state_dict(), {**meta, "step": 0, "imported_from": pth})
    click.echo(f"imported {release_name(model_name)} ({len(state)} tensors) -> {out}")


def main(argv: list[str] | None = None) -> None:
    """Console entry: user errors print one line and exit 2, never a traceback."""
    # TrainError, CheckpointError, LayoutError ... are ValueErrors
    run_click(cli, argv, "s2rhdr-train",
              interrupted="interrupted (run the same command again to resume)")


if __name__ == "__main__":
    main()
