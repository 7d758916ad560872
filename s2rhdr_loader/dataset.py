"""``S2RHDRDataset``: training and evaluation samples from rendered linear-HDR sequences.

Samples are ``sample.Sample`` dicts (built by ``sample.make_sample``, shared with the real
and synthetic datasets): ``input0..2`` (6, P, P), ``label`` (3, P, P), ``exp`` (3,), plus
``frames`` (3,) int64, ``sequence`` and ``index``. Options are grouped in the frozen
:class:`DatasetOptions`.

Why it is fast: a crop needs only a band of rows, so frames are decoded with
``exr.read_exr_rows`` (or read from a memory-mapped patch cache, ``cache.py``) instead of
whole 1080p EXRs per sample as the release does (~96% of decoded pixels wasted, defect #15).
Why it is reproducible: every sample draws from its own generator seeded by
``(seed, epoch, index)`` (eval samples by ``(seed, index)``), so results do not depend on the
number of DataLoader workers, and nothing is seeded globally at import (defect #19).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from s2rhdr_loader import recipes
from s2rhdr_loader.cache import open_cache
from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.core.exr import read_exr_rows, read_header
from s2rhdr_loader.core.layout import LayoutError, SequenceInfo, discover
from s2rhdr_loader.recipes import NORMALIZE, frame_stats, normalize
from s2rhdr_loader.sample import Sample, dataset_repr, make_sample, sample_generator
from s2rhdr_loader.splits import DEFAULT_FRACTIONS, SPLITS, resolve

# re-exported: these lived here before the normalisation moved to recipes.py (issue 10)
__all__ = ["NORMALIZE", "DatasetOptions", "ExrFrames", "S2RHDRDataset", "eval_frames",
           "frame_stats", "normalize", "official_train_frames", "sample_generator",
           "write_synthetic_dataset"]
_RGB = ("R", "G", "B")


def official_train_frames(n: int, rng: np.random.Generator, full_range: bool = False) -> list[int]:
    """The release's training frame choice for an ``n``-frame sequence.

    ``extra ~ randint(1, 4)``, ``start ~ randint(0, n - 1 - 3 - extra)`` (inclusive), three
    frames sampled without order from ``[start, start + 3 + extra)``, list reversed with p=0.5.
    The release never reaches the last frame (the ``n - 1``); ``full_range=True`` fixes that.
    """
    if n < 3:
        idx = [min(i, n - 1) for i in range(3)]
        return idx[::-1] if rng.random() < 0.5 else idx
    last = n if full_range or n < 4 else n - 1  # too short to drop the last frame
    extra = int(rng.integers(1, 5))
    extra = min(extra, max(last - 3, 0))
    start = int(rng.integers(0, last - 3 - extra + 1))
    idx = [int(i) for i in rng.choice(np.arange(start, start + 3 + extra), 3, replace=False)]
    if full_range:
        idx.sort()
    return idx[::-1] if rng.random() < 0.5 else idx


def eval_frames(n: int) -> list[int]:
    """Centre frames two apart: 10, 12, 14 for 24 frames as in the release, adapted to ``n``."""
    if n < 3:
        return [min(i, n - 1) for i in range(3)]
    step = 2 if n >= 5 else 1
    start = min((n - 3) // 2, n - 1 - 2 * step)
    return [start, start + step, start + 2 * step]


class ExrFrames:
    """Crops of one sequence straight from its EXRs (band reads of the needed rows only).

    The header of frame 0 stands for every frame (a sequence has one size and format; a frame
    that differs is an ``ExrError`` naming it), so a crop costs one decode, not three opens.
    """

    def __init__(self, seq: SequenceInfo):
        self.seq = seq
        self.head = read_header(seq.frames[0])
        self.num_frames, self.height, self.width = seq.num_frames, self.head.height, self.head.width
        # HALF frames are decoded as float16 and only the crop is widened: converting the
        # whole band to float32 costs more than decoding it
        half = all(self.head.channels.get(c) == "half" for c in _RGB)
        self._dtype = np.float16 if half else np.float32
        self._stats: dict[str, float] | None = None

    def crop(self, i: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        band = read_exr_rows(self.seq.frames[i], y0, y1, channels=_RGB, dtype=self._dtype,
                             columns=(x0, x1), header=self.head)
        return recipes.half_to_float(band)

    def stats(self) -> dict[str, float]:
        if self._stats is None:
            self._stats = frame_stats(self.crop(0, 0, self.height, 0, self.width))
        return self._stats


def _pair(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        if size < 1:
            raise OptionError(f"patch_size must be positive, got {size}")
        return (int(size), int(size))
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise OptionError(f"patch_size must be an int, (height, width) or None, got "
                          f"{size!r}") from None
    if h < 1 or w < 1:
        raise OptionError(f"patch_size must be positive, got {size!r}")
    return (h, w)


@dataclass(frozen=True)
class DatasetOptions:
    """Every option of :class:`S2RHDRDataset`, validated once (frozen: share it, ``replace`` it).

    ``S2RHDRDataset(root, **kw)`` builds one from its keywords;
    ``S2RHDRDataset.from_options(root, dataclasses.replace(ds.options, split="val"))`` makes
    the matching evaluation set. ``patch_size`` is stored as ``(h, w)`` or ``None``.
    """

    split: str = "train"
    patch_size: tuple[int, int] | None = (128, 128)
    recipe: str = "official"
    nexps: int = 3
    frames: int = 3
    seed: int = 0
    normalize: str = "preserve"
    frame_scale: str = "none"
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    repeat: int | None = None
    augment: bool | None = None
    sensor: recipes.SensorModel | None = None
    cache: Path | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise the frozen fields once
        set_(self, "patch_size", _pair(self.patch_size))
        set_(self, "seed", int(self.seed))
        set_(self, "fractions", tuple(float(f) for f in self.fractions))
        if self.cache is not None:
            set_(self, "cache", Path(self.cache))
        if self.recipe not in recipes.RECIPES:
            raise OptionError(f"recipe must be one of {recipes.RECIPES}, got {self.recipe!r}")
        if self.normalize not in NORMALIZE:
            raise OptionError(f"normalize must be one of {NORMALIZE}, got {self.normalize!r}")
        if self.nexps != 3:
            raise OptionError(f"nexps={self.nexps}: only 3 exposures are supported "
                              "(short, medium, long)")
        if self.frames not in (1, 3):
            raise OptionError(f"frames={self.frames}: use 3 (one frame per exposure) or 1 "
                              "(static)")
        if self.split not in (*SPLITS, "all"):
            raise OptionError(f"split must be one of {SPLITS + ('all',)}, got {self.split!r}")
        if self.frame_scale not in ("none", "max"):
            raise OptionError(f"frame_scale must be 'none' or 'max', got {self.frame_scale!r}")
        if self.repeat is not None and int(self.repeat) < 1:
            raise OptionError(f"repeat must be >= 1, got {self.repeat}")

    @property
    def training(self) -> bool:
        """Random frames, crops and re-exposure (``augment``; default: the train split)."""
        return (self.split == "train") if self.augment is None else bool(self.augment)

    @property
    def epoch_repeat(self) -> int:
        """The release's epoch length: x23 at patch 512, x46 otherwise (training); x1 eval."""
        if self.repeat is not None:
            return int(self.repeat)
        if not self.training:
            return 1
        return 23 if self.patch_size == (512, 512) else 46


class S2RHDRDataset(Dataset):
    """Rendered HDR sequences -> fusion-network samples (``sample.Sample``).

    ``root`` holds sequences in our layout or the official ``img/HDR`` form. ``split`` is one
    of train/val/test (by sequence, ``splits.py``) or ``"all"``. Training (``augment``
    defaults to ``split == "train"``) draws random frames, crops, flips, channel permutation
    and re-exposure; evaluation uses the centre frames and a centre crop (``patch_size=None``
    for the full frame) with noise that depends only on ``(seed, index)``.
    ``recipe`` is ``"official"`` or ``"sensor"`` (``recipes.py``); ``normalize`` is
    ``"preserve"`` (default), ``"official"`` (p1-p99 of frame 0, clips highlights) or
    ``"none"`` (data already preprocessed). ``cache`` is a folder written by
    ``s2rhdr-loader cache``. ``frames=1`` takes all three exposures from one frame (no motion).
    ``repeat`` defaults to the release's epoch length (x46 at patch 128, x23 at 512; x1 eval).
    ``frame_scale="max"`` divides every frame by its own whole-frame maximum (after
    normalisation), as all of the release's training scripts do (``scale="max"``); it breaks
    the radiometric consistency between frames (s2rhdr-format.md section 9, defect 3), so
    ``"none"`` is the default. Use it with ``normalize="none"`` on ``official-preprocess``
    output to reproduce the release exactly. ``patch_size=(h, w)``: height first (the
    release's ``center_crop`` tuples are width first). All options are held, validated, in
    ``self.options`` (:class:`DatasetOptions`).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train",
                 patch_size: int | Sequence[int] | None = 128, recipe: str = "official",
                 nexps: int = 3, frames: int = 3, seed: int = 0,
                 transform: Callable[[Sample], Any] | None = None,
                 cache: str | os.PathLike | None = None, normalize: str = "preserve",
                 fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
                 repeat: int | None = None, augment: bool | None = None,
                 sensor: recipes.SensorModel | None = None, frame_scale: str = "none"):
        opts = DatasetOptions(split=split, patch_size=patch_size, recipe=recipe, nexps=nexps,
                              frames=frames, seed=seed, normalize=normalize,
                              frame_scale=frame_scale, fractions=fractions, repeat=repeat,
                              augment=augment, sensor=sensor,
                              cache=Path(cache) if cache is not None else None)
        self._setup(Path(root), opts, transform)

    @classmethod
    def from_options(cls, root: str | os.PathLike, options: DatasetOptions,
                     transform: Callable[[Sample], Any] | None = None) -> S2RHDRDataset:
        """The dataset for ready-made :class:`DatasetOptions` (e.g. ``replace``-d ones)."""
        self = cls.__new__(cls)
        self._setup(Path(root), options, transform)
        return self

    def with_options(self, **changes: Any) -> S2RHDRDataset:
        """The same root with some options changed, e.g. ``train.with_options(split="val")``."""
        return S2RHDRDataset.from_options(self.root, dataclasses.replace(self.options, **changes),
                                          self.transform)

    def _setup(self, root: Path, opts: DatasetOptions, transform: Any) -> None:
        self.root, self.options, self.transform = root, opts, transform
        self.epoch = 0
        self._maxima: dict[tuple[int, int], float] = {}
        self.sequences = self._select(root, opts)
        if opts.cache is not None:
            self._sources: list[Any] = open_cache(opts.cache, self.sequences)
        else:
            self._sources = [ExrFrames(s) for s in self.sequences]
        if opts.patch_size is not None:
            ph, pw = opts.patch_size
            for src in self._sources:
                if src.height < ph or src.width < pw:
                    raise LayoutError(f"{src.seq.path}: frames are {src.width}x{src.height}, "
                                      f"smaller than patch_size {pw}x{ph}")

    @staticmethod
    def _select(root: Path, opts: DatasetOptions) -> list[SequenceInfo]:
        found = discover(root)  # skips files, hidden/staging folders, folders without img/
        if not found:
            raise LayoutError(f"{root}: no sequences found (expected <seq>/img/0000.exr "
                              "or <seq>/img/HDR/0003.exr)")
        if opts.split == "all":
            return found
        names = resolve(root, [s.name for s in found], opts.fractions)[opts.split]
        if not names:
            raise LayoutError(f"{root}: split '{opts.split}' is empty ({len(found)} sequences; "
                              "use split='all', other fractions, or edit splits.json)")
        keep = set(names)
        return [s for s in found if s.name in keep]

    # the options as attributes (the names the constructor takes)
    split = property(lambda self: self.options.split)
    recipe = property(lambda self: self.options.recipe)
    normalize = property(lambda self: self.options.normalize)
    frame_scale = property(lambda self: self.options.frame_scale)
    frames = property(lambda self: self.options.frames)
    seed = property(lambda self: self.options.seed)
    sensor = property(lambda self: self.options.sensor)
    patch = property(lambda self: self.options.patch_size)
    augment = property(lambda self: self.options.training)
    repeat = property(lambda self: self.options.epoch_repeat)
    cache_dir = property(lambda self: self.options.cache)

    def __len__(self) -> int:
        return len(self.sequences) * self.repeat

    def __repr__(self) -> str:
        o = self.options
        patch = "full frame" if o.patch_size is None else "x".join(map(str, o.patch_size))
        body = [f"Split: {o.split} ({len(self.sequences)} sequences x {self.repeat})",
                f"Recipe: {o.recipe}" + (f" ({o.sensor})" if o.sensor is not None else ""),
                f"Patch size (h x w): {patch}",
                f"Mode: {'training (random frames, crops, flips)' if o.training else 'eval'}",
                f"Normalize: {o.normalize}, frame scale: {o.frame_scale}",
                f"Frames per sample: {o.frames}, seed: {o.seed}, epoch: {self.epoch}",
                f"Source: {'cache ' + str(o.cache) if o.cache is not None else 'EXR band reads'}"]
        return dataset_repr(self, body, self.root)

    def set_epoch(self, epoch: int) -> None:
        """New augmentations per epoch (call before iterating; not seen by persistent workers)."""
        self.epoch = int(epoch)

    def _window(self, src: Any, rng: np.random.Generator) -> tuple[int, int, int, int]:
        if self.patch is None:
            return 0, src.height, 0, src.width
        ph, pw = self.patch
        if self.augment:
            y0 = int(rng.integers(0, src.height - ph + 1))
            x0 = int(rng.integers(0, src.width - pw + 1))
        else:  # the release's center_crop
            y0, x0 = (src.height - ph) // 2, (src.width - pw) // 2
        return y0, y0 + ph, x0, x0 + pw

    def _frame_ids(self, n: int, rng: np.random.Generator) -> list[int]:
        if not self.augment:
            ids = eval_frames(n)
            return [ids[1]] * 3 if self.frames == 1 else ids
        ids = official_train_frames(n, rng, full_range=self.recipe == "sensor")
        return [ids[0]] * 3 if self.frames == 1 else ids

    def load(self, index: int) -> tuple[np.ndarray, list[int], np.random.Generator]:
        """Normalised, augmented HDR crops (3, h, w, 3) before LDR synthesis."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        src = self._sources[index % len(self.sequences)]
        rng = sample_generator(self.seed, self.epoch if self.augment else 0, index)
        ids = self._frame_ids(src.num_frames, rng)
        y0, y1, x0, x1 = self._window(src, rng)
        crops: dict[int, np.ndarray] = {}
        for i in ids:
            if i not in crops:
                crops[i] = src.crop(i, y0, y1, x0, x1)
        hdr = np.stack([crops[i] for i in ids]).astype(np.float32, copy=False)
        if not np.isfinite(hdr).all():  # rendered NaN/inf: treat as black (validate flags it)
            hdr[~np.isfinite(hdr)] = 0.0
        np.maximum(hdr, 0.0, out=hdr)
        hdr = normalize(hdr, src.stats(), self.normalize)
        if self.frame_scale == "max":
            for j, i in enumerate(ids):
                peak = self._frame_max(index % len(self.sequences), i)
                if peak > 0:  # an all-black frame stays black (the release divides by 0)
                    hdr[j] /= np.float32(peak)
        if self.augment:
            if rng.random() < 0.5:
                hdr = hdr[:, :, ::-1]
            if rng.random() < 0.5:
                hdr = hdr[:, ::-1]
            hdr = hdr[..., rng.permutation(3)]
        return np.ascontiguousarray(hdr), ids, rng

    def _frame_max(self, seq: int, i: int) -> float:
        """Whole-frame maximum after normalisation (read once per frame and worker)."""
        key = (seq, i)
        if key not in self._maxima:
            src = self._sources[seq]
            full = src.crop(i, 0, src.height, 0, src.width)
            peak = np.float32(np.nan_to_num(full, nan=0.0, posinf=0.0).max(initial=0.0))
            peak_arr = np.full((1, 1, 3), max(peak, np.float32(0.0)), np.float32)
            self._maxima[key] = float(normalize(peak_arr, src.stats(), self.normalize).max())
        return self._maxima[key]

    def __getitem__(self, index: int) -> Any:
        hdr, ids, rng = self.load(index)
        if self.recipe == "official":
            syn = recipes.official(hdr, rng, train=self.augment)
        else:
            syn = recipes.sensor(hdr, rng, train=self.augment, model=self.sensor)
        sample = make_sample(syn.ldr, syn.exposures, syn.label, linear=syn.linear, frames=ids,
                             sequence=self.sequences[index % len(self.sequences)].name,
                             index=index)
        return self.transform(sample) if self.transform is not None else sample


def write_synthetic_dataset(root: str | os.PathLike, names: Sequence[str], *, frames: int = 6,
                            height: int = 48, width: int = 64, seed: int = 0,
                            official_layout: bool = False) -> list[Path]:
    """Write small moving linear-HDR sequences (for tests, benchmarks and demos, not training).

    Content: a lit gradient, texture, a moving emitter ~50x brighter than the scene and a
    one-pixel sun (400) above the 99.9th percentile, so
    re-exposure, saturation and the normalisation modes have something to act on.
    ``official_layout`` uses ``img/HDR/0003.exr ...`` instead of ``img/0000.exr ...``.
    """
    from s2rhdr_loader.core.exr import write_exr

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for name in names:
        tex = rng.random((height, width, 3), dtype=np.float32)
        tint = rng.uniform(0.5, 1.5, 3).astype(np.float32)
        seq = Path(root) / name
        for f in range(frames):
            base = 0.05 + 0.4 * (xx + 2 * f) / width
            img = (base[..., None] * tint * (0.6 + 0.4 * tex)).astype(np.float32)
            cy, cx = height / 2, (0.2 + 0.6 * f / max(frames - 1, 1)) * width
            disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < (min(height, width) / 8) ** 2
            img[disc] = 20.0 * tint
            img[height // 4, width // 4] = 400.0  # a one-pixel "sun" above p99.9
            folder = seq / "img" / "HDR" if official_layout else seq / "img"
            index = f + 3 if official_layout else f
            write_exr(folder / f"{index:04d}.exr", img)
        out.append(seq)
    return out
