"""EXR contract: lossless round trips, HALF clamping, band reads, errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s2rhdr_loader.core import exr


@pytest.fixture()
def hdr() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.exp(rng.normal(0.0, 3.0, size=(24, 32, 3))).astype(np.float32)
    img[0, 0] = 1.0e6  # a sun pixel, above the HALF range
    return img


def test_float_round_trip_is_exact(tmp_path, hdr):
    p = tmp_path / "f.exr"
    rep = exr.write_exr(p, hdr, pixel_type="float", compression="piz")
    assert rep.clamped == 0
    np.testing.assert_array_equal(exr.read_exr(p), hdr)


def test_half_clamps_to_65504_instead_of_inf(tmp_path, hdr):
    p = tmp_path / "h.exr"
    rep = exr.write_exr(p, hdr, pixel_type="half")
    back = exr.read_exr(p)
    assert np.isfinite(back).all()
    assert back[0, 0].max() == exr.HALF_MAX
    assert rep.clamped == int((hdr > exr.HALF_MAX).sum())
    ok = (hdr < 60000) & (hdr > 6.2e-5)  # half normals: 11-bit mantissa
    np.testing.assert_allclose(back[ok], hdr[ok], rtol=1e-3)


def test_header_records_linear_rec709_and_compression(tmp_path, hdr):
    p = tmp_path / "h.exr"
    exr.write_exr(p, hdr, compression="zip", attributes={"s2rhdr_frame": 7})
    h = exr.read_header(p)
    assert (h.width, h.height) == (32, 24)
    assert h.channels == {"R": "half", "G": "half", "B": "half"}
    assert h.compression == "zip"
    assert h.attributes["s2rhdr_frame"] == 7
    assert "chromaticities" in h.attributes


@pytest.mark.parametrize("ptype", ["half", "float"])
def test_band_read_equals_full_read(tmp_path, hdr, ptype):
    p = tmp_path / "b.exr"
    exr.write_exr(p, hdr, pixel_type=ptype)
    np.testing.assert_array_equal(exr.read_exr_rows(p, 5, 17), exr.read_exr(p)[5:17])


def test_named_channels_and_selection(tmp_path):
    p = tmp_path / "flow.exr"
    uv = np.stack([np.full((4, 5), 1.5), np.full((4, 5), -2.0)], -1)
    exr.write_exr(p, uv, channels=("U", "V"), pixel_type="float")
    assert exr.read_exr(p, channels=("V",))[..., 0].tolist() == [[-2.0] * 5] * 4
    with pytest.raises(exr.ExrError, match="missing channel"):
        exr.read_exr(p, channels=("R",))


@pytest.mark.parametrize("codec", ["dwaa", "b44", "pxr24"])
def test_lossy_compression_is_refused(tmp_path, hdr, codec):
    with pytest.raises(ValueError, match="lossy"):
        exr.write_exr(tmp_path / "x.exr", hdr, compression=codec)


def test_bad_files_raise_errors_naming_the_path(tmp_path, hdr):
    good = tmp_path / "good.exr"
    exr.write_exr(good, hdr)
    data = good.read_bytes()
    cases = {
        "trunc.exr": data[: len(data) // 2],
        "empty.exr": b"",
        "text.exr": b"not an exr at all",
    }
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
        for reader in (exr.read_exr, exr.read_header):
            if name == "trunc.exr" and reader is exr.read_header:
                continue  # the header of a half file is intact
            with pytest.raises(exr.ExrError, match=name):
                reader(tmp_path / name)
    with pytest.raises(exr.ExrError, match="missing.exr: file not found"):
        exr.read_exr(tmp_path / "missing.exr")


def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary(tmp_path, hdr,
                                                                          monkeypatch):
    """The encoder dies after writing part of the file (a full disk): the previous frame
    stays intact under its name and the partial temporary file is removed."""
    import errno
    import os

    import OpenEXR

    p = tmp_path / "a.exr"
    exr.write_exr(p, hdr)
    before = p.read_bytes()

    class DyingFile:
        def __init__(self, *args, **kwargs):
            pass

        def write(self, path):
            Path(path).write_bytes(before[: len(before) // 3])  # a partial EXR on disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(OpenEXR, "File", DyingFile)
    with pytest.raises(OSError, match="No space left"):
        exr.write_exr(p, hdr * 2)
    monkeypatch.undo()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.exr"]
    assert p.read_bytes() == before
    assert exr.read_exr(p).shape == hdr.shape


def test_published_files_get_the_umask_mode(tmp_path, hdr):
    """mkstemp creates 0600; a dataset file must be readable like any plainly created file."""
    import os

    old = os.umask(0o022)
    try:
        for path in (exr.write_exr(tmp_path / "a.exr", hdr).path,):
            assert os.stat(path).st_mode & 0o777 == 0o644
        from s2rhdr_loader.core.hdr import write_hdr
        from s2rhdr_loader.core.tiff import write_tiff16

        assert os.stat(write_hdr(tmp_path / "b.hdr", np.abs(hdr))).st_mode & 0o777 == 0o644
        tif = write_tiff16(tmp_path / "c.tif", np.zeros((4, 4, 3), np.uint16))
        assert os.stat(tif).st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
