"""Headless entry point: ``UnrealEditor-Cmd Project.uproject -ExecutePythonScript="<this file>
--plan plan.json --out SHOT_DIR --status status.json [--quality default]" -unattended ...``.

It builds the sequence, locks linear output, starts MRQ and returns; when MRQ finishes, the
callback moves the frames into the dataset layout, writes the status file and quits the
editor. The host launcher (``pipeline/backends/unreal.py``) reads the marker lines printed
here from the editor's stdout:

``S2RHDR_PROGRESS done/total``, ``S2RHDR_MISSING_ASSET /Game/...``, ``S2RHDR_ERROR message``,
``S2RHDR_DONE n_files``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import unreal

from s2rhdr_unreal import compat, linear, render, sequence, writer

EXIT_OK, EXIT_RENDER, EXIT_ASSETS, EXIT_ERROR = 0, 3, 4, 5
_STATE: dict[str, Any] = {}  # plan, paths, timers: alive until the render callback ran


JOB_ENV = "S2RHDR_JOB"  # a JSON file {plan, out, status, quality}: paths with spaces


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Arguments from the script's command line or, when it has none, from the job file
    named by ``$S2RHDR_JOB`` (Unreal re-quotes ``-ExecutePythonScript`` values, so paths
    containing spaces cannot travel safely on its command line)."""
    if not argv and os.environ.get(JOB_ENV):
        with open(os.environ[JOB_ENV], encoding="utf-8") as fh:
            job = json.load(fh)
        argv = ["--plan", job["plan"], "--out", job["out"], "--status", job["status"],
                "--quality", job.get("quality", "default")]
    parser = argparse.ArgumentParser(prog="s2rhdr_unreal.headless")
    parser.add_argument("--plan", required=True, help="plan.json written by the host")
    parser.add_argument("--out", required=True, help="shot folder (dataset layout)")
    parser.add_argument("--status", required=True, help="status JSON the host reads")
    parser.add_argument("--quality", default="default", choices=render.QUALITIES)
    return parser.parse_args(argv)


def mark(kind: str, text: str) -> None:
    """One marker line on the editor log (and so on stdout with ``-stdout``)."""
    line = f"S2RHDR_{kind} {text}"
    if kind in ("ERROR", "MISSING_ASSET"):
        unreal.log_error(line)
    else:
        unreal.log(line)


def default_exit(code: int) -> None:
    """Quit the editor. ``quit_editor`` cannot carry a status, so failures end the process
    with ``os._exit(code)`` after the status file and log are flushed (the status file is
    authoritative either way)."""
    unreal.log_flush()
    sys.stdout.flush()
    if code == EXIT_OK:
        unreal.SystemLibrary.quit_editor()
    else:
        os._exit(code)


def _fail(code: int, message: str, *, missing: list[str] | None = None) -> int:
    for path in missing or []:
        mark("MISSING_ASSET", path)
    mark("ERROR", message)
    writer.write_status(_STATE["status"], ok=False, error=message, missing_assets=missing,
                        engine_version=compat.engine_version(), retryable=code == EXIT_RENDER,
                        elapsed_s=time.monotonic() - _STATE["t0"])
    _STATE["exit"](code)
    return code


def _on_finished(success: bool) -> None:
    render.stop_watching()
    plan, out = _STATE["plan"], _STATE["out"]
    if not success:
        _fail(EXIT_RENDER, "Movie Render Queue reported a failed render (see the editor log)")
        return
    try:
        meta = render.settings_summary(plan, _STATE["quality"],
                                       {"render_time_s": time.monotonic() - _STATE["t0"]})
        files = writer.finalize(plan, out, meta)
    except Exception as exc:  # a missing frame, a full disk: report, do not hang the host
        _fail(EXIT_RENDER, str(exc))
        return
    writer.write_status(_STATE["status"], ok=True, files=[str(p) for p in files],
                        engine_version=compat.engine_version(),
                        elapsed_s=time.monotonic() - _STATE["t0"])
    mark("DONE", str(len(files)))
    _STATE["exit"](EXIT_OK)


def main(argv: list[str] | None = None, *, exit_fn: Callable[[int], None] | None = None) -> int:
    """Start the shot; returns 0 once MRQ is running (or the exit code of an early failure)."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    from pipeline.plan_model import load_plan

    out = Path(args.out).resolve()
    _STATE.clear()
    _STATE.update(t0=time.monotonic(), out=out, status=Path(args.status).resolve(),
                  quality=args.quality, exit=exit_fn or default_exit)
    try:
        plan = load_plan(args.plan)
        _STATE["plan"] = plan
        mark("INFO", f"engine {compat.engine_version()}, shot {plan.name}, "
                     f"{plan.frames} frames + {plan.warmup_frames} warm-up")
        shot = sequence.build_sequence(plan)
        linear.apply_lock(plan.exposure.ev100, plan.camera.fstop, sequence=shot.sequence)
        staging = out / writer.STAGING
        render.configure_job(plan, shot.sequence, shot.level, staging, args.quality)
        render.watch_progress(staging, plan.frames,
                              lambda done, total: mark("PROGRESS", f"{done}/{total}"))
        render.start(_on_finished)
    except sequence.MissingAssetsError as exc:
        return _fail(EXIT_ASSETS, str(exc), missing=exc.paths)
    except Exception as exc:
        return _fail(EXIT_ERROR, f"{type(exc).__name__}: {exc}")
    mark("PROGRESS", f"0/{plan.frames}")
    return EXIT_OK


if __name__ == "__main__":
    main()
