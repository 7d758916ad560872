"""A small procedural multi-exposure dataset with the loader's sample format (tests, study, CI).

Why: training/adaptation code must be testable in seconds without rendered data, and the
adapter study needs two *controlled* domains. Every sample is a pure function of
``(seed, index)``, so runs and resumes are reproducible.

Sample dict (same as ``S2RHDRDataset``): ``input0, input1, input2`` float32 (6, P, P) =
``[LDR^2.2 / t, LDR]`` for (short, medium = reference, long), ``label`` (3, P, P) linear HDR of
the reference frame, ``exp`` (3,) exposure times normalised to t_short = 1.

Domains:
* ``source`` - "rendered": smooth shading, flat patches, highlights <= 1, official recipe
  (gamma 2.2 exactly, tiny additive noise, exposures (1,4,16) or (1,8,64), labels in [0, 1]).
* ``target`` - "sensor": textured scenes with a colour cast, an S-shaped camera response that
  is *not* gamma 2.2, Poisson-Gaussian noise, white-balance gains, brighter highlights
  (labels up to ~3), different motion. The net still linearises with ^2.2, as real pipelines do.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.sample import Sample, dataset_repr, make_sample

DOMAINS = ("source", "target")
EXPOSURE_SETS = ((1.0, 4.0, 16.0), (1.0, 8.0, 64.0))


def _scene(rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    """Linear HDR canvas (size, size, 3), float32, exposure normalised to t_short = 1."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    colour = rng.uniform(0.3, 1.0, 3).astype(np.float32)
    img = (rng.uniform(0.002, 0.03) * (1 + rng.uniform(-0.8, 0.8) * xx
                                       + rng.uniform(-0.8, 0.8) * yy))[..., None] * colour
    for _ in range(rng.integers(3, 7)):          # flat patches spanning ~4 decades
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        level = 10 ** rng.uniform(-3.5, -1.0)
        img[y0:y0 + h, x0:x0 + w] = level * rng.uniform(0.4, 1.0, 3)
    hi = 1.0 if domain == "source" else 3.0
    for _ in range(rng.integers(1, 4)):          # highlights (saturate the long/medium frames)
        cx, cy = rng.uniform(0, 1, 2)
        r = rng.uniform(0.04, 0.15)
        disc = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += (rng.uniform(0.2, hi) * disc)[..., None] * rng.uniform(0.7, 1.0, 3)
    if domain == "target":                       # texture + colour cast
        f = rng.uniform(6, 20, 2)
        tex = 1 + 0.35 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy) + rng.uniform(0, 6.3))
        img *= tex[..., None] * np.array([1.1, 1.0, 0.8], np.float32)
    return np.clip(img, 0, None if domain == "target" else 1.0).astype(np.float32)


def _crf(x: np.ndarray, domain: str) -> np.ndarray:
    """Camera response: exact gamma 2.2 (source) or an S-curve with a toe (target)."""
    x = np.clip(x, 0, 1)
    if domain == "source":
        return x ** (1 / 2.2)
    g = x ** (1 / 2.6)
    return np.clip(g * g * (3 - 2 * g) * 0.35 + 0.65 * g, 0, 1)


class SyntheticHDRDataset(Dataset):
    """``SyntheticHDRDataset(n, patch=32, domain="source", seed=0)``; deterministic per index."""

    def __init__(self, n: int = 64, patch: int = 32, domain: str = "source", seed: int = 0,
                 max_shift: int = 2):
        if domain not in DOMAINS:
            raise OptionError(f"synthetic domain {domain!r}: use one of {DOMAINS}")
        if n < 1 or patch < 4:
            raise OptionError("synthetic dataset needs n >= 1 and patch >= 4")
        self.n, self.patch, self.domain, self.seed = int(n), int(patch), domain, int(seed)
        self.max_shift = int(max_shift) if domain == "source" else int(max_shift) + 1

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.n:
            raise IndexError(index)
        dom = DOMAINS.index(self.domain)
        rng = np.random.default_rng([self.seed, dom, index])
        m, p = self.max_shift, self.patch
        canvas = _scene(rng, p + 2 * m, self.domain)
        exps = EXPOSURE_SETS[int(rng.random() < 1 / 3)]
        wb = (np.ones(3, np.float32) if self.domain == "source"
              else rng.uniform(0.8, 1.2, 3).astype(np.float32))
        ldrs, label = [], None
        for i, t in enumerate(exps):
            dy, dx = (m, m) if i == 1 else tuple(rng.integers(0, 2 * m + 1, 2))
            h = canvas[dy:dy + p, dx:dx + p]
            if i == 1:
                label = h
            signal = h * t * wb
            if self.domain == "source":
                signal = signal + rng.normal(0, 1e-4, signal.shape) * t * (i < 2)
            else:   # Poisson-Gaussian sensor noise in units of a 1000 e- full well
                signal = rng.poisson(np.clip(signal, 0, 4) * 1000) / 1000.0 \
                    + rng.normal(0, 2e-3, signal.shape)
            ldrs.append((np.floor(_crf(signal, self.domain) * 65535) / 65535).astype(np.float32))
        assert label is not None
        return make_sample(np.stack(ldrs), exps, label)

    def __repr__(self) -> str:
        return dataset_repr(self, [f"Domain: {self.domain}", f"Patch size: {self.patch}",
                                   f"Seed: {self.seed}, max shift: {self.max_shift} px"])
