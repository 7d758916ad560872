"""Readers for the real multi-exposure benchmarks, returning ``S2RHDRDataset``'s sample dict.

Formats (reference/hdr-metrics.md section 7):

* Kalantari (SIG17): ``<scene>/{*.tif x3, exposure.txt, HDRImg.hdr}``; inputs short->long
  by sorted file name. Scenes may be nested (``Test/PAPER/BarbequeDay``): any folder with
  an ``exposure.txt`` is a scene.
* SCT: ``<scene>/{input_1.tif, input_2.tif, input_3.tif, exposure.txt, HDRImg.hdr}``.
* Challenge123: per scene id ``xxx`` folders ``xxx_1, xxx_2, xxx_3`` with ``ldr_img_k.tif``,
  ``exposure.txt``, ``hdr_img.hdr`` (or ``HDRImg.hdr``). Test: short ``xxx_1/ldr_img_1``,
  medium ``xxx_2/ldr_img_2``, long ``xxx_3/ldr_img_3``, label and exposures of ``xxx_2``;
  training (``permutations=True``) uses all 6 assignments of folders to short/mid/long.

Conventions (one for all, unlike the reference loaders, defect #9): RGB order everywhere;
16-bit LDR divided by **65536** (2**16, the divisor every reference loader uses, so published
numbers reproduce; the synthetic recipe's Q16 uses 65535); exposure times from
``exposure.txt`` by :func:`exposure_times`; inputs ``[LDR**2.2 / t, LDR]``.
Modes: ``"train"`` (random crop, flips, channel permutation; per-sample generator from
``(seed, epoch, index)``) and ``"test"`` (full image; inputs padded by reflection, never with
1.0 which would fake saturation, to a multiple of ``pad_to``; the label is not padded and
``size`` holds the original (H, W) so predictions can be cropped back with :func:`unpad`;
in train mode it is the crop's size).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import permutations as _perms
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from s2rhdr_loader.core.errors import DataError, OptionError
from s2rhdr_loader.core.hdr import read_hdr
from s2rhdr_loader.core.tiff import read_tiff16
from s2rhdr_loader.sample import Sample, dataset_repr, make_sample, sample_generator

log = logging.getLogger(__name__)
LDR_DIVISOR = 65536.0


class RealDataError(DataError):
    """A benchmark folder is missing a file or has a malformed one; the message names it."""


def exposure_times(path: str | os.PathLike) -> np.ndarray:
    """Exposure times (shortest = 1) from an ``exposure.txt``.

    Values are log2 exposures (EV): ``t = 2**(ev - min(ev))``. The release reads them as
    linear ratios when ``min == 1``; that misreads EV files such as ``1 3 5``, so we treat
    the values as ratios only when ``min == 1 and max >= 4`` (hdr-metrics.md section 7.1)
    **and** every value is a power of two (``1 4 16``, ``1 8 64``); the decision is logged.
    """
    path = Path(path)
    if not path.is_file():
        raise RealDataError(f"{path}: file not found")
    try:
        vals = [float(v) for v in path.read_text().split()]
    except ValueError:
        raise RealDataError(f"{path}: expected three numbers (log2 exposures such as "
                            "'0 2 4')") from None
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise RealDataError(f"{path}: expected three finite numbers, got {len(vals)} values")
    arr = np.asarray(vals, np.float64)
    pow2 = bool(np.all(np.log2(np.maximum(arr, 1e-30)) % 1 == 0))
    if arr.min() == 1.0 and arr.max() >= 4.0 and pow2:
        log.info("%s: read as linear exposure ratios %s", path, vals)
        return arr.astype(np.float32)
    log.debug("%s: read as log2 exposures %s", path, vals)
    return np.exp2(arr - arr.min()).astype(np.float32)


def read_ldr(path: str | os.PathLike) -> np.ndarray:
    """16-bit TIFF -> float32 RGB in [0, 1) (divided by 65536)."""
    try:
        return read_tiff16(path).astype(np.float32) / np.float32(LDR_DIVISOR)
    except ValueError as exc:
        raise RealDataError(str(exc)) from None


def read_label(path: str | os.PathLike) -> np.ndarray:
    try:
        return read_hdr(path)
    except ValueError as exc:
        raise RealDataError(str(exc)) from None


@dataclass(frozen=True)
class RealScene:
    """One sample's files: three LDRs (short, medium, long), exposures and label."""

    name: str
    ldrs: tuple[Path, Path, Path]
    exposure: Path
    label: Path


def _need(path: Path) -> Path:
    if not path.is_file():
        raise RealDataError(f"{path}: file not found")
    return path


def _scene_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        raise RealDataError(f"{root}: dataset folder not found")
    dirs = sorted({p.parent for p in root.rglob("exposure.txt")})
    if not dirs:
        raise RealDataError(f"{root}: no scene folders (none contains an exposure.txt)")
    return dirs


def _label_in(folder: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        if (folder / n).is_file():
            return folder / n
    raise RealDataError(f"{folder / names[0]}: file not found")


def kalantari_scenes(root: str | os.PathLike) -> list[RealScene]:
    out = []
    for d in _scene_dirs(Path(root)):
        tifs = sorted(p for p in d.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        if len(tifs) != 3:
            raise RealDataError(f"{d}: expected 3 .tif exposures, found {len(tifs)}")
        out.append(RealScene(d.relative_to(root).as_posix(), (tifs[0], tifs[1], tifs[2]),
                             d / "exposure.txt", _label_in(d, ("HDRImg.hdr",))))
    return out


def sct_scenes(root: str | os.PathLike) -> list[RealScene]:
    out = []
    for d in _scene_dirs(Path(root)):
        ldrs = tuple(_need(d / f"input_{k}.tif") for k in (1, 2, 3))
        out.append(RealScene(d.relative_to(root).as_posix(), ldrs,  # type: ignore[arg-type]
                             d / "exposure.txt", _label_in(d, ("HDRImg.hdr",))))
    return out


def challenge123_scenes(root: str | os.PathLike, permutations: bool = False) -> list[RealScene]:
    root = Path(root)
    dirs = _scene_dirs(root)
    ids = sorted({d.name.rsplit("_", 1)[0] for d in dirs if d.name[-2:] in ("_1", "_2", "_3")})
    if not ids:
        raise RealDataError(f"{root}: no Challenge123 folders named xxx_1, xxx_2, xxx_3")
    orders = list(_perms((1, 2, 3))) if permutations else [(1, 2, 3)]
    out = []
    for sid in ids:
        parent = next(d.parent for d in dirs if d.name.startswith(sid + "_"))
        for a, b, c in orders:
            ldrs = (_need(parent / f"{sid}_{a}" / "ldr_img_1.tif"),
                    _need(parent / f"{sid}_{b}" / "ldr_img_2.tif"),
                    _need(parent / f"{sid}_{c}" / "ldr_img_3.tif"))
            mid = parent / f"{sid}_{b}"
            out.append(RealScene(f"{sid}" + (f"_{a}{b}{c}" if permutations else ""), ldrs,
                                 mid / "exposure.txt",
                                 _label_in(mid, ("hdr_img.hdr", "HDRImg.hdr"))))
    return out


def load_scene(scene: RealScene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(3, H, W, 3) LDRs, (H, W, 3) label, (3,) exposure times; sizes checked."""
    ldrs = [read_ldr(p) for p in scene.ldrs]
    label = read_label(scene.label)
    exps = exposure_times(scene.exposure)
    for p, img in zip(scene.ldrs[1:], ldrs[1:]):
        if img.shape != ldrs[0].shape:
            raise RealDataError(f"{p}: size {img.shape[1]}x{img.shape[0]} differs from "
                                f"{scene.ldrs[0].name} ({ldrs[0].shape[1]}x{ldrs[0].shape[0]})")
    if label.shape != ldrs[0].shape:
        raise RealDataError(f"{scene.label}: size {label.shape[1]}x{label.shape[0]} differs "
                            f"from the inputs ({ldrs[0].shape[1]}x{ldrs[0].shape[0]})")
    return np.stack(ldrs), label, exps


def unpad(pred: torch.Tensor, size: Any) -> torch.Tensor:
    """Crop a padded test prediction (..., H', W') back to ``size`` = (H, W)."""
    h, w = (int(v) for v in (size.tolist() if hasattr(size, "tolist") else size))
    return pred[..., :h, :w]


class RealHDRDataset(Dataset):
    """A real benchmark as fusion samples (use the ``kalantari``/``sct``/``challenge123`` helpers).

    ``memory=True`` keeps decoded scenes in memory (what the reference ``*_Cache`` datasets
    do; ~27 MB per 1500x1000 scene). ``repeat`` multiplies the epoch in train mode.
    """

    def __init__(self, scenes: list[RealScene], mode: str = "test", patch_size: int = 128,
                 seed: int = 0, repeat: int = 1, pad_to: int = 8, memory: bool = True,
                 transform: Callable[[Sample], Any] | None = None):
        if mode not in ("train", "test"):
            raise OptionError(f"mode must be 'train' or 'test', got {mode!r}")
        if not scenes:
            raise RealDataError("no scenes to load")
        self.scenes, self.mode, self.patch = scenes, mode, int(patch_size)
        self.seed, self.repeat, self.pad_to = int(seed), max(int(repeat), 1), max(int(pad_to), 1)
        self.memory, self.transform, self.epoch = memory, transform, 0
        self.root: Path | None = None  # set by the kalantari/sct/challenge123 helpers
        self._mem: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.scenes) * (self.repeat if self.mode == "train" else 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _scene(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if i in self._mem:
            return self._mem[i]
        data = load_scene(self.scenes[i])
        if self.memory:
            self._mem[i] = data
        return data

    def __getitem__(self, index: int) -> Sample | Any:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        k = index % len(self.scenes)
        ldr, label, exps = self._scene(k)
        h, w = label.shape[:2]
        if self.mode == "train":
            p = self.patch
            if h < p or w < p:
                raise RealDataError(f"{self.scenes[k].label}: image {w}x{h} smaller than "
                                    f"patch_size {p}")
            rng = sample_generator(self.seed, self.epoch, index)
            y0, x0 = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
            ldr, label = ldr[:, y0:y0 + p, x0:x0 + p], label[y0:y0 + p, x0:x0 + p]
            if rng.random() < 0.5:
                ldr, label = ldr[:, :, ::-1], label[:, ::-1]
            if rng.random() < 0.5:
                ldr, label = ldr[:, ::-1], label[::-1]
            perm = rng.permutation(3)
            ldr, label = ldr[..., perm], label[..., perm]
        else:
            ph, pw = (-h) % self.pad_to, (-w) % self.pad_to
            if ph or pw:
                ldr = np.pad(ldr, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")
        # size: the label's (H, W) -- the crop in train mode, the unpadded image in test mode
        sample = make_sample(ldr, exps, label, size=label.shape[:2],
                             sequence=self.scenes[k].name, index=index)
        return self.transform(sample) if self.transform is not None else sample

    def __repr__(self) -> str:
        root = self.root or os.path.commonpath([str(s.label.parent) for s in self.scenes])
        body = [f"Scenes: {len(self.scenes)}" + (f" x {self.repeat}" if self.mode == "train"
                                                 else ""),
                f"Mode: {self.mode}" + (f", patch size {self.patch}" if self.mode == "train"
                                        else f", inputs padded to a multiple of {self.pad_to}"),
                f"Seed: {self.seed}, epoch: {self.epoch}, in memory: {self.memory}"]
        return dataset_repr(self, body, root)


def _rooted(ds: RealHDRDataset, root: str | os.PathLike) -> RealHDRDataset:
    ds.root = Path(root)
    return ds


def kalantari(root: str | os.PathLike, mode: str = "test", **kw: Any) -> RealHDRDataset:
    """Kalantari & Ramamoorthi 2017 (SIG17) ``Training/`` or ``Test/`` folder."""
    return _rooted(RealHDRDataset(kalantari_scenes(root), mode, **kw), root)


def sct(root: str | os.PathLike, mode: str = "test", **kw: Any) -> RealHDRDataset:
    """SCT (Tel et al. 2023) ``Training/`` or ``Test/`` folder."""
    return _rooted(RealHDRDataset(sct_scenes(root), mode, **kw), root)


def challenge123(root: str | os.PathLike, mode: str = "test", **kw: Any) -> RealHDRDataset:
    """Challenge123 (Kong et al. 2024); training mode uses all 6 folder permutations."""
    scenes = challenge123_scenes(root, permutations=mode == "train")
    return _rooted(RealHDRDataset(scenes, mode, **kw), root)
