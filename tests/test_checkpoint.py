"""safetensors writer/reader (spec layout, dtypes, corrupt files) and checkpoint folders."""

import json
import struct

import pytest
import torch

from s2rhdr_loader.learn import checkpoint as ckpt


def test_round_trip_all_dtypes_and_shapes(tmp_path):
    tensors = {
        "f32": torch.randn(3, 4),
        "f16": torch.randn(5).half(),
        "bf16": torch.randn(2, 2).bfloat16(),
        "f64": torch.randn(2, dtype=torch.float64),
        "i64": torch.arange(6).reshape(2, 3),
        "u8": torch.arange(4, dtype=torch.uint8),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(0.25),
        "empty": torch.zeros(0, 3),
        "noncontig": torch.randn(4, 3).t(),
    }
    path = ckpt.save_safetensors(tmp_path / "m.safetensors", tensors, {"who": "test"})
    back, meta = ckpt.load_safetensors(path)
    assert meta == {"who": "test"}
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        assert torch.equal(back[k], v), k


def test_file_follows_the_safetensors_layout(tmp_path):
    path = ckpt.save_safetensors(tmp_path / "m.safetensors",
                                 {"b": torch.tensor([1.0, 2.0]),
                                  "a": torch.tensor([3], dtype=torch.int32)})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    assert header["a"] == {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}
    assert header["b"] == {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}
    body = raw[8 + n:]
    assert len(body) == 12
    assert struct.unpack("<i2f", body) == (3, 1.0, 2.0)   # raw little-endian bytes


def test_corrupt_files_give_one_line_errors_naming_the_file(tmp_path):
    path = ckpt.save_safetensors(tmp_path / "m.safetensors", {"w": torch.randn(64)})
    raw = path.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(raw[:-10])
    with pytest.raises(ckpt.CheckpointError, match="truncated.safetensors.*do not fit"):
        ckpt.load_safetensors(bad)
    (tmp_path / "short").write_bytes(b"\x01")
    with pytest.raises(ckpt.CheckpointError, match="short: truncated"):
        ckpt.load_safetensors(tmp_path / "short")
    (tmp_path / "huge").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ckpt.CheckpointError, match="huge"):
        ckpt.load_safetensors(tmp_path / "huge")
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load_safetensors(tmp_path / "missing")
    with pytest.raises(ckpt.CheckpointError, match="unsupported dtype"):
        ckpt.save_safetensors(tmp_path / "c.safetensors", {"c": torch.zeros(1, dtype=torch.cfloat)})


def test_checkpoint_folder_replaces_atomically_and_resolves_latest(tmp_path):
    run = tmp_path / "run"
    state = {"w": torch.ones(2)}
    ckpt.save_checkpoint(run / "last", state, {"step": 1}, {"opt": {"lr": torch.tensor(1.0)}})
    ckpt.mark_latest(run, "last", 1)
    ckpt.save_checkpoint(run / "last", {"w": torch.full((2,), 2.0)}, {"step": 2}, {"x": 1})
    got, config, optim = ckpt.load_checkpoint(run, with_optim=True)
    assert config["step"] == 2 and torch.equal(got["w"], torch.full((2,), 2.0))
    assert optim == {"x": 1}
    assert sorted(p.name for p in run.iterdir()) == ["last", "latest.json"]   # no temp left
    with pytest.raises(ckpt.CheckpointError, match="not a checkpoint"):
        ckpt.resolve(tmp_path)


def test_a_kill_between_the_two_renames_resumes_from_the_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    ckpt.save_checkpoint(run / "last", {"w": torch.ones(2)}, {"step": 1})
    ckpt.mark_latest(run, "last", 1)
    (run / "last").rename(run / ".last.old")  # state right after save's first os.replace
    got, config, _ = ckpt.load_checkpoint(run)
    assert config["step"] == 1 and torch.equal(got["w"], torch.ones(2))
    ckpt.save_checkpoint(run / "last", {"w": torch.zeros(2)}, {"step": 2})
    assert ckpt.load_checkpoint(run)[1]["step"] == 2
