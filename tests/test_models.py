"""Reference fusion nets: documented sizes, any H x W, all input forms, output heads."""

import pytest
import torch

from s2rhdr_loader.learn.models import TINY, build_model, count_parameters

DOCUMENTED = {("ahdr", False): 1_219_907, ("ahdr", True): 39_011,
              ("transformer", False): 1_002_783, ("transformer", True): 34_359}


@pytest.mark.parametrize("name,tiny", sorted(DOCUMENTED))
def test_parameter_counts_match_docstrings(name, tiny):
    model = build_model(name, **(TINY[name] if tiny else {}))
    assert count_parameters(model) == DOCUMENTED[(name, tiny)]


@pytest.mark.parametrize("name", ["ahdr", "transformer"])
@pytest.mark.parametrize("hw", [(16, 16), (13, 21), (7, 30)])
def test_any_size_and_all_input_forms_agree(name, hw):
    torch.manual_seed(0)
    model = build_model(name, **TINY[name]).eval()
    frames = [torch.rand(2, 6, *hw) for _ in range(3)]
    with torch.no_grad():
        y = model(*frames)
        y_dict = model({"input0": frames[0], "input1": frames[1], "input2": frames[2],
                        "label": torch.zeros(2, 3, *hw)})
        y_stack = model(torch.cat(frames, dim=1))
    assert y.shape == (2, 3, *hw)
    assert torch.equal(y, y_dict) and torch.equal(y, y_stack)


def test_padding_does_not_leak_between_images():
    # the transformer pads to its window; the crop back must give each pixel its own value
    torch.manual_seed(0)
    model = build_model("transformer", **TINY["transformer"]).eval()
    x = torch.rand(1, 18, 10, 10)
    with torch.no_grad():
        a = model(x)
        b = model(torch.cat([x, torch.rand(1, 18, 10, 10)]))[:1]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["ahdr", "transformer"])
def test_heads_softplus_exceeds_one_sigmoid_does_not(name):
    torch.manual_seed(0)
    x = torch.rand(1, 18, 8, 8)
    for head, above_one_possible in (("sigmoid", False), ("softplus", True)):
        model = build_model(name, **TINY[name], head=head)
        with torch.no_grad():
            model.decode.bias.fill_(10.0)   # push the pre-activation high
            y = model(x)
        assert (y > 1.0).any().item() is above_one_possible
        assert (y >= 0).all()


def test_bad_model_names_and_args_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        build_model("nope")
    with pytest.raises(ValueError, match="bad arguments"):
        build_model("ahdr", wings=3)
    with pytest.raises(ValueError, match="unknown head"):
        build_model("ahdr", head="relu")
    with pytest.raises(ValueError, match="input0"):
        build_model("ahdr", **TINY["ahdr"])({"input1": torch.zeros(1, 6, 4, 4)})
