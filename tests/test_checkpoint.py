"""Checkpoints: safetensors files (package-written, old in-house files still load, corrupt
files give one line), checkpoint folders, and interoperability with ``safetensors.torch``."""

import json
import os
import shutil
import struct
from pathlib import Path

import pytest
import safetensors.torch as st
import torch

from s2rhdr_loader.learn import checkpoint as ckpt
from s2rhdr_loader.learn.cli import main
from s2rhdr_loader.learn.train import load_model

OLD = Path(__file__).parent / "data" / "old_checkpoint"


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
    shared = torch.randn(6)
    tensors["view_a"], tensors["view_b"] = shared[:3], shared[3:]   # one storage: cloned
    path = ckpt.save_safetensors(tmp_path / "m.safetensors", tensors, {"who": "test"})
    back, meta = ckpt.load_safetensors(path)
    assert meta == {"who": "test"}
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        assert torch.equal(back[k], v), k
    with pytest.raises(ckpt.CheckpointError, match="unsupported dtype"):
        ckpt.save_safetensors(tmp_path / "c.safetensors", {"c": torch.zeros(1, dtype=torch.cfloat)})


def test_file_follows_the_safetensors_layout(tmp_path):
    """The published layout (8-byte LE header size, JSON header, raw LE bytes), read by hand."""
    path = ckpt.save_safetensors(tmp_path / "m.safetensors",
                                 {"b": torch.tensor([1.0, 2.0]),
                                  "a": torch.tensor([3], dtype=torch.int32)})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["a"]["dtype"] == "I32" and header["a"]["shape"] == [1]
    assert header["b"]["dtype"] == "F32" and header["b"]["shape"] == [2]
    body = raw[8 + n:]
    a0, a1 = header["a"]["data_offsets"]
    b0, b1 = header["b"]["data_offsets"]
    assert struct.unpack("<i", body[a0:a1]) == (3,)
    assert struct.unpack("<2f", body[b0:b1]) == (1.0, 2.0)


def test_files_written_by_the_old_in_house_writer_still_load():
    """``all_dtypes.safetensors`` was written by the hand-written writer this module replaced."""
    got, meta = ckpt.load_safetensors(OLD / "all_dtypes.safetensors")
    a = torch.arange(12, dtype=torch.float64) / 4 - 1
    expected = {"f32": a.float().reshape(3, 4), "f16": a[:5].half(),
                "bf16": a[:4].bfloat16().reshape(2, 2), "f64": a[:2],
                "i64": torch.arange(6).reshape(2, 3) - 3,
                "i32": torch.tensor([-7, 9], dtype=torch.int32),
                "u8": torch.arange(4, dtype=torch.uint8) * 60,
                "bool": torch.tensor([True, False]), "scalar": torch.tensor(0.25),
                "empty": torch.zeros(0, 3), "noncontig": a.float().reshape(4, 3).t()}
    assert meta == {"who": "old writer"}
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k


def test_an_old_run_folder_loads_and_trains_on(tmp_path):
    """A run written by the old code (weights, config, optimiser) loads and fine-tunes."""
    run = tmp_path / "old"
    shutil.copytree(OLD, run / "last", ignore=shutil.ignore_patterns("all_dtypes*"))
    ckpt.mark_latest(run, "last", 2)
    model, config = load_model(run)
    assert config["step"] == 2 and config["kwargs"]["feat"] == 4
    _, _, optim = ckpt.load_checkpoint(run, with_optim=True)
    adam = torch.optim.Adam(model.parameters())
    adam.load_state_dict(optim["optimizer"])            # same parameter layout
    assert all(int(s["step"]) == 2 for s in adam.state.values())
    main(["pretrain", "--init", str(run), "--data", "synthetic:source:4", "--out",
          str(tmp_path / "ft"), "--steps", "1", "--batch", "1", "--patch", "8", "--quiet"])
    assert ckpt.load_checkpoint(tmp_path / "ft")[1]["kwargs"] == config["kwargs"]


def test_corrupt_files_give_one_line_errors_naming_the_file(tmp_path):
    path = ckpt.save_safetensors(tmp_path / "m.safetensors", {"w": torch.randn(64)})
    raw = path.read_bytes()
    cases = {"truncated.safetensors": raw[:-10], "short": b"\x01",
             "huge": struct.pack("<Q", 1 << 40) + b"{}",
             "badjson": struct.pack("<Q", 8) + b'{"a":1 ',
             "pickle.pth": b"\x80\x04\x95" + b"\x00" * 64}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ckpt.CheckpointError) as err:
            ckpt.load_safetensors(tmp_path / name)
        msg = str(err.value)
        assert msg.startswith(str(tmp_path / name)) and "\n" not in msg, msg
        assert "truncated or corrupt" in msg
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load_safetensors(tmp_path / "missing")


def test_cli_reports_a_corrupt_checkpoint_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(OLD, run, ignore=shutil.ignore_patterns("all_dtypes*"))
    (run / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes()[:100])
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--ckpt", str(run), "--data", "synthetic:source:1", "--quiet"])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "model.safetensors" in err and "\n" not in err
    assert "Traceback" not in err


def test_checkpoint_written_by_s2rhdr_train_loads_with_safetensors_load_file(tmp_path):
    """Issue 10 must-show: the package's own reader opens what ``s2rhdr-train`` writes."""
    main(["pretrain", "--tiny", "--data", "synthetic:source:4", "--out", str(tmp_path / "r"),
          "--steps", "1", "--batch", "1", "--patch", "8", "--quiet"])
    main(["adapt", "--from", str(tmp_path / "r"), "--data", "synthetic:target:2", "--out",
          str(tmp_path / "a"), "--steps", "1", "--batch", "1", "--patch", "8", "--quiet",
          "--r-transfer", "2", "--learn-scales"])
    for run in ("r", "a"):
        path = tmp_path / run / "last" / "model.safetensors"
        state = st.load_file(path)
        model, _ = load_model(tmp_path / run)
        ours = model.state_dict()
        assert set(state) == set(ours)
        for k, v in ours.items():
            assert state[k].dtype == v.dtype and torch.equal(state[k], v), k
    adapted = st.load_file(tmp_path / "a" / "last" / "model.safetensors")
    assert any(k.endswith(".transfer.up.weight") for k in adapted)
    assert any(k.endswith(".scale_share") for k in adapted)


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
    assert sorted(p.name for p in (run / "last").iterdir()) == [
        "config.json", "model.safetensors", "optim.pt"]
    mask = os.umask(0)
    os.umask(mask)
    assert (run / "last").stat().st_mode & 0o777 == 0o777 & ~mask   # not mkdtemp's 0700
    with pytest.raises(ckpt.CheckpointError, match="not a checkpoint"):
        ckpt.resolve(tmp_path)


def test_optimiser_state_is_loaded_without_unpickling_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    run = tmp_path / "run"
    ckpt.save_checkpoint(run, {"w": torch.ones(1)}, {"step": 1})
    torch.save({"x": Evil()}, run / "optim.pt")
    with pytest.raises(ckpt.CheckpointError, match="unreadable optimiser state"):
        ckpt.load_checkpoint(run, with_optim=True)


def test_a_kill_between_the_two_renames_resumes_from_the_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    ckpt.save_checkpoint(run / "last", {"w": torch.ones(2)}, {"step": 1})
    ckpt.mark_latest(run, "last", 1)
    (run / "last").rename(run / ".last.old")  # state right after save's first os.replace
    got, config, _ = ckpt.load_checkpoint(run)
    assert config["step"] == 1 and torch.equal(got["w"], torch.ones(2))
    ckpt.save_checkpoint(run / "last", {"w": torch.zeros(2)}, {"step": 2})
    assert ckpt.load_checkpoint(run)[1]["step"] == 2
