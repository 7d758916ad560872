"""Test-time adaptation: the release's recipe is a no-op (zero gradient), ours learns; exact EMA
teacher, uncertainty modes, augmentation maps, reset policy."""

import copy

import pytest
import torch
from torch import nn

from s2rhdr_loader.learn.adapter import AdapterConfig, adapted_layers, inject
from s2rhdr_loader.learn.losses import mu_law
from s2rhdr_loader.learn.models import TINY, build_model
from s2rhdr_loader.learn.tta import (
    AUGS,
    MeanTeacherTTA,
    TTAConfig,
    ensemble_predict,
    make_augmentation,
)
from s2rhdr_loader.synthetic import SyntheticHDRDataset


def _batch(n=1, patch=16, domain="target"):
    ds = SyntheticHDRDataset(4, patch, domain)
    items = [ds[i] for i in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _inputs(**kw):
    return {k: v for k, v in _batch(**kw).items() if k != "label"}


def _model(train_backbone=False):
    torch.manual_seed(0)
    return inject(build_model("ahdr", **TINY["ahdr"]),
                  AdapterConfig(r_transfer=4, seed=0, train_backbone=train_backbone))


def _runner(config=None, **kw):
    return MeanTeacherTTA(_model(kw.pop("train_backbone", False)),
                          config or TTAConfig(crop=12, crops=2, **kw))


def test_the_release_recipe_has_no_signal_student_equals_teacher():
    """reference §7.2: pseudo-label = T(x) on the student's own input. Both start equal, so the
    first loss and its gradient are exactly 0 and nothing moves (all weights trainable, as in
    the release). Later steps see only the EMA's rounding (a*t + (1-a)*t != t in floats):
    L1's gradient is then a sign of rounding noise, which Adam turns into lr-sized random
    steps; the teacher barely follows (EMA 0.999)."""
    runner = _runner(TTAConfig.official(crop=12, crops=1), train_backbone=True)
    before = copy.deepcopy(runner.student.state_dict())
    x = _inputs(patch=20)
    runner.adapt_image(x)
    assert runner.state.history[0]["loss"] == 0.0
    after = runner.student.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if "scale" not in k)
    for _ in range(4):
        runner.adapt_image(x)
    assert all(h["loss"] < 1e-3 for h in runner.state.history)
    source = _model(train_backbone=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(runner.merged_teacher()(x), source(x), atol=1e-4, rtol=0)


def test_our_recipe_has_an_informative_target_and_moves_the_student():
    runner = _runner()
    before = [p.detach().clone() for p in runner.student.parameters() if p.requires_grad]
    rec = runner.step(_inputs())
    assert rec["loss"] > 0                               # ensemble / augmented view != S(x)
    after = [p for p in runner.student.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_adaptation_makes_the_teacher_more_consistent_under_augmentation():
    """What TTA optimises: the spread of the teacher's mapped-back predictions (mu-law) falls on
    a fixed image (flips and colour permutations: a net can become equivariant to them)."""
    runner = _runner(TTAConfig(crop=16, crops=1, lr=3e-3, ema=0.9,
                               augs=("flip_w", "flip_h", "perm")), train_backbone=True)
    x = _inputs(patch=16)

    def spread():   # the same augmentation draws every time
        gen, runner.gen = runner.gen, torch.Generator().manual_seed(123)
        d = float(mu_law(runner.predictions(x)).var(dim=0).mean())
        runner.gen = gen
        return d

    first = spread()
    for _ in range(30):
        runner.step(x)
    assert spread() < 0.5 * first


def test_teacher_changes_only_by_ema():
    runner = _runner(ema=0.9)
    x = _inputs()
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
    runner = _runner(TTAConfig.official(crop=12, crops=2))
    x = _inputs()
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
    runner = _runner(augs=AUGS)
    preds = runner.predictions(_inputs())
    u, weight = runner.uncertainty(preds)
    assert 0.0 <= u < 1.0
    assert weight.shape == preds.shape[1:] and (weight > 0).all() and (weight <= 1).all()
    torch.testing.assert_close(runner.pseudo_label(_inputs(), preds), preds.mean(dim=0))


class LinearRef(nn.Module):
    """Returns the reference frame's linear part: equivariant to every augmentation."""

    def forward(self, x):
        return x["input1"][:, :3]


@pytest.mark.parametrize("name", AUGS)
def test_every_augmentation_maps_back_and_forward(name):
    x = _inputs(n=2)
    aug = make_augmentation(name, torch.Generator().manual_seed(3))
    y = aug.inverse(LinearRef()(aug.forward(x)))
    tol = 0.05 if name == "noise" else 1e-5
    torch.testing.assert_close(y, x["input1"][:, :3], atol=tol, rtol=1e-4)
    # apply() maps an HDR image into the augmented view (what the student is taught)
    torch.testing.assert_close(aug.apply(x["input1"][:, :3]), LinearRef()(aug.forward(x)),
                               atol=tol, rtol=1e-4)
    torch.testing.assert_close(aug.inverse(aug.apply(x["input1"][:, :3])),
                               x["input1"][:, :3], atol=1e-6, rtol=1e-5)
    if name != "noise":   # the LDR half stays consistent with the linear half
        f = aug.forward(x)["input0"]
        torch.testing.assert_close(f[:, 3:] ** 2.2 / x["exp"][:, 0].view(-1, 1, 1, 1),
                                   f[:, :3], atol=1e-5, rtol=1e-3)


def test_ensemble_prediction_of_an_equivariant_model_is_the_model():
    x = _inputs(n=2)
    torch.testing.assert_close(ensemble_predict(LinearRef(), x), LinearRef()(x),
                               atol=1e-5, rtol=1e-4)


def test_reset_policy_and_no_labels_needed():
    runner = _runner(reset="image")
    source = copy.deepcopy(runner.student.state_dict())
    sample = _inputs(patch=20)
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
    with pytest.raises(ValueError, match="target"):
        TTAConfig(target="label")
    with pytest.raises(ValueError, match="at least one augmentation"):
        TTAConfig(augs=())
