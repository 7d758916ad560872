"""Headless entry point: ``UnrealEditor-Cmd Project.uproject -ExecutePythonScript="<this file>
--plan plan.json --out SHOT_DIR --status status.json [--quality default]" -unattended ...``
(or ``--selftest`` instead of ``--plan``: the linearity self-test scene).

``-ExecutePythonScript`` quits the editor on the tick after the script returns unless the
script called ``unreal.EditorPythonScripting.set_keep_python_script_alive(True)``
(``EditorPythonExecuter.cpp``; the 5.4-5.6 dumps document the same). MRQ renders on later
frames, so :func:`main` keeps the editor alive, starts MRQ and returns; when MRQ finishes,
the callback moves the frames into the dataset layout, writes the status file and quits the
editor. A watchdog ends the run with a failed (retryable) status when no frame appeared for
``--watchdog-s`` seconds, so the host never waits for its own timeout for nothing. The host
launcher (``pipeline/backends/unreal.py``) reads the marker lines printed here:

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

from s2rhdr_unreal import compat, job_settings, render, sequence, writer

EXIT_OK, EXIT_RENDER, EXIT_ASSETS, EXIT_ERROR = 0, 3, 4, 5
WATCHDOG_S = 1800.0  # no new frame for this long: MRQ is stuck (shader compiles count)
_STATE: dict[str, Any] = {}  # plan, paths, timers: alive until the render callback ran

JOB_ENV = "S2RHDR_JOB"  # a JSON file {plan, out, status, quality, ...}: paths with spaces


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Arguments from the script's command line or, when it has none, from the job file
    named by ``$S2RHDR_JOB`` (Unreal re-quotes ``-ExecutePythonScript`` values, so paths
    containing spaces cannot travel safely on its command line)."""
    if not argv and os.environ.get(JOB_ENV):
        with open(os.environ[JOB_ENV], encoding="utf-8") as fh:
            job = json.load(fh)
        argv = []
        for key, value in job.items():
            if value is True:
                argv.append(f"--{key}")
            elif value not in (None, False):
                argv += [f"--{key}", str(value)]
    parser = argparse.ArgumentParser(prog="s2rhdr_unreal.headless")
    parser.add_argument("--plan", help="plan.json written by the host")
    parser.add_argument("--selftest", action="store_true", help="render the self-test scene")
    parser.add_argument("--out", required=True, help="shot folder (dataset layout)")
    parser.add_argument("--status", required=True, help="status JSON the host reads")
    parser.add_argument("--quality", default="default", choices=job_settings.QUALITIES)
    parser.add_argument("--watchdog_s", type=float, default=WATCHDOG_S,
                        help="fail when no frame appeared for this many seconds")
    args = parser.parse_args(argv)
    if bool(args.plan) == bool(args.selftest):
        parser.error("give exactly one of --plan or --selftest")
    return args


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
        unreal.EditorPythonScripting.set_keep_python_script_alive(False)
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
    if _STATE.get("finished"):  # the watchdog already failed this run
        return
    _STATE["finished"] = True
    plan, out, quality = _STATE["plan"], _STATE["out"], _STATE["quality"]
    if not success:
        _fail(EXIT_RENDER, "Movie Render Queue reported a failed render (see the editor log)")
        return
    try:
        meta = render.settings_summary(plan, quality, _STATE.get("shot"),
                                       {"render_time_s": time.monotonic() - _STATE["t0"]})
        names = job_settings.mrq_settings(plan, quality)["pass_names"]
        files = writer.finalize(plan, out, meta, pass_names=names)
        if _STATE.get("selftest"):
            from pipeline import unreal_calibration as cal

            files.append(writer.atomic_write_json(out / cal.CALIBRATION_FILE, cal.record(plan)))
    except Exception as exc:  # a missing frame, a full disk: report, do not hang the host
        _fail(EXIT_RENDER, str(exc))
        return
    writer.write_status(_STATE["status"], ok=True, files=[str(p) for p in files],
                        engine_version=compat.engine_version(),
                        elapsed_s=time.monotonic() - _STATE["t0"])
    mark("DONE", str(len(files)))
    _STATE["exit"](EXIT_OK)


def _on_stall(seconds: float, frames: int) -> None:
    """Watchdog: no MRQ progress for ``seconds``: cancel, fail (retryable), quit."""
    if _STATE.get("finished"):
        return
    _STATE["finished"] = True
    render.stop_watching()
    render.cancel()
    _fail(EXIT_RENDER, f"no Movie Render Queue progress for {seconds:.0f} s "
                       f"({frames} of {_STATE['plan'].frames} frames written): watchdog")


def _load_plan(args: argparse.Namespace) -> Any:
    if args.selftest:
        from pipeline import unreal_calibration as cal

        return cal.calibration_plan()
    from pipeline.plan_model import load_plan

    return load_plan(args.plan)


def _build(plan: Any, args: argparse.Namespace) -> Any:
    if args.selftest:
        from s2rhdr_unreal import selftest

        selftest.ensure_level()
        return sequence.build_sequence(plan, extras=selftest.add_cards)
    return sequence.build_sequence(plan)


def main(argv: list[str] | None = None, *, exit_fn: Callable[[int], None] | None = None) -> int:
    """Start the shot; returns 0 once MRQ is running (or the exit code of an early failure).

    The editor stays alive after this returns (keep-alive flag) until a callback quits it."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit:  # argparse printed the problem; no status path to write to
        (exit_fn or default_exit)(EXIT_ERROR)
        return EXIT_ERROR
    unreal.EditorPythonScripting.set_keep_python_script_alive(True)
    out = Path(args.out).resolve()
    _STATE.clear()
    _STATE.update(t0=time.monotonic(), out=out, status=Path(args.status).resolve(),
                  quality=args.quality, exit=exit_fn or default_exit, selftest=args.selftest)
    try:
        compat.require_supported()
        plan = _load_plan(args)
        _STATE["plan"] = plan
        mark("INFO", f"engine {compat.engine_version()}, shot {plan.name}, "
                     f"{plan.frames} frames + {plan.warmup_frames} warm-up")
        shot = _build(plan, args)
        _STATE["shot"] = shot
        staging = out / writer.STAGING
        render.configure_job(plan, shot.sequence, shot.level, staging, args.quality)
        render.watch_progress(staging, plan.frames,
                              lambda done, total: mark("PROGRESS", f"{done}/{total}"),
                              stall_s=args.watchdog_s, on_stall=_on_stall)
        render.start(_on_finished)
    except sequence.MissingAssetsError as exc:
        return _fail(EXIT_ASSETS, str(exc), missing=exc.paths)
    except Exception as exc:
        return _fail(EXIT_ERROR, f"{type(exc).__name__}: {exc}")
    mark("PROGRESS", f"0/{plan.frames}")
    return EXIT_OK


if __name__ == "__main__":
    main()
