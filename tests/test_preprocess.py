"""official-preprocess reproduces the release's normalisation and patch grid; resumable."""

from __future__ import annotations

import numpy as np
import pytest

from s2rhdr_loader.cli import main
from s2rhdr_loader.core.exr import read_exr, read_header
from s2rhdr_loader.dataset import write_synthetic_dataset
from s2rhdr_loader.preprocess import official_preprocess, patch_grid

# The release's crop loop (preprocess_s2r_hdr_data.py::crop_dataset_pyexr), traced by hand for
# W=1920, H=1080, patch 640, stride 512: x in (0, 512, 1024, 1536), y in (0, 512, 1024);
# y=1024 is skipped (1024 + 256 > 1080). The folder is named from the *current* x and the
# un-clamped y, then x and y are clamped in place: at x=1536, y=0 the name is _1536_0 and x
# becomes 1920 - 640 = 1280, which the next y step (512) then uses in its name: _1280_512.
# y=512 is clamped to 1080 - 640 = 440 after naming.
RELEASE_1080P = [("0_0", 0, 0), ("0_512", 0, 440), ("512_0", 512, 0), ("512_512", 512, 440),
                 ("1024_0", 1024, 0), ("1024_512", 1024, 440), ("1536_0", 1280, 0),
                 ("1280_512", 1280, 440)]


def test_release_grid_for_1080p_has_the_release_loop_names():
    assert patch_grid(1080, 1920) == RELEASE_1080P
    grid = patch_grid(1080, 1920, naming="grid")  # ours, behind an option
    assert [n for n, _, _ in grid] == ["0_0", "0_512", "512_0", "512_512", "1024_0",
                                       "1024_512", "1536_0", "1536_512"]
    assert [(x, y) for _, x, y in grid] == [(x, y) for _, x, y in RELEASE_1080P]
    with pytest.raises(ValueError, match="smaller than the 640px patch"):
        patch_grid(480, 640)
    with pytest.raises(ValueError, match="patch naming must be one of"):
        patch_grid(1080, 1920, naming="corner")


def test_official_preprocess_names_a_1080p_scene_as_the_release_does(tmp_path):
    src, dst = tmp_path / "S2R-HDR", tmp_path / "S2R-HDR-processed-patch"
    write_synthetic_dataset(src, ["scene_0_FM"], frames=1, height=1080, width=1920,
                            official_layout=True)
    rep = official_preprocess(src, dst, progress=False)
    names = [f"scene_0_FM_{n}" for n, _, _ in RELEASE_1080P]
    assert rep.outputs == 8 and sorted(p.name for p in dst.iterdir() if p.is_dir()) == \
        sorted(names)
    assert (dst / "trainlist.txt").read_text().split("\n") == sorted(names)
    raw = read_exr(src / "scene_0_FM" / "img" / "HDR" / "0003.exr")
    p1, p99 = np.percentile(raw, [1, 99])
    norm = np.clip((np.clip(raw, p1, p99) - p1) / (p99 - p1), 0, 1)
    for name, x, y in (RELEASE_1080P[6], RELEASE_1080P[7]):  # the two clamped columns
        got = read_exr(dst / f"scene_0_FM_{name}" / "img" / "0000.exr")
        np.testing.assert_allclose(got, norm[y:y + 640, x:x + 640], atol=5e-4)
    # nothing but scenes and the list in the output root; staging and record beside it
    assert {p.name for p in dst.iterdir() if not p.is_dir()} == {"trainlist.txt"}
    assert (tmp_path / "S2R-HDR-processed-patch.s2rhdr-work" / "official_preprocess.json") \
        .is_file()
    grid = official_preprocess(src, tmp_path / "grid", naming="grid", progress=False)
    assert grid.outputs == 8 and (tmp_path / "grid" / "scene_0_FM_1536_512").is_dir()


def test_normalisation_patches_and_trainlist(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_synthetic_dataset(src, ["s1"], frames=3, height=40, width=56, official_layout=True)
    rep = official_preprocess(src, dst, patch=32, stride=16, progress=False)
    # 12 grid corners, but the release's loop names x=32 and x=48 (both clamped to 24) as
    # 24_16 and 24_32 for y > 0: two names repeat, so 10 folders (the later crop is kept)
    assert rep.done == ["s1"] and rep.outputs == 10
    names = (dst / "trainlist.txt").read_text()
    assert not names.endswith("\n") and names.split("\n")[0] == "s1_0_0"
    raw0 = read_exr(src / "s1" / "img" / "HDR" / "0003.exr")
    raw2 = read_exr(src / "s1" / "img" / "HDR" / "0005.exr")
    p1, p99 = np.percentile(raw0, [1, 99])
    expect = np.clip((np.clip(raw2, p1, p99) - p1) / (p99 - p1), 0, 1)
    got = read_exr(dst / "s1_24_32" / "img" / "0002.exr")  # clamped corner (24, 8)
    np.testing.assert_allclose(got, expect[8:40, 24:56], atol=5e-4)  # float16 storage
    assert read_header(dst / "s1_24_32" / "img" / "0002.exr").compression == "piz"
    grid = official_preprocess(src, tmp_path / "grid", patch=32, stride=16, naming="grid",
                               progress=False)
    assert grid.outputs == 12 and (tmp_path / "grid" / "s1_48_32").is_dir()
    full0 = official_preprocess(src, tmp_path / "full", patch=None, progress=False)
    assert full0.outputs == 1
    f0 = read_exr(tmp_path / "full" / "s1" / "img" / "0000.exr")
    assert f0.max() == 1.0 and np.mean(f0 == 1.0) >= 0.01  # the documented p99 clipping


def test_resume_and_error_isolation(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_synthetic_dataset(src, ["good", "bad"], frames=3, height=40, width=56)
    (src / "bad" / "img" / "0001.exr").write_bytes(b"\x76\x2f\x31\x01garbage")
    args = ["official-preprocess", str(src), "-o", str(dst), "--patch-size", "32",
            "--stride", "16", "--quiet"]
    with pytest.raises(SystemExit) as ex:
        main(args)
    err = capsys.readouterr().err
    assert ex.value.code == 1 and "bad" in err and "0001.exr" in err
    assert (dst / "good_0_0" / "img" / "0002.exr").is_file()
    assert not list(dst.glob("bad_*")) and not list(dst.glob(".*"))
    assert not (tmp_path / "dst.s2rhdr-work" / "partial").exists()
    write_synthetic_dataset(src, ["bad"], frames=3, height=40, width=56)  # repaired
    mtime = (dst / "good_0_0" / "img" / "0000.exr").stat().st_mtime_ns
    main(args)
    out = capsys.readouterr().out
    assert "1 done, 1 skipped, 0 failed, 20 outputs" in out
    assert (dst / "good_0_0" / "img" / "0000.exr").stat().st_mtime_ns == mtime


def test_patches_of_one_scene_share_a_split(tmp_path):
    # the release's patches of a scene overlap: splitting them one by one leaks test pixels
    from s2rhdr_loader import S2RHDRDataset
    from s2rhdr_loader.splits import resolve

    src, dst = tmp_path / "src", tmp_path / "dst"
    scenes = [f"scene_{i}_FM" for i in range(8)]
    write_synthetic_dataset(src, scenes, frames=3, height=24, width=48)
    official_preprocess(src, dst, patch=16, stride=16, progress=False)
    fr = (0.4, 0.3, 0.3)

    def scenes_per_split(root):
        out = {}
        for split in ("train", "val", "test"):
            try:
                ds = S2RHDRDataset(root, split=split, patch_size=16, normalize="none",
                                   fractions=fr)
            except ValueError:
                continue
            out[split] = {s.name.rsplit("_", 2)[0] for s in ds.sequences}
        return out

    seen = scenes_per_split(dst)
    assert len(seen) >= 2 and set().union(*seen.values()) == set(scenes)
    assert sum(len(v) for v in seen.values()) == len(scenes)  # no scene in two splits
    # a folder made by the release's own script has only trainlist.txt to go by
    (tmp_path / "dst.s2rhdr-work" / "official_preprocess.json").unlink()
    assert scenes_per_split(dst) == seen
    main(["split", str(dst), "--fractions", *map(str, fr)])
    assert {k: {n.rsplit("_", 2)[0] for n in v} for k, v in resolve(dst, [
        p.name for p in dst.iterdir() if p.is_dir()]).items() if v} == seen
