"""The sample-format contract for every dataset class (torchvision ``DatasetTestCase`` style).

One base class states what a model relies on -- keys, dtypes, shapes, value ranges, the input
encoding ``[LDR**2.2 / t, LDR]``, determinism per seed, ``len``, ``repr``, DataLoader batching,
a clear error for a missing file -- and each dataset class (rendered EXR/cache, real
benchmarks, synthetic) gets a subclass that only says how to build it. A new dataset class is
added here by writing one more subclass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from s2rhdr_loader import real
from s2rhdr_loader.cache import build_cache
from s2rhdr_loader.core.errors import DataError, S2RError
from s2rhdr_loader.core.hdr import write_hdr
from s2rhdr_loader.core.tiff import write_tiff16
from s2rhdr_loader.dataset import S2RHDRDataset, write_synthetic_dataset
from s2rhdr_loader.sample import OPTIONAL_KEYS, REQUIRED_KEYS
from s2rhdr_loader.synthetic import SyntheticHDRDataset

EXPOSURE_SETS = {(1.0, 4.0, 16.0), (1.0, 8.0, 64.0)}  # the release's (and ours)


class DatasetContract:
    """Override ``make``; set ``length``, ``extra_keys``, ``size`` and the flags below."""

    cls: type
    length: int
    size: tuple[int, int]  # (H, W) of input tensors
    label_size: tuple[int, int] | None = None  # default: ``size``
    extra_keys: frozenset[str] = frozenset()
    random: bool = True  # samples depend on the seed
    label_max: float = 1.0  # upper bound of label values (None: unbounded)
    exposures: set[tuple[float, ...]] = EXPOSURE_SETS

    def make(self, tmp: Path, seed: int = 0) -> Any:
        raise NotImplementedError

    def remove_a_file(self, tmp: Path, ds: Any) -> str:
        """Delete a file the dataset needs; return (part of) its path."""
        raise NotImplementedError

    # ---- the contract ------------------------------------------------------------------

    def test_len_repr_and_index_errors(self, tmp_path):
        ds = self.make(tmp_path)
        assert len(ds) == self.length
        text = repr(ds)
        assert text.startswith(f"Dataset {self.cls.__name__}\n")
        assert f"    Number of datapoints: {self.length}" in text.splitlines()
        with pytest.raises(IndexError):
            ds[len(ds)]

    def test_keys_dtypes_and_shapes(self, tmp_path):
        ds = self.make(tmp_path)
        s = ds[len(ds) - 1]
        assert set(s) == set(REQUIRED_KEYS) | self.extra_keys
        assert self.extra_keys <= set(OPTIONAL_KEYS)
        h, w = self.size
        for k in ("input0", "input1", "input2"):
            assert s[k].dtype == torch.float32 and tuple(s[k].shape) == (6, h, w), k
            assert s[k].is_contiguous()
        assert s["label"].dtype == torch.float32
        assert tuple(s["label"].shape) == (3, *(self.label_size or self.size))
        assert s["exp"].dtype == torch.float32 and tuple(s["exp"].shape) == (3,)
        if "frames" in s:
            assert s["frames"].dtype == torch.int64 and tuple(s["frames"].shape) == (3,)
        if "size" in s:
            assert s["size"].dtype == torch.int64 and tuple(s["size"].tolist()) == \
                tuple(s["label"].shape[-2:])
        if "sequence" in s:
            assert isinstance(s["sequence"], str) and s["sequence"]
        if "index" in s:
            assert s["index"] == len(ds) - 1

    def test_values_follow_the_input_encoding(self, tmp_path):
        ds = self.make(tmp_path)
        for i in range(min(len(ds), 3)):
            s = ds[i]
            exp = tuple(float(v) for v in s["exp"])
            assert exp in self.exposures and exp[0] == 1.0 and exp[0] < exp[1] < exp[2]
            for j in range(3):
                lin, ldr = s[f"input{j}"][:3].double(), s[f"input{j}"][3:].double()
                assert 0.0 <= float(ldr.min()) and float(ldr.max()) <= 1.0
                # the linear half is LDR**2.2 / t (the release's ldr_to_hdr), per pixel
                torch.testing.assert_close(lin, ldr ** 2.2 / exp[j], rtol=1e-5, atol=1e-7)
            label = s["label"]
            assert torch.isfinite(label).all() and float(label.min()) >= 0.0
            if self.label_max is not None:
                assert float(label.max()) <= self.label_max

    def test_deterministic_per_seed(self, tmp_path):
        a, b = self.make(tmp_path, seed=0), self.make(tmp_path, seed=0)
        i = len(a) - 1
        sa, sb = a[i], b[i]
        for k in REQUIRED_KEYS:
            assert torch.equal(sa[k], sb[k]), k
        assert torch.equal(a[i]["input0"], sa["input0"])  # the same index twice: same sample
        other = self.make(tmp_path, seed=1)[i]
        same = all(torch.equal(sa[k], other[k]) for k in REQUIRED_KEYS)
        assert same != self.random

    def test_batches_with_a_dataloader(self, tmp_path):
        ds = self.make(tmp_path)
        batch = next(iter(DataLoader(ds, batch_size=2)))
        h, w = self.size
        assert tuple(batch["input1"].shape) == (2, 6, h, w)
        assert tuple(batch["exp"].shape) == (2, 3)

    def test_a_missing_file_is_a_clear_data_error(self, tmp_path):
        ds = self.make(tmp_path)
        part = self.remove_a_file(tmp_path, ds)
        with pytest.raises(S2RError) as err:
            ds[0]
        assert isinstance(err.value, DataError)
        message = str(err.value)
        assert part in message and "\n" not in message


# ---- rendered sequences ---------------------------------------------------------------------

def _rendered(tmp: Path) -> Path:
    root = tmp / "data"
    if not root.exists():
        write_synthetic_dataset(root, ["seq_a", "seq_b"], frames=8, height=24, width=32, seed=1)
    return root


class TestS2RHDRTrainContract(DatasetContract):
    cls = S2RHDRDataset
    length, size = 6, (16, 16)
    extra_keys = frozenset({"frames", "sequence", "index"})

    def make(self, tmp, seed=0):
        return S2RHDRDataset(_rendered(tmp), split="all", patch_size=16, augment=True, repeat=3,
                             seed=seed)

    def remove_a_file(self, tmp, ds):
        for p in (tmp / "data" / "seq_a" / "img").glob("*.exr"):
            p.unlink()
        return "seq_a/img/"


class TestS2RHDREvalContract(DatasetContract):
    cls = S2RHDRDataset
    length, size = 2, (24, 32)  # full frames
    extra_keys = frozenset({"frames", "sequence", "index"})
    label_max = 2000.0  # normalize="preserve": nothing clipped (the one-pixel sun)

    def make(self, tmp, seed=0):
        return S2RHDRDataset(_rendered(tmp), split="all", patch_size=None, seed=seed)

    def remove_a_file(self, tmp, ds):
        frame = tmp / "data" / "seq_a" / "img" / "0004.exr"  # an eval frame of 8 (3, 4, 5)
        frame.unlink()
        return "seq_a/img/0004.exr"


class TestS2RHDRSensorCacheContract(DatasetContract):
    cls = S2RHDRDataset
    length, size = 4, (12, 20)
    extra_keys = frozenset({"frames", "sequence", "index"})
    label_max = None  # the sensor recipe keeps highlights above 1

    def make(self, tmp, seed=0):
        cache = tmp / "cache"
        if not cache.exists():
            build_cache(_rendered(tmp), cache, progress=False)
        return S2RHDRDataset(_rendered(tmp), split="all", patch_size=(12, 20), recipe="sensor",
                             augment=True, repeat=2, cache=cache, seed=seed)

    def remove_a_file(self, tmp, ds):
        (tmp / "cache" / "seq_a.npy").unlink()
        return "seq_a.npy"


# ---- real benchmarks ------------------------------------------------------------------------

H, W = 12, 18


def _write_real_scene(d: Path, names: tuple[str, str, str], label_name: str, ev: str,
                      seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name in names:
        write_tiff16(d / name, rng.integers(0, 65536, (H, W, 3), dtype=np.uint16))
    write_hdr(d / label_name, rng.random((H, W, 3)).astype(np.float32))
    (d / "exposure.txt").write_text(ev)


class TestKalantariContract(DatasetContract):
    cls = real.RealHDRDataset
    length, size, label_size = 2, (16, 24), (H, W)  # inputs padded to a multiple of 8
    extra_keys = frozenset({"size", "sequence", "index"})
    random = False  # test mode: full images, no randomness
    label_max = 1.0 + 1e-6

    def make(self, tmp, seed=0):
        root = tmp / "Kalantari" / "Test"
        for k, scene in enumerate(("PAPER/BarbequeDay", "EXTRA/001")):
            if not (root / scene).exists():
                _write_real_scene(root / scene, ("a.tif", "b.tif", "c.tif"), "HDRImg.hdr",
                                  "0\n2\n4\n", k)
        return real.kalantari(root, seed=seed, memory=False)

    def remove_a_file(self, tmp, ds):
        (tmp / "Kalantari" / "Test" / "EXTRA" / "001" / "HDRImg.hdr").unlink()
        return "001/HDRImg.hdr"


class TestSCTTrainContract(DatasetContract):
    cls = real.RealHDRDataset
    length, size = 4, (8, 8)
    extra_keys = frozenset({"size", "sequence", "index"})
    label_max = 1.0 + 1e-6

    def make(self, tmp, seed=0):
        root = tmp / "SCT" / "Training"
        for k in range(2):
            if not (root / f"scene_{k}").exists():
                _write_real_scene(root / f"scene_{k}", ("input_1.tif", "input_2.tif",
                                                         "input_3.tif"),
                                  "HDRImg.hdr", "0\n3\n6\n", 10 + k)
        return real.sct(root, mode="train", patch_size=8, repeat=2, seed=seed, memory=False)

    def remove_a_file(self, tmp, ds):
        (tmp / "SCT" / "Training" / "scene_0" / "input_2.tif").unlink()
        return "scene_0/input_2.tif"


class TestChallenge123TrainContract(DatasetContract):
    cls = real.RealHDRDataset
    length, size = 6, (8, 8)  # 6 folder permutations of one scene
    extra_keys = frozenset({"size", "sequence", "index"})
    label_max = 1.0 + 1e-6

    def make(self, tmp, seed=0):
        root = tmp / "Challenge123" / "Train"
        for k in (1, 2, 3):
            if not (root / f"042_{k}").exists():
                _write_real_scene(root / f"042_{k}", ("ldr_img_1.tif", "ldr_img_2.tif",
                                                      "ldr_img_3.tif"),
                                  "hdr_img.hdr", "0 2 4", 20 + k)
        return real.challenge123(root, mode="train", patch_size=8, seed=seed, memory=False)

    def remove_a_file(self, tmp, ds):
        (tmp / "Challenge123" / "Train" / "042_1" / "ldr_img_1.tif").unlink()
        return "042_1/ldr_img_1.tif"


# ---- synthetic data -------------------------------------------------------------------------

class TestSyntheticSourceContract(DatasetContract):
    cls = SyntheticHDRDataset
    length, size = 5, (16, 16)

    def make(self, tmp, seed=0):
        return SyntheticHDRDataset(5, 16, "source", seed=seed)

    test_a_missing_file_is_a_clear_data_error = None  # procedural data: reads no files

    def test_bad_options_are_option_errors(self, tmp_path):
        from s2rhdr_loader.core.errors import OptionError

        with pytest.raises(OptionError, match="synthetic domain 'real'"):
            SyntheticHDRDataset(4, 16, "real")


class TestSyntheticTargetContract(TestSyntheticSourceContract):
    label_max = None  # brighter highlights (up to ~3) in the target domain

    def make(self, tmp, seed=0):
        return SyntheticHDRDataset(5, 16, "target", seed=seed)
