"""Trainer: exact resume, frozen adaptation, DDP (gloo, 2 processes), CLI end to end."""

import copy
import json
import math
import os
import warnings

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import default_collate

from s2rhdr_loader.learn.adapter import AdapterConfig, adapter_parameters
from s2rhdr_loader.learn.cli import main
from s2rhdr_loader.learn.losses import VGGPerceptual, _vgg16_features, l1_mu, mu_law
from s2rhdr_loader.learn.models import TINY
from s2rhdr_loader.learn.train import TrainConfig, TrainError, build_from_meta, fit, model_meta
from s2rhdr_loader.synthetic import SyntheticHDRDataset

TINY_DATA = SyntheticHDRDataset(12, 16)


def _fresh(seed=0, adapter=None):
    meta = model_meta("ahdr", TINY["ahdr"], adapter)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_from_meta(meta), meta


def test_killed_run_resumes_to_the_same_loss_trajectory(tmp_path):
    cfg = TrainConfig(steps=5, batch_size=2, ckpt_every=2, lr=1e-3)
    model, meta = _fresh()
    full = fit(model, TINY_DATA, cfg, tmp_path / "a", meta, progress=False)
    model, meta = _fresh()
    first = fit(model, TINY_DATA, cfg, tmp_path / "b", meta, progress=False, stop_after=3)
    assert [r["step"] for r in first] == [1, 2, 3]
    model, meta = _fresh(seed=99)          # different init: the checkpoint must win
    resumed = fit(model, TINY_DATA, cfg, tmp_path / "b", meta, progress=False)
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5]
    assert [r["loss"] for r in resumed] == [r["loss"] for r in full]
    assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 5
    assert (tmp_path / "b" / "metrics.csv").read_text().startswith("step,loss,lr")
    # a different run in the same folder is refused, not silently mixed
    other = TrainConfig(steps=7, batch_size=2)
    with pytest.raises(TrainError, match="planned for 5 steps"):
        fit(model, TINY_DATA, other, tmp_path / "b", meta, progress=False)


def test_adaptation_with_fit_keeps_the_backbone_frozen(tmp_path):
    acfg = AdapterConfig(r_transfer=4, seed=0)
    model, meta = _fresh(adapter=acfg)
    adapter_ids = {id(p) for p in adapter_parameters(model)}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fit(model, TINY_DATA, TrainConfig(steps=2, batch_size=2, lr=1e-2), tmp_path, meta,
        progress=False)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    backbone = {n for n, p in model.named_parameters() if id(p) not in adapter_ids}
    assert backbone and not changed & backbone
    assert changed                                   # the adapter branches did learn


def _held_loss(model, batch):
    with torch.no_grad():
        return float(l1_mu(model.eval()(batch), batch["label"]))


def test_bf16_autocast_trains_like_fp32_on_cpu(tmp_path):
    """bf16 autocast really runs (step-1 loss differs from fp32 in the last digits), learns
    (loss on a held batch falls) and ends where fp32 ends within a few per cent."""
    held = default_collate([SyntheticHDRDataset(4, 16, seed=5)[i] for i in range(4)])
    model0, meta = _fresh()
    before = _held_loss(model0, held)
    runs = {}
    for amp in ("off", "bf16"):
        model = copy.deepcopy(model0)
        rows = fit(model, TINY_DATA, TrainConfig(steps=8, batch_size=2, lr=2e-3, lr_min=2e-3,
                                                 amp=amp), tmp_path / amp, meta, progress=False)
        runs[amp] = (rows, model)
    (rows32, m32), (rows16, m16) = runs["off"], runs["bf16"]
    assert all(math.isfinite(r["loss"]) for r in rows16)
    assert rows16[0]["loss"] != rows32[0]["loss"]                  # autocast took effect
    assert rows16[0]["loss"] == pytest.approx(rows32[0]["loss"], rel=1e-2)
    after16, after32 = _held_loss(m16, held), _held_loss(m32, held)
    assert after16 < 0.8 * before and after32 < 0.8 * before      # both learned
    assert after16 == pytest.approx(after32, rel=0.05)
    changed = [n for (n, p), p0 in zip(m16.named_parameters(), model0.parameters())
               if not torch.equal(p, p0)]
    assert len(changed) == len(list(model0.parameters()))         # every weight moved
    with torch.no_grad():
        assert torch.isfinite(m16(held)).all()
    assert all(p.dtype == torch.float32 for p in m16.parameters())  # master weights stay fp32


def test_a_resumed_run_starts_its_progress_bar_at_the_resume_step(tmp_path, capfd):
    cfg = TrainConfig(steps=5, batch_size=1, ckpt_every=1)
    model, meta = _fresh()
    fit(model, TINY_DATA, cfg, tmp_path, meta, progress=False, stop_after=3)
    capfd.readouterr()
    model, meta = _fresh()
    fit(model, TINY_DATA, cfg, tmp_path, meta, progress=True, label="resumed")
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("resumed")]
    assert lines, "no progress line"
    assert " 3/5 " in lines[0], lines[0]          # starts at the resume step, not 0/5
    assert " 5/5 " in lines[-1], lines[-1]


def test_mu_law_loss_and_local_only_perceptual_term(tmp_path):
    x = torch.tensor([0.0, 1.0, 3.0])
    assert torch.allclose(mu_law(x)[:2], torch.tensor([0.0, 1.0]))
    assert mu_law(x)[2] > 1.0                         # labels above 1 stay ordered
    assert float(l1_mu(x, x)) == 0.0
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        VGGPerceptual(tmp_path / "vgg16.pth")
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in _vgg16_features().state_dict().items()}
    torch.save(state, tmp_path / "vgg16.pth")
    vgg = VGGPerceptual(tmp_path / "vgg16.pth")
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    assert float(vgg(a, a)) == 0.0 and float(vgg(a, b)) > 0.0
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a VGG16"):
        VGGPerceptual(tmp_path / "bad.pth")


def _ddp_worker(rank, world, tmp):
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp}/rendezvous",
                                         rank=rank, world_size=world)
    try:
        acfg = AdapterConfig(r_transfer=4, seed=0, learn_scales=True)
        model, meta = _fresh(adapter=acfg)
        rows = fit(model, SyntheticHDRDataset(8, 16), TrainConfig(steps=2, batch_size=1,
                   lr=1e-2, ckpt_every=2), f"{tmp}/run", meta, progress=False)
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        gathered = [torch.zeros_like(flat) for _ in range(world)]
        torch.distributed.all_gather(gathered, flat)
        if rank == 0:
            result = {"same": bool(torch.equal(gathered[0], gathered[1])),
                      "losses": [r["loss"] for r in rows]}
            with open(f"{tmp}/result.json", "w") as fh:
                json.dump(result, fh)
        torch.distributed.barrier()  # nobody tears gloo down while a peer still talks
    finally:
        torch.distributed.destroy_process_group()


def test_two_process_gloo_ddp_step(tmp_path):
    mp.spawn(_ddp_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["same"]                   # all-reduced grads (scales too) -> identical replicas
    assert len(result["losses"]) == 2
    assert (tmp_path / "run" / "last" / "model.safetensors").exists()


def test_cli_pretrain_adapt_merge_eval_tta(tmp_path, capsys):
    d = str(tmp_path)
    common = ["--batch", "2", "--patch", "16", "--quiet"]
    main(["pretrain", "--tiny", "--data", "synthetic:source:8", "--out", f"{d}/src",
          "--steps", "3", *common])
    main(["adapt", "--from", f"{d}/src", "--data", "synthetic:target:4", "--out", f"{d}/ad",
          "--steps", "2", "--r-transfer", "4", *common])
    main(["merge", "--ckpt", f"{d}/ad", "--out", f"{d}/merged"])
    capsys.readouterr()
    main(["eval", "--ckpt", f"{d}/ad", "--data", "synthetic:target:2", "--quiet",
          "--json", f"{d}/ad.json"])
    adapted = json.loads(capsys.readouterr().out)
    main(["eval", "--ckpt", f"{d}/merged", "--data", "synthetic:target:2", "--quiet"])
    merged = json.loads(capsys.readouterr().out)
    assert set(adapted) == {"images", "psnr_mu", "psnr_l", "ssim_mu", "ssim_l"}
    assert merged["psnr_mu"] == pytest.approx(adapted["psnr_mu"], abs=1e-3)
    assert len(json.loads((tmp_path / "ad.json").read_text())["per_image"]) == 2
    main(["tta", "--from", f"{d}/src", "--data", "synthetic:target:1", "--out", f"{d}/tta",
          "--crops", "2", "--crop", "16", "--r-transfer", "4", "--quiet"])
    assert json.loads((tmp_path / "tta" / "tta.json").read_text())["steps"] == 2
    assert (tmp_path / "tta" / "merged" / "config.json").exists()
    main(["tta", "--from", f"{d}/src", "--data", "synthetic:target:1", "--out", f"{d}/tta2",
          "--recipe", "official", "--calibrate", "--crops", "1", "--crop", "16",
          "--r-transfer", "4", "--quiet"])
    record = json.loads((tmp_path / "tta2" / "merged" / "config.json").read_text())["tta"]
    assert record["recipe"] == "official" and record["calibrated_inputs"] is True
    assert record["target"] == "teacher" and record["crops"] == 1 and record["lr"] == 1e-4
    main(["pretrain", "--init", f"{d}/merged", "--data", "synthetic:target:4",
          "--out", f"{d}/ft", "--steps", "1", *common])


def test_cli_trains_on_a_rendered_dataset_folder(tmp_path):
    from s2rhdr_loader.dataset import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data", [f"seq{i}" for i in range(6)], frames=6,
                            height=24, width=32)
    main(["pretrain", "--tiny", "--data", f"s2rhdr:{tmp_path / 'data'}", "--out",
          str(tmp_path / "run"), "--steps", "1", "--batch", "1", "--patch", "16", "--quiet",
          "--recipe", "sensor"])
    assert json.loads((tmp_path / "run" / "latest.json").read_text())["step"] == 1


@pytest.mark.parametrize("argv,message", [
    (["eval", "--ckpt", "nowhere", "--data", "synthetic:target"], "checkpoint not found"),
    (["pretrain", "--data", "mnist:x", "--out", "o"], "expected KIND:PATH"),
    (["pretrain", "--data", "s2rhdr:/does/not/exist", "--out", "o"], "does not exist"),
    (["pretrain", "--data", "synthetic:source", "--out", "o", "--amp", "fp16"], "needs CUDA"),
])
def test_cli_user_errors_are_one_line(tmp_path, capsys, argv, message):
    os.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_cli_eval_and_tta_on_a_real_benchmark_layout(tmp_path, capsys):
    """Kalantari layout, 20x30 image padded to 24x32 by the reader: scores use the true size."""
    import numpy as np

    from s2rhdr_loader.core.hdr import write_hdr
    from s2rhdr_loader.core.tiff import write_tiff16

    rng = np.random.default_rng(0)
    scene = tmp_path / "Test" / "PAPER" / "Scene1"
    for name in ("a.tif", "b.tif", "c.tif"):
        write_tiff16(scene / name, rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16))
    (scene / "exposure.txt").write_text("0\n2\n4\n")
    write_hdr(scene / "HDRImg.hdr", rng.random((20, 30, 3)).astype(np.float32))
    main(["pretrain", "--tiny", "--data", "synthetic:source:4", "--out", str(tmp_path / "src"),
          "--steps", "1", "--batch", "1", "--patch", "16", "--quiet"])
    capsys.readouterr()
    main(["eval", "--ckpt", str(tmp_path / "src"), "--data", f"kalantari:{tmp_path / 'Test'}",
          "--quiet", "--json", str(tmp_path / "k.json")])
    scores = json.loads(capsys.readouterr().out)
    assert scores["images"] == 1 and np.isfinite(scores["psnr_mu"])
    main(["tta", "--from", str(tmp_path / "src"), "--data", f"kalantari:{tmp_path / 'Test'}",
          "--out", str(tmp_path / "tta"), "--crops", "1", "--crop", "16", "--r-transfer", "4",
          "--quiet"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 1
