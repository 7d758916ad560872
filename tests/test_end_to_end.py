"""End to end, as a user runs it: spec -> batch render -> validate -> stats -> loader -> train.

One tiny shot (96x64, 6 frames, 4 spp) goes through every stage through the public entry
points, so a broken seam between two areas fails here even when each area's own tests pass.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pipeline.cli import main as render_cli
from s2rhdr_loader import S2RHDRDataset
from s2rhdr_loader.core import layout
from s2rhdr_loader.learn.adapter import AdapterConfig, adapter_parameters, inject, merge
from s2rhdr_loader.learn.losses import l1_mu
from s2rhdr_loader.learn.models.registry import TINY, build_model

SPEC = """\
name: e2e_street
seed: 3
frames: 6
warmup_frames: 1
fps: 30
environment:
  unreal: {level: /Game/Maps/Street}
  mitsuba: {preset: street}
  sun: {elevation_deg: 35, azimuth_deg: 150, illuminance_lux: 100000}
  sky: {luminance: 6000}
  lights:
    - {kind: point, position: [9, 2, 3], intensity_cd: 200000}
camera:
  focal_length_mm: 24
  sensor_mm: [36, 24]
  path: [[0, 0, 1.6], [0.6, 0.1, 1.6]]
  look_at: [20, 0, 1.5]
  handheld: {profile: walking}
exposure: {ev100: 14}
actors:
  - kind: pedestrian
    unreal: {mesh: /Game/People/SK_Man, anim: /Game/People/A_Walk}
    mitsuba: {proxy: capsule}
    path: [[10, -3, 0], [10, 3, 0]]
    speed_mps: 1.5
render:
  resolution: [96, 64]
  quality: {mitsuba: {spp: 4}}
  passes: [img, depth, normal, diffuse, flow, mask]
  exr: {pixel_type: float, compression: zip}
"""


def _cli(*args: str) -> None:
    try:
        render_cli(list(args))
    except SystemExit as exc:  # main() exits only on failure
        if exc.code in (0, None):
            return
        pytest.fail(f"s2rhdr-render {' '.join(args)} exited with {exc.code}")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    specs = root / "specs"
    specs.mkdir()
    (specs / "e2e_street.yaml").write_text(SPEC)
    out = root / "ds"
    _cli("validate-spec", str(specs))
    _cli("batch", str(specs), "--out", str(out), "--quality", "final", "-q")
    return out


def test_render_produces_a_complete_recorded_sequence(dataset):
    seq = layout.read_sequence(dataset / "e2e_street")
    assert seq.num_frames == 6
    assert set(seq.passes) == {"depth", "normal", "diffuse", "flow", "mask"}
    assert layout.verify_sequence(dataset, "e2e_street") == []
    cam = json.loads(seq.camera_params(0).read_text())
    assert cam["resolution"] == [96, 64]


def test_validate_and_stats_accept_the_render(dataset, tmp_path):
    _cli("validate", str(dataset))
    verdict = json.loads((layout.work_dir(dataset) / "validation.json").read_text())
    assert verdict["passed"] is True and verdict["summary"]["errors"] == 0
    _cli("stats", str(dataset), "-o", str(tmp_path / "stats"))
    doc = json.loads((tmp_path / "stats" / "stats.json").read_text())
    text = json.dumps(doc)
    for key in ("FHLP", "EHL", "SI", "DR"):
        assert key in text


def test_loader_batch_and_one_adapter_training_step(dataset):
    ds = S2RHDRDataset(dataset, split="all", patch_size=32, seed=0, augment=True, repeat=2)
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=0)))
    assert batch["input0"].shape == (2, 6, 32, 32) and batch["label"].shape == (2, 3, 32, 32)
    assert all(torch.isfinite(batch[k]).all() for k in ("input0", "input1", "input2", "label"))

    torch.manual_seed(0)
    model = inject(build_model("ahdr", **TINY["ahdr"]), AdapterConfig(r_share=1,
                                                                      r_transfer=4))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    params = adapter_parameters(model)
    opt = torch.optim.Adam(params, lr=1e-2)
    before = [p.detach().clone() for p in params]
    loss = l1_mu(model(batch), batch["label"])
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, params))
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    model.eval()
    with torch.no_grad():
        merged = merge(model)
        np.testing.assert_allclose(merged(batch).numpy(), model(batch).numpy(), atol=1e-5)
