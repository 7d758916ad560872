"""The release-shaped networks: state dicts interchangeable with the S2R-HDR release's classes,
S2R-Adapter inject/merge on them, and export to the .pth its test script loads."""

import warnings

import pytest
import torch

from s2rhdr_loader.learn.adapter import (
    AdapterConfig,
    adapted_layers,
    adapter_parameters,
    inject,
    merge,
    set_scales,
)
from s2rhdr_loader.learn.cli import main
from s2rhdr_loader.learn.models import TINY, build_model, count_parameters
from s2rhdr_loader.learn.train import load_model
from tests.helpers.release_source import release_models

# ---- expected state dicts, written by hand from the release's __init__ methods ---------------

def _swin_block(p, d, heads, w, mlp_ratio, shifted, n_windows):
    """models/SCTNet.py::SwinTransformerBlock and models/hdr_transformer.py::
    ContextAwareTransformer (both: norm1, attn = WindowAttention, norm2, mlp = Mlp; a
    registered ``attn_mask`` buffer only when shift_size > 0)."""
    hid = int(d * mlp_ratio)
    out = {f"{p}.norm1.weight": (d,), f"{p}.norm1.bias": (d,),
           f"{p}.attn.relative_position_bias_table": ((2 * w - 1) ** 2, heads),
           f"{p}.attn.relative_position_index": (w * w, w * w),
           f"{p}.attn.qkv.weight": (3 * d, d), f"{p}.attn.qkv.bias": (3 * d,),
           f"{p}.attn.proj.weight": (d, d), f"{p}.attn.proj.bias": (d,),
           f"{p}.norm2.weight": (d,), f"{p}.norm2.bias": (d,),
           f"{p}.mlp.fc1.weight": (hid, d), f"{p}.mlp.fc1.bias": (hid,),
           f"{p}.mlp.fc2.weight": (d, hid), f"{p}.mlp.fc2.bias": (d,)}
    if shifted:
        out[f"{p}.attn_mask"] = (n_windows, w * w, w * w)
    return out


def release_hdrt_shapes(d=60, depths=(6, 6, 6), heads=6, w=8, img=128, mlp_ratio=2, cin=6):
    """models/hdr_transformer.py::HDRTransformer: conv_f1..3, att_module_l/h
    (SpatialAttentionModule: att1 2d->2d, att2 2d->d), conv_first, patch_embed.norm
    (patch_norm=True), layers.i = ContextAwareTransformerBlock (residual_group.blocks.j with
    lce = LocalContextExtractor(reduction 8), dilated_conv), norm, conv_after_body, conv_last."""
    r = d // 8
    s = {}
    for i in (1, 2, 3):
        s |= {f"conv_f{i}.weight": (d, cin, 3, 3), f"conv_f{i}.bias": (d,)}
    for m in ("att_module_l", "att_module_h"):
        s |= {f"{m}.att1.weight": (2 * d, 2 * d, 3, 3), f"{m}.att1.bias": (2 * d,),
              f"{m}.att2.weight": (d, 2 * d, 3, 3), f"{m}.att2.bias": (d,)}
    s |= {"conv_first.weight": (d, 3 * d, 3, 3), "conv_first.bias": (d,),
          "patch_embed.norm.weight": (d,), "patch_embed.norm.bias": (d,)}
    for i, depth in enumerate(depths):
        for j in range(depth):
            p = f"layers.{i}.residual_group.blocks.{j}"
            s |= _swin_block(p, d, heads, w, mlp_ratio, j % 2 == 1, (img // w) ** 2)
            s |= {f"{p}.lce.conv.0.weight": (r, d, 1, 1), f"{p}.lce.conv.0.bias": (r,),
                  f"{p}.lce.conv.1.weight": (r, r, 3, 3), f"{p}.lce.conv.1.bias": (r,),
                  f"{p}.lce.conv.2.weight": (d, r, 1, 1), f"{p}.lce.conv.2.bias": (d,),
                  f"{p}.lce.fc.0.weight": (r, d), f"{p}.lce.fc.2.weight": (d, r)}
        s |= {f"layers.{i}.dilated_conv.weight": (d, d, 3, 3),
              f"layers.{i}.dilated_conv.bias": (d,)}
    s |= {"norm.weight": (d,), "norm.bias": (d,),
          "conv_after_body.weight": (d, d, 3, 3), "conv_after_body.bias": (d,),
          "conv_last.weight": (3, d, 3, 3), "conv_last.bias": (3,)}
    return s


def release_sctnet_shapes(d=60, depths=(6, 6, 6, 6), heads=6, w=8, img=72, mlp_ratio=2,
                          cin=18, c_heads=4):
    """models/SCTNet.py::SCTNet: conv1..3 (cin/3 -> d/3), conv_end (d/3 -> d), conv_first =
    Mlp(d, d), patch_embed.norm, layers.i = GSAB (residual_group.blocks.j, conv),
    channel_layers_lm/rm.i = models/SCAB.py::SCAB(d/3, 4 heads, ffn x4, bias=False, WithBias
    norms), mlps.i = Mlp(d, d, d), norm, conv_after_body, upsample = UpsampleOneStep (one conv
    d -> 3). ``self.mean`` is a plain attribute (no key)."""
    t = d // 3
    s = {}
    for i in (1, 2, 3):
        s |= {f"conv{i}.weight": (t, cin // 3, 3, 3), f"conv{i}.bias": (t,)}
    s |= {"conv_end.weight": (d, t, 3, 3), "conv_end.bias": (d,),
          "conv_first.fc1.weight": (d, d), "conv_first.fc1.bias": (d,),
          "conv_first.fc2.weight": (d, d), "conv_first.fc2.bias": (d,),
          "patch_embed.norm.weight": (d,), "patch_embed.norm.bias": (d,)}
    for i, depth in enumerate(depths):
        for j in range(depth):
            s |= _swin_block(f"layers.{i}.residual_group.blocks.{j}", d, heads, w, mlp_ratio,
                             j % 2 == 1, (img // w) ** 2)
        s |= {f"layers.{i}.conv.weight": (d, d, 3, 3), f"layers.{i}.conv.bias": (d,)}
        for side in ("lm", "rm"):
            p = f"channel_layers_{side}.{i}"
            for nrm in ("norm1_x", "norm1_y"):
                s |= {f"{p}.{nrm}.body.weight": (t,), f"{p}.{nrm}.body.bias": (t,)}
            s |= {f"{p}.attn.temperature": (c_heads, 1, 1)}
            for conv in ("q", "k", "v", "project_out"):
                s[f"{p}.attn.{conv}.weight"] = (t, t, 1, 1)
            s |= {f"{p}.norm2.weight": (t,), f"{p}.norm2.bias": (t,),
                  f"{p}.ffn.fc1.weight": (4 * t, t), f"{p}.ffn.fc1.bias": (4 * t,),
                  f"{p}.ffn.fc2.weight": (t, 4 * t), f"{p}.ffn.fc2.bias": (t,)}
        s |= {f"mlps.{i}.fc1.weight": (d, d), f"mlps.{i}.fc1.bias": (d,),
              f"mlps.{i}.fc2.weight": (d, d), f"mlps.{i}.fc2.bias": (d,)}
    s |= {"norm.weight": (d,), "norm.bias": (d,),
          "conv_after_body.weight": (d, d, 3, 3), "conv_after_body.bias": (d,),
          "upsample.0.weight": (3, d, 3, 3), "upsample.0.bias": (3,)}
    return s


def _shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


TINY_SHAPES = {
    "hdr-transformer": lambda: release_hdrt_shapes(d=16, depths=(2,), heads=2, w=4, img=16),
    "sctnet": lambda: release_sctnet_shapes(d=24, depths=(2,), heads=2, w=4, img=16, c_heads=2),
}


def test_state_dicts_have_the_release_keys_shapes_and_parameter_counts():
    """Keys/shapes from the release's source (above); parameter counts as measured on the
    release's classes (reference/s2rhdr-format.md section 6: 1,222,113 and 994,555)."""
    hdrt, sct = build_model("hdr-transformer"), build_model("sctnet")
    assert _shapes(hdrt.state_dict()) == release_hdrt_shapes()
    assert _shapes(sct.state_dict()) == release_sctnet_shapes()
    assert count_parameters(hdrt) == 1_222_113
    assert count_parameters(sct) == 994_555
    for name, shapes in TINY_SHAPES.items():
        assert _shapes(build_model(name, **TINY[name]).state_dict()) == shapes(), name
    # buffers carry the values Swin defines: index of (dy + w-1) * (2w-1) + (dx + w-1)
    idx = hdrt.state_dict()["layers.0.residual_group.blocks.0.attn.relative_position_index"]
    assert int(idx[0, 0]) == 7 * 15 + 7 and int(idx[0, 63]) == 0 and int(idx[63, 0]) == 224
    mask = sct.state_dict()["layers.0.residual_group.blocks.1.attn_mask"]
    assert float(mask[0].abs().max()) == 0.0           # a window away from the seams
    assert set(mask[-1].unique().tolist()) == {0.0, -100.0}   # the corner window: 4 regions


def _release_pair(tmp_path, name, kwargs):
    hdrt_mod, sct_mod = release_models(tmp_path)
    if name == "hdr-transformer":
        theirs = hdrt_mod.HDRTransformer(
            img_size=kwargs.get("img_size", 128), in_chans=6,
            embed_dim=kwargs.get("embed_dim", 60), depths=list(kwargs.get("depths", (6, 6, 6))),
            num_heads=[kwargs.get("num_heads", 6)] * len(kwargs.get("depths", (6, 6, 6))),
            window_size=kwargs.get("window_size", 8), mlp_ratio=2)
    else:
        depths = list(kwargs.get("depths", (6, 6, 6, 6)))
        theirs = sct_mod.SCTNet(
            img_size=(kwargs.get("img_size", 72),) * 2, in_chans=18,
            window_size=kwargs.get("window_size", 8), img_range=1., depths=depths,
            embed_dim=kwargs.get("embed_dim", 60),
            num_heads=[kwargs.get("num_heads", 6)] * len(depths), mlp_ratio=2,
            upsampler="pixelshuffledirect")
        if kwargs.get("channel_heads", 4) != 4:   # the release hard-codes 4 channel heads
            return None, None
    return build_model(name, **kwargs).eval(), theirs.eval()


@pytest.mark.parametrize("name", ["hdr-transformer", "sctnet"])
@pytest.mark.parametrize("tiny", [False, True])
def test_weights_and_outputs_match_the_release_classes(tmp_path, name, tiny):
    """Read the release's own model source (skipped without a copy): our state dict loads
    into its class strictly, its into ours, and both compute the same image."""
    kwargs = dict(TINY[name]) if tiny else {}
    if tiny and name == "sctnet":
        kwargs["channel_heads"] = 4
        kwargs["embed_dim"] = 36            # 12 per frame, divisible by 4 heads
    ours, theirs = _release_pair(tmp_path, name, kwargs)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    torch.manual_seed(1)
    fresh = build_model(name, **kwargs).eval()
    fresh.load_state_dict(theirs.state_dict(), strict=True)
    size = (16, 24) if tiny else (32, 40)
    x = [torch.rand(1, 6, *size) for _ in range(3)]
    with torch.no_grad():
        a, b = ours(*x), theirs(*x)
    assert a.shape == b.shape == (1, 3, *size)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(fresh(*x), b, atol=1e-5, rtol=0)


def test_any_image_size_is_padded_and_cropped_back():
    for name in ("hdr-transformer", "sctnet"):
        model = build_model(name, **TINY[name]).eval()
        with torch.no_grad():
            y = model(torch.rand(2, 18, 13, 22))
        assert y.shape == (2, 3, 13, 22) and (0 <= y).all() and (y <= 1).all()


@pytest.mark.parametrize("name,layers", [("hdr-transformer", 36), ("sctnet", 48)])
def test_inject_targets_the_release_layers_and_merge_is_exact(name, layers):
    """Default targets = the release's (every Linear inside WindowAttention: 48 for SCTNet,
    reference section 7); merged model == adapted model within float rounding."""
    torch.manual_seed(0)
    model = build_model(name).eval()
    inject(model, AdapterConfig(r_share=1, r_transfer=32, seed=0))
    names = [n for n, _ in adapted_layers(model)]
    assert len(names) == layers
    assert all(n.endswith((".attn.qkv", ".attn.proj")) for n in names)
    # release InjectedLinear shapes: in->r, r->out per branch; qkv 60->180, proj 60->60
    branch = sum(p.numel() for p in adapter_parameters(model))
    assert branch == layers // 2 * (1 + 32) * ((60 + 180) + (60 + 60))
    with torch.no_grad():
        for p in adapter_parameters(model):
            p.normal_(0, 0.05)
    set_scales(model, 0.9, 1.1)
    plain = merge(model).eval()
    assert type(plain) is type(model) and not adapted_layers(plain)
    assert _shapes(plain.state_dict()) == _shapes(build_model(name).state_dict())
    x = [torch.rand(1, 6, 16, 16) for _ in range(3)]
    with torch.no_grad():
        adapted, merged = model(*x), plain(*x)
        assert float((adapted - build_model(name).eval()(*x)).abs().max()) > 1e-3  # branches act
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["hdr-transformer", "sctnet"])
def test_export_release_writes_the_state_dict_the_release_loads(tmp_path, name, capsys):
    d = str(tmp_path)
    common = ["--batch", "1", "--patch", "16", "--quiet"]
    main(["pretrain", "--model", name, "--tiny", "--data", "synthetic:source:2", "--out",
          f"{d}/src", "--steps", "1", *common])
    main(["adapt", "--from", f"{d}/src", "--data", "synthetic:target:2", "--out", f"{d}/ad",
          "--steps", "2", "--r-transfer", "4", "--lr", "1e-2", *common])
    capsys.readouterr()
    main(["export-release", "--ckpt", f"{d}/ad", "--out", f"{d}/model.pth"])
    out = capsys.readouterr()
    assert "warning: the release's test.py builds" in out.err   # tiny != release config
    blob = torch.load(f"{d}/model.pth", map_location="cpu", weights_only=True)
    state = blob["state_dict"]
    assert _shapes(state) == TINY_SHAPES[name]()
    adapted, _ = load_model(f"{d}/ad")
    x = [torch.rand(1, 6, 16, 16) for _ in range(3)]
    with torch.no_grad():
        expected = adapted.eval()(*x)
        plain = build_model(name, **TINY[name]).eval()
        plain.load_state_dict(state, strict=True)
        torch.testing.assert_close(plain(*x), expected, atol=1e-5, rtol=0)
    # import-release reads a release-style .pth (module. prefixes, state_dict entry) back
    full = build_model(name).state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in full.items()}, "epoch": 3},
               f"{d}/release.pth")
    main(["import-release", "--pth", f"{d}/release.pth", "--model", name, "--out", f"{d}/imp"])
    back, _ = load_model(f"{d}/imp")
    assert all(torch.equal(back.state_dict()[k], v) for k, v in full.items())


def test_export_release_of_a_net_the_release_lacks_is_one_line(tmp_path, capsys):
    main(["pretrain", "--tiny", "--data", "synthetic:source:2", "--out", str(tmp_path / "a"),
          "--steps", "1", "--batch", "1", "--patch", "8", "--quiet"])
    with pytest.raises(SystemExit):
        main(["export-release", "--ckpt", str(tmp_path / "a"), "--out", str(tmp_path / "a.pth")])
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no counterpart" in err and "\n" not in err
    (tmp_path / "bad.pth").write_bytes(b"not a pickle")
    with pytest.raises(SystemExit):
        main(["import-release", "--pth", str(tmp_path / "bad.pth"), "--model", "sctnet",
              "--out", str(tmp_path / "b")])
    assert capsys.readouterr().err.startswith("error: ")


def test_release_export_warnings_are_silent_for_the_release_configuration(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from s2rhdr_loader.learn.release import release_mismatch
    assert release_mismatch("sctnet", {}) == {}
    assert release_mismatch("hdr-transformer", {"depths": [6, 6, 6], "img_size": 128}) == {}
    assert release_mismatch("sctnet", {"img_size": 64}) == {"img_size": (64, 72)}
