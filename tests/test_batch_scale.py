"""Batches at cluster scale: concurrent batches on one root, claims of dead or silent owners,
lost workers and Ray nodes, full disks, a root that is a mount point, ``status``.

Most tests use ``tests.helpers.fake_backend.FakeBackend`` (real EXR shots in milliseconds);
the ENOSPC test renders with Mitsuba. Waits are bounded and generous (2 loaded cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline import diskspace, workspace
from pipeline.batch import run_batch
from pipeline.cli import main
from s2rhdr_loader.core import layout
from tests.helpers.fake_backend import FakeBackend
from tests.helpers.mitsuba_plans import make_plan

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
from pipeline.batch import run_batch
from tests.helpers.fake_backend import FakeBackend
from tests.helpers.mitsuba_plans import make_plan
out, gate, n, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
plans = [make_plan(f"c-{i}", frames=2, size=(32, 16), passes=("img",)) for i in range(n)]
res = run_batch(plans, out, backend=FakeBackend(frame_seconds=0.02, gate=gate),
                show_progress=False, claim_timeout=timeout)
print(json.dumps({"run": res.run, "status": {o.name: o.status for o in res}}), flush=True)
"""


def _spawn(out: Path, gate: Path, n: int = 6, timeout: float = 60.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), str(gate), str(n),
                             str(timeout)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(cond: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _status(outcomes) -> dict[str, str]:
    return {o.name: o.status for o in outcomes}


def _leftovers(root: Path) -> list[Path]:
    work = layout.work_dir(root)
    found = [p for p in root.rglob("*") if p.name.startswith((".tmp", ".old", ".s2rhdr"))]
    for sub in ("staging", "claims"):
        if (work / sub).is_dir():
            found += list((work / sub).iterdir())
    return found


def _plans(prefix: str, n: int, frames: int = 2, size=(32, 16), **kw):
    return [make_plan(f"{prefix}-{i}", frames=frames, size=size, passes=("img",), **kw)
            for i in range(n)]


@contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at ``path`` (skips the test where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# ---- claims between batches ---------------------------------------------------------------

def test_two_concurrent_batches_render_each_shot_once_and_leave_a_complete_manifest(tmp_path):
    out, gate = tmp_path / "ds", tmp_path / "gate"
    procs = [_spawn(out, gate), _spawn(out, gate)]
    claims_dir = layout.work_dir(out) / "claims"
    try:
        # frame 0 of every shot waits for the gate: both batches hold a claim at once
        _wait_for(lambda: len(list(claims_dir.glob("c-*.json"))) >= 2,
                  "both batches to claim a shot")
        gate.touch()
        texts = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [t[1][-2000:] for t in texts]
    runs = [json.loads(t[0].strip().splitlines()[-1]) for t in texts]
    rendered = [{n for n, s in r["status"].items() if s == "rendered"} for r in runs]
    names = {f"c-{i}" for i in range(6)}
    assert rendered[0] and rendered[1], "both batches rendered"
    assert not rendered[0] & rendered[1], "no shot rendered twice"
    assert rendered[0] | rendered[1] == names
    for r, mine in zip(runs, rendered):
        assert {n for n, s in r["status"].items() if s != "rendered"} == names - mine
        assert set(r["status"].values()) <= {"rendered", "claimed", "skipped"}
    manifest = layout.read_manifest(out)["sequences"]
    assert set(manifest) == names
    for r, mine in zip(runs, rendered):
        assert {n for n in names if manifest[n]["run"] == r["run"]} == mine
    assert all(layout.verify_sequence(out, n) == [] for n in names)
    assert _leftovers(out) == [] and sorted(os.listdir(out)) == sorted(["manifest.json", *names])


def test_a_live_owner_keeps_its_claim_and_a_silent_one_loses_it_after_the_timeout(tmp_path):
    out = tmp_path / "ds"
    owner = _spawn(out, tmp_path / "never-opened", n=1, timeout=4.0)  # beats every 0.4 s
    claim = layout.work_dir(out) / "claims" / "c-0.json"
    plans = _plans("c", 1)
    try:
        _wait_for(claim.is_file, "the owner to claim c-0")
        time.sleep(5.0)  # longer than its timeout: only the heartbeat keeps the claim live
        first = run_batch(plans, out, backend=FakeBackend(), show_progress=False,
                          claim_timeout=4.0)
        assert _status(first) == {"c-0": "claimed"}
        assert first[0].reason.startswith("claimed by ") and f"pid {owner.pid}" in \
            first[0].reason
    finally:
        owner.kill()
        owner.wait()
    # the owner now "ran on another node": its pid tells nothing, only the heartbeat does
    data = json.loads(claim.read_text())
    data["host"] = "node-b"
    claim.write_text(json.dumps(data))
    os.utime(claim)
    second = run_batch(plans, out, backend=FakeBackend(), show_progress=False,
                       claim_timeout=60.0)
    assert _status(second) == {"c-0": "claimed"} and "node-b" in second[0].reason
    old = time.time() - 61
    os.utime(claim, (old, old))
    third = run_batch(plans, out, backend=FakeBackend(), show_progress=False,
                      claim_timeout=60.0)
    assert _status(third) == {"c-0": "rendered"}
    assert third[0].reason.startswith("took over a stale claim: heartbeat 61 s old "
                                      "(timeout 60 s; node-b pid")
    assert layout.verify_sequence(out, "c-0") == [] and _leftovers(out) == []


# ---- lost workers and nodes ---------------------------------------------------------------

def test_a_worker_killed_mid_shot_is_retried_and_the_summary_says_why(tmp_path, capsys):
    out, died = tmp_path / "ds", tmp_path / "died"
    died.mkdir()
    plans = _plans("w", 2)
    # each shot's first attempt kills its worker; a dying worker breaks the whole local pool,
    # so a shot can also lose an attempt to its sibling's death: 2 retries always suffice
    res = run_batch(plans, out, backend=FakeBackend(die_once=str(died)), jobs=2,
                    show_progress=False, max_retries=2)
    assert _status(res) == {"w-0": "rendered", "w-1": "rendered"}
    assert all(o.retries >= 1 and "retried" in o.reason and "worker process died" in o.reason
               for o in res), res
    assert "killed by signal 9" in " ".join(o.reason for o in res)
    assert all(layout.verify_sequence(out, o.name) == [] for o in res)
    assert _leftovers(out) == []


def test_without_retries_a_lost_worker_fails_its_shot(tmp_path):
    died = tmp_path / "died"
    died.mkdir()
    res = run_batch(_plans("w", 2), tmp_path / "ds", backend=FakeBackend(die_once=str(died)),
                    jobs=2, show_progress=False, max_retries=0)
    assert {o.status for o in res} == {"failed"}
    assert "no retry left (--max-retries 0)" in res[0].reason
    assert _leftovers(tmp_path / "ds") == []


@pytest.mark.ray
@pytest.mark.slow
def test_a_ray_node_killed_mid_shot_ends_with_every_shot_complete(tmp_path, monkeypatch):
    """Two-node local cluster on 127.0.0.1 (head: 1 CPU, node B: 1 CPU); node B is removed
    while it renders a shot; the driver resubmits it to the head."""
    ray = pytest.importorskip("ray")
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    # every Ray process binds and connects to 127.0.0.1 only
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # workers import tests.helpers
    if ray.is_initialized():
        ray.shutdown()
    markers, out = tmp_path / "markers", tmp_path / "ds"
    markers.mkdir()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    try:
        node_b = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1",
                 include_dashboard=False, log_to_driver=False)
        plans = _plans("r", 2, frames=8)
        backend = FakeBackend(frame_seconds=0.5, marker_dir=str(markers))
        box: dict = {}
        worker = threading.Thread(target=lambda: box.update(res=run_batch(
            plans, out, backend=backend, executor="ray", show_progress=False,
            max_retries=2)), daemon=True)
        worker.start()

        def on_b() -> list[Path]:
            return [p for p in markers.iterdir() if p.read_text() == node_b.node_id]

        _wait_for(lambda: bool(on_b()), "a shot to start on node B", timeout=180)
        victim = on_b()[0].name.split(".")[0]
        stage = layout.work_dir(out) / "staging" / victim
        _wait_for(lambda: bool(list(stage.glob("*/img/0000.exr"))), "node B's first frame")
        cluster.remove_node(node_b, allow_graceful=False)
        worker.join(timeout=240)
        assert not worker.is_alive(), "the batch did not finish after the node was lost"
    finally:
        ray.shutdown()
        cluster.shutdown()
    res = box["res"]
    assert _status(res) == {"r-0": "rendered", "r-1": "rendered"}
    lost = next(o for o in res if o.name == victim)
    assert lost.retries == 1, lost
    assert "NodeDiedError" in lost.reason or "WorkerCrashedError" in lost.reason, lost
    assert "replaced 1 attempt folder left by the lost worker" in lost.reason
    ran_on = [p.read_text() for p in markers.iterdir() if p.name.startswith(victim + ".")]
    assert node_b.node_id in ran_on and len(ran_on) == 2  # first on B, then elsewhere
    assert all(layout.verify_sequence(out, n) == [] for n in ("r-0", "r-1"))
    assert layout.read_sequence(out / victim).num_frames == 8
    assert _leftovers(out) == []


# ---- disk space ---------------------------------------------------------------------------

def _write_plans(folder: Path, plans) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in plans:
        (folder / f"{p.name}.json").write_text(p.to_json())
        paths.append(str(folder / f"{p.name}.json"))
    return paths


def test_too_little_free_space_stops_before_rendering_with_one_line(tmp_path, capsys):
    paths = _write_plans(tmp_path / "plans", [make_plan("d-0", frames=1, passes=("img",))])
    out = tmp_path / "ds"
    with pytest.raises(SystemExit) as exc:
        main(["batch", *paths, "--out", str(out), "-q", "--min-free-gb", "1000000"])
    assert exc.value.code == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith(f"error: stopped: {out.resolve()}: ") and " GB free; shot d-0 needs " \
        "up to " in err and "--min-free-gb 1e+06 must stay free" in err
    assert "1 shot(s) not started" in err
    assert "d-0   pending" in captured.out and "1 not started" in captured.out
    assert os.listdir(out) == [] and _leftovers(out) == []


def test_enospc_mid_shot_leaves_no_partial_shot_and_the_run_resumes(tmp_path, capsys,
                                                                     monkeypatch):
    import OpenEXR

    plans = [make_plan("e-ok", frames=1, passes=("img",)),
             make_plan("e-full", frames=3, passes=("img", "depth")),
             make_plan("e-later", frames=1, passes=("img",))]
    paths = _write_plans(tmp_path / "plans", plans)
    out = tmp_path / "ds"
    real = OpenEXR.File.write
    written: list[str] = []

    def fill_up(self, path):  # the disk fills while e-full writes its third EXR
        if "e-full" in str(path):
            written.append(path)
            if len(written) >= 3:
                raise RuntimeError(f'Failed to write pixel data to image file "{path}". '
                                   "No space left on device.")
        return real(self, path)

    monkeypatch.setattr(OpenEXR.File, "write", fill_up)
    args = ["batch", *paths, "--out", str(out), "--quality", "preview", "-q"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith(f"error: stopped: {out.resolve()}: no space left on device while "
                          "rendering e-full (its partial output was removed)"), err
    table = {line.split()[0]: line for line in captured.out.splitlines()[1:4]}
    assert "rendered" in table["e-ok"] and "pending" in table["e-later"]
    assert "failed" in table["e-full"] and "No space left on device" in table["e-full"]
    assert sorted(os.listdir(out)) == ["e-ok", "manifest.json"] and _leftovers(out) == []

    monkeypatch.setattr(OpenEXR.File, "write", real)  # space freed
    main(args)
    again = capsys.readouterr().out
    assert "e-ok     skipped" in again and "e-full   rendered" in again
    assert "e-later  rendered" in again
    assert all(layout.verify_sequence(out, p.name) == [] for p in plans)


def test_a_really_full_filesystem_is_handled_like_an_injected_one(tmp_path):
    with _tmpfs(tmp_path / "mnt", "2m") as mnt:
        out = mnt / "ds"
        plan = make_plan("t-big", frames=6, size=(256, 256), passes=("img",),
                         pixel_type="float")
        # 6 noisy FLOAT frames of 256x256 do not fit: the estimate says so before rendering
        first = run_batch([plan], out, backend=FakeBackend(), show_progress=False,
                          min_free_gb=0)
        assert _status(first) == {"t-big": "pending"} and "shot t-big needs up to" in \
            first.stopped
        # without the estimate, the write itself fails with ENOSPC
        second = run_batch([plan], out, backend=FakeBackend(), show_progress=False,
                           min_free_gb=None)
        assert _status(second) == {"t-big": "failed"}
        assert second.stopped.startswith(f"{out}: no space left on device while rendering")
        assert not (out / "t-big").exists() and _leftovers(out) == []
        assert diskspace.free_bytes(mnt) > 1.8e6  # the partial shot's space came back
        subprocess.run(["mount", "-o", "remount,size=32m", str(mnt)], check=True)
        third = run_batch([plan], out, backend=FakeBackend(), show_progress=False,
                          min_free_gb=0)
        assert _status(third) == {"t-big": "rendered"} and not third.stopped
        assert layout.verify_sequence(out, "t-big") == []


def test_a_root_that_is_a_mount_point_stages_inside_it_and_ends_clean(tmp_path, capsys):
    with _tmpfs(tmp_path / "mnt", "16m") as mnt:
        res = run_batch(_plans("m", 1), mnt, backend=FakeBackend(), show_progress=False,
                        min_free_gb=0)
        assert _status(res) == {"m-0": "rendered"}
        err = capsys.readouterr().err
        assert "is not on the filesystem of" in err and layout.ROOT_STAGING in err
        assert sorted(os.listdir(mnt)) == ["m-0", "manifest.json"]
        assert layout.verify_sequence(mnt, "m-0") == []


def test_the_size_estimate_bounds_what_a_shot_really_takes(tmp_path):
    backend = FakeBackend()
    for name, size, pixel_type in (("z-small", (32, 16), "half"),
                                   ("z-large", (320, 240), "float")):
        plan = make_plan(name, frames=3, size=size, passes=("img",), pixel_type=pixel_type)
        run_batch([plan], tmp_path, backend=backend, show_progress=False)
        used = sum(p.stat().st_blocks * 512 for p in (tmp_path / name).rglob("*")
                   if p.is_file())
        est = diskspace.estimate_shot_bytes(plan, ("img",), size,
                                            block=diskspace.block_size(tmp_path))
        assert used <= est, (name, used, est)
        if name == "z-large":  # pixels dominate: the bound is tight, not a guess
            assert est < 1.3 * used, (used, est)


# ---- progress and status ------------------------------------------------------------------

def test_the_bar_counts_frames_and_shots(tmp_path, capsys):
    run_batch(_plans("b", 2, frames=3), tmp_path / "ds", backend=FakeBackend(),
              show_progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert "6/6 100.0%" in lines[-1] and "shots 2/2 done, 0 running, 0 retried" in lines[-1]


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for f in folders
            for p in [f, *f.rglob("*")]}


def test_status_reports_a_root_with_one_failed_shot(tmp_path, capsys):
    from pipeline import claims

    out = tmp_path / "ds"
    plans = _plans("s", 3)
    ws = workspace.open_workspace(out)
    held, _, _ = claims.acquire(ws.claims, "s-2", "other-run")  # another live batch has s-2
    res = run_batch(plans, out, backend=FakeBackend(fail=("s-1",)), show_progress=False)
    assert _status(res) == {"s-0": "rendered", "s-1": "failed", "s-2": "claimed"}
    before = _snapshot(out, layout.work_dir(out))
    capsys.readouterr()
    main(["status", str(out)])
    text = capsys.readouterr().out
    assert _snapshot(out, layout.work_dir(out)) == before  # status touched nothing
    assert "complete: 1 of 3 planned shots (2 frames" in text
    assert "failed: 1\n  s-1  " in text and "the fake renderer was told to fail" in text
    assert "claimed: 1\n  s-2  by " in text and f"pid {os.getpid()} (run other-run)" in text
    assert "pending: 0" in text and "for 2 frames at 1 shot(s) in parallel" in text
    main(["status", str(out), "--json"])
    st = json.loads(capsys.readouterr().out)
    assert st["complete"] == 1 and [f["shot"] for f in st["failed"]] == ["s-1"]
    assert st["claimed"][0]["shot"] == "s-2" and st["claimed"][0]["stale"] == ""
    assert st["seconds_per_frame"] > 0 and st["eta_s"] is not None
    claims.release(held)
    with pytest.raises(SystemExit) as exc:
        main(["status", str(tmp_path / "nope")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: ")
