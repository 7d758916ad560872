"""Real benchmark readers on fixtures written in each dataset's exact on-disk format."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import torch

from s2rhdr_loader import real
from s2rhdr_loader.core.hdr import HdrError, read_hdr, write_hdr
from s2rhdr_loader.core.tiff import read_tiff16, write_tiff16

H, W = 20, 30


def _scene(rng):
    ldrs = [rng.integers(0, 65536, (H, W, 3), dtype=np.uint16) for _ in range(3)]
    label = (rng.random((H, W, 3)) * 1.1).astype(np.float32)
    return ldrs, label


def _write_cv2_tiff(path, rgb_u16):
    """Write as the datasets do (cv2 stores BGR, readers swap back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb_u16[:, :, ::-1]))


def _radiance(rows: bytes, w: int, h: int) -> bytes:
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {h} +X {w}\n".encode() + rows


def test_hdr_reader_decodes_hand_built_rgbe_bytes(tmp_path):
    """Ward's rule by hand: (128, 64, 32, e=129) is (1, 0.5, 0.25) * 2**(129 - 136) * 128."""
    flat = bytes([128, 64, 32, 129, 0, 0, 0, 0, 255, 255, 255, 128])  # 3 pixels, 1 row
    (tmp_path / "flat.hdr").write_bytes(_radiance(flat, 3, 1))
    got = read_hdr(tmp_path / "flat.hdr")
    np.testing.assert_array_equal(got[0], [[1.0, 0.5, 0.25], [0, 0, 0],
                                           [255 / 256, 255 / 256, 255 / 256]])
    # new-style run-length scanline: 2 2 0 8, then per channel one run of 8 equal bytes
    rle = bytes([2, 2, 0, 8, 128 + 8, 128, 128 + 8, 64, 128 + 8, 32, 128 + 8, 130])
    (tmp_path / "rle.hdr").write_bytes(_radiance(rle, 8, 1))
    np.testing.assert_array_equal(read_hdr(tmp_path / "rle.hdr")[0],
                                  np.tile([2.0, 1.0, 0.5], (8, 1)))


def test_hdr_writer_round_trips_within_rgbe_precision(tmp_path):
    img = (np.random.default_rng(0).random((12, 40, 3)) ** 3 * 8).astype(np.float32)
    img[0] = 0.0  # black pixels: the release's writer divided by zero here
    p = write_hdr(tmp_path / "x.hdr", img)
    assert p.read_bytes().startswith(b"#?RADIANCE")
    ours = read_hdr(p)
    big = img.max(axis=-1, keepdims=True)
    assert np.all(np.abs(ours - img) <= big / 128 + 1e-12)  # RGBE: 8-bit shared mantissa
    assert np.all(ours[0] == 0.0)
    bad = tmp_path / "bad.hdr"
    bad.write_bytes(p.read_bytes()[:200])
    with pytest.raises(HdrError, match="bad.hdr: .*truncated or corrupt"):
        read_hdr(bad)
    (tmp_path / "no.hdr").write_bytes(b"P6 not a radiance file")
    with pytest.raises(HdrError, match="no.hdr: not a Radiance"):
        read_hdr(tmp_path / "no.hdr")


def test_tiff16_is_rgb(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint16)
    rgb[..., 0] = 60000
    write_tiff16(tmp_path / "a.tif", rgb)
    assert cv2.imread(str(tmp_path / "a.tif"), -1)[0, 0, 2] == 60000  # stored BGR on disk
    np.testing.assert_array_equal(read_tiff16(tmp_path / "a.tif"), rgb)


@pytest.mark.parametrize("text,expected", [
    ("0\n2\n4\n", [1, 4, 16]), ("0 3 6", [1, 8, 64]), ("2 4 6", [1, 4, 16]),
    ("1 3 5", [1, 4, 16]),  # EV file whose minimum is 1: the release misread it as ratios
    ("1 4 16", [1, 4, 16]), ("1.0\n8.0\n64.0", [1, 8, 64]),
])
def test_exposure_txt_rule(tmp_path, text, expected):
    (tmp_path / "exposure.txt").write_text(text)
    np.testing.assert_allclose(real.exposure_times(tmp_path / "exposure.txt"), expected)


@pytest.mark.parametrize("text", ["0 2", "a b c", "0 2 inf"])
def test_malformed_exposure_txt(tmp_path, text):
    (tmp_path / "exposure.txt").write_text(text)
    with pytest.raises(real.RealDataError, match="exposure.txt"):
        real.exposure_times(tmp_path / "exposure.txt")


def _check_sample(s, ldrs, label, exps, padded=(H, W)):
    assert torch.equal(s["exp"], torch.tensor(exps, dtype=torch.float32))
    np.testing.assert_array_equal(s["label"].numpy().transpose(1, 2, 0), label)
    for i in range(3):
        x = s[f"input{i}"]
        assert x.shape == (6, *padded)
        ldr = ldrs[i].astype(np.float32) / 65536
        np.testing.assert_allclose(x[3:, :H, :W].numpy().transpose(1, 2, 0), ldr)
        np.testing.assert_allclose(x[:3, :H, :W].numpy().transpose(1, 2, 0),
                                   ldr ** 2.2 / exps[i], rtol=1e-5, atol=1e-7)


def _write_label(path, label):
    """Write the label as RGBE and return what a correct reader must give back."""
    write_hdr(path, label)
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1]


def test_kalantari_reader(tmp_path):
    rng = np.random.default_rng(1)
    ldrs, label = _scene(rng)
    d = tmp_path / "Test" / "PAPER" / "BarbequeDay"
    for name, img in zip(["262A0898.tif", "262A0899.tif", "262A0900.tif"], ldrs):
        _write_cv2_tiff(d / name, img)
    (d / "exposure.txt").write_text("0\n2\n4\n")
    label = _write_label(d / "HDRImg.hdr", label)
    ds = real.kalantari(tmp_path / "Test", pad_to=8)
    s = ds[0]
    assert s["sequence"] == "PAPER/BarbequeDay" and s["size"].tolist() == [H, W]
    _check_sample(s, ldrs, label, [1, 4, 16], padded=(24, 32))
    # padding reflects real pixels instead of inserting saturated 1.0
    pad = s["input2"][3:, H:, :W].numpy()
    inner = s["input2"][3:, :, :W].numpy()
    np.testing.assert_array_equal(pad, inner[:, H - 2:H - 6:-1])
    assert real.unpad(s["input0"], s["size"]).shape == (6, H, W)
    (d / "262A0900.tif").unlink()
    with pytest.raises(real.RealDataError, match="BarbequeDay: expected 3 .tif"):
        real.kalantari(tmp_path / "Test")


def test_sct_reader_and_errors(tmp_path):
    rng = np.random.default_rng(2)
    ldrs, label = _scene(rng)
    d = tmp_path / "Test" / "scene_007_1"
    for k, img in enumerate(ldrs, 1):
        _write_cv2_tiff(d / f"input_{k}.tif", img)
    (d / "exposure.txt").write_text("0\n3\n6\n")
    label = _write_label(d / "HDRImg.hdr", label)
    _check_sample(real.sct(tmp_path / "Test", pad_to=1)[0], ldrs, label, [1, 8, 64])
    cv2.imwrite(str(d / "input_2.tif"), (ldrs[1] // 256).astype(np.uint8))
    with pytest.raises(real.RealDataError, match="input_2.tif: expected a 16-bit TIFF"):
        real.sct(tmp_path / "Test")[0]
    (d / "HDRImg.hdr").write_bytes(b"garbage")
    _write_cv2_tiff(d / "input_2.tif", ldrs[1])
    with pytest.raises(real.RealDataError, match="HDRImg.hdr: not a Radiance"):
        real.sct(tmp_path / "Test")[0]
    (d / "input_3.tif").unlink()
    with pytest.raises(real.RealDataError, match="input_3.tif: file not found"):
        real.sct(tmp_path / "Test")


def test_challenge123_reader_and_permutations(tmp_path):
    rng = np.random.default_rng(3)
    per = {}
    for k in (1, 2, 3):
        ldrs, label = _scene(rng)
        d = tmp_path / "Test" / f"042_{k}"
        for j, img in enumerate(ldrs, 1):
            _write_cv2_tiff(d / f"ldr_img_{j}.tif", img)
        (d / "exposure.txt").write_text(["0 2 4", "0 3 6", "0 2 4"][k - 1])
        label = _write_label(d / "hdr_img.hdr", label)
        per[k] = (ldrs, label)
    test = real.challenge123(tmp_path / "Test", pad_to=1)
    assert len(test) == 1
    _check_sample(test[0], [per[1][0][0], per[2][0][1], per[3][0][2]], per[2][1], [1, 8, 64])
    train = real.challenge123(tmp_path / "Test", mode="train", patch_size=16, repeat=2)
    assert len(train.scenes) == 6 and len(train) == 12
    mids = sorted(s.label.parent.name for s in train.scenes)
    assert mids == ["042_1", "042_1", "042_2", "042_2", "042_3", "042_3"]
    s = train[7]
    assert s["input0"].shape == (6, 16, 16) and s["label"].shape == (3, 16, 16)
    assert torch.equal(train[7]["label"], s["label"])  # seeded per (seed, epoch, index)


def test_train_crops_follow_label(tmp_path, caplog):
    rng = np.random.default_rng(4)
    ldrs, label = _scene(rng)
    d = tmp_path / "scene"
    for k, img in enumerate(ldrs, 1):
        _write_cv2_tiff(d / f"input_{k}.tif", img)
    (d / "exposure.txt").write_text("1\n4\n16\n")
    _write_label(d / "HDRImg.hdr", label)
    with caplog.at_level(logging.INFO, logger="s2rhdr_loader.real"):
        ds = real.sct(tmp_path, mode="train", patch_size=8, repeat=5, seed=3)
        s = ds[4]
    assert "linear exposure ratios" in caplog.text
    lab = s["label"].numpy()
    full = read_hdr(d / "HDRImg.hdr").transpose(2, 0, 1)
    # the crop (after flips and channel permutation) is a window of a channel-permuted label
    found = False
    for perm in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]:
        for fy in (False, True):
            for fx in (False, True):
                c = lab[:, ::-1] if fy else lab
                c = c[:, :, ::-1] if fx else c
                for y in range(H - 7):
                    for x in range(W - 7):
                        if np.array_equal(c, full[list(perm), y:y + 8, x:x + 8]):
                            found = True
    assert found
