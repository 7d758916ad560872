"""Test-time adaptation: exact EMA teacher, official uncertainty, augmentation inverses, reset."""

import copy

import pytest
import torch
from torch import nn

from s2rhdr_loader.learn.adapter import AdapterConfig, adapted_layers, inject
from s2rhdr_loader.learn.models import TINY, build_model
from s2rhdr_loader.learn.tta import AUGS, MeanTeacherTTA, TTAConfig, make_augmentation
from s2rhdr_loader.synthetic import SyntheticHDRDataset


def _batch(n=1, patch=16, domain="target"):
    ds = SyntheticHDRDataset(4, patch, domain)
    items = [ds[i] for i in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _runner(**kw):
    torch.manual_seed(0)
    model = inject(build_model("ahdr", **TINY["ahdr"]), AdapterConfig(r_transfer=4))
    return MeanTeacherTTA(model, TTAConfig(crop=12, crops=2, **kw))


def test_teacher_changes_only_by_ema():
    runner = _runner(ema=0.9)
    x = {k: v for k, v in _batch().items() if k != "label"}
    runner.step(x)                                   # make student and teacher differ
    teacher_before = copy.deepcopy(runner.teacher)
    student_before = [p.detach().clone() for p in runner.student.parameters()]
    runner.step(x)
    student_after = list(runner.student.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(student_before, student_after))
    for (name, t_new), t_old, s_new in zip(runner.teacher.named_parameters(),
                                          teacher_before.parameters(), student_after):
        expected = 0.9 * t_old + (1 - 0.9) * s_new
        torch.testing.assert_close(t_new, expected, atol=1e-7, rtol=1e-6, msg=name)
    assert not any(p.requires_grad for p in runner.teacher.parameters())


def test_official_uncertainty_sets_branch_scales():
    runner = _runner()
    x = {k: v for k, v in _batch().items() if k != "label"}
    preds = runner.predictions(x)
    assert preds.shape[0] == 1 + len(runner.config.augs)
    u, weight = runner.uncertainty(preds)
    assert weight is None
    assert u == pytest.approx(0.1 * float(preds.var()), rel=1e-6)   # unbiased, all elements
    rec = runner.step(x)
    assert rec["s1"] == pytest.approx(1 - rec["U"]) and rec["s2"] == pytest.approx(1 + rec["U"])
    for model in (runner.student, runner.teacher):
        for _, layer in adapted_layers(model):
            assert float(layer.scale_share) == pytest.approx(rec["s1"], rel=1e-6)
            assert float(layer.scale_transfer) == pytest.approx(rec["s2"], rel=1e-6)


def test_normalized_uncertainty_is_bounded_with_pixel_weights():
    runner = _runner(uncertainty="normalized", augs=AUGS)
    preds = runner.predictions({k: v for k, v in _batch().items() if k != "label"})
    u, weight = runner.uncertainty(preds)
    assert 0.0 <= u < 1.0
    assert weight.shape == preds.shape[1:] and (weight > 0).all() and (weight <= 1).all()


class LinearRef(nn.Module):
    """Returns the reference frame's linear part: equivariant to every augmentation."""

    def forward(self, x):
        return x["input1"][:, :3]


@pytest.mark.parametrize("name", AUGS)
def test_every_augmentation_maps_back(name):
    x = {k: v for k, v in _batch(2).items() if k != "label"}
    aug = make_augmentation(name, torch.Generator().manual_seed(3))
    y = aug.inverse(LinearRef()(aug.forward(x)))
    tol = 0.05 if name == "noise" else 1e-5
    torch.testing.assert_close(y, x["input1"][:, :3], atol=tol, rtol=1e-4)
    if name != "noise":   # the LDR half stays consistent with the linear half
        f = aug.forward(x)["input0"]
        torch.testing.assert_close(f[:, 3:] ** 2.2 / x["exp"][:, 0].view(-1, 1, 1, 1),
                                   f[:, :3], atol=1e-5, rtol=1e-3)


def test_reset_policy_and_no_labels_needed():
    runner = _runner(reset="image")
    source = copy.deepcopy(runner.student.state_dict())
    sample = {k: v for k, v in _batch(1, patch=20).items() if k != "label"}
    out = runner.adapt_image(sample)
    assert out.shape == (1, 3, 20, 20)
    changed = any(not torch.equal(v, runner.student.state_dict()[k]) for k, v in source.items())
    assert changed
    runner.reset()
    assert all(torch.equal(v, runner.student.state_dict()[k]) for k, v in source.items())
    assert all(torch.equal(v, runner.teacher.state_dict()[k]) for k, v in source.items())
    merged = runner.merged_teacher()
    assert not adapted_layers(merged)
    with torch.no_grad():
        torch.testing.assert_close(merged(sample), runner.teacher(sample), atol=1e-5, rtol=0)


def test_tta_rejects_plain_models_and_bad_options():
    with pytest.raises(ValueError, match="adapters"):
        MeanTeacherTTA(build_model("ahdr", **TINY["ahdr"]))
    with pytest.raises(ValueError, match="augmentations"):
        TTAConfig(augs=("rotate",))
