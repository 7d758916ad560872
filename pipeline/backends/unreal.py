"""The ``unreal`` backend, host side: run UnrealEditor-Cmd on one shot and check what it wrote.

The editor does the work (``ue_plugin/S2RHDR``: sequence, linear lock, MRQ); this module only
launches it headless, streams its log to a per-shot file, parses the plugin's marker lines
(``S2RHDR_PROGRESS 3/24``, ``S2RHDR_MISSING_ASSET /Game/...``, ``S2RHDR_ERROR ...``),
enforces a timeout, retries crashed runs and refuses output the validation module does not
accept as complete and linear (``pipeline.validate.check_shot``, shared with the batch).
Before any shot it requires a passing linearity self-test verdict for the project
(``pipeline.backends.unreal_selftest``; option ``skip_selftest`` overrides).

Configuration, first match wins: keyword options (``editor=``, ``project=``, ``timeout_s=``,
``retries=``, ``extra_args=``, ``log_dir=``, ``watchdog_s=``, ``skip_selftest=``),
environment (``S2RHDR_UNREAL_EDITOR``, ``S2RHDR_UNREAL_PROJECT``), then the YAML file named
by ``S2RHDR_UNREAL_CONFIG`` or ``~/.config/s2rhdr/unreal.yaml`` with the same keys.
Per-shot editor logs go to the dataset root's work folder (``layout.work_dir``, ``logs/``):
nothing but sequences may sit inside a dataset root.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import RenderError, S2RError
from pipeline.plan_model import ShotPlan
from s2rhdr_loader.core import layout

EDITOR_ENV = "S2RHDR_UNREAL_EDITOR"
PROJECT_ENV = "S2RHDR_UNREAL_PROJECT"
CONFIG_ENV = "S2RHDR_UNREAL_CONFIG"
DEFAULT_CONFIG = Path("~/.config/s2rhdr/unreal.yaml")
STATUS_NAME = ".s2rhdr_unreal_status.json"  # dot-name: never hashed into the manifest
JOB_NAME = ".s2rhdr_unreal_job.json"
JOB_ENV = "S2RHDR_JOB"
HEADLESS = Path("Content") / "Python" / "s2rhdr_unreal" / "headless.py"
EDITOR_FLAGS = ("-unattended", "-RenderOffscreen", "-nosplash", "-NoLoadingScreen", "-stdout",
                "-FullStdOutLogOutput", "-log", "-NoSound")
_MARK = re.compile(r"S2RHDR_(PROGRESS|MISSING_ASSET|ERROR|DONE|INFO)\b ?(.*?)\s*$")
_OPTION_KEYS = ("editor", "project", "timeout_s", "retries", "extra_args", "log_dir", "cpus",
                "gpus", "config", "watchdog_s", "skip_selftest")
WATCHDOG_S = 1800.0  # the plugin fails a render when no frame appeared for this long


@dataclass(frozen=True)
class UnrealOptions:
    editor: Path
    project: Path
    timeout_s: float = 4 * 3600.0
    retries: int = 1  # extra attempts after a crash or timeout
    extra_args: tuple[str, ...] = ()
    log_dir: Path | None = None
    watchdog_s: float = WATCHDOG_S
    skip_selftest: bool = False


@dataclass
class RunResult:
    """One editor run: exit code, whether it timed out, the marker lines it printed."""

    returncode: int | None
    timed_out: bool
    log: Path
    progress: tuple[int, int] = (0, 0)
    missing_assets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: bool = False


# ---- configuration ------------------------------------------------------------------------

def _read_config(path: Path | None) -> dict[str, Any]:
    import yaml

    explicit = path is not None
    path = (path or DEFAULT_CONFIG).expanduser()
    if not path.is_file():
        if explicit:
            raise S2RError(f"{path}: Unreal config file not found")
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise S2RError(f"{path}: unreadable Unreal config ({' '.join(str(exc).split())})") \
            from None
    if not isinstance(data, dict):
        raise S2RError(f"{path}: the Unreal config must be a mapping (editor: ..., project: ...)")
    unknown = sorted(set(data) - set(_OPTION_KEYS))
    if unknown:
        raise S2RError(f"{path}: unknown key(s) {', '.join(unknown)}",
                       hint=f"use {', '.join(_OPTION_KEYS[:-1])}")
    return data


def resolve_options(options: Mapping[str, Any] | None = None) -> UnrealOptions:
    """Merge options, environment and config file; check editor and project exist."""
    opts = dict(options or {})
    cfg_path = opts.get("config") or os.environ.get(CONFIG_ENV)
    cfg = _read_config(Path(cfg_path) if cfg_path else None)

    def pick(key: str, env: str | None = None) -> Any:
        if opts.get(key) not in (None, ""):
            return opts[key]
        if env and os.environ.get(env):
            return os.environ[env]
        return cfg.get(key)

    editor_s = pick("editor", EDITOR_ENV)
    if not editor_s:
        raise S2RError("Unreal editor not configured",
                       hint=f"set {EDITOR_ENV}=/path/to/UnrealEditor-Cmd or add `editor:` to "
                            f"{DEFAULT_CONFIG}")
    editor = Path(str(editor_s)).expanduser()
    if not editor.is_file() or not os.access(editor, os.X_OK):
        raise S2RError(f"{editor}: Unreal editor not found or not executable",
                       hint=f"point {EDITOR_ENV} at Engine/Binaries/<Platform>/UnrealEditor-Cmd")
    project_s = pick("project", PROJECT_ENV)
    if not project_s:
        raise S2RError("Unreal project not configured",
                       hint=f"set {PROJECT_ENV}=/path/to/Project.uproject or add `project:`")
    project = Path(str(project_s)).expanduser().resolve()
    if project.suffix != ".uproject" or not project.is_file():
        raise S2RError(f"{project}: Unreal project (.uproject) not found")
    try:
        timeout_s = float(pick("timeout_s") or UnrealOptions.timeout_s)
        retries = int(pick("retries") if pick("retries") is not None else 1)
        watchdog_s = float(pick("watchdog_s") or WATCHDOG_S)
    except (TypeError, ValueError):
        raise S2RError("Unreal options: timeout_s and watchdog_s must be numbers and retries "
                       "an integer") from None
    if timeout_s <= 0 or retries < 0 or watchdog_s <= 0:
        raise S2RError("Unreal options: timeout_s and watchdog_s must be > 0 and retries >= 0")
    extra = pick("extra_args") or ()
    if isinstance(extra, str):
        extra = extra.split()
    log_dir = pick("log_dir")
    return UnrealOptions(editor, project, timeout_s, retries, tuple(str(a) for a in extra),
                         Path(log_dir).expanduser() if log_dir else None, watchdog_s,
                         _truthy(pick("skip_selftest")))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def resources(options: Mapping[str, Any]) -> dict[str, float]:
    """Per-shot request for the Ray executor: an Unreal editor needs a whole GPU (and a few
    cores for shader compilation and streaming); ``-O gpus=`` / ``-O cpus=`` override."""
    try:
        return {"CPU": float(options.get("cpus", 4)), "GPU": float(options.get("gpus", 1))}
    except (TypeError, ValueError):
        raise S2RError("Unreal options: cpus and gpus must be numbers") from None


def check_plugin(project: Path) -> Path:
    """The installed plugin folder, or a one-line error saying how to install it."""
    from pipeline.plugin_install import installed_status

    plugin_dir, problem = installed_status(project.parent)
    if problem:
        raise S2RError(f"{project}: {problem}",
                       hint=f"run: s2rhdr-render install-plugin {project}")
    return plugin_dir


def build_command(opts: UnrealOptions, plugin_dir: Path, plan_path: Path | None, out_dir: Path,
                  status_path: Path, quality: str) -> tuple[list[str], dict[str, str]]:
    """The editor's argument list (no shell) and extra environment; ``plan_path`` None runs
    the self-test scene (``--selftest``).

    ``-ExecutePythonScript`` takes the script and its arguments as ONE value, and Unreal
    re-quotes values that contain spaces when it rebuilds its command line, so nested quotes
    would break. Paths without whitespace go on the command line; otherwise the arguments
    travel in a job file named by ``$S2RHDR_JOB`` (written next to the status file).
    """
    script = plugin_dir / HEADLESS
    args: dict[str, Any] = {"plan": str(plan_path)} if plan_path is not None else {
        "selftest": True}
    args.update({"out": str(out_dir), "status": str(status_path), "quality": quality})
    if opts.watchdog_s != WATCHDOG_S:
        args["watchdog_s"] = f"{opts.watchdog_s:g}"
    env: dict[str, str] = {}
    if any(ch.isspace() for v in args.values() if isinstance(v, str) for ch in v):
        import json

        from s2rhdr_loader.core.atomic import atomic_write_text

        job = status_path.with_name(JOB_NAME)
        atomic_write_text(job, json.dumps(args, indent=1) + "\n")
        env[JOB_ENV] = str(job)
        value = str(script)
    else:
        value = " ".join([str(script)] + [f"--{k}" if v is True else f"--{k} {v}"
                                          for k, v in args.items()])
    return [str(opts.editor), str(opts.project), f"-ExecutePythonScript={value}",
            *EDITOR_FLAGS, *opts.extra_args], env


# ---- running the editor -------------------------------------------------------------------

def _stop(proc: subprocess.Popen) -> None:
    """Terminate the editor and everything it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_editor(cmd: list[str], log_path: Path, timeout_s: float, on_progress: Any = None,
               env: Mapping[str, str] | None = None) -> RunResult:
    """Run the editor, tee its output into ``log_path``, parse markers, enforce the timeout."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result = RunResult(None, False, log_path)
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace",
                                    bufsize=1, start_new_session=True,
                                    env={**os.environ, **dict(env or {})})
        except OSError as exc:
            raise RenderError(f"{cmd[0]}: cannot start the Unreal editor ({exc})") from None

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                m = _MARK.search(line)
                if not m:
                    continue
                kind, text = m.groups()
                if kind == "PROGRESS":
                    done, _, total = text.partition("/")
                    if done.isdigit() and total.isdigit():
                        result.progress = (int(done), int(total))
                        if on_progress is not None:
                            on_progress(int(done))
                elif kind == "MISSING_ASSET":
                    result.missing_assets.append(text)
                elif kind == "ERROR":
                    result.errors.append(text)
                elif kind == "DONE":
                    result.done = True

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            result.returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            result.timed_out = True
            _stop(proc)
            result.returncode = proc.poll()
        except BaseException:  # Ctrl-C: never leave an editor running behind us
            _stop(proc)
            raise
        reader.join(timeout=10.0)
    return result


# ---- output checks ------------------------------------------------------------------------

def validate_output(plan: ShotPlan, out_dir: Path) -> list[str]:
    """Why a finished shot is not complete and linear ([] if it is): the validation module's
    verdict, the same one the batch applies (``pipeline.validate.check_shot``). A correctly
    exposed overcast or indoor shot may peak below 1.0; only display-referred evidence fails."""
    import dataclasses

    from pipeline.validate import check_shot

    beauty = dataclasses.replace(plan, render=dataclasses.replace(plan.render, passes=("img",)))
    # aux passes are still raw here (converted after this check)
    return list(check_shot(out_dir, passes=("img",), mode="quick", plan=beauty).errors)


AUX_LAYOUT_PASSES = ("depth", "normal")  # written through MRQ post-process materials
SKY_DEPTH_CM = 1.0e7  # scene depth at or beyond 100 km is the sky / far plane: written as 0


def convert_depth(raw: Any) -> Any:
    """MRQ WorldDepth (scene depth = distance along the camera z axis, cm, in R) -> metres;
    0 where the pixel sees the sky (like the Mitsuba backend)."""
    import numpy as np

    z = np.asarray(raw, np.float64)[..., 0]
    z = np.where(np.isfinite(z) & (z > 0) & (z < SKY_DEPTH_CM), z / 100.0, 0.0)
    return z.astype(np.float32)


def convert_normal(raw: Any) -> Any:
    """MRQ WorldNormal (world-space normal in RGB, Unreal axes = the plan's axes) -> unit
    vectors; 0 where there is no surface."""
    import numpy as np

    n = np.asarray(raw, np.float64)[..., :3]
    n = np.where(np.isfinite(n), n, 0.0)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(norm > 1e-6, n / np.maximum(norm, 1e-6), 0.0).astype(np.float32)


def convert_aux(plan: ShotPlan, out_dir: Path) -> list[Path]:
    """Turn the plugin's raw MRQ passes into layout passes (FLOAT), then record the passes
    actually produced in plan.json / meta.json. Runs on the host: the editor has no numpy."""
    import dataclasses
    import json

    from s2rhdr_loader.core import atomic, exr, layout

    raw_root = out_dir / layout.MRQ_AUX_STAGING
    produced: list[str] = []
    written: list[Path] = []
    for name, conv, channels in (("depth", convert_depth, ("Z",)),
                                 ("normal", convert_normal, ("X", "Y", "Z"))):
        folder = raw_root / name
        if not folder.is_dir():
            continue
        for f in plan.output_frames():
            src = folder / layout.frame_name(f.index)
            try:
                raw = exr.read_exr(src)
            except exr.ExrError as exc:
                raise RenderError(f"{plan.name}: {exc}", hint="re-render the shot") from exc
            target = layout.frame_path(out_dir, name, f.index)
            exr.write_exr(target, conv(raw), channels=channels, pixel_type="float")
            written.append(target)
        produced.append(name)
    shutil.rmtree(raw_root, ignore_errors=True)
    if produced:
        passes = ("img", *produced)
        rendered = dataclasses.replace(plan, render=dataclasses.replace(plan.render,
                                                                        passes=passes))
        atomic.atomic_write_text(out_dir / layout.PLAN_FILE, rendered.to_json())
        meta_path = out_dir / layout.META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["passes"] = list(passes)
        meta.pop("aux_raw", None)
        atomic.atomic_write_json(meta_path, meta)
    return written


def _read_status(path: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == "s2rhdr.unreal.status" \
        else None


def _clean(out_dir: Path) -> None:
    """Remove a previous attempt's outputs (only names this backend writes)."""
    for name in ("img", layout.CAMERA_PARAMS, layout.MRQ_STAGING, layout.MRQ_AUX_STAGING, "depth",
                 "normal"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for name in ("meta.json", STATUS_NAME, "calibration.json"):  # (job file: rewritten)
        (out_dir / name).unlink(missing_ok=True)


def _written(plan: ShotPlan, out_dir: Path, aux: list[Path] | None = None) -> list[Path]:
    from s2rhdr_loader.core import layout

    files = [layout.frame_path(out_dir, "img", f.index) for f in plan.output_frames()]
    files += list(aux or [])
    files += [layout.camera_params_path(out_dir, f.index) for f in plan.output_frames()]
    return files + [out_dir / layout.PLAN_FILE, out_dir / layout.META_FILE]


def default_log_dir(out: Path) -> Path:
    """Where per-shot editor logs go: the dataset root's work folder (``layout.work_dir``;
    the batch may already render inside it), never the root itself."""
    for parent in out.parents:
        if parent.name.endswith(layout.WORK_SUFFIX):
            return parent / "logs"
    return layout.work_dir(out.parent) / "logs"


def _attempts(name: str, cmd: list[str], env: Mapping[str, str], out: Path, status_path: Path,
              opts: UnrealOptions, log_dir: Path, on_frames: Any) -> tuple[dict[str, Any], Path]:
    """Run the editor until it reports success (retrying crashes, timeouts and MRQ failures);
    returns the status and the last log. Deterministic failures are raised at once."""
    failures: list[str] = []
    log = log_dir / f"{name}.unreal.1.log"
    for attempt in range(1, opts.retries + 2):
        _clean(out)
        log = log_dir / f"{name}.unreal.{attempt}.log"
        run = run_editor(cmd, log, opts.timeout_s, on_frames, env)
        status = _read_status(status_path)
        if run.missing_assets or (status and status.get("missing_assets")):
            missing = run.missing_assets or list(status["missing_assets"])  # type: ignore[index]
            raise RenderError(f"{name}: assets missing in {opts.project.name}: "
                              f"{', '.join(missing)}",
                              hint="fix the spec's unreal: paths or add the assets")
        if status and status.get("ok"):
            status_path.unlink(missing_ok=True)
            (out / JOB_NAME).unlink(missing_ok=True)
            return status, log
        if status and not status.get("retryable", True):
            # The plugin caught a deterministic error (bad plan, level will not open): the
            # same run would fail the same way.
            raise RenderError(f"{name}: {status.get('error') or 'Unreal error'}",
                              hint=f"log: {log}")
        if run.timed_out:
            failures.append(f"attempt {attempt} timed out after {opts.timeout_s:g} s")
        elif status:
            failures.append(f"attempt {attempt} failed: {status.get('error') or 'error'}")
        else:
            failures.append(f"attempt {attempt} exited with code {run.returncode} "
                            f"without a status file (crash?)")
    raise RenderError(f"{name}: Unreal failed {len(failures)} time(s): "
                      f"{'; '.join(failures)}", hint=f"log: {log}")


def _require_selftest(opts: UnrealOptions) -> None:
    if opts.skip_selftest:
        return
    from pipeline.backends.unreal_selftest import require_verdict
    from pipeline.plugin_install import source_digest

    require_verdict(opts.project, editor=str(opts.editor), plugin_digest=source_digest())


def render(plan: ShotPlan, out_dir: str | os.PathLike, *, quality: str = "default",
           progress: Any = None, options: Mapping[str, Any] | None = None,
           **extra: Any) -> list[Path]:
    """Render ``plan`` with Unreal into ``out_dir`` (a sequence folder); returns the files.

    Refuses to start without a passing self-test verdict (option ``skip_selftest``).
    Crashes, timeouts and MRQ failures are retried ``retries`` times; missing assets, errors
    the plugin reports as deterministic and invalid output are not (they would repeat).
    """
    from pipeline.backends import QUALITIES
    from s2rhdr_loader.core import atomic

    if quality not in QUALITIES:
        raise S2RError(f"unknown quality {quality!r}", hint=f"use one of {', '.join(QUALITIES)}")
    opts = resolve_options({**dict(options or {}), **extra})
    plugin_dir = check_plugin(opts.project)
    _require_selftest(opts)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan_path = atomic.atomic_write_text(out / layout.PLAN_FILE, plan.to_json())
    status_path = out / STATUS_NAME
    cmd, env = build_command(opts, plugin_dir, plan_path, out, status_path, quality)
    tick = _progress_fn(progress)
    reported = [0]  # frames already shown: a retry must not count its frames twice

    def on_frames(done: int) -> None:
        if tick is not None and done > reported[0]:
            tick(done - reported[0])
            reported[0] = done

    _, log = _attempts(plan.name, cmd, env, out, status_path, opts,
                       opts.log_dir or default_log_dir(out), on_frames)
    problems = validate_output(plan, out)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RenderError(f"{plan.name}: Unreal output rejected: {problems[0]}{more}",
                          hint=f"log: {log}")
    aux = convert_aux(plan, out)
    on_frames(plan.frames)  # complete the bar even if markers were lost
    return _written(plan, out, aux)


def run_selftest(options: Mapping[str, Any] | None = None, *,
                 source: str | os.PathLike | None = None) -> tuple[Any, Path]:
    """Render the calibration scene headless (or take the frames an editor menu run wrote
    to ``source``), analyse them on the host and write the project's verdict.

    Returns ``(Analysis, verdict path)``; a failed analysis is a verdict too (ok: false)."""
    from pipeline.backends import unreal_selftest as st
    from pipeline.plugin_install import source_digest

    opts = resolve_options(options)
    plugin_dir = check_plugin(opts.project)
    engine = ""
    if source is None:
        out = opts.project.parent / "Saved" / "S2RHDR" / "selftest"
        out.mkdir(parents=True, exist_ok=True)
        status_path = out / STATUS_NAME
        cmd, env = build_command(opts, plugin_dir, None, out, status_path, "default")
        status, _ = _attempts("selftest", cmd, env, out, status_path, opts,
                              opts.log_dir or out.parent / "logs", None)
        engine = str(status.get("engine_version", ""))
    else:
        out = Path(source).resolve()
    analysis = st.analyze_folder(out)
    if not engine:
        meta = out / layout.META_FILE
        engine = str(layout.read_json(meta).get("engine_version", "")) if meta.is_file() else ""
    verdict = st.write_verdict(opts.project, analysis, editor=str(opts.editor),
                               engine_version=engine, plugin_digest=source_digest(),
                               source=str(out))
    return analysis, verdict


def _progress_fn(progress: Any) -> Any:
    if progress is None:
        return None
    if hasattr(progress, "update"):
        return lambda n: progress.update(n)
    return progress


class UnrealBackend:
    """Unreal (through the headless editor) as a :class:`pipeline.backends.Backend`."""

    name = "unreal"

    def render(self, plan: ShotPlan, out_dir: Path, *, quality: str = "default",
               progress: Any = None, options: Mapping[str, Any] | None = None) -> list[Path]:
        return render(plan, out_dir, quality=quality, progress=progress, options=options)

    def resources(self, options: Mapping[str, Any]) -> dict[str, float]:
        return resources(options)

    def passes_written(self, plan: ShotPlan) -> tuple[str, ...]:
        """img from MRQ's beauty, depth/normal from MRQ materials; flow/mask/diffuse never."""
        return ("img", *(p for p in AUX_LAYOUT_PASSES if p in plan.render.passes))
