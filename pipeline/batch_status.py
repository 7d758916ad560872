"""``s2rhdr-render status ROOT``: where a (cluster) batch on a dataset root stands.

Read-only by construction (it opens files for reading and asks whether owner processes on
this host still exist, nothing else), so a user can watch a run from another terminal or
node while batches write. Sources: ``manifest.json`` and the work folder's per-shot records
(complete), claims (rendering now, with heartbeat age), failure records (failed, with the
reason), run records (what the batches were asked to render: the rest is pending).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline import claims, workspace
from pipeline.errors import S2RError
from s2rhdr_loader.core import layout


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h < 48 else f"{seconds / 86400:.1f} days"


def _claimed(ws: workspace.Workspace, planned: dict[str, int], timeout: float,
             now: float) -> list[dict[str, Any]]:
    out = []
    for shot, info in claims.read_claims(ws.claims).items():
        out.append({"shot": shot, "owner": info.owner(), "host": info.host, "pid": info.pid,
                    "run": info.run, "heartbeat_age_s": round(now - info.heartbeat, 1),
                    "stale": claims.staleness(info, timeout, now),
                    "frames_done": workspace.frames_staged(ws.shot_stage(shot)),
                    "frames": planned.get(shot)})
    return out


def _timing(records: dict[str, dict[str, Any]]) -> tuple[float | None, int]:
    """Measured render seconds per frame over the records that carry a render time."""
    secs = frames = n = 0
    for rec in records.values():
        if rec.get("render_s") and rec.get("frames"):
            secs += float(rec["render_s"])
            frames += int(rec["frames"])
            n += 1
    return (secs / frames if frames else None), n


def root_status(root: str | Path, *, claim_timeout: float = claims.DEFAULT_TIMEOUT_S,
                now: float | None = None) -> dict[str, Any]:
    """The summary of a dataset root as a JSON-ready dict (reads only)."""
    root_path = Path(root).resolve()
    if not root_path.is_dir():
        raise S2RError(f"{root_path}: no such dataset root", hint="pass the --out of a batch")
    now = time.time() if now is None else now
    ws = workspace.locate(root_path)
    manifest = layout.read_manifest(root_path)["sequences"]
    records = workspace.read_records(ws)
    recorded = {**manifest, **records}
    runs = workspace.read_runs(ws)
    planned: dict[str, int] = {}
    for info in sorted(runs.values(), key=lambda r: r.get("started", 0)):
        planned.update({k: int(v) for k, v in dict(info.get("shots", {})).items()})
    complete = sorted(n for n in recorded if (root_path / n).is_dir())
    claimed = _claimed(ws, planned, claim_timeout, now)
    busy = {c["shot"] for c in claimed}
    failed = [{"shot": n, "reason": f.get("reason", ""), "kind": f.get("kind", ""),
               "run": f.get("run", ""), "host": f.get("host", ""), "time": f.get("time")}
              for n, f in sorted(workspace.read_failures(ws).items())
              if n not in busy and n not in complete]
    bad = {f["shot"] for f in failed}
    pending = sorted(set(planned) - set(complete) - busy - bad)
    s_per_frame, timed = _timing(records)
    live = [c for c in claimed if not c["stale"]]
    left = sum(planned.get(n, 0) for n in pending) + sum(
        max(0, (c["frames"] or 0) - c["frames_done"]) for c in claimed)
    eta = left * s_per_frame / len(live) if (s_per_frame and live) else None
    active = [r for r in runs.values() if not r.get("finished")
              and now - float(r.get("heartbeat", 0)) <= claim_timeout]
    return {
        "root": str(root_path), "work_dir": str(ws.work), "planned": len(planned),
        "complete": len(complete),
        "complete_frames": sum(int(recorded[n].get("frames", 0)) for n in complete),
        "stored_bytes": sum(int(f.get("size", 0)) for n in complete
                            for f in dict(recorded[n].get("files", {})).values()),
        "claimed": claimed, "failed": failed, "pending": pending,
        "unmerged_records": sum(1 for n, r in records.items() if manifest.get(n) != r),
        "seconds_per_frame": s_per_frame, "timed_shots": timed, "frames_left": left,
        "eta_s": eta, "parallel": len(live), "active_runs": len(active),
        "claim_timeout_s": claim_timeout,
    }


def format_status(st: dict[str, Any]) -> str:
    """The human-readable summary printed by ``s2rhdr-render status``."""
    lines = [f"root: {st['root']}", f"work state: {st['work_dir']}"]
    planned = f" of {st['planned']} planned" if st["planned"] else ""
    lines.append(f"complete: {st['complete']}{planned} shots ({st['complete_frames']} frames, "
                 f"{st['stored_bytes'] / 1e9:.2f} GB)")
    lines.append(f"claimed: {len(st['claimed'])}")
    for c in st["claimed"]:
        frames = f"{c['frames_done']}/{c['frames']}" if c["frames"] else f"{c['frames_done']}"
        state = f"STALE: {c['stale']}" if c["stale"] else "live"
        lines.append(f"  {c['shot']}  by {c['owner']}, heartbeat {c['heartbeat_age_s']:.0f} s "
                     f"ago, {frames} frames ({state})")
    lines.append(f"failed: {len(st['failed'])}")
    for f in st["failed"]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f["time"])) if f["time"] else "?"
        lines.append(f"  {f['shot']}  {when} on {f['host'] or '?'}: {f['reason']}")
    lines.append(f"pending: {len(st['pending'])}"
                 + (f" ({', '.join(st['pending'][:8])}{', ...' if len(st['pending']) > 8 else ''})"
                    if st["pending"] else ""))
    if st["seconds_per_frame"]:
        rate = (f"{st['seconds_per_frame']:.2f} s/frame measured over {st['timed_shots']} "
                f"shot(s)")
        if st["eta_s"] is not None:
            lines.append(f"time left: ~{_fmt_duration(st['eta_s'])} for {st['frames_left']} "
                         f"frames at {st['parallel']} shot(s) in parallel ({rate})")
        else:
            lines.append(f"time left: no batch is rendering; {st['frames_left']} frames left "
                         f"({rate})")
    else:
        lines.append(f"time left: unknown (no timed shot yet); {st['frames_left']} frames left")
    lines.append(f"batches running: {st['active_runs']}")
    if st["unmerged_records"]:
        lines.append(f"note: {st['unmerged_records']} finished shot(s) not yet merged into "
                     f"manifest.json (the next batch merges them)")
    return "\n".join(lines)
