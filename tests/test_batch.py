"""Batch rendering: atomic shots, manifest, skip/redo on re-run, kill -9 resume, CLI;
nothing but sequences (and manifest.json) ever sits in a dataset root."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import workspace
from pipeline.batch import load_plans, run_batch
from pipeline.cli import main
from s2rhdr_loader.core import layout
from tests.helpers.mitsuba_plans import make_plan

ROOT = Path(__file__).resolve().parents[1]


def _write_plans(folder: Path, plans) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in plans:
        path = folder / f"{p.name}.json"
        path.write_text(p.to_json())
        paths.append(path)
    return paths


def _leftovers(root: Path) -> list[Path]:
    """Temporaries in the root, staging areas and claims in its work folder."""
    work = layout.work_dir(root)
    found = [p for p in root.rglob("*") if p.name.startswith((".tmp", ".old", ".s2rhdr"))
             or p.name.endswith(".tmp") or ".tmp." in p.name]
    for sub in ("staging", "claims"):
        if (work / sub).is_dir():
            found += list((work / sub).iterdir())
    return found


def _only_sequences(root: Path) -> None:
    """What the official release's preprocessing would list as scenes is what we rendered."""
    for name in os.listdir(root):
        path = root / name
        assert name == layout.MANIFEST or (path / "img").is_dir(), f"{path} is not a sequence"


def _status(outcomes) -> dict[str, str]:
    return {o.name: o.status for o in outcomes}


def test_rerun_skips_complete_and_redoes_stale_or_damaged_shots(tmp_path):
    plans = [make_plan("s-a", frames=2, passes=("img", "depth")),
             make_plan("s-b", frames=2, passes=("img",))]
    out = tmp_path / "ds"
    first = run_batch(plans, out, quality="preview", show_progress=False)
    assert _status(first) == {"s-a": "rendered", "s-b": "rendered"}
    man = layout.read_manifest(out)
    rec = man["sequences"]["s-a"]
    assert rec["backend"] == "mitsuba" and rec["quality"] == "preview" and rec["frames"] == 2
    assert "img/0001.exr" in rec["files"] and "camera_params/0000.json" in rec["files"]
    assert layout.verify_sequence(out, "s-a") == []
    mtime = (out / "s-a" / "meta.json").stat().st_mtime_ns

    again = run_batch(plans, out, quality="preview", show_progress=False)
    assert _status(again) == {"s-a": "skipped", "s-b": "skipped"}
    assert (out / "s-a" / "meta.json").stat().st_mtime_ns == mtime

    # a changed spec (hash) and a damaged file are both redone; the rest is skipped
    changed = [dataclasses.replace(plans[0], spec_hash="other"), plans[1]]
    img = out / "s-b" / "img" / "0001.exr"
    img.write_bytes(img.read_bytes()[:-10])
    redo = run_batch(changed, out, quality="preview", show_progress=False)
    assert _status(redo) == {"s-a": "rendered", "s-b": "rendered"}
    assert layout.read_manifest(out)["sequences"]["s-a"]["spec_hash"] == "other"
    # another quality is another dataset: re-rendered; --force re-renders everything
    assert _status(run_batch(changed, out, quality="default", show_progress=False))["s-b"] \
        == "rendered"
    forced = run_batch(changed, out, quality="default", force=True, show_progress=False)
    assert set(_status(forced).values()) == {"rendered"}
    assert _leftovers(out) == []
    assert sorted(os.listdir(out)) == ["manifest.json", "s-a", "s-b"]


def test_failing_shot_is_reported_and_the_batch_goes_on(tmp_path, capsys):
    plans = _write_plans(tmp_path / "plans", [make_plan("ok-shot", frames=1),
                                              make_plan("bad-shot", frames=1, preset="moon")])
    out = tmp_path / "ds"
    with pytest.raises(SystemExit) as exc:
        main(["batch", *map(str, plans), "--out", str(out), "--quality", "preview", "-q"])
    assert exc.value.code == 1
    captured = capsys.readouterr()
    text = captured.out
    assert captured.err.strip().splitlines()[-1].startswith("error: 1 of 2 shot(s) failed")
    assert "ok-shot   rendered" in text or "ok-shot  rendered" in text
    bad_line = next(line for line in text.splitlines() if line.startswith("bad-shot"))
    assert "failed" in bad_line and "unknown mitsuba preset 'moon'" in bad_line
    assert "1 rendered, 0 skipped, 1 failed" in text
    log = (layout.work_dir(out) / "render-failures.log").read_text()
    assert "bad-shot" in log and "Traceback" in log
    assert f"tracebacks in {layout.work_dir(out) / 'render-failures.log'}" in text
    assert not (out / "bad-shot").exists() and _leftovers(out) == []
    _only_sequences(out)
    assert list(layout.read_manifest(out)["sequences"]) == ["ok-shot"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    plans = _write_plans(tmp_path, [make_plan("one", frames=1)])
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(plans[0]), "--out", str(tmp_path / "o"), "--only", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --only nope: no such shot")
    main(["batch", "--help"])
    assert "s2rhdr-render batch scene_specs/ --out out/demo" in capsys.readouterr().out


def test_leftovers_of_earlier_versions_inside_a_root_are_cleaned(tmp_path):
    out = tmp_path / "ds"
    dead = out / ".tmp-x-999999999"
    dead.mkdir(parents=True)
    (dead / "junk.exr").write_bytes(b"x")
    (out / ".old-y-999999999").mkdir()
    alive = out / f".tmp-z-{os.getppid()}"  # a live process (our parent) keeps its own
    alive.mkdir()
    (out / ".manifest.lock").write_text("")
    (out / "render-failures.log").write_text("=== old failure\n")
    assert run_batch([], out, show_progress=False) == []
    assert sorted(os.listdir(out)) == [alive.name]
    assert "=== old failure" in (layout.work_dir(out) / "render-failures.log").read_text()


def test_kill_9_mid_shot_then_rerun_completes_without_rerendering(tmp_path):
    quick = make_plan("k-a", frames=2, passes=("img",))
    slow = make_plan("k-b", frames=14, size=(96, 64), spp=32, passes=("img", "flow"))
    paths = _write_plans(tmp_path / "plans", [quick, slow])
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "pipeline.cli", "batch", *map(str, paths), "--out", str(out),
           "--quality", "final", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stage = layout.work_dir(out) / "staging" / "k-b"
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        if list(stage.glob("*/img/*.exr")):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    proc.wait()
    assert killed, "the batch finished before it could be killed mid-shot"
    ws = workspace.locate(out)
    assert list(workspace.merged_manifest(ws)["sequences"]) == ["k-a"]  # k-b was in flight
    assert not (out / "k-b").exists()
    assert (ws.claims / "k-b.json").is_file()  # the dead batch's claim is still there
    _only_sequences(out)
    mtime = (out / "k-a" / "meta.json").stat().st_mtime_ns

    outcomes = run_batch(load_plans(paths), out, quality="final", show_progress=False)
    assert _status(outcomes) == {"k-a": "skipped", "k-b": "rendered"}
    # a dead owner on this host is taken over at once (no waiting for the heartbeat timeout)
    assert "stale claim: owner process is gone" in outcomes[1].reason
    assert list(layout.read_manifest(out)["sequences"]) == ["k-a", "k-b"]
    assert (out / "k-a" / "meta.json").stat().st_mtime_ns == mtime
    for name in ("k-a", "k-b"):
        assert layout.verify_sequence(out, name) == []
    assert layout.read_sequence(out / "k-b").num_frames == 14
    assert _leftovers(out) == []


def _gone(pid: int) -> bool:
    """The process has exited (a zombie counts: it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_kill_9_of_a_parallel_batch_ends_its_workers_and_rerun_cleans_up(tmp_path):
    plans = [make_plan(f"p-{i}", frames=12, size=(96, 64), spp=32, passes=("img",))
             for i in range(3)]
    paths = _write_plans(tmp_path / "plans", plans)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "pipeline.cli", "batch", *map(str, paths), "--out", str(out),
           "--quality", "final", "--jobs", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = layout.work_dir(out) / "staging"
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        if list(staging.glob("p-*/*/img/*.exr")):
            # attempt folders are named <host>-<pid>-<random>
            workers = {int(p.name.rsplit("-", 2)[1]) for p in staging.glob("p-*/*")}
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert workers, "the batch finished before it could be killed mid-shot"
    # orphaned workers must not keep rendering queued shots (or hang) once the parent is gone
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(_gone(pid) for pid in workers):
        time.sleep(0.1)
    assert all(_gone(pid) for pid in workers), f"workers {sorted(workers)} outlived the batch"
    outcomes = run_batch(load_plans(paths), out, quality="final", show_progress=False)
    assert set(_status(outcomes).values()) <= {"rendered", "skipped"}
    assert _leftovers(out) == []


def test_parallel_jobs_render_in_worker_processes(tmp_path):
    plans = [make_plan(f"j-{i}", frames=1, passes=("img",)) for i in range(2)]
    outcomes = run_batch(plans, tmp_path, quality="preview", jobs=2, show_progress=False)
    assert _status(outcomes) == {"j-0": "rendered", "j-1": "rendered"}
    assert sorted(layout.read_manifest(tmp_path)["sequences"]) == ["j-0", "j-1"]


def test_ray_executor(tmp_path):
    pytest.importorskip("ray")
    plans = [make_plan("r-0", frames=1, passes=("img",))]
    outcomes = run_batch(plans, tmp_path, quality="preview", executor="ray",
                         show_progress=False)
    assert _status(outcomes) == {"r-0": "rendered"}


def test_specs_are_planned_per_seed_and_filtered():
    spec = ROOT / "scene_specs" / "street_day_walk.yaml"
    if not spec.is_file():
        pytest.skip("scene_specs/street_day_walk.yaml not present")
    plans = load_plans([spec], seeds=[1, 2])
    assert [p.name for p in plans] == ["street_day_walk-s1", "street_day_walk-s2"]
    assert [p.seed for p in plans] == [1, 2]
    assert plans[0].spec_hash == plans[1].spec_hash
    assert plans[0].timeline[0].camera != plans[1].timeline[0].camera  # seeded shake differs
    only = load_plans([spec], seeds=[1, 2], only=["street_day_walk-s2"])
    assert [p.name for p in only] == ["street_day_walk-s2"]


def test_a_real_spec_renders_end_to_end_and_options_are_part_of_the_record(tmp_path, capsys):
    spec = ROOT / "scene_specs" / "street_dusk_dogwalk.yaml"
    if not spec.is_file():
        pytest.skip("scene_specs/street_dusk_dogwalk.yaml not present")
    args = ["batch", str(spec), "--out", str(tmp_path), "--quality", "preview", "-q",
            "-O", "spp=1"]
    main(args)
    seq = layout.read_sequence(tmp_path / "street_dusk_dogwalk")
    assert seq.num_frames == 10 and set(seq.passes) == set(layout.PASSES[1:])
    meta = layout.read_json(seq.path / "meta.json")
    assert meta["spp"] == 1 and "visible disk" in meta["lighting"]["sun"]
    capsys.readouterr()
    main([*args[:-1], "spp=2"])
    assert "redone: options changed" in capsys.readouterr().out
