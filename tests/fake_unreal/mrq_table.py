"""Movie Render Queue (and OpenColorIO) names per engine version, each row with its source.

MRQ is a plugin and none of the ``unreal-stub`` dumps contains it (they were made without
it), so this explicit table is the MRQ half of the name oracle: the fake ``unreal`` module
offers exactly the rows whose version range contains its flavour, and the name check
(``tests/fake_unreal/name_check.py``) accepts an MRQ name only through a row.

Sources (public copies of Epic's engine source; paths under
``Engine/Plugins/MovieScene/MovieRenderPipeline/Source/``; engine versions as the copy's
``Version.h`` says, or as a ``UE_DEPRECATED(<version>, ...)`` marker in the text dates it):

- ``DEFERRED_H``: ``MovieRenderPipelineRenderPasses/Public/MoviePipelineDeferredPasses.h``
  (``UE_DEPRECATED(5.5, "bUse32BitPostProcessMaterials has been deprecated, please use the
  setting per material.")`` on a bare ``UPROPERTY()``; ``FMoviePipelinePostProcessPass::
  bHighPrecisionOutput``; ``PassIdentifier = FMoviePipelinePassIdentifier("PathTracer")`` in
  ``UMoviePipelineDeferredPass_PathTracer``), read in unicorn2022/UE5.8.0 and in the 5.3/5.4
  copies chenyong2github/UnrealEngine, realAYAYA/UnrealEngine-ToonLit (5.3.1),
  izzy2lost/UnrealEngineUWP (5.4.0).
- ``DEFERRED_CPP``: ``MovieRenderPipelineRenderPasses/Private/MoviePipelineDeferredPasses.cpp``
  (``PassIdentifier = FMoviePipelinePassIdentifier("FinalImage")``; material passes named
  ``PassIdentifier.Name + GetNameForPostProcessMaterial(Material)`` in
  ``GatherOutputPassesImpl``; 5.5+ constructor pre-seeds WorldDepth with
  ``bHighPrecisionOutput = true`` and ``PostLoad`` maps the deprecated bool onto it).
- ``EXR``: ``MovieRenderPipelineRenderPasses/Public/MoviePipelineEXROutput.h`` (enum
  ``EEXRCompressionFormat``; Epic's C++ API pages EEXRCompressionFormat 5.3 and 5.4:
  ``None, PIZ, ZIP, DWAA, DWAB`` before 5.4, ``None, RLE, ZIPS, ZIP, PIZ, PXR24, B44, B44A,
  DWAA, DWAB`` from 5.4).
- ``PRIMARY``: ``MovieRenderPipelineCore/Public/MoviePipelinePrimaryConfig.h`` (new in 5.2;
  ``MoviePipelineMasterConfig.h`` keeps the deprecated alias, reference/ue5-api.md section 1).
- ``CAMERA``: ``MovieRenderPipelineCore/Public/MoviePipelineCameraSetting.h``
  (``bOverrideCameraOverscan`` and ``bRenderAllCameras`` absent from the older copy in
  chenyong2github/UnrealEngine, present in unicorn2022/UE5.8.0; 5.5 per reference section 9).
- ``CVARS``: ``MovieRenderPipelineCore/Public/MoviePipelineConsoleVariableSetting.h``
  (``AddOrUpdateConsoleVariable`` from 5.2; Epic C++ API page 5.5).
- ``GAME``: ``MovieRenderPipelineCore/Public/MoviePipelineGameOverrideSetting.h``
  (``bDisableHLODs``; the editor's snake-case rule turns ``HLODs`` into ``hlo_ds``: every dump
  spells ``bAllowShowingHLODsInEditor`` as ``allow_showing_hlo_ds_in_editor``).
- ``OUTPUT``/``COLOR``/``AA``: ``MovieRenderPipelineCore/Public/MoviePipelineOutputSetting.h``,
  ``.../MoviePipelineColorSetting.h``, ``.../MoviePipelineAntiAliasingSetting.h``.
- ``QUEUE``/``EXECUTOR``: ``MovieRenderPipelineCore/Public/MoviePipelineQueue.h``,
  ``MovieRenderPipelineEditor/Public/MoviePipelineQueueSubsystem.h``,
  ``MovieRenderPipelineEditor/Public/MoviePipelinePIEExecutor.h`` (``SetIsRenderingOffscreen``
  from 5.2, Epic C++ API page 5.2).
- ``DOCS``: Epic's Python API pages listed in reference/ue5-api.md section 13.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSIONS = ("5.2", "5.3", "5.4", "5.5", "5.6")
SOURCES = {
    "DEFERRED_H": "MovieRenderPipelineRenderPasses/Public/MoviePipelineDeferredPasses.h",
    "DEFERRED_CPP": "MovieRenderPipelineRenderPasses/Private/MoviePipelineDeferredPasses.cpp",
    "EXR": "MovieRenderPipelineRenderPasses/Public/MoviePipelineEXROutput.h",
    "PRIMARY": "MovieRenderPipelineCore/Public/MoviePipelinePrimaryConfig.h",
    "CAMERA": "MovieRenderPipelineCore/Public/MoviePipelineCameraSetting.h",
    "CVARS": "MovieRenderPipelineCore/Public/MoviePipelineConsoleVariableSetting.h",
    "GAME": "MovieRenderPipelineCore/Public/MoviePipelineGameOverrideSetting.h",
    "OUTPUT": "MovieRenderPipelineCore/Public/MoviePipelineOutputSetting.h",
    "COLOR": "MovieRenderPipelineCore/Public/MoviePipelineColorSetting.h",
    "AA": "MovieRenderPipelineCore/Public/MoviePipelineAntiAliasingSetting.h",
    "QUEUE": "MovieRenderPipelineCore/Public/MoviePipelineQueue.h",
    "SUBSYSTEM": "MovieRenderPipelineEditor/Public/MoviePipelineQueueSubsystem.h",
    "EXECUTOR": "MovieRenderPipelineEditor/Public/MoviePipelinePIEExecutor.h",
    "DOCS": "reference/ue5-api.md section 4 and 13 (Epic Python API pages)",
    "OCIO": "OpenColorIO plugin, FOpenColorIODisplayConfiguration (bIsEnabled, "
            "ColorConfiguration); Epic Python API MoviePipelineColorSetting 5.0/5.7",
}


@dataclass(frozen=True)
class Row:
    cls: str
    member: str | None  # None: the class itself
    since: str = "5.2"
    until: str | None = None  # last version that has it (None: still there in 5.6)
    source: str = "DOCS"
    deprecated_from: str | None = None  # still present, but deprecated from this version

    def present(self, version: str) -> bool:
        v = _key(version)
        return _key(self.since) <= v and (self.until is None or v <= _key(self.until))

    def deprecated(self, version: str) -> bool:
        return self.deprecated_from is not None and _key(version) >= _key(self.deprecated_from)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def _rows(cls: str, members: str, source: str, **kw: str) -> list[Row]:
    return [Row(cls, None, source=source)] + [Row(cls, m, source=source, **kw)
                                              for m in members.split()]


ROWS: list[Row] = [
    *_rows("MoviePipelineQueueSubsystem", "get_queue render_queue_with_executor "
           "render_queue_with_executor_instance is_rendering get_active_executor", "SUBSYSTEM"),
    *_rows("MoviePipelineQueue", "allocate_new_job delete_all_jobs delete_job get_jobs",
           "QUEUE"),
    *_rows("MoviePipelineExecutorJob", "job_name author comment map sequence "
           "get_configuration set_configuration", "QUEUE"),
    *_rows("MoviePipelinePrimaryConfig", "find_or_add_setting_by_class find_setting_by_class "
           "remove_setting get_all_settings", "PRIMARY"),
    Row("MoviePipelineMasterConfig", None, until="5.5", source="PRIMARY",
        deprecated_from="5.2"),
    *_rows("MoviePipelinePIEExecutor", "on_executor_finished_delegate "
           "on_executor_errored_delegate on_individual_job_started_delegate "
           "on_individual_job_work_finished_delegate set_is_rendering_offscreen "
           "is_rendering_offscreen cancel_all_jobs", "EXECUTOR"),
    *_rows("MoviePipelineSetting", "", "DOCS"),
    *_rows("MoviePipelineDeferredPassBase", "accumulator_includes_alpha "
           "disable_multisample_effects additional_post_process_materials render_main_pass",
           "DEFERRED_H"),
    Row("MoviePipelineDeferredPassBase", "use32_bit_post_process_materials", until="5.4",
        source="DEFERRED_H"),
    *_rows("MoviePipelinePostProcessPass", "enabled material", "DEFERRED_H"),
    Row("MoviePipelinePostProcessPass", "high_precision_output", since="5.5",
        source="DEFERRED_H"),
    Row("MoviePipelineDeferredPass_PathTracer", None, source="DEFERRED_H"),
    *_rows("MoviePipelineImageSequenceOutput_EXR", "compression multilayer", "EXR"),
    Row("MoviePipelineImageSequenceOutput_PNG", None, source="DOCS"),
    Row("MoviePipelineImageSequenceOutput_JPG", None, source="DOCS"),
    Row("MoviePipelineImageSequenceOutput_BMP", None, source="DOCS"),
    *_rows("EXRCompressionFormat", "NONE PIZ ZIP DWAA DWAB", "EXR"),
    *[Row("EXRCompressionFormat", m, since="5.4", source="EXR")
      for m in ("RLE", "ZIPS", "PXR24", "B44", "B44A")],
    *_rows("MoviePipelineColorSetting", "disable_tone_curve ocio_configuration", "COLOR"),
    # a struct of the OpenColorIO plugin, absent from the dumps like MRQ
    *_rows("OpenColorIODisplayConfiguration", "is_enabled color_configuration", "OCIO"),
    *_rows("MoviePipelineOutputSetting", "output_directory file_name_format output_resolution "
           "use_custom_frame_rate output_frame_rate use_custom_playback_range "
           "custom_start_frame custom_end_frame zero_pad_frame_numbers frame_number_offset "
           "override_existing_output", "OUTPUT"),
    *_rows("MoviePipelineAntiAliasingSetting", "spatial_sample_count temporal_sample_count "
           "override_anti_aliasing anti_aliasing_method engine_warm_up_count "
           "render_warm_up_count use_camera_cut_for_warm_up render_warm_up_frames", "AA"),
    *_rows("MoviePipelineCameraSetting", "shutter_timing overscan_percentage", "CAMERA"),
    Row("MoviePipelineCameraSetting", "override_camera_overscan", since="5.5", source="CAMERA"),
    Row("MoviePipelineCameraSetting", "render_all_cameras", since="5.5", source="CAMERA"),
    *_rows("MoviePipelineConsoleVariableSetting", "add_or_update_console_variable", "CVARS"),
    *_rows("MoviePipelineGameOverrideSetting", "cinematic_quality_settings use_lod_zero "
           "disable_hlo_ds flush_streaming_managers", "GAME"),
    # AntiAliasingMethod is an engine enum missing from every dump (reference section 2)
    *_rows("AntiAliasingMethod", "AAM_NONE AAM_FXAA AAM_TEMPORAL_AA AAM_MSAA AAM_TSR", "DOCS"),
]
CLASSES = {r.cls for r in ROWS}
# MRQ pass identifiers ({render_pass}) by pass class (DEFERRED_H / DEFERRED_CPP).
PASS_IDENTIFIERS = {"MoviePipelineDeferredPassBase": "FinalImage",
                    "MoviePipelineDeferredPass_PathTracer": "PathTracer"}


def names(version: str) -> dict[str, set[str]]:
    """``{class: members}`` present in ``version`` (a class with no row is absent)."""
    out: dict[str, set[str]] = {}
    for row in ROWS:
        if row.member is None and row.present(version):
            out.setdefault(row.cls, set())
    for row in ROWS:
        if row.member is not None and row.present(version) and row.cls in out:
            out[row.cls].add(row.member)
    return out


def deprecated(version: str) -> dict[str, set[str]]:
    """``{class: {"" for the class itself, or members}}`` deprecated in ``version``."""
    out: dict[str, set[str]] = {}
    for row in ROWS:
        if row.present(version) and row.deprecated(version):
            out.setdefault(row.cls, set()).add(row.member or "")
    return out


def row(cls: str, member: str | None = None) -> Row | None:
    return next((r for r in ROWS if r.cls == cls and r.member == member), None)
