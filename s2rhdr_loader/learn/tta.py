"""Test-time adaptation (TTA) of an adapted fusion net on unlabelled inputs (mean teacher).

Per step (reference/s2rhdr-format.md §7.2): the EMA teacher predicts the input and K augmented
copies (each prediction mapped back); their spread gives an uncertainty U that sets the branch
scales (share s1 = 1 - U, transfer s2 = 1 + U) on student and teacher; the student takes one
gradient step towards a pseudo-label; the teacher follows by EMA
``teacher = a * teacher + (1 - a) * student`` (parameters only; buffers such as the scales are
set from U, never averaged).

Why the release's recipe cannot learn (and what ``TTAConfig()`` does instead):

* **Target**. The release recomputes the pseudo-label as the plain teacher output ``T(x)`` on
  the same un-augmented input the student sees. Student and teacher start as copies, so the
  loss ``L(S(x), T(x))`` is exactly 0 and so is its gradient (|d| has zero slope at 0):
  Adam moves nothing, the EMA keeps the copy, and after TTA the teacher *is* the source model
  (``target="teacher"``, ``student_view="same"``; tested). Here the pseudo-label is the
  **ensemble** of the K+1 mapped-back teacher predictions (``target="ensemble"``), which
  differs from any single prediction, and the student sees an **augmented view** (one
  augmentation drawn per step, the pseudo-label mapped into that view:
  ``student_view="augmented"``), as in the original Mean Teacher (Tarvainen & Valpola 2017).
* **Scales**. Fresh branches have zero up projections, so rescaling them changes nothing until
  they have learnt something; the official U (0.1 x variance of all output values, i.e. image
  contrast) is ~1e-3, so the scales move by ~0.1 %. ``uncertainty="normalized"`` measures
  disagreement: per-pixel variance of the mapped-back predictions in the mu-law domain, d =
  its mean, U = d / (d + tau) in [0, 1), and weights the loss per pixel by 1 / (1 + var / tau).
* **Budget**. The release's lr 1e-4 for 24 crops per image moves a zero-initialised up
  projection by at most 2.4e-3 per image; the defaults here are lr 1e-3 and 16 crops.

``TTAConfig.official()`` reproduces the release (fidelity, and the zero-gradient finding).
Reset policy (explicit, unlike the official continual run over a fixed order): ``never``
(continual), ``image`` (restore the source weights, teacher and optimiser before each image).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.learn.adapter import adapted_layers, merge, set_scales
from s2rhdr_loader.learn.losses import l1_mu, mu_law

Sample = dict[str, torch.Tensor]
AUGS = ("flip_w", "flip_h", "perm", "exposure", "wb", "noise")
OFFICIAL_AUGS = ("flip_w", "flip_h", "perm", "perm")   # tta_aug_type = 1
DEFAULT_AUGS = ("flip_w", "flip_h", "perm", "exposure", "wb")


@dataclass
class TTAConfig:
    ema: float = 0.99
    lr: float = 1e-3
    crops: int = 16                 # gradient steps per image (one random crop each)
    crop: int = 128
    augs: tuple[str, ...] = DEFAULT_AUGS
    uncertainty: str = "normalized"  # or "official"
    factor: float = 0.1             # official U = factor * var
    tau: float = 1e-3               # normalized U = d / (d + tau)
    target: str = "ensemble"        # or "teacher" (official: plain T(x))
    student_view: str = "augmented"  # or "same" (official)
    noise_sigma: float = 2e-3       # LDR noise of the "noise" augmentation
    reset: str = "never"            # or "image"
    seed: int = 443
    adapt_scales: bool = True

    def __post_init__(self) -> None:
        self.augs = tuple(self.augs)
        bad = [a for a in self.augs if a not in AUGS]
        if bad:
            raise OptionError(f"TTA augmentations {bad}: choose from {AUGS}")
        for name, allowed in (("uncertainty", ("official", "normalized")),
                              ("target", ("ensemble", "teacher")),
                              ("student_view", ("augmented", "same")),
                              ("reset", ("never", "image"))):
            if getattr(self, name) not in allowed:
                raise OptionError(f"TTA {name} must be one of {allowed}, "
                                  f"not {getattr(self, name)!r}")
        if not 0.0 <= self.ema <= 1.0:
            raise OptionError("TTA ema rate must lie in [0, 1]")
        if self.student_view == "augmented" and not self.augs:
            raise OptionError("TTA student_view='augmented' needs at least one augmentation")

    @classmethod
    def official(cls, **overrides: object) -> TTAConfig:
        """The release's README run: teacher target, same view, official U, lr 1e-4, 24 crops,
        EMA 0.999, flips + two colour permutations (``tta_aug_type=1``)."""
        base = cls(ema=0.999, lr=1e-4, crops=24, augs=OFFICIAL_AUGS, uncertainty="official",
                   target="teacher", student_view="same")
        return replace(base, **overrides)  # type: ignore[arg-type]


# ---- augmentations: forward on inputs, ``apply`` / ``inverse`` on HDR images ----------------

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


def _identity(y: torch.Tensor) -> torch.Tensor:
    return y


@dataclass
class Augmentation:
    """``forward`` changes the inputs; ``apply`` maps an HDR image into the augmented view
    and ``inverse`` maps a prediction on the augmented view back."""

    name: str
    forward: Callable[[Sample], Sample]
    inverse: Callable[[torch.Tensor], torch.Tensor]
    apply: Callable[[torch.Tensor], torch.Tensor] = field(default=_identity)


def _flip(name: str) -> Augmentation:
    dim = -1 if name == "flip_w" else -2

    def flip(y: torch.Tensor) -> torch.Tensor:
        return y.flip(dim)

    return Augmentation(name, lambda x: _pack(x, [f.flip(dim) for f in _frames(x)]), flip, flip)


def _perm(gen: torch.Generator) -> Augmentation:
    perm = torch.randperm(3, generator=gen)
    inv = torch.argsort(perm)
    idx6 = torch.cat([perm, perm + 3])
    return Augmentation("perm", lambda x: _pack(x, [f[:, idx6] for f in _frames(x)]),
                        lambda y: y[:, inv], lambda y: y[:, perm])


def _gain(name: str, gen: torch.Generator) -> Augmentation:
    if name == "exposure":
        stops = float(torch.empty(()).uniform_(-1.0, 0.6, generator=gen))
        gain = torch.full((1, 3, 1, 1), 2.0 ** stops)
    else:
        gain = torch.empty(1, 3, 1, 1).uniform_(0.8, 1.2, generator=gen)

    def fwd(x: Sample) -> Sample:
        exp = x["exp"].reshape(x["input0"].shape[0], 3, 1, 1, 1)
        return _pack(x, [_relinearise(f[:, :3] * gain.to(f), exp[:, i].to(f))
                         for i, f in enumerate(_frames(x))])

    return Augmentation(name, fwd, lambda y: y / gain.to(y), lambda y: y * gain.to(y))


def _noise(gen: torch.Generator, sigma: float) -> Augmentation:
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))

    def fwd(x: Sample) -> Sample:
        g = torch.Generator().manual_seed(seed)
        exp = x["exp"].reshape(x["input0"].shape[0], 3, 1, 1, 1)
        frames = []
        for i, f in enumerate(_frames(x)):
            n = torch.randn(f[:, 3:].shape, generator=g).to(f) * sigma
            ldr = (f[:, 3:] + n).clamp(0, 1)
            frames.append(torch.cat([ldr.pow(2.2) / exp[:, i].to(f), ldr], dim=1))
        return _pack(x, frames)

    return Augmentation("noise", fwd, _identity, _identity)


def make_augmentation(name: str, gen: torch.Generator, noise_sigma: float = 2e-3
                      ) -> Augmentation:
    """Draw one augmentation's random parameters now (so forward/apply/inverse agree)."""
    if name in ("flip_w", "flip_h"):
        return _flip(name)
    if name == "perm":
        return _perm(gen)
    if name in ("exposure", "wb"):
        return _gain(name, gen)
    if name == "noise":
        return _noise(gen, noise_sigma)
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

    def _augmentation(self, name: str) -> Augmentation:
        return make_augmentation(name, self.gen, self.config.noise_sigma)

    @torch.no_grad()
    def predictions(self, x: Sample) -> torch.Tensor:
        """(K+1, B, 3, H, W): teacher on x and on each augmentation, mapped back."""
        preds = [self.teacher(x)]
        for name in self.config.augs:
            aug = self._augmentation(name)
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

    @torch.no_grad()
    def pseudo_label(self, x: Sample, preds: torch.Tensor) -> torch.Tensor:
        """Official: the teacher's plain output (after the scale change); ours: the ensemble."""
        if self.config.target == "teacher":
            return self.teacher(x)
        return preds.mean(dim=0)

    def step(self, x: Sample) -> dict[str, float]:
        """One TTA step on a batch of unlabelled inputs (no ``label`` is read)."""
        preds = self.predictions(x)
        u, weight = self.uncertainty(preds)
        s1, s2 = 1.0 - u, 1.0 + u
        if self.config.adapt_scales:
            set_scales(self.student, s1, s2)
            set_scales(self.teacher, s1, s2)
        target = self.pseudo_label(x, preds)
        view = x
        if self.config.student_view == "augmented":
            names = self.config.augs
            aug = self._augmentation(names[int(torch.randint(len(names), (1,),
                                                             generator=self.gen))])
            view, target = aug.forward(x), aug.apply(target)
            weight = aug.apply(weight) if weight is not None else None
        self.student.zero_grad(set_to_none=True)
        loss = l1_mu(self.student(view), target, weight)
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


@torch.no_grad()
def ensemble_predict(model: nn.Module, x: Sample, augs: tuple[str, ...] = DEFAULT_AUGS,
                     seed: int = 0) -> torch.Tensor:
    """Test-time augmentation without adaptation: the mean of the mapped-back predictions
    (what the pseudo-label of ``target="ensemble"`` is; a baseline for TTA's gain)."""
    gen = torch.Generator().manual_seed(seed)
    preds = [model(x)]
    for name in augs:
        aug = make_augmentation(name, gen)
        preds.append(aug.inverse(model(aug.forward(x))))
    return torch.stack(preds).mean(dim=0)
