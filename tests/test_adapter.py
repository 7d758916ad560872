"""S2R-Adapter maths: identity at init, exact merge for every conv geometry, freezing, state."""

import warnings

import pytest
import torch
from torch import nn

from s2rhdr_loader.learn.adapter import (
    AdaptedLayer,
    AdapterConfig,
    adapted_layers,
    adapter_parameters,
    inject,
    load_backbone_state,
    merge,
    set_scales,
    unwrap,
)
from s2rhdr_loader.learn.models import TINY, build_model


def _randomise(model: nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapter_parameters(model):
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


class Sandwich(nn.Module):
    """first layer -> layer under test -> last layer (default filter adapts only the middle)."""

    def __init__(self, middle: nn.Module, cin: int, cout: int, linear: bool = False):
        super().__init__()
        self.first = nn.Linear(cin, cin) if linear else nn.Conv2d(cin, cin, 1)
        self.middle = middle
        self.last = nn.Linear(cout, 2) if linear else nn.Conv2d(cout, 2, 1)

    def forward(self, x):
        return self.last(torch.tanh(self.middle(self.first(x))))


CONVS = {
    "3x3": lambda: nn.Conv2d(6, 8, 3, padding=1),
    "grouped": lambda: nn.Conv2d(6, 9, 3, padding=1, groups=3),
    "depthwise": lambda: nn.Conv2d(6, 6, 3, padding=1, groups=6),
    "strided": lambda: nn.Conv2d(6, 8, 3, stride=2, padding=1),
    "dilated": lambda: nn.Conv2d(6, 8, 3, padding=2, dilation=2),
    "grouped_strided_dilated": lambda: nn.Conv2d(6, 4, (3, 5), stride=(2, 1),
                                                 padding=(2, 1), dilation=(1, 2), groups=2),
    "reflect_no_bias": lambda: nn.Conv2d(6, 8, 3, padding=1, padding_mode="reflect",
                                         bias=False),
    "1x1": lambda: nn.Conv2d(6, 8, 1),
}


@pytest.mark.parametrize("kind", sorted(CONVS))
def test_conv_merge_is_exact(kind):
    torch.manual_seed(0)
    conv = CONVS[kind]()
    model = Sandwich(conv, 6, conv.out_channels).eval()
    x = torch.rand(2, 6, 11, 13)
    with torch.no_grad():
        y0 = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inject(model, AdapterConfig(r_share=1, r_transfer=4))
    assert [n for n, _ in adapted_layers(model)] == ["middle"]
    with torch.no_grad():
        assert torch.equal(model(x), y0)             # zero-initialised up projections
        _randomise(model)
        set_scales(model, 0.7, 1.3)
        y1 = model(x)
        merged = merge(model)
        y2 = merged(x)
    assert (y1 - y0).abs().max() > 1e-3              # the branches really changed something
    assert (y1 - y2).abs().max() <= 1e-5
    assert type(merged.middle) is type(conv) and not adapted_layers(merged)


def test_linear_merge_is_exact_on_3d_tokens():
    torch.manual_seed(0)
    model = Sandwich(nn.Linear(12, 20), 12, 20, linear=True).eval()
    x = torch.rand(3, 7, 12)
    with torch.no_grad():
        y0 = model(x)
        inject(model, AdapterConfig(r_share=1, r_transfer=5))
        assert torch.equal(model(x), y0)
        _randomise(model)
        y1 = model(x)
        y2 = merge(model)(x)
    assert (y1 - y0).abs().max() > 1e-3
    assert (y1 - y2).abs().max() <= 1e-5


@pytest.mark.parametrize("name", ["ahdr", "transformer"])
def test_reference_nets_identity_at_init_and_exact_merge(name):
    torch.manual_seed(0)
    model = build_model(name, **TINY[name]).eval()
    x = torch.rand(1, 18, 12, 20)
    with torch.no_grad():
        y0 = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inject(model, AdapterConfig(r_transfer=8))
    names = [n for n, _ in adapted_layers(model)]
    assert "encode" not in names and "decode" not in names     # first and last stay plain
    with torch.no_grad():
        torch.testing.assert_close(model(x), y0, atol=1e-6, rtol=0)
        _randomise(model)
        y1 = model(x)
        merged = merge(model)
        assert type(merged) is type(model)
        assert isinstance(merged, type(build_model(name)))
        torch.testing.assert_close(merged(x), y1, atol=1e-5, rtol=0)
        assert sum(p.numel() for p in merged.parameters()) == sum(
            p.numel() for p in build_model(name, **TINY[name]).parameters())
        # unwrap gives the untouched backbone back
        torch.testing.assert_close(unwrap(model)(x), y0, atol=1e-6, rtol=0)


def test_frozen_backbone_does_not_change_in_an_adaptation_step():
    torch.manual_seed(0)
    model = inject(build_model("ahdr", **TINY["ahdr"]), AdapterConfig(r_transfer=4,
                                                                     learn_scales=True))
    adapter_ids = {id(p) for p in adapter_parameters(model)}
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()
              if id(p) not in adapter_ids}
    assert frozen and all(not p.requires_grad for n, p in model.named_parameters()
                          if n in frozen)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    before = [p.detach().clone() for p in adapter_parameters(model)]
    for _ in range(2):
        opt.zero_grad()
        model(torch.rand(2, 18, 8, 8)).mean().backward()
        opt.step()
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    changed = [not torch.equal(a, b) for a, b in zip(before, adapter_parameters(model))]
    assert any(changed)


def test_train_backbone_reproduces_official_full_finetuning():
    model = inject(build_model("ahdr", **TINY["ahdr"]),
                   AdapterConfig(r_transfer=4, train_backbone=True))
    assert all(p.requires_grad for p in model.parameters())


def test_scales_are_registered_and_state_dict_round_trips(tmp_path):
    torch.manual_seed(0)
    cfg = AdapterConfig(r_transfer=4, scale_share=0.5, scale_transfer=2.0)
    model = inject(build_model("transformer", **TINY["transformer"]), cfg)
    _randomise(model)
    state = model.state_dict()
    scale_keys = [k for k in state if k.endswith("scale_share")]
    assert scale_keys and all(float(state[k]) == 0.5 for k in scale_keys)
    assert not any(k.endswith("scale_share") for k, _ in model.named_parameters())
    learn = inject(build_model("ahdr", **TINY["ahdr"]), AdapterConfig(learn_scales=True,
                                                                      r_transfer=4))
    assert any(n.endswith("scale_transfer") for n, _ in learn.named_parameters())
    torch.save(state, tmp_path / "s.pt")
    other = inject(build_model("transformer", **TINY["transformer"]),
                   AdapterConfig.from_dict(cfg.to_dict()))
    other.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    x = torch.rand(1, 18, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), other(x))


def test_load_backbone_state_maps_plain_keys():
    torch.manual_seed(0)
    plain = build_model("ahdr", **TINY["ahdr"]).eval()
    adapted = inject(build_model("ahdr", **TINY["ahdr"]), AdapterConfig(r_transfer=4)).eval()
    load_backbone_state(adapted, plain.state_dict())
    x = torch.rand(1, 18, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(adapted(x), plain(x), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="do not fit"):
        load_backbone_state(adapted, {"nope.weight": torch.zeros(1)})


def test_rank_cap_warns_and_filters_work():
    model = Sandwich(nn.Linear(8, 6), 8, 6, linear=True)
    with pytest.warns(UserWarning, match="capped"):
        inject(model, AdapterConfig(r_share=1, r_transfer=64))
    layer = model.middle
    assert isinstance(layer, AdaptedLayer) and layer.transfer.rank == 6
    m2 = build_model("ahdr", **TINY["ahdr"])
    inject(m2, AdapterConfig(include=("att*",), r_transfer=4))
    assert [n for n, _ in adapted_layers(m2)] == ["att1", "att2"]
    m3 = build_model("ahdr", **TINY["ahdr"])
    inject(m3, filter_fn=lambda n, m: isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1),
           r_transfer=4)
    assert all(n.endswith("fuse") or n == "gff1" for n, _ in adapted_layers(m3))
    with pytest.raises(ValueError, match="already carries adapters"):
        inject(m3)
    with pytest.raises(ValueError, match="branches"):
        AdapterConfig(branches=("shared",))


@pytest.mark.parametrize("branches", [("share",), ("transfer",)])
def test_single_branch_configs_merge_exactly(branches):
    torch.manual_seed(0)
    model = inject(build_model("ahdr", **TINY["ahdr"]).eval(),
                   AdapterConfig(branches=branches, r_transfer=4))
    layer = adapted_layers(model)[0][1]
    assert (layer.share is None) == ("share" not in branches)
    assert (layer.transfer is None) == ("transfer" not in branches)
    _randomise(model)
    x = torch.rand(1, 18, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(merge(model)(x), model(x), atol=1e-5, rtol=0)
