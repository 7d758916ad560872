"""The Movie Render Queue job for one shot: linear EXR only, fixed samples, warm-up, no blur.

:func:`mrq_settings` is pure (the numbers), :func:`configure_job` writes them into a job
(the engine calls), :func:`start` launches the PIE executor. MRQ renders asynchronously, so the
executor and every callback live in the module-global ``_ACTIVE``: if Python collected them,
the delegates would never fire and the render would never report back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import unreal

from s2rhdr_unreal import compat, lighting, linear, writer

QUALITIES = ("preview", "default", "final")
DEFAULTS = {"spatial_samples": 8, "temporal_samples": 1, "warmup_frames": 32}
FILE_NAME_FORMAT = "{render_pass}/{frame_number}"
MAIN_PASS = "FinalImage"  # MRQ's {render_pass} for the deferred / path-traced beauty
# Post-process materials MRQ renders next to the beauty, per layout pass. WorldDepth is the
# asset MRQ itself pre-seeds (MoviePipelineDeferredPasses.cpp DefaultDepthAsset); WorldNormal
# is in the same plugin folder (used by BEDLAM and others) but not named in Epic's docs.
AUX_MATERIALS = {"depth": "/MovieRenderPipeline/Materials/MovieRenderQueue_WorldDepth",
                 "normal": "/MovieRenderPipeline/Materials/MovieRenderQueue_WorldNormal"}
BASE_CVARS = {"r.MotionBlurQuality": 0.0, "r.SceneColorFormat": 4.0}  # no blur; FloatRGBA
LDR_OUTPUTS = ("MoviePipelineImageSequenceOutput_PNG", "MoviePipelineImageSequenceOutput_JPG",
               "MoviePipelineImageSequenceOutput_BMP")

_ACTIVE: dict[str, Any] = {}  # executor, callbacks, tick handle: kept alive on purpose


def mrq_settings(plan: Any, quality: str = "default") -> dict[str, Any]:
    """Every number of the MRQ job, from the plan's ``render.quality.unreal`` and the
    requested quality (``preview`` renders 1 sample with a short warm-up)."""
    if quality not in QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; use one of {', '.join(QUALITIES)}")
    q = dict(DEFAULTS)
    q.update(dict(plan.render.quality.get("unreal") or {}))
    renderer = str(q.get("renderer", "deferred"))
    if q.get("path_tracer"):
        renderer = "path_tracer"
    if renderer not in ("deferred", "path_tracer"):
        raise ValueError(f"unknown unreal renderer {renderer!r}; use deferred or path_tracer")
    spatial = int(q.get("spp", q["spatial_samples"]) if renderer == "path_tracer"
                  else q["spatial_samples"])
    temporal = int(q["temporal_samples"])
    engine_warmup = int(q["warmup_frames"])
    if quality == "preview":
        spatial, temporal, engine_warmup = 1, 1, min(engine_warmup, 8)
        renderer = "deferred"
    if spatial < 1 or temporal < 1 or engine_warmup < 0:
        raise ValueError("unreal quality: samples must be >= 1 and warm-up >= 0")
    cvars = dict(BASE_CVARS)
    cvars.update({str(k): float(v) for k, v in dict(q.get("cvars") or {}).items()})
    width, height = plan.render.resolution
    # With use_camera_cut_for_warm_up MRQ takes its engine warm-up from the camera cut's
    # extension before frame 0 (the plan's warm-up frames) and IGNORES engine_warm_up_count
    # (MoviePipeline.cpp: NumWarmupFrames = bUseCameraCutForWarmUp ? <cut> : EngineWarmUpCount).
    # The quality's count then becomes render warm-up frames (rendered and discarded: Lumen /
    # TSR history), so it is not silently lost; the numbers set are the numbers MRQ uses.
    cut_warmup = int(plan.warmup_frames)
    engine_count, render_count = ((cut_warmup, engine_warmup) if cut_warmup > 0
                                  else (engine_warmup, 0))
    return {
        "renderer": renderer,
        "spatial_samples": spatial,
        "temporal_samples": temporal,
        # MRQ accumulates its own jittered samples; engine AA would blur across frames.
        "anti_aliasing": "AAM_NONE" if spatial * temporal > 1 else "AAM_TSR",
        "engine_warm_up_count": engine_count,
        "render_warm_up_count": render_count,
        "use_camera_cut_for_warm_up": cut_warmup > 0,
        "resolution": (int(width), int(height)),
        "frame_range": (0, int(plan.frames)),
        "exr_compression": str(plan.render.exr_compression).upper(),
        "cvars": cvars,
    }


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


def add_aux_passes(deferred: Any, passes: list[str]) -> list[str]:
    """Depth / normal as MRQ additional post-process materials on the main pass, 32-bit
    (depth in cm overflows HALF beyond 655 m). Replaces MRQ's pre-seeded, disabled entries."""
    if not passes:
        return []
    entries = []
    for name in passes:
        material = unreal.load_asset(AUX_MATERIALS[name])
        if material is None:
            raise RuntimeError(f"material {AUX_MATERIALS[name]} not found (is the "
                               f"MovieRenderPipeline plugin enabled?); drop {name!r} from "
                               f"render.passes or install the material")
        entries.append(unreal.MoviePipelinePostProcessPass(enabled=True, material=material))
    deferred.set_editor_property("additional_post_process_materials", entries)
    deferred.set_editor_property("use32_bit_post_process_materials", True)
    return list(passes)


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

    if s["renderer"] == "path_tracer":
        deferred = config.find_setting_by_class(unreal.MoviePipelineDeferredPassBase)
        if deferred is not None:
            config.remove_setting(deferred)
        main = config.find_or_add_setting_by_class(unreal.MoviePipelineDeferredPass_PathTracer)
    else:
        main = config.find_or_add_setting_by_class(unreal.MoviePipelineDeferredPassBase)
    add_aux_passes(main, writer.requested_aux(plan))

    exr = config.find_or_add_setting_by_class(unreal.MoviePipelineImageSequenceOutput_EXR)
    exr.set_editor_property("compression", compat.exr_compression(s["exr_compression"]))
    exr.set_editor_property("multilayer", False)

    linear.configure_color_output(config)

    out = config.find_or_add_setting_by_class(unreal.MoviePipelineOutputSetting)
    out.set_editor_property("output_directory", unreal.DirectoryPath(str(staging_dir)))
    out.set_editor_property("file_name_format", FILE_NAME_FORMAT)
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

    cam = config.find_or_add_setting_by_class(unreal.MoviePipelineCameraSetting)
    cam.set_editor_property("override_camera_overscan", True)
    cam.set_editor_property("overscan_percentage", 0.0)

    cvars = config.find_or_add_setting_by_class(unreal.MoviePipelineConsoleVariableSetting)
    for name, value in s["cvars"].items():
        compat.set_cvar(cvars, name, value)

    game = config.find_or_add_setting_by_class(unreal.MoviePipelineGameOverrideSetting)
    game.set_editor_property("cinematic_quality_settings", True)
    game.set_editor_property("use_lod_zero", True)
    game.set_editor_property("flush_streaming_managers", True)
    compat.set_first_property(game, ("disable_hlods", "disable_hlo_ds"), True)
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


def watch_progress(staging_dir: str | Path, total: int,
                   report: Callable[[int, int], None], every_s: float = 1.0) -> Any:
    """Count written frames on a slate tick and report changes (for the log / progress bar)."""
    folder = Path(staging_dir)
    state = {"elapsed": 0.0, "last": -1}

    def _tick(delta: float) -> None:
        state["elapsed"] += delta
        if state["elapsed"] < every_s:
            return
        state["elapsed"] = 0.0
        done = sum(1 for _ in folder.rglob("*.exr")) if folder.is_dir() else 0
        if done != state["last"]:
            state["last"] = done
            report(min(done, total), total)

    handle = unreal.register_slate_post_tick_callback(_tick)
    _ACTIVE.update(tick=_tick, tick_handle=handle)
    return handle


def stop_watching() -> None:
    handle = _ACTIVE.pop("tick_handle", None)
    if handle is not None:
        unreal.unregister_slate_post_tick_callback(handle)


def settings_summary(plan: Any, quality: str, mapping: Mapping[str, Any] | None = None
                     ) -> dict[str, Any]:
    """What meta.json records about the Unreal render (engine, MRQ numbers, exposure)."""
    s = mrq_settings(plan, quality)
    s = {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()}
    exposure = linear.physical_exposure(plan.exposure.ev100, plan.camera.fstop)
    version = compat.engine_version()
    out = {"engine_version": version, "variant": f"unreal-{version.split('-')[0]}",
           "quality": quality, "mrq": s,
           "exposure": {"ev100": plan.exposure.ev100, "scale": plan.exposure.scale,
                        "physical": exposure, "auto_exposure_bias": 0.0},
           "pixel_type": "half", "lighting": lighting.summary(plan)}
    out.update(dict(mapping or {}))
    return out
