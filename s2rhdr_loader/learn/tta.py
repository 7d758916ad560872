"""Test-time adaptation (TTA) of an adapted fusion net on unlabelled inputs (mean teacher).

Per step (reference/s2rhdr-format.md §7.2): the EMA teacher predicts the input and K augmented
copies (each prediction mapped back); their spread gives an uncertainty U that sets the branch
scales (share s1 = 1 - U, transfer s2 = 1 + U) on student and teacher; the student takes one
gradient step towards the teacher's pseudo-label; the teacher follows by EMA
``teacher = a * teacher + (1 - a) * student`` (parameters only; buffers such as the scales are
set from U, never averaged).

Two uncertainty modes:
* ``official``: U = factor * unbiased variance of *all* elements of the stacked predictions (a
  scalar that mostly measures image contrast; kept for fidelity, defect #6). Pseudo-label =
  plain teacher prediction.
* ``normalized`` (ours): per-pixel variance across the K+1 mapped-back predictions in the mu-law
  domain (true disagreement), d = mean variance, U = d / (d + tau) in [0, 1). Pseudo-label =
  mean of the mapped-back predictions, loss weighted per pixel by 1 / (1 + var / tau).

Reset policy (explicit, unlike the official continual run over a fixed order): ``never``
(continual), ``image`` (restore the source weights, teacher and optimiser before each image).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.learn.adapter import adapted_layers, merge, set_scales
from s2rhdr_loader.learn.losses import l1_mu, mu_law

Sample = dict[str, torch.Tensor]
AUGS = ("flip_w", "flip_h", "perm", "exposure", "wb", "noise")
OFFICIAL_AUGS = ("flip_w", "flip_h", "perm", "perm")   # tta_aug_type = 1


@dataclass
class TTAConfig:
    ema: float = 0.999
    lr: float = 1e-4
    crops: int = 24                 # gradient steps per image (one random crop each)
    crop: int = 128
    augs: tuple[str, ...] = OFFICIAL_AUGS
    uncertainty: str = "official"   # or "normalized"
    factor: float = 0.1             # official U = factor * var
    tau: float = 1e-3               # normalized U = d / (d + tau)
    reset: str = "never"            # or "image"
    seed: int = 443
    adapt_scales: bool = True

    def __post_init__(self) -> None:
        self.augs = tuple(self.augs)
        bad = [a for a in self.augs if a not in AUGS]
        if bad:
            raise OptionError(f"TTA augmentations {bad}: choose from {AUGS}")
        if self.uncertainty not in ("official", "normalized"):
            raise OptionError("TTA uncertainty must be 'official' or 'normalized'")
        if self.reset not in ("never", "image"):
            raise OptionError("TTA reset must be 'never' or 'image'")
        if not 0.0 <= self.ema <= 1.0:
            raise OptionError("TTA ema rate must lie in [0, 1]")


# ---- augmentations: (forward on inputs, inverse on the prediction) --------------------------

def _frames(x: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    return [x["input0"], x["input1"], x["input2"]]


def _pack(x: Mapping[str, torch.Tensor], frames: list[torch.Tensor]) -> Sample:
    out = dict(x)
    out.update({f"input{i}": f for i, f in enumerate(frames)})
    return out


def _relinearise(lin: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rebuild a [LDR^2.2/t, LDR] frame from a modified linear part (no clipping, official)."""
    ldr = (lin.clamp_min(0) * t).pow(1 / 2.2)
    return torch.cat([lin, ldr], dim=1)


@dataclass
class Augmentation:
    name: str
    forward: Callable[[Sample], Sample]
    inverse: Callable[[torch.Tensor], torch.Tensor]


def make_augmentation(name: str, gen: torch.Generator) -> Augmentation:
    """Draw one augmentation's random parameters now (so forward/inverse agree)."""
    if name in ("flip_w", "flip_h"):
        dim = -1 if name == "flip_w" else -2
        return Augmentation(name, lambda x: _pack(x, [f.flip(dim) for f in _frames(x)]),
                            lambda y: y.flip(dim))
    if name == "perm":
        perm = torch.randperm(3, generator=gen)
        inv = torch.argsort(perm)
        idx6 = torch.cat([perm, perm + 3])
        return Augmentation(name, lambda x: _pack(x, [f[:, idx6] for f in _frames(x)]),
                            lambda y: y[:, inv])
    if name in ("exposure", "wb"):
        if name == "exposure":
            stops = float(torch.empty(()).uniform_(-1.0, 0.6, generator=gen))
            gain = torch.full((1, 3, 1, 1), 2.0 ** stops)
        else:
            gain = torch.empty(1, 3, 1, 1).uniform_(0.8, 1.2, generator=gen)

        def fwd(x: Sample) -> Sample:
            exp = x["exp"].reshape(x["input0"].shape[0], 3, 1, 1, 1)
            frames = [_relinearise(f[:, :3] * gain.to(f), exp[:, i].to(f))
                      for i, f in enumerate(_frames(x))]
            return _pack(x, frames)
        return Augmentation(name, fwd, lambda y: y / gain.to(y))
    if name == "noise":
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))

        def fwd_noise(x: Sample) -> Sample:
            g = torch.Generator().manual_seed(seed)
            exp = x["exp"].reshape(x["input0"].shape[0], 3, 1, 1, 1)
            frames = []
            for i, f in enumerate(_frames(x)):
                n = torch.randn(f[:, 3:].shape, generator=g).to(f) * 2e-3
                ldr = (f[:, 3:] + n).clamp(0, 1)
                frames.append(torch.cat([ldr.pow(2.2) / exp[:, i].to(f), ldr], dim=1))
            return _pack(x, frames)
        return Augmentation(name, fwd_noise, lambda y: y)
    raise OptionError(f"unknown TTA augmentation {name!r}")


# ---- the adaptation loop --------------------------------------------------------------------

@dataclass
class TTAState:
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


class MeanTeacherTTA:
    """Adapt ``model`` (already carrying adapters) on unlabelled samples; ``teacher`` predicts."""

    def __init__(self, model: nn.Module, config: TTAConfig | None = None):
        if not adapted_layers(model):
            raise OptionError("TTA needs a model with adapters (inject() it first)")
        self.config = config or TTAConfig()
        self.student = model.eval()      # official: both in eval mode (no dropout)
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False)
        self._source = copy.deepcopy(model.state_dict())
        self.gen = torch.Generator().manual_seed(self.config.seed)
        self.state = TTAState()
        self._new_optimizer()

    def _new_optimizer(self) -> None:
        params = [p for p in self.student.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=self.config.lr, betas=(0.9, 0.999))

    def reset(self) -> None:
        """Back to the source model: student, teacher and optimiser."""
        self.student.load_state_dict(self._source)
        self.teacher.load_state_dict(self._source)
        self._new_optimizer()

    @torch.no_grad()
    def predictions(self, x: Sample) -> torch.Tensor:
        """(K+1, B, 3, H, W): teacher on x and on each augmentation, mapped back."""
        preds = [self.teacher(x)]
        for name in self.config.augs:
            aug = make_augmentation(name, self.gen)
            preds.append(aug.inverse(self.teacher(aug.forward(x))))
        return torch.stack(preds)

    def uncertainty(self, preds: torch.Tensor) -> tuple[float, torch.Tensor | None]:
        """Scalar U for the scales, and per-pixel weights (normalized mode) or None."""
        if self.config.uncertainty == "official":
            return self.config.factor * float(preds.float().var()), None
        var = mu_law(preds.float()).var(dim=0, unbiased=False)        # (B, 3, H, W)
        d = float(var.mean())
        return d / (d + self.config.tau), 1.0 / (1.0 + var / self.config.tau)

    @torch.no_grad()
    def ema_update(self) -> None:
        """teacher = a * teacher + (1 - a) * student, for floating-point parameters only."""
        a = self.config.ema
        for t, s in zip(self.teacher.parameters(), self.student.parameters(), strict=True):
            t.mul_(a).add_(s.detach(), alpha=1.0 - a)

    def step(self, x: Sample) -> dict[str, float]:
        """One TTA step on a batch of unlabelled inputs (no ``label`` is read)."""
        preds = self.predictions(x)
        u, weight = self.uncertainty(preds)
        s1, s2 = 1.0 - u, 1.0 + u
        if self.config.adapt_scales:
            set_scales(self.student, s1, s2)
            set_scales(self.teacher, s1, s2)
        with torch.no_grad():
            target = self.teacher(x) if self.config.uncertainty == "official" \
                else preds.mean(dim=0)
        self.student.zero_grad(set_to_none=True)
        loss = l1_mu(self.student(x), target, weight)
        loss.backward()
        self.optimizer.step()
        self.ema_update()
        self.state.step += 1
        rec = {"step": self.state.step, "loss": float(loss.detach()), "U": u, "s1": s1, "s2": s2}
        self.state.history.append(rec)
        return rec

    def random_crop(self, sample: Sample) -> Sample:
        """Same random window on every spatial tensor (inputs; label kept only for metrics)."""
        h, w = sample["input0"].shape[-2:]
        c = min(self.config.crop, h, w)
        y0 = int(torch.randint(0, h - c + 1, (1,), generator=self.gen))
        x0 = int(torch.randint(0, w - c + 1, (1,), generator=self.gen))
        return {k: (v[..., y0:y0 + c, x0:x0 + c] if v.dim() >= 3 else v)
                for k, v in sample.items() if k != "label"}

    def adapt_image(self, sample: Sample) -> torch.Tensor:
        """Adapt on ``crops`` random crops of one (batched) image, return the teacher's output."""
        if self.config.reset == "image":
            self.reset()
        for _ in range(self.config.crops):
            self.step(self.random_crop(sample))
        with torch.no_grad():
            inputs = {k: v for k, v in sample.items() if k != "label"}
            return self.teacher(inputs)

    def merged_teacher(self) -> nn.Module:
        """The adapted teacher with its current scales folded in: a plain backbone."""
        return merge(self.teacher)
