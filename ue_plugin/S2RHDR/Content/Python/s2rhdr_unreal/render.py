"""The Movie Render Queue job for one shot: linear EXR only, fixed samples, warm-up, no blur.

``job_settings.mrq_settings`` is pure (the numbers), :func:`configure_job` writes them into a job
(the engine calls), :func:`start` launches the PIE executor. MRQ renders asynchronously, so the
executor and every callback live in the module-global ``_ACTIVE``: if Python collected them,
the delegates would never fire and the render would never report back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import unreal

from s2rhdr_unreal import compat, job_settings, lighting, linear

QUALITIES = job_settings.QUALITIES
mrq_settings = job_settings.mrq_settings  # the pure numbers (kept reachable here)
LDR_OUTPUTS = ("MoviePipelineImageSequenceOutput_PNG", "MoviePipelineImageSequenceOutput_JPG",
               "MoviePipelineImageSequenceOutput_BMP")

_ACTIVE: dict[str, Any] = {}  # executor, callbacks, tick handle: kept alive on purpose


def object_path(path: str) -> str:
    """``/Game/Maps/Street`` -> ``/Game/Maps/Street.Street`` (SoftObjectPath wants the object
    name; the Content Browser shows package paths)."""
    if "." in path.rsplit("/", 1)[-1]:
        return path
    return f"{path}.{path.rsplit('/', 1)[-1]}"


def _remove_ldr_outputs(config: Any) -> list[str]:
    removed = []
    for setting in list(config.get_all_settings()):
        for name in LDR_OUTPUTS:
            cls = getattr(unreal, name, None)
            if cls is not None and isinstance(setting, cls):
                config.remove_setting(setting)
                removed.append(name)
    return removed


def add_aux_passes(main: Any, passes: list[str]) -> str | None:
    """Depth / normal as MRQ additional post-process materials on the main pass, 32-bit
    (depth in cm overflows HALF beyond 655 m; ``compat.set_aux_precision`` picks the 5.5+
    per-entry flag or the older pass-wide one). Replaces MRQ's pre-seeded, disabled entries.
    Returns the precision property used (None without aux passes)."""
    if not passes:
        return None
    entries = []
    for name in passes:
        path = job_settings.AUX_MATERIALS[name]
        material = unreal.load_asset(path)
        if material is None:
            raise RuntimeError(f"material {path} not found (is the MovieRenderPipeline plugin "
                               f"enabled?); drop {name!r} from render.passes or install it")
        entries.append(unreal.MoviePipelinePostProcessPass(enabled=True, material=material))
    return compat.set_aux_precision(main, entries)


def configure_job(plan: Any, sequence: Any, level: str, staging_dir: str | Path,
                  quality: str = "default") -> Any:
    """Replace the editor's render queue with one job for this shot; returns the job."""
    s = mrq_settings(plan, quality)
    subsystem = unreal.get_editor_subsystem(unreal.MoviePipelineQueueSubsystem)
    queue = subsystem.get_queue()
    queue.delete_all_jobs()
    job = queue.allocate_new_job(unreal.MoviePipelineExecutorJob)
    job.set_editor_property("job_name", plan.name)
    job.set_editor_property("sequence", unreal.SoftObjectPath(sequence.get_path_name()))
    job.set_editor_property("map", unreal.SoftObjectPath(object_path(level)))
    config = job.get_configuration()
    if config is None:  # a job without a config (seen with custom default job types)
        config = unreal.new_object(compat.primary_config_class(), job)
        job.set_configuration(config)
    _remove_ldr_outputs(config)

    # exactly one beauty pass, of the class whose pass name the writer looks for
    main_cls = getattr(unreal, s["pass_class"])
    for setting in list(config.get_all_settings()):
        if isinstance(setting, unreal.MoviePipelineDeferredPassBase) and \
                type(setting) is not main_cls:
            config.remove_setting(setting)
    main = config.find_or_add_setting_by_class(main_cls)
    add_aux_passes(main, job_settings.requested_aux(plan))

    exr = config.find_or_add_setting_by_class(unreal.MoviePipelineImageSequenceOutput_EXR)
    exr.set_editor_property("compression", compat.exr_compression(s["exr_compression"]))
    exr.set_editor_property("multilayer", False)

    linear.configure_color_output(config)

    out = config.find_or_add_setting_by_class(unreal.MoviePipelineOutputSetting)
    out.set_editor_property("output_directory", unreal.DirectoryPath(str(staging_dir)))
    out.set_editor_property("file_name_format", job_settings.FILE_NAME_FORMAT)
    out.set_editor_property("output_resolution", unreal.IntPoint(*s["resolution"]))
    out.set_editor_property("zero_pad_frame_numbers", 4)
    out.set_editor_property("frame_number_offset", 0)
    out.set_editor_property("override_existing_output", True)
    out.set_editor_property("use_custom_frame_rate", False)
    # custom_start/end_frame are IGNORED unless use_custom_playback_range is set.
    out.set_editor_property("use_custom_playback_range", True)
    out.set_editor_property("custom_start_frame", s["frame_range"][0])
    out.set_editor_property("custom_end_frame", s["frame_range"][1])

    aa = config.find_or_add_setting_by_class(unreal.MoviePipelineAntiAliasingSetting)
    aa.set_editor_property("override_anti_aliasing", True)
    aa.set_editor_property("anti_aliasing_method",
                           getattr(unreal.AntiAliasingMethod, s["anti_aliasing"]))
    aa.set_editor_property("spatial_sample_count", s["spatial_samples"])
    aa.set_editor_property("temporal_sample_count", s["temporal_samples"])
    aa.set_editor_property("engine_warm_up_count", s["engine_warm_up_count"])
    aa.set_editor_property("render_warm_up_count", s["render_warm_up_count"])
    aa.set_editor_property("render_warm_up_frames", True)
    aa.set_editor_property("use_camera_cut_for_warm_up", s["use_camera_cut_for_warm_up"])

    compat.set_camera_overscan(
        config.find_or_add_setting_by_class(unreal.MoviePipelineCameraSetting), 0.0)

    cvars = config.find_or_add_setting_by_class(unreal.MoviePipelineConsoleVariableSetting)
    for name, value in s["cvars"].items():
        compat.set_cvar(cvars, name, value)

    game = config.find_or_add_setting_by_class(unreal.MoviePipelineGameOverrideSetting)
    game.set_editor_property("cinematic_quality_settings", True)
    game.set_editor_property("use_lod_zero", True)
    game.set_editor_property("flush_streaming_managers", True)
    game.set_editor_property("disable_hlo_ds", True)  # bDisableHLODs, as every dump spells it
    return job


def start(on_finished: Callable[[bool], None],
          on_job_finished: Callable[[Any], None] | None = None) -> Any:
    """Render the queue with a PIE executor (offscreen when supported). ``on_finished(ok)``
    runs on the game thread when MRQ is done; never block or sleep while waiting."""
    subsystem = unreal.get_editor_subsystem(unreal.MoviePipelineQueueSubsystem)
    executor = unreal.new_object(unreal.MoviePipelinePIEExecutor, subsystem)
    compat.set_offscreen(executor, True)

    def _finished(_executor: Any, success: bool) -> None:
        on_finished(bool(success))

    def _errored(_executor: Any, _pipeline: Any, is_fatal: bool, message: Any) -> None:
        unreal.log_error(f"S2RHDR_ERROR MRQ: {message} (fatal={is_fatal})")

    executor.on_executor_finished_delegate.add_callable_unique(_finished)
    executor.on_executor_errored_delegate.add_callable_unique(_errored)
    delegate = compat.job_finished_delegate(executor)
    callbacks: list[Callable[..., Any]] = [_finished, _errored]
    if on_job_finished is not None and delegate is not None:
        delegate.add_callable_unique(on_job_finished)
        callbacks.append(on_job_finished)
    _ACTIVE.update(executor=executor, callbacks=callbacks, subsystem=subsystem)
    subsystem.render_queue_with_executor_instance(executor)
    return executor


def count_frames(staging_dir: str | Path) -> int:
    folder = Path(staging_dir)
    return sum(1 for _ in folder.rglob("*.exr")) if folder.is_dir() else 0


def watch_progress(staging_dir: str | Path, total: int, report: Callable[[int, int], None],
                   every_s: float = 1.0, *, stall_s: float | None = None,
                   on_stall: Callable[[float, int], None] | None = None) -> Any:
    """Count written frames on a slate tick and report changes (for the log / progress bar).

    Watchdog: with ``stall_s``, ``on_stall(seconds, frames)`` runs once when no new frame
    appeared for that long (shader compilation and warm-up count as no progress, so the
    host's default is generous), so a hung MRQ ends with a status instead of the host's
    timeout."""
    state = {"elapsed": 0.0, "last": -1, "idle": 0.0, "fired": False}

    def _tick(delta: float) -> None:
        state["elapsed"] += delta
        state["idle"] += delta
        if state["elapsed"] < every_s:
            return
        state["elapsed"] = 0.0
        done = count_frames(staging_dir)
        if done != state["last"]:
            state["last"], state["idle"] = done, 0.0
            report(min(done, total), total)
        elif stall_s is not None and on_stall is not None and not state["fired"] \
                and state["idle"] >= stall_s:
            state["fired"] = True
            on_stall(state["idle"], done)

    handle = unreal.register_slate_post_tick_callback(_tick)
    _ACTIVE.update(tick=_tick, tick_handle=handle)
    return handle


def stop_watching() -> None:
    handle = _ACTIVE.pop("tick_handle", None)
    if handle is not None:
        unreal.unregister_slate_post_tick_callback(handle)


def cancel() -> None:
    """Stop a running render (the watchdog fired): MRQ's executor cancels its jobs."""
    executor = _ACTIVE.get("executor")
    if executor is not None and hasattr(executor, "cancel_all_jobs"):
        executor.cancel_all_jobs()


def settings_summary(plan: Any, quality: str, shot: Any = None,
                     mapping: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What meta.json records about the Unreal render: engine, MRQ numbers, the exposure as
    set up in this editor (cvars read, bias), the lighting and its sun compensation."""
    s = mrq_settings(plan, quality)
    s = {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()}
    version = compat.engine_version()
    lock = dict(shot.lock_record) if shot is not None else {}
    exposure = {"ev100": plan.exposure.ev100, "scale": plan.exposure.scale}
    exposure.update({k: v for k, v in lock.items() if k != "level_blendables"})
    lighting_rec = lighting.summary(plan)
    lighting_rec.update(dict(shot.lighting) if shot is not None else {})
    out = {"engine_version": version, "variant": f"unreal-{version.split('-')[0]}",
           "quality": quality, "mrq": s, "exposure": exposure,
           "lock": {"level_blendables": lock.get("level_blendables", [])},
           "pixel_type": "half", "lighting": lighting_rec}
    out.update(dict(mapping or {}))
    return out
