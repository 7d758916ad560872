"""S2RHDRDataset: sample format, official frame/crop rules, splits, reproducibility, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from s2rhdr_loader import S2RHDRDataset
from s2rhdr_loader.core.exr import ExrError, read_exr
from s2rhdr_loader.core.layout import LayoutError
from s2rhdr_loader.dataset import (
    eval_frames,
    frame_stats,
    normalize,
    official_train_frames,
    sample_generator,
    write_synthetic_dataset,
)
from s2rhdr_loader.splits import assign, resolve, split_of, write_splits

NAMES = ["seq_a", "seq_b", "seq_c"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("ds")
    write_synthetic_dataset(r, NAMES, frames=8, height=40, width=56, seed=1)
    write_synthetic_dataset(r, ["official_form"], frames=8, height=40, width=56, seed=2,
                            official_layout=True)
    return r


def test_sample_format(root):
    ds = S2RHDRDataset(root, split="all", patch_size=32, augment=True, repeat=2)
    assert len(ds) == 8
    s = ds[5]
    for k in ("input0", "input1", "input2"):
        assert s[k].shape == (6, 32, 32) and s[k].dtype == torch.float32
    assert s["label"].shape == (3, 32, 32) and s["label"].dtype == torch.float32
    assert s["exp"].shape == (3,) and s["exp"][0] == 1.0
    assert tuple(s["exp"].tolist()) in {(1.0, 4.0, 16.0), (1.0, 8.0, 64.0)}
    assert 0 <= float(s["input0"][3:].min()) and float(s["input2"][3:].max()) <= 1.0
    assert s["sequence"] in NAMES + ["official_form"]
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["input1"].shape == (4, 6, 32, 32) and len(batch["sequence"]) == 4


def test_both_layouts_are_read(root):
    ds = S2RHDRDataset(root, split="all", patch_size=None)
    assert [s.name for s in ds.sequences] == sorted(NAMES + ["official_form"])
    assert {s.variant for s in ds.sequences} == {"ours", "official_hdr"}


def test_eval_sample_is_centre_frames_centre_crop_of_the_raw_data(root):
    ds = S2RHDRDataset(root, split="all", patch_size=(20, 30), normalize="none")
    s = ds[1]  # seq_a is index 1 (official_form sorts first)
    assert s["sequence"] == "seq_a"
    assert s["frames"].tolist() == eval_frames(8) == [2, 4, 6]
    full = read_exr(root / "seq_a" / "img" / "0004.exr")
    y0, x0 = (40 - 20) // 2, (56 - 30) // 2
    np.testing.assert_array_equal(s["label"].numpy().transpose(1, 2, 0),
                                  full[y0:y0 + 20, x0:x0 + 30])
    assert torch.equal(ds[1]["input0"], s["input0"])  # eval noise is seeded by index


def test_release_frame_rules():
    assert eval_frames(24) == [10, 12, 14]
    for n in (1, 2, 3, 4, 5, 6, 24):
        ids = eval_frames(n)
        assert len(ids) == 3 and all(0 <= i < n for i in ids)
    for n in (1, 2, 3, 4, 5, 6):
        for full in (False, True):
            for i in range(50):
                ids = official_train_frames(n, sample_generator(1, i), full_range=full)
                assert len(ids) == 3 and all(0 <= k < n for k in ids)
                assert len(set(ids)) == min(n, 3)
    used = set()
    for i in range(2000):
        ids = official_train_frames(24, sample_generator(0, i))
        assert len(set(ids)) == 3 and max(ids) - min(ids) <= 6
        used.update(ids)
    assert max(used) == 22 and min(used) == 0  # the release never samples frame 23
    full = set()
    for i in range(2000):
        full.update(official_train_frames(24, sample_generator(0, i), full_range=True))
    assert max(full) == 23


def test_normalisation_modes():
    frame0 = np.linspace(0, 100, 3 * 1000, dtype=np.float32).reshape(1, 1000, 3)
    st = frame_stats(frame0)
    off = normalize(frame0 * 2, st, "official")
    assert off.max() == 1.0 and off.min() == 0.0  # p99 clips highlights
    kept = normalize(frame0 * 2, st, "preserve")
    assert kept.max() == pytest.approx(200 / st["p999"], rel=1e-5)  # nothing clipped
    np.testing.assert_allclose(kept, frame0 * 2 / st["p999"], rtol=1e-6)


def test_highlight_preserving_label_exceeds_one_with_sensor_recipe(root):
    ds = S2RHDRDataset(root, split="all", patch_size=None, recipe="sensor",
                       normalize="preserve")
    ds_off = S2RHDRDataset(root, split="all", patch_size=None, recipe="official",
                           normalize="official")
    assert max(float(ds[i]["label"].max()) for i in range(len(ds))) > 1.0
    assert max(float(ds_off[i]["label"].max()) for i in range(len(ds))) <= 1.0


def test_same_samples_with_zero_and_two_workers(root):
    ds = S2RHDRDataset(root, split="all", patch_size=24, augment=True, repeat=3, seed=7)
    ds.set_epoch(2)

    def collect(workers):
        loader = DataLoader(ds, batch_size=3, num_workers=workers, shuffle=False)
        return [b for b in loader]

    a, b = collect(0), collect(2)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):
        for k in ("input0", "input1", "input2", "label", "exp", "frames"):
            assert torch.equal(x[k], y[k])
    ds.set_epoch(3)
    assert not torch.equal(ds[0]["input0"], a[0]["input0"][0])  # new epoch, new draws
    other = S2RHDRDataset(root, split="all", patch_size=24, augment=True, repeat=3, seed=8)
    other.set_epoch(2)
    assert not torch.equal(other[0]["input0"], a[0]["input0"][0])


def test_splits_are_disjoint_stable_and_complete(root):
    names = [f"scene_{i}" for i in range(200)]
    groups = assign(names, (0.6, 0.2, 0.2))
    flat = [n for g in groups.values() for n in g]
    assert sorted(flat) == sorted(names)
    assert 90 < len(groups["train"]) < 150 and groups["val"] and groups["test"]
    more = assign(names + [f"new_{i}" for i in range(50)], (0.6, 0.2, 0.2))
    for s in groups:  # adding sequences never moves existing ones
        assert set(groups[s]) <= set(more[s])
    assert all(split_of(n, (0.6, 0.2, 0.2)) == s for s, g in groups.items() for n in g)


def test_dataset_splits_do_not_leak(tmp_path):
    names = [f"s{i:02d}" for i in range(10)]
    write_synthetic_dataset(tmp_path, names, frames=3, height=24, width=32)
    fr = (0.5, 0.25, 0.25)
    seen = {}
    for split in ("train", "val", "test"):
        try:
            ds = S2RHDRDataset(tmp_path, split=split, patch_size=16, fractions=fr)
        except LayoutError as exc:
            assert "is empty" in str(exc)
            continue
        seen[split] = {s.name for s in ds.sequences}
    assert set().union(*seen.values()) == set(names)
    assert sum(len(v) for v in seen.values()) == len(names)
    # splits.json wins over the rule once written, and is validated
    write_splits(tmp_path, names, fr)
    assert resolve(tmp_path, names, (1.0, 0.0, 0.0)) == assign(names, fr)
    (tmp_path / "splits.json").write_text(
        '{"format": "s2rhdr.splits", "train": ["s00"], "val": ["s00"], "test": []}')
    with pytest.raises(LayoutError, match="both 'train' and 'val'"):
        S2RHDRDataset(tmp_path, split="train", patch_size=16)


def test_corrupt_or_missing_frames_name_the_file(tmp_path):
    write_synthetic_dataset(tmp_path, ["bad"], frames=3, height=24, width=32)
    bad = tmp_path / "bad" / "img" / "0001.exr"
    bad.write_bytes(bad.read_bytes()[:300])
    ds = S2RHDRDataset(tmp_path, split="all", patch_size=16)
    with pytest.raises(ExrError, match="0001.exr"):
        ds[0]
    with pytest.raises(LayoutError, match="dataset root not found"):
        S2RHDRDataset(tmp_path / "nope")
    with pytest.raises(LayoutError, match="smaller than patch_size"):
        S2RHDRDataset(tmp_path, split="all", patch_size=64)
    with pytest.raises(ValueError, match="recipe"):
        S2RHDRDataset(tmp_path, split="all", recipe="fancy")


def test_band_crops_equal_whole_frame_crops_and_a_resized_frame_is_named(tmp_path):
    from s2rhdr_loader.core.exr import write_exr
    from s2rhdr_loader.dataset import ExrFrames

    write_synthetic_dataset(tmp_path, ["s"], frames=3, height=40, width=56)
    src = ExrFrames(S2RHDRDataset(tmp_path, split="all", patch_size=None).sequences[0])
    whole = read_exr(tmp_path / "s" / "img" / "0002.exr")
    np.testing.assert_array_equal(src.crop(2, 17, 33, 5, 29), whole[17:33, 5:29])
    # frame 1 rewritten at another size: the header of frame 0 no longer fits it
    write_exr(tmp_path / "s" / "img" / "0001.exr", np.ones((40, 60, 3), np.float32))
    with pytest.raises(ExrError, match="0001.exr: size or pixel type differs"):
        src.crop(1, 0, 16, 0, 16)
    write_exr(tmp_path / "s" / "img" / "0001.exr", np.ones((20, 56, 3), np.float32))
    with pytest.raises(ExrError, match="0001.exr: cannot decode rows"):
        src.crop(1, 24, 40, 0, 16)


def test_options_are_grouped_validated_and_replaceable(root):
    ds = S2RHDRDataset(root, split="all", patch_size=(20, 30), seed=4, augment=True)
    assert ds.options.patch_size == (20, 30) and ds.patch == (20, 30) and ds.seed == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.options.seed = 5
    val = ds.with_options(augment=False, patch_size=None)
    assert val.augment is False and val.patch is None and len(val) == len(ds.sequences)
    same = S2RHDRDataset.from_options(root, ds.options)
    assert torch.equal(same[3]["label"], ds[3]["label"])
    with pytest.raises(ValueError, match="patch_size must be positive"):
        S2RHDRDataset(root, split="all", patch_size=0)
    with pytest.raises(ValueError, match="frame_scale must be"):
        ds.with_options(frame_scale="mean")


def test_default_epoch_length_follows_the_release(root):
    assert len(S2RHDRDataset(root, split="all", patch_size=32, augment=True)) == 4 * 46
    assert len(S2RHDRDataset(root, split="all", patch_size=32)) == 4


def test_cli_info_and_split(tmp_path, capsys):
    from s2rhdr_loader.cli import main

    write_synthetic_dataset(tmp_path, ["x1", "x2"], frames=3, height=24, width=32)
    main(["info", str(tmp_path)])
    out = capsys.readouterr().out
    assert "x1\tours\t3 frames\t32x24" in out and "2 sequences" in out
    main(["split", str(tmp_path), "--fractions", "0", "1", "0"])
    assert "val: 2" in capsys.readouterr().out
    assert {s.name for s in S2RHDRDataset(tmp_path, split="val", patch_size=16).sequences} \
        == {"x1", "x2"}
    with pytest.raises(SystemExit) as ex:
        main(["split", str(tmp_path), "--fractions", "0.5", "0.6", "0"])
    assert ex.value.code == 2 and "summing to 1" in capsys.readouterr().err


def test_official_normalisation_matches_official_preprocess(root, tmp_path):
    from s2rhdr_loader.preprocess import official_preprocess

    official_preprocess(root, tmp_path / "proc", patch=None, progress=False)
    raw = S2RHDRDataset(root, split="all", patch_size=None, normalize="official")
    proc = S2RHDRDataset(tmp_path / "proc", split="all", patch_size=None, normalize="none")
    for i in range(len(raw)):
        a, b = raw[i], proc[i]
        assert a["sequence"] == b["sequence"]
        for k in ("label", "input0", "input1", "input2", "exp"):
            assert torch.equal(a[k], b[k]), k


def test_static_mode_uses_one_frame(root):
    ds = S2RHDRDataset(root, split="all", patch_size=16, frames=1, augment=True, repeat=4)
    for i in range(0, len(ds), 3):
        ids = ds[i]["frames"].tolist()
        assert ids[0] == ids[1] == ids[2]


def test_frame_scale_max_divides_each_frame_by_its_whole_frame_peak(tmp_path):
    """The release's scale="max": every frame / its own maximum, measured on the whole frame."""
    from s2rhdr_loader.core import exr

    rng = np.random.default_rng(0)
    base = rng.uniform(0.01, 1.0, size=(40, 48, 3)).astype(np.float32)
    base[3, 5] = 4.0  # the peak sits outside the centre crop
    for k in range(6):
        exr.write_exr(tmp_path / "seq" / "img" / f"{k:04d}.exr", base * (k + 1) / 6,
                      pixel_type="float")
    full = S2RHDRDataset(tmp_path, split="all", patch_size=None, normalize="none",
                         frame_scale="max")
    hdr, ids, _ = full.load(0)
    assert [float(f.max()) for f in hdr] == pytest.approx([1.0, 1.0, 1.0])
    crop = S2RHDRDataset(tmp_path, split="all", patch_size=16, normalize="none",
                         frame_scale="max")
    hdr_c, ids_c, _ = crop.load(0)
    np.testing.assert_allclose(hdr_c[0], (base / 4.0)[12:28, 16:32], rtol=1e-6)
    plain, _, _ = S2RHDRDataset(tmp_path, split="all", patch_size=None,
                                normalize="none").load(0)
    assert plain[0].max() == pytest.approx(4.0 * (ids[0] + 1) / 6)
    with pytest.raises(ValueError, match="frame_scale"):
        S2RHDRDataset(tmp_path, split="all", frame_scale="p99")
