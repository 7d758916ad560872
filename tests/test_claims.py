"""Claims: one owner per shot; live owners are respected, dead or silent ones taken over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from pipeline import claims


def _age(path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_claimed_shot_cannot_be_claimed_again_until_released(tmp_path):
    mine, holder, why = claims.acquire(tmp_path, "shot", "run-a")
    assert mine is not None and holder is None and why == ""
    data = json.loads(mine.path.read_text())
    assert data["pid"] == os.getpid() and data["host"] == claims.host_identity()[0]
    other, holder, _ = claims.acquire(tmp_path, "shot", "run-b")
    assert other is None and holder.token == mine.token and holder.run == "run-a"
    claims.release(mine)
    assert not mine.path.exists()
    again, _, _ = claims.acquire(tmp_path, "shot", "run-b")
    assert again is not None and again.token != mine.token


def test_many_threads_racing_for_one_shot_get_exactly_one_claim(tmp_path):
    winners = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        claim, _, _ = claims.acquire(tmp_path, "shot", f"run-{i}")
        if claim is not None:
            winners.append(claim)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.json"]  # no temporaries


def test_a_foreign_owner_is_respected_until_its_heartbeat_is_older_than_the_timeout(tmp_path):
    mine, _, _ = claims.acquire(tmp_path, "shot", "run-a")
    # the owner lives on another node: its pid means nothing here
    data = json.loads(mine.path.read_text())
    data["host"] = "node-b"
    mine.path.write_text(json.dumps(data))
    _age(mine.path, 20)
    other, holder, _ = claims.acquire(tmp_path, "shot", "run-b", timeout=30)
    assert other is None and holder.host == "node-b"
    _age(mine.path, 31)
    other, holder, why = claims.acquire(tmp_path, "shot", "run-b", timeout=30)
    assert other is not None and holder is None
    assert why.startswith("heartbeat 31 s old (timeout 30 s; node-b pid")
    assert not claims.still_owned(mine)  # the old owner can tell it lost the shot


def test_the_claim_of_a_killed_process_on_this_host_is_taken_over_at_once(tmp_path):
    code = ("import sys, time; from pipeline import claims; "
            "c, _, _ = claims.acquire(sys.argv[1], 'shot', 'dead-run'); "
            "print('claimed', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "claimed"
    live, holder, _ = claims.acquire(tmp_path, "shot", "run-b", timeout=3600)
    assert live is None and holder.pid == proc.pid  # alive: respected
    proc.kill()
    proc.wait()
    taken, _, why = claims.acquire(tmp_path, "shot", "run-b", timeout=3600)
    assert taken is not None and why.startswith("owner process is gone")


def test_the_heartbeat_keeps_a_claim_fresh_and_notices_a_takeover(tmp_path):
    lost = []
    mine, _, _ = claims.acquire(tmp_path, "shot", "run-a")
    _age(mine.path, 100)
    with claims.Heartbeat(2.0, on_lost=lost.append) as hb:  # beats every 0.2 s
        hb.hold(mine)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and time.time() - mine.path.stat().st_mtime > 50:
            time.sleep(0.05)
        assert time.time() - mine.path.stat().st_mtime < 50
        # a reaper replaces the claim; the next beat reports the loss and stops touching it
        mine.path.unlink()
        theirs, _, _ = claims.acquire(tmp_path, "shot", "run-b")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not lost:
            time.sleep(0.05)
    assert [c.token for c in lost] == [mine.token] and hb.held() == []
    assert claims.still_owned(theirs)


def test_a_reaper_gives_back_a_claim_whose_owner_beat_after_it_was_judged(tmp_path):
    mine, _, _ = claims.acquire(tmp_path, "shot", "run-a")
    _age(mine.path, 100)
    judged = claims.read_claim(mine.path)
    os.utime(mine.path)  # the owner's heartbeat lands between judgement and reaping
    assert claims._reap(judged, "reaper") is False
    assert claims.still_owned(mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.json"]
