"""Patch cache: same samples as the EXR path, resumable, verified by hashes, stale detection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from s2rhdr_loader import S2RHDRDataset
from s2rhdr_loader.cache import build_cache, verify_cache
from s2rhdr_loader.cli import main
from s2rhdr_loader.core.exr import read_exr
from s2rhdr_loader.core.layout import LayoutError
from s2rhdr_loader.dataset import write_synthetic_dataset


@pytest.fixture()
def data(tmp_path):
    root = tmp_path / "data"
    write_synthetic_dataset(root, ["a", "b"], frames=5, height=32, width=40)
    return root, tmp_path / "cache"


def test_cache_gives_identical_samples(data):
    root, cache = data
    rep = build_cache(root, cache, progress=False)
    assert rep.built == ["a", "b"] and not rep.failed
    arr = np.load(cache / "a.npy", mmap_mode="r")
    assert arr.dtype == np.float16 and arr.shape == (5, 32, 40, 3)
    np.testing.assert_array_equal(arr[3], read_exr(root / "a" / "img" / "0003.exr"))
    for recipe in ("official", "sensor"):
        kw = dict(split="all", patch_size=16, augment=True, repeat=3, recipe=recipe, seed=4)
        plain, cached = S2RHDRDataset(root, **kw), S2RHDRDataset(root, cache=cache, **kw)
        for i in range(len(plain)):
            x, y = plain[i], cached[i]
            for k in ("input0", "input1", "input2", "label", "exp"):
                assert torch.equal(x[k], y[k]), (recipe, i, k)


def test_cache_resumes_and_rebuilds_changed_sequences(data, capsys):
    root, cache = data
    build_cache(root, cache, progress=False)
    rep = build_cache(root, cache, progress=False)
    assert rep.skipped == ["a", "b"] and not rep.built
    write_synthetic_dataset(root, ["b"], frames=5, height=32, width=40, seed=9)  # new content
    rep = build_cache(root, cache, progress=False)
    assert rep.built == ["b"] and rep.skipped == ["a"]
    assert not list(cache.glob(".*.tmp"))


def test_verify_detects_corruption_and_dataset_detects_stale(data, capsys):
    root, cache = data
    build_cache(root, cache, progress=False)
    assert verify_cache(cache) == []
    raw = bytearray((cache / "a.npy").read_bytes())
    raw[-10] ^= 0xFF
    (cache / "a.npy").write_bytes(bytes(raw))
    problems = verify_cache(cache)
    assert len(problems) == 1 and "a.npy" in problems[0]
    with pytest.raises(SystemExit) as ex:
        main(["cache", str(root), "-o", str(cache), "--verify", "--quiet"])
    assert ex.value.code == 1 and "sha256 mismatch" in capsys.readouterr().err
    write_synthetic_dataset(root, ["c"], frames=5, height=32, width=40)
    with pytest.raises(LayoutError, match="'c' is not cached"):
        S2RHDRDataset(root, split="all", cache=cache)
    frame = root / "b" / "img" / "0000.exr"
    frame.write_bytes(frame.read_bytes() + b"\0")
    with pytest.raises(LayoutError, match="'b' is stale"):
        S2RHDRDataset(root.parent / "data", split="all", cache=cache)


def test_cache_isolates_a_broken_sequence(data, capsys):
    root, cache = data
    (root / "b" / "img" / "0002.exr").write_bytes(b"not an exr")
    with pytest.raises(SystemExit) as ex:
        main(["cache", str(root), "-o", str(cache), "--quiet"])
    err = capsys.readouterr().err
    assert ex.value.code == 1 and "0002.exr" in err and "Traceback" not in err
    index = json.loads((cache / "index.json").read_text())
    assert list(index["sequences"]) == ["a"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as ex:
        main(["cache", str(tmp_path / "missing"), "-o", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert ex.value.code == 2 and err.startswith("error: ") and "\n" not in err
    assert "missing" in err
    assert not (tmp_path / "c").exists()  # nothing created for bad input


def test_rerun_rebuilds_a_truncated_array_and_verify_says_how_to_fix(data, capsys):
    root, cache = data
    build_cache(root, cache, progress=False)
    good = (cache / "a.npy").read_bytes()
    (cache / "a.npy").write_bytes(good[:2000])  # e.g. disk full, or copied half-way
    with pytest.raises(LayoutError, match="unreadable cache array"):
        S2RHDRDataset(root, split="all", patch_size=16, cache=cache)[0]
    rep = build_cache(root, cache, progress=False)  # what the error message tells users to do
    assert rep.built == ["a"] and rep.skipped == ["b"]
    assert (cache / "a.npy").read_bytes() == good and verify_cache(cache) == []
    raw = bytearray(good)
    raw[-10] ^= 0xFF
    (cache / "a.npy").write_bytes(bytes(raw))
    (problem,) = verify_cache(cache)
    assert "delete it and rerun" in problem
    (cache / "a.npy").unlink()
    assert build_cache(root, cache, progress=False).built == ["a"]
    assert verify_cache(cache) == []
