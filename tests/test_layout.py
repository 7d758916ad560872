"""Dataset layout contract: discovery of both layouts, manifest integrity, confinement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2rhdr_loader.core import atomic, exr, layout


def _frames(folder, indices, value=1.0):
    for i in indices:
        exr.write_exr(folder / f"{i:04d}.exr", np.full((4, 6, 3), value, np.float32))


def test_discovers_ours_and_official_hdr_variant(tmp_path):
    _frames(tmp_path / "b_ours" / "img", range(3))
    _frames(tmp_path / "b_ours" / "depth", range(3))
    _frames(tmp_path / "a_official" / "img" / "HDR", range(3, 27))
    (tmp_path / ".tmp-shot-1" / "img").mkdir(parents=True)  # in-progress shot: ignored
    seqs = layout.discover(tmp_path)
    assert [s.name for s in seqs] == ["a_official", "b_ours"]
    off, ours = seqs
    assert off.variant == "official_hdr" and off.num_frames == 24 and off.first_index == 3
    assert off.frames[0].name == "0003.exr" and off.frames[-1].name == "0026.exr"
    assert ours.variant == "ours" and ours.num_frames == 3
    assert set(ours.passes) == {"depth"} and len(ours.passes["depth"]) == 3


def test_root_may_be_a_single_sequence(tmp_path):
    _frames(tmp_path / "img", range(2))
    assert [s.num_frames for s in layout.discover(tmp_path)] == [2]


def test_missing_root_and_empty_img_are_clear_errors(tmp_path):
    with pytest.raises(layout.LayoutError, match="nope: dataset root not found"):
        layout.discover(tmp_path / "nope")
    (tmp_path / "s" / "img").mkdir(parents=True)
    with pytest.raises(layout.LayoutError, match="no frames named NNNN.exr"):
        layout.discover(tmp_path)


def test_manifest_records_and_detects_changes(tmp_path):
    seq = tmp_path / "shot"
    _frames(seq / "img", range(2))
    atomic.atomic_write_json(seq / "meta.json", {"backend": "test"})
    layout.update_manifest(tmp_path, "shot", {"files": layout.hash_files(seq)}, "0.1.0")
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["format"] == "s2rhdr.dataset" and set(man["sequences"]["shot"]["files"]) == {
        "img/0000.exr", "img/0001.exr", "meta.json"}
    assert layout.verify_sequence(tmp_path, "shot") == []
    _frames(seq / "img", [1], value=2.0)
    (seq / "img" / "0000.exr").unlink()
    problems = layout.verify_sequence(tmp_path, "shot")
    assert any("0000.exr: missing" in p for p in problems)
    assert any("0001.exr" in p and "changed" in p for p in problems)
    layout.update_manifest(tmp_path, "shot", None)
    assert layout.read_manifest(tmp_path)["sequences"] == {}


def test_safe_child_refuses_escapes(tmp_path):
    assert layout.safe_child(tmp_path, "a", "b") == (tmp_path / "a" / "b").resolve()
    for bad in (("..", "x"), ("/etc/passwd",), ("a/../../x",)):
        with pytest.raises(layout.LayoutError, match="escapes the output root"):
            layout.safe_child(tmp_path, *bad)


def test_atomic_json_leaves_no_temporaries(tmp_path):
    atomic.atomic_write_json(tmp_path / "x.json", {"b": 1, "a": [1.5]})
    with pytest.raises(ValueError):
        atomic.atomic_write_json(tmp_path / "x.json", {"bad": float("nan")})
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1.5], "b": 1}


def test_written_files_get_the_umask_mode_not_0600(tmp_path):
    import os

    import numpy as np

    from s2rhdr_loader.core import exr

    old = os.umask(0o022)
    try:
        atomic.atomic_write_json(tmp_path / "a.json", {})
        exr.write_exr(tmp_path / "a.exr", np.ones((2, 2, 3), np.float32))
    finally:
        os.umask(old)
    for name in ("a.json", "a.exr"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
