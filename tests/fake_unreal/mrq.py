"""Fake Movie Render Queue: settings, config, job, queue, PIE executor, and
:func:`simulate_render` (what MRQ would write, named as MRQ names its passes).

Which classes, properties and methods exist in a version is decided by the MRQ table
(``mrq_table.py``), not here: the fake models the union and the restriction trims it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import mrq_table
from .core import Builder


def install(b: Builder) -> None:
    _settings(b)
    _config_and_queue(b)
    _executor(b)


def _settings(b: Builder) -> None:
    m = b.m
    setting = b.cls("MoviePipelineSetting")
    b.vec("MoviePipelinePostProcessPass", ("enabled", "material", "high_precision_output"),
          None)
    b.cls("MoviePipelineDeferredPassBase", setting, {
        "disable_multisample_effects": False, "accumulator_includes_alpha": False,
        "render_main_pass": True, "use32_bit_post_process_materials": False,
        # MRQ pre-seeds depth and motion vectors, disabled (DEFERRED_CPP constructor)
        "additional_post_process_materials": lambda: [
            m.MoviePipelinePostProcessPass(False, m.assets.get(
                f"/MovieRenderPipeline/Materials/MovieRenderQueue_{n}"))
            for n in ("WorldDepth", "MotionVectors")]})
    b.cls("MoviePipelineDeferredPass_PathTracer", m.MoviePipelineDeferredPassBase)
    b.cls("MoviePipelineImageSequenceOutput_EXR", setting,
          {"compression": m.EXRCompressionFormat.PIZ, "multilayer": False})
    for ldr in ("PNG", "JPG", "BMP"):
        b.cls(f"MoviePipelineImageSequenceOutput_{ldr}", setting)
    b.cls("MoviePipelineColorSetting", setting, {
        "disable_tone_curve": False,
        "ocio_configuration": lambda: m.OpenColorIODisplayConfiguration(True)})
    b.cls("MoviePipelineOutputSetting", setting, {
        "output_directory": lambda: m.DirectoryPath(""),
        "file_name_format": "{sequence_name}.{frame_number}",
        "output_resolution": lambda: m.IntPoint(1920, 1080), "zero_pad_frame_numbers": 4,
        "frame_number_offset": 0, "override_existing_output": True,
        "use_custom_frame_rate": False, "use_custom_playback_range": False,
        "custom_start_frame": 0, "custom_end_frame": 0})
    b.cls("MoviePipelineAntiAliasingSetting", setting, {
        "override_anti_aliasing": False, "anti_aliasing_method": None,
        "spatial_sample_count": 1, "temporal_sample_count": 1, "engine_warm_up_count": 0,
        "render_warm_up_count": 32, "render_warm_up_frames": False,
        "use_camera_cut_for_warm_up": False})
    b.cls("MoviePipelineCameraSetting", setting,
          {"override_camera_overscan": False, "overscan_percentage": 0.0})
    b.cls("MoviePipelineGameOverrideSetting", setting, {
        "cinematic_quality_settings": False, "use_lod_zero": False,
        "flush_streaming_managers": False, "disable_hlo_ds": False})

    def add_or_update_console_variable(self: Any, name: str, value: float) -> bool:
        b.record(self, "add_or_update_console_variable", name, value)
        self._values.setdefault("_cvars", {})[name] = value
        return True

    b.cls("MoviePipelineConsoleVariableSetting", setting,
          add_or_update_console_variable=add_or_update_console_variable)
    m.cvars_of = lambda s: dict(s._values.get("_cvars") or {})


def _config_and_queue(b: Builder) -> None:
    m = b.m

    class MoviePipelinePrimaryConfig(m._Obj):
        def __init__(self) -> None:
            super().__init__()
            # project defaults a job may arrive with: LDR outputs included
            self.settings = [m.MoviePipelineDeferredPassBase(),
                             m.MoviePipelineImageSequenceOutput_PNG(),
                             m.MoviePipelineImageSequenceOutput_JPG(),
                             m.MoviePipelineOutputSetting()]

        def find_setting_by_class(self, setting_class: type) -> Any:
            return next((s for s in self.settings if isinstance(s, setting_class)), None)

        def find_or_add_setting_by_class(self, setting_class: type,
                                         include_disabled_settings: bool = False,
                                         exact_match: bool = False) -> Any:
            b.record(self, "find_or_add_setting_by_class", setting_class.__name__)
            for s in self.settings:
                if type(s) is setting_class:
                    return s
            s = setting_class()
            self.settings.append(s)
            return s

        def remove_setting(self, setting: Any) -> None:
            b.record(self, "remove_setting", type(setting).__name__)
            self.settings.remove(setting)

        def get_all_settings(self, include_disabled_settings: bool = False,
                             exact_match: bool = False) -> list:
            return list(self.settings)

    m.MoviePipelinePrimaryConfig = MoviePipelinePrimaryConfig

    class MoviePipelineExecutorJob(m._Obj):
        _PROPS = {"job_name": "", "sequence": None, "map": None, "author": "", "comment": ""}

        def __init__(self) -> None:
            super().__init__()
            self.config = MoviePipelinePrimaryConfig()

        def get_configuration(self) -> Any:
            return self.config

        def set_configuration(self, preset: Any) -> None:
            self.config = preset

    m.MoviePipelineExecutorJob = MoviePipelineExecutorJob

    class MoviePipelineQueue(m._Obj):
        def __init__(self) -> None:
            super().__init__()
            self.jobs: list[Any] = [MoviePipelineExecutorJob()]  # a stale job from before

        def delete_all_jobs(self) -> None:
            b.record(self, "delete_all_jobs")
            self.jobs.clear()

        def allocate_new_job(self, job_type: type) -> Any:
            b.record(self, "allocate_new_job", job_type.__name__)
            job = job_type()
            self.jobs.append(job)
            return job

        def get_jobs(self) -> list:
            return list(self.jobs)

    m.MoviePipelineQueue = MoviePipelineQueue


class _Delegate:
    def __init__(self) -> None:
        self.callables: list[Callable[..., Any]] = []

    def add_callable_unique(self, fn: Callable[..., Any]) -> None:
        if fn not in self.callables:
            self.callables.append(fn)

    def add_callable(self, fn: Callable[..., Any]) -> None:
        self.callables.append(fn)

    def broadcast(self, *args: Any) -> None:
        for fn in list(self.callables):
            fn(*args)


def _executor(b: Builder) -> None:
    m = b.m
    m._Delegate = _Delegate

    def set_is_rendering_offscreen(self: Any, render_offscreen: bool) -> None:
        b.record(self, "set_is_rendering_offscreen", render_offscreen)
        self._values["_offscreen"] = render_offscreen

    def cancel_all_jobs(self: Any) -> None:
        b.record(self, "cancel_all_jobs")
        self._values["_cancelled"] = True

    b.cls("MoviePipelinePIEExecutor", m._Obj, {
        "on_executor_finished_delegate": _Delegate, "on_executor_errored_delegate": _Delegate,
        "on_individual_job_started_delegate": _Delegate,
        "on_individual_job_work_finished_delegate": _Delegate},
        set_is_rendering_offscreen=set_is_rendering_offscreen, cancel_all_jobs=cancel_all_jobs)

    class MoviePipelineQueueSubsystem(m._Obj):
        def __init__(self) -> None:
            super().__init__()
            self.queue = m.MoviePipelineQueue()
            self.executor = None

        def get_queue(self) -> Any:
            return self.queue

        def render_queue_with_executor_instance(self, executor: Any) -> None:
            b.record(self, "render_queue_with_executor_instance", executor)
            self.executor = executor

        def is_rendering(self) -> bool:
            return self.executor is not None

    m.MoviePipelineQueueSubsystem = MoviePipelineQueueSubsystem

    def simulate_render(success: bool = True, frames_written: int | None = None,
                        data: Callable[[int], bytes] | None = None) -> list[Path]:
        """What MRQ would do: write each frame of the custom range under MRQ's pass names
        (the beauty pass's identifier, ``mrq_table.PASS_IDENTIFIERS``; material passes
        identifier + material name), then fire the delegates."""
        sub = m.get_editor_subsystem(MoviePipelineQueueSubsystem)
        if sub.executor is None:
            raise RuntimeError("fake MRQ: no executor was started")
        written = []
        for job in sub.queue.jobs:
            written += _write_job(m, job, frames_written, data)
            sub.executor.prop("on_individual_job_work_finished_delegate").broadcast(job)
        executor, sub.executor = sub.executor, None
        executor.prop("on_executor_finished_delegate").broadcast(executor, success)
        return written

    m.simulate_render = simulate_render


def _write_job(m: Any, job: Any, frames_written: int | None,
               data: Callable[[int], bytes] | None) -> list[Path]:
    cfg = job.get_configuration()
    out = cfg.find_setting_by_class(m.MoviePipelineOutputSetting)
    exr = cfg.find_setting_by_class(m.MoviePipelineImageSequenceOutput_EXR)
    if out.prop("use_custom_playback_range"):
        start, end = out.prop("custom_start_frame"), out.prop("custom_end_frame")
    else:
        start, end = 0, 0
    frames = list(range(start, end))[:frames_written]
    mains = [s for s in cfg.get_all_settings() if isinstance(s, m.MoviePipelineDeferredPassBase)]
    passes = []
    for main in mains:
        ident = mrq_table.PASS_IDENTIFIERS[type(main).__name__]
        passes.append(ident)
        passes += [ident + e.prop("material").get_name()
                   for e in main.prop("additional_post_process_materials") if e.prop("enabled")]
    written = []
    for f in frames if exr is not None else []:
        for render_pass in passes:
            pad = out.prop("zero_pad_frame_numbers")
            name = out.prop("file_name_format").format(
                render_pass=render_pass, frame_number=f"{f:0{pad}d}", sequence_name="seq",
                shot_name="shot", camera_name="cam")
            path = Path(out.prop("output_directory").prop("path")) / f"{name}.exr"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data(f) if data else b"exr %d" % f)
            written.append(path)
    return written
